/*
 * The hardened handshake and key schedule (mobius/session.h): X25519 from
 * libsodium, SHA-256 and HKDF from OpenSSL.  Nothing here keeps state; the
 * callers hold the ephemeral secrets for the one round trip and wipe them.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "internal.h"
#include "mobius/b64.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/session.h"
#include "mobius/uri.h"

#define TH_LEN	32

int
mob_x25519_public(const uint8_t sk[MOB_X25519_LEN], uint8_t pk[MOB_X25519_LEN])
{
	int r;

	if ((r = mob_crypto_init()) != 0)
		return r;
	return crypto_scalarmult_base(pk, sk) == 0 ? 0 : MOB_ECRYPTO;
}

int
mob_x25519_keypair(uint8_t sk[MOB_X25519_LEN], uint8_t pk[MOB_X25519_LEN])
{
	int r;

	if ((r = mob_crypto_init()) != 0)
		return r;
	randombytes_buf(sk, MOB_X25519_LEN);
	return mob_x25519_public(sk, pk);
}

static int
sha256(const char *s, size_t len, uint8_t out[TH_LEN])
{
	unsigned int n = TH_LEN;

	return EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) == 1 &&
	    n == TH_LEN ? 0 : MOB_ECRYPTO;
}

int
mob_session_schedule(const uint8_t dh[MOB_X25519_LEN], const char *login,
    size_t loginlen, const char *answer, size_t answerlen,
    uint8_t key[MOB_SESSION_KEYLEN])
{
	EVP_MD_CTX *md;
	uint8_t th[TH_LEN];
	unsigned int n = TH_LEN;
	int ok;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return MOB_ENOMEM;
	/* 0x00 cannot occur in either token: the split is unambiguous */
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, login, loginlen) == 1 &&
	    EVP_DigestUpdate(md, "", 1) == 1 &&
	    EVP_DigestUpdate(md, answer, answerlen) == 1 &&
	    EVP_DigestFinal_ex(md, th, &n) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return MOB_ECRYPTO;
	return mob_hkdf(dh, MOB_X25519_LEN, th, sizeof(th), MOB_LABEL_SESSION,
	    key, MOB_SESSION_KEYLEN);
}

/* dh, then the schedule, into an HS256 message key; dh is wiped. */
static int
session_key(const uint8_t esk[MOB_X25519_LEN],
    const uint8_t epk[MOB_X25519_LEN], const char *login, size_t loginlen,
    const char *answer, size_t answerlen, struct mob_key **out)
{
	uint8_t dh[MOB_X25519_LEN], key[MOB_SESSION_KEYLEN];
	int r;

	/* libsodium refuses an all-zero result (a small-order epk) */
	if (crypto_scalarmult(dh, esk, epk) != 0)
		r = MOB_ECRYPTO;
	else if ((r = mob_session_schedule(dh, login, loginlen, answer,
	    answerlen, key)) == 0)
		r = mob_key_from_secret_use(key, sizeof(key), MOB_USE_MESSAGE,
		    out);
	OPENSSL_cleanse(dh, sizeof(dh));
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

static int
add_b64(cJSON *o, const char *name, const uint8_t *raw, size_t len)
{
	char buf[MOB_B64URL_LEN(TH_LEN) + 1];
	int r;

	if ((r = mob_b64url_encode(raw, len, buf, sizeof(buf))) < 0)
		return r;
	return cJSON_AddStringToObject(o, name, buf) == NULL ? MOB_ENOMEM : 0;
}

int
mob_session_accept(const struct mob_key *hub_key, const char *hub_id,
    const char *client_id, const char *login, size_t loginlen,
    const uint8_t client_epk[MOB_X25519_LEN],
    const uint8_t hub_esk[MOB_X25519_LEN], char **answer, size_t *answerlen,
    struct mob_key **session)
{
	uint8_t epk[MOB_X25519_LEN], th[TH_LEN];
	cJSON *c = NULL;
	char *txt = NULL, *a = NULL;
	int r;

	*answer = NULL;
	*answerlen = 0;
	*session = NULL;
	if (hub_key == NULL || mob_key_alg(hub_key) != MOB_ALG_EDDSA ||
	    !mob_id_valid(hub_id) || !mob_id_valid(client_id) || login == NULL)
		return MOB_EINVAL;
	if ((r = mob_x25519_public(hub_esk, epk)) != 0 ||
	    (r = sha256(login, loginlen, th)) != 0)
		return r;
	if ((c = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(c, "iss", hub_id) == NULL ||
	    cJSON_AddStringToObject(c, "aud", client_id) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	if ((r = add_b64(c, "epk", epk, sizeof(epk))) != 0 ||
	    (r = add_b64(c, "th", th, sizeof(th))) != 0)
		goto out;
	if ((txt = mob_json_print(c)) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	if ((r = mob_jws_sign(hub_key, hub_id, txt, strlen(txt), &a)) != 0 ||
	    (r = session_key(hub_esk, client_epk, login, loginlen, a, strlen(a),
	    session)) != 0)
		goto out;
	*answerlen = strlen(a);
	*answer = a;
	a = NULL;
 out:
	free(a);
	cJSON_free(txt);
	cJSON_Delete(c);
	return r;
}

/* A claim holding exactly len bytes in base64url. */
static int
claim_b64(const cJSON *c, uint8_t *out, size_t len)
{
	size_t n;

	if (!cJSON_IsString(c) || mob_b64url_decode(c->valuestring,
	    strlen(c->valuestring), out, len, &n) != 0 || n != len)
		return MOB_ECLAIM;
	return 0;
}

int
mob_session_finish(const struct mob_key *hub_key, const char *hub_id,
    const char *client_id, const char *login, size_t loginlen,
    const uint8_t client_esk[MOB_X25519_LEN], const char *answer,
    size_t answerlen, struct mob_key **session)
{
	static const char *const names[] = { "iss", "aud", "epk", "th" };
	const cJSON *f[4] = { NULL };
	uint8_t epk[MOB_X25519_LEN], th[TH_LEN], want[TH_LEN];
	struct mob_jws jws;
	cJSON *claims = NULL;
	int r;

	*session = NULL;
	memset(&jws, 0, sizeof(jws));
	if (hub_key == NULL || mob_key_alg(hub_key) != MOB_ALG_EDDSA ||
	    answer == NULL || login == NULL)
		return MOB_EINVAL;
	/* the signature first: nothing of the answer is read before */
	if ((r = mob_jws_parse(answer, answerlen, MOB_ANSWER_MAX, &jws)) != 0 ||
	    (r = mob_jws_verify(&jws, hub_key)) != 0)
		goto out;
	if ((r = mob_claims_open(&jws, &claims)) != 0 ||
	    (r = mob_claims_pick(claims, names, f, 4)) != 0)
		goto out;
	r = MOB_ECLAIM;
	if (!cJSON_IsString(f[0]) || !cJSON_IsString(f[1]) ||
	    claim_b64(f[2], epk, sizeof(epk)) != 0 ||
	    claim_b64(f[3], th, sizeof(th)) != 0)
		goto out;
	if (strcmp(jws.kid, hub_id) != 0 || strcmp(f[0]->valuestring,
	    hub_id) != 0 || strcmp(f[1]->valuestring, client_id) != 0) {
		r = MOB_EIDENTITY;
		goto out;
	}
	if ((r = sha256(login, loginlen, want)) != 0)
		goto out;
	if (CRYPTO_memcmp(th, want, sizeof(th)) != 0) {
		r = MOB_EPROTO;
		goto out;
	}
	r = session_key(client_esk, epk, login, loginlen, answer, answerlen,
	    session);
 out:
	cJSON_Delete(claims);
	mob_jws_clear(&jws);
	return r;
}
