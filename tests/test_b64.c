/* base64url: RFC 4648 vectors, round trips, strict rejection. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/rand.h>

#include "mobius/b64.h"
#include "mobius/err.h"

static const char *const rfc4648[][2] = {
	{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
};

static int
dec(const char *s, uint8_t *out, size_t outsz, size_t *outlen)
{
	return mob_b64url_decode(s, strlen(s), out, outsz, outlen);
}

Test(b64, encodes_rfc4648_vectors_without_padding)
{
	char out[16];

	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		int n = mob_b64url_encode((const uint8_t *)rfc4648[i][0],
		    strlen(rfc4648[i][0]), out, sizeof(out));

		cr_assert_eq(n, (int)strlen(rfc4648[i][1]));
		cr_assert_str_eq(out, rfc4648[i][1]);
	}
}

Test(b64, decodes_rfc4648_vectors)
{
	uint8_t out[16];
	size_t n;

	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		cr_assert_eq(dec(rfc4648[i][1], out, sizeof(out), &n), 0);
		cr_assert_eq(n, strlen(rfc4648[i][0]));
		cr_assert(memcmp(out, rfc4648[i][0], n) == 0);
	}
}

Test(b64, uses_the_url_alphabet)
{
	static const uint8_t in[] = { 0xfb, 0xff, 0xbf };
	uint8_t out[4];
	char s[8];
	size_t n;

	cr_assert_eq(mob_b64url_encode(in, sizeof(in), s, sizeof(s)), 4);
	cr_assert_str_eq(s, "-_-_");
	cr_assert_eq(dec("-_-_", out, sizeof(out), &n), 0);
	cr_assert_eq(n, 3);
	cr_assert(memcmp(out, in, 3) == 0);
	cr_assert_eq(dec("+/+/", out, sizeof(out), &n), MOB_EB64);
}

Test(b64, round_trips_every_length_up_to_1200)
{
	static uint8_t in[1200], out[1200];
	static char s[MOB_B64URL_LEN(1200) + 1];
	size_t n;

	cr_assert_eq(RAND_bytes(in, sizeof(in)), 1);
	for (size_t len = 0; len <= sizeof(in); len++) {
		int e = mob_b64url_encode(in, len, s, MOB_B64URL_LEN(len) + 1);

		cr_assert_eq(e, (int)MOB_B64URL_LEN(len), "len %zu", len);
		cr_assert_eq(strlen(s), (size_t)e);
		cr_assert_eq(mob_b64url_decode(s, (size_t)e, out, len, &n), 0);
		cr_assert_eq(n, len);
		cr_assert(memcmp(in, out, len) == 0, "len %zu", len);
	}
}

Test(b64, rejects_padding_and_foreign_characters)
{
	static const char *const bad[] = {
		"Zg==", "Zm8=", "Zg=", "Zm9v====", "Zm 9v", "Zm9v\n", " Zm9v",
		"Zm.v", "Zm9v+A", "Zm9v/A", "Z\xc3\xa9v",
		"QUJ\xc4",	/* libsodium 1.0.18's decoder takes it for "QUJD" */
	};
	uint8_t out[16];
	size_t n = 99;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(dec(bad[i], out, sizeof(out), &n), MOB_EB64, "%s",
		    bad[i]);
		cr_assert_eq(n, 0);
	}
	/* an embedded NUL within the given length */
	cr_assert_eq(mob_b64url_decode("Zm\0v", 4, out, sizeof(out), &n),
	    MOB_EB64);
}

Test(b64, rejects_a_length_of_one_mod_four)
{
	uint8_t out[16];
	size_t n;

	cr_assert_eq(dec("Z", out, sizeof(out), &n), MOB_EB64);
	cr_assert_eq(dec("Zm9vY", out, sizeof(out), &n), MOB_EB64);
}

Test(b64, rejects_non_canonical_trailing_bits)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t b[2], out[4];
	char s[8], t[8], re[8];
	size_t n;
	int accepted;

	/*
	 * Of the 64 possible last characters only those with zero unused bits
	 * decode (4 for one byte, 16 for two), and each re-encodes to itself:
	 * every byte string has exactly one accepted encoding.
	 */
	for (int len = 1; len <= 2; len++)
		for (int v = 0; v < 256; v++) {
			b[0] = (uint8_t)v;
			b[1] = (uint8_t)(v * 7);
			mob_b64url_encode(b, (size_t)len, s, sizeof(s));
			accepted = 0;
			for (int c = 0; c < 64; c++) {
				memcpy(t, s, sizeof(t));
				t[len] = alpha[c];
				if (mob_b64url_decode(t, (size_t)len + 1, out,
				    sizeof(out), &n) == 0) {
					accepted++;
					cr_assert_eq(n, (size_t)len);
					mob_b64url_encode(out, n, re, sizeof(re));
					cr_assert_str_eq(re, t);
				}
			}
			cr_assert_eq(accepted, len == 1 ? 4 : 16);
		}
	cr_assert_eq(dec("Zh", out, sizeof(out), &n), MOB_EB64);
	cr_assert_eq(dec("Zm9", out, sizeof(out), &n), MOB_EB64);
}

Test(b64, reports_too_small_buffers)
{
	uint8_t out[6];
	char s[9];
	size_t n;

	cr_assert_eq(mob_b64url_encode((const uint8_t *)"foobar", 6, s, 8),
	    MOB_ETOOLONG);
	cr_assert_eq(mob_b64url_encode((const uint8_t *)"foobar", 6, s, 9), 8);
	cr_assert_eq(dec("Zm9vYmFy", out, 5, &n), MOB_ETOOLONG);
	cr_assert_eq(dec("Zm9vYmFy", out, 6, &n), 0);
}

Test(b64, decodes_long_input_across_chunks)
{
	static uint8_t in[5000], out[5000];
	static char s[MOB_B64URL_LEN(5000) + 1];
	size_t n;

	cr_assert_eq(RAND_bytes(in, sizeof(in)), 1);
	mob_b64url_encode(in, sizeof(in), s, sizeof(s));
	cr_assert_eq(dec(s, out, sizeof(out), &n), 0);
	cr_assert_eq(n, sizeof(in));
	cr_assert(memcmp(in, out, n) == 0);
	/* a bad character far into the input is still seen */
	s[4000] = '=';
	cr_assert_eq(dec(s, out, sizeof(out), &n), MOB_EB64);
}
