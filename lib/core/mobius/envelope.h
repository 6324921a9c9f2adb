/*
 * The message envelope (docs/protocol.md): every payload on mob/# is a JWS
 * with header {"alg","kid":"HID/SID"} and claims
 * {"iss":"HID/SID","top":TOPIC,"iat":unix_ms,"seq":u64,"dat":VALUE}.
 *
 * Verification order: size cap → parse → key lookup by kid → signature
 * (constant time) → claims (exactly iss/top/iat/seq/dat, MOB_ECLAIM) →
 * iss == kid → (expected identity) → top == topic → iat window → replay.
 * A run of a CLI key (mobius/proto.h, mob_cid_split) signs with kid
 * HID/SID/RUN and iss HID/SID: its identity's key verifies it, and its
 * replay state is its own (per kid), so runs of one key never drop each
 * other's messages as replays.
 * Freshness and replay are checked only after the signature verifies so
 * forgeries cannot poison the replay window.  iat and seq are JSON numbers
 * (doubles in cJSON): integers 0..2^53, exact.  A verifier is not
 * thread-safe.  docs/protocol.md has the details and every error code.
 */
#ifndef MOBIUS_ENVELOPE_H
#define MOBIUS_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "mobius/clock.h"
#include "mobius/key.h"
#include "mobius/uri.h"

struct cJSON;

#define MOB_WINDOW_MS_DEFAULT	10000
#define MOB_REPLAY_WINDOW	64	/* seqs below the highest still accepted once */
#define MOB_REPLAY_SENDERS_DEFAULT 4096	/* senders with replay state per verifier */

/* --- signing ---------------------------------------------------------- */

struct mob_signer;

/*
 * key is copied (reference kept valid by the signer); seq starts at now µs.
 * kid is HID/SID, or a CLI run's HID/SID/RUN (iss is then HID/SID).
 */
int mob_signer_new(const struct mob_key *key, const char *kid, struct mob_signer **out);
void mob_signer_free(struct mob_signer *s);
/*
 * Sign with key from now on (a new session key, or the identity key again
 * when the session ended); the sequence goes on rising.
 */
int mob_signer_set_key(struct mob_signer *s, const struct mob_key *key);
const char *mob_signer_kid(const struct mob_signer *s);
/* seq and iat of the last envelope signed (a publisher's own history). */
void mob_signer_last(const struct mob_signer *s, uint64_t *seq, int64_t *iat);

/*
 * Sign dat_json (the JSON text of the "dat" value; NULL means null) for
 * topic.  *out is NUL-terminated, free() it; *outlen may be NULL.
 */
int mob_env_sign(struct mob_signer *s, const char *topic, const char *dat_json,
    char **out, size_t *outlen);

/* --- verifying -------------------------------------------------------- */

/*
 * Key lookup: return the idx-th usable key for kid (idx = 0, 1, ... for a
 * key and its predecessors in rotation grace), or NULL when there are no
 * more.  Revoked keys and keys whose grace is over must not be returned.
 */
typedef const struct mob_key *(*mob_key_lookup_fn)(void *ctx, const char *kid, size_t idx);

struct mob_verifier_cfg {
	int64_t window_ms;	/* |now - iat| allowed; 0 → MOB_WINDOW_MS_DEFAULT */
	size_t max_len;		/* token cap; 0 → MOB_JWS_MAX_DEFAULT */
	/*
	 * Replay state is kept for at most this many senders (0 →
	 * MOB_REPLAY_SENDERS_DEFAULT).  When full, the sender heard from least
	 * recently is dropped and, to fail closed, a sender without state is
	 * then accepted only with an iat above that sender's last iat.
	 */
	size_t max_senders;
	/*
	 * Hardened clients: envelopes of this alg (HS256) pass without their
	 * MAC, which only the hub can check (the sender's session key is the
	 * sender's and the hub's alone, docs/security.md "Trust model").  The
	 * claims, the topic owner (mob_topic_owner) and replay are still
	 * checked.  MOB_ALG_INVALID (0): every signature is checked.
	 */
	enum mob_alg hub_verified;
};

struct mob_verifier;

int mob_verifier_new(mob_key_lookup_fn lookup, void *ctx,
    const struct mob_verifier_cfg *cfg, struct mob_verifier **out);
void mob_verifier_free(struct mob_verifier *v);
/*
 * Forget replay state of one sender (its key was revoked or rotated; what
 * it signed until then stays refused, as after an eviction) or all (NULL).
 */
void mob_verifier_forget(struct mob_verifier *v, const char *kid);

struct mob_env {
	char iss[16];
	int64_t iat;
	uint64_t seq;
	struct cJSON *claims;		/* owned; freed by mob_env_clear */
	const struct cJSON *dat;	/* points into claims; never NULL on success */
};

/*
 * Verify msg (len bytes, need not be NUL-terminated) received on topic.
 * expect_kid, when not NULL, is the kid the message must be signed with
 * (the hub passes the connection's authenticated client id).
 * now_ms is the receiver's wall clock (mob_clock_wall_ms()).
 */
int mob_env_verify(struct mob_verifier *v, const char *topic,
    const char *expect_kid, const char *msg, size_t len, int64_t now_ms,
    struct mob_env *out);
void mob_env_clear(struct mob_env *env);

/*
 * Who may speak on topic: mob/{cov,obj,svc}/HID/SID/... belong to HID/SID,
 * mob/{state,key}/HID/SID to the hub HID/000.  *owner is that HID/SID and
 * 1 is returned; 0 for topics anyone permitted may use (req, rsp: the hub
 * checks those by its ACL and the requester by the request it made);
 * MOB_EFORMAT for one of those verbs without a valid HID/SID.
 */
int mob_topic_owner(const char *topic, char owner[MOB_ID_MAX]);

/* Sliding replay window, exposed for the hub's nonce-free uses and tests. */
struct mob_replay {
	uint64_t top;		/* highest accepted seq; 0 = none yet */
	uint64_t bitmap;	/* bit i set: top - i was accepted */
};
/* 0 and records seq if fresh; MOB_EREPLAY if seen or too old. */
int mob_replay_check(struct mob_replay *r, uint64_t seq);

#endif
