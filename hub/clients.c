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
	    &h->clients)) != 0)
		return r;
	return htab_new(mob_keyring_count(h->kr) + 64, free, 1, &h->offline);
}

void
hub_clients__free(struct hub *h)
{
	htab_free(h->clients);
	htab_free(h->offline);
}

int
hub_clients__login(struct hub *h, struct mosquitto *mosq, const char *id,
    const struct mob_key *key, const uint8_t pwhash[32],
    struct mob_key *session)
{
	struct hub_client *c;
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		mob_key_free(session);
		return MOB_ENOMEM;
	}
	c->mosq = mosq;
	c->session = session;
	c->session_at = mob_clock_mono_ms();
	memcpy(c->pwhash, pwhash, sizeof(c->pwhash));
	if ((r = mob_key_dup(key, &c->key)) != 0 ||
	    (r = htab_put(h->clients, id, c, 0, 0, 0)) != 0) {
		clients_free(c);
		return r;
	}
	htab_del(h->offline, id);
	return 0;
}

struct hub_client *
hub_clients__find(struct hub *h, const char *id, const struct mosquitto *mosq)
{
	struct hub_client *c = htab_get(h->clients, id, 0);

	return c != NULL && c->mosq == mosq ? c : NULL;
}

int
hub_clients__gone(struct hub *h, const char *id, const struct mosquitto *mosq)
{
	struct hub_client *c = hub_clients__find(h, id, mosq);
	struct hub_session *s;

	if (c == NULL)
		return 0;
	if ((s = calloc(1, sizeof(*s))) != NULL) {
		s->mosq = c->mosq;
		memcpy(s->pwhash, c->pwhash, sizeof(s->pwhash));
		s->session = c->session != NULL;
		if (htab_put(h->offline, id, s, 0, 0, 0) != 0)
			free(s);
	}
	htab_del(h->clients, id);
	return 1;
}

int
hub_clients__was(struct hub *h, const char *id, const struct mosquitto *mosq,
    const uint8_t pwhash[32])
{
	const struct hub_session *s = htab_get(h->offline, id, 0);

	return s != NULL && s->mosq == mosq && !s->session &&
	    CRYPTO_memcmp(s->pwhash, pwhash, sizeof(s->pwhash)) == 0;
}

int
hub_clients__was_session(struct hub *h, const char *id,
    const struct mosquitto *mosq)
{
	const struct hub_session *s = htab_get(h->offline, id, 0);

	return s != NULL && s->mosq == mosq && s->session;
}
