/*
 * Keys for HS256 (HMAC-SHA256, OpenSSL 3) and EdDSA (Ed25519, libsodium).
 *
 * HMAC is the hot path (the hub verifies every message), so the EVP_MAC is
 * fetched once per process and each HS256 key keeps one keyed EVP_MAC_CTX
 * that every operation re-initialises (EVP_MAC_init with no key restarts
 * HMAC with the key it holds): 3.1 M/s for 64 bytes here, against 1.3 M/s
 * when each operation duplicated a template (EVP_MAC_CTX_dup).  That makes
 * an HS256 key single-threaded, as everything that uses one already is
 * (the hub's main thread, a service's event loop).
 *
 * Ed25519 through libsodium signs 2.4x and verifies 2.2x as fast as
 * OpenSSL 3.0's EVP on this class of CPU (docs/protocol.md), and its
 * verification rejects non-canonical signatures and small-order keys.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "mobius/err.h"
#include "mobius/key.h"

#define HS256_SIGLEN	32
#define ED25519_SIGLEN	64

struct mob_key {
	enum mob_alg alg;
	int can_sign;
	uint8_t secret[MOB_HS256_MAXLEN];	/* HS256 only */
	size_t secret_len;
	EVP_MAC_CTX *mac;			/* HS256: keyed, re-initialised */
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];	/* EdDSA */
	uint8_t sk[crypto_sign_SECRETKEYBYTES];	/* EdDSA, can_sign only */
	enum mob_key_use use;			/* HS256 */
	struct mob_key *sub[2];			/* PSK: login, message keys */
};

static EVP_MAC *hmac_alg;
static int sodium_ok;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void
lib_init(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	sodium_ok = sodium_init() >= 0;
}

int
mob_crypto_init(void)
{
	if (pthread_once(&lib_once, lib_init) != 0 || hmac_alg == NULL ||
	    !sodium_ok)
		return MOB_ECRYPTO;
	return 0;
}

const char *
mob_alg_name(enum mob_alg alg)
{
	switch (alg) {
	case MOB_ALG_HS256:
		return "HS256";
	case MOB_ALG_EDDSA:
		return "EdDSA";
	default:
		return NULL;
	}
}

int
mob_alg_parse(const char *s, enum mob_alg *out)
{
	*out = MOB_ALG_INVALID;
	if (s == NULL)
		return MOB_EALGUNKNOWN;
	if (strcmp(s, "HS256") == 0)
		*out = MOB_ALG_HS256;
	else if (strcmp(s, "EdDSA") == 0)
		*out = MOB_ALG_EDDSA;
	else if (strcmp(s, "none") == 0)
		return MOB_EALGNONE;
	else
		return MOB_EALGUNKNOWN;
	return 0;
}

void
mob_key_free(struct mob_key *key)
{
	if (key == NULL)
		return;
	EVP_MAC_CTX_free(key->mac);
	mob_key_free(key->sub[0]);
	mob_key_free(key->sub[1]);
	OPENSSL_cleanse(key, sizeof(*key));
	free(key);
}

int
mob_key_from_secret(const uint8_t *sec, size_t len, struct mob_key **out)
{
	return mob_key_from_secret_use(sec, len, MOB_USE_PSK, out);
}

int
mob_key_from_secret_use(const uint8_t *sec, size_t len, enum mob_key_use use,
    struct mob_key **out)
{
	struct mob_key *k = NULL;
	OSSL_PARAM params[2];
	int r;

	*out = NULL;
	if (sec == NULL || len < MOB_HS256_MINLEN || len > MOB_HS256_MAXLEN)
		return MOB_EINVAL;
	if ((r = mob_crypto_init()) != 0)
		return r;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return MOB_ENOMEM;
	r = MOB_ECRYPTO;
	k->alg = MOB_ALG_HS256;
	k->can_sign = 1;
	k->use = use;
	memcpy(k->secret, sec, len);
	k->secret_len = len;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((k->mac = EVP_MAC_CTX_new(hmac_alg)) == NULL ||
	    EVP_MAC_init(k->mac, k->secret, k->secret_len, params) != 1)
		goto out;
	*out = k;
	k = NULL;
	r = 0;
 out:
	mob_key_free(k);
	return r;
}

static int
key_ed25519(const uint8_t pk[MOB_ED25519_LEN], const uint8_t *seed,
    struct mob_key **out)
{
	struct mob_key *k;
	int r;

	if ((r = mob_crypto_init()) != 0)
		return r;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return MOB_ENOMEM;
	k->alg = MOB_ALG_EDDSA;
	if (seed != NULL) {
		k->can_sign = 1;
		if (crypto_sign_seed_keypair(k->pk, k->sk, seed) != 0) {
			mob_key_free(k);
			return MOB_ECRYPTO;
		}
	} else
		memcpy(k->pk, pk, sizeof(k->pk));
	*out = k;
	return 0;
}

int
mob_key_from_ed25519_public(const uint8_t *pub, size_t len, struct mob_key **out)
{
	*out = NULL;
	if (pub == NULL || len != MOB_ED25519_LEN)
		return MOB_EINVAL;
	return key_ed25519(pub, NULL, out);
}

int
mob_key_from_ed25519_private(const uint8_t *priv, size_t len, struct mob_key **out)
{
	*out = NULL;
	if (priv == NULL || len != MOB_ED25519_LEN)
		return MOB_EINVAL;
	return key_ed25519(NULL, priv, out);
}

int
mob_key_generate(enum mob_alg alg, struct mob_key **out)
{
	uint8_t sec[MOB_HS256_KEYLEN];
	int r;

	*out = NULL;
	if ((r = mob_crypto_init()) != 0)
		return r;
	switch (alg) {
	case MOB_ALG_HS256:
		if (RAND_priv_bytes(sec, sizeof(sec)) != 1)
			return MOB_ECRYPTO;
		r = mob_key_from_secret(sec, sizeof(sec), out);
		break;
	case MOB_ALG_EDDSA:
		randombytes_buf(sec, sizeof(sec));
		r = key_ed25519(NULL, sec, out);
		break;
	default:
		return MOB_EINVAL;
	}
	OPENSSL_cleanse(sec, sizeof(sec));
	return r;
}

int
mob_key_dup(const struct mob_key *key, struct mob_key **out)
{
	*out = NULL;
	if (key == NULL)
		return MOB_EINVAL;
	switch (key->alg) {
	case MOB_ALG_HS256:
		return mob_key_from_secret_use(key->secret, key->secret_len,
		    key->use, out);
	case MOB_ALG_EDDSA:
		/* the seed is the first half of libsodium's secret key */
		return key_ed25519(key->pk, key->can_sign ? key->sk : NULL, out);
	default:
		return MOB_EINVAL;
	}
}

enum mob_alg
mob_key_alg(const struct mob_key *key)
{
	return key == NULL ? MOB_ALG_INVALID : key->alg;
}

enum mob_key_use
mob_key_use(const struct mob_key *key)
{
	return key == NULL ? MOB_USE_PSK : key->use;
}

int
mob_hkdf(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
    size_t saltlen, const char *info, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM p[5], *q = p;
	int r = MOB_ECRYPTO;

	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
		return MOB_ECRYPTO;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)ikm, ikmlen);
	if (salt != NULL && saltlen > 0)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)salt, saltlen);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, strlen(info));
	*q = OSSL_PARAM_construct_end();
	if ((kctx = EVP_KDF_CTX_new(kdf)) != NULL &&
	    EVP_KDF_derive(kctx, out, outlen, p) == 1)
		r = 0;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}

const struct mob_key *
mob_key_for(const struct mob_key *key, enum mob_key_use use)
{
	static const char *const label[2] = { MOB_LABEL_LOGIN,
	    MOB_LABEL_MESSAGE };
	struct mob_key *k = (struct mob_key *)key;	/* caches the subkey */
	uint8_t sec[MOB_HS256_KEYLEN];
	int i;

	if (key == NULL || key->alg == MOB_ALG_EDDSA)
		return key;
	if (key->alg != MOB_ALG_HS256 || use == MOB_USE_PSK)
		return NULL;
	if (key->use == use)
		return key;
	if (key->use != MOB_USE_PSK)
		return NULL;
	i = use == MOB_USE_LOGIN ? 0 : 1;
	if (k->sub[i] == NULL) {
		if (mob_hkdf(key->secret, key->secret_len, NULL, 0, label[i],
		    sec, sizeof(sec)) == 0)
			mob_key_from_secret_use(sec, sizeof(sec), use, &k->sub[i]);
		OPENSSL_cleanse(sec, sizeof(sec));
	}
	return k->sub[i];
}

int
mob_key_can_sign(const struct mob_key *key)
{
	return key != NULL && key->can_sign;
}

int
mob_key_public(const struct mob_key *key, struct mob_key **out)
{
	uint8_t pub[MOB_ED25519_LEN];
	int r;

	*out = NULL;
	if (key == NULL || key->alg != MOB_ALG_EDDSA)
		return MOB_EINVAL;
	if ((r = mob_key_raw(key, 0, pub, sizeof(pub))) < 0)
		return r;
	return mob_key_from_ed25519_public(pub, sizeof(pub), out);
}

int
mob_key_raw(const struct mob_key *key, int secret, uint8_t *out, size_t outsz)
{
	if (key == NULL || out == NULL)
		return MOB_EINVAL;
	switch (key->alg) {
	case MOB_ALG_HS256:
		if (!secret)
			return MOB_EINVAL;
		if (outsz < key->secret_len)
			return MOB_ETOOLONG;
		memcpy(out, key->secret, key->secret_len);
		return (int)key->secret_len;
	case MOB_ALG_EDDSA:
		if (outsz < MOB_ED25519_LEN)
			return MOB_ETOOLONG;
		if (secret && !key->can_sign)
			return MOB_EINVAL;
		memcpy(out, secret ? key->sk : key->pk, MOB_ED25519_LEN);
		return MOB_ED25519_LEN;
	default:
		return MOB_EINVAL;
	}
}

static int
hmac_compute(const struct mob_key *key, const uint8_t *msg, size_t len,
    uint8_t mac[HS256_SIGLEN])
{
	size_t maclen = 0;

	/* NULL key: restart with the key the context holds */
	if (EVP_MAC_init(key->mac, NULL, 0, NULL) == 1 &&
	    EVP_MAC_update(key->mac, msg, len) == 1 &&
	    EVP_MAC_final(key->mac, mac, &maclen, HS256_SIGLEN) == 1 &&
	    maclen == HS256_SIGLEN)
		return 0;
	return MOB_ECRYPTO;
}

int
mob_key_sign(const struct mob_key *key, const uint8_t *msg, size_t len,
    uint8_t *sig, size_t sigsz, size_t *siglen)
{
	size_t n;
	int r;

	if (siglen != NULL)
		*siglen = 0;
	if (key == NULL || (msg == NULL && len > 0) || sig == NULL)
		return MOB_EINVAL;
	if (!key->can_sign)
		return MOB_EINVAL;
	switch (key->alg) {
	case MOB_ALG_HS256:
		if (sigsz < HS256_SIGLEN)
			return MOB_ETOOLONG;
		if ((r = hmac_compute(key, msg, len, sig)) != 0)
			return r;
		n = HS256_SIGLEN;
		break;
	case MOB_ALG_EDDSA:
		if (sigsz < ED25519_SIGLEN)
			return MOB_ETOOLONG;
		if (crypto_sign_detached(sig, NULL, msg, len, key->sk) != 0)
			return MOB_ECRYPTO;
		n = ED25519_SIGLEN;
		break;
	default:
		return MOB_EINVAL;
	}
	if (siglen != NULL)
		*siglen = n;
	return 0;
}

int
mob_key_verify(const struct mob_key *key, const uint8_t *msg, size_t len,
    const uint8_t *sig, size_t siglen)
{
	uint8_t mac[HS256_SIGLEN];
	int r;

	if (key == NULL || (msg == NULL && len > 0) || sig == NULL)
		return MOB_EINVAL;
	switch (key->alg) {
	case MOB_ALG_HS256:
		if (siglen != HS256_SIGLEN)
			return MOB_EBADSIG;
		if ((r = hmac_compute(key, msg, len, mac)) != 0)
			return r;
		r = CRYPTO_memcmp(mac, sig, HS256_SIGLEN) == 0 ? 0 : MOB_EBADSIG;
		OPENSSL_cleanse(mac, sizeof(mac));
		return r;
	case MOB_ALG_EDDSA:
		if (siglen != ED25519_SIGLEN)
			return MOB_EBADSIG;
		return crypto_sign_verify_detached(sig, msg, len, key->pk) == 0 ?
		    0 : MOB_EBADSIG;
	default:
		return MOB_EINVAL;
	}
}
