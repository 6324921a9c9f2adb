/*
 * JWS compact serialization (RFC 7515) for HS256 and EdDSA (RFC 8037).
 *
 * Strict: the token is capped at max bytes before anything is decoded;
 * exactly three base64url parts with canonical encoding; the header is a
 * JSON object with "alg" (required), "kid" and "typ" (optional, strings)
 * and nothing else; duplicate members anywhere in header or payload are
 * rejected (MOB_EHDRDUP); "none" is never accepted.
 */
#ifndef MOBIUS_JWS_H
#define MOBIUS_JWS_H

#include <stddef.h>
#include <stdint.h>

#include "mobius/key.h"

#define MOB_JWS_MAX_DEFAULT	65536
#define MOB_KID_MAX		32
#define MOB_JWS_HDR_MAX		512	/* decoded header bytes (MOB_ETOOLONG above) */

struct mob_jws {
	enum mob_alg alg;
	char kid[MOB_KID_MAX];		/* "" when absent */
	char *payload;			/* decoded, NUL-terminated, owned */
	size_t payload_len;
	const char *signing_input;	/* points into the caller's token */
	size_t signing_input_len;
	uint8_t sig[MOB_SIG_MAX];
	size_t sig_len;
};

/* Sign payload; *out is a NUL-terminated token, free() it.  kid may be NULL. */
int mob_jws_sign(const struct mob_key *key, const char *kid,
    const char *payload, size_t payload_len, char **out);

/* Parse without verifying.  max 0 means MOB_JWS_MAX_DEFAULT. */
int mob_jws_parse(const char *tok, size_t len, size_t max, struct mob_jws *out);

/* Verify a parsed token with key: alg must match the key type. */
int mob_jws_verify(const struct mob_jws *jws, const struct mob_key *key);

void mob_jws_clear(struct mob_jws *jws);

struct cJSON;

/*
 * Parse exactly len bytes of JSON text (need not be NUL-terminated):
 * trailing non-whitespace, NUL bytes and "\u0000" escapes give MOB_EJSON.
 * Does not check duplicates (mob_json_check_unique).
 */
int mob_json_parse_strict(const char *s, size_t len, struct cJSON **out);

/* Base64url-encoded protected header {"alg","kid"} for key into out;
 * returns its length or an error.  outsz >= MOB_B64URL_LEN(MOB_JWS_HDR_MAX)+1
 * is always enough. */
int mob_jws_header(const struct mob_key *key, const char *kid, char *out,
    size_t outsz);
/* Sign with a ready encoded header (callers that sign often cache it). */
int mob_jws_sign_b64hdr(const struct mob_key *key, const char *hdr,
    size_t hdrlen, const char *payload, size_t payload_len, char **out,
    size_t *outlen);

/* Reject a parsed cJSON tree with duplicate object members at any depth
 * (cJSON keeps duplicates as siblings): MOB_EHDRDUP. */
int mob_json_check_unique(const struct cJSON *json);

/*
 * Add item to obj under name (to an array when name is NULL), or on
 * failure (out of memory, item NULL) delete item: MOB_ENOMEM.  Either way
 * the caller no longer owns item, so nothing leaks.
 */
int mob_json_add(struct cJSON *obj, const char *name, struct cJSON *item);

/*
 * cJSON_PrintUnformatted, except that every integral number up to
 * 2^53-1 in magnitude is written as an integer, digit for digit (a seq,
 * an iat, a value).  The tree is the same after the call.  NULL when out
 * of memory.
 */
char *mob_json_print(struct cJSON *json);

#endif
