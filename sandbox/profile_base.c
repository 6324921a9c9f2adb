/*
 * Rules every profile gets: memory without new code, time, signals to
 * ourselves (fcntl too: no command that sends signals elsewhere), exit,
 * and I/O on descriptors already open.  What a daemon may
 * open, which sockets and which ioctls are in its own profile.
 */
#include <errno.h>

#include "mobius/sandbox.h"

const struct mob_sandbox_rule mob_sandbox_base_rules[] = {
	/* memory: no executable mappings */
	SB_ALLOW(brk),
	SB_ALLOW_ARG(mmap, MOB_SB_ARG_NOEXEC),
	SB_ALLOW_ARG(mprotect, MOB_SB_ARG_NOEXEC),
	SB_ALLOW(munmap),
	SB_ALLOW(mremap),
	SB_ALLOW(madvise),

	/* time */
	SB_ALLOW(clock_gettime),
	SB_ALLOW(clock_getres),
	SB_ALLOW(gettimeofday),
	SB_ALLOW(time),
	SB_ALLOW(nanosleep),
	SB_ALLOW(clock_nanosleep),

	/* signals, to ourselves only (abort) */
	SB_ALLOW(rt_sigaction),
	SB_ALLOW(rt_sigprocmask),
	SB_ALLOW(rt_sigreturn),
	SB_ALLOW(sigaltstack),
	SB_ALLOW_ARG(tgkill, MOB_SB_ARG_SELF),

	/* process */
	SB_ALLOW(exit),
	SB_ALLOW(exit_group),
	SB_ALLOW(restart_syscall),
	SB_ALLOW(getpid),
	SB_ALLOW(gettid),
	SB_ALLOW(getuid),
	SB_ALLOW(geteuid),
	SB_ALLOW(getgid),
	SB_ALLOW(getegid),
	SB_ALLOW(uname),
	SB_ALLOW(futex),
	SB_ALLOW(set_robust_list),
	SB_ALLOW(rseq),
	SB_ALLOW(sched_yield),
	SB_ALLOW(sched_getaffinity),
	SB_ALLOW(getrandom),
	SB_ALLOW_EQ(prlimit64, 2, 0),	/* read limits, never set them */
	SB_DENY(clone3, ENOSYS),	/* glibc then tries clone, checked below */

	/* I/O on open descriptors */
	SB_ALLOW(read),
	SB_ALLOW(readv),
	SB_ALLOW(pread64),
	SB_ALLOW(write),
	SB_ALLOW(writev),
	SB_ALLOW(close),
	SB_ALLOW(lseek),
	SB_ALLOW(fstat),
	SB_ALLOW(newfstatat),
	SB_ALLOW(statx),
	SB_ALLOW_ARG(fcntl, MOB_SB_ARG_FCNTL),	/* no F_SETOWN, F_SETSIG, O_ASYNC... */
	SB_ALLOW(dup),
	SB_ALLOW(poll),
	SB_ALLOW(ppoll),
	SB_ALLOW(select),
	SB_ALLOW(pselect6),
	SB_ALLOW(epoll_create1),
	SB_ALLOW(epoll_ctl),
	SB_ALLOW(epoll_wait),
	SB_ALLOW(epoll_pwait),
	SB_ALLOW(pipe2),
	SB_ALLOW(eventfd2),
	SB_ALLOW(timerfd_create),
	SB_ALLOW(timerfd_settime),
	SB_ALLOW(timerfd_gettime),
	SB_END
};
