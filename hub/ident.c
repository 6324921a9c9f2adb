/*
 * Identity lookup: which keyring entries may speak as an identity, and
 * whether an id belongs to this node or is its router.  A client id is
 * its identity HID/SID, or HID/SID/RUN for one run of a CLI key
 * (mob_cid_split, docs/hub.md "Identities"): callers look up its identity.  Used by the
 * hot-path callbacks; reads the keyring plugin.c loaded, nothing else.
 */
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "internal.h"

enum mob_alg
hub_ident__alg(const struct mob_keyring *kr)
{
	return mob_keyring_mode(kr) == MOB_MODE_COMPAT ? MOB_ALG_HS256 :
	    MOB_ALG_EDDSA;
}

const struct mob_kr_entry *
hub_ident__entry(const struct hub *h, const char *id, size_t idx)
{
	const struct mob_kr_entry *e;
	int64_t now = time(NULL);
	size_t seen = 0;

	for (size_t i = 0; (e = mob_keyring_lookup(h->kr, id, i, now)) != NULL;
	    i++) {
		if (e->kind != MOB_ENTRY_SERVICE || e->key == NULL ||
		    e->alg != hub_ident__alg(h->kr))
			continue;
		if (seen++ == idx)
			return e;
	}
	return NULL;
}

const struct mob_key *
hub_ident__lookup(void *ctx, const char *kid, size_t idx)
{
	const struct mob_kr_entry *e = hub_ident__entry(ctx, kid, idx);

	return e != NULL ? e->key : NULL;
}

int
hub_ident__is_local(const struct hub *h, const char *id)
{
	return strncmp(id, mob_keyring_hid(h->kr), 6) == 0 && id[6] == '/';
}

int
hub_ident__is_router(const struct hub *h, const char *id)
{
	return hub_ident__is_local(h, id) &&
	    strcmp(id + 7, h->o.router_sid) == 0;
}

int
hub_ident__valid(const struct hub *h, const char *cid,
    const struct hub_client *c)
{
	const struct mob_key *k;
	char id[MOB_ID_MAX];
	uint8_t a[64], b[64];
	int na, nb, ok = 0;

	if (mob_cid_split(cid, id) < 0 ||
	    (na = mob_key_raw(c->key, mob_key_alg(c->key) == MOB_ALG_HS256,
	    a, sizeof(a))) < 0)
		return 0;
	for (size_t i = 0; !ok &&
	    (k = hub_ident__lookup((void *)h, id, i)) != NULL; i++) {
		nb = mob_key_raw(k, mob_key_alg(k) == MOB_ALG_HS256, b, sizeof(b));
		ok = nb == na && CRYPTO_memcmp(a, b, (size_t)na) == 0;
	}
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	return ok;
}
