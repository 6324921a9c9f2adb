/*
 * base64url (RFC 4648 §5) without padding, by libsodium's codec
 * (sodium_bin2base64 / sodium_base642bin, variant URLSAFE_NO_PADDING).
 * Decoding is strict so every byte string has exactly one accepted
 * encoding (a JWS must not be malleable): libsodium refuses ASCII
 * characters outside the alphabet, padding, a length of 1 mod 4 and
 * non-zero unused low bits in the last character; we refuse the rest
 * (test_b64).
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "mobius/b64.h"
#include "mobius/err.h"

#define B64_VARIANT	sodium_base64_VARIANT_URLSAFE_NO_PADDING

int
mob_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	size_t enclen;

	if (len > (SIZE_MAX - 4) / 4 * 3)
		return MOB_ETOOLONG;
	enclen = MOB_B64URL_LEN(len);
	if (enclen > INT32_MAX || outsz < enclen + 1)
		return MOB_ETOOLONG;
	/* its ENCODED_LEN counts the NUL: enclen + 1 */
	sodium_bin2base64(out, enclen + 1, in, len, B64_VARIANT);
	return (int)enclen;
}

int
mob_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outsz,
    size_t *outlen)
{
	size_t rem = len % 4, need, n = 0;
	const char *end = NULL;
	unsigned char hi = 0;

	if (outlen != NULL)
		*outlen = 0;
	if (rem == 1)
		return MOB_EB64;
	/*
	 * libsodium 1.0.18 (Debian 12) takes bytes >= 0x80 for alphabet
	 * characters ("QUJ\xc4" decodes as "QUJD" does; every ASCII byte it
	 * judges right): those are refused first.
	 */
	for (size_t i = 0; i < len; i++)
		hi |= (unsigned char)in[i];
	if (hi & 0x80)
		return MOB_EB64;
	need = len / 4 * 3 + (rem == 0 ? 0 : rem - 1);
	if (need > outsz)
		return MOB_ETOOLONG;
	/* no characters ignored; it must stop at the end, having used all */
	if (sodium_base642bin(out, outsz, in, len, NULL, &n, &end,
	    B64_VARIANT) != 0 || end != in + len || n != need)
		return MOB_EB64;
	if (outlen != NULL)
		*outlen = n;
	return 0;
}
