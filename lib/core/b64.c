/*
 * base64url (RFC 4648 §5): encoding on top of OpenSSL's EVP_EncodeBlock
 * (we translate the alphabet and handle the unpadded tail ourselves),
 * decoding by table (below).  Decoding is strict so every byte string has exactly one
 * accepted encoding (a JWS must not be malleable).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "mobius/b64.h"
#include "mobius/err.h"

/* Chunk of input EVP_EncodeBlock takes at a time; a multiple of 3. */
#define B64_CHUNK	384

/*
 * base64url character -> its 6-bit value; B64_BAD for anything else
 * (padding included).  The decoder is on the hub's per-message path, hence
 * a table and one branch-free pass: EVP_DecodeBlock behind a translation
 * pass cost 18 instructions a character there (callgrind, docs/hub.md
 * "Performance"), this about half.
 */
#define B64_BAD	0x40
static unsigned char url_val[256];
static pthread_once_t url_once = PTHREAD_ONCE_INIT;

static void
url_table(void)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";

	memset(url_val, B64_BAD, sizeof(url_val));
	for (int i = 0; i < 64; i++)
		url_val[(unsigned char)alpha[i]] = (unsigned char)i;
}

static void
to_url(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+')
			s[i] = '-';
		else if (s[i] == '/')
			s[i] = '_';
	}
}

int
mob_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	size_t full = len / 3 * 3, tail = len - full, enclen, o = 0;
	unsigned char tmp[5];

	if (len > (SIZE_MAX - 4) / 4 * 3)
		return MOB_ETOOLONG;
	enclen = MOB_B64URL_LEN(len);
	if (enclen > INT32_MAX || outsz < enclen + 1)
		return MOB_ETOOLONG;
	/*
	 * EVP_EncodeBlock takes an int length; go in chunks.  Full groups
	 * have no padding so they are written in place.
	 */
	for (size_t i = 0; i < full; i += B64_CHUNK) {
		size_t n = full - i < B64_CHUNK ? full - i : B64_CHUNK;

		/* writes 4n/3 chars plus a NUL: fits since enclen+1 <= outsz */
		EVP_EncodeBlock((unsigned char *)out + o, in + i, (int)n);
		o += n / 3 * 4;
	}
	if (tail > 0) {
		EVP_EncodeBlock(tmp, in + full, (int)tail);
		memcpy(out + o, tmp, tail + 1);
		o += tail + 1;
	}
	out[o] = '\0';
	to_url(out, o);
	return (int)o;
}

int
mob_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outsz,
    size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t full = len / 4 * 4, rem = len % 4, need, o = 0;
	uint32_t w;
	unsigned bad = 0, a, b, c, d;

	if (outlen != NULL)
		*outlen = 0;
	if (rem == 1)
		return MOB_EB64;
	pthread_once(&url_once, url_table);
	need = full / 4 * 3 + (rem == 0 ? 0 : rem - 1);
	if (need > outsz)
		return MOB_ETOOLONG;
	/* validate (B64_BAD collects in bad) and decode in one pass */
	for (size_t i = 0; i < full; i += 4) {
		a = url_val[u[i]];
		b = url_val[u[i + 1]];
		c = url_val[u[i + 2]];
		d = url_val[u[i + 3]];
		bad |= a | b | c | d;
		w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
		out[o++] = (uint8_t)(w >> 16);
		out[o++] = (uint8_t)(w >> 8);
		out[o++] = (uint8_t)w;
	}
	if (rem > 0) {
		a = url_val[u[full]];
		b = url_val[u[full + 1]];
		c = rem == 3 ? url_val[u[full + 2]] : 0;
		bad |= a | b | c;
		/* Unused low bits of the last character must be zero (canonical). */
		if ((rem == 2 && (b & 0x0f) != 0) || (rem == 3 && (c & 0x03) != 0))
			return MOB_EB64;
		w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
		out[o++] = (uint8_t)(w >> 16);
		if (rem == 3)
			out[o++] = (uint8_t)(w >> 8);
	}
	if ((bad & B64_BAD) != 0 || o != need)
		return MOB_EB64;
	if (outlen != NULL)
		*outlen = o;
	return 0;
}
