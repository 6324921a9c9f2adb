/*
 * What envelope and token verification have in common: the signature
 * check over the keys a kid may have, and the strict reading of claims.
 */
#include <stdint.h>
#include <string.h>

#include <cJSON.h>

#include "internal.h"
#include "mobius/err.h"

int
mob_jws_parse_verified(const char *msg, size_t len, size_t max,
    mob_key_lookup_fn lookup, void *ctx, enum mob_key_use use,
    struct mob_jws *jws)
{
	return mob_jws_parse_trusted(msg, len, max, lookup, ctx, use,
	    MOB_ALG_INVALID, jws);
}

int
mob_jws_parse_trusted(const char *msg, size_t len, size_t max,
    mob_key_lookup_fn lookup, void *ctx, enum mob_key_use use,
    enum mob_alg hub_alg, struct mob_jws *jws)
{
	const struct mob_key *key;
	int r, rk;

	if ((r = mob_jws_parse(msg, len, max, jws)) != 0)
		return r;
	if (jws->kid[0] == '\0')
		return MOB_EHDRMISSING;
	if (hub_alg != MOB_ALG_INVALID && jws->alg == hub_alg)
		return 0;
	/* Try the active key, then keys in rotation grace. */
	r = MOB_EKIDUNKNOWN;
	for (size_t idx = 0; idx < MOB_KEY_IDX_MAX; idx++) {
		if ((key = lookup(ctx, jws->kid, idx)) == NULL)
			break;
		if ((key = mob_key_for(key, use)) == NULL)
			rk = MOB_EALGMISMATCH;
		else if ((rk = mob_jws_verify(jws, key)) == 0)
			return 0;
		/* a bad signature says more than a key of the other type */
		if (rk != MOB_EALGMISMATCH || r == MOB_EKIDUNKNOWN)
			r = rk;
	}
	return r;
}

int
mob_claims_open(const struct mob_jws *jws, cJSON **out)
{
	cJSON *claims;
	int r;

	*out = NULL;
	if ((r = mob_json_parse_strict(jws->payload, jws->payload_len,
	    &claims)) != 0)
		return r;
	if (!cJSON_IsObject(claims))
		r = MOB_ECLAIM;
	else
		r = mob_json_check_unique(claims);
	if (r != 0) {
		cJSON_Delete(claims);
		return r;
	}
	*out = claims;
	return 0;
}

int
mob_claims_pick(const cJSON *claims, const char *const names[],
    const cJSON *found[], size_t n)
{
	const cJSON *c;
	size_t i;

	for (c = claims->child; c != NULL; c = c->next) {
		for (i = 0; i < n && strcmp(c->string, names[i]) != 0; i++)
			;
		if (i == n)
			return MOB_ECLAIM;
		found[i] = c;
	}
	return 0;
}

