/*
 * The external frame (docs/protocol.md §6): what one router sends another
 * through the untrusted broker.
 *
 *   header (42 bytes, in clear, big-endian)
 *     0  version (1)       1  flags (bit 0: sealed)   2  class   3  zero
 *     4  kid of the sender's key (8)     12  kid of the receiver's key (8)
 *    20  from HID (3 bytes, binary)      23  to HID (3)
 *    26  seq (8)                         34  ts, ms since 1970 (8)
 *   body: sealed: nonce (24) || XChaCha20-Poly1305(pair key, nonce,
 *         plaintext, aad = header); otherwise the plaintext
 *   signature: Ed25519 by the sender over header || body (64)
 *
 * The receiver checks the length, then the signature (before it looks at
 * anything the signature covers besides the kid it needs to find the key),
 * then opens the body.  Seq, age and topic are the caller's (router.c).
 *
 * Random nonces (XChaCha's 24 bytes make collisions negligible) keep the
 * AEAD safe even if a crash made the sender reuse a seq.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "mobius/err.h"
#include "mobius/proto.h"
#include "internal.h"

static const char PAIR_SALT[] = "mobius-router pair key v1";

void
rt_put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint64_t
rt_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int
hid_bin(const char *hid, uint8_t out[3])
{
	if (!mob_hid_valid(hid))
		return MOB_EINVAL;
	return sodium_hex2bin(out, 3, hid, 6, NULL, NULL, NULL) == 0 ?
	    0 : MOB_EINVAL;
}

static void
hid_text(const uint8_t in[3], char out[7])
{
	static const char hex[] = "0123456789ABCDEF";

	for (int i = 0; i < 3; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[6] = '\0';
}

void
rt_kid(const uint8_t pk[32], uint8_t kid[RT_KID_LEN])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pk, 32);
	memcpy(kid, h, RT_KID_LEN);
}

int
rt_ident_from_seed(const char *hid, const uint8_t seed[32], struct rt_ident *out)
{
	memset(out, 0, sizeof(*out));
	if (strlen(hid) != 6)
		return MOB_EINVAL;
	memcpy(out->hid, hid, 7);
	if (crypto_sign_seed_keypair(out->pk, out->sk, seed) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(out->xsk, out->sk) != 0)
		return MOB_ECRYPTO;
	rt_kid(out->pk, out->kid);
	return 0;
}

/*
 * X25519 of the two static keys, then HKDF-SHA256 with both Ed25519 keys
 * in a fixed order as info, so both sides derive the same key and the key
 * is bound to the two identities (not only to the shared point).
 */
int
rt_pair_key(const struct rt_ident *me, const uint8_t peer_pk[32], uint8_t key[32])
{
	uint8_t xpk[crypto_scalarmult_BYTES], shared[crypto_scalarmult_BYTES];
	uint8_t info[64];
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5], *p = params;
	int r = MOB_ECRYPTO, lo;

	if (crypto_sign_ed25519_pk_to_curve25519(xpk, peer_pk) != 0 ||
	    crypto_scalarmult(shared, me->xsk, xpk) != 0)
		goto out;
	lo = memcmp(me->pk, peer_pk, 32) < 0;
	memcpy(info, lo ? me->pk : peer_pk, 32);
	memcpy(info + 32, lo ? peer_pk : me->pk, 32);
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, shared,
	    sizeof(shared));
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)PAIR_SALT, strlen(PAIR_SALT));
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info,
	    sizeof(info));
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, key, 32, params) == 1)
		r = 0;
 out:
	sodium_memzero(shared, sizeof(shared));
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}

static void
hdr_put(const struct rt_hdr *h, const uint8_t from[3], const uint8_t to[3],
    uint8_t out[RT_HDR_LEN])
{
	out[0] = h->version;
	out[1] = h->flags;
	out[2] = h->cls;
	out[3] = 0;
	memcpy(out + 4, h->kid_from, RT_KID_LEN);
	memcpy(out + 12, h->kid_to, RT_KID_LEN);
	memcpy(out + 20, from, 3);
	memcpy(out + 23, to, 3);
	rt_put64(out + 26, h->seq);
	rt_put64(out + 34, (uint64_t)h->ts);
}

int
rt_frame_make(const struct rt_ident *me, const struct rt_peerkey *peer,
    const struct rt_hdr *h, const uint8_t *pt, size_t ptlen,
    uint8_t *out, size_t outsz, size_t *outlen)
{
	uint8_t from[3], to[3];
	unsigned long long clen;
	size_t body;
	int sealed = (h->flags & RT_FLAG_SEALED) != 0;

	*outlen = 0;
	if (ptlen > RT_BODY_MAX)
		return MOB_ETOOLONG;
	body = sealed ? RT_NONCE_LEN + ptlen + RT_TAG_LEN : ptlen;
	if (outsz < RT_HDR_LEN + body + RT_SIG_LEN)
		return MOB_ETOOLONG;
	if (hid_bin(h->from, from) != 0 || hid_bin(h->to, to) != 0 ||
	    (h->flags & ~RT_FLAG_SEALED) != 0)
		return MOB_EINVAL;
	hdr_put(h, from, to, out);
	if (sealed) {
		uint8_t *nonce = out + RT_HDR_LEN;

		randombytes_buf(nonce, RT_NONCE_LEN);
		if (crypto_aead_xchacha20poly1305_ietf_encrypt(nonce +
		    RT_NONCE_LEN, &clen, pt, ptlen, out, RT_HDR_LEN, NULL,
		    nonce, peer->pair) != 0)
			return MOB_ECRYPTO;
	} else if (ptlen > 0)
		memcpy(out + RT_HDR_LEN, pt, ptlen);
	if (crypto_sign_detached(out + RT_HDR_LEN + body, NULL, out,
	    RT_HDR_LEN + body, me->sk) != 0)
		return MOB_ECRYPTO;
	*outlen = RT_HDR_LEN + body + RT_SIG_LEN;
	return 0;
}

int
rt_frame_header(const uint8_t *buf, size_t len, struct rt_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (len > RT_FRAME_MAX)
		return MOB_ETOOLONG;
	if (len < RT_HDR_LEN + RT_SIG_LEN)
		return MOB_EFORMAT;
	h->version = buf[0];
	h->flags = buf[1];
	h->cls = buf[2];
	if (h->version != RT_FRAME_VERSION || buf[3] != 0 ||
	    (h->flags & ~RT_FLAG_SEALED) != 0)
		return MOB_EFORMAT;
	if ((h->flags & RT_FLAG_SEALED) &&
	    len < RT_HDR_LEN + RT_NONCE_LEN + RT_TAG_LEN + RT_SIG_LEN)
		return MOB_EFORMAT;
	memcpy(h->kid_from, buf + 4, RT_KID_LEN);
	memcpy(h->kid_to, buf + 12, RT_KID_LEN);
	hid_text(buf + 20, h->from);
	hid_text(buf + 23, h->to);
	h->seq = rt_get64(buf + 26);
	h->ts = (int64_t)rt_get64(buf + 34);
	return 0;
}

int
rt_frame_open(const struct rt_peerkey *peer, const uint8_t *buf, size_t len,
    uint8_t *pt, size_t ptsz, size_t *ptlen)
{
	struct rt_hdr h;
	size_t body;
	unsigned long long mlen;
	int r;

	*ptlen = 0;
	if ((r = rt_frame_header(buf, len, &h)) != 0)
		return r;
	body = len - RT_HDR_LEN - RT_SIG_LEN;
	if (crypto_sign_verify_detached(buf + RT_HDR_LEN + body, buf,
	    RT_HDR_LEN + body, peer->pk) != 0)
		return MOB_EBADSIG;
	if (!(h.flags & RT_FLAG_SEALED)) {
		if (body > ptsz)
			return MOB_ETOOLONG;
		memcpy(pt, buf + RT_HDR_LEN, body);
		*ptlen = body;
		return 0;
	}
	if (body - RT_NONCE_LEN - RT_TAG_LEN > ptsz)
		return MOB_ETOOLONG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &mlen, NULL,
	    buf + RT_HDR_LEN + RT_NONCE_LEN, body - RT_NONCE_LEN, buf,
	    RT_HDR_LEN, buf + RT_HDR_LEN, peer->pair) != 0)
		return MOB_ECRYPTO;
	*ptlen = (size_t)mlen;
	return 0;
}

const char *
rt_class_name(int cls)
{
	return cls == RT_CLASS_DATA ? "data" : cls == RT_CLASS_LIVE ? "live" : "?";
}

int
rt_class_parse(const char *s)
{
	if (strcmp(s, "data") == 0)
		return RT_CLASS_DATA;
	if (strcmp(s, "live") == 0)
		return RT_CLASS_LIVE;
	return MOB_EINVAL;
}
