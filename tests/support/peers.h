/*
 * Two peered nodes for the router tests: keys made with mobius-keytool
 * (export-peer on each node, import-peer of the other's output), a
 * no-man's broker (Debian's mosquitto behind mobius-front, or any ws URL),
 * per node a hub (remote_req yes), mobius-sim and mobius-router, all real
 * programs in one temporary directory.
 *
 * With netns set, the broker and each router run in network namespaces
 * the caller made (tests/test_router_netns.c); hubs, services and the CLI
 * stay in the test's namespace and reach their hub by its Unix socket.
 */
#ifndef MOBIUS_TEST_PEERS_H
#define MOBIUS_TEST_PEERS_H

#include <stdint.h>

#include "harness.h"
#include "mobius/client.h"

struct tp_node {
	char hid[7];
	char dir[300], keys[320], sock[320], rstate[320], rconf[320];
	char peerfile[320];	/* this node's export-peer output */
	char clockfile[340];	/* its libfaketime offset (tp_opts.clock) */
	char *env[6];		/* its daemons' environment (faketime) */
	char envbuf[2][400];
	struct th_proc hub, sim, router;
	const char *netns;	/* the router's namespace, or NULL */
};

struct tp_opts {
	int coalesce_ms;	/* mobius-front --coalesce */
	int compat;		/* both nodes in compat (HS256) key mode */
	int keepalive;		/* the routers' MQTT keepalive, s (default 5) */
	int plain;		/* peers configured with "encrypt": false */
	int acl;		/* the broker allows each router only its topics */
	int sandbox;		/* routers confined (as nobody when root) */
	const char *ws_url;	/* an external broker instead of mosquitto+front */
	const char *ws_url2;	/* node 2's broker URL when different */
	const char *broker_ns;	/* the broker's namespace */
	const char *broker_addr;	/* its address as the routers see it */
	const char *ns[2];	/* namespaces of the routers */
	long queue_ttl;		/* s; 0 = default */
	int no_import;		/* nodes start without each other's key */
	const char *clock[2];	/* node i's hub, sim and router run under
				 * libfaketime at this offset ("+0"), which
				 * tp_clock() steps; NULL: the real clock */
	const char *username[2], *passfile[2];
};

struct tp_world {
	char dir[256];
	struct tp_opts o;
	int mqtt_port, ws_port;
	char acl[320];
	struct th_proc broker, front;
	struct tp_node n[2];
};

/* Everything up; waits until both routers report the other reachable. */
void tp_start(struct tp_world *w, const struct tp_opts *o);
void tp_stop(struct tp_world *w);

/* mobius-keytool ARGS... on node i's key directory: its exit code. */
int tp_keytool(struct tp_world *w, int i, char *out, size_t outlen,
    const char *const args[]);
/* Node i imports the other node's export-peer output (import-peer). */
void tp_import(struct tp_world *w, int i);

/* Step node i's clock (tp_opts.clock): a libfaketime offset, "-1h". */
void tp_clock(struct tp_world *w, int i, const char *offset);

/* Start / stop one node's router (the world stays up). */
void tp_router_start(struct tp_world *w, int i);
void tp_router_kill(struct tp_world *w, int i, int sig);

/* Run `mobius ARGS...` as node i's CLI (0C1); returns the exit code,
 * stdout+stderr in out.  args is NULL-terminated. */
int tp_cli(struct tp_world *w, int i, char *out, size_t outlen,
    const char *const args[]);

/* A counter of node i's router about its peer ("replay", "delivered",
 * "reachable" as 0/1 ...) from its stats.json; -1 when unreadable. */
double tp_stat(struct tp_world *w, int i, const char *name);
/* Wait until tp_stat(...) >= v (within timeout_ms): 0 or -1. */
int tp_wait_stat(struct tp_world *w, int i, const char *name, double v,
    int timeout_ms);

/* The broker's MQTT TCP listener, for sniffers and injectors. */
void tp_broker_addr(const struct tp_world *w, char *host, size_t len, int *port);

/* One message a sniffer on the broker kept. */
struct tp_frame {
	char topic[64];
	uint8_t b[4096];
	size_t len;
};

/* A sniffer's lines "TOPIC HEX" (mosquitto_sub -F '%t %x', or
 * tests/node/sniff.mjs) from line `from` on, at most max. */
size_t tp_frames_read(const char *path, size_t from, struct tp_frame *f,
    size_t max);
/* NULL when every frame is on a mob/x/ topic and none carries a value,
 * name, URI or verb of either node in clear; else what was seen where. */
const char *tp_frames_plaintext(const struct tp_frame *f, size_t n,
    char *why, size_t len);

/*
 * A COV stream through the routers: a service of the test on node 2
 * (000002/0A0, its key added and the hub reloaded) publishes {"n": N},
 * N = 0, 1, ... on mob/cov/000002/0A0/0001/0001/40; a client of node 1
 * (0C2) watches it and counts what arrives once, again, or past a hole.
 */
struct tp_stream {
	struct mob_client *pub, *sub;
	long sent, next;	/* sent so far; the n the watcher expects */
	long got, dups, gaps;	/* received once, again, past a hole */
};

void tp_stream_open(struct tp_world *w, struct tp_stream *s);
void tp_stream_close(struct tp_stream *s);
/* Run both clients for ms, publishing rate COV/s when rate > 0. */
void tp_stream_run(struct tp_stream *s, int rate, int ms);
/* Let the backlog drain: until every message arrived or 120 s of quiet. */
void tp_stream_drain(struct tp_stream *s);

#endif
