/*
 * The clients the hub let in, by client id.  A record is made at login
 * and belongs to that connection (the broker's context pointer): a newer
 * login with the same id replaces it, and a disconnect of an older
 * connection leaves it alone.
 *
 * When a logged-in client disconnects its record moves to the table of
 * offline sessions.  Mosquitto keeps a persistent session (MQTT 5 Session
 * Expiry Interval, or clean session off) after its client left, and at a
 * reload re-checks every session, offline ones included, with the token
 * the client logged in with.  That token's nonce is spent, so without the
 * record the re-check looks like a replay; refusing it makes mosquitto
 * 2.0.11 disconnect a client that is gone and later crash.  An offline
 * session therefore passes the re-check and is kept until it expires or
 * its client logs in afresh, which needs a fresh token like any login
 * (docs/hub.md, "Reload").
 *
 * Records are by client id; several client ids may speak as one identity
 * (runs HID/SID/RUN of a CLI key, docs/hub.md "Identities").  Each
 * identity counts its clients, for its presence (offline when the last
 * one leaves) and to bound its runs (runs_max).  A run's offline session
 * goes to a table of its own, bounded (HUB_RUNS_OFFLINE, the oldest
 * dropped first): every `mobius` command is a new client id, and those
 * records must not pile up for the life of the hub.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

/*
 * What identifies an offline session: its context and its login token (the
 * token, or the handshake's login for a session-key login, which has no
 * password for the re-check to present).
 */
struct hub_session {
	const struct mosquitto *mosq;
	uint8_t pwhash[32];
	int session;		/* logged in with the session handshake */
};

/* The clients of one identity logged in now. */
struct hub_count {
	size_t clients;		/* all of them, runs included */
	size_t runs;		/* runs HID/SID/RUN */
};

/* Offline sessions of a client id: its own table for runs. */
static struct htab *
clients_offline(struct hub *h, const char *cid, char id[MOB_ID_MAX])
{
	return mob_cid_split(cid, id) == 1 ? h->offline_runs : h->offline;
}

static void
clients_free(void *p)
{
	struct hub_client *c = p;

	if (c == NULL)
		return;
	mob_key_free(c->key);
	mob_key_free(c->session);
	free(c);
}

int
hub_clients__init(struct hub *h)
{
	int r;

	if ((r = htab_new(mob_keyring_count(h->kr) + 64, clients_free, 1,
	    &h->clients)) != 0 ||
	    (r = htab_new(mob_keyring_count(h->kr) + 64, free, 1,
	    &h->idents)) != 0 ||
	    (r = htab_new(HUB_RUNS_OFFLINE, free, 0, &h->offline_runs)) != 0)
		return r;
	return htab_new(mob_keyring_count(h->kr) + 64, free, 1, &h->offline);
}

void
hub_clients__free(struct hub *h)
{
	htab_free(h->clients);
	htab_free(h->idents);
	htab_free(h->offline);
	htab_free(h->offline_runs);
}

int
hub_clients__login(struct hub *h, struct mosquitto *mosq, const char *cid,
    const char *nonce, const struct mob_key *key, const uint8_t pwhash[32],
    struct mob_key *session)
{
	struct hub_client *c = NULL, *old;
	struct hub_count *n;
	struct htab *offline;
	char id[MOB_ID_MAX];
	int r, run, fresh;

	if ((run = mob_cid_split(cid, id)) < 0) {
		r = run;
		goto fail;
	}
	offline = clients_offline(h, cid, id);
	/* a login with a client id logged in already replaces that record */
	old = htab_get(h->clients, cid, 0);
	fresh = old == NULL;
	if (old != NULL && old->replaced[0] != '\0' &&
	    strncmp(nonce, old->replaced, MOB_INSTANCE_B64) == 0) {
		/* it would take the place back, and so on in a loop */
		r = MOB_EEXIST;
		goto fail;
	}
	if ((n = htab_get(h->idents, id, 0)) == NULL) {
		if ((n = calloc(1, sizeof(*n))) == NULL) {
			r = MOB_ENOMEM;
			goto fail;
		}
		if ((r = htab_put(h->idents, id, n, 0, 0, 0)) != 0) {
			free(n);
			goto fail;
		}
	}
	if (fresh && run && n->runs >= h->o.runs_max) {
		r = MOB_EBUSY;
		goto fail;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = MOB_ENOMEM;
		goto fail;
	}
	c->mosq = mosq;
	c->session = session;
	session = NULL;
	snprintf(c->instance, sizeof(c->instance), "%.*s", MOB_INSTANCE_B64,
	    nonce);
	/* the same process again (a new session key) keeps what it replaced */
	if (old != NULL)
		memcpy(c->replaced, strcmp(old->instance, c->instance) != 0 ?
		    old->instance : old->replaced, sizeof(c->replaced));
	c->session_at = mob_clock_mono_ms();
	memcpy(c->pwhash, pwhash, sizeof(c->pwhash));
	if ((r = mob_key_dup(key, &c->key)) != 0 ||
	    (r = htab_put(h->clients, cid, c, 0, 0, 0)) != 0) {
		clients_free(c);
		c = NULL;
		goto fail;
	}
	if (fresh) {
		n->clients++;
		n->runs += run;
	}
	htab_del(offline, cid);
	return 0;
 fail:
	mob_key_free(session);
	/* an identity without clients keeps no count */
	if (run >= 0 && (n = htab_get(h->idents, id, 0)) != NULL &&
	    n->clients == 0)
		htab_del(h->idents, id);
	return r;
}

struct hub_client *
hub_clients__find(struct hub *h, const char *id, const struct mosquitto *mosq)
{
	struct hub_client *c = htab_get(h->clients, id, 0);

	return c != NULL && c->mosq == mosq ? c : NULL;
}

int
hub_clients__gone(struct hub *h, const char *cid, const struct mosquitto *mosq)
{
	struct hub_client *c = hub_clients__find(h, cid, mosq);
	struct hub_session *s;
	struct hub_count *n;
	struct htab *offline;
	char id[MOB_ID_MAX];
	int run;

	if (c == NULL || (run = mob_cid_split(cid, id)) < 0)
		return 0;
	offline = clients_offline(h, cid, id);
	if ((s = calloc(1, sizeof(*s))) != NULL) {
		int64_t now = mob_clock_mono_ms();

		s->mosq = c->mosq;
		memcpy(s->pwhash, c->pwhash, sizeof(s->pwhash));
		s->session = c->session != NULL;
		/* runs: the oldest goes first when the table is full */
		if (htab_put(offline, cid, s, run ? now + HUB_RUNS_OFFLINE_MS : 0,
		    now, run) != 0)
			free(s);
	}
	htab_del(h->clients, cid);
	if ((n = htab_get(h->idents, id, 0)) == NULL)
		return HUB_GONE_LAST;
	n->clients--;
	n->runs -= run;
	if (n->clients > 0)
		return HUB_GONE_OTHERS;
	htab_del(h->idents, id);
	return HUB_GONE_LAST;
}

/* The offline session client (this very context) left under cid, or NULL. */
static const struct hub_session *
clients_left(struct hub *h, const char *cid, const struct mosquitto *mosq)
{
	char id[MOB_ID_MAX];
	const struct hub_session *s = htab_get(clients_offline(h, cid, id), cid,
	    mob_clock_mono_ms());

	return s != NULL && s->mosq == mosq ? s : NULL;
}

int
hub_clients__was(struct hub *h, const char *cid, const struct mosquitto *mosq,
    const uint8_t pwhash[32])
{
	const struct hub_session *s = clients_left(h, cid, mosq);

	return s != NULL && !s->session &&
	    CRYPTO_memcmp(s->pwhash, pwhash, sizeof(s->pwhash)) == 0;
}

int
hub_clients__was_session(struct hub *h, const char *cid,
    const struct mosquitto *mosq)
{
	const struct hub_session *s = clients_left(h, cid, mosq);

	return s != NULL && s->session;
}

int
hub_clients__offline(struct hub *h, const char *cid,
    const struct mosquitto *mosq)
{
	return clients_left(h, cid, mosq) != NULL;
}
