/*
 * MOSQ_EVT_BASIC_AUTH: the MQTT password is a token (mobius/token.h).
 *
 * Checked: signature with the key of the client id (active key or one in
 * rotation grace; revoked and expired keys are not found), iss == client
 * id, username == the entry's SPID/SID, iat window, nonce never seen.
 *
 * Failed logins back off per (client address, client id): on the hub's
 * Unix socket every client has the same address, so the address alone
 * would let one faulty service lock out all others.  While backing off a
 * login is refused before any signature is checked, which is the point:
 * a flood of bad tokens costs a table lookup, not an Ed25519 verify.
 *
 * Mosquitto re-runs this check for every connected client after a reload
 * (SIGHUP) with the password it stored at connect.  That token's nonce is
 * spent, so such a re-check is recognised by client pointer and token hash
 * and passes while the key the client logged in with is still usable.
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

struct hub_backoff {
	unsigned fails;
	int64_t until;		/* refuse logins before this (unix ms) */
};

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
	return htab_new(h->o.backoff_max, free, 0, &h->backoff);
}

static int
sha256(const char *s, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	return EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) == 1 ? 0 :
	    MOB_ECRYPTO;
}

/* Table key for (address, client id): hashed, both are client-chosen. */
static int
backoff_key(const char *addr, const char *id, char out[33])
{
	EVP_MD_CTX *c;
	uint8_t d[32];
	unsigned int n = sizeof(d);
	int ok;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return MOB_ENOMEM;
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, addr, strlen(addr) + 1) == 1 &&
	    EVP_DigestUpdate(c, id, strlen(id)) == 1 &&
	    EVP_DigestFinal_ex(c, d, &n) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return MOB_ECRYPTO;
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return 0;
}

static void
backoff_fail(struct hub *h, const char *bk, int64_t now)
{
	struct hub_backoff *b = htab_get(h->backoff, bk, now), *nb;
	int64_t delay;

	if (b == NULL) {
		if ((nb = calloc(1, sizeof(*nb))) == NULL)
			return;
		if (htab_put(h->backoff, bk, nb, 0, now, 1) != 0) {
			free(nb);
			return;
		}
		b = nb;
	}
	if (b->fails < 30)
		b->fails++;
	delay = h->o.backoff_base_ms << (b->fails - 1);
	if (delay > h->o.backoff_cap_ms || delay < 0)
		delay = h->o.backoff_cap_ms;
	b->until = now + delay;
	/* a quiet period as long as the cap forgets the failures */
	htab_put(h->backoff, bk, b, b->until + h->o.backoff_cap_ms + 1, now, 1);
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
 * verification per retired key, only on a failure, which backs off.
 */
static int
login_why(struct hub *h, const char *tok, size_t len, const char *id,
    const char *user, int64_t now, int r)
{
	struct mob_token t;

	for (size_t i = 0; i < h->kr->n; i++) {
		const struct mob_kr_entry *e = &h->kr->entries[i];

		if (strcmp(e->id, id) != 0 || e->key == NULL ||
		    e->kind != MOB_ENTRY_SERVICE ||
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
login_check(struct hub *h, const char *id, const char *user, const char *pw,
    size_t pwlen, int64_t now, const struct mob_kr_entry **entry)
{
	struct login_ctx lc = { h, NULL };
	struct mob_token tok;
	char want[16];
	int r;

	*entry = NULL;
	if (!mob_id_valid(id) || !hub_ident__is_local(h, id) ||
	    strcmp(id + 7, HUB_SID) == 0)
		return MOB_EIDENTITY;
	if (user == NULL || pw == NULL)
		return MOB_EDENIED;
	if (pwlen > HUB_PASSWORD_MAX)
		return MOB_ETOOLONG;
	r = mob_token_verify(pw, pwlen, login_lookup, &lc, id, user,
	    h->o.window_ms, now, &tok);
	if (r == MOB_EKIDUNKNOWN || r == MOB_EBADSIG)
		return login_why(h, pw, pwlen, id, user, now, r);
	if (r != 0)
		return r;
	if (lc.last == NULL)
		return MOB_EKIDUNKNOWN;
	snprintf(want, sizeof(want), "%s/%s", lc.last->spid, id + 7);
	if (strcmp(user, want) != 0)
		return MOB_EIDENTITY;
	if ((r = mob_nonce_check(h->nonces, tok.nonce, tok.iat, now)) != 0)
		return r;
	*entry = lc.last;
	return 0;
}

static int
login_ok(struct hub *h, struct mosquitto *client, const char *id,
    const struct mob_kr_entry *e, const uint8_t pwhash[32], int64_t now)
{
	struct hub_client *c;
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MOB_ENOMEM;
	c->mosq = client;
	memcpy(c->pwhash, pwhash, sizeof(c->pwhash));
	if ((r = mob_key_dup(e->key, &c->key)) != 0 ||
	    (r = htab_put(h->clients, id, c, 0, now, 0)) != 0) {
		mob_key_free(c->key);
		free(c);
		return r;
	}
	return 0;
}

int
hub_auth__basic(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct hub *h = userdata;
	const struct mob_kr_entry *e = NULL;
	const struct hub_backoff *b;
	struct hub_client *c;
	const char *id, *addr;
	char bk[33], s1[HUB_SAFE_MAX], s2[HUB_SAFE_MAX];
	uint8_t pwhash[32];
	size_t pwlen = 0;
	int64_t now = mob_now_ms();
	int r;

	(void)event;
	id = mosquitto_client_id(ed->client);
	addr = mosquitto_client_address(ed->client);
	if (id == NULL)
		return MOSQ_ERR_AUTH;
	if (addr == NULL)
		addr = "";
	if (ed->password != NULL) {
		pwlen = strnlen(ed->password, HUB_PASSWORD_MAX + 1);
		if (sha256(ed->password, pwlen, pwhash) != 0)
			return MOSQ_ERR_AUTH;
		c = htab_get(h->clients, id, now);
		if (c != NULL && c->mosq == ed->client &&
		    CRYPTO_memcmp(c->pwhash, pwhash, sizeof(pwhash)) == 0)
			return hub_ident__valid(h, id, c) ? MOSQ_ERR_SUCCESS :
			    MOSQ_ERR_AUTH;
	}

	if (backoff_key(addr, id, bk) != 0)
		return MOSQ_ERR_AUTH;
	if ((b = htab_get(h->backoff, bk, now)) != NULL && now < b->until) {
		h->st.logins_failed++;
		h->st.backoff++;
		hub_log__event(h, "login refused for %s: backing off after %u "
		    "failures", hub_log__safe(id, s1, sizeof(s1)), b->fails);
		return MOSQ_ERR_AUTH;
	}

	r = login_check(h, id, ed->username, ed->password, pwlen, now, &e);
	if (r == 0 && (r = login_ok(h, ed->client, id, e, pwhash, now)) == 0) {
		htab_del(h->backoff, bk);
		h->st.logins_ok++;
		mosquitto_log_printf(MOSQ_LOG_INFO, "mobius: %s logged in as %s",
		    id, ed->username);
		hub_state__online(h, id);
		return MOSQ_ERR_SUCCESS;
	}
	backoff_fail(h, bk, now);
	h->st.logins_failed++;
	if (r < 0 && r >= MOB_ERR_MIN)
		h->st.login_reason[-r]++;
	hub_log__event(h, "login refused for %s (user %s): %s",
	    hub_log__safe(id, s1, sizeof(s1)), hub_log__safe(ed->username, s2, sizeof(s2)),
	    mob_errname(r));
	return MOSQ_ERR_AUTH;
}
