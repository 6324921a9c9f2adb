/*
 * mobius-sandbox-probe: enter a sandbox profile, then try one thing and
 * print what happened, for tests/test_sandbox.c.
 *
 *	mobius-sandbox-probe [-ntU] [-u user] [-w rwdir] [-r rodir] [-s socket]
 *	    PROFILE ACTION [ARG...]
 *
 * -U first loads a filter like the one our systemd units install
 * (SystemCallFilter=@system-service seccomp, ~@privileged @resources
 * @mount ..., RestrictNamespaces=yes; refused calls fail with EPERM), so
 * that entering the sandbox under a unit is tested without systemd.
 *
 * -t starts a thread first (the sandbox must refuse to enter).
 *
 * ACTION connect PATH connects to a Unix stream socket (@NAME: abstract).
 * ACTION fcntl WHAT tries one fcntl command on a pipe (fcntl_probe).
 * Prints "ok" or "err ENAME" (and for "status" the ids and capabilities the
 * kernel reports).  A call the filter forbids kills the probe with SIGSYS.
 * Exits with _exit so that nothing runs after the action (not even the
 * sanitizers' exit hooks).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "mobius/log.h"
#include "mobius/sandbox.h"

#define MAXPATHS 8

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: mobius-sandbox-probe [-ntU] [-u user] [-w rwdir] "
	    "[-r rodir] [-s socket] PROFILE ACTION [ARG...]\n");
	_exit(2);
}

static void __attribute__((noreturn))
result(long rv)
{
	if (rv < 0)
		printf("err %s\n", strerrorname_np(errno));
	else
		printf("ok\n");
	fflush(stdout);
	_exit(0);
}

/*
 * fcntl on a pipe: setown, setown_ex, setsig, setlease, notify, async
 * (F_SETFL with O_ASYNC), nonblock (F_SETFL with O_NONBLOCK), cloexec.
 */
static void __attribute__((noreturn))
fcntl_probe(const char *what)
{
	struct f_owner_ex ox = { F_OWNER_PID, 1 };
	int p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		result(-1);
	if (strcmp(what, "setown") == 0)
		result(fcntl(p[0], F_SETOWN, 1));
	if (strcmp(what, "setown_ex") == 0)
		result(fcntl(p[0], F_SETOWN_EX, &ox));
	if (strcmp(what, "setsig") == 0)
		result(fcntl(p[0], F_SETSIG, SIGKILL));
	if (strcmp(what, "setlease") == 0)
		result(fcntl(p[0], F_SETLEASE, F_RDLCK));
	if (strcmp(what, "notify") == 0)
		result(fcntl(p[0], F_NOTIFY, DN_CREATE));
	if (strcmp(what, "async") == 0)
		result(fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK));
	if (strcmp(what, "nonblock") == 0)
		result(fcntl(p[0], F_SETFL, O_NONBLOCK));
	if (strcmp(what, "cloexec") == 0)
		result(fcntl(p[0], F_SETFD, FD_CLOEXEC));
	usage();
}

static void __attribute__((noreturn))
status(void)
{
	static const char *const keys[] = { "Uid:", "Gid:", "Groups:", "CapEff:",
	    "CapPrm:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:" };
	char line[256];
	struct rlimit rl;
	struct stat st;
	size_t i;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		result(-1);
	while (fgets(line, sizeof(line), f) != NULL)
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0)
				fputs(line, stdout);
	fclose(f);
	if (getrlimit(RLIMIT_CORE, &rl) == 0)
		printf("Core:\t%llu\n", (unsigned long long)rl.rlim_max);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		printf("Nofile:\t%llu\n", (unsigned long long)rl.rlim_max);
	if (getrlimit(RLIMIT_NPROC, &rl) == 0)
		printf("Nproc:\t%llu\n", (unsigned long long)rl.rlim_max);
	/* not dumpable: the kernel gives our /proc entries to root */
	if (stat("/proc/self/stat", &st) == 0)
		printf("ProcOwner:\t%u\n", (unsigned)st.st_uid);
	result(0);
}

static void *
idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

/* A system call by the i386 entry point, which the filter must kill. */
static long
syscall_i386(void)
{
	long rv = 20;	/* getpid on i386 */

#if defined(__x86_64__)
	__asm__ volatile ("int $0x80" : "+a"(rv) : : "memory");
#else
	errno = ENOSYS;
	rv = -1;
#endif
	return rv;
}

/* What a unit refuses that mob_sandbox_enter might try. */
static void
unit_filter(void)
{
	static const char *const refused[] = { "capset", "setrlimit", "unshare",
	    "setns", "mount", "umount2", "mount_setattr", "open_tree",
	    "move_mount", "pivot_root", "chroot", "setuid", "setgid",
	    "setresuid", "setresgid", "setgroups", "setreuid", "setregid",
	    "sched_setaffinity", "setpriority" };
	scmp_filter_ctx ctx;
	size_t i;
	int nr;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		_exit(4);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if ((nr = seccomp_syscall_resolve_name(refused[i])) != __NR_SCMP_ERROR &&
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) != 0)
			_exit(4);
	if (seccomp_load(ctx) != 0)
		_exit(4);
	seccomp_release(ctx);
}

int
main(int argc, char **argv)
{
	const char *rw[MAXPATHS + 1] = { NULL }, *ro[MAXPATHS + 1] = { NULL };
	const struct mob_sandbox_profile *p;
	struct mob_sandbox_opts o;
	const char *act, *arg;
	size_t nrw = 0, nro = 0;
	pthread_t th;
	int ch;

	memset(&o, 0, sizeof(o));
	/* verbose: the tests read the sandbox's debug lines (namespaces skipped) */
	log_init("probe", 1);
	while ((ch = getopt(argc, argv, "+ntUu:w:r:s:")) != -1) {
		switch (ch) {
		case 'n':
			o.no_sandbox = 1;
			break;
		case 't':
			if (pthread_create(&th, NULL, idle, NULL) != 0)
				_exit(4);
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'w':
			if (nrw == MAXPATHS)
				usage();
			rw[nrw++] = optarg;
			break;
		case 's':
			o.hub_socket = optarg;
			break;
		case 'U':
			unit_filter();
			break;
		case 'r':
			if (nro == MAXPATHS)
				usage();
			ro[nro++] = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || (p = mob_sandbox_profile(argv[0])) == NULL)
		usage();
	act = argv[1];
	arg = argc > 2 ? argv[2] : NULL;
	o.rw_paths = rw;
	o.ro_paths = ro;
	if ((strcmp(act, "exec") == 0 || strcmp(act, "exec-locked") == 0) &&
	    arg != NULL)
		o.exec_path = arg;

	if (mob_sandbox_enter(p, &o) != 0)
		_exit(3);

	if (strcmp(act, "status") == 0)
		status();
	if (strcmp(act, "exec") == 0 && arg != NULL) {
		/* the very pointer the sandbox allowed */
		execv(arg, &argv[2]);
		result(-1);
	}
	if (strcmp(act, "exec-locked") == 0 && arg != NULL) {
		/* what the hub plugin does at init: no exec from then on */
		if (mob_sandbox_lock_exec() != 0)
			result(-1);
		execv(arg, &argv[2]);
		result(-1);
	}
	if ((strcmp(act, "mmap-x-file") == 0 || strcmp(act, "mmap-wx-file") == 0) &&
	    arg != NULL) {
		int fd = open(arg, O_RDONLY), prot = PROT_READ | PROT_EXEC;

		if (strcmp(act, "mmap-wx-file") == 0)
			prot |= PROT_WRITE;
		result(fd == -1 || mmap(NULL, 4096, prot, MAP_PRIVATE, fd, 0) ==
		    MAP_FAILED ? -1 : 0);
	}
	if (strcmp(act, "exec-copy") == 0 && arg != NULL) {
		char *copy = strdup(arg);

		execv(copy, &argv[2]);
		result(-1);
	}
	if (strcmp(act, "sh") == 0) {
		execl("/bin/sh", "sh", "-c", "exit 0", (char *)NULL);
		result(-1);
	}
	if (strcmp(act, "socket-inet") == 0)
		result(socket(AF_INET, SOCK_STREAM, 0));
	if (strcmp(act, "socket-inet6") == 0)
		result(socket(AF_INET6, SOCK_DGRAM, 0));
	if (strcmp(act, "socket-unix") == 0)
		result(socket(AF_UNIX, SOCK_STREAM, 0));
	if (strcmp(act, "socket-packet") == 0)
		result(socket(AF_PACKET, SOCK_RAW, 0));
	if (strcmp(act, "ptrace") == 0)
		result(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	if (strcmp(act, "mount") == 0)
		result(mount("none", "/mnt", "tmpfs", 0, NULL));
	if (strcmp(act, "setuid") == 0)
		result(syscall(SYS_setuid, 0));
	if (strcmp(act, "bpf") == 0)
		result(syscall(SYS_bpf, BPF_PROG_LOAD, NULL, 0));
	if (strcmp(act, "init_module") == 0)
		result(syscall(SYS_init_module, NULL, 0, ""));
	if (strcmp(act, "fork") == 0)
		result(fork());
	if (strcmp(act, "mprotect-exec") == 0) {
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		result(m == MAP_FAILED ? -1 : mprotect(m, 4096, PROT_READ | PROT_EXEC));
	}
	if (strcmp(act, "kill-init") == 0)
		result(kill(1, 0));
	if (strcmp(act, "tgkill-init") == 0)
		result(syscall(SYS_tgkill, 1, 1, 0));
	if (strcmp(act, "setrlimit") == 0) {
		struct rlimit rl = { 8, 8 };

		result(setrlimit(RLIMIT_NOFILE, &rl));
	}
	if (strcmp(act, "tiocsti") == 0)
		result(ioctl(0, TIOCSTI, "x"));
	if (strcmp(act, "i386") == 0)
		result(syscall_i386());
	if (strcmp(act, "mmap-exec") == 0)
		result(mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
	if (strcmp(act, "tcgets") == 0) {
		struct termios *t = calloc(1, 256);

		result(ioctl(0, TCGETS, t));
	}
	if (strcmp(act, "connect") == 0 && arg != NULL) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		socklen_t len = sizeof(sa);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", arg);
		if (arg[0] == '@') {
			sa.sun_path[0] = '\0';
			len = offsetof(struct sockaddr_un, sun_path) + strlen(arg);
		}
		result(fd == -1 ? -1 : connect(fd, (struct sockaddr *)&sa, len));
	}
	if (strcmp(act, "fcntl") == 0 && arg != NULL)
		fcntl_probe(arg);
	if (strcmp(act, "read") == 0 && arg != NULL)
		result(open(arg, O_RDONLY));
	if (strcmp(act, "write") == 0 && arg != NULL)
		result(open(arg, O_WRONLY | O_CREAT, 0600));
	usage();
}
