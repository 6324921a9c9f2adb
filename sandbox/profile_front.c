/*
 * mobius-front: ws/wss in front of a mosquitto TCP listener.  Accepts
 * WebSocket clients from the network, opens one TCP connection to the
 * broker each; one thread (libwebsockets' poll loop), writes no file.
 */
#include <errno.h>
#include <sys/ioctl.h>

#include "mobius/sandbox.h"

static const struct mob_sandbox_rule front_rules[] = {
	/* clients in, the broker out */
	SB_ALLOW_ARG(socket, MOB_SB_ARG_SOCKET),
	SB_DENY_ELSE(socket, EAFNOSUPPORT, MOB_SB_ARG_SOCKET),
	SB_ALLOW(connect),
	SB_ALLOW(accept4),
	SB_ALLOW_ARG(socketpair, MOB_SB_ARG_SOCKET),	/* libwebsockets' wake-up pair */
	SB_DENY_ELSE(socketpair, EAFNOSUPPORT, MOB_SB_ARG_SOCKET),
	SB_ALLOW(sysinfo),		/* libwebsockets reads the uptime */
	SB_ALLOW(accept),
	SB_ALLOW(sendto),
	SB_ALLOW(sendmsg),
	SB_ALLOW(recvfrom),
	SB_ALLOW(recvmsg),
	SB_ALLOW(getsockopt),
	SB_ALLOW(setsockopt),
	SB_ALLOW(getsockname),
	SB_ALLOW(getpeername),
	SB_ALLOW(shutdown),
	SB_ALLOW(pipe2),
	SB_ALLOW(eventfd2),

	/* reads only (OpenSSL configuration, the resolver) */
	SB_ALLOW_ARG(openat, MOB_SB_ARG_RDONLY),
	SB_DENY_ELSE(openat, EACCES, MOB_SB_ARG_RDONLY),
	SB_ALLOW_ARG(open, MOB_SB_ARG_RDONLY),
	SB_DENY_ELSE(open, EACCES, MOB_SB_ARG_RDONLY),
	SB_DENY_EQ(ioctl, ENOTTY, 1, TCGETS),	/* isatty() */
	SB_END
};

const struct mob_sandbox_profile mob_sandbox_front = {
	.name = "front",
	.user = "mobius-front",
	.flags = MOB_SB_NET,
	.nofile = 1024,
	.nproc = 1,
	.rules = front_rules,
	.ioctls = NULL,
};
