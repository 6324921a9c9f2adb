/*
 * The MQTT connection to the hub, shared by every service and the
 * `mobius` CLI (libmosquitto underneath).
 *
 * A client:
 *  - connects over the hub's Unix socket (default) or TCP (+TLS),
 *    username "SPID/SID", client id "HID/SID" (a command-line key, SPID
 *    MOB_SPID_CLI: "HID/SID/RUN", one per process, mobius/proto.h),
 *    password a fresh token (mob_token_mint) signed with the key from
 *    the client's key file;
 *  - subscribes to mob/key/HID/SID and mob/rsp/HID/SID/+ and keeps the
 *    peer keys the hub distributes (lib/keys/mobius/keydist.h);
 *  - signs every publish (mob_env_sign) and verifies every incoming
 *    message (mob_env_verify): failures are dropped and counted, never
 *    handed to the caller.  A message the hub delivers flagged retained
 *    (stored state, older than the validity window) is checked for
 *    signature, signer and topic but not for age or replay: the hub
 *    checked those when it was published;
 *  - reconnects with exponential backoff (0.1 s doubling to 5 s) with a
 *    freshly minted token, resubscribes and calls the connect handler so
 *    the owner can republish its state; not when another process logged
 *    in with the same client id (MQTT 5 DISCONNECT "session taken over"):
 *    it logs "another client logged in as HID/SID" and stops, and
 *    mob_client_process / mob_client_loop return MOB_EIDENTITY.
 *
 * Event loop: nothing runs in a background thread.  The owner either
 * calls mob_client_loop() or puts mob_client_pollfd() into its own poll()
 * set and calls mob_client_process() after it (see mob_client_timeout()).
 * Callbacks run from inside mob_client_loop / mob_client_process /
 * mob_client_connect / mob_client_request.
 *
 * The key file is in keyring format (lib/keys/mobius/keyring.h): the client
 * uses its HID, the one SERVICE entry that holds a signing key (its own
 * identity and SPID), and a HUB entry when present (to verify the hub's
 * key distribution and state messages).
 */
#ifndef MOBIUS_CLIENT_H
#define MOBIUS_CLIENT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "mobius/envelope.h"
#include "mobius/proto.h"
#include "mobius/uri.h"

struct cJSON;

#define MOB_CLIENT_KEEPALIVE	30	/* seconds */
/* The router's SID (the hub's router_sid default): it answers for other nodes. */
#define MOB_ROUTER_SID		"0F0"

struct mob_client_cfg {
	const char *keyfile;	/* required: the client's key file */
	const char *socket;	/* hub Unix socket; NULL → MOB_HUB_SOCKET_DEFAULT */
	const char *host;	/* TCP instead of the socket when not NULL */
	int port;		/* TCP port (1883 / 8883 when 0) */
	const char *cafile;	/* TLS (TCP only) when not NULL: CA to verify the hub */
	int64_t window_ms;	/* envelope iat window; 0 → MOB_WINDOW_MS_DEFAULT */
	int keepalive;		/* seconds; 0 → MOB_CLIENT_KEEPALIVE */
	int dial_once;		/* mob_client_connect: MOB_ESYS at once when the
				   hub cannot be reached (the CLI; daemons wait) */
	/*
	 * Nothing lost (lib/rt/mobius/history.h, docs/protocol.md "Hub
	 * crashes"): history = COVs kept to answer watchers' since requests
	 * (0 → MOB_HISTORY_DEFAULT, < 0 → none: such a publisher answers
	 * nothing and its COVs are not recovered); recover = 1 makes this
	 * client a watcher that recovers its subscriptions' COVs after any
	 * reconnection and delivers each publisher's COVs in order, once.
	 */
	int history;
	int recover;
	/* publishes waiting for the hub (0 → 4096); beyond: MOB_ENOMEM */
	int queue;
	int session_expiry;	/* s; > 0: a persistent session (clean session
				   off; MQTT 5 Session Expiry Interval): what
				   the hub queues for this client while it is
				   away is delivered when it comes back (the
				   router, docs/router.md); 0: clean */
};

struct mob_client;

/*
 * A verified message.  topic is the MQTT topic; env->iss is the signer,
 * env->dat the payload (never NULL).  Valid only during the call.
 */
typedef void (*mob_client_msg_fn)(struct mob_client *c, const char *topic,
    const struct mob_env *env, void *arg);
/*
 * Connection state changed.  connected = 1 after CONNACK, resubscription
 * and (re)reception of the key distribution: republish retained state
 * here.  connected = 0 when the link was lost (reconnection is automatic).
 */
typedef void (*mob_client_conn_fn)(struct mob_client *c, int connected, void *arg);

/*
 * Load the key file, create the client; does not connect yet.  A failure
 * is logged here in one line (the key file and the precise reason), so
 * callers exit without repeating it.
 */
int mob_client_new(const struct mob_client_cfg *cfg, struct mob_client **out);
/*
 * The owner's bounds (a service's config, docs/services.md): queue > 0
 * replaces cfg.queue; history >= 0 replaces cfg.history (0: keep none,
 * every since answer then says what is gone).  Before publishing.
 */
int mob_client_set_limits(struct mob_client *c, int queue, int history);
/* Disconnects cleanly if connected; accepts NULL. */
void mob_client_free(struct mob_client *c);

/* Identity from the key file: "HID/SID", "HID", "SID", "SPID". */
const char *mob_client_id(const struct mob_client *c);
const char *mob_client_hid(const struct mob_client *c);
const char *mob_client_sid(const struct mob_client *c);
const char *mob_client_spid(const struct mob_client *c);

/* Handlers may be NULL; arg is passed to both. */
void mob_client_set_handlers(struct mob_client *c, mob_client_msg_fn msg,
    mob_client_conn_fn conn, void *arg);

/*
 * Connect and wait up to timeout_ms for CONNACK and the key distribution,
 * retrying (backoff) while the hub cannot be reached.  MOB_EDENIED at once
 * if the hub refused the credentials; MOB_ESYS if it could not be reached
 * in time (socket missing, connection refused); MOB_ETIMEOUT if it was
 * reached but did not complete the login.  After a successful connect, lost
 * connections are re-established automatically by the loop functions.
 */
int mob_client_connect(struct mob_client *c, int timeout_ms);
/*
 * The open phase of a daemon (lib/rt/mobius/daemon.h): open the transport
 * and send CONNECT, reading nothing, so that the hub's first bytes are
 * parsed only after the sandbox is entered by mob_client_connect().  0;
 * MOB_ESYS when the hub cannot be reached now (mob_client_connect retries).
 * Does nothing over TLS, whose handshake parses the peer (mob_client_connect
 * dials then), or once connecting has begun.
 */
int mob_client_open(struct mob_client *c);
/* 1 while connected and keys are in place. */
int mob_client_connected(const struct mob_client *c);

/*
 * Subscriptions are remembered and renewed after every reconnect.
 * filter is a full MQTT filter ("mob/cov/000001/+/#").  QoS 0..2.
 */
int mob_client_subscribe(struct mob_client *c, const char *filter, int qos);
int mob_client_unsubscribe(struct mob_client *c, const char *filter);

/*
 * Sign and publish dat_json (JSON text of the payload; NULL → null) on
 * topic.  While disconnected: MOB_EOFFLINE (nothing is queued; owners
 * republish state from their connect handler).  What the hub cannot take
 * yet waits in a bounded queue (cfg.queue); when it is full, MOB_ENOMEM,
 * counted in tx_overflow and logged once until it drains.  A COV (mob/cov)
 * also goes into the history (cfg.history).
 */
int mob_client_publish(struct mob_client *c, const char *topic,
    const char *dat_json, int qos, int retain);
/* As above with a cJSON payload (not consumed). */
int mob_client_publish_json(struct mob_client *c, const char *topic,
    const struct cJSON *dat, int qos, int retain);

/*
 * Request / response (docs/services.md).  req is the request object
 * without "id" ({"op":"read","uri":...}); the client adds a fresh "id",
 * publishes it (QoS 1) on mob/req/<target HID/SID> and waits for the
 * answer on mob/rsp/MYHID/MYSID/<id> signed by the target.
 *
 * Blocking form: runs the loop (other messages still reach the message
 * handler) until the response arrives or timeout_ms passes (MOB_ETIMEOUT).
 * On success *rsp is the whole response object ({"id","ok",...}), free
 * with cJSON_Delete; a response with "ok":false still returns 0 — see
 * mob_client_rsp_error().  MOB_EOFFLINE when the connection is lost while
 * waiting; when the loop itself fails, its error, and nothing is left
 * pending.
 */
int mob_client_request(struct mob_client *c, const char *target,
    const struct cJSON *req, int timeout_ms, struct cJSON **rsp);

/* A new request {"op","uri"} for u (docs/services.md), or NULL (out of
 * memory, or u does not format); the caller adds the op's members and
 * frees it with cJSON_Delete. */
struct cJSON *mob_client_req_new(const char *op, const struct mob_uri *u);

/*
 * Asynchronous form: cb is called exactly once from the loop with err = 0
 * and the response (owned by the client, valid during the call), or with
 * rsp = NULL and err = MOB_ETIMEOUT (timeout_ms passed) or MOB_EOFFLINE
 * (the connection to the hub was lost: the answer cannot come).  Not
 * called when the client is freed first.
 */
typedef void (*mob_client_rsp_fn)(struct mob_client *c, int err,
    const struct cJSON *rsp, void *arg);
int mob_client_request_async(struct mob_client *c, const char *target,
    const struct cJSON *req, int timeout_ms, mob_client_rsp_fn cb, void *arg);

/*
 * 0 for an "ok":true response; otherwise the MOB_E* code named by
 * error.code (MOB_EPROTO when missing or unknown) and, if msg is not NULL,
 * the message.
 */
int mob_client_rsp_error(const struct cJSON *rsp, const char **msg);

/* --- event loop ------------------------------------------------------- */

/*
 * Fill pfd for poll(): the MQTT socket with POLLIN (and POLLOUT while
 * output is pending).  While disconnected pfd->fd is -1 (poll ignores it)
 * and only the timeout matters.
 */
void mob_client_pollfd(struct mob_client *c, struct pollfd *pfd);
/*
 * Milliseconds until mob_client_process must run even without socket
 * activity (keepalive, reconnect backoff, request timeouts); -1 = never.
 */
int mob_client_timeout(const struct mob_client *c);
/*
 * After poll(): revents of the pollfd (0 on a timeout).  0, or
 * MOB_EIDENTITY once another client took this one's place (stop).
 */
int mob_client_process(struct mob_client *c, short revents);
/* poll the client alone for at most timeout_ms, then process.  0 or error. */
int mob_client_loop(struct mob_client *c, int timeout_ms);

/* --- counters --------------------------------------------------------- */

struct mob_client_stats {
	uint64_t rx;		/* messages received and verified */
	uint64_t rx_dropped;	/* dropped: failed verification or malformed */
	uint64_t tx;		/* messages published */
	uint64_t reconnects;	/* successful reconnections after a loss */
	uint64_t tx_overflow;	/* publishes refused: the outgoing queue was full */
	uint64_t rx_dups;	/* watcher: COVs delivered already, dropped */
	uint64_t recovered;	/* watcher: COVs delivered from a history */
	uint64_t gaps;		/* watcher: recoveries that could not close a gap */
	int last_drop;		/* MOB_E* of the most recent drop */
	size_t pending;		/* requests waiting for their answer now */
};
void mob_client_stats(const struct mob_client *c, struct mob_client_stats *out);

#endif
