/*
 * libFuzzer target: the JWS parser and verifier.
 *
 * The first byte picks a mode.  0: the rest is a token, parsed and checked
 * against an HS256 and an Ed25519 key.  1: the rest is "HEADER\nPAYLOAD"
 * JSON text, encoded and properly signed first, so the fuzzer reaches the
 * header parser and verification with valid signatures too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "fuzz_common.h"
#include "mobius/b64.h"
#include "mobius/err.h"
#include "mobius/jws.h"

static void
check_token(const char *tok, size_t len)
{
	struct mob_jws j;
	cJSON *json;
	int r;

	if (mob_jws_parse(tok, len, 0, &j) != 0)
		return;
	/* a parsed token has a known alg, NUL-terminated payload, sane sizes */
	if ((j.alg != MOB_ALG_HS256 && j.alg != MOB_ALG_EDDSA) ||
	    j.payload[j.payload_len] != '\0' || j.sig_len > MOB_SIG_MAX ||
	    j.signing_input != tok || j.signing_input_len >= len)
		abort();
	r = mob_jws_verify(&j, fuzz_hs_key());
	if (r == 0 && j.alg != MOB_ALG_HS256)
		abort();
	r = mob_jws_verify(&j, fuzz_ed_key());
	if (r == 0 && j.alg != MOB_ALG_EDDSA)
		abort();
	if (mob_json_parse_strict(j.payload, j.payload_len, &json) == 0) {
		mob_json_check_unique(json);
		cJSON_Delete(json);
	}
	mob_jws_clear(&j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl;
	char *tok;

	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		check_token((const char *)data + 1, size - 1);
		return 0;
	}
	data++, size--;
	if ((nl = memchr(data, '\n', size)) == NULL)
		return 0;
	tok = fuzz_craft(data[0] & 1 ? fuzz_ed_key() : fuzz_hs_key(),
	    (const char *)data, (size_t)(nl - (const char *)data), nl + 1,
	    size - (size_t)(nl + 1 - (const char *)data));
	if (tok != NULL) {
		check_token(tok, strlen(tok));
		free(tok);
	}
	return 0;
}
