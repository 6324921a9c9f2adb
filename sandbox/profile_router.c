/*
 * mobius-router: the node's external-facing service.  Internal side on
 * the hub's Unix socket; external side libmosquitto over a Unix socket in
 * its state directory, pumped into ws:// or wss:// by one libwebsockets
 * thread (router/ws.c); store-and-forward queues and replay state in the
 * state directory, the only writable place.  No exec, no fork.
 */
#include <errno.h>
#include <sys/ioctl.h>

#include "mobius/sandbox.h"

static const struct mob_sandbox_rule router_rules[] = {
	/* hub, sd_notify, the broker link, the broker itself, DNS */
	SB_ALLOW_ARG(socket, MOB_SB_ARG_SOCKET),
	SB_DENY_ELSE(socket, EAFNOSUPPORT, MOB_SB_ARG_SOCKET),	/* getaddrinfo probes netlink */
	SB_ALLOW(connect),
	SB_ALLOW(bind),			/* the resolver binds its UDP socket */
	SB_ALLOW(accept4),		/* libmosquitto's connection to ws.c */
	SB_ALLOW(listen),		/* ws.c's Unix listener, made in the sandbox */
	SB_ALLOW_ARG(socketpair, MOB_SB_ARG_SOCKET),	/* libwebsockets' wake-up pair */
	SB_DENY_ELSE(socketpair, EAFNOSUPPORT, MOB_SB_ARG_SOCKET),
	SB_ALLOW(sysinfo),		/* libwebsockets reads the uptime */
	SB_ALLOW(accept),

	/*
	 * The first lookup of a host name that /etc/hosts lacks may load an
	 * NSS module long after start: code mapped from files only, never
	 * writable or anonymous.  Every writable path is noexec.
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

	/* the libwebsockets thread (no fork); lws_cancel_service's pipe */
	SB_ALLOW_ARG(clone, MOB_SB_ARG_THREAD),
	SB_ALLOW(set_robust_list),
	SB_ALLOW(rseq),
	SB_ALLOW(pipe2),
	SB_ALLOW(eventfd2),

	/* queues and replay state: the only writable directory */
	SB_ALLOW(openat),
	SB_ALLOW(open),
	SB_ALLOW(getdents64),
	SB_ALLOW(ftruncate),
	SB_ALLOW(fsync),
	SB_ALLOW(fdatasync),
	SB_ALLOW(pwrite64),
	SB_ALLOW(pwritev),
	SB_ALLOW(pread64),
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
	.nproc = 64,		/* per user: two threads per instance (main, libwebsockets) */
	.rules = router_rules,
	.ioctls = NULL,
};
