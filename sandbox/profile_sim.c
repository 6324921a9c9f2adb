/*
 * mobius-sim: simulated sensors.  Talks to the hub over its Unix socket and
 * to systemd's notify socket; no network, no devices; writes one file, the
 * operators' slots in its state directory (lib/rt/mobius/persist.h).
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

	/*
	 * Reads (time zone, OpenSSL configuration), and the slots file:
	 * a temp file created, fsynced and renamed into place.  The mount
	 * view leaves only the state directory writable.
	 */
	SB_ALLOW(openat),
	SB_ALLOW(open),
	SB_ALLOW(fchmod),
	SB_ALLOW(fsync),
	SB_ALLOW(rename),
	SB_ALLOW(renameat),
	SB_ALLOW(renameat2),
	SB_ALLOW(unlink),
	SB_ALLOW(unlinkat),
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
