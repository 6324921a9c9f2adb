/*
 * mobius-api, the application side: one libwebsockets protocol serving
 * the REST API, the dashboard files and the upgrade to the stream.
 *
 * Order for every API request, before anything reaches the hub:
 *   1. method and path known, header sizes bounded by libwebsockets;
 *   2. bearer token present (401), valid (401, answer held back by the
 *      failure throttle), within its rate (429);
 *   3. the URI parsed strictly (400) and covered by the token's scope for
 *      the verb (403): an out-of-scope write never leaves this file;
 *   4. a body (PUT) declared by Content-Length (411), at most body_max
 *      bytes (413), valid JSON of the documented shape (400).
 * Answers are JSON; errors are {"error":{"code","message"},"status"}
 * with the protocol's code names (docs/api.md maps them to statuses).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <libwebsockets.h>

#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/jws.h"
#include "mobius/log.h"
#include "mobius/time.h"
#include "../cli/internal.h"
#include "internal.h"
#include "mobius/client.h"

#define PREFIX		"/api/v1/"
#define PATH_MAX_API	256
#define HDR_BUF		2048

enum meth { M_NONE, M_GET, M_PUT, M_DELETE, M_OPTIONS, M_OTHER };

struct api_http {
	struct lws *wsi;
	enum meth meth;
	char path[PATH_MAX_API];
	char addr[48];
	struct api_token tok;		/* copy: the request outlives no reload */
	int authed;
	struct mob_uri u;
	char *body;
	size_t blen;
	int too_big;
	struct pend *pend;		/* a hub request on its way */
	/* the answer */
	int ready, hdr_sent, close_after;
	int status, retry_after;
	const char *ctype;
	char *rsp;			/* malloc'd, or points into a www file */
	size_t rlen;
	int rsp_static;
	const char *csp;
	/* failure throttle */
	lws_sorted_usec_list_t sul;
	int held;
};

struct sess {
	int ws;				/* upgraded to the stream */
	union {
		struct api_http h;
		struct api_stream st;
	};
	/* between the upgrade filter and ESTABLISHED */
	struct mob_uri pattern;
};

struct pend {
	struct api_http *h;		/* NULL once the connection went */
	int senml;
	int kind;			/* P_VALUE, P_DISCOVER */
};

enum { P_VALUE, P_DISCOVER };

/* --- dashboard files -------------------------------------------------- */

static struct wfile {
	const char *name;
	const char *ctype;
	char *data;
	size_t len;
} www[] = {
	{ "index.html", "text/html; charset=utf-8", NULL, 0 },
	{ "app.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "style.css", "text/css; charset=utf-8", NULL, 0 },
};
#define NWWW	(sizeof(www) / sizeof(www[0]))

int
api_www_load(const char *dir)
{
	char path[512], err[600];
	size_t i;
	int r;

	for (i = 0; i < NWWW; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, www[i].name);
		if ((r = mob_file_read(path, API_FILE_MAX, 0, &www[i].data,
		    &www[i].len, err, sizeof(err))) != 0) {
			log_warnx("%s", err);
			return r;
		}
	}
	return 0;
}

void
api_www_free(void)
{
	size_t i;

	for (i = 0; i < NWWW; i++) {
		mob_file_free(www[i].data, www[i].len);
		www[i].data = NULL;
	}
}

/* --- answers ---------------------------------------------------------- */

int
api_http_status(int err)
{
	switch (err) {
	case 0:
		return 200;
	case MOB_EINVAL: case MOB_EURI: case MOB_EWILDCARD: case MOB_ETYPE:
	case MOB_ERANGE: case MOB_EJSON: case MOB_EPARSE: case MOB_EHDRDUP:
		return 400;
	case MOB_EDENIED:
		return 403;
	case MOB_ENOTFOUND:
		return 404;
	case MOB_EREADONLY:
		return 409;
	case MOB_EBUSY:
		return 429;
	case MOB_EOFFLINE: case MOB_ETIMEOUT:
		return 504;
	case MOB_ENOMEM:
		return 500;
	default:
		return 502;	/* the service or its device refused: device, too_long, ... */
	}
}

static void
reply(struct api_http *h, int status, const char *ctype, char *body, size_t len)
{
	if (h->ready) {
		free(body);
		return;
	}
	h->status = status;
	h->ctype = ctype;
	h->rsp = body;
	h->rlen = len;
	h->ready = 1;
	if (!h->held)
		lws_callback_on_writable(h->wsi);
}

static void
reply_json(struct api_http *h, int status, cJSON *j)
{
	char *s = j != NULL ? cJSON_PrintUnformatted(j) : NULL;

	cJSON_Delete(j);
	if (s == NULL) {
		reply(h, 500, "application/json", strdup("{\"error\":{\"code\":"
		    "\"nomem\",\"message\":\"out of memory\"},\"status\":500}"), 0);
		if (h->rsp != NULL)
			h->rlen = strlen(h->rsp);
		return;
	}
	reply(h, status, "application/json", s, strlen(s));
}

static void MOB_PRINTF(4, 5)
reply_err(struct api_http *h, int status, const char *code, const char *fmt, ...)
{
	cJSON *j, *e;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((j = cJSON_CreateObject()) == NULL ||
	    (e = cJSON_AddObjectToObject(j, "error")) == NULL ||
	    cJSON_AddStringToObject(e, "code", code) == NULL ||
	    cJSON_AddStringToObject(e, "message", msg) == NULL ||
	    cJSON_AddNumberToObject(j, "status", status) == NULL) {
		cJSON_Delete(j);
		j = NULL;
	}
	reply_json(h, status, j);
}

static void
reply_mob(struct api_http *h, int err, const char *msg)
{
	reply_err(h, api_http_status(err), mob_errname(err), "%s",
	    msg != NULL ? msg : mob_strerror(err));
}

static int
add_hdr(struct lws *wsi, const char *name, const char *val,
    unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
	    (const unsigned char *)val, (int)strlen(val), p, end);
}

static int
write_headers(struct api_http *h)
{
	unsigned char buf[LWS_PRE + HDR_BUF], *start = buf + LWS_PRE, *p = start,
	    *end = buf + sizeof(buf) - 1;
	char ra[16];

	if (lws_add_http_common_headers(h->wsi, (unsigned int)h->status, h->ctype,
	    (lws_filepos_t)h->rlen, &p, end) ||
	    add_hdr(h->wsi, "cache-control:", "no-store", &p, end) ||
	    add_hdr(h->wsi, "x-content-type-options:", "nosniff", &p, end) ||
	    add_hdr(h->wsi, "referrer-policy:", "no-referrer", &p, end) ||
	    add_hdr(h->wsi, "x-frame-options:", "DENY", &p, end))
		return -1;
	if (h->csp != NULL && add_hdr(h->wsi, "content-security-policy:",
	    h->csp, &p, end))
		return -1;
	if (h->status == 401 && add_hdr(h->wsi, "www-authenticate:",
	    "Bearer realm=\"mobius\"", &p, end))
		return -1;
	if (h->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", h->retry_after);
		if (add_hdr(h->wsi, "retry-after:", ra, &p, end))
			return -1;
	}
	if (api.cfg.cors != NULL) {
		if (add_hdr(h->wsi, "access-control-allow-origin:", api.cfg.cors, &p, end) ||
		    add_hdr(h->wsi, "vary:", "Origin", &p, end))
			return -1;
		if (h->meth == M_OPTIONS && (
		    add_hdr(h->wsi, "access-control-allow-methods:",
		    "GET, PUT, DELETE", &p, end) ||
		    add_hdr(h->wsi, "access-control-allow-headers:",
		    "authorization, content-type", &p, end) ||
		    add_hdr(h->wsi, "access-control-max-age:", "600", &p, end)))
			return -1;
	}
	if (h->close_after && add_hdr(h->wsi, "connection:", "close", &p, end))
		return -1;
	return lws_finalize_write_http_header(h->wsi, start, &p, end);
}

static void
answer_free(struct api_http *h)
{
	if (!h->rsp_static)
		free(h->rsp);
	h->rsp = NULL;
	free(h->body);
	h->body = NULL;
}

/* HTTP_WRITEABLE: headers first, then the body in one final write. */
static int
http_writable(struct api_http *h)
{
	unsigned char *buf;
	int r;

	if (!h->ready || h->held)
		return 0;
	if (!h->hdr_sent) {
		if (write_headers(h) != 0)
			return -1;
		h->hdr_sent = 1;
		if (h->rlen > 0) {
			lws_callback_on_writable(h->wsi);
			return 0;
		}
	} else if (h->rlen > 0) {
		if ((buf = malloc(LWS_PRE + h->rlen)) == NULL)
			return -1;
		memcpy(buf + LWS_PRE, h->rsp, h->rlen);
		r = lws_write(h->wsi, buf + LWS_PRE, h->rlen, LWS_WRITE_HTTP_FINAL);
		free(buf);
		if (r < (int)h->rlen)
			return -1;
	}
	answer_free(h);
	h->ready = 0;
	if (h->close_after)
		return -1;
	return lws_http_transaction_completed(h->wsi) ? -1 : 0;
}

/* --- authorisation ---------------------------------------------------- */

static void
held_release(lws_sorted_usec_list_t *sul)
{
	struct api_http *h = lws_container_of(sul, struct api_http, sul);

	h->held = 0;
	api_fail_release();
	lws_callback_on_writable(h->wsi);
}

/* "Bearer X" from the header, or, for the stream, ?access_token=X. */
static int
get_token(struct lws *wsi, char *tok, size_t len, int allow_query)
{
	char hdr[256];
	const char *v;
	int n;

	tok[0] = '\0';
	n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 0 && n < (int)sizeof(hdr) &&
	    lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
	    strncasecmp(hdr, "Bearer ", 7) == 0 && strlen(hdr + 7) < len) {
		memcpy(tok, hdr + 7, strlen(hdr + 7) + 1);
		OPENSSL_cleanse(hdr, sizeof(hdr));
		return 0;
	}
	OPENSSL_cleanse(hdr, sizeof(hdr));
	if (n > 0)
		return -1;	/* an Authorization we do not take */
	if (allow_query && (v = lws_get_urlarg_by_name(wsi, "access_token=",
	    hdr, sizeof(hdr))) != NULL && strlen(v) < len) {
		memmove(tok, v, strlen(v) + 1);
		OPENSSL_cleanse(hdr, sizeof(hdr));
		return 0;
	}
	tok[0] = '\0';
	return -1;
}

/*
 * Steps 2 of the list at the top: 0 with h->tok set, or -1 with the
 * answer prepared (401 held back, 429).
 */
static int
authorise(struct api_http *h)
{
	struct api_token *t;
	char tok[160];
	int delay;

	if (get_token(h->wsi, tok, sizeof(tok), 0) != 0) {
		reply_err(h, 401, "denied", "an API token is required: "
		    "Authorization: Bearer TOKEN");
		return -1;
	}
	t = api_token_check(tok);
	OPENSSL_cleanse(tok, sizeof(tok));
	if (t == NULL) {
		if ((delay = api_fail_delay(h->addr)) < 0) {
			h->close_after = 1;
			reply_err(h, 429, "denied", "too many failed token checks");
			return -1;
		}
		h->held = 1;
		lws_sul_schedule(api.ctx, 0, &h->sul, held_release,
		    (lws_usec_t)delay * 1000);
		reply_err(h, 401, "denied", "the API token is not valid");
		return -1;
	}
	if ((delay = api_token_spend(t, api.cfg.rate, api.cfg.burst)) > 0) {
		h->retry_after = (delay + 999) / 1000;
		reply_err(h, 429, "rate", "token %s: more than %d requests a second",
		    t->name, api.cfg.rate);
		return -1;
	}
	h->tok = *t;
	h->authed = 1;
	return 0;
}

/* --- requests --------------------------------------------------------- */

static int
parse_uri(struct api_http *h, const char *s, int min, int max)
{
	char err[160];

	if (*s == '\0') {
		h->u.depth = 0;
		if (min == 0)
			return 0;
	} else if (mob_uri_parse(s, 0, &h->u, err, sizeof(err)) != 0) {
		reply_err(h, 400, "uri", "URI \"%.64s\": %s", s, err);
		return -1;
	}
	if (h->u.depth < min || h->u.depth > max) {
		reply_err(h, 400, "uri", "URI \"%s\": give %s", s, min == 4 ?
		    (max == 4 ? "an object" : "an object (HID/SID/PID/INS) or "
		    "a resource (HID/SID/PID/INS/RID)") :
		    "a resource (HID/SID/PID/INS/RID)");
		return -1;
	}
	return 0;
}

/* SenML records of a read answer (one resource, or each of an object's). */
static int
senml_add(cJSON *pack, const char *uri, const cJSON *r)
{
	const cJSON *j;
	struct cli_cov c;
	cJSON *p, *rec;
	char *line = NULL;
	int e;

	memset(&c, 0, sizeof(c));
	snprintf(c.uri, sizeof(c.uri), "%s", uri);
	c.value = cJSON_GetObjectItemCaseSensitive(r, "value");
	j = cJSON_GetObjectItemCaseSensitive(r, "changed");
	/* from the network: in range before the cast */
	c.time_ms = cJSON_IsNumber(j) && j->valuedouble > 0 &&
	    j->valuedouble <= MOB_TIME_MS_MAX ? (int64_t)j->valuedouble : 0;
	j = cJSON_GetObjectItemCaseSensitive(r, "units");
	c.units = cJSON_IsString(j) ? j->valuestring : NULL;
	if ((e = cli_fmt_cov(CLI_FMT_SENML, &c, &line)) != 0)
		return e;
	p = cJSON_Parse(line);
	free(line);
	if (p == NULL)
		return MOB_ENOMEM;
	while ((rec = cJSON_DetachItemFromArray(p, 0)) != NULL)
		if ((e = mob_json_add(pack, NULL, rec)) != 0)
			break;
	cJSON_Delete(p);
	return e;
}

static void
answer_senml(struct api_http *h, const cJSON *rsp)
{
	const cJSON *obj, *r, *rid, *uri;
	char ruri[MOB_URI_MAX + 4], *s;
	cJSON *pack;
	int e = 0;

	uri = cJSON_GetObjectItemCaseSensitive(rsp, "uri");
	if (!cJSON_IsString(uri) || (pack = cJSON_CreateArray()) == NULL) {
		reply_mob(h, MOB_EPROTO, "the service's answer has no uri");
		return;
	}
	if ((obj = cJSON_GetObjectItemCaseSensitive(rsp, "object")) != NULL) {
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(obj, "resources")) {
			rid = cJSON_GetObjectItemCaseSensitive(r, "rid");
			if (!cJSON_IsString(rid))
				continue;
			snprintf(ruri, sizeof(ruri), "%s/%s", uri->valuestring,
			    rid->valuestring);
			if ((e = senml_add(pack, ruri, r)) != 0)
				break;
		}
	} else
		e = senml_add(pack, uri->valuestring, rsp);
	if (e != 0 || (s = cJSON_PrintUnformatted(pack)) == NULL) {
		cJSON_Delete(pack);
		reply_mob(h, e != 0 ? e : MOB_ENOMEM, NULL);
		return;
	}
	cJSON_Delete(pack);
	reply(h, 200, "application/senml+json", s, strlen(s));
}

static void
value_rsp(int err, const cJSON *rsp, void *arg)
{
	struct pend *p = arg;
	struct api_http *h = p->h;
	const char *msg = NULL;
	cJSON *copy;

	if (h == NULL) {
		free(p);
		return;
	}
	h->pend = NULL;
	if (err == MOB_ETIMEOUT)
		msg = "the service did not answer in time";
	if (err == 0 && (err = mob_client_rsp_error(rsp, &msg)) == 0) {
		if (p->senml)
			answer_senml(h, rsp);
		else if ((copy = cJSON_Duplicate(rsp, 1)) == NULL)
			reply_mob(h, MOB_ENOMEM, NULL);
		else {
			cJSON_DeleteItemFromObjectCaseSensitive(copy, "id");
			reply_json(h, 200, copy);
		}
	} else
		reply_mob(h, err, msg);
	free(p);
}

static void
send_req(struct api_http *h, cJSON *req, int senml)
{
	struct pend *p;
	int r;

	if (req == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
		cJSON_Delete(req);
		reply_mob(h, MOB_ENOMEM, NULL);
		return;
	}
	p->h = h;
	p->senml = senml;
	p->kind = P_VALUE;
	h->pend = p;
	r = api_hub_request(req, &h->u, value_rsp, p);
	cJSON_Delete(req);
	if (r != 0) {
		h->pend = NULL;
		free(p);
		reply_mob(h, r, r == MOB_EOFFLINE ? "the service is offline" :
		    r == MOB_ENOTFOUND ? "no such service" : NULL);
	}
}

static int
arg_format_senml(struct api_http *h, int *senml)
{
	char buf[32];
	const char *fmt;

	*senml = 0;
	if ((fmt = lws_get_urlarg_by_name(h->wsi, "format=", buf, sizeof(buf))) == NULL)
		return 0;
	if (strcmp(fmt, "senml") == 0) {
		*senml = 1;
		return 0;
	}
	if (strcmp(fmt, "json") == 0)
		return 0;
	reply_err(h, 400, "invalid", "format \"%s\": json or senml", fmt);
	return -1;
}

static int
arg_priority(struct api_http *h, long *prio)
{
	char buf[32], *end;
	const char *v;

	*prio = 16;
	if ((v = lws_get_urlarg_by_name(h->wsi, "priority=", buf, sizeof(buf))) == NULL)
		return 0;
	errno = 0;
	*prio = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || *prio < 1 || *prio > 16) {
		reply_err(h, 400, "invalid", "priority \"%s\": a whole number "
		    "from 1 (highest) to 16 (lowest)", v);
		return -1;
	}
	return 0;
}

static void
do_values_get(struct api_http *h, const char *rest)
{
	int senml;

	if (parse_uri(h, rest, 4, 5) != 0 || arg_format_senml(h, &senml) != 0)
		return;
	if (!api_scope_covers(&h->tok, API_READ, &h->u)) {
		reply_err(h, 403, "scope", "token %s may not read %s", h->tok.name, rest);
		return;
	}
	send_req(h, mob_client_req_new("read", &h->u), senml);
}

static void
do_values_delete(struct api_http *h, const char *rest)
{
	cJSON *req;
	long prio;

	if (parse_uri(h, rest, 5, 5) != 0 || arg_priority(h, &prio) != 0)
		return;
	if (!api_scope_covers(&h->tok, API_WRITE, &h->u)) {
		reply_err(h, 403, "scope", "token %s may not write %s", h->tok.name, rest);
		return;
	}
	if ((req = mob_client_req_new("clear", &h->u)) != NULL &&
	    cJSON_AddNumberToObject(req, "priority", (double)prio) == NULL) {
		cJSON_Delete(req);
		req = NULL;
	}
	send_req(h, req, 0);
}

/* PUT body: {"value": V, "priority": N?} and nothing else. */
static void
do_values_put(struct api_http *h)
{
	const cJSON *v, *p, *m;
	cJSON *body, *req;
	const char *end = NULL;

	if (h->too_big) {
		reply_err(h, 413, "too_long", "the body is larger than %d bytes",
		    api.cfg.body_max);
		return;
	}
	if ((body = cJSON_ParseWithLengthOpts(h->body != NULL ? h->body : "",
	    h->blen, &end, 0)) == NULL ||
	    (size_t)(end - (h->body != NULL ? h->body : "")) != h->blen) {
		cJSON_Delete(body);
		reply_err(h, 400, "json", "the body is not one JSON value");
		return;
	}
	if (!cJSON_IsObject(body)) {
		cJSON_Delete(body);
		reply_err(h, 400, "invalid", "the body must be an object: "
		    "{\"value\": V, \"priority\": N}");
		return;
	}
	cJSON_ArrayForEach(m, body) {
		if (strcmp(m->string, "value") != 0 && strcmp(m->string, "priority") != 0) {
			reply_err(h, 400, "invalid", "unknown member \"%.40s\"", m->string);
			cJSON_Delete(body);
			return;
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(body, "value");
	p = cJSON_GetObjectItemCaseSensitive(body, "priority");
	if (v == NULL || cJSON_IsNull(v) || cJSON_IsObject(v) || cJSON_IsArray(v)) {
		cJSON_Delete(body);
		reply_err(h, 400, "invalid", "\"value\" must be a number, "
		    "a boolean or a string (DELETE clears a priority)");
		return;
	}
	if (p != NULL && (!cJSON_IsNumber(p) || p->valuedouble != (int)p->valuedouble ||
	    p->valuedouble < 1 || p->valuedouble > 16)) {
		cJSON_Delete(body);
		reply_err(h, 400, "invalid", "\"priority\" must be a whole number "
		    "from 1 (highest) to 16 (lowest)");
		return;
	}
	if ((req = mob_client_req_new("write", &h->u)) == NULL ||
	    mob_json_add(req, "value", cJSON_Duplicate(v, 0)) != 0 ||
	    cJSON_AddNumberToObject(req, "priority", p != NULL ? p->valuedouble : 16) == NULL) {
		cJSON_Delete(req);
		req = NULL;
	}
	cJSON_Delete(body);
	send_req(h, req, 0);
}

/* --- discover --------------------------------------------------------- */

static const char *
svc_state(const struct api_svc *s)
{
	return s->online == 1 ? "online" : s->online == 0 ? "offline" : "unknown";
}

static cJSON *
svc_summary(const struct api_svc *s)
{
	static const char *const keep[] = { "spid", "name", "description" };
	const cJSON *objs;
	cJSON *o;
	size_t i;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "id", s->id);
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		const cJSON *j = cJSON_GetObjectItemCaseSensitive(s->desc, keep[i]);

		if (cJSON_IsString(j))
			cJSON_AddStringToObject(o, keep[i], j->valuestring);
	}
	cJSON_AddStringToObject(o, "state", svc_state(s));
	if (s->online == 0 && *s->reason != '\0')
		cJSON_AddStringToObject(o, "reason", s->reason);
	objs = cJSON_GetObjectItemCaseSensitive(s->desc, "objects");
	cJSON_AddNumberToObject(o, "objects", cJSON_GetArraySize(objs));
	return o;
}

/* Copy of object o with only the resources the token may read. */
static cJSON *
obj_filtered(const struct api_http *h, const struct api_svc *s, const cJSON *o)
{
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(o, "pid"),
	    *ins = cJSON_GetObjectItemCaseSensitive(o, "ins"), *r, *rid;
	struct mob_uri u;
	cJSON *c, *res;
	char uri[MOB_URI_MAX + 8], err[64];

	if (!cJSON_IsString(pid) || !cJSON_IsString(ins))
		return NULL;
	snprintf(uri, sizeof(uri), "%s/%.4s/%.4s", s->id, pid->valuestring,
	    ins->valuestring);
	if (mob_uri_parse(uri, 0, &u, err, sizeof(err)) != 0 ||
	    !api_scope_touches(&h->tok, API_READ, &u))
		return NULL;
	if ((c = cJSON_Duplicate(o, 1)) == NULL)
		return NULL;
	cJSON_AddStringToObject(c, "uri", uri);
	res = cJSON_GetObjectItemCaseSensitive(c, "resources");
	for (r = res != NULL ? res->child : NULL; r != NULL;) {
		const cJSON *nx = r->next;

		rid = cJSON_GetObjectItemCaseSensitive(r, "rid");
		u.depth = 5;
		snprintf(u.part[MOB_URI_RID], sizeof(u.part[0]), "%.2s",
		    cJSON_IsString(rid) ? rid->valuestring : "");
		if (!cJSON_IsString(rid) || !api_scope_touches(&h->tok, API_READ, &u))
			cJSON_Delete(cJSON_DetachItemViaPointer(res, (cJSON *)r));
		r = nx;
	}
	return c;
}

static void
discover_answer(struct api_http *h)
{
	const struct mob_uri *u = &h->u;
	const cJSON *o;
	struct api_svc *s;
	char id[MOB_ID_MAX];
	cJSON *j, *arr, *c;

	api_svc_id(u, id);
	if ((s = api_svc_find(id)) == NULL || s->desc == NULL) {
		reply_err(h, 404, "not_found", "no service %s", id);
		return;
	}
	if (u->depth == 2) {
		if ((j = svc_summary(s)) != NULL)
			cJSON_DeleteItemFromObjectCaseSensitive(j, "objects");
		if (j == NULL || (arr = cJSON_AddArrayToObject(j, "objects")) == NULL) {
			cJSON_Delete(j);
			reply_mob(h, MOB_ENOMEM, NULL);
			return;
		}
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(s->desc, "objects"))
			if ((c = obj_filtered(h, s, o)) != NULL &&
			    mob_json_add(arr, NULL, c) != 0) {
				cJSON_Delete(j);
				reply_mob(h, MOB_ENOMEM, NULL);
				return;
			}
		reply_json(h, 200, j);
		return;
	}
	if ((o = api_obj_desc(s->desc, u->part[2], u->part[3])) == NULL ||
	    (j = obj_filtered(h, s, o)) == NULL) {
		reply_err(h, 404, "not_found", "no object %s/%s/%s in %s",
		    u->part[2], u->part[3], u->depth == 5 ? u->part[4] : "", id);
		return;
	}
	if (u->depth == 5) {
		cJSON *r;

		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "resources")) {
			const cJSON *rid = cJSON_GetObjectItemCaseSensitive(r, "rid");

			if (cJSON_IsString(rid) && strcmp(rid->valuestring, u->part[4]) == 0) {
				r = cJSON_Duplicate(r, 1);
				cJSON_Delete(j);
				reply_json(h, 200, r);
				return;
			}
		}
		cJSON_Delete(j);
		reply_err(h, 404, "not_found", "no resource %s in %s", u->part[4], id);
		return;
	}
	reply_json(h, 200, j);
}

static void
discover_done(int err, const cJSON *rsp, void *arg)
{
	struct pend *p = arg;
	struct api_http *h = p->h;

	(void)rsp;
	if (h != NULL) {
		h->pend = NULL;
		if (err != 0)
			reply_mob(h, err, err == MOB_ETIMEOUT ?
			    "the service did not answer in time" : NULL);
		else
			discover_answer(h);
	}
	free(p);
}

static void
do_discover(struct api_http *h, const char *rest)
{
	struct api_svc *s;
	struct pend *p;
	char id[MOB_ID_MAX];
	cJSON *j, *arr, *c;
	size_t i;
	int r;

	if (parse_uri(h, rest, 0, 5) != 0)
		return;
	if (h->u.depth == 3) {
		reply_err(h, 400, "uri", "URI \"%s\": give HID, HID/SID, "
		    "HID/SID/PID/INS or HID/SID/PID/INS/RID", rest);
		return;
	}
	if (h->u.depth > 0 && !api_scope_touches(&h->tok, API_READ, &h->u)) {
		reply_err(h, 403, "scope", "token %s may not read %s", h->tok.name, rest);
		return;
	}
	if (h->u.depth <= 1) {
		if ((j = cJSON_CreateObject()) == NULL ||
		    (arr = cJSON_AddArrayToObject(j, "services")) == NULL) {
			cJSON_Delete(j);
			reply_mob(h, MOB_ENOMEM, NULL);
			return;
		}
		for (i = 0; (s = api_svc_at(i)) != NULL; i++) {
			struct mob_uri su;
			char e[64];

			if (mob_uri_parse(s->id, 0, &su, e, sizeof(e)) != 0 ||
			    (h->u.depth == 1 && strcmp(su.part[0], h->u.part[0]) != 0) ||
			    !api_scope_touches(&h->tok, API_READ, &su) || s->desc == NULL)
				continue;
			if ((c = svc_summary(s)) != NULL &&
			    mob_json_add(arr, NULL, c) != 0) {
				cJSON_Delete(j);
				reply_mob(h, MOB_ENOMEM, NULL);
				return;
			}
		}
		reply_json(h, 200, j);
		return;
	}
	api_svc_id(&h->u, id);
	if ((s = api_svc_find(id)) == NULL || s->desc == NULL) {
		reply_err(h, 404, "not_found", "no service %s", id);
		return;
	}
	if (s->complete) {
		discover_answer(h);
		return;
	}
	/* a large service: fetch every page of its description first */
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		reply_mob(h, MOB_ENOMEM, NULL);
		return;
	}
	p->h = h;
	p->kind = P_DISCOVER;
	h->pend = p;
	if ((r = api_hub_complete(s, discover_done, p)) != 0) {
		h->pend = NULL;
		free(p);
		reply_mob(h, r, NULL);
	}
}

static void
do_status(struct api_http *h)
{
	const cJSON *hs = api_hub_status();
	cJSON *j, *a, *t, *sc;
	size_t i;

	if ((j = cJSON_CreateObject()) == NULL ||
	    (a = cJSON_AddObjectToObject(j, "api")) == NULL) {
		cJSON_Delete(j);
		reply_mob(h, MOB_ENOMEM, NULL);
		return;
	}
	cJSON_AddStringToObject(a, "id", mob_client_id(api.c));
	cJSON_AddBoolToObject(a, "hub_connected", api_hub_connected());
	cJSON_AddNumberToObject(a, "services", (double)api_svc_count());
	cJSON_AddNumberToObject(a, "values", (double)api_cov_count());
	cJSON_AddNumberToObject(a, "streams", (double)api_stream_count());
	/* the caller's own token: the dashboard offers edits only where it may write */
	if ((t = cJSON_AddObjectToObject(j, "token")) != NULL &&
	    (sc = cJSON_AddArrayToObject(t, "scopes")) != NULL) {
		cJSON_AddStringToObject(t, "name", h->tok.name);
		for (i = 0; i < h->tok.nscope; i++) {
			char pat[MOB_URI_MAX], line[MOB_URI_MAX + 8];
			int v = h->tok.scope[i].verbs;

			if (mob_uri_format(&h->tok.scope[i].pat, pat, sizeof(pat)) < 0)
				continue;
			snprintf(line, sizeof(line), "%s:%s", v == (API_READ | API_WRITE) ?
			    "rw" : v == API_WRITE ? "write" : "read", pat);
			if (mob_json_add(sc, NULL, cJSON_CreateString(line)) != 0)
				goto nomem;
		}
	}
	if (hs != NULL ? mob_json_add(j, "hub", cJSON_Duplicate(hs, 1)) != 0 :
	    cJSON_AddNullToObject(j, "hub") == NULL)
		goto nomem;
	reply_json(h, 200, j);
	return;
nomem:
	cJSON_Delete(j);
	reply_mob(h, MOB_ENOMEM, NULL);
}

static void
serve_file(struct api_http *h, const char *name)
{
	size_t i;

	for (i = 0; i < NWWW; i++) {
		if (strcmp(www[i].name, name) != 0 || www[i].data == NULL)
			continue;
		h->rsp_static = 1;
		/* the page talks only to this server; no inline script */
		h->csp = "default-src 'none'; script-src 'self'; style-src 'self'; "
		    "connect-src 'self'; img-src 'self'; base-uri 'none'; "
		    "form-action 'none'; frame-ancestors 'none'";
		reply(h, 200, www[i].ctype, www[i].data, www[i].len);
		return;
	}
	reply_err(h, 404, "not_found", "no such page");
}

static enum meth
method(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
		return M_GET;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0)
		return M_PUT;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0)
		return M_DELETE;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0)
		return M_OPTIONS;
	return M_OTHER;
}

/* LWS_CALLBACK_HTTP: a new request (path without the query). */
static int
http_request(struct lws *wsi, struct api_http *h, const char *path)
{
	const char *rest;
	char cl[24];
	long long n;

	answer_free(h);
	memset(h, 0, sizeof(*h));
	h->wsi = wsi;
	h->meth = method(wsi);
	lws_get_peer_simple(wsi, h->addr, sizeof(h->addr));
	if (strlen(path) >= sizeof(h->path)) {
		reply_err(h, 414, "too_long", "the path is too long");
		return 0;
	}
	snprintf(h->path, sizeof(h->path), "%s", path);

	if (h->meth == M_OPTIONS) {
		if (api.cfg.cors == NULL)
			reply_err(h, 405, "invalid", "CORS is not enabled on this server");
		else
			reply(h, 204, "text/plain", NULL, 0);
		return 0;
	}
	if (strncmp(path, PREFIX, strlen(PREFIX)) != 0) {
		if (h->meth != M_GET)
			reply_err(h, 405, "invalid", "only GET here");
		else
			serve_file(h, strcmp(path, "/") == 0 ? "index.html" : path + 1);
		return 0;
	}
	if (h->meth == M_OTHER) {
		reply_err(h, 405, "invalid", "methods: GET, PUT, DELETE");
		return 0;
	}
	if (authorise(h) != 0)
		return 0;
	rest = path + strlen(PREFIX);
	if (strcmp(rest, "status") == 0 && h->meth == M_GET) {
		do_status(h);
	} else if ((strcmp(rest, "discover") == 0 || strncmp(rest, "discover/", 9) == 0) &&
	    h->meth == M_GET) {
		do_discover(h, rest[8] == '/' ? rest + 9 : "");
	} else if (strncmp(rest, "values/", 7) == 0) {
		rest += 7;
		if (h->meth == M_GET)
			do_values_get(h, rest);
		else if (h->meth == M_DELETE)
			do_values_delete(h, rest);
		else {
			/* PUT: decide now what needs no body; the body follows */
			if (parse_uri(h, rest, 5, 5) != 0)
				return 0;
			if (!api_scope_covers(&h->tok, API_WRITE, &h->u)) {
				h->close_after = 1;
				reply_err(h, 403, "scope", "token %s may not write %s",
				    h->tok.name, rest);
				return 0;
			}
			if (lws_hdr_copy(wsi, cl, sizeof(cl),
			    WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
				h->close_after = 1;
				reply_err(h, 411, "invalid", "Content-Length is required");
				return 0;
			}
			n = strtoll(cl, NULL, 10);
			if (n > api.cfg.body_max || n < 0) {
				h->close_after = 1;
				reply_err(h, 413, "too_long", "the body is larger than "
				    "%d bytes", api.cfg.body_max);
				return 0;
			}
			if (n == 0)
				do_values_put(h);
		}
	} else if (strcmp(rest, "stream") == 0) {
		reply_err(h, 426, "invalid", "the stream is a WebSocket: "
		    "send Upgrade: websocket");
	} else
		reply_err(h, 404, "not_found", "no such API path: %s", path);
	return 0;
}

static void
http_body(struct api_http *h, const void *in, size_t len)
{
	char *n;

	if (h->too_big || h->ready)
		return;
	if (h->blen + len > (size_t)api.cfg.body_max) {
		h->too_big = 1;
		free(h->body);
		h->body = NULL;
		h->blen = 0;
		return;
	}
	if ((n = realloc(h->body, h->blen + len + 1)) == NULL) {
		h->too_big = 1;
		return;
	}
	h->body = n;
	memcpy(h->body + h->blen, in, len);
	h->blen += len;
	h->body[h->blen] = '\0';
}

static void
http_closed(struct api_http *h)
{
	if (h->pend != NULL) {
		h->pend->h = NULL;
		h->pend = NULL;
	}
	if (h->held) {
		lws_sul_cancel(&h->sul);
		api_fail_release();
		h->held = 0;
	}
	answer_free(h);
	h->ready = 0;
}

/* --- the stream's upgrade --------------------------------------------- */

static int
stream_filter(struct lws *wsi, struct sess *s)
{
	struct api_token *t;
	char path[64], buf[80], tok[160], err[128];
	const char *pat;

	s->ws = 0;
	memset(&s->h, 0, sizeof(s->h));
	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(path, PREFIX "stream") != 0)
		return -1;
	if ((pat = lws_get_urlarg_by_name(wsi, "pattern=", buf, sizeof(buf))) == NULL)
		pat = "#";
	if (mob_uri_parse(pat, MOB_URI_WILD, &s->pattern, err, sizeof(err)) != 0) {
		log_info("stream: pattern \"%s\": %s", pat, err);
		lws_return_http_status(wsi, 400, err);
		return -1;
	}
	if (get_token(wsi, tok, sizeof(tok), 1) != 0 ||
	    (t = api_token_check(tok)) == NULL) {
		OPENSSL_cleanse(tok, sizeof(tok));
		lws_get_peer_simple(wsi, err, sizeof(err));
		log_info("stream from %s: no valid token", err);
		/*
		 * The upgrade's answer cannot be held back inside this
		 * callback, so the failure is counted in the same per-source
		 * table as REST's: a source over the budget gets 429, and its
		 * REST answers are held back the longer for it.
		 */
		if (api_fail_delay(err) < 0) {
			lws_return_http_status(wsi, 429, "too many failed token checks");
			return -1;
		}
		api_fail_release();
		lws_return_http_status(wsi, 401, "no valid API token");
		return -1;
	}
	OPENSSL_cleanse(tok, sizeof(tok));
	if (api_token_spend(t, api.cfg.rate, api.cfg.burst) > 0) {
		lws_return_http_status(wsi, 429, "rate");
		return -1;
	}
	s->h.tok = *t;
	return 0;
}

/* --- the protocol ----------------------------------------------------- */

int
api_http_callback(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
	struct sess *s = user;
	struct api_token t;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http_request(wsi, &s->h, in);
	case LWS_CALLBACK_HTTP_BODY:
		http_body(&s->h, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!s->h.ready)
			do_values_put(&s->h);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return http_writable(&s->h);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (s != NULL && !s->ws)
			http_closed(&s->h);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return stream_filter(wsi, s);
	case LWS_CALLBACK_ESTABLISHED:
		t = s->h.tok;
		s->ws = 1;
		api_stream_open(wsi, &s->st, &t, &s->pattern);
		OPENSSL_cleanse(&t, sizeof(t));
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return s->ws ? api_stream_writable(wsi, &s->st) : 0;
	case LWS_CALLBACK_RECEIVE:
		return 0;	/* the stream is one way; what a client sends is ignored */
	case LWS_CALLBACK_CLOSED:
		if (s->ws)
			api_stream_close(&s->st);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, (enum lws_callback_reasons)reason,
		    user, in, len);
	}
}

size_t
api_sess_size(void)
{
	return sizeof(struct sess);
}
