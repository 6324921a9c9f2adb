/*
 * mobius-keytool reload: tells the running hub to reread its keyring.  It
 * runs as the hub's user, so the kernel lets it signal the hub and no one
 * else; it reads the hub's pid file and sends one signal.
 */
#include <errno.h>
#include <sys/ioctl.h>

#include "mobius/sandbox.h"

static const struct mob_sandbox_rule keytool_rules[] = {
	SB_ALLOW_ARG(openat, MOB_SB_ARG_RDONLY),	/* the pid file */
	SB_DENY_ELSE(openat, EACCES, MOB_SB_ARG_RDONLY),
	SB_ALLOW_ARG(open, MOB_SB_ARG_RDONLY),
	SB_DENY_ELSE(open, EACCES, MOB_SB_ARG_RDONLY),
	SB_ALLOW(kill),					/* SIGHUP to the hub */
	SB_DENY(socket, EAFNOSUPPORT),
	SB_DENY_EQ(ioctl, ENOTTY, 1, TCGETS),	/* isatty() */
	SB_END
};

const struct mob_sandbox_profile mob_sandbox_keytool = {
	.name = "keytool",
	.user = "mobius-hub",
	.flags = 0,
	.nofile = 16,
	.nproc = 1,
	.rules = keytool_rules,
	.ioctls = NULL,
};
