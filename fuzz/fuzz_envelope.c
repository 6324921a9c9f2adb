/*
 * libFuzzer target: envelope verification.
 *
 * First byte even: the rest is a token verified as received.  Odd: the
 * rest is claims JSON, signed properly (HS256 or EdDSA by the next bit) so
 * the claim checks, the window and the replay state are reached.  A token
 * accepted once must then be refused as a replay.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "mobius/envelope.h"
#include "mobius/err.h"

#define TOPIC	"mob/cov/000001/01F/003A/0001/40"

/* idx 0 HS256, idx 1 Ed25519: exercises the rotation-grace loop. */
static const struct mob_key *
lookup(void *ctx, const char *kid, size_t idx)
{
	(void)ctx;
	if (strcmp(kid, FUZZ_KID) != 0)
		return NULL;
	return idx == 0 ? fuzz_hs_key() : idx == 1 ? fuzz_ed_key() : NULL;
}

static void
check(const char *tok, size_t len)
{
	struct mob_verifier *v;
	struct mob_env env;
	int r;

	if (mob_verifier_new(lookup, NULL, NULL, &v) != 0)
		abort();
	r = mob_env_verify(v, TOPIC, FUZZ_KID, tok, len, FUZZ_NOW, &env);
	if (r == 0) {
		if (env.dat == NULL || strcmp(env.iss, FUZZ_KID) != 0 ||
		    env.iat < FUZZ_NOW - MOB_WINDOW_MS_DEFAULT ||
		    env.iat > FUZZ_NOW + MOB_WINDOW_MS_DEFAULT)
			abort();
		mob_env_clear(&env);
		if (mob_env_verify(v, TOPIC, FUZZ_KID, tok, len, FUZZ_NOW,
		    &env) != MOB_EREPLAY)
			abort();
	} else if (r >= 0 || env.claims != NULL)
		abort();
	mob_env_clear(&env);
	mob_verifier_free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char hs[] = "{\"alg\":\"HS256\",\"kid\":\"" FUZZ_KID "\"}";
	static const char ed[] = "{\"alg\":\"EdDSA\",\"kid\":\"" FUZZ_KID "\"}";
	int mode;
	char *tok;

	if (size < 1)
		return 0;
	mode = data[0];
	data++, size--;
	if (mode % 2 == 0) {
		check((const char *)data, size);
		return 0;
	}
	tok = mode & 2 ?
	    fuzz_craft(fuzz_ed_key(), ed, strlen(ed), (const char *)data, size) :
	    fuzz_craft(fuzz_hs_key(), hs, strlen(hs), (const char *)data, size);
	if (tok != NULL) {
		check(tok, strlen(tok));
		free(tok);
	}
	return 0;
}
