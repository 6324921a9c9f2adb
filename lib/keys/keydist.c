/*
 * Key distribution codec (mobius/keydist.h): the hub seals, a service opens.
 * Crypto through OpenSSL 3 EVP (HKDF, AES-256-GCM), JSON through cJSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "mobius/b64.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/keydist.h"
#include "mobius/proto.h"

#define KD_IVLEN	12
#define KD_TAGLEN	16
#define KD_KEYLEN	32
#define KD_MAXKEYS	4096	/* entries accepted in one bundle */
#define KD_RAWMAX	64	/* largest raw key (HS256 max) */

static int
kd_derive(const struct mob_key *psk, uint8_t out[KD_KEYLEN])
{
	uint8_t ikm[KD_RAWMAX];
	int n, r;

	if (psk == NULL || mob_key_alg(psk) != MOB_ALG_HS256 ||
	    mob_key_use(psk) != MOB_USE_PSK)
		return MOB_EINVAL;
	if ((n = mob_key_raw(psk, 1, ikm, sizeof(ikm))) < 0)
		return n;
	r = mob_hkdf(ikm, (size_t)n, NULL, 0, MOB_KEYDIST_INFO, out, KD_KEYLEN);
	OPENSSL_cleanse(ikm, sizeof(ikm));
	return r;
}

/* AES-256-GCM; enc: out = ct || tag (inlen + 16), else out = pt (inlen - 16). */
static int
kd_gcm(int enc, const uint8_t key[KD_KEYLEN], const uint8_t iv[KD_IVLEN],
    const char *aad, const uint8_t *in, size_t inlen, uint8_t *out,
    size_t *outlen)
{
	EVP_CIPHER_CTX *c;
	size_t len = enc ? inlen : inlen - KD_TAGLEN;
	int n, fin, r = MOB_ECRYPTO;

	if (!enc && inlen < KD_TAGLEN)
		return MOB_EFORMAT;
	if (len > INT32_MAX)
		return MOB_ETOOLONG;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return MOB_ENOMEM;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, KD_IVLEN, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, iv, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)aad,
	    (int)strlen(aad)) != 1 ||
	    EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, KD_TAGLEN,
	    (void *)(in + len)) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &fin) != 1) {
		/* decrypt: tag mismatch (wrong PSK, wrong topic, tampering) */
		r = enc ? MOB_ECRYPTO : MOB_EBADSIG;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, KD_TAGLEN,
	    out + len) != 1)
		goto out;
	*outlen = enc ? len + KD_TAGLEN : len;
	r = 0;
 out:
	EVP_CIPHER_CTX_free(c);
	return r;
}

/*
 * A compat bundle's plaintext tree holds every PSK in base64url: cleanse
 * its strings before cJSON frees them, or they stay in the heap.
 */
static void
kd_json_wipe(cJSON *j)
{
	for (cJSON *c = j; c != NULL; c = c->next) {
		if (c->valuestring != NULL)
			OPENSSL_cleanse(c->valuestring, strlen(c->valuestring));
		/* trees are shallow: keys[] of objects */
		kd_json_wipe(c->child);
	}
}

static void
kd_json_free(cJSON *j)
{
	kd_json_wipe(j);
	cJSON_Delete(j);
}

/*
 * Print a tree that holds secrets into a buffer of ours, cleansed on
 * failure: cJSON_Print* grows its own buffer and frees the old copies
 * uncleansed.
 */
static int
kd_print_secret(const cJSON *j, char **out)
{
	size_t cap = 1024;
	char *buf;

	*out = NULL;
	for (;;) {
		if ((buf = malloc(cap)) == NULL)
			return MOB_ENOMEM;
		if (cJSON_PrintPreallocated((cJSON *)j, buf, (int)cap, 0)) {
			*out = buf;
			return 0;
		}
		OPENSSL_cleanse(buf, cap);
		free(buf);
		if (cap >= MOB_KEYDIST_MAX)
			return MOB_ETOOLONG;
		cap *= 2;
	}
}

static int
kd_add_b64(cJSON *o, const char *name, const uint8_t *buf, size_t len)
{
	char *s;
	size_t sz = MOB_B64URL_LEN(len) + 1;
	int r;

	if ((s = malloc(sz)) == NULL)
		return MOB_ENOMEM;
	if ((r = mob_b64url_encode(buf, len, s, sz)) >= 0)
		r = cJSON_AddStringToObject(o, name, s) == NULL ? MOB_ENOMEM : 0;
	/* the key, in compat mode a PSK */
	OPENSSL_cleanse(s, sz);
	free(s);
	return r;
}

static int
kd_key_json(cJSON *arr, const struct mob_kr_entry *e, int secret)
{
	uint8_t raw[KD_RAWMAX];
	cJSON *k;
	int n, r = MOB_ENOMEM;

	if ((k = cJSON_CreateObject()) == NULL)
		return MOB_ENOMEM;
	if (!cJSON_AddItemToArray(arr, k)) {
		cJSON_Delete(k);
		return MOB_ENOMEM;
	}
	/* compat: a PSK's message key, never the PSK (its login key's root) */
	if ((n = mob_key_raw(mob_key_for(e->key, MOB_USE_MESSAGE), secret, raw,
	    sizeof(raw))) < 0)
		return n;
	if (cJSON_AddStringToObject(k, "id", e->id) == NULL ||
	    cJSON_AddStringToObject(k, "alg", mob_alg_name(e->alg)) == NULL ||
	    (r = kd_add_b64(k, "key", raw, (size_t)n)) != 0 ||
	    cJSON_AddStringToObject(k, "state",
	    e->state == MOB_KS_GRACE ? "grace" : "active") == NULL ||
	    cJSON_AddNumberToObject(k, "not_after", (double)e->not_after) == NULL)
		r = r ? r : MOB_ENOMEM;
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

/* {"keys":[...]} of every distributable entry. */
static int
kd_keys(const struct mob_keyring *kr, int64_t now_s, int secret, cJSON *o)
{
	cJSON *arr;
	int r;

	if ((arr = cJSON_AddArrayToObject(o, "keys")) == NULL)
		return MOB_ENOMEM;
	for (size_t i = 0; i < mob_keyring_count(kr); i++) {
		const struct mob_kr_entry *e = mob_keyring_entry(kr, i);

		if (e->kind == MOB_ENTRY_PEER || e->key == NULL ||
		    e->state == MOB_KS_REVOKED)
			continue;
		if (e->state == MOB_KS_GRACE && e->not_after != 0 &&
		    e->not_after < now_s)
			continue;
		if (e->alg != (mob_keyring_mode(kr) == MOB_MODE_COMPAT ?
		    MOB_ALG_HS256 : MOB_ALG_EDDSA))
			continue;
		if ((r = kd_key_json(arr, e, secret)) != 0)
			return r;
	}
	return 0;
}

static int
kd_encrypt(cJSON *dat, const char *plain, const char *topic,
    const struct mob_key *client_key)
{
	uint8_t key[KD_KEYLEN], iv[KD_IVLEN], *ct = NULL;
	size_t plen = strlen(plain), ctlen;
	int r;

	if ((r = kd_derive(client_key, key)) != 0)
		return r;
	if (RAND_bytes(iv, sizeof(iv)) != 1) {
		r = MOB_ECRYPTO;
		goto out;
	}
	if ((ct = malloc(plen + KD_TAGLEN)) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	if ((r = kd_gcm(1, key, iv, topic, (const uint8_t *)plain, plen, ct,
	    &ctlen)) != 0)
		goto out;
	if (cJSON_AddStringToObject(dat, "enc", "A256GCM") == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	if ((r = kd_add_b64(dat, "iv", iv, sizeof(iv))) != 0 ||
	    (r = kd_add_b64(dat, "ct", ct, ctlen)) != 0)
		goto out;
 out:
	OPENSSL_cleanse(key, sizeof(key));
	free(ct);
	return r;
}

int
mob_keydist_seal(const struct mob_keyring *kr, struct mob_signer *hub,
    const char *client_id, const struct mob_key *client_key, int64_t now_s,
    char **out, size_t *outlen)
{
	char topic[MOB_TOPIC_MAX];
	cJSON *dat = NULL, *inner = NULL;
	char *datjs = NULL, *plain = NULL;
	int compat, r;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (kr == NULL || hub == NULL || !mob_id_valid(client_id))
		return MOB_EINVAL;
	compat = mob_keyring_mode(kr) == MOB_MODE_COMPAT;
	if (compat && client_key == NULL)
		return MOB_EINVAL;
	snprintf(topic, sizeof(topic), "mob/key/%s", client_id);

	r = MOB_ENOMEM;
	if ((dat = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(dat, "v", 1) == NULL ||
	    cJSON_AddStringToObject(dat, "mode",
	    compat ? "compat" : "hardened") == NULL ||
	    cJSON_AddStringToObject(dat, "hid", mob_keyring_hid(kr)) == NULL)
		goto out;
	if (compat) {
		if ((inner = cJSON_CreateObject()) == NULL)
			goto out;
		if ((r = kd_keys(kr, now_s, 1, inner)) != 0 ||
		    (r = kd_print_secret(inner, &plain)) != 0)
			goto out;
		if ((r = kd_encrypt(dat, plain, topic, client_key)) != 0)
			goto out;
	} else if ((r = kd_keys(kr, now_s, 0, dat)) != 0)
		goto out;
	r = MOB_ENOMEM;
	if ((datjs = cJSON_PrintUnformatted(dat)) == NULL)
		goto out;
	r = mob_env_sign(hub, topic, datjs, out, outlen);
 out:
	if (plain != NULL) {
		OPENSSL_cleanse(plain, strlen(plain));
		free(plain);
	}
	kd_json_free(inner);
	cJSON_Delete(dat);
	free(datjs);
	return r;
}

/* --- opening ------------------------------------------------------------ */

static int
kd_b64(const cJSON *o, const char *name, uint8_t *buf, size_t bufsz,
    size_t *len)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(s))
		return MOB_ECLAIM;
	return mob_b64url_decode(s->valuestring, strlen(s->valuestring), buf,
	    bufsz, len) < 0 ? MOB_EB64 : 0;
}

static int
kd_entry(const cJSON *k, enum mob_alg want, struct mob_kr_entry *e)
{
	const cJSON *id, *alg, *st, *na;
	uint8_t raw[KD_RAWMAX];
	size_t len;
	int r;

	memset(e, 0, sizeof(*e));
	id = cJSON_GetObjectItemCaseSensitive(k, "id");
	alg = cJSON_GetObjectItemCaseSensitive(k, "alg");
	st = cJSON_GetObjectItemCaseSensitive(k, "state");
	na = cJSON_GetObjectItemCaseSensitive(k, "not_after");
	if (!cJSON_IsString(id) || !mob_id_valid(id->valuestring) ||
	    !cJSON_IsString(alg) || !cJSON_IsString(st) || !cJSON_IsNumber(na))
		return MOB_ECLAIM;
	if ((r = mob_alg_parse(alg->valuestring, &e->alg)) != 0)
		return r;
	if (e->alg != want)
		return MOB_EALGMISMATCH;
	if (strcmp(st->valuestring, "active") == 0)
		e->state = MOB_KS_ACTIVE;
	else if (strcmp(st->valuestring, "grace") == 0)
		e->state = MOB_KS_GRACE;
	else
		return MOB_ECLAIM;
	if (na->valuedouble < 0 || na->valuedouble > 1e15)
		return MOB_ERANGE;
	e->not_after = (int64_t)na->valuedouble;
	snprintf(e->id, sizeof(e->id), "%s", id->valuestring);
	e->kind = strcmp(e->id + 7, "000") == 0 ? MOB_ENTRY_HUB :
	    MOB_ENTRY_SERVICE;
	if ((r = kd_b64(k, "key", raw, sizeof(raw), &len)) != 0)
		goto out;
	if (want == MOB_ALG_HS256)
		r = mob_key_from_secret_use(raw, len, MOB_USE_MESSAGE, &e->key);
	else
		r = mob_key_from_ed25519_public(raw, len, &e->key);
 out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

static int
kd_fill(const cJSON *keys, enum mob_alg want, struct mob_keyring *kr)
{
	const cJSON *k;
	struct mob_kr_entry e;
	int n = 0, r;

	if (!cJSON_IsArray(keys))
		return MOB_ECLAIM;
	cJSON_ArrayForEach(k, keys) {
		if (++n > KD_MAXKEYS)
			return MOB_ETOOLONG;
		if ((r = kd_entry(k, want, &e)) != 0 ||
		    (r = mob_keyring_add(kr, &e)) != 0) {
			mob_key_free(e.key);
			return r;
		}
	}
	return 0;
}

/* JSON the hub signed or encrypted: strict, an object, no duplicates. */
static int
kd_json(const char *txt, size_t len, cJSON **out)
{
	int r;

	if ((r = mob_json_parse_strict(txt, len, out)) != 0)
		return r;
	if (!cJSON_IsObject(*out))
		r = MOB_ECLAIM;
	else
		r = mob_json_check_unique(*out);
	if (r != 0) {
		kd_json_free(*out);
		*out = NULL;
	}
	return r;
}

static int
kd_decrypt(const cJSON *dat, const char *topic, const struct mob_key *own,
    cJSON **inner)
{
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(dat, "enc");
	const cJSON *cts = cJSON_GetObjectItemCaseSensitive(dat, "ct");
	uint8_t key[KD_KEYLEN], iv[KD_IVLEN], *ct = NULL, *pt = NULL;
	size_t ivlen, ctlen, ptlen, cap;
	int r;

	*inner = NULL;
	if (!cJSON_IsString(enc) || strcmp(enc->valuestring, "A256GCM") != 0 ||
	    !cJSON_IsString(cts))
		return MOB_ECLAIM;
	if ((r = kd_b64(dat, "iv", iv, sizeof(iv), &ivlen)) != 0)
		return r;
	if (ivlen != KD_IVLEN)
		return MOB_EFORMAT;
	cap = strlen(cts->valuestring) / 4 * 3 + 3;
	if ((ct = malloc(cap)) == NULL || (pt = malloc(cap + 1)) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	if ((r = kd_b64(dat, "ct", ct, cap, &ctlen)) != 0 ||
	    (r = kd_derive(own, key)) != 0)
		goto out;
	r = kd_gcm(0, key, iv, topic, ct, ctlen, pt, &ptlen);
	OPENSSL_cleanse(key, sizeof(key));
	if (r != 0)
		goto out;
	pt[ptlen] = '\0';
	r = kd_json((char *)pt, ptlen, inner);
 out:
	free(ct);
	/* also when the tag failed: GCM wrote the plaintext before checking */
	if (pt != NULL)
		OPENSSL_cleanse(pt, cap + 1);
	free(pt);
	return r;
}

/* Claims of the envelope: iss == kid == HID/000, top == topic, fresh iat. */
static int
kd_claims(const cJSON *c, const char *kid, const char *topic, int64_t now_ms,
    int64_t window_ms)
{
	const cJSON *iss = cJSON_GetObjectItemCaseSensitive(c, "iss");
	const cJSON *top = cJSON_GetObjectItemCaseSensitive(c, "top");
	double iat;
	int64_t t;

	if (!cJSON_IsString(iss) || !cJSON_IsString(top) ||
	    mob_claim_int(cJSON_GetObjectItemCaseSensitive(c, "iat"), &iat) != 0)
		return MOB_ECLAIM;
	if (strcmp(iss->valuestring, kid) != 0)
		return MOB_EISSMISMATCH;
	if (strcmp(top->valuestring, topic) != 0)
		return MOB_ETOPICMISMATCH;
	t = (int64_t)iat;	/* an integer 0..2^53: the cast is defined */
	if (t < now_ms - window_ms)
		return MOB_EEXPIRED;
	if (t > now_ms + window_ms)
		return MOB_EFUTURE;
	return 0;
}

/* The hub's own entry (kid) among the bundle's keys, decoded alone. */
static int
kd_hub_key(const cJSON *keys, const char *kid, enum mob_alg want,
    struct mob_key **out)
{
	const cJSON *k, *id;
	struct mob_kr_entry e;
	int r;

	*out = NULL;
	if (!cJSON_IsArray(keys))
		return MOB_ECLAIM;
	cJSON_ArrayForEach(k, keys) {
		id = cJSON_GetObjectItemCaseSensitive(k, "id");
		if (!cJSON_IsString(id) || strcmp(id->valuestring, kid) != 0)
			continue;
		if ((r = kd_entry(k, want, &e)) != 0) {
			mob_key_free(e.key);
			return r;
		}
		*out = e.key;
		return 0;
	}
	return MOB_EKIDUNKNOWN;
}

/*
 * The order matters: with a pinned hub key the signature is checked before
 * a byte it covers is parsed.  Without one, the hub's key travels in the
 * bundle (keydist.h): the claims are parsed strictly and, in compat mode,
 * decrypted (GCM authenticates them with our PSK), then the hub's entry
 * alone is decoded and the signature checked with it, and only then are
 * the claims' values and the other keys read.
 */
int
mob_keydist_open(const char *msg, size_t len, const char *client_id,
    const struct mob_key *own_key, const struct mob_key *hub_key,
    int64_t now_ms, int64_t window_ms, struct mob_keyring **out)
{
	struct mob_jws jws;
	struct mob_keyring *kr = NULL;
	struct mob_key *carried = NULL;
	cJSON *claims = NULL, *inner = NULL;
	const cJSON *dat, *mode, *hid, *v, *keys;
	char topic[MOB_TOPIC_MAX], kid[MOB_ID_MAX];
	enum mob_alg want;
	int compat, r;

	*out = NULL;
	memset(&jws, 0, sizeof(jws));
	if (!mob_id_valid(client_id))
		return MOB_EINVAL;
	if (window_ms <= 0)
		window_ms = MOB_WINDOW_MS_DEFAULT;
	snprintf(topic, sizeof(topic), "mob/key/%s", client_id);
	snprintf(kid, sizeof(kid), "%.6s/000", client_id);

	if ((r = mob_jws_parse(msg, len, MOB_KEYDIST_MAX, &jws)) != 0)
		goto out;
	if (strcmp(jws.kid, kid) != 0) {
		r = MOB_EKIDUNKNOWN;
		goto out;
	}
	/* a pinned compat hub key is its PSK: envelopes use its message key */
	if (hub_key != NULL && (r = mob_jws_verify(&jws, mob_key_for(hub_key,
	    MOB_USE_MESSAGE))) != 0)
		goto out;
	if ((r = kd_json(jws.payload, jws.payload_len, &claims)) != 0)
		goto out;
	dat = cJSON_GetObjectItemCaseSensitive(claims, "dat");
	v = cJSON_GetObjectItemCaseSensitive(dat, "v");
	mode = cJSON_GetObjectItemCaseSensitive(dat, "mode");
	hid = cJSON_GetObjectItemCaseSensitive(dat, "hid");
	r = MOB_ECLAIM;
	if (!cJSON_IsObject(dat) || !cJSON_IsNumber(v) || v->valuedouble != 1 ||
	    !cJSON_IsString(mode) || !cJSON_IsString(hid) ||
	    strncmp(hid->valuestring, client_id, 6) != 0 ||
	    strlen(hid->valuestring) != 6)
		goto out;
	if (strcmp(mode->valuestring, "compat") == 0)
		compat = 1;
	else if (strcmp(mode->valuestring, "hardened") == 0)
		compat = 0;
	else
		goto out;
	want = compat ? MOB_ALG_HS256 : MOB_ALG_EDDSA;
	if (jws.alg != want) {
		r = MOB_EALGMISMATCH;
		goto out;
	}
	if (compat) {
		if ((r = kd_decrypt(dat, topic, own_key, &inner)) != 0)
			goto out;
		keys = cJSON_GetObjectItemCaseSensitive(inner, "keys");
	} else
		keys = cJSON_GetObjectItemCaseSensitive(dat, "keys");
	if (hub_key == NULL &&
	    ((r = kd_hub_key(keys, kid, want, &carried)) != 0 ||
	    (r = mob_jws_verify(&jws, mob_key_for(carried,
	    MOB_USE_MESSAGE))) != 0))
		goto out;

	/* Authentic from here on. */
	if ((r = kd_claims(claims, kid, topic, now_ms, window_ms)) != 0 ||
	    (r = mob_keyring_new(hid->valuestring, compat ? MOB_MODE_COMPAT :
	    MOB_MODE_HARDENED, &kr)) != 0 ||
	    (r = kd_fill(keys, want, kr)) != 0)
		goto out;
	*out = kr;
	kr = NULL;
 out:
	mob_key_free(carried);
	mob_keyring_free(kr);
	kd_json_free(inner);
	cJSON_Delete(claims);
	mob_jws_clear(&jws);
	return r;
}
