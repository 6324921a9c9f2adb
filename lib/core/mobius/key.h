/*
 * Keys: an HS256 secret (32..64 bytes) or an Ed25519 key (public, or a
 * private key that can also sign).  HMAC through OpenSSL 3, Ed25519 and
 * X25519 through libsodium.  Opaque; mob_key_free() cleanses secret
 * material and accepts NULL.  A key is used by one thread at a time (an
 * HS256 key keeps its keyed HMAC context).
 *
 * Compat mode's PSKs are never used as they are: a PSK derives a login key
 * (MQTT password tokens) and a message key (envelopes), mob_key_for(), so
 * holding another service's message key (the key bundle hands them out)
 * does not let anyone log in as that service (docs/protocol.md "Keys").
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

/* What an HS256 key is for.  A PSK derives the other two. */
enum mob_key_use {
	MOB_USE_PSK = 0,	/* a service's pre-shared key (compat) */
	MOB_USE_LOGIN,		/* HKDF(PSK, MOB_LABEL_LOGIN): tokens */
	MOB_USE_MESSAGE,	/* HKDF(PSK, MOB_LABEL_MESSAGE) or a session key */
};

#define MOB_LABEL_LOGIN		"mobius/1 login"
#define MOB_LABEL_MESSAGE	"mobius/1 message"

struct mob_key;

/* libsodium and OpenSSL's HMAC ready; every constructor calls it. */
int mob_crypto_init(void);

/* "HS256" / "EdDSA"; NULL for MOB_ALG_INVALID. */
const char *mob_alg_name(enum mob_alg alg);
/* Exact, case-sensitive; "none" gives MOB_EALGNONE, others MOB_EALGUNKNOWN. */
int mob_alg_parse(const char *s, enum mob_alg *out);

int mob_key_generate(enum mob_alg alg, struct mob_key **out);
int mob_key_from_secret(const uint8_t *sec, size_t len, struct mob_key **out);
/* An HS256 key for one use only (a distributed message key, a session key). */
int mob_key_from_secret_use(const uint8_t *sec, size_t len,
    enum mob_key_use use, struct mob_key **out);
int mob_key_from_ed25519_public(const uint8_t *pub, size_t len, struct mob_key **out);
int mob_key_from_ed25519_private(const uint8_t *priv, size_t len, struct mob_key **out);
void mob_key_free(struct mob_key *key);
/* An independent copy (Ed25519 keys share the immutable EVP_PKEY). */
int mob_key_dup(const struct mob_key *key, struct mob_key **out);

enum mob_alg mob_key_alg(const struct mob_key *key);
enum mob_key_use mob_key_use(const struct mob_key *key);
/*
 * The key that does use: an Ed25519 key itself; an HS256 key of that use
 * itself; a PSK the key it derives (HKDF-SHA256, ikm = the PSK, no salt,
 * info = the label; 32 bytes), made on first use and kept with the PSK.
 * NULL when key cannot (a message key asked for a login key).
 */
const struct mob_key *mob_key_for(const struct mob_key *key,
    enum mob_key_use use);

/* HKDF-SHA256 (RFC 5869) extract-and-expand; salt may be NULL (empty). */
int mob_hkdf(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
    size_t saltlen, const char *info, uint8_t *out, size_t outlen);
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
