/*
 * MQTT password tokens (docs/protocol.md): a JWS binding the client's
 * identity (iss, = client id), its username (sub), a time (iat) and a
 * random single-use nonce.  The hub checks the nonce with a bounded cache
 * whose entries expire when the token could no longer pass the iat check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/rand.h>

#include "internal.h"
#include "mobius/b64.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/proto.h"
#include "mobius/table.h"
#include "mobius/token.h"
#include "mobius/uri.h"

#define NONCE_MIN	16	/* shortest nonce accepted (96 bits) */
#define TOKEN_MAX	2048	/* a token is ~300 bytes */

int
mob_token_mint_ex(const struct mob_key *key, const char *id, const char *sub,
    int64_t now_ms, const uint8_t nonce_raw[MOB_TOKEN_NONCE_LEN],
    const uint8_t *epk, char **out)
{
	char nonce[MOB_B64URL_LEN(MOB_TOKEN_NONCE_LEN) + 1];
	char epk64[MOB_B64URL_LEN(MOB_X25519_LEN) + 1];
	cJSON *c = NULL;
	char *txt = NULL;
	int r;

	*out = NULL;
	if (key == NULL || !mob_id_valid(id) || !mob_user_valid(sub) ||
	    now_ms < 0)
		return MOB_EINVAL;
	/* compat: a PSK logs in with its login key, never its message key */
	if ((key = mob_key_for(key, MOB_USE_LOGIN)) == NULL)
		return MOB_EINVAL;
	if ((r = mob_b64url_encode(nonce_raw, MOB_TOKEN_NONCE_LEN, nonce,
	    sizeof(nonce))) < 0)
		return r;
	if (epk != NULL && (r = mob_b64url_encode(epk, MOB_X25519_LEN, epk64,
	    sizeof(epk64))) < 0)
		return r;
	if ((c = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(c, "iss", id) == NULL ||
	    cJSON_AddStringToObject(c, "sub", sub) == NULL ||
	    cJSON_AddNumberToObject(c, "iat", (double)now_ms) == NULL ||
	    cJSON_AddStringToObject(c, "nonce", nonce) == NULL ||
	    (epk != NULL && cJSON_AddStringToObject(c, "epk", epk64) == NULL) ||
	    (txt = mob_json_print(c)) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	r = mob_jws_sign(key, id, txt, strlen(txt), out);
 out:
	cJSON_free(txt);
	cJSON_Delete(c);
	return r;
}

int
mob_token_mint(const struct mob_key *key, const char *id, const char *sub,
    int64_t now_ms, char **out)
{
	uint8_t raw[MOB_TOKEN_NONCE_LEN];

	*out = NULL;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return MOB_ECRYPTO;
	return mob_token_mint_ex(key, id, sub, now_ms, raw, NULL, out);
}

static int
nonce_valid(const char *s)
{
	size_t n = strlen(s);

	/* base64url, the request-id alphabet */
	return n >= NONCE_MIN && n < sizeof(((struct mob_token *)0)->nonce) &&
	    mob_reqid_chars(s, n);
}

static int
token_claims(const struct mob_jws *jws, struct mob_token *out)
{
	static const char *const names[] = { "iss", "sub", "iat", "nonce",
	    "epk" };
	const cJSON *f[5] = { NULL }, *iss, *sub, *iat, *nonce, *epk;
	cJSON *claims;
	size_t n;
	double d;
	int r;

	if ((r = mob_claims_open(jws, &claims)) != 0)
		return r;
	if ((r = mob_claims_pick(claims, names, f, 5)) != 0)
		goto out;
	epk = f[4];
	iss = f[0];
	sub = f[1];
	iat = f[2];
	nonce = f[3];
	r = MOB_ECLAIM;
	if (!cJSON_IsString(iss) || !cJSON_IsString(sub) ||
	    !cJSON_IsString(nonce) ||
	    strlen(iss->valuestring) >= sizeof(out->iss) ||
	    strlen(sub->valuestring) >= sizeof(out->sub) ||
	    !nonce_valid(nonce->valuestring) || mob_claim_int(iat, &d) != 0)
		goto out;
	memcpy(out->iss, iss->valuestring, strlen(iss->valuestring) + 1);
	memcpy(out->sub, sub->valuestring, strlen(sub->valuestring) + 1);
	memcpy(out->nonce, nonce->valuestring, strlen(nonce->valuestring) + 1);
	out->iat = (int64_t)d;
	if (epk != NULL) {
		if (!cJSON_IsString(epk) ||
		    mob_b64url_decode(epk->valuestring, strlen(epk->valuestring),
		    out->epk, sizeof(out->epk), &n) != 0 || n != MOB_X25519_LEN)
			goto out;
		out->has_epk = 1;
	}
	r = 0;
 out:
	cJSON_Delete(claims);
	return r;
}

int
mob_token_verify(const char *tok, size_t len, mob_key_lookup_fn lookup,
    void *ctx, const char *client_id, const char *username, int64_t window_ms,
    int64_t now_ms, struct mob_token *out)
{
	struct mob_jws jws;
	int r;

	memset(out, 0, sizeof(*out));
	if (tok == NULL || lookup == NULL)
		return MOB_EINVAL;
	if (window_ms <= 0)
		window_ms = MOB_WINDOW_MS_DEFAULT;
	if ((r = mob_jws_parse_verified(tok, len, TOKEN_MAX, lookup, ctx,
	    MOB_USE_LOGIN, &jws)) != 0 || (r = token_claims(&jws, out)) != 0)
		goto out;
	if (strcmp(out->iss, jws.kid) != 0)
		r = MOB_EISSMISMATCH;
	else if ((client_id != NULL && strcmp(out->iss, client_id) != 0) ||
	    (username != NULL && strcmp(out->sub, username) != 0))
		r = MOB_EIDENTITY;
	else if (now_ms - out->iat > window_ms)
		r = MOB_EEXPIRED;
	else if (out->iat - now_ms > window_ms)
		r = MOB_EFUTURE;
 out:
	mob_jws_clear(&jws);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

/* --- nonce cache ------------------------------------------------------ */

/*
 * Nonces are the keys of a bounded table; each one's value is the record
 * of the identity that spent it, counting its live nonces.  The table is
 * shared, so one identity may hold at most capacity / MOB_NONCE_SHARE of
 * it: a service with a valid key that logs in as fast as it can fills its
 * own share and is refused, not everyone else (fail-closed stays local).
 */
#define MOB_NONCE_SHARE	8

struct nonce_owner {
	struct mob_nonce_cache *c;
	size_t live;			/* nonces in c->seen pointing here */
	char id[MOB_TABLE_KEY_MAX];
};

struct mob_nonce_cache {
	struct mob_table *seen;		/* nonce -> its nonce_owner */
	struct mob_table *owners;	/* identity -> nonce_owner */
	size_t quota;
	int64_t window_ms;
};

/* A nonce left the table (expired, replaced, freed): its owner has one less. */
static void
nonce_gone(void *val)
{
	struct nonce_owner *o = val;

	if (o == NULL || --o->live > 0)
		return;
	if (o->c->owners != NULL)
		mob_table_del(o->c->owners, o->id);
	free(o);
}

int
mob_nonce_cache_new(size_t capacity, int64_t window_ms,
    struct mob_nonce_cache **out)
{
	struct mob_nonce_cache *c;
	int r;

	*out = NULL;
	if (capacity == 0 || capacity > MOB_TABLE_MAX)
		return MOB_EINVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MOB_ENOMEM;
	if ((r = mob_table_new(capacity, nonce_gone, 0, &c->seen)) != 0 ||
	    (r = mob_table_new(capacity, NULL, 0, &c->owners)) != 0) {
		mob_nonce_cache_free(c);
		return r;
	}
	c->quota = capacity / MOB_NONCE_SHARE > 0 ?
	    capacity / MOB_NONCE_SHARE : 1;
	c->window_ms = window_ms > 0 ? window_ms : MOB_WINDOW_MS_DEFAULT;
	*out = c;
	return 0;
}

void
mob_nonce_cache_free(struct mob_nonce_cache *c)
{
	if (c == NULL)
		return;
	/* owners first out of reach: freeing seen frees every owner */
	mob_table_free(c->owners);
	c->owners = NULL;
	mob_table_free(c->seen);
	free(c);
}

int
mob_nonce_check(struct mob_nonce_cache *c, const char *id, const char *nonce,
    int64_t iat, int64_t now_ms)
{
	struct nonce_owner *o;
	int r;

	if (c == NULL || id == NULL || id[0] == '\0' ||
	    strlen(id) >= MOB_TABLE_KEY_MAX || nonce == NULL ||
	    nonce[0] == '\0' ||
	    strlen(nonce) >= sizeof(((struct mob_token *)0)->nonce))
		return MOB_EINVAL;
	/* A token this old fails the iat check: it cannot be remembered. */
	if (now_ms - iat > c->window_ms)
		return MOB_EEXPIRED;
	if (mob_table_find(c->seen, nonce, now_ms, NULL))
		return MOB_EREPLAY;
	if ((o = mob_table_get(c->owners, id, 0)) != NULL &&
	    o->live >= c->quota) {
		/* its count may include expired nonces not yet dropped */
		mob_table_purge(c->seen, now_ms);
		if ((o = mob_table_get(c->owners, id, 0)) != NULL &&
		    o->live >= c->quota)
			return MOB_ENOMEM;
	}
	if (o == NULL) {
		if ((o = calloc(1, sizeof(*o))) == NULL)
			return MOB_ENOMEM;
		o->c = c;
		snprintf(o->id, sizeof(o->id), "%s", id);
		if ((r = mob_table_put(c->owners, id, o, 0, now_ms, 0)) != 0) {
			free(o);
			return r;
		}
	}
	/*
	 * Remembered while a token carrying it passes the iat check, that is
	 * up to and including iat + window (the table forgets at expires).
	 * Not min(iat, now) + window: a token dated up to a window ahead
	 * verifies until its iat + window, and forgetting its nonce earlier
	 * would let it be replayed; the share above bounds what one identity
	 * holds instead.  A full table of live nonces fails closed:
	 * forgetting one would allow a replay.
	 */
	o->live++;
	if ((r = mob_table_put(c->seen, nonce, o, iat + c->window_ms + 1,
	    now_ms, 0)) != 0)
		nonce_gone(o);
	return r;
}
