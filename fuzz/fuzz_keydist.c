/*
 * libFuzzer target: the key bundle a client receives on mob/key/HID/SID
 * (mob_keydist_open, lib/keys/keydist.c).
 *
 * First byte: bit 0 clear, the rest is the message as received; set, the
 * rest is the bundle's "dat" JSON, signed by the target as the hub would
 * (bit 2: HS256 compat key, else Ed25519), so the parsing after the
 * signature is reached.  Bit 1: the hub key is pinned (else the bundle
 * must carry it).  An opened bundle has the hub's HID and at least the
 * hub entry that verified it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/keydist.h"

#define CLIENT	"000001/01F"
#define TOPIC	"mob/key/" CLIENT
#define HUBKID	"000001/000"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
open_one(const char *msg, size_t len, const struct mob_key *pinned)
{
	struct mob_keyring *kr = NULL;
	int r;

	r = mob_keydist_open(msg, len, CLIENT, fuzz_hs_key(), pinned,
	    mob_clock_wall_ms(), 0, &kr);
	if (r == 0) {
		if (kr == NULL || strcmp(mob_keyring_hid(kr), "000001") != 0)
			abort();
		if (pinned == NULL && mob_keyring_find(kr, HUBKID) == NULL)
			abort();
		mob_keyring_free(kr);
	} else if (r >= 0 || kr != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct mob_key *key;
	struct mob_signer *s;
	char *dat, *msg;
	size_t len;
	int mode;

	if (size < 1 || size > 65536)
		return 0;
	mode = data[0];
	data++, size--;
	key = mode & 4 ? fuzz_hs_key() : fuzz_ed_key();
	if ((mode & 1) == 0) {
		open_one((const char *)data, size, mode & 2 ? key : NULL);
		return 0;
	}
	/* mob_env_sign takes the dat as JSON text: only valid JSON signs. */
	if ((dat = strndup((const char *)data, size)) == NULL)
		return 0;
	if (mob_signer_new(key, HUBKID, &s) != 0)
		abort();
	if (mob_env_sign(s, TOPIC, dat, &msg, &len) == 0) {
		open_one(msg, len, mode & 2 ? key : NULL);
		free(msg);
	}
	mob_signer_free(s);
	free(dat);
	return 0;
}
