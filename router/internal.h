/*
 * mobius-router and mobius-front: private header (docs/router.md).
 *
 * Modules, one banner each below:
 *   frame.c  the external frame: sign, seal, check, open (docs/protocol.md §6)
 *   queue.c  the store-and-forward queue: append-only segments on disk
 *   pump.c   a byte pump between a raw socket and a WebSocket (libwebsockets)
 *   ws.c     the router's WebSocket side: a Unix listener for libmosquitto,
 *            each accepted connection pumped into a ws:// or wss:// client
 *   config.c the router's configuration (peers, export policy, queue bounds)
 *   router.c the router daemon: hub side, broker side, peers
 *   front.c  mobius-front, the ws/wss front of a mosquitto TCP listener
 */
#ifndef MOBIUS_ROUTER_INTERNAL_H
#define MOBIUS_ROUTER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "mobius/uri.h"

/* ---- frame.c -------------------------------------------------------- */

#define RT_FRAME_VERSION	1
#define RT_KID_LEN		8
#define RT_HDR_LEN		42
#define RT_NONCE_LEN		crypto_aead_xchacha20poly1305_ietf_NPUBBYTES	/* 24 */
#define RT_TAG_LEN		crypto_aead_xchacha20poly1305_ietf_ABYTES	/* 16 */
#define RT_SIG_LEN		crypto_sign_BYTES				/* 64 */
#define RT_FRAME_MAX		(64 * 1024)	/* whole frame, on the wire */
#define RT_BODY_MAX		(RT_FRAME_MAX - RT_HDR_LEN - RT_NONCE_LEN - RT_TAG_LEN - RT_SIG_LEN)
#define RT_FLAG_SEALED		0x01	/* body is nonce || AEAD ciphertext */

enum rt_class {
	RT_CLASS_DATA = 1,	/* queued, in order, acknowledged end to end */
	RT_CLASS_LIVE = 2,	/* requests, responses, acks, heartbeats */
};

/* A router's external identity (libsodium keys from the Ed25519 seed). */
struct rt_ident {
	char hid[7];
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	uint8_t xsk[crypto_scalarmult_SCALARBYTES];
	uint8_t kid[RT_KID_LEN];
};

/* A peer's public key and the pair key derived with ours. */
struct rt_peerkey {
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t kid[RT_KID_LEN];
	uint8_t pair[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	int64_t not_after;	/* unix s, 0 = active key */
};

/* The clear header of a frame (authenticated by the signature). */
struct rt_hdr {
	uint8_t version;
	uint8_t flags;
	uint8_t cls;		/* enum rt_class */
	uint8_t kid_from[RT_KID_LEN];
	uint8_t kid_to[RT_KID_LEN];
	char from[7];		/* HIDs as text */
	char to[7];
	uint64_t seq;
	int64_t ts;		/* ms since 1970, when the frame was made */
};

int rt_ident_from_seed(const char *hid, const uint8_t seed[32], struct rt_ident *out);
void rt_kid(const uint8_t pk[32], uint8_t kid[RT_KID_LEN]);
/* The pair key of me and the peer's Ed25519 key (X25519 + HKDF-SHA256). */
int rt_pair_key(const struct rt_ident *me, const uint8_t peer_pk[32],
    uint8_t key[32]);
/* Build a frame: header, body (sealed under pair when sealed), signature. */
int rt_frame_make(const struct rt_ident *me, const struct rt_peerkey *peer,
    const struct rt_hdr *h, const uint8_t *pt, size_t ptlen,
    uint8_t *out, size_t outsz, size_t *outlen);
/* Parse the clear header only (length and version checked). */
int rt_frame_header(const uint8_t *buf, size_t len, struct rt_hdr *h);
/*
 * Verify the signature with the peer's key, then open the body into pt
 * (at most ptsz bytes).  MOB_EBADSIG, MOB_ECRYPTO, MOB_ETOOLONG.
 */
int rt_frame_open(const struct rt_peerkey *peer, const uint8_t *buf,
    size_t len, uint8_t *pt, size_t ptsz, size_t *ptlen);
const char *rt_class_name(int cls);
/* Big-endian u64 (frames and queue records). */
void rt_put64(uint8_t *p, uint64_t v);
uint64_t rt_get64(const uint8_t *p);
int rt_class_parse(const char *s);

/* ---- queue.c -------------------------------------------------------- */

enum rt_qfull { RT_QFULL_REFUSE = 0, RT_QFULL_DROP_OLDEST = 1 };

struct rt_qcfg {
	uint64_t max_bytes;	/* all segments together */
	int64_t ttl_ms;		/* a record older than this is dropped */
	uint64_t seg_bytes;	/* one segment file */
	enum rt_qfull full;
};

struct rt_qstats {
	uint64_t pushed, acked, refused_full, dropped_full, expired;
	uint64_t bytes, records;
};

struct rt_queue;

/* Open (creating) the queue in dir; rebuilds the index from the segments,
 * cutting a torn last record. */
int rt_queue_open(const char *dir, const struct rt_qcfg *cfg, struct rt_queue **out);
void rt_queue_free(struct rt_queue *q);
/* The seq the next record must carry (time-based start for a new queue). */
uint64_t rt_queue_next_seq(const struct rt_queue *q);
/* Append a record; MOB_ERANGE (counted) when full and the policy refuses. */
int rt_queue_push(struct rt_queue *q, uint64_t seq, int64_t ts,
    const uint8_t *rec, size_t len);
/* fdatasync what was appended since the last call; records become sendable. */
int rt_queue_sync(struct rt_queue *q);
/* Records from the head: how many are durable (synced). */
size_t rt_queue_durable(const struct rt_queue *q);
/* Read record i (0 = head). */
int rt_queue_get(struct rt_queue *q, size_t i, uint8_t *buf, size_t sz,
    size_t *len, uint64_t *seq, int64_t *ts);
/* Seq of the head record, 0 when empty. */
uint64_t rt_queue_head(const struct rt_queue *q);
/* Drop records with seq <= upto (the peer acknowledged them). */
void rt_queue_ack(struct rt_queue *q, uint64_t upto);
/* Drop records older than the TTL; returns how many. */
size_t rt_queue_expire(struct rt_queue *q, int64_t now_ms);
void rt_queue_stats(const struct rt_queue *q, struct rt_qstats *out);

/* ---- pump.c ----------------------------------------------------------- */

struct lws;
struct lws_context;

struct rt_buf {
	uint8_t *p;
	size_t len, cap;
};

#define RT_PUMP_HIGH	(1024 * 1024)	/* stop reading a side above this */

/*
 * One raw socket and one WebSocket carrying the same byte stream.  Both
 * wsi point at the pump (opaque user data); whichever closes first takes
 * the other down.  coalesce_us > 0 (front test mode) holds bytes for the
 * WebSocket that long so several MQTT packets share one frame.
 */
struct rt_pump {
	struct lws *raw, *ws;
	struct rt_buf to_ws, to_raw;
	int ws_up, raw_up;
	int coalesce_us;
	int timer_armed;
	unsigned int chunks;	/* raw reads waiting for the next frame */
	uint64_t frames_out;	/* WebSocket frames sent */
	uint64_t frames_merged;	/* of which carried several raw reads */
};

struct rt_pump *rt_pump_new(void);
/* Detach wsi; frees the pump when both sides are gone. */
void rt_pump_detach(struct rt_pump *p, struct lws *wsi);
/* Bytes arrived from one side, for the other. */
int rt_pump_from_raw(struct rt_pump *p, const void *in, size_t len);
int rt_pump_from_ws(struct rt_pump *p, const void *in, size_t len);
/* Writeable callbacks: send what is pending.  -1 closes the wsi. */
int rt_pump_raw_writeable(struct rt_pump *p);
int rt_pump_ws_writeable(struct rt_pump *p);
/* The coalescing timer of the ws side fired. */
void rt_pump_ws_timer(struct rt_pump *p);
/* One side is up now: flush what waited. */
void rt_pump_up(struct rt_pump *p, struct lws *wsi);
void rt_buf_free(struct rt_buf *b);
/* libwebsockets' log lines into ours (errors as warnings, the rest debug). */
void rt_lws_log(int level, const char *line);

/* ---- ws.c ------------------------------------------------------------- */

struct rt_broker {
	char url[256];
	int tls;		/* wss:// */
	char host[128];
	int port;
	char path[128];
	const char *cafile;	/* wss: CA of the broker's certificate */
	int insecure;		/* wss without certificate checks (tests only) */
};

int rt_broker_parse(const char *url, struct rt_broker *b);

struct rt_ws;
/* Listen on sockpath (before the sandbox); no connection is made yet. */
int rt_ws_new(const struct rt_broker *b, const char *sockpath, struct rt_ws **out);
/* Start the WebSocket thread (after the sandbox). */
int rt_ws_start(struct rt_ws *w);
void rt_ws_free(struct rt_ws *w);

#endif
