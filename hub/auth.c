/*
 * Logins.  MOSQ_EVT_BASIC_AUTH: the MQTT password is a token
 * (mobius/token.h).  The MQTT 5 session handshake (session.c) checks its
 * token here too (hub_auth__check, hub_auth__admit).
 *
 * Checked: signature with the key of the client id's identity (active key
 * or one in rotation grace; revoked and expired keys are not found), iss
 * == that identity, username == the entry's SPID/SID, iat window, nonce
 * never seen.  The identity of client id HID/SID is itself; a client id
 * HID/SID/RUN (one run of a command-line key, docs/hub.md "Identities")
 * is let in only for a key of the CLI profile (MOB_SPID_CLI), at most
 * runs_max at once per key (clients.c).
 *
 * A token that verifies is never refused because of anyone else's
 * failures: nothing a client chooses (its client id, on the Unix socket
 * its address too) decides whether another client's login is verified.
 * Bad-token floods stay cheap another way:
 * - a password that is no token (garbage, too long, wrong alg or kid)
 *   fails before any signature is checked;
 * - a token that failed is remembered by its SHA-256 for the iat window,
 *   so sending it again costs a table lookup, not a verification; a new
 *   forgery costs the attacker a signature of its own per try;
 * - explaining a refusal (does it verify with a revoked key?) costs extra
 *   verifications, so at most HUB_WHY_PER_S a second get one.
 * An earlier version backed off per (address, client id) before
 * verifying: anyone could lock a service out by failing in its name.
 *
 * Mosquitto re-runs this check for every session after a reload (SIGHUP)
 * with the password it stored at connect.  That token's nonce is spent, so
 * such a re-check is recognised by client pointer and token hash: a
 * logged-in client passes while the key it logged in with is still
 * usable, an offline session passes as it is (clients.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "internal.h"

#define HUB_WHY_PER_S	20	/* refusals explained a second */

/* Records the entry whose key the token verifier tried last. */
struct login_ctx {
	struct hub *h;
	const struct mob_kr_entry *last;
};

static const struct mob_key *
login_lookup(void *ctx, const char *kid, size_t idx)
{
	struct login_ctx *lc = ctx;
	const struct mob_kr_entry *e = hub_ident__entry(lc->h, kid, idx);

	if (e == NULL)
		return NULL;
	lc->last = e;
	return e->key;
}

int
hub_auth__init(struct hub *h)
{
	int r;

	if ((r = mob_nonce_cache_new(h->o.nonce_max, h->o.window_ms,
	    &h->nonces)) != 0)
		return r;
	return htab_new(h->o.bad_max, NULL, 0, &h->bad);
}

static int
sha256(const char *s, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	return EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) == 1 ? 0 :
	    MOB_ECRYPTO;
}

/* Table key of a token: hex of the first half of its SHA-256. */
static void
bad_key(const uint8_t pwhash[32], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", pwhash[i]);
}

/* A lookup that offers one retired key, to explain a refusal. */
static const struct mob_key *
retired_lookup(void *ctx, const char *kid, size_t idx)
{
	(void)kid;
	return idx == 0 ? ctx : NULL;
}

/*
 * The token did not verify with a usable key: if it verifies with a
 * revoked or expired key of the same id, say so in the log.  Costs a
 * verification per retired key, so only HUB_WHY_PER_S a second.
 */
static int
login_why(struct hub *h, const char *tok, size_t len, const char *id,
    const char *user, int64_t now, int r)
{
	struct mob_token t;
	int64_t sec = mob_clock_mono_ms() / 1000;

	if (sec != h->why_second) {
		h->why_second = sec;
		h->why_budget = HUB_WHY_PER_S;
	}
	if (h->why_budget == 0)
		return r;
	h->why_budget--;

	for (const struct mob_kr_entry *e = mob_keyring_next(h->kr, id, NULL);
	    e != NULL; e = mob_keyring_next(h->kr, id, e)) {
		if (e->key == NULL || e->kind != MOB_ENTRY_SERVICE ||
		    (e->state != MOB_KS_REVOKED && e->state != MOB_KS_GRACE))
			continue;
		if (mob_token_verify(tok, len, retired_lookup, e->key, id, user,
		    h->o.window_ms, now, &t) == 0)
			return e->state == MOB_KS_REVOKED ? MOB_EREVOKED :
			    MOB_EKEYEXPIRED;
	}
	return r;
}

static int
login_check(struct hub *h, const char *cid, const char *user, const char *pw,
    size_t pwlen, int64_t now, const struct mob_kr_entry **entry,
    struct mob_token *tok)
{
	struct login_ctx lc = { h, NULL };
	char want[16], id[MOB_ID_MAX];
	int r, run;

	*entry = NULL;
	if ((run = mob_cid_split(cid, id)) < 0 || !hub_ident__is_local(h, id) ||
	    strcmp(id + 7, HUB_SID) == 0)
		return MOB_EIDENTITY;
	if (user == NULL || pw == NULL)
		return MOB_EDENIED;
	if (pwlen > HUB_PASSWORD_MAX)
		return MOB_ETOOLONG;
	r = mob_token_verify(pw, pwlen, login_lookup, &lc, id, user,
	    h->o.window_ms, now, tok);
	if (r == MOB_EKIDUNKNOWN || r == MOB_EBADSIG)
		return login_why(h, pw, pwlen, id, user, now, r);
	if (r != 0)
		return r;
	if (lc.last == NULL)
		return MOB_EKIDUNKNOWN;
	snprintf(want, sizeof(want), "%s/%s", lc.last->spid, id + 7);
	if (strcmp(user, want) != 0)
		return MOB_EIDENTITY;
	/* a service is one process: only a CLI key runs several at once */
	if (run && strcmp(lc.last->spid, MOB_SPID_CLI) != 0)
		return MOB_EIDENTITY;
	if ((r = mob_nonce_check(h->nonces, id, tok->nonce, tok->iat,
	    now)) != 0)
		return r;
	*entry = lc.last;
	return 0;
}

void
hub_auth__refused(struct hub *h, const char *id, const char *user, int r)
{
	char s1[HUB_SAFE_MAX], s2[HUB_SAFE_MAX];

	h->st.logins_failed++;
	if (r < 0 && r >= MOB_ERR_MIN)
		h->st.login_reason[-r]++;
	hub_log__event(h, "login refused for %s (user %s): %s",
	    hub_log__safe(id, s1, sizeof(s1)),
	    hub_log__safe(user, s2, sizeof(s2)), mob_errname(r));
}

int
hub_auth__check(struct hub *h, const char *id, const char *user,
    const char *tok, size_t len, const uint8_t tokhash[32], int64_t now,
    const struct mob_kr_entry **entry, struct mob_token *t)
{
	char bk[33], s1[HUB_SAFE_MAX];
	int64_t mono = mob_clock_mono_ms();
	int r;

	*entry = NULL;
	bad_key(tokhash, bk);
	if (htab_get(h->bad, bk, mono) != NULL) {
		h->st.logins_failed++;
		h->st.cached++;
		hub_log__event(h, "login refused for %s: the same token failed "
		    "before", hub_log__safe(id, s1, sizeof(s1)));
		return MOB_EDENIED;
	}
	if ((r = login_check(h, id, user, tok, len, now, entry, t)) != 0) {
		/* past the window the token fails on its iat anyway */
		htab_put(h->bad, bk, h->bad, mono + h->o.window_ms, mono, 1);
		hub_auth__refused(h, id, user, r);
	}
	return r;
}

int
hub_auth__admit(struct hub *h, struct mosquitto *client, const char *id,
    const char *user, const struct mob_kr_entry *e, const struct mob_token *t,
    const uint8_t tokhash[32], struct mob_key *session)
{
	char who[MOB_ID_MAX], s1[HUB_SAFE_MAX];
	int r;

	if ((r = hub_clients__login(h, client, id, t->nonce, e->key, tokhash,
	    session)) != 0) {
		if (r == MOB_EBUSY || r == MOB_EEXIST) {
			h->st.logins_failed++;
			h->st.login_reason[-r]++;
			hub_log__safe(id, s1, sizeof(s1));
			if (r == MOB_EBUSY)
				hub_log__event(h, "login refused for %s: as "
				    "many commands with this key as allowed "
				    "are connected already (runs_max %zu)", s1,
				    h->o.runs_max);
			else
				hub_log__event(h, "login refused for %s: "
				    "another process logged in with its key "
				    "and took its place", s1);
		} else
			hub_auth__refused(h, id, user, r);
		return r;
	}
	h->st.logins_ok++;
	mosquitto_log_printf(MOSQ_LOG_INFO, "mobius: %s logged in as %s%s",
	    id, user, session != NULL ? " with a session key" : "");
	mob_cid_split(id, who);
	hub_state__online(h, who);
	return 0;
}

int
hub_auth__basic(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct hub *h = userdata;
	const struct mob_kr_entry *e = NULL;
	struct hub_client *c;
	struct mob_token t;
	const char *id;
	uint8_t pwhash[32];
	size_t pwlen = 0;
	int64_t now = mob_clock_wall_ms();

	(void)event;
	if ((id = mosquitto_client_id(ed->client)) == NULL)
		return MOSQ_ERR_AUTH;
	if (ed->password == NULL) {
		/* a reload re-checks a session login too: it has no password */
		if ((c = hub_clients__find(h, id, ed->client)) != NULL &&
		    c->session != NULL)
			return hub_ident__valid(h, id, c) ? MOSQ_ERR_SUCCESS :
			    MOSQ_ERR_AUTH;
		/*
		 * and an offline one, only in the re-check (a connection
		 * without a password never passes here otherwise): the very
		 * context that logged in with the handshake, none other
		 */
		if (h->reloading && hub_clients__was_session(h, id, ed->client))
			return MOSQ_ERR_SUCCESS;
		hub_auth__refused(h, id, ed->username, MOB_EDENIED);
		return MOSQ_ERR_AUTH;
	}
	pwlen = strnlen(ed->password, HUB_PASSWORD_MAX + 1);
	if (sha256(ed->password, pwlen, pwhash) != 0)
		return MOSQ_ERR_AUTH;
	if ((c = hub_clients__find(h, id, ed->client)) != NULL &&
	    CRYPTO_memcmp(c->pwhash, pwhash, sizeof(pwhash)) == 0)
		return hub_ident__valid(h, id, c) ? MOSQ_ERR_SUCCESS :
		    MOSQ_ERR_AUTH;
	if (h->reloading && hub_clients__was(h, id, ed->client, pwhash))
		return MOSQ_ERR_SUCCESS;
	if (hub_auth__check(h, id, ed->username, ed->password, pwlen, pwhash,
	    now, &e, &t) != 0 ||
	    hub_auth__admit(h, ed->client, id, ed->username, e, &t, pwhash,
	    NULL) != 0)
		return MOSQ_ERR_AUTH;
	return MOSQ_ERR_SUCCESS;
}
