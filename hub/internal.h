/*
 * The hub plugin (docs/hub.md): one mosquitto 2.0 plugin (API v5) that
 * authenticates services with tokens (auth.c), enforces the topic rules
 * (acl.c), verifies every message before fan-out (message.c), hands out
 * keys (keys.c) and publishes presence and counters (state.c).
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
	int64_t window_ms;		/* token and envelope iat window */
	size_t max_message;		/* cap on an envelope */
	int64_t req_ttl_ms;		/* how long a request may be answered */
	size_t req_max;			/* pending requests remembered */
	size_t nonce_max;		/* login nonces remembered */
	size_t backoff_max;		/* addresses with failed logins */
	int64_t backoff_base_ms;	/* first delay after a failure */
	int64_t backoff_cap_ms;		/* delay never above this */
	int64_t stats_ms;		/* counters publication period */
	char router_sid[4];
	int remote_req;			/* services may send req to other nodes */
	struct hub_writers writers[HUB_WRITERS_MAX];
	size_t nwriters;
};

struct hub_stats {
	uint64_t logins_ok;
	uint64_t logins_failed;
	uint64_t backoff;		/* refused while backing off */
	uint64_t login_reason[HUB_NREASONS];	/* index -MOB_E* */
	uint64_t verified;
	uint64_t dropped;
	uint64_t drop_reason[HUB_NREASONS];
	uint64_t acl_publish;		/* publishes refused by the ACL */
	uint64_t acl_subscribe;		/* subscriptions refused */
	uint64_t keys_sent;
	uint64_t kicked;
};

/* A bounded hash table of string keys with optional expiry (table.c). */
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

/* A connected, authenticated client. */
struct hub_client {
	struct mosquitto *mosq;		/* broker-owned: compared, never freed */
	uint8_t pwhash[32];		/* SHA-256 of its login token */
	struct mob_key *key;		/* the key it logged in with (copy) */
	int keysub;			/* subscribed to its mob/key topic */
};

struct hub {
	void *pid;			/* mosquitto_plugin_id_t */
	struct hub_opts o;
	struct mob_keyring *kr;
	struct mob_key *key;		/* the hub's signing key */
	struct mob_signer *signer;
	struct mob_verifier *verifier;
	struct mob_nonce_cache *nonces;
	struct htab *clients;		/* client id -> struct hub_client */
	struct htab *backoff;		/* address|id -> struct hub_backoff */
	struct htab *reqs;		/* requester|reqid -> target id */
	struct hub_stats st;
	int64_t next_stats;
	int64_t log_second;		/* hub_log_event budget: this second */
	unsigned log_budget;
	uint64_t log_suppressed;
};

/* plugin.c */
int hub_load_keys(struct hub *h, char *err, size_t errlen);
int hub_opts_parse(struct hub_opts *o, struct mosquitto_opt *opts, int n,
    char *err, size_t errlen);
void hub_free(struct hub *h);
const char *hub_safe(const char *s, char *buf, size_t len);
/*
 * A warning about a client's doing (refused login, dropped message, ACL
 * refusal): at most HUB_LOG_PER_S a second, so a misbehaving client cannot
 * flood the journal; the tick reports how many were suppressed.
 */
#define HUB_LOG_PER_S	50
void hub_log_event(struct hub *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void hub_log_flush(struct hub *h);
/*
 * idx-th usable entry of a service (the router is one) for login and
 * message checks: active, then grace; the node's algorithm only.
 */
const struct mob_kr_entry *hub_entry(const struct hub *h, const char *id,
    size_t idx);
/* mob_key_lookup_fn over hub_entry; ctx is the struct hub. */
const struct mob_key *hub_lookup(void *ctx, const char *kid, size_t idx);
int hub_is_local(const struct hub *h, const char *id);
int hub_is_router(const struct hub *h, const char *id);
int hub_client_valid(struct hub *h, const char *id, const struct hub_client *c);

/* auth.c */
int hub_auth_basic(int event, void *event_data, void *userdata);
int hub_auth_init(struct hub *h);

/* acl.c */
/* May requester send op to target (write policy)?  1 or 0. */
int hub_req_allowed(const struct hub *h, const char *requester,
    const char *target, const char *op);
int hub_acl_check(int event, void *event_data, void *userdata);
/* Remember that requester asked target (a verified req carrying reqid). */
int hub_req_note(struct hub *h, const char *requester, const char *reqid,
    const char *target, int64_t now);
/* Forget an answered request. */
void hub_req_done(struct hub *h, const char *requester, const char *reqid);

/* message.c */
int hub_on_message(int event, void *event_data, void *userdata);
int hub_verifier_init(struct hub *h);

/* keys.c */
void hub_keys_send(struct hub *h, const char *client_id);
void hub_keys_resend_all(struct hub *h);

/* state.c */
void hub_state_online(struct hub *h, const char *id);
void hub_state_offline(struct hub *h, const char *id, const char *reason);
void hub_state_hub_start(struct hub *h);
void hub_stats_publish(struct hub *h);
int hub_on_disconnect(int event, void *event_data, void *userdata);
int hub_on_tick(int event, void *event_data, void *userdata);
/* Sign dat_json for topic with the hub key and publish (retained or to one client). */
int hub_publish(struct hub *h, const char *client_id, const char *topic,
    const char *dat_json, int retain);

#endif
