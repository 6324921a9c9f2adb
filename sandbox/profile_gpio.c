/*
 * mobius-gpio: GPIO lines through the character device (libgpiod 1.6, v1
 * uapi).  The chip is opened before the sandbox; lines may be requested and
 * reconfigured later, so the chip's ioctls stay.  No network.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <linux/gpio.h>

#include "mobius/sandbox.h"

static const struct mob_sandbox_rule gpio_rules[] = {
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
	 * The simulated chip (tests, demos) rewrites its state file and
	 * renames it into place, and the runtime does the same with the
	 * slots file in the state directory (lib/rt/mobius/persist.h); the
	 * mount view leaves only those directories writable.
	 */
	SB_ALLOW(fchmod),
	SB_ALLOW(fsync),
	SB_ALLOW(openat),
	SB_ALLOW(open),
	SB_ALLOW(rename),
	SB_ALLOW(renameat),
	SB_ALLOW(renameat2),
	SB_ALLOW(unlink),
	SB_ALLOW(unlinkat),
	SB_ALLOW(readlink),
	SB_ALLOW(readlinkat),
	SB_ALLOW_ARG(ioctl, MOB_SB_ARG_IOCTL),	/* the chip and its lines */
	SB_DENY_EQ(ioctl, ENOTTY, 1, TCGETS),	/* isatty() */
	SB_END
};

static const unsigned long gpio_ioctls[] = {
	GPIO_GET_CHIPINFO_IOCTL,
	GPIO_GET_LINEINFO_IOCTL,
	GPIO_GET_LINEHANDLE_IOCTL,
	GPIO_GET_LINEEVENT_IOCTL,
	GPIOHANDLE_GET_LINE_VALUES_IOCTL,
	GPIOHANDLE_SET_LINE_VALUES_IOCTL,
	GPIOHANDLE_SET_CONFIG_IOCTL,
	GPIO_GET_LINEINFO_WATCH_IOCTL,
	GPIO_GET_LINEINFO_UNWATCH_IOCTL,
	0
};

const struct mob_sandbox_profile mob_sandbox_gpio = {
	.name = "gpio",
	.user = "mobius-gpio",
	.flags = 0,
	.nofile = 256,		/* one fd per requested line */
	.nproc = 1,
	.rules = gpio_rules,
	.ioctls = gpio_ioctls,
};
