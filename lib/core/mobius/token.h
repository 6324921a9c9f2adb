/*
 * Login tokens (docs/protocol.md "Login"): a JWS signed with the service's
 * key (Ed25519, or a compat PSK's login key), header {"alg","kid":"HID/SID"},
 * claims {"iss":"HID/SID","sub":"SPID/SID","iat":unix_ms,
 * "nonce":"<22 b64url>"} and, in the hardened handshake, "epk": the
 * client's ephemeral X25519 public key (43 b64url), which the signature
 * binds to the service's identity.  The MQTT password of a plain login,
 * or the authentication data of an MQTT 5 CONNECT (mobius/session.h).
 */
#ifndef MOBIUS_TOKEN_H
#define MOBIUS_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "mobius/envelope.h"

#define MOB_TOKEN_NONCE_LEN	16	/* random bytes, 22 base64url characters */
/*
 * lib/rt/client.c starts every login nonce with the same MOB_INSTANCE_LEN
 * random bytes per process (the rest fresh each time), the first
 * MOB_INSTANCE_B64 characters of the nonce: the hub tells by them a
 * process that another one replaced from the same one logging in again.
 */
#define MOB_INSTANCE_LEN	6
#define MOB_INSTANCE_B64	8
#define MOB_X25519_LEN		32

/* Mint a token for identity id ("HID/SID") and username sub ("SPID/SID"). */
int mob_token_mint(const struct mob_key *key, const char *id, const char *sub,
    int64_t now_ms, char **out);
/* The same with the nonce given and an "epk" claim when epk is not NULL. */
int mob_token_mint_ex(const struct mob_key *key, const char *id,
    const char *sub, int64_t now_ms, const uint8_t nonce[MOB_TOKEN_NONCE_LEN],
    const uint8_t *epk, char **out);

struct mob_token {
	char iss[16];
	char sub[16];
	char nonce[64];
	int64_t iat;
	int has_epk;
	uint8_t epk[MOB_X25519_LEN];
};

/*
 * Verify: parse, key lookup by kid, signature, iss == kid, iss == client_id
 * (if not NULL), sub == username (if not NULL), iat within window_ms.
 * Nonce single-use is checked by mob_nonce_check() after this succeeds.
 */
int mob_token_verify(const char *tok, size_t len, mob_key_lookup_fn lookup,
    void *ctx, const char *client_id, const char *username, int64_t window_ms,
    int64_t now_ms, struct mob_token *out);

/*
 * Bounded set of nonces seen within the validity window, shared by every
 * identity: one identity holds at most capacity / 8 of it (at least 1).
 */
struct mob_nonce_cache;
int mob_nonce_cache_new(size_t capacity, int64_t window_ms, struct mob_nonce_cache **out);
void mob_nonce_cache_free(struct mob_nonce_cache *c);
/*
 * 0 and remembers nonce, spent by identity id, until iat + window;
 * MOB_EREPLAY if already seen; MOB_ENOMEM if id holds its share of live
 * nonces or the table is full of live ones (fail closed).
 */
int mob_nonce_check(struct mob_nonce_cache *c, const char *id,
    const char *nonce, int64_t iat, int64_t now_ms);

#endif
