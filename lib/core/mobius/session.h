/*
 * Session keys for hardened mode (docs/protocol.md "Handshake"): identity
 * by Ed25519 once per connection, traffic by a symmetric key.
 *
 * One round trip inside the MQTT 5 connect (enhanced authentication,
 * method MOB_AUTH_METHOD):
 *
 *   CONNECT  auth data = login token (mobius/token.h) signed with the
 *            service's Ed25519 key, carrying its ephemeral X25519 key epk_c
 *   CONNACK  auth data = answer: a JWS signed with the hub's Ed25519 key,
 *            header {"alg":"EdDSA","kid":"HID/000"}, claims
 *            {"iss":"HID/000","aud":"HID/SID","epk":epk_h,
 *             "th":b64url(SHA-256(login token))}
 *
 * Both ephemeral keys are bound to a static identity by a signature, the
 * answer to this very login by th.  Then on both sides
 *
 *   dh  = X25519(own ephemeral secret, peer's epk)   (all-zero refused)
 *   TH  = SHA-256(login token || 0x00 || answer)     (both as sent)
 *   key = HKDF-SHA256(ikm = dh, salt = TH, info = MOB_LABEL_SESSION, 32)
 *
 * and the service MACs every envelope with key (HS256, kid its HID/SID);
 * the hub verifies with that connection's key.  The ephemeral secrets are
 * wiped at once (forward secrecy); the key lives as long as the connection.
 */
#ifndef MOBIUS_SESSION_H
#define MOBIUS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "mobius/key.h"
#include "mobius/token.h"

#define MOB_AUTH_METHOD		"mobius-x25519-v1"
#define MOB_LABEL_SESSION	"mobius/1 session c2h"
#define MOB_SESSION_KEYLEN	32
#define MOB_ANSWER_MAX		512	/* an answer is ~250 bytes */
/*
 * Rekeying (docs/protocol.md): a client reconnects for a new session key
 * after MOB_SESSION_MAX_MS or MOB_SESSION_MAX_MSGS messages, whichever
 * comes first; the hub refuses a session older than MOB_SESSION_MAX_MS +
 * MOB_SESSION_GRACE_MS and disconnects it.
 */
#define MOB_SESSION_MAX_MS	(24 * 3600 * 1000LL)
#define MOB_SESSION_MAX_MSGS	((uint64_t)1 << 32)
#define MOB_SESSION_GRACE_MS	(3600 * 1000LL)

/* A fresh ephemeral key pair (sk random, pk = X25519 base point * sk). */
int mob_x25519_keypair(uint8_t sk[MOB_X25519_LEN], uint8_t pk[MOB_X25519_LEN]);
/* pk for a given sk (test vectors). */
int mob_x25519_public(const uint8_t sk[MOB_X25519_LEN],
    uint8_t pk[MOB_X25519_LEN]);

/* The key schedule above, raw: key from dh and the transcript. */
int mob_session_schedule(const uint8_t dh[MOB_X25519_LEN], const char *login,
    size_t loginlen, const char *answer, size_t answerlen,
    uint8_t key[MOB_SESSION_KEYLEN]);

/*
 * Hub side, after the login token verified (its epk in client_epk):
 * answer with hub_esk (wiped by the caller) and derive the session key,
 * an HS256 key of use MOB_USE_MESSAGE.  *answer is NUL-terminated, free().
 */
int mob_session_accept(const struct mob_key *hub_key, const char *hub_id,
    const char *client_id, const char *login, size_t loginlen,
    const uint8_t client_epk[MOB_X25519_LEN],
    const uint8_t hub_esk[MOB_X25519_LEN], char **answer, size_t *answerlen,
    struct mob_key **session);

/*
 * Client side: check the answer (signature by the pinned hub_key first,
 * then iss, aud == client_id, th == the login it sent) and derive the
 * session key with its ephemeral secret client_esk.
 */
int mob_session_finish(const struct mob_key *hub_key, const char *hub_id,
    const char *client_id, const char *login, size_t loginlen,
    const uint8_t client_esk[MOB_X25519_LEN], const char *answer,
    size_t answerlen, struct mob_key **session);

#endif
