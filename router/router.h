/*
 * mobius-router's own types: configuration (config.c) used by the daemon
 * (router.c).  The shared modules are in internal.h.
 */
#ifndef MOBIUS_ROUTER_H
#define MOBIUS_ROUTER_H

#include <sys/types.h>
#include <time.h>

#include "internal.h"

#define RT_PEERS_MAX		64
#define RT_PEER_KEYS		4	/* active + keys in their grace period */
#define RT_OWN_KEYS		4	/* ours: active + those in their grace */
#define RT_PATTERNS_MAX		32
#define RT_ROUTER_SID		"0F0"	/* the hub's router_sid default */

struct rt_patterns {
	struct mob_uri u[RT_PATTERNS_MAX];	/* MOB_URI_WILD */
	size_t n;
};

/* A peer's policy from the configuration (its keys are in the peer file). */
struct rt_peer_cfg {
	char hid[7];
	int encrypt;		/* require and send sealed frames (default) */
	struct rt_patterns read, watch, write;
};

/*
 * One peer's keys from the peer file: active first, then those in grace
 * (also those whose grace is over: a frame under one is refused, and
 * counted as such).  keys[i][o] is peer key i with its pair key for our
 * own key o (rt_own).
 */
struct rt_peer_keys {
	char hid[7];
	struct rt_peerkey keys[RT_PEER_KEYS][RT_OWN_KEYS];
	size_t nkeys;
};

/* Our external keys: active first, then those in their grace. */
struct rt_own {
	struct rt_ident id[RT_OWN_KEYS];
	int64_t not_after[RT_OWN_KEYS];	/* unix s, 0 = active */
	size_t n;
};

/* The peer file as loaded, and what it was (to notice a change). */
struct rt_peerset {
	struct rt_peer_keys p[RT_PEERS_MAX];
	size_t n;
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct rt_cfg {
	struct rt_ident me;	/* set before rt_cfg_load (pair keys need it) */
	struct rt_broker broker;
	char cafile[256];
	int insecure;
	char username[128];
	char password[256];
	int keepalive;		/* s: the broker link's liveness check */
	struct rt_qcfg q;
	struct rt_peer_cfg peers[RT_PEERS_MAX];
	size_t npeers;
};

int rt_cfg_load(const char *path, struct rt_cfg *cfg, char *err, size_t errlen);
/*
 * The peer file that mobius-keytool import-peer writes: every peer other
 * than us with its keys.  No file is no peer (0).
 */
int rt_peers_load(const char *path, const struct rt_own *own,
    struct rt_peerset *out, char *err, size_t errlen);

#endif
