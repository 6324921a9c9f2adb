/*
 * JWS: the RFC 7515 A.1 and RFC 8037 A.4 vectors, round trips, and an
 * attack corpus where every token must fail with its own error code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "mobius/b64.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/key.h"

/* RFC 7515 Appendix A.1 (HS256): header has "typ" and CRLF whitespace. */
#define A1_TOKEN \
	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9" \
	".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt" \
	"cGxlLmNvbS9pc19yb290Ijp0cnVlfQ" \
	".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define A1_KEY \
	"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4" \
	"hcgUuTwjAzZr1Z9CAow"
#define A1_PAYLOAD \
	"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n " \
	"\"http://example.com/is_root\":true}"

/* RFC 8037 Appendix A.4 (Ed25519). */
#define A4_D		"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define A4_X		"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define A4_PAYLOAD	"Example of Ed25519 signing"
#define A4_TOKEN \
	"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc" \
	".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5B" \
	"hVsPt9g7sVvpAr_MuM0KAg"

static struct mob_key *
key_b64(const char *s, int ed_private, int ed_public)
{
	uint8_t raw[64];
	size_t n;
	struct mob_key *k;

	cr_assert_eq(mob_b64url_decode(s, strlen(s), raw, sizeof(raw), &n), 0);
	if (ed_private)
		cr_assert_eq(mob_key_from_ed25519_private(raw, n, &k), 0);
	else if (ed_public)
		cr_assert_eq(mob_key_from_ed25519_public(raw, n, &k), 0);
	else
		cr_assert_eq(mob_key_from_secret(raw, n, &k), 0);
	return k;
}

/* Parse then verify, the way every receiver does. */
static int
check(const char *tok, size_t len, const struct mob_key *key)
{
	struct mob_jws j;
	int r;

	if ((r = mob_jws_parse(tok, len, 0, &j)) != 0)
		return r;
	r = mob_jws_verify(&j, key);
	mob_jws_clear(&j);
	return r;
}

static int
check_s(const char *tok, const struct mob_key *key)
{
	return check(tok, strlen(tok), key);
}

/*
 * An attacker's token: any header text, any payload, signed with key
 * (or with no signature when key is NULL).
 */
static char *
craft(const char *hdr, const char *payload, const struct mob_key *key)
{
	size_t hl = strlen(hdr), pl = strlen(payload);
	size_t cap = MOB_B64URL_LEN(hl) + MOB_B64URL_LEN(pl) +
	    MOB_B64URL_LEN(MOB_SIG_MAX) + 4, o;
	char *t = malloc(cap);
	uint8_t sig[MOB_SIG_MAX];
	size_t sl = 0;

	cr_assert_not_null(t);
	o = (size_t)mob_b64url_encode((const uint8_t *)hdr, hl, t, cap);
	t[o++] = '.';
	o += (size_t)mob_b64url_encode((const uint8_t *)payload, pl, t + o,
	    cap - o);
	if (key != NULL)
		cr_assert_eq(mob_key_sign(key, (const uint8_t *)t, o, sig,
		    sizeof(sig), &sl), 0);
	t[o++] = '.';
	mob_b64url_encode(sig, sl, t + o, cap - o);
	return t;
}

Test(jws, rfc7515_a1_hs256_vector_verifies)
{
	struct mob_key *k = key_b64(A1_KEY, 0, 0), *other;
	struct mob_jws j;

	cr_assert_eq(mob_jws_parse(A1_TOKEN, strlen(A1_TOKEN), 0, &j), 0);
	cr_assert_eq(j.alg, MOB_ALG_HS256);
	cr_assert_str_eq(j.kid, "");
	cr_assert_eq(j.payload_len, strlen(A1_PAYLOAD));
	cr_assert_str_eq(j.payload, A1_PAYLOAD);
	cr_assert_eq(j.sig_len, 32);
	cr_assert_eq(mob_jws_verify(&j, k), 0);
	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &other), 0);
	cr_assert_eq(mob_jws_verify(&j, other), MOB_EBADSIG);
	mob_jws_clear(&j);
	mob_key_free(other);
	mob_key_free(k);
}

Test(jws, rfc8037_a4_ed25519_vector_verifies_and_signs_identically)
{
	struct mob_key *priv = key_b64(A4_D, 1, 0), *pub = key_b64(A4_X, 0, 1);
	struct mob_key *derived;
	uint8_t x[32], x2[32];
	char *tok;

	cr_assert_eq(check_s(A4_TOKEN, pub), 0);
	cr_assert_eq(check_s(A4_TOKEN, priv), 0);
	/* Ed25519 is deterministic: the very same token */
	cr_assert_eq(mob_jws_sign(priv, NULL, A4_PAYLOAD, strlen(A4_PAYLOAD),
	    &tok), 0);
	cr_assert_str_eq(tok, A4_TOKEN);
	free(tok);
	/* the public half derived from the private key is the RFC's x */
	cr_assert_eq(mob_key_public(priv, &derived), 0);
	cr_assert_eq(mob_key_raw(derived, 0, x, sizeof(x)), 32);
	cr_assert_eq(mob_key_raw(pub, 0, x2, sizeof(x2)), 32);
	cr_assert(memcmp(x, x2, 32) == 0);
	cr_assert_eq(mob_key_can_sign(derived), 0);
	cr_assert_eq(mob_key_raw(derived, 1, x, sizeof(x)), MOB_EINVAL);
	mob_key_free(derived);
	mob_key_free(priv);
	mob_key_free(pub);
}

static void
round_trip(enum mob_alg alg)
{
	struct mob_key *k;
	struct mob_jws j;
	char *tok;

	cr_assert_eq(mob_key_generate(alg, &k), 0);
	cr_assert_eq(mob_jws_sign(k, "000001/01F", "{\"a\":1}", 7, &tok), 0);
	cr_assert_eq(mob_jws_parse(tok, strlen(tok), 0, &j), 0);
	cr_assert_eq(j.alg, alg);
	cr_assert_str_eq(j.kid, "000001/01F");
	cr_assert_str_eq(j.payload, "{\"a\":1}");
	cr_assert_eq(mob_jws_verify(&j, k), 0);
	mob_jws_clear(&j);
	free(tok);
	mob_key_free(k);
}

Test(jws, round_trips_hs256)
{
	round_trip(MOB_ALG_HS256);
}

Test(jws, round_trips_eddsa)
{
	round_trip(MOB_ALG_EDDSA);
}

Test(jws, round_trips_an_empty_payload)
{
	struct mob_key *k;
	struct mob_jws j;
	char *tok;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	cr_assert_eq(mob_jws_sign(k, NULL, "", 0, &tok), 0);
	cr_assert_not_null(strstr(tok, ".."));
	cr_assert_eq(mob_jws_parse(tok, strlen(tok), 0, &j), 0);
	cr_assert_eq(j.payload_len, 0);
	cr_assert_str_eq(j.payload, "");
	cr_assert_eq(mob_jws_verify(&j, k), 0);
	mob_jws_clear(&j);
	free(tok);
	mob_key_free(k);
}

Test(jws, rejects_alg_none)
{
	struct mob_key *k;
	char *t;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	t = craft("{\"alg\":\"none\"}", "{}", NULL);
	cr_assert_eq(check_s(t, k), MOB_EALGNONE);
	free(t);
	/* even with a valid HMAC over it */
	t = craft("{\"alg\":\"none\"}", "{}", k);
	cr_assert_eq(check_s(t, k), MOB_EALGNONE);
	free(t);
	mob_key_free(k);
}

Test(jws, rejects_unknown_algs_case_sensitively)
{
	static const char *const algs[] = {
		"{\"alg\":\"HS512\"}", "{\"alg\":\"RS256\"}", "{\"alg\":\"hs256\"}",
		"{\"alg\":\"eddsa\"}", "{\"alg\":\"None\"}", "{\"alg\":\"\"}",
		"{\"alg\":\"HS256 \"}",
	};
	struct mob_key *k;
	char *t;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		t = craft(algs[i], "{}", k);
		cr_assert_eq(check_s(t, k), MOB_EALGUNKNOWN, "%s", algs[i]);
		free(t);
	}
	mob_key_free(k);
}

Test(jws, rejects_hs256_signed_with_the_ed25519_public_key)
{
	struct mob_key *ed, *pub, *forged;
	uint8_t raw[32];
	char *t;

	/* The classic confusion: HMAC keyed with the public key bytes. */
	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &ed), 0);
	cr_assert_eq(mob_key_public(ed, &pub), 0);
	cr_assert_eq(mob_key_raw(pub, 0, raw, sizeof(raw)), 32);
	cr_assert_eq(mob_key_from_secret(raw, sizeof(raw), &forged), 0);
	t = craft("{\"alg\":\"HS256\",\"kid\":\"000001/01F\"}", "{}", forged);
	cr_assert_eq(check_s(t, pub), MOB_EALGMISMATCH);
	cr_assert_eq(check_s(t, ed), MOB_EALGMISMATCH);
	/* the forged HMAC is otherwise perfectly valid */
	cr_assert_eq(check_s(t, forged), 0);
	free(t);
	/* and the other way round */
	t = craft("{\"alg\":\"EdDSA\"}", "{}", ed);
	cr_assert_eq(check_s(t, forged), MOB_EALGMISMATCH);
	free(t);
	mob_key_free(forged);
	mob_key_free(pub);
	mob_key_free(ed);
}

Test(jws, rejects_a_stripped_signature)
{
	struct mob_key *k;
	char *t;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	t = craft("{\"alg\":\"HS256\"}", "{}", NULL);
	cr_assert_eq(check_s(t, k), MOB_EBADSIG);
	t[strlen(t) - 1] = '\0';	/* no third part at all */
	cr_assert_eq(check_s(t, k), MOB_EFORMAT);
	free(t);
	mob_key_free(k);
}

static void
every_bit_flip_fails(enum mob_alg alg)
{
	struct mob_key *k;
	char *tok;
	size_t len;
	int r;

	cr_assert_eq(mob_key_generate(alg, &k), 0);
	cr_assert_eq(mob_jws_sign(k, "000001/01F", "{\"v\":42}", 8, &tok), 0);
	len = strlen(tok);
	cr_assert_eq(check(tok, len, k), 0);
	for (size_t i = 0; i < len; i++)
		for (int b = 0; b < 8; b++) {
			tok[i] ^= (char)(1 << b);
			r = check(tok, len, k);
			cr_assert_neq(r, 0, "byte %zu bit %d accepted", i, b);
			cr_assert_lt(r, 0);
			tok[i] ^= (char)(1 << b);
		}
	cr_assert_eq(check(tok, len, k), 0);
	free(tok);
	mob_key_free(k);
}

Test(jws, rejects_every_single_bit_flip_hs256)
{
	every_bit_flip_fails(MOB_ALG_HS256);
}

Test(jws, rejects_every_single_bit_flip_eddsa)
{
	every_bit_flip_fails(MOB_ALG_EDDSA);
}

Test(jws, rejects_truncation_at_every_length)
{
	struct mob_key *k;
	char *tok;
	size_t len;

	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &k), 0);
	cr_assert_eq(mob_jws_sign(k, "000001/01F", "{\"v\":42}", 8, &tok), 0);
	len = strlen(tok);
	for (size_t n = 0; n < len; n++)
		cr_assert_neq(check(tok, n, k), 0, "accepted at %zu", n);
	free(tok);
	mob_key_free(k);
}

Test(jws, rejects_base64_padding)
{
	struct mob_key *k;
	char *tok, *t;
	size_t len;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	cr_assert_eq(mob_jws_sign(k, NULL, "{\"v\":42}", 8, &tok), 0);
	len = strlen(tok);
	/* 32-byte HMAC: 43 characters, "=" would make it 44 */
	cr_assert_not_null(t = malloc(len + 2));
	memcpy(t, tok, len);
	memcpy(t + len, "=", 2);
	cr_assert_eq(check_s(t, k), MOB_EB64);
	free(t);
	free(tok);
	mob_key_free(k);
}

Test(jws, rejects_padding_inside_a_part)
{
	struct mob_key *k;
	char tok[256];

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	/* base64url("{\"alg\":\"HS256\"}x") needs padding; here spelt out */
	snprintf(tok, sizeof(tok), "%s.%s.%s", "eyJhbGciOiJIUzI1NiJ9",
	    "e30=", "AAAA");
	cr_assert_eq(check_s(tok, k), MOB_EB64);
	mob_key_free(k);
}

Test(jws, rejects_non_canonical_trailing_bits)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct mob_key *k;
	char *tok, *last;
	int v;

	for (int alg = MOB_ALG_HS256; alg <= MOB_ALG_EDDSA; alg++) {
		cr_assert_eq(mob_key_generate((enum mob_alg)alg, &k), 0);
		cr_assert_eq(mob_jws_sign(k, NULL, "{}", 2, &tok), 0);
		last = tok + strlen(tok) - 1;
		v = (int)(strchr(alpha, *last) - alpha);
		/* HS256: 43 chars, 2 spare bits; Ed25519: 86 chars, 4 */
		cr_assert_eq(v & (alg == MOB_ALG_HS256 ? 3 : 15), 0);
		*last = alpha[v | 1];
		cr_assert_eq(check_s(tok, k), MOB_EB64);
		free(tok);
		mob_key_free(k);
	}
}

Test(jws, rejects_oversize_tokens_before_decoding)
{
	struct mob_key *k;
	struct mob_jws j;
	char *big, *tok;
	size_t n = MOB_JWS_MAX_DEFAULT + 1;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	cr_assert_eq(mob_jws_sign(k, NULL, "{}", 2, &tok), 0);
	/* a cap below the length wins even over a valid token */
	cr_assert_eq(mob_jws_parse(tok, strlen(tok), 10, &j), MOB_ETOOLONG);
	cr_assert_eq(mob_jws_parse(tok, strlen(tok), strlen(tok), &j), 0);
	mob_jws_clear(&j);
	/* default cap: 64 KiB + 1 of garbage is refused, not decoded */
	cr_assert_not_null(big = malloc(n));
	memset(big, '!', n);
	cr_assert_eq(mob_jws_parse(big, n, 0, &j), MOB_ETOOLONG);
	cr_assert_eq(mob_jws_parse(big, n - 1, 0, &j), MOB_EFORMAT);
	free(big);
	free(tok);
	mob_key_free(k);
}

Test(jws, rejects_an_oversize_header)
{
	char hdr[MOB_JWS_HDR_MAX + 64], *t;
	struct mob_key *k;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"kid\":\"%0*d\"}",
	    MOB_JWS_HDR_MAX, 0);
	t = craft(hdr, "{}", k);
	cr_assert_eq(check_s(t, k), MOB_ETOOLONG);
	free(t);
	/* a kid longer than MOB_KID_MAX - 1 */
	t = craft("{\"alg\":\"HS256\",\"kid\":\"0123456789abcdef0123456789abcdef\"}",
	    "{}", k);
	cr_assert_eq(check_s(t, k), MOB_ETOOLONG);
	free(t);
	mob_key_free(k);
}

Test(jws, rejects_duplicate_header_members)
{
	static const char *const hdrs[] = {
		"{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
		"{\"alg\":\"HS256\",\"kid\":\"a\",\"kid\":\"b\"}",
		"{\"typ\":\"JWT\",\"alg\":\"HS256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"EdDSA\",\"alg\":\"HS256\"}",
	};
	struct mob_key *k;
	char *t;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		t = craft(hdrs[i], "{}", k);
		cr_assert_eq(check_s(t, k), MOB_EHDRDUP, "%s", hdrs[i]);
		free(t);
	}
	mob_key_free(k);
}

Test(jws, rejects_malformed_headers_each_with_its_code)
{
	static const struct {
		const char *hdr;
		int err;
	} cases[] = {
		{ "{\"kid\":\"000001/01F\"}", MOB_EHDRMISSING },
		{ "{}", MOB_EHDRMISSING },
		{ "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", MOB_EHDRUNKNOWN },
		{ "{\"alg\":\"HS256\",\"jku\":\"http://x\"}", MOB_EHDRUNKNOWN },
		{ "{\"alg\":\"HS256\",\"ALG\":\"HS256\"}", MOB_EHDRUNKNOWN },
		{ "{\"alg\":256}", MOB_ETYPE },
		{ "{\"alg\":\"HS256\",\"kid\":7}", MOB_ETYPE },
		{ "{\"alg\":\"HS256\",\"kid\":null}", MOB_ETYPE },
		{ "[\"alg\",\"HS256\"]", MOB_EJSON },
		{ "\"HS256\"", MOB_EJSON },
		{ "{\"alg\":\"HS256\"}x", MOB_EJSON },
		{ "{\"alg\":\"HS256\"}{}", MOB_EJSON },
		{ "{\"alg\":\"HS256\"", MOB_EJSON },
		{ "{\"alg\":\"HS\\u0000256\"}", MOB_EJSON },
		{ "", MOB_EFORMAT },
	};
	struct mob_key *k;
	char *t;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = craft(cases[i].hdr, "{}", k);
		cr_assert_eq(check_s(t, k), cases[i].err, "%s: %s",
		    cases[i].hdr, mob_errname(check_s(t, k)));
		free(t);
	}
	/* trailing whitespace and a typ are fine */
	t = craft("{\"typ\":\"JWT\", \"alg\":\"HS256\"}\r\n ", "{}", k);
	cr_assert_eq(check_s(t, k), 0);
	free(t);
	mob_key_free(k);
}

Test(jws, rejects_extra_parts_and_trailing_data)
{
	struct mob_key *k;
	char *tok, buf[512];

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &k), 0);
	cr_assert_eq(mob_jws_sign(k, NULL, "{}", 2, &tok), 0);
	snprintf(buf, sizeof(buf), "%s.", tok);
	cr_assert_eq(check_s(buf, k), MOB_EFORMAT);
	snprintf(buf, sizeof(buf), "%s.AAAA", tok);
	cr_assert_eq(check_s(buf, k), MOB_EFORMAT);
	snprintf(buf, sizeof(buf), "%s\n", tok);
	cr_assert_eq(check_s(buf, k), MOB_EB64);
	snprintf(buf, sizeof(buf), "%s ", tok);
	cr_assert_eq(check_s(buf, k), MOB_EB64);
	/* a NUL and more bytes inside the stated length */
	snprintf(buf, sizeof(buf), "%sXAAAA", tok);
	buf[strlen(tok)] = '\0';
	cr_assert_eq(check(buf, strlen(tok) + 5, k), MOB_EB64);
	/* a signature longer than any algorithm's */
	snprintf(buf, sizeof(buf), "%sAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    tok);
	cr_assert_eq(check_s(buf, k), MOB_EBADSIG);
	cr_assert_eq(check_s(".e30.AAAA", k), MOB_EFORMAT);
	cr_assert_eq(check_s("..", k), MOB_EFORMAT);
	cr_assert_eq(check_s("e30..", k), MOB_EHDRMISSING);
	cr_assert_eq(check_s("", k), MOB_EFORMAT);
	free(tok);
	mob_key_free(k);
}

Test(jws, checks_json_uniqueness_at_every_depth)
{
	static const struct {
		const char *json;
		int err;
	} cases[] = {
		{ "{\"a\":1,\"b\":2}", 0 },
		{ "{\"a\":1,\"a\":1}", MOB_EHDRDUP },
		{ "{\"a\":{\"b\":1,\"b\":2}}", MOB_EHDRDUP },
		{ "[1,{\"x\":[{\"y\":1,\"y\":1}]}]", MOB_EHDRDUP },
		{ "{\"a\":{\"b\":1},\"c\":{\"b\":1}}", 0 },
		{ "{\"A\":1,\"a\":1}", 0 },
	};
	char big[4096];
	size_t o;
	cJSON *j;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(mob_json_parse_strict(cases[i].json,
		    strlen(cases[i].json), &j), 0);
		cr_assert_eq(mob_json_check_unique(j), cases[i].err, "%s",
		    cases[i].json);
		cJSON_Delete(j);
	}
	/* a large object takes the sorted path; duplicate first and last */
	for (int dup = 0; dup < 2; dup++) {
		o = (size_t)snprintf(big, sizeof(big), "{");
		for (int i = 0; i < 200; i++)
			o += (size_t)snprintf(big + o, sizeof(big) - o,
			    "\"k%d\":%d,", i, i);
		snprintf(big + o, sizeof(big) - o, "\"k%d\":0}", dup ? 0 : 200);
		cr_assert_eq(mob_json_parse_strict(big, strlen(big), &j), 0);
		cr_assert_eq(mob_json_check_unique(j), dup ? MOB_EHDRDUP : 0);
		cJSON_Delete(j);
	}
}

Test(jws, keys_reject_bad_lengths_and_report_their_type)
{
	uint8_t raw[65] = { 0 };
	struct mob_key *k;
	enum mob_alg a;

	cr_assert_eq(mob_key_from_secret(raw, 31, &k), MOB_EINVAL);
	cr_assert_null(k);
	cr_assert_eq(mob_key_from_secret(raw, 65, &k), MOB_EINVAL);
	cr_assert_eq(mob_key_from_ed25519_public(raw, 31, &k), MOB_EINVAL);
	cr_assert_eq(mob_key_from_ed25519_private(raw, 33, &k), MOB_EINVAL);
	cr_assert_eq(mob_key_from_secret(raw, 32, &k), 0);
	cr_assert_eq(mob_key_alg(k), MOB_ALG_HS256);
	cr_assert_eq(mob_key_can_sign(k), 1);
	cr_assert_eq(mob_key_raw(k, 0, raw, sizeof(raw)), MOB_EINVAL);
	mob_key_free(k);
	mob_key_free(NULL);
	cr_assert_eq(mob_alg_parse("none", &a), MOB_EALGNONE);
	cr_assert_eq(mob_alg_parse("EdDSA", &a), 0);
	cr_assert_eq(a, MOB_ALG_EDDSA);
	cr_assert_str_eq(mob_alg_name(MOB_ALG_HS256), "HS256");
	cr_assert_null(mob_alg_name(MOB_ALG_INVALID));
}

Test(jws, duplicated_keys_sign_alike)
{
	struct mob_key *k, *d;
	uint8_t s1[64], s2[64];
	size_t l1, l2;

	for (int alg = MOB_ALG_HS256; alg <= MOB_ALG_EDDSA; alg++) {
		cr_assert_eq(mob_key_generate((enum mob_alg)alg, &k), 0);
		cr_assert_eq(mob_key_dup(k, &d), 0);
		mob_key_free(k);	/* the copy outlives the original */
		cr_assert_eq(mob_key_sign(d, (const uint8_t *)"m", 1, s1,
		    sizeof(s1), &l1), 0);
		cr_assert_eq(mob_key_verify(d, (const uint8_t *)"m", 1, s1, l1), 0);
		cr_assert_eq(mob_key_sign(d, (const uint8_t *)"m", 1, s2,
		    sizeof(s2), &l2), 0);
		cr_assert_eq(l1, l2);
		s1[0] ^= 1;
		cr_assert_eq(mob_key_verify(d, (const uint8_t *)"m", 1, s1, l1),
		    MOB_EBADSIG);
		mob_key_free(d);
	}
}
