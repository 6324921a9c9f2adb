/*
 * mobius-api: the node's application-facing server.  Listens on TCP
 * (HTTPS), talks to the hub over its Unix socket; after start it only
 * re-reads its token file and TLS certificate (read-only opens), never
 * executes anything and holds no key but its own.
 */
#include <errno.h>
#include <sys/ioctl.h>

#include "mobius/sandbox.h"

static const struct mob_sandbox_rule api_rules[] = {
	/* clients in, the hub, sd_notify */
	SB_ALLOW_ARG(socket, MOB_SB_ARG_SOCKET),
	SB_DENY_ELSE(socket, EAFNOSUPPORT, MOB_SB_ARG_SOCKET),
	SB_ALLOW(accept),
	SB_ALLOW(accept4),
	SB_ALLOW(connect),		/* the hub, on reconnection */
	SB_ALLOW(sendto),
	SB_ALLOW(sendmsg),
	SB_ALLOW(recvfrom),
	SB_ALLOW(recvmsg),
	SB_ALLOW(getsockopt),
	SB_ALLOW(setsockopt),
	SB_ALLOW(getsockname),
	SB_ALLOW(getpeername),
	SB_ALLOW(shutdown),

	/* re-reads of the token file and the certificate */
	SB_ALLOW_ARG(openat, MOB_SB_ARG_RDONLY),
	SB_DENY_ELSE(openat, EACCES, MOB_SB_ARG_RDONLY),
	SB_ALLOW_ARG(open, MOB_SB_ARG_RDONLY),
	SB_DENY_ELSE(open, EACCES, MOB_SB_ARG_RDONLY),
	SB_ALLOW(stat),
	SB_DENY_EQ(ioctl, ENOTTY, 1, TCGETS),	/* isatty() */
	SB_ALLOW_EQ(ioctl, 1, FIONREAD),	/* libwebsockets, TLS reads */
	SB_END
};

const struct mob_sandbox_profile mob_sandbox_api = {
	.name = "api",
	.user = "mobius-api",
	.flags = MOB_SB_NET,
	.nofile = 512,		/* API_CONN_MAX connections and the rest */
	.nproc = 1,
	.rules = api_rules,
	.ioctls = NULL,
};
