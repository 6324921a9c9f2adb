/*
 * The exec lock (sandbox/mobius/sandbox.h), in an object of its own: the
 * hub plugin links it alone, without the profiles or mob_sandbox_enter.
 */
#include <seccomp.h>

#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/sandbox.h"

int
mob_sandbox_lock_exec(void)
{
	scmp_filter_ctx ctx;
	int r = MOB_ESYS;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		return MOB_ENOMEM;
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(execve), 0) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(execveat), 0) != 0 ||
	    seccomp_load(ctx) != 0) {
		log_warnx("sandbox: cannot forbid exec");
		goto out;
	}
	r = 0;
 out:
	seccomp_release(ctx);
	return r;
}
