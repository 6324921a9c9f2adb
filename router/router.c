/*
 * mobius-router: peers this node with other nodes through an untrusted
 * "no-man's" broker (docs/router.md; the wire format is docs/protocol.md
 * §6).
 *
 * Internal side: a service on the local hub (SID 0F0) that
 *  - watches this node's COV, service descriptions and presence, and puts
 *    what each peer's export policy allows into that peer's on-disk queue
 *    (class "data": in order, kept until the peer acknowledges it);
 *  - takes requests to other nodes' HIDs, sends them to the peer (class
 *    "live": not queued, a request outlives no outage) and publishes the
 *    answer for the requester;
 *  - publishes what peers send under their HIDs (the hub lets only the
 *    router do that), and "node unreachable" presence when a peer is lost.
 *
 * External side: MQTT 3.1.1 (libmosquitto, QoS 1, stable client id, clean
 * session off, no retained messages) over ws:// or wss:// (ws.c).  Each
 * router reads only its inbox mob/x/<own HID>/<peer HID>/<class>.
 *
 * Order: options → config and keys → open (hub, queues, state, listener) →
 * sandbox → connect to the broker → loop.  Nothing from a peer is read
 * before the sandbox.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <systemd/sd-daemon.h>

#include "mobius/client.h"
#include "mobius/clock.h"
#include "mobius/daemon.h"
#include "mobius/jws.h"
#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/keyring.h"
#include "mobius/log.h"
#include "mobius/proto.h"
#include "mobius/sandbox.h"
#include "router.h"

#define RT_INFLIGHT	512	/* data frames sent and not yet acknowledged */
#define RT_OUTSTANDING	64	/* publishes the broker has not PUBACKed */
#define RT_RESEND_MS	2000	/* no ack progress for this long: go back */
#define RT_ACK_MS	20	/* acks are batched this long */
#define RT_SYNC_MS	10	/* queue appends are fdatasync'ed in batches */
#define RT_HB_MS	2000	/* heartbeat to every peer */
#define RT_LOST_MS	7000	/* nothing from a peer this long: unreachable */
#define RT_REQ_TIMEOUT	10000	/* a forwarded request on the far side */
#define RT_FUTURE_MS	60000	/* clock skew allowed on a frame's ts */
#define RT_LIVE_AGE_MS	30000	/* a live frame older than this is stale */
/*
 * The router's session on its hub outlives a crash this long: COV,
 * descriptions and presence the hub queues for it meanwhile (QoS 1, up to
 * the hub's max_queued_messages) arrive when it is back (docs/router.md,
 * "The hub session").  A systemd restart (RestartSec=5s) fits.
 */
#define RT_HUB_SESSION_S	60
#define RT_SIDS_MAX	64
#define RT_CACHE_MAX	4096
#define RT_PEERS_CHECK_MS 1000	/* the peer file is looked at this often */
#define RT_PEERS_DEFAULT MOB_KEYS_DIR_DEFAULT "/peers"

struct rt_stats {
	uint64_t rx, tx, delivered;
	uint64_t bad_topic, bad_header, unknown_kid, bad_sig, bad_crypto;
	uint64_t unsealed, replay, reorder, expired, future, bad_body;
	uint64_t resends, gaps, denied;
	uint64_t stale, unsynced;
	uint64_t retired, rx_grace;
};

struct peer {
	char hid[7];
	const struct rt_peer_cfg *pol;	/* export policy: config, or none */
	struct rt_peerkey keys[RT_PEER_KEYS][RT_OWN_KEYS];	/* peer file */
	size_t nkeys;
	size_t own_ix;		/* our key it addresses, the one we sign with */
	struct rt_queue *q;
	/* sending the data class */
	size_t sent;		/* records from the queue head on the wire */
	int64_t progress_ms;	/* last ack progress or (re)start */
	uint64_t live_seq;	/* next live seq */
	/* receiving (hwm persisted in STATE/<hid>.state) */
	uint64_t data_hwm, live_hwm;
	int need_head;		/* no valid state: data waits for a fresh hb */
	int live_fresh;		/* it answered our challenge since we started */
	char nonce[33];		/* our challenge to it, hex (live_fresh) */
	int state_dirty, ack_due;
	int64_t ack_ms, hb_ms, heard_ms;	/* monotonic, as all timers */
	int reachable;
	char sids[RT_SIDS_MAX][4];	/* its services seen, for presence */
	size_t nsids;
	struct rt_stats st;
};

/* The last svc/state/cov of this node: resent to a peer that resyncs. */
struct cache_ent {
	char *topic, *dat;
};

struct router {
	struct rt_cfg cfg;	/* cfg.me: our active key, own.id[0] */
	struct rt_own own;
	const char *statedir;
	const char *peersfile;	/* what mobius-keytool import-peer writes */
	struct rt_peerset set;	/* as last loaded */
	int64_t peers_ms;	/* last look at the peer file */
	struct mob_client *hub;
	struct mosquitto *mosq;
	struct rt_ws *ws;
	char sockpath[300];
	char client_id[64];
	char inbox[64];
	char inbox_filter[64];
	int linked;		/* CONNACK received, inbox subscribed */
	int64_t retry_ms, backoff_ms;
	int outstanding;	/* QoS 1 publishes awaiting PUBACK */
	struct peer peers[RT_PEERS_MAX];
	size_t npeers;
	struct cache_ent *cache;
	size_t ncache;
	int64_t stats_ms, sync_ms;
	uint64_t link_ups;
};

static volatile sig_atomic_t rt_stop;

static void
rt_sig(int sig)
{
	(void)sig;
	rt_stop = 1;
}

static struct peer *
peer_find(struct router *r, const char *hid)
{
	for (size_t i = 0; i < r->npeers; i++)
		if (strncmp(r->peers[i].hid, hid, 6) == 0)
			return &r->peers[i];
	return NULL;
}

/* ---- state: the receive high-water marks ----------------------------- */

static void
state_path(const struct router *r, const struct peer *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.state", r->statedir, p->hid);
}

/*
 * Without a valid state file (none yet, or unreadable, or corrupt) the
 * marks are unknown, and 0 would take every frame the broker kept: fail
 * closed instead.  Live frames are safe anyway (none older than the
 * process is taken, ext_frame), and data frames wait for the peer's next
 * heartbeat, which says where its stream stands (need_head).
 */
static void
state_load(struct router *r, struct peer *p)
{
	char path[300], buf[128];
	unsigned long long d = 0, l = 0;
	FILE *f;
	int n = 0;

	p->need_head = 1;
	state_path(r, p, path, sizeof(path));
	if ((f = fopen(path, "re")) == NULL) {
		if (errno != ENOENT)
			log_warn("%s: unreadable; data from %s waits for its "
			    "heartbeat", path, p->hid);
		return;
	}
	if (fgets(buf, sizeof(buf), f) != NULL && buf[0] >= '0' &&
	    buf[0] <= '9' && buf[strspn(buf, "0123456789 \n")] == '\0' &&
	    sscanf(buf, "%llu %llu\n%n", &d, &l, &n) == 2 &&
	    n > 0 && buf[n] == '\0') {
		p->data_hwm = d;
		p->live_hwm = l;
		p->need_head = 0;
	} else
		log_warnx("%s: corrupt; data from %s waits for its heartbeat",
		    path, p->hid);
	fclose(f);
}

/* Written before an ack leaves: an acknowledged seq is never taken again. */
static int
state_save(struct router *r, struct peer *p)
{
	char path[300], buf[64];
	int n, rc;

	if (!p->state_dirty)
		return 0;
	state_path(r, p, path, sizeof(path));
	n = snprintf(buf, sizeof(buf), "%llu %llu\n",
	    (unsigned long long)p->data_hwm, (unsigned long long)p->live_hwm);
	if ((rc = mob_file_write_atomic(path, buf, (size_t)n, 0600)) != 0) {
		log_warnx("%s: %s", path, mob_strerror(rc));
		return rc;
	}
	p->state_dirty = 0;
	return 0;
}

/* ---- sending frames -------------------------------------------------- */

/* Is our key o usable at now_s (active, or in its grace)? */
static int
own_valid(const struct router *r, size_t o, int64_t now_s)
{
	return r->own.not_after[o] == 0 || r->own.not_after[o] > now_s;
}

/*
 * The key we sign with to p: the one it last addressed (after a rotation,
 * the old key until the peer has imported the new one), or when that
 * one's grace is over, the active one.
 */
static size_t
own_signing(const struct router *r, const struct peer *p, int64_t now_s)
{
	return p->own_ix < r->own.n && own_valid(r, p->own_ix, now_s) ?
	    p->own_ix : 0;
}

static int
frame_build(struct router *r, struct peer *p, int cls, uint64_t seq,
    int64_t ts, const char *json, uint8_t *out, size_t outsz, size_t *len)
{
	struct rt_hdr h;
	size_t o;

	memset(&h, 0, sizeof(h));
	h.version = RT_FRAME_VERSION;
	h.flags = p->pol->encrypt ? RT_FLAG_SEALED : 0;
	h.cls = (uint8_t)cls;
	o = own_signing(r, p, ts / 1000);
	memcpy(h.kid_from, r->own.id[o].kid, RT_KID_LEN);
	memcpy(h.kid_to, p->keys[0][o].kid, RT_KID_LEN);
	memcpy(h.from, r->cfg.me.hid, 7);
	memcpy(h.to, p->hid, 7);
	h.seq = seq;
	h.ts = ts;
	return rt_frame_make(&r->own.id[o], &p->keys[0][o], &h,
	    (const uint8_t *)json, strlen(json), out, outsz, len);
}

static int
ext_publish(struct router *r, struct peer *p, int cls, const uint8_t *buf,
    size_t len)
{
	char topic[64];
	int rc;

	snprintf(topic, sizeof(topic), "mob/x/%s/%s/%s", p->hid,
	    r->cfg.me.hid, rt_class_name(cls));
	rc = mosquitto_publish(r->mosq, NULL, topic, (int)len, buf, 1, false);
	if (rc != MOSQ_ERR_SUCCESS)
		return MOB_EOFFLINE;
	r->outstanding++;
	p->st.tx++;
	return 0;
}

/* A live frame (request, response, ack, heartbeat): now or never. */
static int
live_send(struct router *r, struct peer *p, const cJSON *msg)
{
	static uint8_t frame[RT_FRAME_MAX];
	char *json;
	size_t len;
	int rc;

	if (!r->linked)
		return MOB_EOFFLINE;
	if ((json = cJSON_PrintUnformatted(msg)) == NULL)
		return MOB_ENOMEM;
	rc = frame_build(r, p, RT_CLASS_LIVE, p->live_seq++, mob_clock_wall_ms(),
	    json, frame, sizeof(frame), &len);
	free(json);
	if (rc == 0)
		rc = ext_publish(r, p, RT_CLASS_LIVE, frame, len);
	return rc;
}

static void
live_simple(struct router *r, struct peer *p, const char *kind,
    const char *num_name, uint64_t num)
{
	cJSON *m = cJSON_CreateObject();

	if (m != NULL && cJSON_AddStringToObject(m, "k", kind) != NULL &&
	    (num_name == NULL ||
	    cJSON_AddNumberToObject(m, num_name, (double)num) != NULL))
		live_send(r, p, m);
	cJSON_Delete(m);
}

/*
 * A heartbeat: where our data stream to the peer starts (head, records
 * before it are gone), our challenge while the peer has not answered one
 * since we started (ch, live_fresh), and our answer to its challenge (re).
 */
static void
hb_send(struct router *r, struct peer *p, const char *re)
{
	cJSON *m = cJSON_CreateObject();
	uint64_t head = rt_queue_head(p->q) ? rt_queue_head(p->q) :
	    rt_queue_next_seq(p->q);

	if (m != NULL && cJSON_AddStringToObject(m, "k", "hb") != NULL &&
	    cJSON_AddNumberToObject(m, "head", (double)head) != NULL &&
	    (p->live_fresh || cJSON_AddStringToObject(m, "ch", p->nonce) != NULL) &&
	    (re == NULL || cJSON_AddStringToObject(m, "re", re) != NULL))
		live_send(r, p, m);
	cJSON_Delete(m);
}

/* Put a message of this node into the peer's queue. */
static void
data_enqueue(struct router *r, struct peer *p, const char *topic,
    const char *dat)
{
	static uint8_t frame[RT_FRAME_MAX];
	cJSON *m = cJSON_CreateObject();
	char *json = NULL;
	size_t len;
	uint64_t seq = rt_queue_next_seq(p->q);
	int64_t now = mob_clock_wall_ms();
	int rc = MOB_ENOMEM;

	if (m == NULL || cJSON_AddStringToObject(m, "t", topic) == NULL ||
	    cJSON_AddRawToObject(m, "d", dat) == NULL ||
	    (json = cJSON_PrintUnformatted(m)) == NULL)
		goto out;
	if ((rc = frame_build(r, p, RT_CLASS_DATA, seq, now, json, frame,
	    sizeof(frame), &len)) != 0)
		goto out;
	rc = rt_queue_push(p->q, seq, now, frame, len);
 out:
	if (rc != 0)
		log_debug("peer %s: %s not queued: %s", p->hid, topic,
		    mob_strerror(rc));
	free(json);
	cJSON_Delete(m);
}

/* Send durable queued frames up to the in-flight window. */
static void
data_pump(struct router *r, struct peer *p, int64_t now)
{
	static uint8_t frame[RT_FRAME_MAX];
	size_t len;
	uint64_t seq;
	int64_t ts;

	if (!r->linked)
		return;
	if (p->sent > 0 && now - p->progress_ms > RT_RESEND_MS) {
		/* no ack progress: something was lost on the way */
		p->sent = 0;
		p->progress_ms = now;
		p->st.resends++;
		hb_send(r, p, NULL);
	}
	if (p->sent == 0)
		p->progress_ms = now;
	while (p->sent < rt_queue_durable(p->q) && p->sent < RT_INFLIGHT &&
	    r->outstanding < RT_OUTSTANDING) {
		if (rt_queue_get(p->q, p->sent, frame, sizeof(frame), &len,
		    &seq, &ts) != 0 || ext_publish(r, p, RT_CLASS_DATA, frame,
		    len) != 0)
			break;
		p->sent++;
	}
}

/* ---- presence of peers' services --------------------------------------- */

static void
peer_note_sid(struct peer *p, const char *sid)
{
	for (size_t i = 0; i < p->nsids; i++)
		if (strcmp(p->sids[i], sid) == 0)
			return;
	if (p->nsids < RT_SIDS_MAX)
		snprintf(p->sids[p->nsids++], 4, "%.3s", sid);
}

static void
peer_set_reachable(struct router *r, struct peer *p, int up)
{
	char topic[MOB_TOPIC_MAX];

	if (p->reachable == up)
		return;
	p->reachable = up;
	log_info("peer %s: %s", p->hid, up ? "reachable" : "unreachable");
	if (up) {
		/* no retained messages cross the broker: ask for the state */
		live_simple(r, p, "sync", NULL, 0);
		return;
	}
	for (size_t i = 0; i < p->nsids; i++) {
		snprintf(topic, sizeof(topic), "mob/state/%s/%s", p->hid,
		    p->sids[i]);
		mob_client_publish(r->hub, topic, "{\"state\":\"offline\","
		    "\"reason\":\"node unreachable\"}", 1, 1);
	}
}

/* ---- the hub side -------------------------------------------------------- */

/* A pattern that reaches into service HID/SID grants its description. */
static int
pat_covers_service(const struct mob_uri *pat, const struct mob_uri *svc)
{
	for (int i = 0; i < 2; i++) {
		const char *a = pat->part[i];

		if (i >= pat->depth)
			return 0;
		if (strcmp(a, "#") == 0)
			return 1;
		if (strcmp(a, "+") != 0 && strcmp(a, svc->part[i]) != 0)
			return 0;
	}
	return 1;
}

static int
pats_match(const struct rt_patterns *ps, const struct mob_uri *uri)
{
	for (size_t i = 0; i < ps->n; i++)
		if (mob_uri_match(&ps->u[i], uri))
			return 1;
	return 0;
}

static int
export_allows(const struct peer *p, const struct mob_topic *t)
{
	const struct rt_peer_cfg *c = p->pol;

	switch (t->verb) {
	case MOB_VERB_COV:
	case MOB_VERB_OBJ:
		return pats_match(&c->watch, &t->uri);
	case MOB_VERB_SVC:
	case MOB_VERB_STATE:
		for (size_t i = 0; i < c->read.n; i++)
			if (pat_covers_service(&c->read.u[i], &t->uri))
				return 1;
		for (size_t i = 0; i < c->watch.n; i++)
			if (pat_covers_service(&c->watch.u[i], &t->uri))
				return 1;
		return 0;
	default:
		return 0;
	}
}

static void
cache_put(struct router *r, const char *topic, const char *dat)
{
	struct cache_ent *e = NULL;
	char *d;

	if (r->cache == NULL)
		return;
	for (size_t i = 0; i < r->ncache; i++)
		if (strcmp(r->cache[i].topic, topic) == 0) {
			e = &r->cache[i];
			break;
		}
	if ((d = strdup(dat)) == NULL)
		return;
	if (e != NULL) {
		free(e->dat);
		e->dat = d;
		return;
	}
	if (r->ncache == RT_CACHE_MAX || (e = &r->cache[r->ncache],
	    (e->topic = strdup(topic)) == NULL)) {
		free(d);
		return;
	}
	e->dat = d;
	r->ncache++;
}

static void
hub_local(struct router *r, const char *topic, const struct mob_topic *t,
    const cJSON *dat)
{
	char *txt;

	if ((txt = cJSON_PrintUnformatted(dat)) == NULL)
		return;
	if (t->verb != MOB_VERB_OBJ)
		cache_put(r, topic, txt);
	for (size_t i = 0; i < r->npeers; i++)
		if (export_allows(&r->peers[i], t))
			data_enqueue(r, &r->peers[i], topic, txt);
	free(txt);
}

/* {"ok":false,"error":{"code","message"}}, or NULL (out of memory). */
static cJSON *
rsp_error(int code, const char *msg)
{
	cJSON *d = cJSON_CreateObject(), *e;

	if (d == NULL || cJSON_AddFalseToObject(d, "ok") == NULL ||
	    (e = cJSON_AddObjectToObject(d, "error")) == NULL ||
	    cJSON_AddStringToObject(e, "code", mob_errname(code)) == NULL ||
	    cJSON_AddStringToObject(e, "message", msg) == NULL) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

static void
req_answer_error(struct router *r, const char *requester, const cJSON *id,
    int code, const char *msg)
{
	char topic[MOB_TOPIC_MAX], reqid[MOB_REQID_MAX + 1];
	cJSON *rsp;

	/* in range before any conversion (mob_reqid_from_json) */
	if (mob_reqid_from_json(id, reqid) != 0 ||
	    (rsp = rsp_error(code, msg)) == NULL)
		return;
	if (mob_json_add(rsp, "id", cJSON_Duplicate(id, 1)) == 0) {
		snprintf(topic, sizeof(topic), "mob/rsp/%s/%s", requester, reqid);
		mob_client_publish_json(r->hub, topic, rsp, 1, 0);
	}
	cJSON_Delete(rsp);
}

/* A request of a local service to another node's service. */
static void
hub_request(struct router *r, const char *target, const struct mob_env *env)
{
	struct peer *p = peer_find(r, target);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(env->dat, "id");
	char msg[64];
	cJSON *m;

	if (p == NULL)
		return;
	if (!p->reachable || !r->linked) {
		snprintf(msg, sizeof(msg), "node %s is unreachable", p->hid);
		req_answer_error(r, env->iss, id, MOB_EOFFLINE, msg);
		return;
	}
	if ((m = cJSON_CreateObject()) == NULL)
		return;
	if (cJSON_AddStringToObject(m, "k", "req") != NULL &&
	    cJSON_AddStringToObject(m, "from", env->iss) != NULL &&
	    cJSON_AddStringToObject(m, "to", target) != NULL &&
	    mob_json_add(m, "d", cJSON_Duplicate(env->dat, 1)) == 0)
		live_send(r, p, m);
	cJSON_Delete(m);
}

static void
hub_msg(struct mob_client *c, const char *topic, const struct mob_env *env,
    void *arg)
{
	struct router *r = arg;
	struct mob_topic t;
	char err[128], target[MOB_ID_MAX];

	(void)c;
	if (mob_topic_parse(topic, 0, &t, err, sizeof(err)) != 0)
		return;
	if (t.verb == MOB_VERB_REQ) {
		snprintf(target, sizeof(target), "%.6s/%.3s",
		    t.uri.part[MOB_URI_HID], t.uri.part[MOB_URI_SID]);
		hub_request(r, target, env);
		return;
	}
	if (strcmp(t.uri.part[MOB_URI_HID], r->cfg.me.hid) == 0)
		hub_local(r, topic, &t, env->dat);
}

static void
hub_conn(struct mob_client *c, int connected, void *arg)
{
	(void)c;
	(void)arg;
	log_info("hub %s", connected ? "connected" : "connection lost");
}

static int
hub_subscribe(struct router *r)
{
	char f[MOB_TOPIC_MAX];
	int rc;

	/* everything of this node; the export policy filters per peer */
	const char *verbs[] = { "cov", "svc", "state" };

	for (size_t i = 0; i < 3; i++) {
		snprintf(f, sizeof(f), "mob/%s/%s/#", verbs[i], r->cfg.me.hid);
		if ((rc = mob_client_subscribe(r->hub, f, 1)) != 0)
			return rc;
	}
	/* mob/req/<peer HID>/+ is each peer's (peer_add) */
	return 0;
}

/* ---- frames from peers ------------------------------------------------ */

struct fwd_req {
	struct router *r;
	char peer[7];
	char from[MOB_ID_MAX];
	cJSON *id;
};

/* The answer d, with the requester's id, to requester `to` at the peer
 * (d and id are taken, even NULL). */
static void
live_rsp(struct router *r, struct peer *p, const char *to, cJSON *d,
    cJSON *id)
{
	cJSON *m = NULL;
	int rc;

	if (d == NULL) {
		cJSON_Delete(id);
		return;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(d, "id");
	if (mob_json_add(d, "id", id) != 0 ||
	    (m = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(m, "k", "rsp") == NULL ||
	    cJSON_AddStringToObject(m, "to", to) == NULL)
		goto out;
	rc = mob_json_add(m, "d", d);
	d = NULL;
	if (rc == 0)
		live_send(r, p, m);
 out:
	cJSON_Delete(d);
	cJSON_Delete(m);
}

static void
fwd_rsp(struct mob_client *c, int err, const cJSON *rsp, void *arg)
{
	struct fwd_req *f = arg;
	struct peer *p = peer_find(f->r, f->peer);

	(void)c;
	if (p != NULL)
		live_rsp(f->r, p, f->from, rsp != NULL ?
		    cJSON_Duplicate(rsp, 1) : rsp_error(err, mob_strerror(err)),
		    f->id);
	else
		cJSON_Delete(f->id);
	free(f);
}

static const char *
jstr(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* A challenge or its answer: 32 hex digits. */
static int
nonce_valid(const char *s)
{
	return s != NULL && strlen(s) == 32 &&
	    strspn(s, "0123456789abcdef") == 32;
}

/* A peer's request for one of our services. */
static void
peer_req(struct router *r, struct peer *p, const cJSON *m)
{
	const char *from = jstr(m, "from"), *to = jstr(m, "to"), *op, *uri;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "d"), *id;
	const struct rt_patterns *pats;
	struct fwd_req *f;
	struct mob_uri u;
	char err[128];
	cJSON *req;
	int rc;

	if (from == NULL || to == NULL || !cJSON_IsObject(d) ||
	    !mob_id_valid(from) || !mob_id_valid(to) ||
	    strncmp(from, p->hid, 6) != 0 ||
	    strncmp(to, r->cfg.me.hid, 6) != 0) {
		p->st.bad_body++;
		return;
	}
	id = cJSON_GetObjectItemCaseSensitive(d, "id");
	op = jstr(d, "op");
	uri = jstr(d, "uri");
	if (!cJSON_IsString(id) && !cJSON_IsNumber(id)) {
		p->st.bad_body++;
		return;
	}
	if (op != NULL && (strcmp(op, "read") == 0 || strcmp(op, "discover") == 0))
		pats = &p->pol->read;
	else if (op != NULL && (strcmp(op, "write") == 0 || strcmp(op, "clear") == 0))
		pats = &p->pol->write;
	else
		pats = NULL;
	if (uri == NULL || mob_uri_parse(uri, 0, &u, err, sizeof(err)) != 0 ||
	    u.depth < 2 || strncmp(uri, to, strlen(to)) != 0 ||
	    (uri[strlen(to)] != '\0' && uri[strlen(to)] != '/'))
		pats = NULL;
	if (pats == NULL || !pats_match(pats, &u)) {
		char what[160], msg[256];

		p->st.denied++;
		snprintf(what, sizeof(what), "%s of %s", op ? op : "?",
		    uri ? uri : "?");
		log_info("peer %s: refused %s (export policy)", p->hid, what);
		/* the answer goes back as a response from this side */
		snprintf(msg, sizeof(msg), "node %s does not export %s to node "
		    "%s", r->cfg.me.hid, what, p->hid);
		live_rsp(r, p, from, rsp_error(MOB_EDENIED, msg),
		    cJSON_Duplicate(id, 1));
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (req = cJSON_Duplicate(d, 1)) == NULL) {
		free(f);
		return;
	}
	f->r = r;
	snprintf(f->peer, sizeof(f->peer), "%s", p->hid);
	snprintf(f->from, sizeof(f->from), "%s", from);
	f->id = cJSON_Duplicate(id, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(req, "id");
	rc = mob_client_request_async(r->hub, to, req, RT_REQ_TIMEOUT, fwd_rsp, f);
	cJSON_Delete(req);
	if (rc != 0)
		fwd_rsp(r->hub, rc, NULL, f);
}

/* A peer's response to a request of one of our services. */
static void
peer_rsp(struct router *r, struct peer *p, const cJSON *m)
{
	const char *to = jstr(m, "to");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "d"), *id;
	char topic[MOB_TOPIC_MAX], reqid[MOB_REQID_MAX + 1];

	if (to == NULL || !mob_id_valid(to) || !cJSON_IsObject(d) ||
	    strncmp(to, r->cfg.me.hid, 6) != 0) {
		p->st.bad_body++;
		return;
	}
	id = cJSON_GetObjectItemCaseSensitive(d, "id");
	if (mob_reqid_from_json(id, reqid) != 0) {
		p->st.bad_body++;
		return;
	}
	/* the hub lets this through only for a request it saw (acl.c) */
	snprintf(topic, sizeof(topic), "mob/rsp/%s/%s", to, reqid);
	mob_client_publish_json(r->hub, topic, d, 1, 0);
}

/* Resync: everything of ours this peer may see, at the end of its queue. */
static void
peer_sync(struct router *r, struct peer *p)
{
	struct mob_topic t;
	char err[128];

	for (size_t i = 0; i < r->ncache; i++) {
		if (mob_topic_parse(r->cache[i].topic, 0, &t, err,
		    sizeof(err)) != 0)
			continue;
		if (export_allows(p, &t))
			data_enqueue(r, p, r->cache[i].topic, r->cache[i].dat);
	}
}

static void
peer_live(struct router *r, struct peer *p, const cJSON *m)
{
	const char *k = jstr(m, "k");
	const cJSON *n;

	if (k == NULL) {
		p->st.bad_body++;
		return;
	}
	if (strcmp(k, "ack") == 0) {
		n = cJSON_GetObjectItemCaseSensitive(m, "seq");
		if (!cJSON_IsNumber(n))
			return;
		uint64_t before = rt_queue_head(p->q);
		size_t nb = rt_queue_durable(p->q);

		rt_queue_ack(p->q, (uint64_t)n->valuedouble);
		if (rt_queue_head(p->q) != before || rt_queue_durable(p->q) != nb) {
			size_t done = nb - rt_queue_durable(p->q);

			p->sent = p->sent > done ? p->sent - done : 0;
			p->progress_ms = mob_clock_mono_ms();
		}
	} else if (strcmp(k, "hb") == 0) {
		n = cJSON_GetObjectItemCaseSensitive(m, "head");
		/* records before head were dropped by the sender (TTL,
		 * full queue) or never existed (a new stream): skip them */
		if (cJSON_IsNumber(n) && (uint64_t)n->valuedouble > p->data_hwm + 1) {
			p->data_hwm = (uint64_t)n->valuedouble - 1;
			p->st.gaps++;
			p->state_dirty = 1;
			p->ack_due = 1;
		}
		if (cJSON_IsNumber(n))
			p->need_head = 0;
		if (nonce_valid(jstr(m, "ch")))
			hb_send(r, p, jstr(m, "ch"));
	} else if (strcmp(k, "sync") == 0)
		peer_sync(r, p);
	else if (strcmp(k, "req") == 0) {
		/* its seq on disk before it acts: after a crash the broker
		 * cannot replay it, whatever the two clocks say */
		if (state_save(r, p) != 0) {
			p->st.denied++;
			return;
		}
		peer_req(r, p, m);
	}
	else if (strcmp(k, "rsp") == 0)
		peer_rsp(r, p, m);
	else
		p->st.bad_body++;
}

/* Queued data of a peer: its node's COV, services and presence. */
static void
peer_data(struct router *r, struct peer *p, const cJSON *m)
{
	const char *topic = jstr(m, "t");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "d");
	struct mob_topic t;
	char err[128];

	if (topic == NULL || d == NULL ||
	    mob_topic_parse(topic, 0, &t, err, sizeof(err)) != 0 ||
	    strcmp(t.uri.part[MOB_URI_HID], p->hid) != 0 ||
	    (t.verb != MOB_VERB_COV && t.verb != MOB_VERB_OBJ &&
	    t.verb != MOB_VERB_SVC && t.verb != MOB_VERB_STATE)) {
		/* a peer speaks only for its own node */
		p->st.bad_body++;
		return;
	}
	if (t.verb == MOB_VERB_SVC || t.verb == MOB_VERB_STATE)
		peer_note_sid(p, t.uri.part[MOB_URI_SID]);
	if (mob_client_publish_json(r->hub, topic, d, 0,
	    t.verb != MOB_VERB_OBJ) == 0)
		p->st.delivered++;
}

/*
 * The keys of a frame: the peer's key kid_from paired with our key
 * kid_to (*o), each active or in its grace; NULL when either is unknown,
 * or (*retired) known but past its grace.
 */
static const struct rt_peerkey *
frame_keys(const struct router *r, const struct peer *p, const struct rt_hdr *h,
    int64_t now_s, size_t *o, int *retired)
{
	*retired = 0;
	for (*o = 0; *o < r->own.n; (*o)++)
		if (sodium_memcmp(r->own.id[*o].kid, h->kid_to, RT_KID_LEN) == 0)
			break;
	if (*o == r->own.n)
		return NULL;
	if (!own_valid(r, *o, now_s)) {
		*retired = 1;
		return NULL;
	}
	for (size_t i = 0; i < p->nkeys; i++) {
		const struct rt_peerkey *k = &p->keys[i][*o];

		if (sodium_memcmp(k->kid, h->kid_from, RT_KID_LEN) != 0)
			continue;
		if (k->not_after != 0 && k->not_after <= now_s) {
			*retired = 1;
			return NULL;
		}
		return k;
	}
	return NULL;
}

/*
 * Which live frames of the peer were sent before this process started
 * (the broker may hold them, and live_hwm on disk may be older than what
 * the crashed process took)?  Not judged by comparing two clocks, which
 * may be apart: the peer answers our random challenge (hb "ch" → "re"),
 * and the seq of its answer is the mark; its earlier frames have lower
 * seqs and are refused (replay).  Until it answered, no live frame of it
 * is acted on (stale) but its own challenge is answered: an old one
 * replayed gets an answer its sender no longer waits for.
 */
static int
live_fresh(struct router *r, struct peer *p, const cJSON *m, uint64_t seq)
{
	const char *k = jstr(m, "k"), *ch = jstr(m, "ch"), *re = jstr(m, "re");
	int hb = k != NULL && strcmp(k, "hb") == 0;

	if (!hb || !nonce_valid(re) || sodium_memcmp(re, p->nonce, 32) != 0) {
		if (hb && nonce_valid(ch))
			hb_send(r, p, ch);
		p->st.stale++;
		return 0;
	}
	p->live_fresh = 1;
	log_info("peer %s: answered our challenge at live seq %llu", p->hid,
	    (unsigned long long)seq);
	return 1;
}

/*
 * Check order (docs/protocol.md §6.3): topic, header, kids, signature and
 * body, seal required, age, seq; only then the JSON inside is parsed.
 */
static void
ext_frame(struct router *r, const char *topic, const uint8_t *buf, size_t len)
{
	static uint8_t pt[RT_FRAME_MAX];
	const struct rt_peerkey *k;
	struct rt_hdr h;
	struct peer *p;
	char from[7];
	cJSON *m = NULL;
	size_t ptlen, o;
	int64_t now = mob_clock_wall_ms();
	int cls, rc, retired;

	/* mob/x/<me>/<from>/<class> */
	if (strlen(topic) < 6 + 7 + 7 + 4 || strncmp(topic, r->inbox, 13) != 0 ||
	    topic[19] != '/' || (cls = rt_class_parse(topic + 20)) < 0)
		return;
	memcpy(from, topic + 13, 6);
	from[6] = '\0';
	if ((p = peer_find(r, from)) == NULL) {
		log_debug("frame from unknown node %s dropped", from);
		return;
	}
	p->st.rx++;
	if ((rc = rt_frame_header(buf, len, &h)) != 0) {
		p->st.bad_header++;
		return;
	}
	if (strcmp(h.from, from) != 0 || strcmp(h.to, r->cfg.me.hid) != 0 ||
	    h.cls != cls) {
		p->st.bad_topic++;
		return;
	}
	if ((k = frame_keys(r, p, &h, now / 1000, &o, &retired)) == NULL) {
		if (retired)
			p->st.retired++;	/* its grace is over */
		else
			p->st.unknown_kid++;
		return;
	}
	if (p->pol->encrypt && !(h.flags & RT_FLAG_SEALED)) {
		p->st.unsealed++;
		return;
	}
	if ((rc = rt_frame_open(k, buf, len, pt, sizeof(pt) - 1, &ptlen)) != 0) {
		if (rc == MOB_EBADSIG)
			p->st.bad_sig++;
		else
			p->st.bad_crypto++;
		return;
	}
	if (h.ts > now + RT_FUTURE_MS) {
		p->st.future++;
		return;
	}
	if (cls == RT_CLASS_DATA) {
		if (p->need_head) {
			p->st.unsynced++;
			return;
		}
		if (h.seq <= p->data_hwm) {
			p->st.replay++;
			p->ack_due = 1;		/* a resend: the ack was lost */
			return;
		}
		if (h.seq != p->data_hwm + 1) {
			p->st.reorder++;
			return;
		}
		p->data_hwm = h.seq;
		p->state_dirty = 1;
		p->ack_due = 1;
		if (now - h.ts > r->cfg.q.ttl_ms) {
			/* consumed but not delivered: older than the queue's TTL */
			p->st.expired++;
			return;
		}
	} else {
		if (h.seq <= p->live_hwm) {
			p->st.replay++;
			return;
		}
		if (now - h.ts > RT_LIVE_AGE_MS) {
			p->st.expired++;
			return;
		}
	}
	p->heard_ms = mob_clock_mono_ms();
	pt[ptlen] = '\0';
	if (memchr(pt, '\0', ptlen) != NULL ||
	    (m = cJSON_ParseWithLengthOpts((const char *)pt, ptlen + 1, NULL,
	    1)) == NULL ||
	    !cJSON_IsObject(m)) {
		p->st.bad_body++;
		cJSON_Delete(m);
		return;
	}
	if (cls == RT_CLASS_LIVE) {
		if (!p->live_fresh && !live_fresh(r, p, m, h.seq)) {
			cJSON_Delete(m);
			return;
		}
		p->live_hwm = h.seq;
		p->state_dirty = 1;
	}
	/* a fresh frame to our key o: the peer knows it, we sign with it */
	p->own_ix = o;
	if (k->not_after != 0)
		p->st.rx_grace++;
	peer_set_reachable(r, p, 1);
	if (cls == RT_CLASS_DATA)
		peer_data(r, p, m);
	else
		peer_live(r, p, m);
	cJSON_Delete(m);
}

/* ---- the broker link (libmosquitto) ------------------------------------ */

static void
on_connect(struct mosquitto *m, void *arg, int rc)
{
	struct router *r = arg;

	if (rc != 0) {
		log_warnx("broker refused the connection: %s",
		    mosquitto_connack_string(rc));
		return;
	}
	if (mosquitto_subscribe(m, NULL, r->inbox_filter, 1) != MOSQ_ERR_SUCCESS) {
		mosquitto_disconnect(m);
		return;
	}
	r->linked = 1;
	r->link_ups++;
	r->backoff_ms = 500;
	r->outstanding = 0;
	log_info("broker %s: linked as %s", r->cfg.broker.url, r->client_id);
	for (size_t i = 0; i < r->npeers; i++) {
		struct peer *p = &r->peers[i];

		p->sent = 0;	/* resend what was not acknowledged */
		hb_send(r, p, NULL);
		live_simple(r, p, "sync", NULL, 0);
	}
}

static void
on_disconnect(struct mosquitto *m, void *arg, int rc)
{
	struct router *r = arg;

	(void)m;
	if (r->linked)
		log_warnx("broker %s: link lost (%s)", r->cfg.broker.url,
		    mosquitto_strerror(rc));
	r->linked = 0;
	r->outstanding = 0;
}

static void
on_publish(struct mosquitto *m, void *arg, int mid)
{
	struct router *r = arg;

	(void)m;
	(void)mid;
	if (r->outstanding > 0)
		r->outstanding--;
}

static void
on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	(void)m;
	if (msg->payloadlen > 0)
		ext_frame(arg, msg->topic, msg->payload, (size_t)msg->payloadlen);
}

static int
ext_connect(struct router *r)
{
	int rc = mosquitto_connect(r->mosq, r->sockpath, 0, r->cfg.keepalive);

	if (rc != MOSQ_ERR_SUCCESS) {
		log_debug("broker link: %s", mosquitto_strerror(rc));
		return MOB_ESYS;
	}
	return 0;
}

static void
ext_service(struct router *r, short revents, int64_t now)
{
	int rc = MOSQ_ERR_SUCCESS;

	if (mosquitto_socket(r->mosq) < 0) {
		if (now >= r->retry_ms) {
			if (mosquitto_reconnect(r->mosq) != MOSQ_ERR_SUCCESS) {
				r->backoff_ms = r->backoff_ms * 2 > 5000 ? 5000 :
				    r->backoff_ms * 2;
			}
			r->retry_ms = now + r->backoff_ms;
		}
		return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR))
		rc = mosquitto_loop_read(r->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(r->mosq))
		rc = mosquitto_loop_write(r->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_misc(r->mosq);
	if (rc != MOSQ_ERR_SUCCESS) {
		/* libmosquitto closed the socket: reconnect after a pause */
		if (r->linked)
			log_warnx("broker %s: link lost (%s)", r->cfg.broker.url,
			    mosquitto_strerror(rc));
		r->linked = 0;
		r->outstanding = 0;
		r->retry_ms = now + r->backoff_ms;
	}
}

/* ---- peers: the peer file (mobius-keytool import-peer) ------------------ */

static const struct rt_peer_cfg rt_no_policy = { .encrypt = 1 };

static const struct rt_peer_cfg *
peer_policy(const struct router *r, const char *hid)
{
	for (size_t i = 0; i < r->cfg.npeers; i++)
		if (strcmp(r->cfg.peers[i].hid, hid) == 0)
			return &r->cfg.peers[i];
	return &rt_no_policy;
}

static int
peer_add(struct router *r, const struct rt_peer_keys *k)
{
	struct peer *p = &r->peers[r->npeers];
	char dir[300], f[MOB_TOPIC_MAX];
	uint8_t nonce[16];

	memset(p, 0, sizeof(*p));
	memcpy(p->hid, k->hid, sizeof(p->hid));
	p->pol = peer_policy(r, p->hid);
	/* after a rotation, until the peer shows it has our new key, the
	 * oldest of ours still in its grace: it knows that one either way */
	for (size_t o = 0; o < r->own.n; o++)
		if (own_valid(r, o, mob_clock_wall_ms() / 1000))
			p->own_ix = o;
	snprintf(dir, sizeof(dir), "%s/queue-%s", r->statedir, p->hid);
	if (rt_queue_open(dir, &r->cfg.q, &p->q) != 0) {
		log_warnx("peer %s: cannot open the queue %s", p->hid, dir);
		return MOB_ESYS;
	}
	state_load(r, p);
	/* above what an earlier process sent, data (queue) or live (time) */
	p->live_seq = rt_queue_next_seq(p->q);
	if (p->live_seq < (uint64_t)mob_clock_wall_us())
		p->live_seq = (uint64_t)mob_clock_wall_us();
	randombytes_buf(nonce, sizeof(nonce));
	sodium_bin2hex(p->nonce, sizeof(p->nonce), nonce, sizeof(nonce));
	/* requests of this node's services to that node; QoS 0: the hub
	 * keeps none for a router that is down (its requester was answered
	 * by then, a timeout: it must not run late) */
	snprintf(f, sizeof(f), "mob/req/%s/+", p->hid);
	if (mob_client_subscribe(r->hub, f, 0) != 0)
		log_warnx("peer %s: hub: cannot subscribe %s", p->hid, f);
	r->npeers++;
	log_info("peer %s: %zu key(s)%s", p->hid, k->nkeys,
	    p->pol == &rt_no_policy ? "; not in the configuration: it gets "
	    "none of this node's data" : "");
	if (r->linked) {
		hb_send(r, p, NULL);
		live_simple(r, p, "sync", NULL, 0);
	}
	return 0;
}

/* remove-peer: its services go offline here, its queue stays on disk. */
static void
peer_drop(struct router *r, size_t i)
{
	struct peer *p = &r->peers[i];
	char f[MOB_TOPIC_MAX];

	peer_set_reachable(r, p, 0);
	snprintf(f, sizeof(f), "mob/req/%s/+", p->hid);
	mob_client_unsubscribe(r->hub, f);
	p->state_dirty = 1;
	state_save(r, p);
	rt_queue_sync(p->q);
	rt_queue_free(p->q);
	log_info("peer %s: removed (no key in %s)", p->hid, r->peersfile);
	memmove(p, p + 1, (r->npeers - i - 1) * sizeof(*p));
	r->npeers--;
}

/*
 * Make the peers what the peer file says: new ones added, removed ones
 * dropped, keys of the others replaced (a rotation).  A file that cannot
 * be loaded leaves everything as it was, said once.
 */
static void
peers_apply(struct router *r)
{
	static struct rt_peerset set;
	char err[600];
	int rc;

	if ((rc = rt_peers_load(r->peersfile, &r->own, &set, err,
	    sizeof(err))) != 0) {
		if (set.dev != r->set.dev || set.ino != r->set.ino ||
		    set.size != r->set.size ||
		    memcmp(&set.mtime, &r->set.mtime, sizeof(set.mtime)) != 0)
			log_warnx("%s; keeping the peers as they were", err);
		r->set.dev = set.dev;
		r->set.ino = set.ino;
		r->set.size = set.size;
		r->set.mtime = set.mtime;
		return;
	}
	for (size_t i = r->npeers; i-- > 0;) {
		size_t j;

		for (j = 0; j < set.n; j++)
			if (strcmp(set.p[j].hid, r->peers[i].hid) == 0)
				break;
		if (j == set.n)
			peer_drop(r, i);
	}
	for (size_t j = 0; j < set.n; j++) {
		struct peer *p = peer_find(r, set.p[j].hid);

		if (p == NULL) {
			if (r->npeers == RT_PEERS_MAX ||
			    peer_add(r, &set.p[j]) != 0)
				continue;
			p = &r->peers[r->npeers - 1];
		}
		if (p->nkeys != 0 && (p->nkeys != set.p[j].nkeys ||
		    memcmp(p->keys, set.p[j].keys, sizeof(p->keys)) != 0))
			log_info("peer %s: now %zu key(s)", p->hid,
			    set.p[j].nkeys);
		memcpy(p->keys, set.p[j].keys, sizeof(p->keys));
		p->nkeys = set.p[j].nkeys;
	}
	if (!set.exists)
		log_info("%s: no peer yet (mobius-keytool import-peer adds "
		    "them)", r->peersfile);
	r->set = set;
	for (size_t i = 0; i < r->cfg.npeers; i++)
		if (peer_find(r, r->cfg.peers[i].hid) == NULL)
			log_info("peer %s is configured but has no key in %s "
			    "(mobius-keytool import-peer)", r->cfg.peers[i].hid,
			    r->peersfile);
}

/* The peer file changed (replaced, written, removed): load it again. */
static void
peers_check(struct router *r, int64_t now)
{
	struct stat st;
	int exists;

	if (now - r->peers_ms < RT_PEERS_CHECK_MS && now >= r->peers_ms)
		return;
	r->peers_ms = now;
	exists = lstat(r->peersfile, &st) == 0;
	if (exists == r->set.exists && (!exists || (st.st_dev == r->set.dev &&
	    st.st_ino == r->set.ino && st.st_size == r->set.size &&
	    memcmp(&st.st_mtim, &r->set.mtime, sizeof(st.st_mtim)) == 0)))
		return;
	log_info("%s changed: loading the peers again", r->peersfile);
	peers_apply(r);
}

/* ---- the loop ------------------------------------------------------------- */

static void
stats_write(struct router *r)
{
	char path[300];
	cJSON *o = cJSON_CreateObject(), *ps, *po;
	char *txt = NULL;

	if (o == NULL || (ps = cJSON_AddObjectToObject(o, "peers")) == NULL ||
	    cJSON_AddBoolToObject(o, "linked", r->linked) == NULL ||
	    cJSON_AddNumberToObject(o, "link_ups", (double)r->link_ups) == NULL)
		goto out;
	for (size_t i = 0; i < r->npeers; i++) {
		struct peer *p = &r->peers[i];
		struct rt_qstats q;

		rt_queue_stats(p->q, &q);
		if ((po = cJSON_AddObjectToObject(ps, p->hid)) == NULL)
			goto out;
		/* a counter that cannot be added: no file this time */
#define N(name, v) if (cJSON_AddNumberToObject(po, name, (double)(v)) == NULL) \
	goto out
		if (cJSON_AddBoolToObject(po, "reachable", p->reachable) == NULL ||
		    cJSON_AddBoolToObject(po, "live_fresh", p->live_fresh) == NULL)
			goto out;
		N("rx", p->st.rx); N("tx", p->st.tx);
		N("delivered", p->st.delivered);
		N("bad_topic", p->st.bad_topic); N("bad_header", p->st.bad_header);
		N("unknown_kid", p->st.unknown_kid); N("bad_signature", p->st.bad_sig);
		N("bad_crypto", p->st.bad_crypto); N("unsealed", p->st.unsealed);
		N("replay", p->st.replay); N("reorder", p->st.reorder);
		N("expired", p->st.expired); N("future", p->st.future);
		N("bad_body", p->st.bad_body); N("resends", p->st.resends);
		N("gaps", p->st.gaps); N("denied", p->st.denied);
		N("stale", p->st.stale); N("unsynced", p->st.unsynced);
		N("retired_key", p->st.retired); N("rx_grace", p->st.rx_grace);
		N("own_key", p->own_ix); N("keys", p->nkeys);
		N("data_hwm", p->data_hwm);
		N("queue_records", q.records); N("queue_bytes", q.bytes);
		N("queue_pushed", q.pushed); N("queue_acked", q.acked);
		N("queue_refused_full", q.refused_full);
		N("queue_dropped_full", q.dropped_full);
		N("queue_expired", q.expired);
#undef N
	}
	if ((txt = cJSON_Print(o)) == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/stats.json", r->statedir);
	mob_file_write_atomic(path, txt, strlen(txt), 0600);
 out:
	free(txt);
	cJSON_Delete(o);
}

static void
peers_tick(struct router *r, int64_t now)
{
	int synced = 0;

	for (size_t i = 0; i < r->npeers; i++) {
		struct peer *p = &r->peers[i];

		/* durable first: a frame leaves only once it is on disk;
		 * one fdatasync per RT_SYNC_MS covers every append since */
		if (now - r->sync_ms >= RT_SYNC_MS || now < r->sync_ms) {
			if (rt_queue_sync(p->q) != 0)
				fatalx("peer %s: queue cannot be synced",
				    p->hid);
			synced = 1;
		}
		rt_queue_expire(p->q, mob_clock_wall_ms());	/* ts are wall */
		if (p->sent > rt_queue_durable(p->q))
			p->sent = 0;
		data_pump(r, p, now);
		if (p->ack_due && r->linked && now - p->ack_ms >= RT_ACK_MS) {
			if (state_save(r, p) == 0) {
				live_simple(r, p, "ack", "seq", p->data_hwm);
				p->ack_due = 0;
				p->ack_ms = now;
			}
		}
		if (r->linked && now - p->hb_ms >= RT_HB_MS) {
			hb_send(r, p, NULL);
			p->hb_ms = now;
		}
		if (p->reachable && (!r->linked || now - p->heard_ms > RT_LOST_MS))
			peer_set_reachable(r, p, 0);
		if (now - p->ack_ms > 1000)
			state_save(r, p);
	}
	if (synced)
		r->sync_ms = now;
	peers_check(r, now);
	if (now - r->stats_ms >= 1000) {
		stats_write(r);
		r->stats_ms = now;
	}
}

static int
rt_loop(struct router *r)
{
	struct pollfd pfd[2];
	int64_t now;
	int t, n;

	while (!rt_stop) {
		mob_client_pollfd(r->hub, &pfd[0]);
		pfd[1].fd = mosquitto_socket(r->mosq);
		pfd[1].events = POLLIN | (mosquitto_want_write(r->mosq) ? POLLOUT : 0);
		pfd[1].revents = 0;
		t = mob_client_timeout(r->hub);
		if (t < 0 || t > 10)
			t = 10;
		if ((n = poll(pfd, 2, t)) == -1 && errno != EINTR)
			fatal("poll");
		if (mob_client_process(r->hub, n > 0 ? pfd[0].revents : 0) != 0)
			log_debug("hub: processing failed");
		/* timers on the monotonic clock: a wall clock stepped back
		 * (NTP after a start with the clock ahead) stalls none */
		now = mob_clock_mono_ms();
		ext_service(r, n > 0 ? pfd[1].revents : 0, now);
		peers_tick(r, now);
		sd_notify(0, "WATCHDOG=1");
	}
	return 0;
}

/* ---- setup ------------------------------------------------------------------ */

/*
 * Our external keys (mobius-keytool export-peer, rotate-peer): the active
 * one and those in their grace after a rotation, each with its identity.
 */
static void
rt_keys(struct router *r, const char *extkey)
{
	struct mob_keyring *kr = NULL;
	const char *hid = mob_client_hid(r->hub);
	uint8_t seed[32];
	char err[512];
	size_t nact = 0;

	if (mob_keyring_load(extkey, &kr, err, sizeof(err)) != 0)
		fatalx("%s", err);
	r->own.n = 1;
	for (size_t i = 0; i < mob_keyring_count(kr); i++) {
		const struct mob_kr_entry *e = mob_keyring_entry(kr, i);
		size_t o = e->state == MOB_KS_ACTIVE ? 0 : r->own.n;

		if (e->kind != MOB_ENTRY_PEER ||
		    mob_key_alg(e->key) != MOB_ALG_EDDSA ||
		    strncmp(e->id, hid, 6) != 0 || !mob_key_can_sign(e->key))
			fatalx("%s: not this node's external key (mobius-keytool "
			    "export-peer makes it)", extkey);
		if (e->state == MOB_KS_REVOKED ||
		    (o != 0 && r->own.n == RT_OWN_KEYS))
			continue;
		if (mob_key_raw(e->key, 1, seed, sizeof(seed)) != 32 ||
		    rt_ident_from_seed(hid, seed, &r->own.id[o]) != 0)
			fatalx("%s: unusable key", extkey);
		r->own.not_after[o] = o == 0 ? 0 : e->not_after;
		nact += o == 0;
		r->own.n += o != 0;
	}
	sodium_memzero(seed, sizeof(seed));
	mob_keyring_free(kr);
	if (nact != 1)
		fatalx("%s: %zu active keys, want one", extkey, nact);
	r->cfg.me = r->own.id[0];
}

static void
rt_open(struct router *r)
{
	peers_apply(r);
	if ((r->cache = calloc(RT_CACHE_MAX, sizeof(*r->cache))) == NULL)
		fatalx("out of memory");
	snprintf(r->client_id, sizeof(r->client_id), "mobius-router-%s",
	    r->cfg.me.hid);
	snprintf(r->inbox, sizeof(r->inbox), "mob/x/%s/", r->cfg.me.hid);
	snprintf(r->inbox_filter, sizeof(r->inbox_filter), "mob/x/%s/+/+",
	    r->cfg.me.hid);
	snprintf(r->sockpath, sizeof(r->sockpath), "%s/broker.sock", r->statedir);
	mosquitto_lib_init();
	if ((r->mosq = mosquitto_new(r->client_id, false, r)) == NULL)
		fatalx("libmosquitto: cannot create the client");
	mosquitto_int_option(r->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_max_inflight_messages_set(r->mosq, RT_OUTSTANDING);
	if (r->cfg.username[0] != '\0' && mosquitto_username_pw_set(r->mosq,
	    r->cfg.username, r->cfg.password[0] ? r->cfg.password : NULL) != 0)
		fatalx("libmosquitto: credentials");
	sodium_memzero(r->cfg.password, sizeof(r->cfg.password));
	mosquitto_connect_callback_set(r->mosq, on_connect);
	mosquitto_disconnect_callback_set(r->mosq, on_disconnect);
	mosquitto_publish_callback_set(r->mosq, on_publish);
	mosquitto_message_callback_set(r->mosq, on_message);
	if (rt_ws_new(&r->cfg.broker, r->sockpath, &r->ws) != 0)
		fatalx("cannot set up the WebSocket side");
}

static int router_option(void *arg, int ch, const char *optarg);

static const struct mob_daemon_option router_options[] = {
	{ "external-key", 'X', "FILE", "its external key (mobius-keytool "
	    "export-peer makes it);\nkept apart from the key it has on the hub" },
	{ "state", 'S', "DIR", "queues and replay state: the only place it "
	    "writes" },
	{ "peers", 'P', "FILE", "the peers and their keys (default "
	    RT_PEERS_DEFAULT "):\nwhat mobius-keytool import-peer writes; "
	    "re-read when it changes" },
	{ NULL, 0, NULL, NULL },
};

static const struct mob_daemon router_daemon = {
	"mobius-router",
	"Peers this node with others through an untrusted broker over ws/wss "
	    "(docs/router.md).",
	"broker, peers and each peer's export policy (JSON, docs/router.md)",
	router_options, router_option, &mob_sandbox_router, "00F0",
};

struct router_args {
	struct router *r;
	const char *extkey;
};

static int
router_option(void *arg, int ch, const char *optarg)
{
	struct router_args *a = arg;

	switch (ch) {
	case 'X':
		a->extkey = optarg;
		return 0;
	case 'S':
		a->r->statedir = optarg;
		return 0;
	case 'P':
		a->r->peersfile = optarg;
		return 0;
	default:
		return -1;
	}
}

/* Create the state directory; as root, hand it to the sandbox's user. */
static void
state_dir(struct router *r, const struct mob_daemon_opts *o)
{
	uid_t uid = mob_daemon_user(&router_daemon, o);

	if (mkdir(r->statedir, 0700) == -1 && errno != EEXIST)
		fatal("%s", r->statedir);
	if (uid != 0 && chown(r->statedir, uid, (gid_t)-1) == -1)
		fatal("chown %s", r->statedir);
}

int
main(int argc, char *argv[])
{
	static struct router r;
	struct router_args a = { &r, NULL };
	struct mob_daemon_opts o;
	const char *rw[2] = { NULL, NULL }, *ro[2] = { NULL, NULL };
	char err[512], peersdir[512], *slash;
	int rc;

	/* config: command line, keys (internal and external apart), peers */
	mob_daemon_args(&router_daemon, &a, argc, argv, &o);
	if (a.extkey == NULL || r.statedir == NULL) {
		mob_daemon_usage(&router_daemon, stderr);
		return 2;
	}
	if (r.peersfile == NULL)
		r.peersfile = RT_PEERS_DEFAULT;
	if (sodium_init() < 0)
		fatalx("libsodium cannot start");
	signal(SIGPIPE, SIG_IGN);
	/* mob_client_new says what is wrong with the key file, in one line */
	o.ccfg.session_expiry = RT_HUB_SESSION_S;
	if (mob_client_new(&o.ccfg, &r.hub) != 0)
		return 1;
	if (strcmp(mob_client_sid(r.hub), RT_ROUTER_SID) != 0)
		log_warnx("%s: SID %s; the hub lets only its router_sid (default "
		    RT_ROUTER_SID ") speak for other nodes",
		    o.ccfg.keyfile, mob_client_sid(r.hub));
	rt_keys(&r, a.extkey);
	if ((rc = rt_cfg_load(o.config, &r.cfg, err, sizeof(err))) != 0)
		fatalx("%s", err);

	/* open: the state directory (the service user's), the hub */
	state_dir(&r, &o);
	mob_client_set_handlers(r.hub, hub_msg, hub_conn, &r);
	if ((rc = mob_client_open(r.hub)) != 0)
		log_warnx("hub %s: %s (retrying)", mob_daemon_socket(&o),
		    mob_strerror(rc));

	/*
	 * sandbox: only the state directory stays writable; the peer file's
	 * directory stays visible, read-only (keytool replaces the file by
	 * rename, and the router re-reads it)
	 */
	rw[0] = r.statedir;
	snprintf(peersdir, sizeof(peersdir), "%s", r.peersfile);
	if ((slash = strrchr(peersdir, '/')) != NULL)
		*slash = '\0';
	ro[0] = slash == NULL ? "." : slash == peersdir ? "/" : peersdir;
	mob_daemon_confine_ro(&router_daemon, &o, rw, ro);

	/* loop: queues, replay state and the broker listener made as the
	 * service user; the hub's first bytes; then the broker's */
	rt_open(&r);
	/*
	 * Subscribed before the CONNACK is read: what the resumed hub session
	 * delivers right after it (held since a crash) is for subscriptions
	 * the client must already know, or it drops it as unasked.
	 */
	if ((rc = hub_subscribe(&r)) != 0)
		fatalx("hub: subscribe: %s", mob_strerror(rc));
	if ((rc = mob_client_connect(r.hub, 30000)) != 0)
		mob_daemon_hub_fatal(&o, rc, 30000);
	signal(SIGTERM, rt_sig);
	signal(SIGINT, rt_sig);
	if (rt_ws_start(r.ws) != 0)
		fatalx("cannot start the WebSocket thread");
	r.backoff_ms = 500;
	if (ext_connect(&r) != 0)
		r.retry_ms = mob_clock_mono_ms() + r.backoff_ms;
	sd_notify(0, "READY=1");
	log_info("node %s: %zu peer(s), broker %s", r.cfg.me.hid, r.npeers,
	    r.cfg.broker.url);
	rc = rt_loop(&r);
	mosquitto_disconnect(r.mosq);
	rt_ws_free(r.ws);
	for (size_t i = 0; i < r.npeers; i++) {
		rt_queue_sync(r.peers[i].q);
		state_save(&r, &r.peers[i]);
		rt_queue_free(r.peers[i].q);
	}
	mosquitto_destroy(r.mosq);
	mosquitto_lib_cleanup();
	mob_client_free(r.hub);
	for (size_t i = 0; i < r.ncache; i++) {
		free(r.cache[i].topic);
		free(r.cache[i].dat);
	}
	free(r.cache);
	return rc == 0 ? 0 : 1;
}
