/*
 * mobius-router: the node's one network-facing service.  Internal side on
 * the hub's Unix socket, external side MQTT over ws:// or wss:// (Paho C:
 * worker threads), store-and-forward queue in its state directory.
 */
#include <errno.h>
#include <sys/ioctl.h>

#include "mobius/sandbox.h"

static const struct mob_sandbox_rule router_rules[] = {
	/* hub, sd_notify, the no-man's broker, DNS */
	SB_ALLOW_ARG(socket, MOB_SB_ARG_SOCKET),
	SB_DENY_ELSE(socket, EAFNOSUPPORT, MOB_SB_ARG_SOCKET),	/* getaddrinfo probes netlink */
	SB_ALLOW(connect),
	SB_ALLOW(bind),			/* the resolver binds its UDP socket */

	/*
	 * The first lookup of a host name that /etc/hosts lacks may load an
	 * NSS module (mdns4_minimal, resolve) long after start: code mapped
	 * from files only, never writable or anonymous.  Every writable path
	 * is noexec, so nothing the process writes can be mapped.
	 */
	SB_ALLOW_ARG(mmap, MOB_SB_ARG_FILEEXEC),
	SB_ALLOW(sendto),
	SB_ALLOW(sendmsg),
	SB_ALLOW(sendmmsg),
	SB_ALLOW(recvfrom),
	SB_ALLOW(recvmsg),
	SB_ALLOW(getsockopt),
	SB_ALLOW(setsockopt),
	SB_ALLOW(getsockname),
	SB_ALLOW(getpeername),
	SB_ALLOW(shutdown),

	/* Paho's worker threads (no fork) */
	SB_ALLOW_ARG(clone, MOB_SB_ARG_THREAD),
	SB_ALLOW(set_tid_address),
	SB_ALLOW(sched_setaffinity),
	SB_ALLOW(getpriority),

	/* store-and-forward queue: the only writable directory */
	SB_ALLOW(openat),
	SB_ALLOW(open),
	SB_ALLOW(getdents64),
	SB_ALLOW(ftruncate),
	SB_ALLOW(fsync),
	SB_ALLOW(fdatasync),
	SB_ALLOW(flock),
	SB_ALLOW(rename),
	SB_ALLOW(renameat),
	SB_ALLOW(renameat2),
	SB_ALLOW(unlink),
	SB_ALLOW(unlinkat),
	SB_ALLOW(mkdir),
	SB_ALLOW(mkdirat),
	SB_ALLOW(fchmod),
	SB_ALLOW(readlink),
	SB_ALLOW(readlinkat),
	SB_DENY_EQ(ioctl, ENOTTY, 1, TCGETS),	/* isatty() */
	SB_END
};

const struct mob_sandbox_profile mob_sandbox_router = {
	.name = "router",
	.user = "mobius-router",
	.flags = MOB_SB_NET,
	.nofile = 256,
	.nproc = 32,		/* Paho's threads */
	.rules = router_rules,
	.ioctls = NULL,
};
