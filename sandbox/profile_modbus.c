/*
 * mobius-modbus: Modbus master over TCP (network) or RTU (a serial line).
 * libmodbus reconnects on its own: it opens the tty again (read-write)
 * and sets its line discipline, or resolves and connects a TCP socket.
 */
#include <errno.h>
#include <linux/serial.h>
#include <sys/ioctl.h>

#include "mobius/sandbox.h"

static const struct mob_sandbox_rule modbus_rules[] = {
	/* hub, sd_notify, Modbus TCP and DNS */
	SB_ALLOW_ARG(socket, MOB_SB_ARG_SOCKET),
	SB_DENY_ELSE(socket, EAFNOSUPPORT, MOB_SB_ARG_SOCKET),	/* getaddrinfo probes netlink */
	SB_ALLOW(connect),
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
	SB_ALLOW(bind),			/* the resolver binds its UDP socket */

	/*
	 * The first lookup of a host name that /etc/hosts lacks may load an
	 * NSS module (mdns4_minimal, resolve) long after start: code mapped
	 * from files only, never writable or anonymous.  Every writable path
	 * is noexec, so nothing the process writes can be mapped.
	 */
	SB_ALLOW_ARG(mmap, MOB_SB_ARG_FILEEXEC),

	/* reopening the serial line needs O_RDWR; the tree is read-only */
	SB_ALLOW(openat),
	SB_ALLOW(open),
	/* the slots file in the state directory (lib/rt/mobius/persist.h) */
	SB_ALLOW(fchmod),
	SB_ALLOW(fsync),
	SB_ALLOW(rename),
	SB_ALLOW(renameat),
	SB_ALLOW(renameat2),
	SB_ALLOW(unlink),
	SB_ALLOW(unlinkat),
	SB_ALLOW_ARG(ioctl, MOB_SB_ARG_IOCTL),	/* the serial line */
	SB_END
};

static const unsigned long modbus_ioctls[] = {
	TCGETS,			/* tcgetattr */
	TCSETS,			/* tcsetattr */
	TCSETSW,
	TCSETSF,
	TCFLSH,			/* tcflush */
	TCSBRK,			/* tcdrain */
	TIOCMGET,		/* RTS for RS-485 direction */
	TIOCMSET,
	TIOCMBIS,
	TIOCMBIC,
	TIOCGRS485,		/* kernel RS-485 mode */
	TIOCSRS485,
	FIONREAD,
	0
};

const struct mob_sandbox_profile mob_sandbox_modbus = {
	.name = "modbus",
	.user = "mobius-modbus",
	.flags = MOB_SB_NET,
	.nofile = 64,
	.nproc = 1,
	.rules = modbus_rules,
	.ioctls = modbus_ioctls,
};
