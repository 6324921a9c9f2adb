/*
 * The MQTT connection to the hub (libmosquitto, no background thread).
 *
 * libmosquitto's callbacks only queue what happened; everything else
 * (verification, user handlers, publishing) runs after mosquitto_loop_*
 * returns, so a handler may publish or even issue a request without
 * re-entering libmosquitto.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "mobius/client.h"
#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/history.h"
#include "mobius/keydist.h"
#include "mobius/keyring.h"
#include "mobius/log.h"
#include "mobius/proto.h"
#include "mobius/session.h"
#include "mobius/token.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
#define RXQ_MAX		4096	/* messages queued between two dispatches */
#define TXQ_MAX		4096	/* publishes waiting: default bound */
#define MISC_MS		1000	/* mosquitto_loop_misc at least this often */
#define REFUSED_MAX	3	/* refusals in a row, once in: stop (client_taken) */
/*
 * Retained state (svc, obj, cov) is as old as its last change.  The hub
 * checked its freshness and replay when it was published, and only the
 * hub can deliver a message flagged retained, so such a message is
 * checked for signature, signer and topic but not for age or replay.
 */
#define RETAINED_WINDOW_MS	((int64_t)1 << 50)

enum cstate {
	CS_IDLE = 0,		/* never connected */
	CS_CONNECTING,		/* CONNECT sent, waiting for CONNACK */
	CS_KEYS,		/* CONNACK ok, waiting for the key distribution */
	CS_READY,
	CS_DOWN,		/* lost; reconnect at retry_at */
	CS_TAKEN,		/* another client logged in as us: stopped */
};

struct rxmsg {
	struct rxmsg *next;
	char *topic;
	char *payload;
	size_t len;
	int retained;		/* stored by the hub, delivered on subscribe */
};

/* A signed publish waiting for an in-flight slot (client_send). */
struct txmsg {
	struct txmsg *next;
	char *topic;
	char *payload;
	size_t len;
	int qos;
	int retain;
};

struct sub {
	struct sub *next;
	char *filter;
	int qos;
	int internal;		/* the client's own, not the owner's */
};

struct pending {
	struct pending *next;
	char id[MOB_REQID_MAX + 1];
	char target[MOB_ID_MAX];
	int64_t deadline;		/* monotonic ms */
	mob_client_rsp_fn cb;
	void *arg;
};

struct mob_client {
	struct mosquitto *mosq;
	char id[MOB_ID_MAX];		/* the identity HID/SID */
	char cid[MOB_CID_MAX];		/* MQTT client id: id, or id/RUN (CLI) */
	uint8_t instance[MOB_INSTANCE_LEN];	/* this process: login nonces' start */
	char hid[7];
	char sid[4];
	char spid[5];
	char user[16];
	char *socket;
	char *host;
	int port;
	int tls;
	int keepalive;
	struct mob_keyring *kr;		/* the key file: own key, hub key */
	const struct mob_key *own;	/* points into kr */
	const struct mob_key *hub_key;	/* pinned hub key from kr, or NULL */
	int64_t window_ms;
	struct mob_keyring *peers;	/* from the key distribution */
	struct mob_signer *signer;
	struct mob_verifier *verifier;
	struct mob_verifier *rverifier;	/* retained: no freshness, no replay */

	/*
	 * Hardened with a pinned hub key: MQTT 5 enhanced authentication, a
	 * session key per connection (mobius/session.h).  The login token and
	 * the ephemeral secret live from CONNECT to CONNACK only.
	 */
	int handshake;
	char *login;
	size_t loginlen;
	uint8_t esk[MOB_X25519_LEN];
	uint8_t *answer;		/* CONNACK authentication data */
	size_t answerlen;
	struct mob_key *session;	/* NULL while down: never on disk */
	int64_t session_at;		/* monotonic ms */
	uint64_t session_msgs;

	enum cstate state;
	int connack_rc;			/* last CONNACK refusal, 0 if none */
	int ever_ready;
	int refused;			/* refusals in a row since it was ready */
	int dial_once;			/* cfg.dial_once */
	int dial_errno;			/* the last dial failure said, or 0 */
	int session_expiry;		/* cfg.session_expiry */
	int64_t retry_at;		/* monotonic ms */
	int backoff;
	int64_t last_misc;

	struct rxmsg *rxq, **rxtail;
	size_t rxn;

	/*
	 * MQTT 5 caps the QoS 1/2 messages in flight (the hub's Receive
	 * Maximum).  Beyond it libmosquitto would hold QoS 1 back and let QoS 0
	 * pass: out of seq order, past the hub's replay window.  The client
	 * holds both back instead, in order (txq), while quota messages are in
	 * flight; inflight_mid marks which message ids are.
	 */
	struct txmsg *txq, **txtail;
	size_t txn, txq_max;
	uint64_t tx_lost;		/* refused since the queue filled */
	int txq_full;			/* said so; said again once drained */
	unsigned inflight, quota;
	uint8_t inflight_mid[65536 / 8];
	int ev_connect, ev_disconnect;	/* queued by libmosquitto callbacks */

	struct sub *subs;
	int internal_subs;		/* some subs are the client's own */
	struct pending *pending;
	uint64_t reqseq;
	char reqpfx[13];

	mob_client_msg_fn msg_fn;
	mob_client_conn_fn conn_fn;
	void *arg;
	struct mob_client_stats st;

	/* nothing lost (lib/rt/mobius/history.h): either side, or both */
	struct mob_history *hist;	/* the COVs it signed, for "since" */
	struct mob_recover *rec;	/* its subscriptions' COVs, in order */
};

static int client_sub_internal(struct mob_client *c, const char *filter);


/*
 * Without TLS nothing in the process prints OpenSSL's error texts (we log
 * MOB_E* codes), so they are not loaded: about 270 KiB of resident memory
 * in every daemon.  With TLS, libmosquitto reports handshake errors with
 * them.  OpenSSL decides this once per process, at its first use.
 */
static void
lib_init(int tls)
{
	static int done;

	if (!done) {
		if (!tls)
			OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
		mosquitto_lib_init();
		done = 1;
	}
}

/* --- keys ------------------------------------------------------------- */

static const struct mob_key *
lookup_in(const struct mob_keyring *kr, const char *kid, size_t *idx, int64_t now)
{
	const struct mob_kr_entry *e;
	size_t i;

	if (kr == NULL)
		return NULL;
	for (i = 0; (e = mob_keyring_lookup(kr, kid, i, now)) != NULL; i++)
		if (i == *idx)
			return e->key;
	*idx -= i;
	return NULL;
}

/* mob_key_lookup_fn: distributed peer keys first, then the key file's. */
static const struct mob_key *
client_lookup(void *ctx, const char *kid, size_t idx)
{
	struct mob_client *c = ctx;
	int64_t now = (int64_t)time(NULL);
	const struct mob_key *k;

	if ((k = lookup_in(c->peers, kid, &idx, now)) != NULL)
		return k;
	return lookup_in(c->kr, kid, &idx, now);
}

/*
 * The MQTT client id.  A service is its identity: a second process with
 * the same key takes its place (and this one stops, client_events).  Each
 * run of a command-line key is HID/SID/RUN, RUN drawn at random, so any
 * number of `mobius` commands with one key are connected at once; the hub
 * maps the run to the key's identity (docs/hub.md, "Identities").
 */
static int
client_run_id(struct mob_client *c)
{
	uint8_t rnd[MOB_RUN_LEN / 2];

	if (RAND_bytes(c->instance, sizeof(c->instance)) != 1) {
		log_warnx("cannot draw a client id: %s", mob_strerror(MOB_ECRYPTO));
		return MOB_ECRYPTO;
	}
	if (strcmp(c->spid, MOB_SPID_CLI) != 0) {
		memcpy(c->cid, c->id, sizeof(c->id));
		return 0;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		log_warnx("cannot draw a client id: %s", mob_strerror(MOB_ECRYPTO));
		return MOB_ECRYPTO;
	}
	snprintf(c->cid, sizeof(c->cid), "%s/%02X%02X%02X%02X", c->id, rnd[0],
	    rnd[1], rnd[2], rnd[3]);
	return 0;
}

/* The key file: this service's private entry and the hub's public key. */
static int
client_load_keys(struct mob_client *c, const char *path)
{
	const struct mob_kr_entry *own, *hub;
	char err[256], hubid[MOB_ID_MAX];
	int rc;

	if ((rc = mob_keyfile_load(path, &c->kr, &own, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return rc;
	}
	if (own->kind != MOB_ENTRY_SERVICE || !mob_spid_valid(own->spid)) {
		log_warnx("%s: no active private service key", path);
		return MOB_ENOTFOUND;
	}
	c->own = own->key;
	snprintf(hubid, sizeof(hubid), "%.6s/000", own->id);
	if ((hub = mob_keyring_find(c->kr, hubid)) != NULL &&
	    hub->kind == MOB_ENTRY_HUB && hub->state == MOB_KS_ACTIVE)
		c->hub_key = hub->key;
	snprintf(c->id, sizeof(c->id), "%s", own->id);
	memcpy(c->hid, own->id, 6);
	c->hid[6] = '\0';
	memcpy(c->sid, own->id + 7, 3);
	c->sid[3] = '\0';
	memcpy(c->spid, own->spid, 5);
	snprintf(c->user, sizeof(c->user), "%s/%s", c->spid, c->sid);
	return client_run_id(c);
}

/* --- libmosquitto callbacks: record only ------------------------------ */

static void
on_connect(struct mosquitto *mosq, void *arg, int rc, int flags,
    const mosquitto_property *props)
{
	struct mob_client *c = arg;
	void *v = NULL;
	uint16_t n = 0;

	(void)mosq;
	(void)flags;
	c->connack_rc = rc;
	c->ev_connect = 1;
	free(c->answer);
	c->answer = NULL;
	c->answerlen = 0;
	if (rc == 0 && c->handshake &&
	    mosquitto_property_read_binary(props, MQTT_PROP_AUTHENTICATION_DATA,
	    &v, &n, false) != NULL) {
		c->answer = v;
		c->answerlen = n;
	}
	c->quota = 65535;
	if (rc == 0 && mosquitto_property_read_int16(props,
	    MQTT_PROP_RECEIVE_MAXIMUM, &n, false) != NULL && n > 0)
		c->quota = n;
}

static void
on_publish(struct mosquitto *mosq, void *arg, int mid)
{
	struct mob_client *c = arg;
	uint16_t m = (uint16_t)mid;

	(void)mosq;
	if (c->inflight_mid[m / 8] & (1u << (m % 8))) {
		c->inflight_mid[m / 8] &= (uint8_t)~(1u << (m % 8));
		c->inflight--;
	}
}

static void
on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
	struct mob_client *c = arg;

	(void)mosq;
	(void)rc;
	c->ev_disconnect = 1;
}

static void
on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m)
{
	struct mob_client *c = arg;
	struct rxmsg *r;

	(void)mosq;
	if (c->rxn >= RXQ_MAX || m->payloadlen < 0 ||
	    (size_t)m->payloadlen > MOB_KEYDIST_MAX) {
		c->st.rx_dropped++;
		c->st.last_drop = MOB_ETOOLONG;
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->topic = strdup(m->topic)) == NULL ||
	    (r->payload = malloc((size_t)m->payloadlen + 1)) == NULL) {
		if (r != NULL)
			free(r->topic);
		free(r);
		c->st.rx_dropped++;
		c->st.last_drop = MOB_ENOMEM;
		return;
	}
	memcpy(r->payload, m->payload, (size_t)m->payloadlen);
	r->payload[m->payloadlen] = '\0';
	r->len = (size_t)m->payloadlen;
	r->retained = m->retain;
	*c->rxtail = r;
	c->rxtail = &r->next;
	c->rxn++;
}

/* --- lifecycle -------------------------------------------------------- */

/* A COV recovered from a publisher's history, or live in order. */
static void
client_recovered(void *arg, const char *topic, const struct mob_env *env)
{
	struct mob_client *c = arg;

	if (c->msg_fn != NULL)
		c->msg_fn(c, topic, env, c->arg);
}

/* The history it keeps as a publisher, the recovery as a watcher. */
static int
client_nothing_lost(struct mob_client *c, const struct mob_client_cfg *cfg)
{
	char topic[MOB_TOPIC_MAX];
	uint64_t seq;
	int64_t iat;
	int rc;

	mob_signer_last(c->signer, &seq, &iat);
	if (cfg->history >= 0) {
		if ((rc = mob_history_new(cfg->history > 0 ?
		    (size_t)cfg->history : MOB_HISTORY_DEFAULT,
		    MOB_HISTORY_BYTES, seq + 1, &c->hist)) != 0)
			return rc;
		/*
		 * Its own requests, to answer since; from the first CONNECT, so
		 * no watcher asks before the hub has the subscription.
		 */
		snprintf(topic, sizeof(topic), "mob/req/%s", c->id);
		if ((rc = client_sub_internal(c, topic)) != 0)
			return rc;
	}
	if (!cfg->recover)
		return 0;
	if ((rc = mob_recover_new(c, client_recovered, c, &c->rec)) != 0)
		return rc;
	/* who is online again: when to ask */
	snprintf(topic, sizeof(topic), "mob/state/%s/+", c->hid);
	return client_sub_internal(c, topic);
}

int
mob_client_new(const struct mob_client_cfg *cfg, struct mob_client **out)
{
	struct mob_client *c;
	struct mob_verifier_cfg vcfg;
	uint8_t rnd[6];
	int rc, logged = 0;

	*out = NULL;
	if (cfg == NULL || cfg->keyfile == NULL)
		return MOB_EINVAL;
	lib_init(cfg->host != NULL && cfg->cafile != NULL);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("cannot set up the hub client: %s",
		    mob_strerror(MOB_ENOMEM));
		return MOB_ENOMEM;
	}
	c->rxtail = &c->rxq;
	c->txtail = &c->txq;
	c->quota = 65535;
	c->keepalive = cfg->keepalive > 0 ? cfg->keepalive : MOB_CLIENT_KEEPALIVE;
	c->txq_max = cfg->queue > 0 ? (size_t)cfg->queue : TXQ_MAX;
	c->dial_once = cfg->dial_once;
	c->session_expiry = cfg->session_expiry > 0 ? cfg->session_expiry : 0;
	if (cfg->host != NULL) {
		c->port = cfg->port > 0 ? cfg->port : (cfg->cafile ? 8883 : 1883);
		if ((c->host = strdup(cfg->host)) == NULL) {
			rc = MOB_ENOMEM;
			goto fail;
		}
	} else if ((c->socket = strdup(cfg->socket ? cfg->socket :
	    MOB_HUB_SOCKET_DEFAULT)) == NULL) {
		rc = MOB_ENOMEM;
		goto fail;
	}
	/* it logs the precise reason itself */
	if ((rc = client_load_keys(c, cfg->keyfile)) != 0) {
		logged = 1;
		goto fail;
	}
	if ((rc = mob_signer_new(c->own, c->cid, &c->signer)) != 0)
		goto fail;
	if ((rc = client_nothing_lost(c, cfg)) != 0)
		goto fail;
	c->handshake = mob_key_alg(c->own) == MOB_ALG_EDDSA && c->hub_key != NULL;
	memset(&vcfg, 0, sizeof(vcfg));
	/* the hub checked every session MAC; only it can (docs/security.md) */
	if (c->handshake)
		vcfg.hub_verified = MOB_ALG_HS256;
	vcfg.window_ms = c->window_ms = cfg->window_ms;
	if ((rc = mob_verifier_new(client_lookup, c, &vcfg, &c->verifier)) != 0)
		goto fail;
	vcfg.window_ms = RETAINED_WINDOW_MS;
	if ((rc = mob_verifier_new(client_lookup, c, &vcfg, &c->rverifier)) != 0)
		goto fail;
	/* Request ids: a random prefix per client and a counter. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		rc = MOB_ECRYPTO;
		goto fail;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(c->reqpfx + 2 * i, 3, "%02x", rnd[i]);
	if ((c->mosq = mosquitto_new(c->cid, c->session_expiry == 0, c)) == NULL) {
		rc = MOB_ENOMEM;
		goto fail;
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
	    c->handshake ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	/* the hub's Receive Maximum is the cap (txq), not libmosquitto's 20 */
	if (c->handshake)
		mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, 65535);
	mosquitto_connect_v5_callback_set(c->mosq, on_connect);
	mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
	mosquitto_publish_callback_set(c->mosq, on_publish);
	mosquitto_message_callback_set(c->mosq, on_message);
	c->tls = cfg->cafile != NULL && c->host != NULL;
	if (c->tls &&
	    mosquitto_tls_set(c->mosq, cfg->cafile, NULL, NULL, NULL, NULL) !=
	    MOSQ_ERR_SUCCESS) {
		log_warnx("cannot use CA file %s", cfg->cafile);
		rc = MOB_ECONFIG;
		logged = 1;
		goto fail;
	}
	*out = c;
	return 0;
 fail:
	/* one line, said once: callers need not repeat it */
	if (!logged)
		log_warnx("cannot set up the hub client: %s", mob_strerror(rc));
	mob_client_free(c);
	return rc;
}

int
mob_client_set_limits(struct mob_client *c, int queue, int history)
{
	struct mob_history *h = NULL;
	uint64_t seq;
	int64_t iat;
	int rc;

	if (queue > 0)
		c->txq_max = (size_t)queue;
	if (history < 0 || c->hist == NULL)
		return 0;
	mob_signer_last(c->signer, &seq, &iat);
	if ((rc = mob_history_new((size_t)history, MOB_HISTORY_BYTES, seq + 1,
	    &h)) != 0)
		return rc;
	mob_history_free(c->hist);
	c->hist = h;
	return 0;
}

/* Forget the handshake's secrets and the session key. */
static void
client_session_end(struct mob_client *c)
{
	OPENSSL_cleanse(c->esk, sizeof(c->esk));
	if (c->login != NULL)
		OPENSSL_cleanse(c->login, c->loginlen);
	free(c->login);
	c->login = NULL;
	free(c->answer);
	c->answer = NULL;
	if (c->session != NULL) {
		/* back to the identity key: nothing is sent until a new session */
		mob_signer_set_key(c->signer, c->own);
		mob_key_free(c->session);
		c->session = NULL;
	}
}

static void
txq_flush(struct mob_client *c)
{
	struct txmsg *t;

	while ((t = c->txq) != NULL) {
		c->txq = t->next;
		free(t->topic);
		free(t->payload);
		free(t);
	}
	c->txtail = &c->txq;
	c->txn = 0;
	c->inflight = 0;
	memset(c->inflight_mid, 0, sizeof(c->inflight_mid));
}

static void
rxq_flush(struct mob_client *c)
{
	struct rxmsg *r;

	while ((r = c->rxq) != NULL) {
		c->rxq = r->next;
		free(r->topic);
		free(r->payload);
		free(r);
	}
	c->rxtail = &c->rxq;
	c->rxn = 0;
}

void
mob_client_free(struct mob_client *c)
{
	struct sub *s;
	struct pending *p;

	if (c == NULL)
		return;
	if (c->mosq != NULL) {
		if (c->state == CS_READY || c->state == CS_KEYS) {
			mosquitto_disconnect(c->mosq);
			mosquitto_loop_write(c->mosq, 1);
		}
		mosquitto_destroy(c->mosq);
	}
	rxq_flush(c);
	txq_flush(c);
	while ((s = c->subs) != NULL) {
		c->subs = s->next;
		free(s->filter);
		free(s);
	}
	while ((p = c->pending) != NULL) {
		c->pending = p->next;
		free(p);
	}
	client_session_end(c);
	mob_history_free(c->hist);
	mob_recover_free(c->rec);
	mob_verifier_free(c->verifier);
	mob_verifier_free(c->rverifier);
	mob_signer_free(c->signer);
	mob_keyring_free(c->peers);
	mob_keyring_free(c->kr);
	free(c->socket);
	free(c->host);
	free(c);
}

const char *mob_client_id(const struct mob_client *c) { return c->id; }
const char *mob_client_hid(const struct mob_client *c) { return c->hid; }
const char *mob_client_sid(const struct mob_client *c) { return c->sid; }
const char *mob_client_spid(const struct mob_client *c) { return c->spid; }
int mob_client_connected(const struct mob_client *c) { return c->state == CS_READY; }

void
mob_client_set_handlers(struct mob_client *c, mob_client_msg_fn msg,
    mob_client_conn_fn conn, void *arg)
{
	c->msg_fn = msg;
	c->conn_fn = conn;
	c->arg = arg;
}

void
mob_client_stats(const struct mob_client *c, struct mob_client_stats *out)
{
	struct mob_recover_stats rs;

	*out = c->st;
	if (c->rec != NULL) {
		mob_recover_stats(c->rec, &rs);
		out->rx_dups = rs.dups;
		out->recovered = rs.recovered;
		out->gaps = rs.gaps;
	}
	out->pending = 0;
	for (const struct pending *p = c->pending; p != NULL; p = p->next)
		out->pending++;
}

/* --- connecting ------------------------------------------------------- */

/*
 * A login nonce: this process's instance, then fresh random bytes.  The hub
 * tells by the instance a process that another one replaced (it refuses
 * its return) from the same process logging in again (docs/hub.md,
 * "Identities").
 */
static int
client_nonce(const struct mob_client *c, uint8_t nonce[MOB_TOKEN_NONCE_LEN])
{
	memcpy(nonce, c->instance, MOB_INSTANCE_LEN);
	return RAND_bytes(nonce + MOB_INSTANCE_LEN,
	    MOB_TOKEN_NONCE_LEN - MOB_INSTANCE_LEN) == 1 ? 0 : MOB_ECRYPTO;
}

/*
 * The hardened CONNECT: a fresh ephemeral key pair and a login token that
 * carries its public half, as authentication data (mobius/session.h).
 */
static int
client_hello(struct mob_client *c, mosquitto_property **props)
{
	uint8_t epk[MOB_X25519_LEN], nonce[MOB_TOKEN_NONCE_LEN];
	int rc;

	client_session_end(c);
	if ((rc = client_nonce(c, nonce)) != 0 ||
	    (rc = mob_x25519_keypair(c->esk, epk)) != 0 ||
	    (rc = mob_token_mint_ex(c->own, c->id, c->user, mob_clock_wall_ms(), nonce,
	    epk, &c->login)) != 0)
		return rc;
	c->loginlen = strlen(c->login);
	if (mosquitto_username_pw_set(c->mosq, c->user, NULL) != MOSQ_ERR_SUCCESS ||
	    mosquitto_property_add_string(props, MQTT_PROP_AUTHENTICATION_METHOD,
	    MOB_AUTH_METHOD) != MOSQ_ERR_SUCCESS ||
	    mosquitto_property_add_binary(props, MQTT_PROP_AUTHENTICATION_DATA,
	    c->login, (uint16_t)c->loginlen) != MOSQ_ERR_SUCCESS)
		return MOB_ENOMEM;
	return 0;
}

/* CONNACK arrived with the hub's answer: check it, derive the key. */
static int
client_session(struct mob_client *c)
{
	char hub_id[MOB_ID_MAX];
	int rc;

	snprintf(hub_id, sizeof(hub_id), "%s/000", c->hid);
	if (c->answer == NULL || c->login == NULL)
		rc = MOB_EPROTO;
	else if ((rc = mob_session_finish(c->hub_key, hub_id, c->id, c->login,
	    c->loginlen, c->esk, (const char *)c->answer, c->answerlen,
	    &c->session)) == 0)
		rc = mob_signer_set_key(c->signer, c->session);
	OPENSSL_cleanse(c->esk, sizeof(c->esk));
	c->session_at = mob_clock_mono_ms();
	c->session_msgs = 0;
	return rc;
}

/*
 * A daemon that cannot reach the hub says why at once, in words that name
 * the fix, and again only when the cause changes: it keeps retrying (the
 * CLI, dial_once, says it in its own words and gives up).
 */
static void
client_dial_failed(struct mob_client *c, int mrc, int err)
{
	char where[300];

	if (mrc != MOSQ_ERR_ERRNO)
		err = -mrc;
	if (c->dial_once || err == c->dial_errno)
		return;
	c->dial_errno = err;
	if (c->host != NULL)
		snprintf(where, sizeof(where), "%s:%d", c->host, c->port);
	else
		snprintf(where, sizeof(where), "%s", c->socket);
	if (mrc != MOSQ_ERR_ERRNO)
		log_warnx("cannot reach the hub at %s: %s; retrying", where,
		    mosquitto_strerror(mrc));
	else if (c->host == NULL && err == ENOENT)
		log_warnx("no hub socket at %s (%s): start mobius-hub, or give "
		    "its socket with --socket; retrying", where, strerror(err));
	else if (c->host == NULL && (err == EACCES || err == EPERM))
		log_warnx("may not open the hub socket %s (%s): add this "
		    "service's user to group mobius; retrying", where,
		    strerror(err));
	else if (err == ECONNREFUSED)
		log_warnx("the hub at %s refuses connections (%s): %s; "
		    "retrying", where, strerror(err), c->host == NULL ?
		    "a socket is there but no mobius-hub listens on it" :
		    "is mobius-hub listening there?");
	else
		log_warnx("cannot reach the hub at %s: %s; retrying", where,
		    strerror(err));
}

/* Open the transport and send CONNECT with a fresh token. */
static int
client_dial(struct mob_client *c)
{
	mosquitto_property *props = NULL;
	uint8_t nonce[MOB_TOKEN_NONCE_LEN];
	char *tok = NULL;
	int rc, mrc, err;

	if (c->handshake) {
		if ((rc = client_hello(c, &props)) != 0 ||
		    (c->session_expiry > 0 && mosquitto_property_add_int32(&props,
		    MQTT_PROP_SESSION_EXPIRY_INTERVAL, (uint32_t)c->session_expiry) !=
		    MOSQ_ERR_SUCCESS)) {
			mosquitto_property_free_all(&props);
			return rc != 0 ? rc : MOB_ENOMEM;
		}
	} else {
		if ((rc = client_nonce(c, nonce)) != 0 ||
		    (rc = mob_token_mint_ex(c->own, c->id, c->user,
		    mob_clock_wall_ms(), nonce, NULL, &tok)) != 0)
			return rc;
		mrc = mosquitto_username_pw_set(c->mosq, c->user, tok);
		free(tok);
		if (mrc != MOSQ_ERR_SUCCESS)
			return MOB_ENOMEM;
	}
	c->connack_rc = 0;
	c->ev_connect = c->ev_disconnect = 0;
	if (c->handshake)
		/* each CONNECT carries new authentication data */
		mrc = mosquitto_connect_bind_v5(c->mosq, c->host ? c->host :
		    c->socket, c->host ? c->port : 0, c->keepalive, NULL, props);
	else if (!c->ever_ready && c->state == CS_IDLE)
		mrc = mosquitto_connect(c->mosq, c->host ? c->host : c->socket,
		    c->host ? c->port : 0, c->keepalive);
	else
		mrc = mosquitto_reconnect(c->mosq);
	err = errno;
	mosquitto_property_free_all(&props);
	if (mrc != MOSQ_ERR_SUCCESS) {
		log_debug("connect to %s: %s", c->host ? c->host : c->socket,
		    mrc == MOSQ_ERR_ERRNO ? strerror(err) : mosquitto_strerror(mrc));
		client_dial_failed(c, mrc, err);
		return MOB_ESYS;
	}
	if (c->dial_errno != 0)
		log_info("the hub at %s answers now", c->host ? c->host :
		    c->socket);
	c->dial_errno = 0;
	c->state = CS_CONNECTING;
	return 0;
}

/*
 * Every request waiting for an answer ends with err.  The list is taken
 * first: a callback may issue a new request.
 */
static void
pending_fail(struct mob_client *c, int err)
{
	struct pending *p, *list = c->pending;

	c->pending = NULL;
	while ((p = list) != NULL) {
		list = p->next;
		p->cb(c, err, NULL, p->arg);
		free(p);
	}
}

static void
client_down(struct mob_client *c)
{
	int was_ready = c->state == CS_READY;

	c->state = CS_DOWN;
	client_session_end(c);
	/* nothing is kept for a later connection: owners republish */
	txq_flush(c);
	c->retry_at = mob_clock_mono_ms() + c->backoff;
	c->backoff = c->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff * 2;
	if (was_ready) {
		log_info("lost connection to the hub; reconnecting");
		/* This connection's answers are lost with it (a persistent
		 * session's are late: dropped as unknown). */
		pending_fail(c, MOB_EOFFLINE);
		if (c->conn_fn != NULL)
			c->conn_fn(c, 0, c->arg);
	}
}

/* The CONNACK refused our credentials: retrying will not change that. */
static int
client_refused(const struct mob_client *c)
{
	return c->handshake ?
	    (c->connack_rc == MQTT_RC_NOT_AUTHORIZED ||
	    c->connack_rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD ||
	    c->connack_rc == MQTT_RC_BAD_AUTHENTICATION_METHOD) :
	    (c->connack_rc == CONNACK_REFUSED_BAD_USERNAME_PASSWORD ||
	    c->connack_rc == CONNACK_REFUSED_NOT_AUTHORIZED);
}

/*
 * Refused REFUSED_MAX times in a row when coming back after the link
 * dropped: another process logged in with our key and client id and took
 * our place (the hub refuses the replaced one's return: docs/hub.md,
 * "Identities"), or the key was revoked meanwhile.  Reconnecting would not help (and took the place
 * back, in a loop, before): say so once and stop; the owner's loop gets
 * MOB_EIDENTITY from now on.  mosquitto 2.0.11 does not send the MQTT 5
 * DISCONNECT "session taken over" (0x8E) the replaced client could read.
 */
static void
client_taken(struct mob_client *c)
{
	c->state = CS_TAKEN;
	client_session_end(c);
	txq_flush(c);
	log_warnx("another client logged in as %s (or the hub no longer "
	    "accepts this key: see its log); stopping", c->id);
	pending_fail(c, MOB_EIDENTITY);
	if (c->conn_fn != NULL)
		c->conn_fn(c, 0, c->arg);
}

/*
 * The key bundle's topic last: the hub handles a connection's packets in
 * order, so when the bundle arrives (and the client is ready) every other
 * subscription is in place, and a request sent to a service that just
 * said it is ready cannot pass it by.
 */
static int
client_subscribe_all(struct mob_client *c)
{
	char topic[MOB_TOPIC_MAX];

	snprintf(topic, sizeof(topic), "mob/rsp/%s/+", c->id);
	if (mosquitto_subscribe(c->mosq, NULL, topic, 1) != MOSQ_ERR_SUCCESS)
		return MOB_ESYS;
	for (struct sub *s = c->subs; s != NULL; s = s->next)
		if (mosquitto_subscribe(c->mosq, NULL, s->filter, s->qos) !=
		    MOSQ_ERR_SUCCESS)
			return MOB_ESYS;
	snprintf(topic, sizeof(topic), "mob/key/%s", c->id);
	if (mosquitto_subscribe(c->mosq, NULL, topic, 1) != MOSQ_ERR_SUCCESS)
		return MOB_ESYS;
	return 0;
}

/* Handle what the libmosquitto callbacks recorded. */
static void
client_events(struct mob_client *c)
{
	int rc;

	if (c->ev_connect) {
		c->ev_connect = 0;
		if (c->connack_rc != 0 && c->ever_ready && client_refused(c) &&
		    ++c->refused >= REFUSED_MAX) {
			/* the hub let us in before: it does not want us back */
			mosquitto_disconnect(c->mosq);
			c->ev_disconnect = 0;
			client_taken(c);
			return;
		}
		if (c->connack_rc != 0) {
			const char *why = c->handshake ?
			    mosquitto_reason_string(c->connack_rc) :
			    mosquitto_connack_string(c->connack_rc);

			/* once in, a refusal is said when it is final (above) */
			if (c->refused > 0)
				log_debug("hub refused the connection: %s", why);
			else
				log_warnx("hub refused the connection: %s", why);
			mosquitto_disconnect(c->mosq);
			c->ev_disconnect = 0;
			client_down(c);
			return;
		}
		if (c->handshake && (rc = client_session(c)) != 0) {
			log_warnx("the hub's answer failed: %s", mob_strerror(rc));
			c->connack_rc = MQTT_RC_NOT_AUTHORIZED;
			mosquitto_disconnect(c->mosq);
			c->ev_disconnect = 0;
			client_down(c);
			return;
		}
		if (client_subscribe_all(c) != 0) {
			mosquitto_disconnect(c->mosq);
			client_down(c);
			return;
		}
		c->state = CS_KEYS;
	}
	if (c->ev_disconnect) {
		c->ev_disconnect = 0;
		if (c->state != CS_DOWN && c->state != CS_IDLE)
			client_down(c);
	}
}

/* --- receiving -------------------------------------------------------- */

static void
client_drop(struct mob_client *c, const char *topic, int err)
{
	c->st.rx_dropped++;
	c->st.last_drop = err;
	log_debug("dropped message on %s: %s", topic, mob_strerror(err));
}

static void
client_keydist(struct mob_client *c, const struct rxmsg *m)
{
	struct mob_keyring *peers = NULL;
	int rc;

	if ((rc = mob_keydist_open(m->payload, m->len, c->id, c->own,
	    c->hub_key, mob_clock_wall_ms(), c->window_ms, &peers)) != 0) {
		client_drop(c, m->topic, rc);
		return;
	}
	mob_keyring_free(c->peers);
	c->peers = peers;
	/* Keys may have been rotated: restart replay tracking from here. */
	mob_verifier_forget(c->verifier, NULL);
	mob_verifier_forget(c->rverifier, NULL);
	log_debug("key distribution: %zu peer keys", mob_keyring_count(peers));
	if (c->state == CS_KEYS) {
		c->state = CS_READY;
		c->backoff = BACKOFF_MIN_MS;
		c->refused = 0;
		if (c->ever_ready) {
			c->st.reconnects++;
			log_info("reconnected to the hub");
			if (c->rec != NULL)
				mob_recover_reconnected(c->rec);
		}
		c->ever_ready = 1;
		if (c->conn_fn != NULL)
			c->conn_fn(c, 1, c->arg);
	}
}

static struct pending *
pending_take(struct mob_client *c, const char *id)
{
	struct pending **pp, *p;

	for (pp = &c->pending; (p = *pp) != NULL; pp = &p->next) {
		if (strcmp(p->id, id) == 0) {
			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

/* An error response signed by this node's hub (HID/000). */
static int
client_from_hub(const struct mob_client *c, const struct mob_env *env)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(env->dat, "ok");

	return strncmp(env->iss, c->id, 7) == 0 &&
	    strcmp(env->iss + 7, "000") == 0 && cJSON_IsFalse(ok);
}

/*
 * A service of another node answers through this node's router, which
 * signs what it relays (docs/router.md): the hub let it publish this
 * response only because it saw the request go to that node.
 */
static int
client_router_answers(const struct mob_client *c, const struct pending *p,
    const char *iss)
{
	return strncmp(p->target, c->hid, 6) != 0 &&
	    strncmp(iss, c->hid, 6) == 0 && iss[6] == '/' &&
	    strcmp(iss + 7, MOB_ROUTER_SID) == 0;
}

static void
client_response(struct mob_client *c, const char *topic, const struct mob_env *env)
{
	const char *reqid = topic + strlen("mob/rsp/") + strlen(c->id) + 1;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(env->dat, "id");
	struct pending *p;

	if (!cJSON_IsString(id) || strcmp(id->valuestring, reqid) != 0) {
		client_drop(c, topic, MOB_EPROTO);
		return;
	}
	if ((p = pending_take(c, reqid)) == NULL) {
		log_debug("late or unknown response %s", reqid);
		return;
	}
	/*
	 * Only the service asked may answer, our router for a service of
	 * another node, or our hub refusing the request (no such service:
	 * docs/hub.md); else keep waiting for the service.
	 */
	if (strcmp(env->iss, p->target) != 0 && !client_from_hub(c, env) &&
	    !client_router_answers(c, p, env->iss)) {
		client_drop(c, topic, MOB_EIDENTITY);
		p->next = c->pending;
		c->pending = p;
		return;
	}
	p->cb(c, 0, env->dat, p->arg);
	free(p);
}

/*
 * The envelope (its MAC checked by the hub in hardened mode, here in
 * compat mode), then its signer against the topic's owner: a service
 * speaks only for itself, the hub for state and keys.  On a topic of
 * another node the hub lets only the router publish: a local signer.
 */
static int
client_verify(struct mob_client *c, const struct rxmsg *m, struct mob_env *env)
{
	struct mob_verifier *v = c->verifier;
	char owner[MOB_ID_MAX];
	int rc;

	if (m->retained) {
		/* Retained messages arrive in any order of seq: no replay state. */
		v = c->rverifier;
		mob_verifier_forget(v, NULL);
	}
	if ((rc = mob_env_verify(v, m->topic, NULL, m->payload, m->len,
	    mob_clock_wall_ms(), env)) != 0)
		return rc;
	if ((rc = mob_topic_owner(m->topic, owner)) < 0 || (rc == 1 &&
	    (strncmp(owner, c->id, 6) == 0 ? strcmp(env->iss, owner) != 0 :
	    strncmp(env->iss, c->id, 6) != 0))) {
		mob_env_clear(env);
		return rc < 0 ? rc : MOB_EIDENTITY;
	}
	return 0;
}

/* Does a subscription of the owner's (not the client's own) match topic? */
static int
client_wanted(const struct mob_client *c, const char *topic)
{
	bool m;

	if (!c->internal_subs)
		return 1;
	for (const struct sub *s = c->subs; s != NULL; s = s->next)
		if (!s->internal && mosquitto_topic_matches_sub(s->filter, topic,
		    &m) == MOSQ_ERR_SUCCESS && m)
			return 1;
	return 0;
}

/*
 * A since request (lib/rt/mobius/history.h) to this publisher: answered
 * here from its history, so every client that publishes COVs answers
 * alike.  0 when env is not one.
 */
static int
client_since(struct mob_client *c, const struct mob_env *env)
{
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(env->dat, "op");
	char topic[MOB_TOPIC_MAX], reqid[MOB_REQID_MAX + 1];
	cJSON *rsp, *e;
	int rc;

	if (!cJSON_IsString(op) || strcmp(op->valuestring, "since") != 0)
		return 0;
	if (mob_reqid_from_json(cJSON_GetObjectItemCaseSensitive(env->dat,
	    "id"), reqid) != 0)
		return 1;	/* nowhere to answer */
	if ((rsp = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(rsp, "id", reqid) == NULL)
		goto out;
	if ((rc = mob_history_answer(c->hist, env->dat, rsp)) == 0) {
		if (cJSON_AddTrueToObject(rsp, "ok") == NULL)
			goto out;
	} else {
		cJSON_Delete(rsp);
		if ((rsp = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(rsp, "id", reqid) == NULL ||
		    cJSON_AddFalseToObject(rsp, "ok") == NULL ||
		    (e = cJSON_AddObjectToObject(rsp, "error")) == NULL ||
		    cJSON_AddStringToObject(e, "code", mob_errname(rc)) == NULL ||
		    cJSON_AddStringToObject(e, "message", rc == MOB_EINVAL ?
		    "since needs a seq and at most 16 filters" :
		    mob_strerror(rc)) == NULL)
			goto out;
	}
	snprintf(topic, sizeof(topic), "mob/rsp/%s/%s", env->iss, reqid);
	if ((rc = mob_client_publish_json(c, topic, rsp, 1, 0)) != 0)
		log_debug("history for %s: %s", env->iss, mob_strerror(rc));
 out:
	cJSON_Delete(rsp);
	return 1;
}

/*
 * Recovery (watcher side) sees every live COV of a publisher's own topic
 * and the hub's word on who is online; the owner gets what it subscribed.
 */
static void
client_deliver(struct mob_client *c, const struct rxmsg *m, struct mob_env *env)
{
	const cJSON *st;
	char owner[MOB_ID_MAX];

	if (c->rec != NULL && !m->retained &&
	    strncmp(m->topic, "mob/cov/", 8) == 0 &&
	    mob_topic_owner(m->topic, owner) == 1 &&
	    strcmp(owner, env->iss) == 0) {
		mob_recover_cov(c->rec, m->topic, env);
		return;
	}
	if (c->rec != NULL && strncmp(m->topic, "mob/state/", 10) == 0 &&
	    mob_topic_owner(m->topic, owner) == 1 &&
	    cJSON_IsString(st = cJSON_GetObjectItemCaseSensitive(env->dat,
	    "state")))
		mob_recover_state(c->rec, m->topic + 10,
		    strcmp(st->valuestring, "online") == 0, m->retained);
	if (c->msg_fn != NULL && client_wanted(c, m->topic))
		c->msg_fn(c, m->topic, env, c->arg);
}

static void
client_dispatch(struct mob_client *c)
{
	char rsppfx[MOB_TOPIC_MAX], keytopic[MOB_TOPIC_MAX], reqtopic[MOB_TOPIC_MAX];
	struct mob_env env;
	struct rxmsg *m;
	size_t plen;
	int rc;

	snprintf(rsppfx, sizeof(rsppfx), "mob/rsp/%s/", c->id);
	snprintf(keytopic, sizeof(keytopic), "mob/key/%s", c->id);
	snprintf(reqtopic, sizeof(reqtopic), "mob/req/%s", c->id);
	plen = strlen(rsppfx);
	/*
	 * The key bundle first.  What arrived before it (after a reconnect,
	 * COVs may overtake the bundle) waits in the queue for it rather
	 * than being dropped: nothing can be verified without the keys.
	 */
	for (struct rxmsg **pp = &c->rxq; (m = *pp) != NULL;) {
		if (strcmp(m->topic, keytopic) != 0) {
			pp = &m->next;
			continue;
		}
		if ((*pp = m->next) == NULL)
			c->rxtail = pp;
		c->rxn--;
		client_keydist(c, m);
		free(m->topic);
		free(m->payload);
		free(m);
	}
	if (c->state != CS_READY)
		return;
	while ((m = c->rxq) != NULL) {
		c->rxq = m->next;
		if (c->rxq == NULL)
			c->rxtail = &c->rxq;
		c->rxn--;
		if ((rc = client_verify(c, m, &env)) != 0) {
			client_drop(c, m->topic, rc);
		} else {
			c->st.rx++;
			if (strncmp(m->topic, rsppfx, plen) == 0)
				client_response(c, m->topic, &env);
			else if (c->hist == NULL || strcmp(m->topic, reqtopic) != 0 ||
			    !client_since(c, &env))
				client_deliver(c, m, &env);
			mob_env_clear(&env);
		}
		free(m->topic);
		free(m->payload);
		free(m);
	}
}

static void
client_expire(struct mob_client *c)
{
	struct pending **pp, *p;
	int64_t now = mob_clock_mono_ms();

	for (pp = &c->pending; (p = *pp) != NULL;) {
		if (p->deadline <= now) {
			*pp = p->next;
			p->cb(c, MOB_ETIMEOUT, NULL, p->arg);
			free(p);
			/* The callback may have changed the list. */
			pp = &c->pending;
		} else
			pp = &p->next;
	}
}

/* --- event loop ------------------------------------------------------- */

static void client_release(struct mob_client *c);

void
mob_client_pollfd(struct mob_client *c, struct pollfd *pfd)
{
	pfd->fd = -1;
	pfd->events = 0;
	pfd->revents = 0;
	if (c->state == CS_IDLE || c->state == CS_DOWN || c->state == CS_TAKEN)
		return;
	pfd->fd = mosquitto_socket(c->mosq);
	pfd->events = POLLIN;
	if (mosquitto_want_write(c->mosq))
		pfd->events |= POLLOUT;
}

int
mob_client_timeout(const struct mob_client *c)
{
	int64_t now = mob_clock_mono_ms(), t = -1;

	if (c->state == CS_DOWN)
		t = c->retry_at - now;
	else if (c->state != CS_IDLE && c->state != CS_TAKEN)
		t = c->last_misc + MISC_MS - now;
	for (const struct pending *p = c->pending; p != NULL; p = p->next)
		if (t < 0 || p->deadline - now < t)
			t = p->deadline - now;
	if (c->rxq != NULL)
		t = 0;
	if (t < -1)
		return 0;
	return t > 60000 ? 60000 : (int)t;
}

int
mob_client_process(struct mob_client *c, short revents)
{
	int64_t now = mob_clock_mono_ms();
	int mrc;

	if (c->state == CS_DOWN && now >= c->retry_at) {
		if (client_dial(c) != 0)
			client_down(c);
	} else if (c->state != CS_IDLE && c->state != CS_DOWN &&
	    c->state != CS_TAKEN) {
		if (revents & (POLLIN | POLLHUP | POLLERR)) {
			mrc = mosquitto_loop_read(c->mosq, 1);
			if (mrc != MOSQ_ERR_SUCCESS)
				c->ev_disconnect = 1;
		}
		if (!c->ev_disconnect && (revents & POLLOUT) &&
		    mosquitto_want_write(c->mosq)) {
			mrc = mosquitto_loop_write(c->mosq, 1);
			if (mrc != MOSQ_ERR_SUCCESS)
				c->ev_disconnect = 1;
		}
		if (!c->ev_disconnect && now - c->last_misc >= MISC_MS / 2) {
			c->last_misc = now;
			if (mosquitto_loop_misc(c->mosq) != MOSQ_ERR_SUCCESS)
				c->ev_disconnect = 1;
		}
	}
	client_events(c);
	client_release(c);
	client_dispatch(c);
	client_expire(c);
	return c->state == CS_TAKEN ? MOB_EIDENTITY : 0;
}

int
mob_client_loop(struct mob_client *c, int timeout_ms)
{
	struct pollfd pfd;
	int t = mob_client_timeout(c), n;

	if (t < 0 || t > timeout_ms)
		t = timeout_ms;
	mob_client_pollfd(c, &pfd);
	if ((n = poll(&pfd, 1, t)) == -1) {
		if (errno == EINTR)
			return 0;
		return MOB_ESYS;
	}
	return mob_client_process(c, n > 0 ? pfd.revents : 0);
}

int
mob_client_open(struct mob_client *c)
{
	int rc;

	if (c->state != CS_IDLE)
		return 0;
	/* A TLS handshake would parse the peer's certificate now. */
	if (c->tls)
		return 0;
	c->backoff = BACKOFF_MIN_MS;
	c->last_misc = mob_clock_mono_ms();
	if ((rc = client_dial(c)) != 0)
		client_down(c);
	return rc;
}

int
mob_client_connect(struct mob_client *c, int timeout_ms)
{
	int64_t deadline = mob_clock_mono_ms() + timeout_ms;
	int rc, last = MOB_ETIMEOUT;

	if (c->state == CS_IDLE) {
		c->backoff = BACKOFF_MIN_MS;
		c->last_misc = mob_clock_mono_ms();
		if ((rc = client_dial(c)) != 0) {
			last = rc;
			client_down(c);
			if (c->dial_once)
				return rc;
		}
	}
	while (c->state != CS_READY) {
		int64_t left = deadline - mob_clock_mono_ms();

		if (left <= 0)
			break;
		/* Refused credentials will not get better by retrying. */
		if (c->state == CS_DOWN && client_refused(c))
			return MOB_EDENIED;
		if (c->state == CS_DOWN)
			last = MOB_ESYS;
		if ((rc = mob_client_loop(c, (int)(left > 100 ? 100 : left))) != 0)
			return rc;
	}
	if (c->state == CS_READY)
		return 0;
	if (c->state == CS_KEYS || c->state == CS_CONNECTING)
		last = MOB_ETIMEOUT;
	return last;
}

/* --- publishing ------------------------------------------------------- */

/*
 * Could filter match a topic mob/VERB/...?  Its first two levels decide:
 * "mob" or "+", then VERB or "+"; or a "#" on the way.
 */
static int
client_verb_filter(const char *f, const char *verb)
{
	size_t n = strlen(verb);

	if (strcmp(f, "#") == 0)
		return 1;
	if (strncmp(f, "mob/", 4) != 0 && strncmp(f, "+/", 2) != 0)
		return 0;
	f = strchr(f, '/') + 1;
	return strcmp(f, "#") == 0 || (strncmp(f, verb, n) == 0 &&
	    (f[n] == '/' || f[n] == '\0')) || strncmp(f, "+/", 2) == 0 ||
	    strcmp(f, "+") == 0;
}

/*
 * The recovery's own mob/state subscription gives way to one of the
 * owner's that may match state topics: with MQTT 5 overlapping
 * subscriptions each deliver a copy.
 */
static void
client_state_unsub(struct mob_client *c, const char *filter)
{
	struct sub **sp, *s;

	if (c->rec == NULL || !client_verb_filter(filter, "state"))
		return;
	for (sp = &c->subs; (s = *sp) != NULL; sp = &s->next) {
		if (s->internal && strncmp(s->filter, "mob/state/", 10) == 0) {
			*sp = s->next;
			if (c->state == CS_READY || c->state == CS_KEYS)
				mosquitto_unsubscribe(c->mosq, NULL, s->filter);
			free(s->filter);
			free(s);
			return;
		}
	}
}

/* internal: the client's own subscription, not handed to the owner. */
static int
client_sub(struct mob_client *c, const char *filter, int qos, int internal)
{
	struct sub *s;
	int rc;

	if (qos < 0 || qos > 2 || mosquitto_sub_topic_check(filter) != MOSQ_ERR_SUCCESS)
		return MOB_EINVAL;
	for (s = c->subs; s != NULL; s = s->next)
		if (strcmp(s->filter, filter) == 0)
			break;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL ||
		    (s->filter = strdup(filter)) == NULL) {
			free(s);
			return MOB_ENOMEM;
		}
		s->next = c->subs;
		c->subs = s;
		s->internal = internal;
		c->internal_subs |= internal;
	} else if (internal)
		return 0;	/* the owner's already */
	s->internal = internal;
	s->qos = qos;
	if (!internal && c->rec != NULL && client_verb_filter(filter, "cov") &&
	    (rc = mob_recover_watch(c->rec, filter)) == MOB_ENOMEM)
		return rc;
	if (!internal)
		client_state_unsub(c, filter);
	if ((c->state == CS_READY || c->state == CS_KEYS) &&
	    mosquitto_subscribe(c->mosq, NULL, filter, qos) != MOSQ_ERR_SUCCESS)
		return MOB_ESYS;
	return 0;
}

static int
client_sub_internal(struct mob_client *c, const char *filter)
{
	return client_sub(c, filter, 1, 1);
}

int
mob_client_subscribe(struct mob_client *c, const char *filter, int qos)
{
	return client_sub(c, filter, qos, 0);
}

int
mob_client_unsubscribe(struct mob_client *c, const char *filter)
{
	struct sub **sp, *s;

	for (sp = &c->subs; (s = *sp) != NULL; sp = &s->next) {
		if (strcmp(s->filter, filter) == 0) {
			*sp = s->next;
			if (c->rec != NULL)
				mob_recover_unwatch(c->rec, filter);
			free(s->filter);
			free(s);
			if ((c->state == CS_READY || c->state == CS_KEYS) &&
			    mosquitto_unsubscribe(c->mosq, NULL, filter) != MOSQ_ERR_SUCCESS)
				return MOB_ESYS;
			return 0;
		}
	}
	return MOB_ENOTFOUND;
}

/* Hand one signed message to libmosquitto: 0 or MOB_E*. */
static int
client_send(struct mob_client *c, const char *topic, const char *tok,
    size_t len, int qos, int retain)
{
	int mid = 0, mrc;

	mrc = mosquitto_publish(c->mosq, &mid, topic, (int)len, tok, qos,
	    retain != 0);
	if (mrc == MOSQ_ERR_NO_CONN || mrc == MOSQ_ERR_CONN_LOST) {
		c->ev_disconnect = 1;
		return MOB_EOFFLINE;
	}
	if (mrc != MOSQ_ERR_SUCCESS)
		return mrc == MOSQ_ERR_NOMEM ? MOB_ENOMEM : MOB_EINVAL;
	if (qos > 0) {
		c->inflight_mid[(uint16_t)mid / 8] |= (uint8_t)(1u <<
		    ((uint16_t)mid % 8));
		c->inflight++;
	}
	return 0;
}

/*
 * May a message of qos go to libmosquitto now?  QoS 1 while the hub's
 * Receive Maximum allows; QoS 0 while the socket takes it (libmosquitto
 * would queue it without a bound otherwise).
 */
static int
client_slot(struct mob_client *c, int qos)
{
	return qos == 0 ? !mosquitto_want_write(c->mosq) : c->inflight < c->quota;
}

/* Send what waited, in order, while slots are free. */
static void
client_release(struct mob_client *c)
{
	struct txmsg *t;

	while ((t = c->txq) != NULL && c->state == CS_READY &&
	    client_slot(c, t->qos)) {
		c->txq = t->next;
		if (c->txq == NULL)
			c->txtail = &c->txq;
		c->txn--;
		if (client_send(c, t->topic, t->payload, t->len, t->qos,
		    t->retain) != 0)
			c->st.tx--;
		free(t->topic);
		free(t->payload);
		free(t);
	}
	if (c->txq_full && c->txn <= c->txq_max / 2) {
		log_info("outgoing queue below %zu again; %llu publishes were "
		    "refused while it was full", c->txq_max / 2,
		    (unsigned long long)c->tx_lost);
		c->txq_full = 0;
		c->tx_lost = 0;
	}
}

/* A COV just signed goes into the history. */
static void
client_keep(struct mob_client *c, const char *topic, const char *dat_json)
{
	uint64_t seq;
	int64_t iat;
	int rc;

	/* its own COVs only: a router relays others' (their owners keep them) */
	if (c->hist == NULL || strncmp(topic, "mob/cov/", 8) != 0 ||
	    strncmp(topic + 8, c->id, strlen(c->id)) != 0 ||
	    topic[8 + strlen(c->id)] != '/')
		return;
	mob_signer_last(c->signer, &seq, &iat);
	if ((rc = mob_history_add(c->hist, seq, iat, topic,
	    dat_json != NULL ? dat_json : "null")) != 0)
		log_debug("history: %s", mob_strerror(rc));
}

int
mob_client_publish(struct mob_client *c, const char *topic,
    const char *dat_json, int qos, int retain)
{
	struct txmsg *t;
	char *tok = NULL;
	size_t len;
	int rc;

	if (c->state != CS_READY)
		return MOB_EOFFLINE;
	/* the budget counts what was signed under the key, not attempts */
	if (c->session != NULL && (c->session_msgs >= MOB_SESSION_MAX_MSGS ||
	    mob_clock_mono_ms() - c->session_at > MOB_SESSION_MAX_MS)) {
		/* rekey: a new connection, a new handshake */
		log_info("session key used up; reconnecting for a new one");
		mosquitto_disconnect(c->mosq);
		c->backoff = BACKOFF_MIN_MS;
		client_down(c);
		return MOB_EOFFLINE;
	}
	if (c->txq == NULL && client_slot(c, qos)) {
		if ((rc = mob_env_sign(c->signer, topic, dat_json, &tok,
		    &len)) == 0) {
			c->session_msgs++;
			if ((rc = client_send(c, topic, tok, len, qos,
			    retain)) == 0) {
				c->st.tx++;
				client_keep(c, topic, dat_json);
			}
		}
		free(tok);
		return rc;
	}
	if (c->txn >= c->txq_max) {
		/* counted and said, never silent (docs/services.md) */
		c->st.tx_overflow++;
		c->tx_lost++;
		if (!c->txq_full) {
			log_warnx("outgoing queue full (%zu messages): the hub "
			    "takes less than is published; refusing publishes "
			    "until it drains", c->txq_max);
			c->txq_full = 1;
		}
		return MOB_EBUSY;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return MOB_ENOMEM;
	/* signed now: the queue keeps seq order */
	if ((rc = mob_env_sign(c->signer, topic, dat_json, &t->payload,
	    &t->len)) != 0 || (t->topic = strdup(topic)) == NULL) {
		free(t->payload);
		free(t);
		return rc != 0 ? rc : MOB_ENOMEM;
	}
	c->session_msgs++;
	client_keep(c, topic, dat_json);
	t->qos = qos;
	t->retain = retain;
	*c->txtail = t;
	c->txtail = &t->next;
	c->txn++;
	c->st.tx++;
	return 0;
}

int
mob_client_publish_json(struct mob_client *c, const char *topic,
    const cJSON *dat, int qos, int retain)
{
	char *s;
	int rc;

	if ((s = cJSON_PrintUnformatted(dat)) == NULL)
		return MOB_ENOMEM;
	rc = mob_client_publish(c, topic, s, qos, retain);
	free(s);
	return rc;
}

/* --- requests --------------------------------------------------------- */

int
mob_client_request_async(struct mob_client *c, const char *target,
    const cJSON *req, int timeout_ms, mob_client_rsp_fn cb, void *arg)
{
	char topic[MOB_TOPIC_MAX];
	struct pending *p;
	cJSON *msg = NULL;
	int rc;

	if (!mob_id_valid(target) || !cJSON_IsObject(req) || cb == NULL ||
	    cJSON_GetObjectItemCaseSensitive(req, "id") != NULL)
		return MOB_EINVAL;
	if (c->state != CS_READY)
		return MOB_EOFFLINE;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return MOB_ENOMEM;
	snprintf(p->id, sizeof(p->id), "%s%llx", c->reqpfx,
	    (unsigned long long)++c->reqseq);
	snprintf(p->target, sizeof(p->target), "%s", target);
	p->deadline = mob_clock_mono_ms() + timeout_ms;
	p->cb = cb;
	p->arg = arg;
	if ((msg = cJSON_Duplicate(req, 1)) == NULL ||
	    cJSON_AddStringToObject(msg, "id", p->id) == NULL) {
		rc = MOB_ENOMEM;
		goto fail;
	}
	snprintf(topic, sizeof(topic), "mob/req/%s", target);
	if ((rc = mob_client_publish_json(c, topic, msg, 1, 0)) != 0)
		goto fail;
	cJSON_Delete(msg);
	p->next = c->pending;
	c->pending = p;
	return 0;
 fail:
	cJSON_Delete(msg);
	free(p);
	return rc;
}

/* Forget the requests of (cb, arg) without calling cb. */
static void
pending_cancel(struct mob_client *c, mob_client_rsp_fn cb, void *arg)
{
	struct pending **pp, *p;

	for (pp = &c->pending; (p = *pp) != NULL;) {
		if (p->cb == cb && p->arg == arg) {
			*pp = p->next;
			free(p);
		} else
			pp = &p->next;
	}
}

struct sync_rsp {
	int done;
	int err;
	cJSON *rsp;
};

static void
sync_cb(struct mob_client *c, int err, const cJSON *rsp, void *arg)
{
	struct sync_rsp *s = arg;

	(void)c;
	s->done = 1;
	s->err = err;
	if (err == 0 && (s->rsp = cJSON_Duplicate(rsp, 1)) == NULL)
		s->err = MOB_ENOMEM;
}

cJSON *
mob_client_req_new(const char *op, const struct mob_uri *u)
{
	char uri[MOB_URI_MAX];
	cJSON *req;

	if (mob_uri_format(u, uri, sizeof(uri)) < 0 ||
	    (req = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(req, "op", op) == NULL ||
	    cJSON_AddStringToObject(req, "uri", uri) == NULL) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

int
mob_client_request(struct mob_client *c, const char *target,
    const cJSON *req, int timeout_ms, cJSON **rsp)
{
	struct sync_rsp s = { 0, 0, NULL };
	int rc;

	*rsp = NULL;
	if ((rc = mob_client_request_async(c, target, req, timeout_ms,
	    sync_cb, &s)) != 0)
		return rc;
	while (!s.done) {
		if ((rc = mob_client_loop(c, timeout_ms)) != 0) {
			/* Its callback would write into this returned frame. */
			pending_cancel(c, sync_cb, &s);
			return rc;
		}
	}
	*rsp = s.rsp;
	return s.err;
}

int
mob_client_rsp_error(const cJSON *rsp, const char **msg)
{
	const cJSON *ok, *err, *code, *m;

	if (msg != NULL)
		*msg = "malformed response";
	ok = cJSON_GetObjectItemCaseSensitive(rsp, "ok");
	if (cJSON_IsTrue(ok))
		return 0;
	err = cJSON_GetObjectItemCaseSensitive(rsp, "error");
	code = cJSON_GetObjectItemCaseSensitive(err, "code");
	m = cJSON_GetObjectItemCaseSensitive(err, "message");
	if (msg != NULL && cJSON_IsString(m))
		*msg = m->valuestring;
	if (!cJSON_IsFalse(ok) || !cJSON_IsString(code))
		return MOB_EPROTO;
	if (mob_errcode(code->valuestring) == MOB_EINVAL &&
	    strcmp(code->valuestring, mob_errname(MOB_EINVAL)) != 0)
		return MOB_EPROTO;
	return mob_errcode(code->valuestring);
}
