/*
 * mobius-api: private header of the api/ sources (docs/api.md).
 *
 *   main.c    options, configuration, main(): config → open → sandbox → loop
 *   token.c   API tokens: the hashed token file, scopes, rate and failure throttles
 *   hub.c     the service side: hub link in the libwebsockets loop, caches
 *             of descriptions, presence and present values, requests
 *   http.c    the REST side: routing, authorisation, JSON answers, files
 *   stream.c  the WebSocket COV stream with bounded per-client queues
 */
#ifndef MOBIUS_API_INTERNAL_H
#define MOBIUS_API_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "mobius/uri.h"

struct cJSON;
struct lws;
struct lws_context;
struct lws_vhost;
struct mob_client;
struct mob_client_cfg;

/* --- limits (docs/api.md "Limits") ------------------------------------ */

#define API_PORT_DEFAULT	8443
#define API_BODY_MAX		4096	/* PUT body, bytes */
#define API_HDR_MAX		4096	/* all request headers, bytes (libwebsockets' ah) */
#define API_CONN_MAX		256	/* connections at once */
#define API_RATE_DEFAULT	50	/* requests a second per token ... */
#define API_BURST_DEFAULT	100	/* ... with this burst */
#define API_QUEUE_DEFAULT	(256 * 1024)	/* stream bytes queued per client */
#define API_REQ_TIMEOUT_MS	3000	/* service answer */
#define API_TOKENS_MAX		256
#define API_SCOPES_MAX		16
#define API_TOKEN_NAME_MAX	32
#define API_COV_MAX		65536	/* present values kept */
#define API_SVC_MAX		1024	/* services kept */
#define API_FAIL_SLOTS		64	/* remembered sources of failed token checks */
#define API_FILE_MAX		(256 * 1024)	/* dashboard file */

/* --- main.c ----------------------------------------------------------- */

struct api_cfg {
	const char *listen;		/* address; NULL = all */
	int port;
	int plain;			/* http:// (127.0.0.1 only) */
	const char *cert, *key;		/* TLS, PEM */
	const char *tokens;		/* token file */
	const char *www;		/* dashboard directory */
	const char *cors;		/* allowed origin, or NULL: no CORS */
	int rate, burst;
	int queue_max;
	int body_max;
	int req_timeout_ms;
};

struct api {
	struct api_cfg cfg;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct mob_client *c;
	int stop;
};

extern struct api api;

/* --- token.c ---------------------------------------------------------- */

#define API_READ	0x1
#define API_WRITE	0x2

#define API_TOKEN_PREFIX	"mobt_"
#define API_TOKEN_SECRET	32	/* random bytes */

struct api_scope {
	int verbs;			/* API_READ | API_WRITE */
	struct mob_uri pat;		/* wild */
};

struct api_token {
	char name[API_TOKEN_NAME_MAX + 1];
	unsigned char hash[32];		/* SHA-256 of the whole token text */
	struct api_scope scope[API_SCOPES_MAX];
	size_t nscope;
	uint64_t gen;			/* changes when the token does */
	double bucket;			/* rate limit: requests available */
	int64_t bucket_ms;
};

/* Load (or re-load when the file changed) the token file: 0 or MOB_E*. */
int api_tokens_load(const char *path);
/* Re-read the file if its mtime or size changed; keeps buckets of kept tokens. */
void api_tokens_refresh(const char *path);
void api_tokens_free(void);
/*
 * The token the presented text is, or NULL.  Compares with every entry
 * in constant time (no early exit).
 */
struct api_token *api_token_check(const char *presented);
/* The token of that name and generation still exists. */
struct api_token *api_token_find(const char *name, uint64_t gen);
/* One request from t: 0, or milliseconds to wait (rate limit). */
int api_token_spend(struct api_token *t, int rate, int burst);
/* Scope: every URI under u (any depth) may be used with verb. */
int api_scope_covers(const struct api_token *t, int verb, const struct mob_uri *u);
/* Scope: some URI under u may be used with verb (discover navigation). */
int api_scope_touches(const struct api_token *t, int verb, const struct mob_uri *u);
/*
 * A failed token check from source addr: how long to hold the answer
 * (ms; grows with the source's recent failures), or -1 when too many
 * answers are already held and the connection should simply be closed.
 */
int api_fail_delay(const char *addr);
void api_fail_release(void);

/* Parse "read:PATTERN" / "write:PATTERN" / "rw:PATTERN": 0 or MOB_EURI/MOB_EINVAL. */
int api_scope_parse(const char *s, struct api_scope *out, char *err, size_t errlen);

/* --- hub.c ------------------------------------------------------------ */

struct api_svc {
	char id[MOB_ID_MAX];		/* HID/SID */
	struct cJSON *desc;		/* service description (completed), or NULL */
	int complete;			/* desc holds every object with resources */
	int online;			/* -1 unknown, 0, 1 */
	char reason[64];
};

struct api_cov {
	char uri[MOB_URI_MAX];
	struct mob_uri u;
	struct cJSON *dat;		/* {"value","status","changed"} */
	int64_t iat;
	uint32_t next;			/* hash chain, index + 1 */
};

/* The hub client from the key file (config phase): 0, or MOB_E* said. */
int api_hub_new(const struct mob_client_cfg *cfg);
/* Open the link, reading nothing yet (before the sandbox): 0 or MOB_E*. */
int api_hub_open(void);
/* Log in (the hub's first bytes), subscribe, join the libwebsockets loop. */
int api_hub_login(int timeout_ms);
void api_hub_close(void);
/* The libwebsockets protocol that carries the hub link. */
int api_hub_callback(struct lws *wsi, int reason, void *user, void *in, size_t len);

/* "HID/SID" of the service that owns u. */
void api_svc_id(const struct mob_uri *u, char id[MOB_ID_MAX]);
struct api_svc *api_svc_find(const char *id);
size_t api_svc_count(void);
struct api_svc *api_svc_at(size_t i);
const struct cJSON *api_hub_status(void);
int api_hub_connected(void);
size_t api_cov_count(void);
const struct api_cov *api_cov_at(size_t i);
/* Resource description (from the service's description) or NULL. */
const struct cJSON *api_res_desc(const struct mob_uri *u);
const struct cJSON *api_obj_desc(const struct cJSON *desc, const char *pid, const char *ins);

/*
 * A request to the service owning u; cb once with the answer (or err).
 * discover of a service walks "next" pages and completes the cached
 * description.  0, or MOB_E* (cb not called).
 */
typedef void (*api_rsp_fn)(int err, const struct cJSON *rsp, void *arg);
int api_hub_request(struct cJSON *req, const struct mob_uri *u, api_rsp_fn cb, void *arg);
int api_hub_complete(struct api_svc *s, api_rsp_fn cb, void *arg);

/* --- http.c ----------------------------------------------------------- */

int api_http_callback(struct lws *wsi, int reason, void *user, void *in, size_t len);
/* Load the dashboard files into memory (before the sandbox): 0 or MOB_E*. */
int api_www_load(const char *dir);
void api_www_free(void);
/* Protocol error code → HTTP status (docs/api.md). */
int api_http_status(int err);

/* --- stream.c --------------------------------------------------------- */

struct smsg;
struct api_stream {
	struct lws *wsi;
	struct api_stream *next, **prevp;
	struct mob_uri pattern;
	struct api_token tok;	/* a copy: scopes stay while the token does */
	size_t snap;		/* next cache entry of the snapshot */
	int snap_done;
	struct smsg *head, *tail;
	size_t queued;
	int cut;
};
size_t api_stream_count(void);
/* WebSocket callbacks of the stream (a subset of the protocol's reasons). */
int api_stream_open(struct lws *wsi, struct api_stream *st, struct api_token *t,
    const struct mob_uri *pattern);
int api_stream_writable(struct lws *wsi, struct api_stream *st);
void api_stream_close(struct api_stream *st);
/* A COV (cache entry updated) or a whole service gone offline. */
void api_stream_cov(const struct api_cov *c);
void api_stream_offline(const char *svc_id);
/* Tokens re-read: close streams whose token is gone. */
void api_stream_tokens(void);
/* One record as `mobius watch --json` prints it; free(). */
char *api_cov_record(const struct api_cov *c, int offline);

#endif
