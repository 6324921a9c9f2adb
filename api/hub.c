/*
 * mobius-api, the service side: the hub link and what the node says.
 *
 * The link is a mob_client (lib/rt/client.c).  libwebsockets owns the
 * poll loop, so the client's socket joins it as an adopted "raw file"
 * descriptor: a dup() of it, so that libwebsockets closing its wsi never
 * closes the client's socket, and re-adopted whenever the client has
 * reconnected on a new socket (compared by inode: the number may repeat).
 * A timer runs the client's keepalive, backoff and request timeouts.
 *
 * Caches, all bounded: service descriptions (mob/svc), presence and the
 * hub's counters (mob/state), and the present value of every resource
 * (mob/cov, retained, so the cache is complete right after subscribing),
 * which the stream sends first to every new client.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <libwebsockets.h>

#include "mobius/client.h"
#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/log.h"
#include "mobius/table.h"
#include "internal.h"

#define COV_BUCKETS	4096
#define TICK_MAX_MS	1000

static struct {
	struct api_svc *svc[API_SVC_MAX];
	size_t nsvc;
	cJSON *status;			/* mob/state/HID/000 of our hub */
	struct api_cov *cov;
	size_t ncov, capcov;
	uint32_t bucket[COV_BUCKETS];
	struct lws *wsi;		/* adopted dup of the client's socket */
	int fd;				/* the client's socket it duplicates */
	ino_t ino;
	lws_sorted_usec_list_t sul;
	int64_t tick_at;		/* when sul fires; 0: not scheduled */
	int64_t last_refresh;
} hub = { .fd = -1 };

static void hub_sync(void);

/* --- caches ----------------------------------------------------------- */

void
api_svc_id(const struct mob_uri *u, char id[MOB_ID_MAX])
{
	snprintf(id, MOB_ID_MAX, "%.6s/%.3s", u->part[MOB_URI_HID],
	    u->part[MOB_URI_SID]);
}

struct api_svc *
api_svc_find(const char *id)
{
	size_t i;

	for (i = 0; i < hub.nsvc; i++)
		if (strcmp(hub.svc[i]->id, id) == 0)
			return hub.svc[i];
	return NULL;
}

static struct api_svc *
svc_get(const char *id)
{
	struct api_svc *s;

	if ((s = api_svc_find(id)) != NULL)
		return s;
	if (hub.nsvc == API_SVC_MAX || (s = calloc(1, sizeof(*s))) == NULL) {
		log_warnx("%s: no room for another service", id);
		return NULL;
	}
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->online = -1;
	hub.svc[hub.nsvc++] = s;
	return s;
}

size_t
api_svc_count(void)
{
	return hub.nsvc;
}

struct api_svc *
api_svc_at(size_t i)
{
	return i < hub.nsvc ? hub.svc[i] : NULL;
}

const cJSON *
api_hub_status(void)
{
	return hub.status;
}

int
api_hub_connected(void)
{
	return api.c != NULL && mob_client_connected(api.c);
}

size_t
api_cov_count(void)
{
	return hub.ncov;
}

const struct api_cov *
api_cov_at(size_t i)
{
	return i < hub.ncov ? &hub.cov[i] : NULL;
}

static uint32_t
cov_hash(const char *uri)
{
	return (uint32_t)(mob_hash_str(uri) % COV_BUCKETS);
}

static struct api_cov *
cov_get(const struct mob_uri *u)
{
	char uri[MOB_URI_MAX];
	struct api_cov *c, *n;
	uint32_t h, i;

	if (mob_uri_format(u, uri, sizeof(uri)) < 0)
		return NULL;
	h = cov_hash(uri);
	for (i = hub.bucket[h]; i != 0; i = hub.cov[i - 1].next)
		if (strcmp(hub.cov[i - 1].uri, uri) == 0)
			return &hub.cov[i - 1];
	if (hub.ncov == API_COV_MAX)
		return NULL;
	if (hub.ncov == hub.capcov) {
		size_t cap = hub.capcov == 0 ? 256 : hub.capcov * 2;

		if ((n = reallocarray(hub.cov, cap, sizeof(*n))) == NULL)
			return NULL;
		hub.cov = n;
		hub.capcov = cap;
	}
	c = &hub.cov[hub.ncov++];
	memset(c, 0, sizeof(*c));
	snprintf(c->uri, sizeof(c->uri), "%s", uri);
	c->u = *u;
	c->next = hub.bucket[h];
	hub.bucket[h] = (uint32_t)hub.ncov;
	return c;
}

const cJSON *
api_obj_desc(const cJSON *desc, const char *pid, const char *ins)
{
	const cJSON *o, *p, *i;

	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(desc, "objects")) {
		p = cJSON_GetObjectItemCaseSensitive(o, "pid");
		i = cJSON_GetObjectItemCaseSensitive(o, "ins");
		if (cJSON_IsString(p) && cJSON_IsString(i) &&
		    strcmp(p->valuestring, pid) == 0 &&
		    strcmp(i->valuestring, ins) == 0)
			return o;
	}
	return NULL;
}

const cJSON *
api_res_desc(const struct mob_uri *u)
{
	const cJSON *o, *r, *rid;
	struct api_svc *s;
	char id[MOB_ID_MAX];

	api_svc_id(u, id);
	if ((s = api_svc_find(id)) == NULL || s->desc == NULL ||
	    (o = api_obj_desc(s->desc, u->part[MOB_URI_PID],
	    u->part[MOB_URI_INS])) == NULL)
		return NULL;
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o, "resources")) {
		rid = cJSON_GetObjectItemCaseSensitive(r, "rid");
		if (cJSON_IsString(rid) && strcmp(rid->valuestring, u->part[MOB_URI_RID]) == 0)
			return r;
	}
	return NULL;
}

/* --- messages from the hub -------------------------------------------- */

static void
on_svc(const struct mob_topic *t, const struct mob_env *env)
{
	char id[MOB_ID_MAX];
	struct api_svc *s;
	cJSON *d;

	api_svc_id(&t->uri, id);
	if (!cJSON_IsObject(env->dat) || (s = svc_get(id)) == NULL ||
	    (d = cJSON_Duplicate(env->dat, 1)) == NULL)
		return;
	cJSON_Delete(s->desc);
	s->desc = d;
	s->complete = !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "truncated"));
}

static void
on_state(const struct mob_topic *t, const struct mob_env *env)
{
	const cJSON *st, *why;
	char id[MOB_ID_MAX];
	struct api_svc *s;
	int was;

	api_svc_id(&t->uri, id);
	if (!cJSON_IsObject(env->dat))
		return;
	if (strcmp(t->uri.part[MOB_URI_SID], "000") == 0) {
		/* the hub itself: its counters for GET /api/v1/status */
		if (strcmp(t->uri.part[MOB_URI_HID], mob_client_hid(api.c)) == 0) {
			cJSON_Delete(hub.status);
			hub.status = cJSON_Duplicate(env->dat, 1);
		}
		return;
	}
	if ((s = svc_get(id)) == NULL)
		return;
	st = cJSON_GetObjectItemCaseSensitive(env->dat, "state");
	why = cJSON_GetObjectItemCaseSensitive(env->dat, "reason");
	was = s->online;
	s->online = cJSON_IsString(st) && strcmp(st->valuestring, "online") == 0;
	snprintf(s->reason, sizeof(s->reason), "%s",
	    cJSON_IsString(why) ? why->valuestring : "");
	if (was != 0 && s->online == 0)
		api_stream_offline(id);
}

static void
on_cov(const struct mob_topic *t, const struct mob_env *env)
{
	struct api_cov *c;
	cJSON *d;

	if ((c = cov_get(&t->uri)) == NULL) {
		log_debug("COV cache full: %s/%s not kept", t->uri.part[MOB_URI_HID],
		    t->uri.part[MOB_URI_SID]);
		return;
	}
	if ((d = cJSON_Duplicate(env->dat, 1)) == NULL)
		return;
	cJSON_Delete(c->dat);
	c->dat = d;
	c->iat = env->iat;
	api_stream_cov(c);
}

static void
hub_msg(struct mob_client *c, const char *topic, const struct mob_env *env,
    void *arg)
{
	struct mob_topic t;
	char err[128];

	(void)c;
	(void)arg;
	if (mob_topic_parse(topic, 0, &t, err, sizeof(err)) != 0)
		return;
	switch (t.verb) {
	case MOB_VERB_SVC:
		on_svc(&t, env);
		break;
	case MOB_VERB_STATE:
		on_state(&t, env);
		break;
	case MOB_VERB_COV:
		on_cov(&t, env);
		break;
	default:
		break;
	}
}

static void
hub_conn(struct mob_client *c, int connected, void *arg)
{
	(void)c;
	(void)arg;
	if (connected)
		log_info("hub link up");
	else
		log_warnx("hub link lost; reconnecting");
}

/* --- the link in the loop --------------------------------------------- */

static void
hub_tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = mob_clock_mono_ms();

	(void)sul;
	hub.tick_at = 0;
	if (api.c != NULL)
		mob_client_process(api.c, 0);
	if (now - hub.last_refresh >= 1000) {
		hub.last_refresh = now;
		api_tokens_refresh(api.cfg.tokens);
	}
	hub_sync();
}

static void
hub_unlink(void)
{
	if (hub.wsi != NULL) {
		lws_set_timeout(hub.wsi, PENDING_TIMEOUT_CLOSE_ACK, LWS_TO_KILL_ASYNC);
		lws_set_opaque_user_data(hub.wsi, NULL);
		hub.wsi = NULL;
	}
	hub.fd = -1;
	hub.ino = 0;
}

/*
 * After the client ran: follow its socket (adopt a new one), ask for
 * POLLOUT when it has output pending, and set the timer.
 */
static void
hub_sync(void)
{
	lws_sock_file_fd_type d;
	struct pollfd pfd;
	struct stat st;
	int t, dupfd;

	/* stopping: the loop closes every wsi, ours must not come back */
	if (api.c == NULL || api.ctx == NULL || api.stop)
		return;
	mob_client_pollfd(api.c, &pfd);
	if (pfd.fd < 0 || fstat(pfd.fd, &st) != 0) {
		if (hub.fd >= 0)
			hub_unlink();
	} else if (pfd.fd != hub.fd || st.st_ino != hub.ino || hub.wsi == NULL) {
		hub_unlink();
		if ((dupfd = fcntl(pfd.fd, F_DUPFD_CLOEXEC, 3)) < 0)
			log_warn("dup of the hub socket");
		else {
			d.filefd = dupfd;
			hub.wsi = lws_adopt_descriptor_vhost(api.vh,
			    LWS_ADOPT_RAW_FILE_DESC, d, "mobius-hub", NULL);
			if (hub.wsi == NULL)
				log_warnx("cannot watch the hub socket");
			else {
				lws_set_opaque_user_data(hub.wsi, &hub);
				hub.fd = pfd.fd;
				hub.ino = st.st_ino;
			}
		}
	}
	if (hub.wsi != NULL && (pfd.events & POLLOUT))
		lws_callback_on_writable(hub.wsi);
	/* never push a pending tick later: traffic must not starve it */
	t = mob_client_timeout(api.c);
	if (t < 0 || t > TICK_MAX_MS)
		t = TICK_MAX_MS;
	if (hub.tick_at == 0 || mob_clock_mono_ms() + t < hub.tick_at) {
		hub.tick_at = mob_clock_mono_ms() + t;
		lws_sul_schedule(api.ctx, 0, &hub.sul, hub_tick, (lws_usec_t)t * 1000);
	}
}

int
api_hub_callback(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
	(void)user;
	(void)in;
	(void)len;
	/* stopping, or a wsi we have let go (hub_unlink) */
	if (api.stop || wsi == NULL || lws_get_opaque_user_data(wsi) == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		mob_client_process(api.c, POLLIN);
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		mob_client_process(api.c, POLLOUT);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		/* hang-up: let the client see it, then follow its reconnection */
		hub.wsi = NULL;
		hub.fd = -1;
		mob_client_process(api.c, POLLIN | POLLHUP);
		break;
	default:
		return 0;
	}
	hub_sync();
	return 0;
}

/* The key file; mob_client_new says what is wrong with it, in one line. */
int
api_hub_new(const struct mob_client_cfg *cfg)
{
	return mob_client_new(cfg, &api.c);
}

int
api_hub_open(void)
{
	int r;

	mob_client_set_handlers(api.c, hub_msg, hub_conn, NULL);
	/* MOB_ESYS: the hub is not there yet; api_hub_login retries */
	if ((r = mob_client_open(api.c)) != 0 && r != MOB_ESYS)
		return r;
	return 0;
}

int
api_hub_login(int timeout_ms)
{
	static const char *const subs[] = {
		"mob/svc/+/+", "mob/state/+/+", "mob/cov/#",
	};
	size_t i;
	int r;

	if ((r = mob_client_connect(api.c, timeout_ms)) != 0)
		return r;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if ((r = mob_client_subscribe(api.c, subs[i], 0)) != 0)
			return r;
	hub_sync();
	return hub.wsi != NULL ? 0 : MOB_ESYS;
}

void
api_hub_close(void)
{
	size_t i;

	if (api.ctx != NULL)
		lws_sul_cancel(&hub.sul);
	mob_client_free(api.c);
	api.c = NULL;
	for (i = 0; i < hub.nsvc; i++) {
		cJSON_Delete(hub.svc[i]->desc);
		free(hub.svc[i]);
	}
	for (i = 0; i < hub.ncov; i++)
		cJSON_Delete(hub.cov[i].dat);
	free(hub.cov);
	cJSON_Delete(hub.status);
}

/* --- requests --------------------------------------------------------- */

struct hub_req {
	api_rsp_fn cb;
	void *arg;
	/* discover of a whole service, page by page */
	struct api_svc *svc;
	cJSON *objects;
	cJSON *first;
};

static void hub_rsp(struct mob_client *c, int err, const cJSON *rsp, void *arg);

static int
hub_send(struct hub_req *hr, const char *target, cJSON *req)
{
	int r;

	r = mob_client_request_async(api.c, target, req, api.cfg.req_timeout_ms,
	    hub_rsp, hr);
	hub_sync();
	return r;
}

static int
page_request(struct hub_req *hr, int offset)
{
	cJSON *req;
	int r = MOB_ENOMEM;

	if ((req = cJSON_CreateObject()) == NULL)
		return MOB_ENOMEM;
	if (cJSON_AddStringToObject(req, "op", "discover") != NULL &&
	    cJSON_AddStringToObject(req, "uri", hr->svc->id) != NULL &&
	    cJSON_AddNumberToObject(req, "offset", offset) != NULL)
		r = hub_send(hr, hr->svc->id, req);
	cJSON_Delete(req);
	return r;
}

/* One page of a service discover: keep its objects, ask for the next. */
static int
page_answer(struct hub_req *hr, const cJSON *rsp)
{
	const cJSON *svc, *objs, *o, *next;
	cJSON *d;
	int e;

	svc = cJSON_GetObjectItemCaseSensitive(rsp, "service");
	objs = cJSON_GetObjectItemCaseSensitive(svc, "objects");
	if (!cJSON_IsObject(svc) || !cJSON_IsArray(objs))
		return MOB_EPROTO;
	if (hr->first == NULL && (hr->first = cJSON_Duplicate(svc, 0)) == NULL)
		return MOB_ENOMEM;
	cJSON_ArrayForEach(o, objs) {
		if (cJSON_GetArraySize(hr->objects) >= 4096 ||
		    (d = cJSON_Duplicate(o, 1)) == NULL)
			return MOB_ENOMEM;
		if (mob_json_add(hr->objects, NULL, d) != 0)
			return MOB_ENOMEM;
	}
	next = cJSON_GetObjectItemCaseSensitive(rsp, "next");
	if (cJSON_IsNumber(next) && next->valuedouble > 0 &&
	    next->valuedouble < 1e6)
		return page_request(hr, (int)next->valuedouble) == 0 ? 1 : MOB_EOFFLINE;
	/* complete: the description is the first page with every object */
	e = mob_json_add(hr->first, "objects", hr->objects);
	hr->objects = NULL;	/* added, or deleted by mob_json_add */
	if (e != 0)
		return e;
	cJSON_Delete(hr->svc->desc);
	hr->svc->desc = hr->first;
	hr->svc->complete = 1;
	hr->first = NULL;
	return 0;
}

static void
hub_rsp(struct mob_client *c, int err, const cJSON *rsp, void *arg)
{
	struct hub_req *hr = arg;
	int r;

	(void)c;
	if (hr->svc != NULL) {
		if (err == 0 && (r = mob_client_rsp_error(rsp, NULL)) != 0)
			err = r;
		if (err == 0 && (r = page_answer(hr, rsp)) == 1)
			return;		/* the next page is on its way */
		else if (err == 0)
			err = r;
		cJSON_Delete(hr->objects);
		cJSON_Delete(hr->first);
		hr->cb(err, NULL, hr->arg);
	} else
		hr->cb(err, rsp, hr->arg);
	free(hr);
}


int
api_hub_request(cJSON *req, const struct mob_uri *u, api_rsp_fn cb, void *arg)
{
	struct hub_req *hr;
	struct api_svc *s;
	char id[MOB_ID_MAX];
	int r;

	api_svc_id(u, id);
	/* every service's description is retained: one we never saw is none */
	if ((s = api_svc_find(id)) == NULL)
		return MOB_ENOTFOUND;
	if (!api_hub_connected() || s->online == 0)
		return MOB_EOFFLINE;
	if ((hr = calloc(1, sizeof(*hr))) == NULL)
		return MOB_ENOMEM;
	hr->cb = cb;
	hr->arg = arg;
	log_debug("request %s %s",
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "op")),
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "uri")));
	if ((r = hub_send(hr, id, req)) != 0)
		free(hr);
	return r;
}

int
api_hub_complete(struct api_svc *s, api_rsp_fn cb, void *arg)
{
	struct hub_req *hr;
	int r = MOB_ENOMEM;

	if (!api_hub_connected() || s->online == 0)
		return MOB_EOFFLINE;
	if ((hr = calloc(1, sizeof(*hr))) == NULL)
		return MOB_ENOMEM;
	hr->cb = cb;
	hr->arg = arg;
	hr->svc = s;
	if ((hr->objects = cJSON_CreateArray()) == NULL ||
	    (r = page_request(hr, 0)) != 0) {
		cJSON_Delete(hr->objects);
		free(hr);
	}
	return r;
}
