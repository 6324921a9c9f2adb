/*
 * Keys for HS256 (HMAC-SHA256) and EdDSA (Ed25519) through OpenSSL 3 EVP.
 *
 * HMAC is the hot path (the hub verifies every message), so the EVP_MAC is
 * fetched once per process and each HS256 key keeps a keyed EVP_MAC_CTX
 * template; an operation duplicates the template instead of fetching and
 * re-keying.  Ed25519 keys keep their EVP_PKEY.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "mobius/err.h"
#include "mobius/key.h"

#define HS256_SIGLEN	32
#define ED25519_SIGLEN	64

struct mob_key {
	enum mob_alg alg;
	int can_sign;
	uint8_t secret[MOB_HS256_MAXLEN];	/* HS256 only */
	size_t secret_len;
	EVP_MAC_CTX *mac;			/* HS256: keyed template */
	EVP_PKEY *pkey;				/* EdDSA */
};

static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void
hmac_fetch(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
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
	EVP_PKEY_free(key->pkey);
	OPENSSL_cleanse(key, sizeof(*key));
	free(key);
}

int
mob_key_from_secret(const uint8_t *sec, size_t len, struct mob_key **out)
{
	struct mob_key *k = NULL;
	OSSL_PARAM params[2];
	int r = MOB_ECRYPTO;

	*out = NULL;
	if (sec == NULL || len < MOB_HS256_MINLEN || len > MOB_HS256_MAXLEN)
		return MOB_EINVAL;
	if (pthread_once(&hmac_once, hmac_fetch) != 0 || hmac_alg == NULL)
		return MOB_ECRYPTO;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return MOB_ENOMEM;
	k->alg = MOB_ALG_HS256;
	k->can_sign = 1;
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
key_from_pkey(EVP_PKEY *pkey, int can_sign, struct mob_key **out)
{
	struct mob_key *k;

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pkey);
		return MOB_ENOMEM;
	}
	k->alg = MOB_ALG_EDDSA;
	k->can_sign = can_sign;
	k->pkey = pkey;
	*out = k;
	return 0;
}

int
mob_key_from_ed25519_public(const uint8_t *pub, size_t len, struct mob_key **out)
{
	EVP_PKEY *pkey;

	*out = NULL;
	if (pub == NULL || len != MOB_ED25519_LEN)
		return MOB_EINVAL;
	if ((pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    len)) == NULL)
		return MOB_ECRYPTO;
	return key_from_pkey(pkey, 0, out);
}

int
mob_key_from_ed25519_private(const uint8_t *priv, size_t len, struct mob_key **out)
{
	EVP_PKEY *pkey;

	*out = NULL;
	if (priv == NULL || len != MOB_ED25519_LEN)
		return MOB_EINVAL;
	if ((pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv,
	    len)) == NULL)
		return MOB_ECRYPTO;
	return key_from_pkey(pkey, 1, out);
}

int
mob_key_generate(enum mob_alg alg, struct mob_key **out)
{
	uint8_t sec[MOB_HS256_KEYLEN];
	EVP_PKEY *pkey;
	int r;

	*out = NULL;
	switch (alg) {
	case MOB_ALG_HS256:
		if (RAND_priv_bytes(sec, sizeof(sec)) != 1)
			return MOB_ECRYPTO;
		r = mob_key_from_secret(sec, sizeof(sec), out);
		OPENSSL_cleanse(sec, sizeof(sec));
		return r;
	case MOB_ALG_EDDSA:
		if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
			return MOB_ECRYPTO;
		return key_from_pkey(pkey, 1, out);
	default:
		return MOB_EINVAL;
	}
}

int
mob_key_dup(const struct mob_key *key, struct mob_key **out)
{
	*out = NULL;
	if (key == NULL)
		return MOB_EINVAL;
	switch (key->alg) {
	case MOB_ALG_HS256:
		return mob_key_from_secret(key->secret, key->secret_len, out);
	case MOB_ALG_EDDSA:
		if (EVP_PKEY_up_ref(key->pkey) != 1)
			return MOB_ECRYPTO;
		return key_from_pkey(key->pkey, key->can_sign, out);
	default:
		return MOB_EINVAL;
	}
}

enum mob_alg
mob_key_alg(const struct mob_key *key)
{
	return key == NULL ? MOB_ALG_INVALID : key->alg;
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
	size_t len = outsz;

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
		if (secret) {
			if (!key->can_sign)
				return MOB_EINVAL;
			if (EVP_PKEY_get_raw_private_key(key->pkey, out, &len) != 1)
				return MOB_ECRYPTO;
		} else if (EVP_PKEY_get_raw_public_key(key->pkey, out, &len) != 1)
			return MOB_ECRYPTO;
		return (int)len;
	default:
		return MOB_EINVAL;
	}
}

static int
hmac_compute(const struct mob_key *key, const uint8_t *msg, size_t len,
    uint8_t mac[HS256_SIGLEN])
{
	EVP_MAC_CTX *ctx;
	size_t maclen = 0;
	int r = MOB_ECRYPTO;

	if ((ctx = EVP_MAC_CTX_dup(key->mac)) == NULL)
		return MOB_ECRYPTO;
	if (EVP_MAC_update(ctx, msg, len) == 1 &&
	    EVP_MAC_final(ctx, mac, &maclen, HS256_SIGLEN) == 1 &&
	    maclen == HS256_SIGLEN)
		r = 0;
	EVP_MAC_CTX_free(ctx);
	return r;
}

int
mob_key_sign(const struct mob_key *key, const uint8_t *msg, size_t len,
    uint8_t *sig, size_t sigsz, size_t *siglen)
{
	EVP_MD_CTX *md;
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
		if ((md = EVP_MD_CTX_new()) == NULL)
			return MOB_ENOMEM;
		n = sigsz;
		r = EVP_DigestSignInit(md, NULL, NULL, NULL, key->pkey) == 1 &&
		    EVP_DigestSign(md, sig, &n, msg, len) == 1 &&
		    n == ED25519_SIGLEN ? 0 : MOB_ECRYPTO;
		EVP_MD_CTX_free(md);
		if (r != 0)
			return r;
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
	EVP_MD_CTX *md;
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
		if ((md = EVP_MD_CTX_new()) == NULL)
			return MOB_ENOMEM;
		if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, key->pkey) != 1)
			r = MOB_ECRYPTO;
		else if (EVP_DigestVerify(md, sig, siglen, msg, len) == 1)
			r = 0;
		else {
			/* a bad signature is routine: keep the error queue empty */
			ERR_clear_error();
			r = MOB_EBADSIG;
		}
		EVP_MD_CTX_free(md);
		return r;
	default:
		return MOB_EINVAL;
	}
}
