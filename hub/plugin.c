/*
 * Plugin entry points (mosquitto plugin API v5), keys and reload; the
 * options are parsed in opts.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "mobius/jws.h"
#include "mobius/sandbox.h"

#include "internal.h"

static const struct {
	int event;
	MOSQ_FUNC_generic_callback cb;
} hub_events[] = {
	{ MOSQ_EVT_BASIC_AUTH, hub_auth__basic },
	{ MOSQ_EVT_EXT_AUTH_START, hub_session__start },
	{ MOSQ_EVT_ACL_CHECK, hub_acl__check },
	{ MOSQ_EVT_MESSAGE, hub_message__verify },
	{ MOSQ_EVT_DISCONNECT, hub_state__disconnect },
	{ MOSQ_EVT_TICK, hub_state__tick },
};

static int hub_on_reload(int event, void *event_data, void *userdata);

/* The hub's own entry from hub.key: HID/000 with a key that can sign. */
static int
hub_own_key(const struct hub *h, const struct mob_keyring *kr,
    struct mob_key **out, char *err, size_t errlen)
{
	struct mob_keyring *hk = NULL;
	const struct mob_kr_entry *e;
	char id[MOB_ID_MAX];
	int r;

	*out = NULL;
	if ((r = mob_keyring_load(h->o.hub_key, &hk, err, errlen)) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", h->o.hub_key,
			    mob_strerror(r));
		return r;
	}
	snprintf(id, sizeof(id), "%s/%s", mob_keyring_hid(kr), HUB_SID);
	r = MOB_ENOTFOUND;
	if ((e = mob_keyring_find(hk, id)) == NULL || e->key == NULL ||
	    !mob_key_can_sign(e->key)) {
		snprintf(err, errlen, "%s: no signing key for %s", h->o.hub_key, id);
		goto out;
	}
	if (e->alg != hub_ident__alg(kr)) {
		snprintf(err, errlen, "%s: key of %s is %s, the node is in %s mode",
		    h->o.hub_key, id, mob_alg_name(e->alg),
		    mob_keyring_mode(kr) == MOB_MODE_COMPAT ? "compat" : "hardened");
		r = MOB_EALGMISMATCH;
		goto out;
	}
	r = mob_key_dup(e->key, out);
 out:
	mob_keyring_free(hk);
	return r;
}

/* Same key material: the public half (EdDSA) or the PSK (HS256). */
static int
hub_same_key(const struct mob_key *a, const struct mob_key *b)
{
	uint8_t ra[MOB_HS256_MAXLEN], rb[MOB_HS256_MAXLEN];
	int secret = mob_key_alg(a) == MOB_ALG_HS256, na, nb, same;

	if (mob_key_alg(a) != mob_key_alg(b))
		return 0;
	na = mob_key_raw(a, secret, ra, sizeof(ra));
	nb = mob_key_raw(b, secret, rb, sizeof(rb));
	same = na > 0 && na == nb && CRYPTO_memcmp(ra, rb, (size_t)na) == 0;
	OPENSSL_cleanse(ra, sizeof(ra));
	OPENSSL_cleanse(rb, sizeof(rb));
	return same;
}

/*
 * Make sure the keyring lists the hub's (public) key for distribution.  An
 * active hub entry must be the key the hub signs with: bundles hand it to
 * every client as the hub's key, so another one would let its holder speak
 * as the hub to them.
 */
static int
hub_kr_add_self(struct mob_keyring *kr, const struct mob_key *key,
    char *err, size_t errlen)
{
	const struct mob_kr_entry *cur;
	struct mob_kr_entry e;
	int r;

	memset(&e, 0, sizeof(e));
	snprintf(e.id, sizeof(e.id), "%s/%s", mob_keyring_hid(kr), HUB_SID);
	if ((cur = mob_keyring_lookup(kr, e.id, 0, time(NULL))) != NULL &&
	    cur->state == MOB_KS_ACTIVE) {
		if (cur->key != NULL && hub_same_key(cur->key, key))
			return 0;
		snprintf(err, errlen, "the keyring's active entry for %s is not "
		    "the key in the hub key file", e.id);
		return MOB_ECONFIG;
	}
	e.kind = MOB_ENTRY_HUB;
	e.alg = mob_key_alg(key);
	e.state = MOB_KS_ACTIVE;
	if (e.alg == MOB_ALG_EDDSA)
		r = mob_key_public(key, &e.key);
	else
		r = mob_key_dup(key, &e.key);
	if (r == 0 && (r = mob_keyring_add(kr, &e)) != 0)
		mob_key_free(e.key);
	return r;
}

/*
 * (Re)load keyring and hub key; on any error keep what was loaded before.
 */
int
hub_plugin__load_keys(struct hub *h, char *err, size_t errlen)
{
	struct mob_keyring *kr = NULL, *old;
	struct mob_key *key = NULL;
	struct mob_signer *signer = NULL;
	char kid[MOB_ID_MAX], digest[MOB_KR_DIGEST_LEN + 1];
	int r;

	err[0] = '\0';
	h->kr_generation++;
	if ((r = mob_keyring_load_digest(h->o.keyring, &kr, digest, err,
	    errlen)) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", h->o.keyring,
			    mob_strerror(r));
		return r;
	}
	if (h->kr != NULL &&
	    strcmp(mob_keyring_hid(h->kr), mob_keyring_hid(kr)) != 0) {
		snprintf(err, errlen, "%s: node id changed from %s to %s; restart "
		    "the hub instead", h->o.keyring, mob_keyring_hid(h->kr),
		    mob_keyring_hid(kr));
		r = MOB_ECONFIG;
		goto out;
	}
	if ((r = hub_own_key(h, kr, &key, err, errlen)) != 0)
		goto out;
	snprintf(kid, sizeof(kid), "%s/%s", mob_keyring_hid(kr), HUB_SID);
	if ((r = hub_kr_add_self(kr, key, err, errlen)) != 0 ||
	    (r = mob_signer_new(key, kid, &signer)) != 0) {
		if (err[0] != '\0')
			goto out;
		snprintf(err, errlen, "hub key: %s", mob_strerror(r));
		goto out;
	}
	old = h->kr;
	h->kr = kr;
	kr = old;
	memcpy(h->kr_digest, digest, sizeof(h->kr_digest));
	mob_key_free(h->key);
	h->key = key;
	key = NULL;
	mob_signer_free(h->signer);
	h->signer = signer;
	signer = NULL;
 out:
	mob_signer_free(signer);
	mob_key_free(key);
	mob_keyring_free(kr);
	return r;
}

void
hub_plugin__free(struct hub *h)
{
	if (h == NULL)
		return;
	hub_clients__free(h);
	htab_free(h->bad);
	hub_reqs__free(h);
	mob_nonce_cache_free(h->nonces);
	mob_verifier_free(h->verifier);
	mob_signer_free(h->signer);
	mob_key_free(h->key);
	mob_keyring_free(h->kr);
	free(h);
}

struct hub_kick {
	struct hub *h;
	char ids[64][MOB_CID_MAX];		/* client ids */
	size_t n;
	int more;
};

static void
hub_find_revoked(const char *id, void *val, void *arg)
{
	struct hub_kick *k = arg;

	if (hub_ident__valid(k->h, id, val))
		return;
	if (k->n < sizeof(k->ids) / sizeof(k->ids[0]))
		snprintf(k->ids[k->n++], MOB_CID_MAX, "%s", id);
	else
		k->more = 1;
}

/* Disconnect every client whose login key is no longer usable. */
static void
hub_kick_revoked(struct hub *h)
{
	struct hub_kick k;

	do {
		memset(&k, 0, sizeof(k));
		k.h = h;
		htab_walk(h->clients, hub_find_revoked, &k);
		for (size_t i = 0; i < k.n; i++) {
			const struct hub_client *c = htab_get(h->clients,
			    k.ids[i], 0);
			char id[MOB_ID_MAX];

			mosquitto_log_printf(MOSQ_LOG_NOTICE, "mobius: %s: key "
			    "revoked or expired, disconnecting", k.ids[i]);
			mob_verifier_forget(h->verifier, k.ids[i]);
			/* the re-check that follows must see a session gone */
			if (hub_clients__gone(h, k.ids[i], c->mosq) ==
			    HUB_GONE_LAST && mob_cid_split(k.ids[i], id) >= 0)
				hub_state__offline(h, id, "revoked");
			mosquitto_kick_client_by_clientid(k.ids[i], false);
			h->st.kicked++;
		}
	} while (k.more);
}

static int
hub_on_reload(int event, void *event_data, void *userdata)
{
	struct hub *h = userdata;
	char err[512];
	int r;

	(void)event;
	(void)event_data;
	/*
	 * Mosquitto re-checks every session right after this callback, in
	 * the same turn of its loop; the next tick ends the re-check.
	 */
	h->reloading = 1;
	if ((r = hub_plugin__load_keys(h, err, sizeof(err))) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "mobius: reload failed, keeping "
		    "the previous keys: %s", err);
		snprintf(h->status_err, sizeof(h->status_err), "%s", err);
		h->status_due = 1;
		return MOSQ_ERR_SUCCESS;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "mobius: keyring reloaded: %zu "
	    "entries", mob_keyring_count(h->kr));
	/* revoked clients go before keytool hears that the reload is done */
	hub_kick_revoked(h);
	hub_keys__resend_all(h);
	h->status_err[0] = '\0';
	h->status_due = 1;
	return MOSQ_ERR_SUCCESS;
}

int
mosquitto_plugin_version(int supported_version_count,
    const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

static void
hub_unregister(struct hub *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mosquitto_callback_unregister(h->pid, hub_events[i].event,
		    hub_events[i].cb, NULL);
	mosquitto_callback_unregister(h->pid, MOSQ_EVT_RELOAD, hub_on_reload,
	    NULL);
}

int
mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
    struct mosquitto_opt *options, int option_count)
{
	struct hub *h;
	char err[512], opterr[480];
	size_t i;
	int r;

	*userdata = NULL;
	/* sandbox: no exec from here on, not even the launcher's one */
	if (mob_sandbox_lock_exec() != 0)
		return MOSQ_ERR_UNKNOWN;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return MOSQ_ERR_NOMEM;
	h->pid = identifier;
	err[0] = '\0';
	if ((r = hub_opts__parse(&h->o, options, option_count, opterr,
	    sizeof(opterr))) != 0) {
		snprintf(err, sizeof(err), "plugin_opt_%s", opterr);
		goto fail;
	}
	if ((r = hub_plugin__load_keys(h, err, sizeof(err))) != 0)
		goto fail;
	if ((r = hub_clients__init(h)) != 0 ||
	    (r = hub_auth__init(h)) != 0 ||
	    (r = hub_message__init(h)) != 0 ||
	    (r = hub_reqs__init(h)) != 0) {
		snprintf(err, sizeof(err), "%s", mob_strerror(r));
		goto fail;
	}
	for (i = 0; i < sizeof(hub_events) / sizeof(hub_events[0]); i++) {
		if (mosquitto_callback_register(identifier, hub_events[i].event,
		    hub_events[i].cb, NULL, h) != MOSQ_ERR_SUCCESS) {
			snprintf(err, sizeof(err), "cannot register callback %d",
			    hub_events[i].event);
			hub_unregister(h, i);
			goto fail;
		}
	}
	if (mosquitto_callback_register(identifier, MOSQ_EVT_RELOAD,
	    hub_on_reload, NULL, h) != MOSQ_ERR_SUCCESS) {
		snprintf(err, sizeof(err), "cannot register the reload callback");
		hub_unregister(h, i);
		goto fail;
	}
	*userdata = h;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "mobius: hub %s in %s mode, %zu "
	    "keyring entries", mob_keyring_hid(h->kr),
	    mob_keyring_mode(h->kr) == MOB_MODE_COMPAT ? "compat" : "hardened",
	    mob_keyring_count(h->kr));
	hub_state__hub_start(h);
	h->status_due = 1;
	return MOSQ_ERR_SUCCESS;
 fail:
	mosquitto_log_printf(MOSQ_LOG_ERR, "mobius: %s", err[0] ? err :
	    mob_strerror(r));
	hub_plugin__free(h);
	return MOSQ_ERR_UNKNOWN;
}

int
mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
    int option_count)
{
	struct hub *h = userdata;

	(void)options;
	(void)option_count;
	if (h == NULL)
		return MOSQ_ERR_SUCCESS;
	hub_unregister(h, sizeof(hub_events) / sizeof(hub_events[0]));
	hub_plugin__free(h);
	return MOSQ_ERR_SUCCESS;
}
