/*
 * The hub plugin (docs/hub.md): one mosquitto 2.0 plugin (API v5) that
 * authenticates services with tokens (auth.c), enforces the topic rules
 * (acl.c), verifies every message before fan-out (message.c), hands out
 * keys (keys.c) and publishes presence and counters (state.c).
 *
 * Dependencies point one way, as in mosquitto's dynamic-security plugin:
 * plugin.c (entry points, reload) sits on top and registers the
 * callbacks; the callbacks (auth.c, acl.c, message.c, state.c, keys.c)
 * use the modules underneath (ident.c, reqs.c, log.c, table.c) and never
 * call back into plugin.c; opts.c parses the options, for the plugin and
 * the launcher.  Names are hub_MODULE__VERB; one banner section
 * per module below.
 *
 * Mosquitto calls every callback from its single main thread, so the state
 * below needs no locking.
 */
#ifndef MOBIUS_HUB_INTERNAL_H
#define MOBIUS_HUB_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/keyring.h"
#include "mobius/token.h"
#include "mobius/uri.h"

struct mosquitto;
struct mosquitto_opt;

#define HUB_SID			"000"	/* the hub's own identity HID/000 */
#define HUB_ROUTER_SID		"0F0"	/* the router, by convention */
#define HUB_NREASONS		(1 - MOB_ERR_MIN)
#define HUB_SAFE_MAX		128	/* client-supplied text in log lines */
#define HUB_PASSWORD_MAX	2048	/* a token is ~300 bytes */

#define HUB_WRITERS_MAX		64	/* targets with a write policy */
#define HUB_RUNS_OFFLINE	1024	/* offline sessions of CLI runs kept */
#define HUB_RUNS_OFFLINE_MS	86400000	/* ... for at most a day */
#define HUB_WRITER_IDS		32	/* writers named per target */

/* Only the listed SIDs of this node may write or clear on target. */
struct hub_writers {
	char target[4];
	char sid[HUB_WRITER_IDS][4];
	size_t n;
};

struct hub_opts {
	char keys_dir[PATH_MAX];
	char keyring[PATH_MAX];		/* default KEYS/keyring */
	char hub_key[PATH_MAX];		/* default KEYS/hub.key */
	char status[PATH_MAX];		/* outcome of each (re)load, or "" */
	int64_t window_ms;		/* token and envelope iat window */
	size_t max_message;		/* cap on an envelope */
	int64_t req_ttl_ms;		/* how long a request may be answered */
	size_t req_max;			/* pending requests remembered */
	size_t req_quota;		/* ... of them from one requester */
	size_t runs_max;		/* runs of one CLI key logged in at once */
	size_t nonce_max;		/* login nonces remembered */
	size_t bad_max;			/* failed tokens remembered */
	int64_t stats_ms;		/* counters publication period */
	char router_sid[4];
	int remote_req;			/* services may send req to other nodes */
	struct hub_writers writers[HUB_WRITERS_MAX];
	size_t nwriters;
};

struct hub_stats {
	uint64_t logins_ok;
	uint64_t logins_failed;
	uint64_t cached;		/* refused as a token that failed before */
	uint64_t login_reason[HUB_NREASONS];	/* index -MOB_E* */
	uint64_t verified;
	uint64_t dropped;
	uint64_t drop_reason[HUB_NREASONS];
	uint64_t acl_publish;		/* publishes refused by the ACL */
	uint64_t acl_subscribe;		/* subscriptions refused */
	uint64_t req_refused;		/* over quota, table full, no such target */
	uint64_t keys_sent;
	uint64_t kicked;
};

/* A connected, authenticated client. */
struct hub_client {
	struct mosquitto *mosq;		/* broker-owned: compared, never freed */
	uint8_t pwhash[32];		/* SHA-256 of its login token */
	struct mob_key *key;		/* the key it logged in with (copy) */
	struct mob_key *session;	/* its session key (session.c), or NULL */
	int64_t session_at;		/* when it was made (monotonic ms) */
	int keysub;			/* subscribed to its mob/key topic */
	char instance[MOB_INSTANCE_B64 + 1];	/* its process (login nonce) */
	char replaced[MOB_INSTANCE_B64 + 1];	/* the process it replaced, or "" */
};

struct hub {
	void *pid;			/* mosquitto_plugin_id_t */
	struct hub_opts o;
	struct mob_keyring *kr;
	char kr_digest[MOB_KR_DIGEST_LEN + 1];	/* SHA-256 of the keyring text */
	uint64_t kr_generation;		/* (re)loads tried, the first is 1 */
	int status_due;			/* write o.status at the next tick */
	char status_err[512];		/* why the last (re)load failed, or "" */
	struct mob_key *key;		/* the hub's signing key */
	struct mob_signer *signer;
	struct mob_verifier *verifier;
	struct mob_nonce_cache *nonces;
	const struct hub_client *sender;	/* message.c: being verified */
	struct htab *clients;		/* client id -> struct hub_client */
	struct htab *idents;		/* identity -> its clients (clients.c) */
	struct htab *offline;		/* client id -> its offline session */
	struct htab *offline_runs;	/* the same for CLI runs, bounded */
	int reloading;			/* from MOSQ_EVT_RELOAD to the next tick */
	struct htab *bad;		/* hash of a failed token -> (set) */
	struct htab *reqs;		/* requester|reqid -> target id */
	struct htab *req_counts;	/* requester -> its pending requests */
	struct hub_stats st;
	int64_t next_stats;
	int64_t why_second;		/* explained refusals: this second */
	unsigned why_budget;
	int64_t log_second;		/* hub_log__event budget: this second */
	unsigned log_budget;
	uint64_t log_suppressed;
};

/* ====================================================================
 * table.c: a bounded hash table of string keys with optional expiry
 * ==================================================================== */
struct htab;
typedef void (*htab_free_fn)(void *val);
/* grow != 0: max is only the initial size, the table doubles when full. */
int htab_new(size_t max, htab_free_fn free_val, int grow, struct htab **out);
void htab_free(struct htab *t);
/* NULL when absent or expired (expires 0 = never). */
void *htab_get(struct htab *t, const char *key, int64_t now);
/*
 * Insert or replace; takes ownership of val on success.  When full, expired
 * entries are purged, then a growing table doubles, else (evict != 0) the
 * entry expiring first is dropped, else MOB_ENOMEM.
 */
int htab_put(struct htab *t, const char *key, void *val, int64_t expires,
    int64_t now, int evict);
void htab_del(struct htab *t, const char *key);
void htab_purge(struct htab *t, int64_t now);
size_t htab_count(const struct htab *t);
size_t htab_memory(const struct htab *t);
typedef void (*htab_walk_fn)(const char *key, void *val, void *arg);
void htab_walk(struct htab *t, htab_walk_fn fn, void *arg);

/* ====================================================================
 * ident.c: who may speak as a client id (keyring lookups)
 * ==================================================================== */
/* The node's algorithm: EdDSA when hardened, HS256 in compat mode. */
enum mob_alg hub_ident__alg(const struct mob_keyring *kr);
/*
 * idx-th usable entry of a service (the router is one) for login and
 * message checks: active, then grace; the node's algorithm only.
 */
const struct mob_kr_entry *hub_ident__entry(const struct hub *h,
    const char *id, size_t idx);
/* mob_key_lookup_fn over hub_ident__entry; ctx is the struct hub. */
const struct mob_key *hub_ident__lookup(void *ctx, const char *kid, size_t idx);
int hub_ident__is_local(const struct hub *h, const char *id);
int hub_ident__is_router(const struct hub *h, const char *id);
/* Is the key c (client id cid) logged in with still usable (after a reload)? */
int hub_ident__valid(const struct hub *h, const char *cid,
    const struct hub_client *c);

/* ====================================================================
 * clients.c: who is logged in, and the sessions they left
 * ==================================================================== */
int hub_clients__init(struct hub *h);
void hub_clients__free(struct hub *h);
/*
 * client logged in as client id cid with key (copied) and this token hash,
 * and with a session key (taken over, freed with the record: at
 * disconnect) or NULL.  nonce is its login token's: its process instance
 * (mobius/token.h).  A login with the client id of a live client of
 * another process replaces it (mosquitto disconnects that one); the
 * replaced process may not come back while the new one is connected:
 * MOB_EEXIST.  MOB_EBUSY when cid is a run of a CLI key that already has
 * runs_max runs logged in.
 */
int hub_clients__login(struct hub *h, struct mosquitto *client, const char *cid,
    const char *nonce, const struct mob_key *key, const uint8_t pwhash[32],
    struct mob_key *session);
/* The record of id if it belongs to this very connection, else NULL. */
struct hub_client *hub_clients__find(struct hub *h, const char *id,
    const struct mosquitto *client);
/*
 * client left: its record becomes an offline session.  0 if it had none
 * (a newer login replaced it), HUB_GONE_LAST if it was the last client of
 * its identity (the identity is offline now), HUB_GONE_OTHERS if other
 * runs of its key are still logged in.
 */
#define HUB_GONE_LAST	1
#define HUB_GONE_OTHERS	2
int hub_clients__gone(struct hub *h, const char *cid,
    const struct mosquitto *client);
/* Is this client the offline session a logged-in client left? */
int hub_clients__offline(struct hub *h, const char *cid,
    const struct mosquitto *client);
/* Is this the offline session client left, with the same login token? */
int hub_clients__was(struct hub *h, const char *id,
    const struct mosquitto *client, const uint8_t pwhash[32]);
/* Is this the offline session client left after a session-key login? */
int hub_clients__was_session(struct hub *h, const char *id,
    const struct mosquitto *client);

/* ====================================================================
 * log.c: warnings about what clients do, rate-limited
 * ==================================================================== */
/* Copy s into buf with anything but printable ASCII replaced, for logs. */
const char *hub_log__safe(const char *s, char *buf, size_t len);
/*
 * A warning about a client's doing (refused login, dropped message, ACL
 * refusal): at most HUB_LOG_PER_S a second, so a misbehaving client cannot
 * flood the journal; the tick reports how many were suppressed.
 */
#define HUB_LOG_PER_S	50
void hub_log__event(struct hub *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void hub_log__flush(struct hub *h);

/* ====================================================================
 * reqs.c: requests the hub saw, and who may write to whom
 * ==================================================================== */
int hub_reqs__init(struct hub *h);
void hub_reqs__free(struct hub *h);
/* May requester send op to target (writers_SID policy)?  1 or 0. */
int hub_reqs__allowed(const struct hub *h, const char *requester,
    const char *target, const char *op);
/*
 * Remember that requester asked target (a verified req carrying reqid).
 * MOB_ERANGE when requester has req_quota requests pending, MOB_ENOMEM
 * when the table (req_max) is full.
 */
int hub_reqs__note(struct hub *h, const char *requester, const char *reqid,
    const char *target, int64_t now);
/* The target asked by requester's reqid, NULL when none is pending. */
const char *hub_reqs__target(struct hub *h, const char *requester,
    const char *reqid, int64_t now);
/* Forget an answered request. */
void hub_reqs__done(struct hub *h, const char *requester, const char *reqid);

/* ====================================================================
 * auth.c: MOSQ_EVT_BASIC_AUTH, token logins
 * ==================================================================== */
int hub_auth__init(struct hub *h);
int hub_auth__basic(int event, void *event_data, void *userdata);
/*
 * The checks of a token login, refusals counted and logged: 0 and the
 * entry whose key verified it and the token's claims, or MOB_E*.
 */
int hub_auth__check(struct hub *h, const char *id, const char *user,
    const char *tok, size_t len, const uint8_t tokhash[32], int64_t now,
    const struct mob_kr_entry **entry, struct mob_token *t);
/* Count and log a refused login. */
void hub_auth__refused(struct hub *h, const char *id, const char *user, int r);
/*
 * Let a checked login (token t) in; session (or NULL) is taken over in any
 * case.
 */
int hub_auth__admit(struct hub *h, struct mosquitto *client, const char *id,
    const char *user, const struct mob_kr_entry *e, const struct mob_token *t,
    const uint8_t tokhash[32], struct mob_key *session);

/* ====================================================================
 * session.c: MOSQ_EVT_EXT_AUTH_START, the hardened session handshake
 * ==================================================================== */
int hub_session__start(int event, void *event_data, void *userdata);

/* ====================================================================
 * acl.c: MOSQ_EVT_ACL_CHECK, the topic rules
 * ==================================================================== */
int hub_acl__check(int event, void *event_data, void *userdata);

/* ====================================================================
 * message.c: MOSQ_EVT_MESSAGE, every envelope verified before fan-out
 * ==================================================================== */
int hub_message__init(struct hub *h);
int hub_message__verify(int event, void *event_data, void *userdata);

/* ====================================================================
 * keys.c: key bundles on mob/key/HID/SID
 * ==================================================================== */
void hub_keys__send(struct hub *h, const char *client_id);
void hub_keys__resend_all(struct hub *h);

/* ====================================================================
 * state.c: presence, counters, watchdog (MOSQ_EVT_DISCONNECT, _TICK)
 * ==================================================================== */
void hub_state__online(struct hub *h, const char *id);
void hub_state__offline(struct hub *h, const char *id, const char *reason);
void hub_state__hub_start(struct hub *h);
void hub_state__stats(struct hub *h);
/* The outcome of the last (re)load into o.status (mobius-keytool reload). */
void hub_state__status(struct hub *h);
int hub_state__disconnect(int event, void *event_data, void *userdata);
int hub_state__tick(int event, void *event_data, void *userdata);
/* Sign dat_json for topic with the hub key and publish (retained or to one client). */
int hub_state__publish(struct hub *h, const char *client_id, const char *topic,
    const char *dat_json, int retain);

/* ====================================================================
 * opts.c: the plugin_opt_ options (also linked into mobius-hub)
 * ==================================================================== */
int hub_opts__parse(struct hub_opts *o, struct mosquitto_opt *opts, int n,
    char *err, size_t errlen);

/* ====================================================================
 * plugin.c: entry points, keys and reload
 * ==================================================================== */
/* (Re)load keyring and hub key; on any error keep what was loaded before. */
int hub_plugin__load_keys(struct hub *h, char *err, size_t errlen);
void hub_plugin__free(struct hub *h);

#endif
