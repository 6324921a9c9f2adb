/*
 * Shared by the two kinds of signed JWS the library verifies, envelopes
 * (envelope.c) and MQTT password tokens (token.c).  Not part of the API.
 */
#ifndef MOB_LIB_INTERNAL_H
#define MOB_LIB_INTERNAL_H

#include <stddef.h>

#include "mobius/envelope.h"
#include "mobius/jws.h"
#include "mobius/proto.h"

/* Keys tried for one kid: the active one, then those in rotation grace. */
#define MOB_KEY_IDX_MAX		8

/*
 * Parse msg (at most max bytes) into *jws and verify its signature with a
 * key lookup() gives for its kid, used as mob_key_for(key, use): a compat
 * PSK checks tokens with its login key and envelopes with its message key.
 * *jws is for mob_jws_clear() whatever the result.
 */
int mob_jws_parse_verified(const char *msg, size_t len, size_t max,
    mob_key_lookup_fn lookup, void *ctx, enum mob_key_use use,
    struct mob_jws *jws);
/* The same, but a JWS of alg hub_alg passes unchecked (mob_verifier_cfg). */
int mob_jws_parse_trusted(const char *msg, size_t len, size_t max,
    mob_key_lookup_fn lookup, void *ctx, enum mob_key_use use,
    enum mob_alg hub_alg, struct mob_jws *jws);

/* The claims of a verified JWS: a JSON object without duplicate members. */
int mob_claims_open(const struct mob_jws *jws, struct cJSON **out);

/*
 * Each member of claims into found[i] by its name, names[i] (n names);
 * any other member is MOB_ECLAIM.  found[] the caller sets to NULL.
 */
int mob_claims_pick(const struct cJSON *claims, const char *const names[],
    const struct cJSON *found[], size_t n);

#endif
