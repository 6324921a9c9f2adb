/*
 * Keys: an HS256 secret (32..64 bytes) or an Ed25519 key (public, or a
 * private key that can also sign).  OpenSSL 3 EVP underneath.  Opaque;
 * mob_key_free() cleanses secret material and accepts NULL.
 */
#ifndef MOBIUS_KEY_H
#define MOBIUS_KEY_H

#include <stddef.h>
#include <stdint.h>

enum mob_alg {
	MOB_ALG_INVALID = 0,
	MOB_ALG_HS256 = 1,	/* compat mode: pre-shared key */
	MOB_ALG_EDDSA = 2,	/* hardened mode: Ed25519 */
};

#define MOB_HS256_KEYLEN	32	/* bytes generated for new PSKs */
#define MOB_HS256_MINLEN	32
#define MOB_HS256_MAXLEN	64
#define MOB_ED25519_LEN		32	/* raw public or private key */
#define MOB_SIG_MAX		64	/* HS256: 32, Ed25519: 64 */

struct mob_key;

/* "HS256" / "EdDSA"; NULL for MOB_ALG_INVALID. */
const char *mob_alg_name(enum mob_alg alg);
/* Exact, case-sensitive; "none" gives MOB_EALGNONE, others MOB_EALGUNKNOWN. */
int mob_alg_parse(const char *s, enum mob_alg *out);

int mob_key_generate(enum mob_alg alg, struct mob_key **out);
int mob_key_from_secret(const uint8_t *sec, size_t len, struct mob_key **out);
int mob_key_from_ed25519_public(const uint8_t *pub, size_t len, struct mob_key **out);
int mob_key_from_ed25519_private(const uint8_t *priv, size_t len, struct mob_key **out);
void mob_key_free(struct mob_key *key);
/* An independent copy (Ed25519 keys share the immutable EVP_PKEY). */
int mob_key_dup(const struct mob_key *key, struct mob_key **out);

enum mob_alg mob_key_alg(const struct mob_key *key);
/* 1 if the key can sign (HS256 secret or Ed25519 private). */
int mob_key_can_sign(const struct mob_key *key);
/* Ed25519 only: a new key holding just the public half. */
int mob_key_public(const struct mob_key *key, struct mob_key **out);
/*
 * Raw bytes: the secret (HS256), the private seed (Ed25519, secret=1)
 * or the public key (Ed25519, secret=0).  Returns length or error.
 */
int mob_key_raw(const struct mob_key *key, int secret, uint8_t *out, size_t outsz);

/* Sign / verify raw bytes.  Verify compares in constant time. */
int mob_key_sign(const struct mob_key *key, const uint8_t *msg, size_t len,
    uint8_t *sig, size_t sigsz, size_t *siglen);
int mob_key_verify(const struct mob_key *key, const uint8_t *msg, size_t len,
    const uint8_t *sig, size_t siglen);

#endif
