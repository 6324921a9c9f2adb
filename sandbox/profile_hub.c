/*
 * mobius-hub: the launcher enters this sandbox, then execs mosquitto, which
 * loads our plugin and serves the node.  A filter survives exec and cannot
 * be loosened, so the table is mosquitto's: the dynamic loader's calls
 * (file-backed code mappings, arch_prctl, set_tid_address), the listeners
 * (bind, listen, accept), SIGHUP to reload the keyring.
 *
 * exec itself: one execve, only with the launcher's own pointer to the
 * mosquitto path.  After the exec that address means nothing the attacker
 * can know (ASLR of a process image that no longer exists) and a wrong
 * guess kills the broker; the plugin then stacks mob_sandbox_lock_exec().
 */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>

#include "mobius/sandbox.h"

static const struct mob_sandbox_rule hub_rules[] = {
	SB_ALLOW_ARG(execve, MOB_SB_ARG_EXEC),

	/* the dynamic loader: code only from files, never anonymous or writable */
	SB_ALLOW_ARG(mmap, MOB_SB_ARG_FILEEXEC),
	SB_ALLOW(arch_prctl),
	SB_ALLOW(set_tid_address),
	SB_ALLOW(access),
	SB_ALLOW(faccessat),
	SB_ALLOW(faccessat2),
	SB_ALLOW(readlink),
	SB_ALLOW(readlinkat),

	/*
	 * configuration, plugin, keyring; the persistence file is written
	 * and renamed in the state directory, the one writable place besides
	 * the socket's directory (the mount view is read-only elsewhere)
	 */
	SB_ALLOW(openat),
	SB_ALLOW(open),
	SB_ALLOW(getdents64),
	SB_ALLOW(rename),
	SB_ALLOW(renameat),
	SB_ALLOW(renameat2),
	SB_ALLOW(fsync),
	SB_ALLOW(fdatasync),
	SB_ALLOW(fchmod),
	SB_ALLOW(ftruncate),

	/* listeners: Unix socket (services), TLS over TCP (local clients) */
	SB_ALLOW_ARG(socket, MOB_SB_ARG_SOCKET),
	SB_DENY_ELSE(socket, EAFNOSUPPORT, MOB_SB_ARG_SOCKET),
	SB_ALLOW(bind),
	SB_ALLOW(listen),
	SB_ALLOW(accept),
	SB_ALLOW(accept4),
	SB_ALLOW(connect),		/* sd_notify */
	SB_ALLOW(umask),
	SB_ALLOW(unlink),		/* a stale socket */
	SB_ALLOW(unlinkat),
	SB_ALLOW(chmod),		/* socket permissions */
	SB_ALLOW(fchmodat),
	SB_ALLOW(sendto),
	SB_ALLOW(sendmsg),
	SB_ALLOW(recvfrom),
	SB_ALLOW(recvmsg),
	SB_ALLOW(getsockopt),
	SB_ALLOW(setsockopt),
	SB_ALLOW(getsockname),
	SB_ALLOW(getpeername),
	SB_ALLOW(shutdown),
	SB_ALLOW(epoll_create),

	/* process */
	SB_ALLOW(getppid),
	SB_ALLOW(getresuid),
	SB_ALLOW(getresgid),
	SB_ALLOW(getgroups),
	SB_ALLOW(sysinfo),
	SB_ALLOW_ARG(kill, MOB_SB_ARG_SELF),
	SB_ALLOW_EQ(prctl, 0, PR_CAPBSET_READ),	/* libcap's start-up probe */

	/* the plugin stacks a filter against exec: filters only ever narrow */
	SB_ALLOW(seccomp),
	SB_ALLOW_EQ(prctl, 0, PR_SET_NO_NEW_PRIVS),
	SB_ALLOW_EQ(prctl, 0, PR_GET_NO_NEW_PRIVS),
	SB_DENY_EQ(ioctl, ENOTTY, 1, TCGETS),	/* isatty() */
	SB_END
};

const struct mob_sandbox_profile mob_sandbox_hub = {
	.name = "hub",
	.user = "mobius-hub",
	.flags = MOB_SB_NET | MOB_SB_EXEC,
	.nofile = 4096,		/* one fd per client */
	.nproc = 1,
	.rules = hub_rules,
	.ioctls = NULL,
};
