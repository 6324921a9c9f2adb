/*
 * JWS compact serialization (RFC 7515), strict.
 *
 * Parsing order: size cap, three parts, canonical base64url for each part,
 * header JSON (only alg/kid/typ, each once, each a string), payload bytes.
 * Nothing here trusts the token before the signature is checked except
 * what is needed to find the key.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "mobius/b64.h"
#include "mobius/err.h"
#include "mobius/jws.h"

/* JSON whitespace (RFC 8259 §2). */
static int
json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Parse exactly len bytes of JSON text: no trailing data, no NUL byte and
 * no "\u0000" escape (cJSON would cut the string there, so two different
 * texts would read the same).  Rejecting the escape also rejects the rare
 * harmless "\\u0000", which is fine for a fail-closed parser.
 */
int
mob_json_parse_strict(const char *s, size_t len, struct cJSON **out)
{
	const char *end = NULL, *p;
	cJSON *j;

	*out = NULL;
	if (memchr(s, '\0', len) != NULL)
		return MOB_EJSON;
	/* memchr first: most texts have no backslash at all */
	for (p = memchr(s, '\\', len); p != NULL;
	    p = memchr(p + 1, '\\', len - (size_t)(p + 1 - s)))
		if ((size_t)(s + len - p) >= 6 && memcmp(p, "\\u0000", 6) == 0)
			return MOB_EJSON;
	if ((j = cJSON_ParseWithLengthOpts(s, len, &end, 0)) == NULL)
		return MOB_EJSON;
	for (; end != NULL && end < s + len; end++)
		if (!json_ws(*end)) {
			cJSON_Delete(j);
			return MOB_EJSON;
		}
	*out = j;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Small objects are checked pairwise; large ones sorted (no O(n²) DoS). */
#define UNIQUE_PAIRWISE_MAX	16

static int
object_unique(const cJSON *obj)
{
	const cJSON *a, *b;
	const char **names;
	size_t n = 0, i;
	int r = 0;

	for (a = obj->child; a != NULL; a = a->next)
		n++;
	if (n <= UNIQUE_PAIRWISE_MAX) {
		for (a = obj->child; a != NULL; a = a->next)
			for (b = a->next; b != NULL; b = b->next)
				if (strcmp(a->string, b->string) == 0)
					return MOB_EHDRDUP;
		return 0;
	}
	if ((names = calloc(n, sizeof(*names))) == NULL)
		return MOB_ENOMEM;
	for (i = 0, a = obj->child; a != NULL; a = a->next)
		names[i++] = a->string;
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0) {
			r = MOB_EHDRDUP;
			break;
		}
	free(names);
	return r;
}

int
mob_json_check_unique(const struct cJSON *json)
{
	const cJSON *c;
	int r;

	if (json == NULL)
		return 0;
	if (cJSON_IsObject(json) && (r = object_unique(json)) != 0)
		return r;
	/* cJSON caps nesting at CJSON_NESTING_LIMIT, so recursion is bounded. */
	if (cJSON_IsObject(json) || cJSON_IsArray(json))
		for (c = json->child; c != NULL; c = c->next)
			if ((r = mob_json_check_unique(c)) != 0)
				return r;
	return 0;
}

static int
header_parse(const char *b64, size_t len, struct mob_jws *out)
{
	uint8_t buf[MOB_JWS_HDR_MAX];
	size_t n;
	cJSON *h = NULL, *c;
	int r, seen_alg = 0, seen_kid = 0, seen_typ = 0;

	/* cap before decoding: the header is small by construction */
	if (len > MOB_B64URL_LEN(sizeof(buf)))
		return MOB_ETOOLONG;
	if ((r = mob_b64url_decode(b64, len, buf, sizeof(buf), &n)) != 0)
		return r;
	if ((r = mob_json_parse_strict((const char *)buf, n, &h)) != 0)
		goto out;
	if (!cJSON_IsObject(h)) {
		r = MOB_EJSON;
		goto out;
	}
	/* Walk the members so duplicates (kept as siblings) are seen. */
	for (c = h->child; c != NULL; c = c->next) {
		int *seen;

		if (strcmp(c->string, "alg") == 0)
			seen = &seen_alg;
		else if (strcmp(c->string, "kid") == 0)
			seen = &seen_kid;
		else if (strcmp(c->string, "typ") == 0)
			seen = &seen_typ;
		else {
			r = MOB_EHDRUNKNOWN;
			goto out;
		}
		if ((*seen)++) {
			r = MOB_EHDRDUP;
			goto out;
		}
		if (!cJSON_IsString(c)) {
			r = MOB_ETYPE;
			goto out;
		}
		if (seen == &seen_alg &&
		    (r = mob_alg_parse(c->valuestring, &out->alg)) != 0)
			goto out;
		if (seen == &seen_kid) {
			size_t kl = strlen(c->valuestring);

			if (kl >= sizeof(out->kid)) {
				r = MOB_ETOOLONG;
				goto out;
			}
			memcpy(out->kid, c->valuestring, kl + 1);
		}
	}
	r = seen_alg ? 0 : MOB_EHDRMISSING;
 out:
	cJSON_Delete(h);
	return r;
}

/*
 * A sender repeats its header in every message, so the last header that
 * parsed is remembered with what it said, per thread: the same bytes give
 * the same alg and kid without decoding and parsing them again (the hub's
 * hot path).  Only a header that parsed is remembered.
 */
static _Thread_local struct {
	char b64[MOB_B64URL_LEN(MOB_JWS_HDR_MAX) / 8];
	size_t len;
	enum mob_alg alg;
	char kid[MOB_KID_MAX];
} hdr_last;

static int
header_cached(const char *b64, size_t len, struct mob_jws *out)
{
	int r;

	if (len == hdr_last.len && len > 0 &&
	    memcmp(b64, hdr_last.b64, len) == 0) {
		out->alg = hdr_last.alg;
		memcpy(out->kid, hdr_last.kid, sizeof(out->kid));
		return 0;
	}
	if ((r = header_parse(b64, len, out)) != 0 ||
	    len > sizeof(hdr_last.b64))
		return r;
	memcpy(hdr_last.b64, b64, len);
	hdr_last.len = len;
	hdr_last.alg = out->alg;
	memcpy(hdr_last.kid, out->kid, sizeof(hdr_last.kid));
	return 0;
}

int
mob_jws_parse(const char *tok, size_t len, size_t max, struct mob_jws *out)
{
	const char *d1, *d2;
	size_t plen, slen;
	int r;

	memset(out, 0, sizeof(*out));
	if (max == 0)
		max = MOB_JWS_MAX_DEFAULT;
	if (tok == NULL)
		return MOB_EINVAL;
	if (len > max)
		return MOB_ETOOLONG;
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
		return MOB_EFORMAT;
	if (d1 == tok)
		return MOB_EFORMAT;

	if ((r = header_cached(tok, (size_t)(d1 - tok), out)) != 0)
		goto fail;

	plen = (size_t)(d2 - d1 - 1);
	if ((out->payload = malloc(plen / 4 * 3 + 3)) == NULL) {
		r = MOB_ENOMEM;
		goto fail;
	}
	if ((r = mob_b64url_decode(d1 + 1, plen, (uint8_t *)out->payload,
	    plen / 4 * 3 + 2, &out->payload_len)) != 0)
		goto fail;
	out->payload[out->payload_len] = '\0';

	slen = len - (size_t)(d2 + 1 - tok);
	if (slen > MOB_B64URL_LEN(MOB_SIG_MAX)) {
		r = MOB_EBADSIG;
		goto fail;
	}
	if ((r = mob_b64url_decode(d2 + 1, slen, out->sig, sizeof(out->sig),
	    &out->sig_len)) != 0)
		goto fail;
	out->signing_input = tok;
	out->signing_input_len = (size_t)(d2 - tok);
	return 0;
 fail:
	mob_jws_clear(out);
	return r;
}

int
mob_jws_verify(const struct mob_jws *jws, const struct mob_key *key)
{
	if (jws == NULL || key == NULL || jws->signing_input == NULL)
		return MOB_EINVAL;
	/* The key decides the algorithm, never the token (RFC 8725 §3.1). */
	if (jws->alg != mob_key_alg(key))
		return MOB_EALGMISMATCH;
	return mob_key_verify(key, (const uint8_t *)jws->signing_input,
	    jws->signing_input_len, jws->sig, jws->sig_len);
}

void
mob_jws_clear(struct mob_jws *jws)
{
	if (jws == NULL)
		return;
	free(jws->payload);
	memset(jws, 0, sizeof(*jws));
}

int
mob_jws_sign_b64hdr(const struct mob_key *key, const char *hdr, size_t hdrlen,
    const char *payload, size_t payload_len, char **out, size_t *outlen)
{
	size_t plen = MOB_B64URL_LEN(payload_len), total, o, siglen;
	uint8_t sig[MOB_SIG_MAX];
	char *tok;
	int r;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (payload_len > MOB_JWS_MAX_DEFAULT * 4)
		return MOB_ETOOLONG;
	total = hdrlen + 1 + plen + 1 + MOB_B64URL_LEN(MOB_SIG_MAX) + 1;
	if ((tok = malloc(total)) == NULL)
		return MOB_ENOMEM;
	memcpy(tok, hdr, hdrlen);
	o = hdrlen;
	tok[o++] = '.';
	if ((r = mob_b64url_encode((const uint8_t *)payload, payload_len,
	    tok + o, total - o)) < 0)
		goto fail;
	o += (size_t)r;
	if ((r = mob_key_sign(key, (const uint8_t *)tok, o, sig, sizeof(sig),
	    &siglen)) != 0)
		goto fail;
	tok[o++] = '.';
	if ((r = mob_b64url_encode(sig, siglen, tok + o, total - o)) < 0)
		goto fail;
	o += (size_t)r;
	*out = tok;
	if (outlen != NULL)
		*outlen = o;
	return 0;
 fail:
	free(tok);
	return r;
}

int
mob_jws_header(const struct mob_key *key, const char *kid, char *out,
    size_t outsz)
{
	cJSON *h;
	char *txt = NULL;
	const char *alg = mob_alg_name(mob_key_alg(key));
	int r;

	if (alg == NULL)
		return MOB_EINVAL;
	if (kid != NULL && strlen(kid) >= MOB_KID_MAX)
		return MOB_ETOOLONG;
	if ((h = cJSON_CreateObject()) == NULL)
		return MOB_ENOMEM;
	if (cJSON_AddStringToObject(h, "alg", alg) == NULL ||
	    (kid != NULL && cJSON_AddStringToObject(h, "kid", kid) == NULL) ||
	    (txt = cJSON_PrintUnformatted(h)) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	r = mob_b64url_encode((const uint8_t *)txt, strlen(txt), out, outsz);
 out:
	cJSON_free(txt);
	cJSON_Delete(h);
	return r;
}

int
mob_jws_sign(const struct mob_key *key, const char *kid,
    const char *payload, size_t payload_len, char **out)
{
	char hdr[MOB_B64URL_LEN(MOB_JWS_HDR_MAX) + 1];
	int r;

	*out = NULL;
	if (key == NULL || (payload == NULL && payload_len > 0))
		return MOB_EINVAL;
	if ((r = mob_jws_header(key, kid, hdr, sizeof(hdr))) < 0)
		return r;
	return mob_jws_sign_b64hdr(key, hdr, (size_t)r, payload, payload_len,
	    out, NULL);
}

int
mob_json_add(cJSON *obj, const char *name, cJSON *item)
{
	cJSON_bool ok;

	if (item == NULL)
		return MOB_ENOMEM;
	ok = name != NULL ? cJSON_AddItemToObject(obj, name, item) :
	    cJSON_AddItemToArray(obj, item);
	if (!ok) {
		cJSON_Delete(item);
		return MOB_ENOMEM;
	}
	return 0;
}

/* Largest integer a double holds exactly with all its neighbours. */
#define JSON_INT_EXACT	9007199254740991.0

/*
 * Swap each number cJSON would misprint for a raw node with its exact
 * digits (to_raw), or swap them back.  cJSON prints an integer beyond int
 * with "%1.15g", so a 16-digit seq came out as 1.79617351760713e+15.  The
 * swapped nodes are flagged cJSON_IsReference, which marks them ours and
 * keeps cJSON_Delete off their text.
 */
static int
json_ints(cJSON *j, int to_raw)
{
	const int ours = cJSON_Raw | cJSON_IsReference;
	char buf[24];
	cJSON *c;
	double d;
	int r = 0;

	for (c = j; c != NULL && r == 0; c = c->next) {
		if (c->child != NULL)
			r = json_ints(c->child, to_raw);
		if (!to_raw && c->type == ours) {
			free(c->valuestring);
			c->valuestring = NULL;
			c->type = cJSON_Number;
			continue;
		}
		d = c->valuedouble;
		if (!to_raw || c->type != cJSON_Number || (d >= INT_MIN &&
		    d <= INT_MAX) || !(fabs(d) <= JSON_INT_EXACT) || d != floor(d))
			continue;
		snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)d);
		if ((c->valuestring = strdup(buf)) == NULL)
			r = MOB_ENOMEM;
		else
			c->type = ours;
	}
	return r;
}

char *
mob_json_print(cJSON *json)
{
	char *txt = NULL;

	if (json_ints(json, 1) == 0)
		txt = cJSON_PrintUnformatted(json);
	json_ints(json, 0);
	return txt;
}
