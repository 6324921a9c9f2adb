/*
 * mobius-sim: simulated sensors.  Talks to the hub over its Unix socket and
 * to systemd's notify socket; no network, no devices, writes no file.
 */
#include <errno.h>
#include <sys/ioctl.h>

#include "mobius/sandbox.h"

static const struct mob_sandbox_rule sim_rules[] = {
	/* hub and sd_notify: Unix sockets only */
	SB_ALLOW_ARG(socket, MOB_SB_ARG_SOCKET),
	SB_DENY_ELSE(socket, EAFNOSUPPORT, MOB_SB_ARG_SOCKET),
	SB_ALLOW(connect),
	SB_ALLOW(sendto),
	SB_ALLOW(sendmsg),
	SB_ALLOW(recvfrom),
	SB_ALLOW(recvmsg),
	SB_ALLOW(getsockopt),
	SB_ALLOW(setsockopt),
	SB_ALLOW(getsockname),
	SB_ALLOW(getpeername),
	SB_ALLOW(shutdown),

	/* reads only (time zone, OpenSSL configuration) */
	SB_ALLOW_ARG(openat, MOB_SB_ARG_RDONLY),
	SB_DENY_ELSE(openat, EACCES, MOB_SB_ARG_RDONLY),
	SB_ALLOW_ARG(open, MOB_SB_ARG_RDONLY),
	SB_DENY_ELSE(open, EACCES, MOB_SB_ARG_RDONLY),
	SB_DENY_EQ(ioctl, ENOTTY, 1, TCGETS),	/* isatty() */
	SB_END
};

const struct mob_sandbox_profile mob_sandbox_sim = {
	.name = "sim",
	.user = "mobius-sim",
	.flags = 0,
	.nofile = 64,
	.nproc = 1,
	.rules = sim_rules,
	.ioctls = NULL,
};
