/*
 * The CLI's view of the node: the connection to the hub, the service
 * descriptions (retained mob/svc) and presence (retained mob/state) it has
 * seen, and requests with errors in plain words.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "mobius/client.h"
#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/log.h"
#include "node.h"

static struct cli_svc *
svc_get(struct cli_node *n, const char *id, int create)
{
	struct cli_svc *s, **tail = &n->svcs;

	for (s = n->svcs; s != NULL; s = s->next) {
		if (strcmp(s->id, id) == 0)
			return s;
		tail = &s->next;
	}
	if (!create || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	snprintf(s->id, sizeof(s->id), "%s", id);
	*tail = s;
	return s;
}

/* Presence is "online"/"offline" as a string or in a "state" member. */
static void
state_set(struct cli_svc *s, const cJSON *dat)
{
	const cJSON *st = dat, *reason;

	if (cJSON_IsObject(dat))
		st = cJSON_GetObjectItemCaseSensitive(dat, "state");
	if (cJSON_IsString(st))
		snprintf(s->state, sizeof(s->state), "%s", st->valuestring);
	reason = cJSON_IsObject(dat) ?
	    cJSON_GetObjectItemCaseSensitive(dat, "reason") : NULL;
	snprintf(s->reason, sizeof(s->reason), "%s",
	    cJSON_IsString(reason) ? reason->valuestring : "");
}

static void
node_msg(struct mob_client *c, const char *topic, const struct mob_env *env,
    void *arg)
{
	struct cli_node *n = arg;
	struct mob_topic t;
	struct cli_svc *s;
	char id[MOB_ID_MAX], err[128], prev[sizeof(((struct cli_svc *)0)->state)];
	cJSON *d;

	(void)c;
	n->last_rx_ms = mob_clock_mono_ms();
	if (mob_topic_parse(topic, 0, &t, err, sizeof(err)) != 0) {
		log_debug("ignoring %s: %s", topic, err);
		return;
	}
	snprintf(id, sizeof(id), "%.6s/%.3s", t.uri.part[MOB_URI_HID],
	    t.uri.part[MOB_URI_SID]);
	switch (t.verb) {
	case MOB_VERB_SVC:
		if ((s = svc_get(n, id, 1)) == NULL ||
		    (d = cJSON_Duplicate(env->dat, 1)) == NULL)
			return;
		cJSON_Delete(s->desc);
		s->desc = d;
		n->nsvc_msgs++;
		break;
	case MOB_VERB_STATE:
		if ((s = svc_get(n, id, 1)) == NULL)
			return;
		snprintf(prev, sizeof(prev), "%s", s->state);
		state_set(s, env->dat);
		if ((d = cJSON_Duplicate(env->dat, 1)) != NULL) {
			cJSON_Delete(s->presence);
			s->presence = d;
		}
		if (n->on_state != NULL && *prev != '\0' &&
		    strcmp(prev, s->state) != 0)
			n->on_state(n, s);
		break;
	case MOB_VERB_COV:
		if (n->on_cov != NULL)
			n->on_cov(n, &t, env);
		break;
	default:
		break;
	}
}

static void
node_conn(struct mob_client *c, int connected, void *arg)
{
	struct cli_node *n = arg;

	(void)c;
	if (n->connected && !connected && n->on_link != NULL)
		n->on_link(n, 0);
	else if (!n->connected && connected && n->ever_connected &&
	    n->on_link != NULL)
		n->on_link(n, 1);
	n->connected = connected;
	if (connected)
		n->ever_connected = 1;
}

int
cli_node_open(struct cli_node *n, const struct cli_opts *o, const char *cmd)
{
	struct mob_client_cfg cfg;
	int r;

	n->o = o;
	n->cmd = cmd;
	/*
	 * What waiting cannot fix is said at once: no socket, or one this
	 * user may not open (connect(2) needs write permission on it).
	 */
	if (access(o->socket, W_OK) != 0 && errno == ENOENT) {
		cli_error(cmd, "no hub socket at %s: start mobius-hub, or give "
		    "its socket with --socket or MOBIUS_SOCKET", o->socket);
		return CLI_EXIT_TIMEOUT;
	}
	if (access(o->socket, W_OK) != 0 && errno == EACCES) {
		cli_error(cmd, "may not open the hub socket %s (permission "
		    "denied): add yourself to group mobius (sudo usermod -aG "
		    "mobius $USER, then log in again)", o->socket);
		return CLI_EXIT_ERROR;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.keyfile = o->keyfile;
	cfg.socket = o->socket;
	cfg.dial_once = 1;
	cfg.recover = n->recover;
	/* it says why in one line (the key file and the reason) */
	if (mob_client_new(&cfg, &n->c) != 0)
		return CLI_EXIT_ERROR;
	mob_client_set_handlers(n->c, node_msg, node_conn, n);
	switch ((r = mob_client_connect(n->c, o->timeout_ms))) {
	case 0:
		return CLI_EXIT_OK;
	case MOB_EDENIED:
		cli_error(cmd, "the hub at %s refused the key in %s (not in "
		    "its keyring, revoked or expired; or the hub's runs_max "
		    "commands with this key are running: see its log)",
		    o->socket, o->keyfile);
		return CLI_EXIT_ERROR;
	case MOB_ETIMEOUT:
		cli_error(cmd, "no answer from the hub at %s within %g s",
		    o->socket, o->timeout_ms / 1000.0);
		return CLI_EXIT_TIMEOUT;
	case MOB_ESYS:
		cli_error(cmd, "cannot reach the hub at %s: connection refused "
		    "(a socket is there but no mobius-hub listens on it: start "
		    "mobius-hub)", o->socket);
		return CLI_EXIT_TIMEOUT;
	default:
		cli_error(cmd, "cannot connect to the hub at %s: %s",
		    o->socket, mob_strerror(r));
		return cli_exit_code(r);
	}
}

void
cli_node_close(struct cli_node *n)
{
	struct cli_svc *s, *next;

	mob_client_free(n->c);
	n->c = NULL;
	for (s = n->svcs; s != NULL; s = next) {
		next = s->next;
		cJSON_Delete(s->desc);
		cJSON_Delete(s->presence);
		free(s);
	}
	n->svcs = NULL;
}

struct cli_svc *
cli_node_svc(struct cli_node *n, const char *id)
{
	return svc_get(n, id, 0);
}

int
cli_node_subscribe(struct cli_node *n, const char *verb, const char *pattern)
{
	char filter[MOB_TOPIC_MAX + 8];
	int r;

	snprintf(filter, sizeof(filter), "mob/%s/%s", verb, pattern);
	if ((r = mob_client_subscribe(n->c, filter, 0)) != 0)
		cli_error(n->cmd, "cannot subscribe to %s: %s", filter,
		    mob_strerror(r));
	return r;
}

int
cli_node_settle(struct cli_node *n, int quiet_ms, int max_ms)
{
	int64_t start = mob_clock_mono_ms(), now;
	int r;

	n->last_rx_ms = start;
	while ((now = mob_clock_mono_ms()) - start < max_ms &&
	    now - n->last_rx_ms < quiet_ms) {
		if ((r = mob_client_loop(n->c, 20)) != 0)
			return r;
	}
	return 0;
}

static const cJSON *
jget(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

static const char *
jstr(const cJSON *o, const char *name)
{
	const cJSON *j = jget(o, name);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

const cJSON *
cli_desc_object(const cJSON *desc, const char *pid, const char *ins)
{
	const cJSON *obj;

	cJSON_ArrayForEach(obj, jget(desc, "objects")) {
		const char *p = jstr(obj, "pid"), *i = jstr(obj, "ins");

		if (p != NULL && i != NULL && strcmp(p, pid) == 0 &&
		    strcmp(i, ins) == 0)
			return obj;
	}
	return NULL;
}

const cJSON *
cli_desc_res(const cJSON *obj, const char *rid)
{
	const cJSON *res;

	cJSON_ArrayForEach(res, jget(obj, "resources")) {
		const char *r = jstr(res, "rid");

		if (r != NULL && strcmp(r, rid) == 0)
			return res;
	}
	return NULL;
}

const cJSON *
cli_node_res(struct cli_node *n, const struct mob_uri *u)
{
	struct cli_svc *s;
	const cJSON *obj;
	char id[MOB_ID_MAX];

	if (u->depth < 5)
		return NULL;
	snprintf(id, sizeof(id), "%.6s/%.3s", u->part[MOB_URI_HID],
	    u->part[MOB_URI_SID]);
	if ((s = svc_get(n, id, 0)) == NULL || s->desc == NULL)
		return NULL;
	if ((obj = cli_desc_object(s->desc, u->part[MOB_URI_PID],
	    u->part[MOB_URI_INS])) == NULL)
		return NULL;
	return cli_desc_res(obj, u->part[MOB_URI_RID]);
}

/* The answer to the one request cli_node_request waits for. */
struct node_wait {
	int done, err;
	cJSON *rsp;
};

static void
node_rsp(struct mob_client *c, int err, const cJSON *rsp, void *arg)
{
	struct node_wait *w = arg;

	(void)c;
	w->done = 1;
	w->err = err;
	if (err == 0 && (w->rsp = cJSON_Duplicate(rsp, 1)) == NULL)
		w->err = MOB_ENOMEM;
}

/* " (reason)" or "" */
static void
node_reason(const struct cli_svc *s, char *buf, size_t len)
{
	if (s != NULL && *s->reason != '\0')
		snprintf(buf, len, " (%s)", s->reason);
	else if (len > 0)
		*buf = '\0';
}

/*
 * The answer, or the hub's word that nobody can answer: the presence the
 * hub keeps for every service of its keyring (retained mob/state, which
 * arrives before any answer since the subscription went out first) ends
 * the wait at once when the service is offline.  A service the keyring
 * does not know has no presence; the hub refuses the request at once.
 */
int
cli_node_request(struct cli_node *n, const struct mob_uri *u, cJSON *req,
    cJSON **rsp)
{
	const char *msg = NULL;
	struct node_wait w;
	struct cli_svc *s;
	char id[MOB_ID_MAX], uri[MOB_URI_MAX], why[80];
	int r;

	*rsp = NULL;
	memset(&w, 0, sizeof(w));
	snprintf(id, sizeof(id), "%.6s/%.3s", u->part[MOB_URI_HID],
	    u->part[MOB_URI_SID]);
	if (mob_uri_format(u, uri, sizeof(uri)) < 0)
		snprintf(uri, sizeof(uri), "%s", id);
	if ((r = mob_client_request_async(n->c, id, req, n->o->timeout_ms,
	    node_rsp, &w)) != 0) {
		cli_error(n->cmd, "%s: request failed: %s", uri, mob_strerror(r));
		return cli_exit_code(r);
	}
	while (!w.done) {
		s = svc_get(n, id, 0);
		if (s != NULL && strcmp(s->state, "offline") == 0) {
			node_reason(s, why, sizeof(why));
			cli_error(n->cmd, "%s: service %s is offline%s: start it "
			    "(or see its log) and try again", uri, id, why);
			return CLI_EXIT_TIMEOUT;
		}
		if ((r = mob_client_loop(n->c, 20)) != 0 && !w.done) {
			w.done = 1;
			w.err = r;
		}
	}
	r = w.err;
	*rsp = w.rsp;
	if (r == MOB_ETIMEOUT) {
		cli_error(n->cmd, "%s: no answer within %g s: service %s is "
		    "connected but not answering (see its log)", uri,
		    n->o->timeout_ms / 1000.0, id);
		return CLI_EXIT_TIMEOUT;
	}
	if (r == MOB_EOFFLINE) {
		cli_error(n->cmd, "%s: lost the connection to the hub at %s "
		    "while waiting for the answer", uri, n->o->socket);
		return CLI_EXIT_TIMEOUT;
	}
	if (r != 0) {
		cli_error(n->cmd, "%s: request failed: %s", uri, mob_strerror(r));
		return cli_exit_code(r);
	}
	if ((r = mob_client_rsp_error(*rsp, &msg)) != 0) {
		s = svc_get(n, id, 0);
		cli_error(n->cmd, "%s: %s (%s)", uri,
		    msg != NULL && *msg != '\0' ? msg : mob_strerror(r),
		    mob_errname(r));
		cJSON_Delete(*rsp);
		*rsp = NULL;
		/* no presence: the hub's refusal of a service it does not know */
		if (r == MOB_ENOTFOUND && (s == NULL || *s->state == '\0'))
			return CLI_EXIT_TIMEOUT;
		return cli_exit_code(r);
	}
	return CLI_EXIT_OK;
}

/*
 * Move the objects of one discover page into objs; the next offset, 0 at
 * the end, or -1 out of memory.
 */
static double
take_page(cJSON *rsp, cJSON *objs, double offset)
{
	cJSON *svc = cJSON_GetObjectItemCaseSensitive(rsp, "service");
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(svc, "objects");
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(rsp, "next");
	cJSON *o;

	while (cJSON_IsArray(arr) && (o = cJSON_DetachItemFromArray(arr, 0)) != NULL)
		if (mob_json_add(objs, NULL, o) != 0)
			return -1;
	/* A next offset that does not move on would loop for ever. */
	if (!cJSON_IsNumber(next) || next->valuedouble <= offset)
		return 0;
	return next->valuedouble;
}

int
cli_node_complete(struct cli_node *n, struct cli_svc *s)
{
	cJSON *objs = NULL, *req = NULL, *rsp = NULL;
	struct mob_uri u;
	double offset = 0;
	int rc = CLI_EXIT_ERROR;

	if (s->desc == NULL || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	    s->desc, "truncated")))
		return CLI_EXIT_OK;
	if (mob_uri_parse(s->id, 0, &u, NULL, 0) != 0 ||
	    (objs = cJSON_CreateArray()) == NULL)
		goto out;
	do {
		if ((req = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(req, "op", "discover") == NULL ||
		    cJSON_AddStringToObject(req, "uri", s->id) == NULL ||
		    (offset > 0 && cJSON_AddNumberToObject(req, "offset",
		    offset) == NULL)) {
			rc = CLI_EXIT_ERROR;
			goto out;
		}
		if ((rc = cli_node_request(n, &u, req, &rsp)) != CLI_EXIT_OK)
			goto out;
		offset = take_page(rsp, objs, offset);
		cJSON_Delete(req);
		cJSON_Delete(rsp);
		req = rsp = NULL;
		if (offset < 0) {
			rc = CLI_EXIT_ERROR;
			goto out;
		}
	} while (offset > 0);
	if (!cJSON_ReplaceItemInObjectCaseSensitive(s->desc, "objects", objs)) {
		rc = CLI_EXIT_ERROR;
		goto out;
	}
	objs = NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(s->desc, "truncated");
 out:
	cJSON_Delete(objs);
	cJSON_Delete(req);
	cJSON_Delete(rsp);
	return rc;
}
