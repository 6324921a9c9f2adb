/*
 * mobius-router's own types: configuration (config.c) used by the daemon
 * (router.c).  The shared modules are in internal.h.
 */
#ifndef MOBIUS_ROUTER_H
#define MOBIUS_ROUTER_H

#include "internal.h"

#define RT_PEERS_MAX		64
#define RT_PEER_KEYS		4	/* active + keys in their grace period */
#define RT_PATTERNS_MAX		32
#define RT_ROUTER_SID		"0F0"	/* the hub's router_sid default */

struct rt_patterns {
	struct mob_uri u[RT_PATTERNS_MAX];	/* MOB_URI_WILD */
	size_t n;
};

struct rt_peer_cfg {
	char hid[7];
	struct rt_peerkey keys[RT_PEER_KEYS];	/* active first */
	size_t nkeys;
	int encrypt;		/* require and send sealed frames (default) */
	struct rt_patterns read, watch, write;
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

#endif
