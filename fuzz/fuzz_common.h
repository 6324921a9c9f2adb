/*
 * Shared by the fuzz targets (header-only so every fuzz_*.c stays one
 * program): fixed keys and a signer for attacker-chosen header and payload.
 */
#ifndef MOBIUS_FUZZ_COMMON_H
#define MOBIUS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mobius/b64.h"
#include "mobius/key.h"

#define FUZZ_KID	"000001/01F"
#define FUZZ_NOW	1700000000000LL

static inline const struct mob_key *
fuzz_hs_key(void)
{
	static struct mob_key *k;
	static const uint8_t sec[32] = "mobius-fuzz-hs256-secret-32bytes";

	if (k == NULL && mob_key_from_secret(sec, sizeof(sec), &k) != 0)
		abort();
	return k;
}

static inline const struct mob_key *
fuzz_ed_key(void)
{
	static struct mob_key *k;
	static const uint8_t seed[32] = "mobius-fuzz-ed25519-seed-32bytes";

	if (k == NULL && mob_key_from_ed25519_private(seed, sizeof(seed), &k) != 0)
		abort();
	return k;
}

/* base64url(hdr).base64url(payload).sig signed with key; free() it. */
static inline char *
fuzz_craft(const struct mob_key *key, const char *hdr, size_t hlen,
    const char *payload, size_t plen)
{
	size_t cap, o;
	uint8_t sig[MOB_SIG_MAX];
	size_t sl;
	char *t;
	int r;

	if (hlen > 4096 || plen > 65536)
		return NULL;
	cap = MOB_B64URL_LEN(hlen) + MOB_B64URL_LEN(plen) +
	    MOB_B64URL_LEN(MOB_SIG_MAX) + 4;
	if ((t = malloc(cap)) == NULL)
		return NULL;
	if ((r = mob_b64url_encode((const uint8_t *)hdr, hlen, t, cap)) < 0)
		goto fail;
	o = (size_t)r;
	t[o++] = '.';
	if ((r = mob_b64url_encode((const uint8_t *)payload, plen, t + o,
	    cap - o)) < 0)
		goto fail;
	o += (size_t)r;
	if (mob_key_sign(key, (const uint8_t *)t, o, sig, sizeof(sig), &sl) != 0)
		goto fail;
	t[o++] = '.';
	if (mob_b64url_encode(sig, sl, t + o, cap - o) < 0)
		goto fail;
	return t;
 fail:
	free(t);
	return NULL;
}

#endif
