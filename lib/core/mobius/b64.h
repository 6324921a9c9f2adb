/* base64url without padding (RFC 4648 §5, RFC 7515 §2), strict. */
#ifndef MOBIUS_B64_H
#define MOBIUS_B64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes, without the NUL. */
#define MOB_B64URL_LEN(n) ((((n) + 2) / 3) * 4 - ((3 - (n) % 3) % 3))

/*
 * Encode len bytes into out (outsz must be >= MOB_B64URL_LEN(len) + 1);
 * NUL-terminates.  Returns the encoded length or MOB_ETOOLONG.
 */
int mob_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outsz);

/*
 * Decode exactly len chars.  Rejects padding, characters outside the url
 * alphabet, a length of 1 mod 4 and non-canonical trailing bits
 * (MOB_EB64); MOB_ETOOLONG if the result does not fit outsz.
 * On success *outlen is set.
 */
int mob_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outsz,
    size_t *outlen);

#endif
