/*
 * The sandbox, seen from inside: mobius-sandbox-probe enters a profile and
 * tries one thing; we check how the kernel answered (an errno, or SIGSYS).
 * Switching users needs root (CI runs as root); "nobody" stands in for the
 * service users, which a build machine does not have.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUTMAX 8192

static const char *const all_profiles[] = {
	"hub", "sim", "gpio", "modbus", "router", "keytool", "api", "front",
};
#define NPROFILES (sizeof(all_profiles) / sizeof(all_profiles[0]))

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("switching to another user needs root");
	if (getpwnam("nobody") == NULL)
		cr_skip_test("no user \"nobody\" to stand in for the service users");
}

static void
probe_path(char *out, size_t len)
{
	const char *b = getenv("MOBIUS_BUILD");

	snprintf(out, len, "%s/bin/mobius-sandbox-probe", b != NULL ? b : "build");
	cr_assert(access(out, X_OK) == 0, "%s not built", out);
}

/* Start the probe with args; stdout and stderr go to fd. */
static pid_t
spawn(const char *const *args, const char *env, int fd)
{
	char *argv[32], prog[512];
	size_t n = 0;
	pid_t pid;

	probe_path(prog, sizeof(prog));
	argv[n++] = prog;
	while (*args != NULL && n < 31)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	if ((pid = fork()) == 0) {
		unsetenv("MOBIUS_SANDBOX_DEBUG");
		unsetenv("MOBIUS_SANDBOX_USER");
		if (env != NULL)
			putenv((char *)env);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(prog, argv);
		_exit(127);
	}
	cr_assert(pid > 0);
	return pid;
}

/* Run the probe to the end; its wait status, its output into out. */
static int
probe_env(const char *env, char *out, const char *const *args)
{
	int p[2], st;
	ssize_t n, got = 0;
	pid_t pid;

	cr_assert(pipe(p) == 0);
	pid = spawn(args, env, p[1]);
	close(p[1]);
	while ((n = read(p[0], out + got, OUTMAX - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(p[0]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	return st;
}

#define PROBE(out, ...) probe_env(NULL, out, (const char *const[]){ __VA_ARGS__, NULL })

static void
assert_killed(int st, const char *out, const char *what)
{
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "%s: expected SIGSYS, got status %#x, output: %s", what, st, out);
}

static void
assert_says(int st, const char *out, const char *want, const char *what)
{
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "%s: status %#x, output: %s", what, st, out);
	cr_assert(strstr(out, want) != NULL, "%s: expected \"%s\", got: %s",
	    what, want, out);
}

/* A directory under /tmp that nobody may enter. */
static void
mkdir_tmp(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/mobius-sb-XXXXXX");
	cr_assert(mkdtemp(dir) != NULL);
	cr_assert(chmod(dir, 0755) == 0);
}

static void
write_file(const char *path, const char *text, mode_t mode, uid_t uid)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	cr_assert(fchmod(fd, mode) == 0 && fchown(fd, uid, uid) == 0);
	close(fd);
}

Test(sandbox, exec_of_a_shell_is_killed_with_sigsys_in_every_profile)
{
	char out[OUTMAX];
	size_t i;

	need_root();
	for (i = 0; i < NPROFILES; i++)
		assert_killed(PROBE(out, "-u", "nobody", all_profiles[i], "sh"),
		    out, all_profiles[i]);
}

Test(sandbox, dangerous_syscalls_are_killed_in_every_profile)
{
	static const char *const acts[] = { "ptrace", "mount", "setuid", "bpf",
	    "init_module", "fork", "mmap-exec" };
	char out[OUTMAX], what[64];
	size_t i, j;

	need_root();
	for (i = 0; i < NPROFILES; i++) {
		for (j = 0; j < sizeof(acts) / sizeof(acts[0]); j++) {
			snprintf(what, sizeof(what), "%s %s", all_profiles[i], acts[j]);
			assert_killed(PROBE(out, "-u", "nobody", all_profiles[i],
			    acts[j]), out, what);
		}
	}
}

/*
 * From inside the sim's profile an attacker used pipe2, F_SETOWN(victim),
 * F_SETSIG(SIGKILL), O_ASYNC and a write to kill other daemons of the
 * same uid.  Every fcntl command that aims a signal elsewhere is killed
 * now, in every profile; the flags daemons set still work.
 */
Test(sandbox, fcntl_that_aims_signals_elsewhere_is_killed_in_every_profile)
{
	static const char *const bad[] = { "setown", "setown_ex", "setsig",
	    "setlease", "notify", "async" };
	static const char *const good[] = { "nonblock", "cloexec" };
	char out[OUTMAX], what[64];
	size_t i, j;

	need_root();
	for (i = 0; i < NPROFILES; i++) {
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			snprintf(what, sizeof(what), "%s fcntl %s", all_profiles[i],
			    bad[j]);
			assert_killed(PROBE(out, "-u", "nobody", all_profiles[i],
			    "fcntl", bad[j]), out, what);
		}
		for (j = 0; j < sizeof(good) / sizeof(good[0]); j++) {
			snprintf(what, sizeof(what), "%s fcntl %s", all_profiles[i],
			    good[j]);
			assert_says(PROBE(out, "-u", "nobody", all_profiles[i],
			    "fcntl", good[j]), out, "ok", what);
		}
	}
}

/*
 * A world-writable listening socket planted in /run (or /dev/shm) is out
 * of reach from every profile: those directories are an empty tmpfs in
 * the sandbox.  Before, connect() worked through the read-only mount.
 */
Test(sandbox, a_socket_planted_in_run_is_unreachable_from_every_profile)
{
	static const char *const dirs[] = { "/run", "/dev/shm" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char out[OUTMAX], dir[64], what[128];
	int fd[2];

	need_root();
	for (size_t d = 0; d < 2; d++) {
		snprintf(dir, sizeof(dir), "%s/mobius-plant-XXXXXX", dirs[d]);
		cr_assert(mkdtemp(dir) != NULL, "%s: %s", dir, strerror(errno));
		cr_assert(chmod(dir, 0755) == 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s.sock", dir);
		cr_assert((fd[d] = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
		cr_assert(bind(fd[d], (struct sockaddr *)&sa, sizeof(sa)) == 0);
		cr_assert(chmod(sa.sun_path, 0777) == 0 && listen(fd[d], 8) == 0);
		/* reachable from outside the sandbox, as the attacker found it */
		assert_says(PROBE(out, "-n", "sim", "connect", sa.sun_path), out,
		    "ok", "unconfined");
		for (size_t i = 0; i < NPROFILES; i++) {
			snprintf(what, sizeof(what), "%s connect %s",
			    all_profiles[i], sa.sun_path);
			assert_says(PROBE(out, "-u", "nobody", all_profiles[i],
			    "connect", sa.sun_path), out, "err ", what);
		}
		close(fd[d]);
		unlink(sa.sun_path);
		rmdir(dir);
	}
}

Test(sandbox, no_network_profiles_get_no_inet_sockets)
{
	static const char *const nonet[] = { "sim", "gpio" };
	char out[OUTMAX];
	size_t i;

	need_root();
	for (i = 0; i < 2; i++) {
		assert_says(PROBE(out, "-u", "nobody", nonet[i], "socket-inet"),
		    out, "err EAFNOSUPPORT", nonet[i]);
		assert_says(PROBE(out, "-u", "nobody", nonet[i], "socket-inet6"),
		    out, "err EAFNOSUPPORT", nonet[i]);
		/* the hub's Unix socket stays reachable */
		assert_says(PROBE(out, "-u", "nobody", nonet[i], "socket-unix"),
		    out, "ok", nonet[i]);
	}
	assert_says(PROBE(out, "-u", "nobody", "keytool", "socket-unix"),
	    out, "err EAFNOSUPPORT", "keytool");
}

Test(sandbox, network_profiles_get_inet_sockets_and_nothing_else)
{
	static const char *const net[] = { "hub", "modbus", "router" };
	char out[OUTMAX];
	size_t i;

	need_root();
	for (i = 0; i < 3; i++) {
		assert_says(PROBE(out, "-u", "nobody", net[i], "socket-inet"),
		    out, "ok", net[i]);
		assert_says(PROBE(out, "-u", "nobody", net[i], "socket-packet"),
		    out, "err EAFNOSUPPORT", net[i]);
	}
}

Test(sandbox, runs_as_the_profile_user_without_capabilities)
{
	char out[OUTMAX];
	size_t i;

	need_root();
	for (i = 0; i < NPROFILES; i++) {
		int st = PROBE(out, "-u", "nobody", all_profiles[i], "status");

		assert_says(st, out, "Uid:\t65534\t65534\t65534\t65534", all_profiles[i]);
		assert_says(st, out, "Gid:\t65534\t65534\t65534\t65534", all_profiles[i]);
		assert_says(st, out, "CapEff:\t0000000000000000", all_profiles[i]);
		assert_says(st, out, "CapPrm:\t0000000000000000", all_profiles[i]);
		assert_says(st, out, "CapBnd:\t0000000000000000", all_profiles[i]);
		assert_says(st, out, "NoNewPrivs:\t1", all_profiles[i]);
		assert_says(st, out, "Seccomp:\t2", all_profiles[i]);
		assert_says(st, out, "Core:\t0", all_profiles[i]);
		assert_says(st, out, "CapAmb:\t0000000000000000", all_profiles[i]);
		/* PR_SET_DUMPABLE 0: /proc/self belongs to root, not to us */
		assert_says(st, out, "ProcOwner:\t0\n", all_profiles[i]);
		assert_says(st, out, strcmp(all_profiles[i], "router") == 0 ?
		    "Nproc:\t64\n" : "Nproc:\t1\n", all_profiles[i]);
	}
}

Test(sandbox, root_is_refused_as_the_sandbox_user)
{
	static const char *const roots[] = { "root", "0:0" };
	char out[OUTMAX];

	need_root();
	for (size_t i = 0; i < 2; i++) {
		int st = PROBE(out, "-u", roots[i], "sim", "status");

		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3,
		    "-u %s: status %#x: %s", roots[i], st, out);
		cr_assert_null(strstr(out, "Seccomp:"), "%s", out);
	}
}

/* Namespaces and setresuid act on the calling thread only. */
Test(sandbox, a_thread_started_before_entering_fails_closed)
{
	char out[OUTMAX];
	int st;

	need_root();
	st = PROBE(out, "-t", "-u", "nobody", "sim", "status");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %#x: %s", st, out);
	cr_assert_not_null(strstr(out, "before any thread starts"), "%s", out);
}

/*
 * What the lists leave out kills: signals to another process, raising a
 * limit, an ioctl no profile lists (TIOCSTI types into a terminal), code
 * made executable after the fact.  keytool may kill (a reload), and the
 * kernel still refuses it another user's process.
 */
Test(sandbox, signals_limits_ioctls_and_new_code_outside_the_lists_are_killed)
{
	static const char *const acts[] = { "kill-init", "tgkill-init",
	    "setrlimit", "tiocsti", "mprotect-exec" };
	char out[OUTMAX], what[64];

	need_root();
	for (size_t i = 0; i < NPROFILES; i++) {
		for (size_t j = 0; j < sizeof(acts) / sizeof(acts[0]); j++) {
			int st = PROBE(out, "-u", "nobody", all_profiles[i], acts[j]);

			snprintf(what, sizeof(what), "%s %s", all_profiles[i], acts[j]);
			if (j == 0 && strcmp(all_profiles[i], "keytool") == 0)
				assert_says(st, out, "err EPERM", what);
			else
				assert_killed(st, out, what);
		}
	}
}

/* SCMP_FLTATR_ACT_BADARCH: the i386 entry point (int 0x80) kills. */
Test(sandbox, a_syscall_of_another_architecture_is_killed_in_every_profile)
{
	char out[OUTMAX];
	int st;

	need_root();
	st = PROBE(out, "-n", "sim", "i386");
	if (!WIFEXITED(st) || strstr(out, "ok") == NULL)
		cr_skip_test("no i386 system calls here (status %#x): %s", st, out);
	for (size_t i = 0; i < NPROFILES; i++)
		assert_killed(PROBE(out, "-u", "nobody", all_profiles[i], "i386"),
		    out, all_profiles[i]);
}

/*
 * Abstract Unix sockets belong to a network namespace: the profiles
 * without MOB_SB_NET have their own and cannot reach one of the host's.
 */
Test(sandbox, abstract_sockets_are_out_of_reach_without_network)
{
	static const char *const nonet[] = { "sim", "gpio", "keytool" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char out[OUTMAX], name[64];
	socklen_t len;
	int fd;

	need_root();
	snprintf(name, sizeof(name), "@mobius-abstract-%d", (int)getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", name);
	sa.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + strlen(name);
	cr_assert((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&sa, len) == 0 && listen(fd, 8) == 0);
	assert_says(PROBE(out, "-n", "sim", "connect", name), out, "ok",
	    "unconfined");
	for (size_t i = 0; i < 3; i++)
		assert_says(PROBE(out, "-u", "nobody", nonet[i], "connect", name),
		    out, "err ", nonet[i]);
	close(fd);
}

Test(sandbox, another_services_key_file_cannot_be_opened)
{
	char dir[64], key[128], pub[128], out[OUTMAX];

	need_root();
	mkdir_tmp(dir, sizeof(dir));
	snprintf(key, sizeof(key), "%s/other.key", dir);
	snprintf(pub, sizeof(pub), "%s/public", dir);
	write_file(key, "secret\n", 0600, 4242);
	write_file(pub, "public\n", 0644, 0);
	/* the directory is visible: the public file opens, the key does not */
	assert_says(PROBE(out, "-u", "nobody", "-r", dir, "sim", "read", pub),
	    out, "ok", "public file");
	for (size_t i = 0; i < NPROFILES; i++)
		assert_says(PROBE(out, "-u", "nobody", "-r", dir, all_profiles[i],
		    "read", key), out, "err EACCES", all_profiles[i]);
	unlink(key);
	unlink(pub);
	rmdir(dir);
}

Test(sandbox, the_tree_is_read_only_and_tmp_private)
{
	char dir[64], f[128], hidden[128], sub[128], inner[160], out[OUTMAX];

	need_root();
	mkdir_tmp(dir, sizeof(dir));
	cr_assert(chmod(dir, 0777) == 0);
	snprintf(f, sizeof(f), "%s/queue", dir);
	snprintf(hidden, sizeof(hidden), "%s/hidden", dir);
	write_file(hidden, "x\n", 0644, 0);
	/* seccomp refuses writing opens where the profile only reads */
	assert_says(PROBE(out, "-u", "nobody", "keytool", "write",
	    "/var/tmp/mobius-sb"), out, "err EACCES", "keytool write");
	/* the sim writes its slots file, but only in its state directory */
	assert_says(PROBE(out, "-u", "nobody", "sim", "write", "/var/tmp/mobius-sb"),
	    out, "err EROFS", "sim outside rw paths");
	/* no profile writes outside its rw paths */
	for (size_t i = 0; i < NPROFILES; i++) {
		int ro = strcmp(all_profiles[i], "keytool") == 0 ||
		    strcmp(all_profiles[i], "api") == 0 ||
		    strcmp(all_profiles[i], "front") == 0;

		assert_says(PROBE(out, "-u", "nobody", all_profiles[i], "write",
		    "/var/tmp/mobius-sb"), out, ro ? "err EACCES" : "err EROFS",
		    all_profiles[i]);
	}
	/* the router may write, but only to its rw paths */
	assert_says(PROBE(out, "-u", "nobody", "-w", dir, "router", "write", f),
	    out, "ok", "router rw path");
	cr_assert(access(f, F_OK) == 0, "the write did not reach the real directory");
	assert_says(PROBE(out, "-u", "nobody", "-w", dir, "router", "write",
	    "/var/tmp/mobius-sb"), out, "err EROFS", "router outside rw paths");
	/* /tmp is private unless a path is kept */
	assert_says(PROBE(out, "-u", "nobody", "sim", "read", hidden),
	    out, "err ENOENT", "private /tmp");
	/* ...such as the hub socket's directory, for reconnecting */
	snprintf(f, sizeof(f), "%s/hub.sock", dir);
	assert_says(PROBE(out, "-u", "nobody", "-s", f, "sim", "read", hidden),
	    out, "ok", "hub socket directory");
	/* a writable directory inside a read-only kept one stays writable */
	snprintf(sub, sizeof(sub), "%s/state", dir);
	cr_assert(mkdir(sub, 0777) == 0 && chmod(sub, 0777) == 0);
	snprintf(f, sizeof(f), "%s/hub.sock", dir);
	snprintf(inner, sizeof(inner), "%s/state/db", dir);
	assert_says(PROBE(out, "-u", "nobody", "-w", sub, "-s", f, "router",
	    "write", inner), out, "ok", "rw directory under the socket's");
	unlink(inner);
	rmdir(sub);
	snprintf(f, sizeof(f), "%s/queue", dir);
	unlink(f);
	unlink(hidden);
	rmdir(dir);
}

/* Run argv (argv[0] a path) to the end; its wait status, its output into out. */
static int
capture(const char *const *argv, char *out)
{
	int p[2], st;
	ssize_t n, got = 0;
	pid_t pid;

	cr_assert(pipe(p) == 0);
	if ((pid = fork()) == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	cr_assert(pid > 0);
	close(p[1]);
	while ((n = read(p[0], out + got, OUTMAX - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(p[0]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	return st;
}

Test(sandbox, started_unprivileged_it_uses_a_user_namespace)
{
	char dir[64], hidden[128], prog[512], out[OUTMAX];
	int st;

	need_root();
	if (access("/usr/bin/setpriv", X_OK) != 0)
		cr_skip_test("setpriv (util-linux) not installed");
	probe_path(prog, sizeof(prog));
	mkdir_tmp(dir, sizeof(dir));
	snprintf(hidden, sizeof(hidden), "%s/file", dir);
	write_file(hidden, "x\n", 0644, 0);
	/* as nobody with no capability: no CAP_SYS_ADMIN for the namespaces */
	st = capture((const char *const[]){ "/usr/bin/setpriv", "--reuid=nobody",
	    "--regid=nogroup", "--clear-groups", "--inh-caps=-all", prog, "sim",
	    "read", hidden, NULL }, out);
	unlink(hidden);
	rmdir(dir);
	if (strstr(out, "namespaces skipped") != NULL)
		cr_skip_test("this kernel refuses unprivileged user namespaces: %s", out);
	/* the private /tmp of its own mount namespace hides the file */
	assert_says(st, out, "err ENOENT", "unprivileged, user namespace");
	st = capture((const char *const[]){ "/usr/bin/setpriv", "--reuid=nobody",
	    "--regid=nogroup", "--clear-groups", "--inh-caps=-all", prog, "sim",
	    "status", NULL }, out);
	assert_says(st, out, "CapEff:\t0000000000000000", "unprivileged");
	assert_says(st, out, "CapBnd:\t0000000000000000", "unprivileged");
	assert_says(st, out, "Seccomp:\t2", "unprivileged");
}

Test(sandbox, enters_under_a_units_own_filter)
{
	char prog[512], out[OUTMAX];
	int st;

	need_root();
	if (access("/usr/bin/setpriv", X_OK) != 0)
		cr_skip_test("setpriv (util-linux) not installed");
	probe_path(prog, sizeof(prog));
	/*
	 * As a unit starts us: another user, no capability, namespaces and
	 * capset refused with EPERM.  The sandbox must still come up.
	 */
	st = capture((const char *const[]){ "/usr/bin/setpriv", "--reuid=nobody",
	    "--regid=nogroup", "--clear-groups", "--inh-caps=-all", prog, "-U",
	    "sim", "status", NULL }, out);
	assert_says(st, out, "namespaces skipped", "under a unit");
	assert_says(st, out, "Seccomp:\t2", "under a unit");
	assert_says(st, out, "Nofile:\t64", "under a unit");
	assert_says(st, out, "Core:\t0", "under a unit");
	st = capture((const char *const[]){ "/usr/bin/setpriv", "--reuid=nobody",
	    "--regid=nogroup", "--clear-groups", "--inh-caps=-all", prog, "-U",
	    "sim", "sh", NULL }, out);
	assert_killed(st, out, "under a unit");
}

Test(sandbox, probes_fail_softly)
{
	char out[OUTMAX];

	need_root();
	assert_says(PROBE(out, "-u", "nobody", "sim", "tcgets"), out,
	    "err ENOTTY", "isatty");
}

Test(sandbox, debug_mode_logs_the_syscall_by_name)
{
	char out[OUTMAX];
	int st;

	need_root();
	st = probe_env("MOBIUS_SANDBOX_DEBUG=1", out,
	    (const char *const[]){ "-u", "nobody", "sim", "ptrace", NULL });
	assert_says(st, out, "denied syscall ptrace", "debug");
	assert_says(st, out, "err ENOSYS", "debug");
	assert_says(st, out, "DEBUG mode", "debug");
}

Test(sandbox, no_sandbox_warns_and_confines_nothing)
{
	char out[OUTMAX];
	int st;

	st = PROBE(out, "-n", "sim", "status");
	assert_says(st, out, "DISABLED", "--no-sandbox");
	assert_says(st, out, "Seccomp:\t0", "--no-sandbox");
}

Test(sandbox, a_missing_service_user_fails_closed)
{
	char out[OUTMAX];
	int st;

	need_root();
	st = PROBE(out, "-u", "mobius-no-such-user", "sim", "status");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %#x: %s", st, out);
	cr_assert(strstr(out, "no user") != NULL, "%s", out);
}

/*
 * Without /proc the sandbox cannot see whether a thread runs that its
 * filter and user switch would miss: it refuses to enter.  The probe runs
 * in a mount namespace of its own with an empty tmpfs over /proc.
 */
Test(sandbox, no_proc_to_count_threads_fails_closed)
{
	char out[OUTMAX], prog[512];
	ssize_t n, got = 0;
	int p[2], st;
	pid_t pid;

	need_root();
	probe_path(prog, sizeof(prog));
	cr_assert(pipe(p) == 0);
	if ((pid = fork()) == 0) {
		unsetenv("MOBIUS_SANDBOX_DEBUG");
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (unshare(CLONE_NEWNS) == -1 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
		    mount("none", "/proc", "tmpfs", 0, NULL) == -1) {
			printf("setup: %s\n", strerror(errno));
			_exit(126);
		}
		execl(prog, prog, "-u", "nobody", "sim", "status", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out + got, OUTMAX - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(p[0]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 126, "%s", out);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 3, "entered without "
	    "/proc: status %#x: %s", st, out);
	cr_assert_not_null(strstr(out, "before any thread starts"), "%s", out);
}

/*
 * The hub plugin, loaded into mosquitto, carries the exec lock and no
 * profile or mob_sandbox_enter: sandbox/ is a library of its own and the
 * plugin links the lock's object alone.
 */
Test(sandbox, the_hub_plugin_carries_only_the_exec_lock)
{
	char so[512], cmd[700], line[256];
	int lock = 0, other = 0;
	const char *b = getenv("MOBIUS_BUILD");
	FILE *f;

	if (access("/usr/bin/nm", X_OK) != 0)
		cr_skip_test("/usr/bin/nm (binutils) is missing");
	snprintf(so, sizeof(so), "%s/lib/mobius_hub.so", b != NULL ? b : "build");
	cr_assert(access(so, R_OK) == 0, "%s not built", so);
	snprintf(cmd, sizeof(cmd), "/usr/bin/nm '%s'", so);
	cr_assert_not_null(f = popen(cmd, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, " mob_sandbox_lock_exec\n") != NULL)
			lock++;
		else if (strstr(line, " mob_sandbox_") != NULL ||
		    strstr(line, " sb_") != NULL)
			other++;
	}
	cr_assert_eq(pclose(f), 0);
	cr_assert_eq(lock, 1, "no exec lock in %s", so);
	cr_assert_eq(other, 0, "%s carries %d more sandbox symbols", so, other);
}

Test(sandbox, hub_execs_only_through_the_launchers_pointer)
{
	char out[OUTMAX];

	need_root();
	assert_says(PROBE(out, "-u", "nobody", "hub", "exec", "/bin/true"),
	    out, "", "exec through the allowed pointer");
	assert_killed(PROBE(out, "-u", "nobody", "hub", "exec-copy", "/bin/true"),
	    out, "exec of the same path through another pointer");
	assert_killed(PROBE(out, "-u", "nobody", "sim", "exec", "/bin/true"),
	    out, "exec in a profile without MOB_SB_EXEC");
	/* the plugin's lock at init closes even the launcher's pointer */
	assert_killed(PROBE(out, "-u", "nobody", "hub", "exec-locked", "/bin/true"),
	    out, "exec through the allowed pointer after the exec lock");
}

/*
 * Code comes only from files, and only for the loader's profiles (hub,
 * modbus and router, for NSS modules); never from a writable mapping.
 */
Test(sandbox, code_maps_only_from_files_and_never_writable)
{
	char out[OUTMAX], dir[64], code[128];

	need_root();
	for (size_t i = 0; i < NPROFILES; i++) {
		const char *p = all_profiles[i];
		int loader = strcmp(p, "hub") == 0 || strcmp(p, "modbus") == 0 ||
		    strcmp(p, "router") == 0;
		int st = PROBE(out, "-u", "nobody", p, "mmap-x-file", "/bin/true");

		if (loader)
			assert_says(st, out, "ok", p);
		else
			assert_killed(st, out, p);
		assert_killed(PROBE(out, "-u", "nobody", p, "mmap-wx-file",
		    "/bin/true"), out, p);
	}
	/* what the hub may write it cannot map as code: its rw paths are noexec */
	mkdir_tmp(dir, sizeof(dir));
	snprintf(code, sizeof(code), "%s/code", dir);
	write_file(code, "x\n", 0755, 0);
	assert_says(PROBE(out, "-u", "nobody", "-w", dir, "hub", "mmap-x-file", code),
	    out, "err EPERM", "a file in a writable path");
	unlink(code);
	rmdir(dir);
}

static int
wait_path(const char *path, int ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	for (; ms > 0; ms -= 20) {
		if (access(path, F_OK) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

Test(sandbox, mosquitto_serves_inside_the_hub_sandbox)
{
	char dir[64], conf[128], sock[128], logf[128], text[512], cmd[512];
	int fd, st;
	pid_t pid;

	need_root();
	if (access("/usr/sbin/mosquitto", X_OK) != 0 ||
	    access("/usr/bin/mosquitto_pub", X_OK) != 0)
		cr_skip_test("mosquitto or mosquitto-clients not installed");
	mkdir_tmp(dir, sizeof(dir));
	cr_assert(chmod(dir, 0777) == 0);
	snprintf(conf, sizeof(conf), "%s/m.conf", dir);
	snprintf(sock, sizeof(sock), "%s/hub.sock", dir);
	snprintf(logf, sizeof(logf), "%s/log", dir);
	snprintf(text, sizeof(text), "listener 0 %s\nallow_anonymous true\n"
	    "persistence true\npersistence_location %s/\nlog_dest stderr\n",
	    sock, dir);
	write_file(conf, text, 0644, 0);
	cr_assert((fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	pid = spawn((const char *const[]){ "-u", "nobody", "-w", dir, "hub",
	    "exec", "/usr/sbin/mosquitto", "-c", conf, NULL }, NULL, fd);
	close(fd);
	cr_assert(wait_path(sock, 5000) == 0, "mosquitto did not listen");
	snprintf(cmd, sizeof(cmd), "mosquitto_pub --unix %s -t t -m m -q 1", sock);
	st = system(cmd);
	kill(pid, SIGHUP);	/* reload: the keyring path of the hub */
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "publish failed");
	st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "publish after reload failed");
	kill(pid, SIGTERM);
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "mosquitto ended with status %#x", st);
	snprintf(text, sizeof(text), "%s/mosquitto.db", dir);
	cr_assert(access(text, F_OK) == 0, "no persistence file in the state directory");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert(system(cmd) == 0);
}

Test(units, meet_their_exposure_targets_and_verify_clean)
{
	char cmd[512];
	int st;

	if (system("command -v systemd-analyze >/dev/null 2>&1") != 0)
		cr_skip_test("systemd-analyze not installed");
	if (access("scripts/systemd-scores.sh", X_OK) != 0)
		cr_skip_test("not run from the source tree");
	/* the units' Documentation=man: pages, as this build made them */
	snprintf(cmd, sizeof(cmd), "scripts/systemd-scores.sh systemd %s/man",
	    getenv("MOBIUS_BUILD") ? getenv("MOBIUS_BUILD") : "build");
	st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "a unit misses its exposure target or does not verify (table above)");
}

/* --- a confined node: the hub launcher and the services in their sandboxes - */

static pid_t node_pids[5];
static char node_dir[64];

/* After a failed assertion the daemons and their files must not outlive the test. */
static void
kill_daemons(void)
{
	char cmd[128];
	size_t i;

	for (i = 0; i < sizeof(node_pids) / sizeof(node_pids[0]); i++) {
		if (node_pids[i] > 0 && kill(node_pids[i], SIGKILL) == 0)
			waitpid(node_pids[i], NULL, 0);
		node_pids[i] = 0;
	}
	if (node_dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", node_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", node_dir);
		node_dir[0] = '\0';
	}
}

static pid_t
spawn_daemon(const char *log, const char *const *argv, const char *notify,
    const char *preload)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pid_t pid;

	cr_assert(fd >= 0);
	if ((pid = fork()) == 0) {
		setenv("MOBIUS_SANDBOX_USER", "nobody", 1);
		unsetenv("MOBIUS_SANDBOX_DEBUG");
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		unsetenv("WATCHDOG_PID");
		if (notify != NULL) {
			/* as systemd would, for Type=notify and WatchdogSec=1s */
			setenv("NOTIFY_SOCKET", notify, 1);
			setenv("WATCHDOG_USEC", "1000000", 1);
		}
		if (preload != NULL) {
			/* mosquitto loading our ASan plugin needs the runtime first */
			setenv("LD_PRELOAD", preload, 1);
			setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		}
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fd);
	cr_assert(pid > 0);
	return pid;
}

/* Stop a daemon of the node; it must exit 0, not die of the filter. */
static void
stop_daemon(size_t i, const char *what)
{
	int st;

	kill(node_pids[i], SIGTERM);
	cr_assert(waitpid(node_pids[i], &st, 0) == node_pids[i]);
	node_pids[i] = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %#x", what, st);
}

/* A datagram socket at path, as systemd's NOTIFY_SOCKET. */
static int
notify_socket(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	cr_assert(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	cr_assert((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	cr_assert(chmod(path, 0666) == 0);
	return fd;
}

/* Wait for READY=1 and then WATCHDOG=1 on the notify socket. */
static void
assert_notified(int fd, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char buf[512];
	int ready = 0, dog = 0;
	ssize_t n;

	for (; ms > 0 && !(ready && dog); ms -= 100) {
		if (poll(&pfd, 1, 100) != 1)
			continue;
		if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		ready |= strstr(buf, "READY=1") != NULL;
		dog |= ready && strstr(buf, "WATCHDOG=1") != NULL;
	}
	cr_assert(ready, "the hub never sent READY=1");
	cr_assert(dog, "the hub never sent WATCHDOG=1");
}

/* A free TCP port on 127.0.0.1 (bind to 0, read it back). */
static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, port;

	cr_assert((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* Seccomp mode, uid and effective capabilities of a running process. */
static void
assert_confined(pid_t pid, const char *what)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	cr_assert((fd = open(path, O_RDONLY)) >= 0, "%s is not running", what);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert(n > 0);
	buf[n] = '\0';
	cr_assert(strstr(buf, "Uid:\t65534\t65534\t65534\t65534") != NULL, "%s: %s", what, buf);
	cr_assert(strstr(buf, "CapEff:\t0000000000000000") != NULL, "%s: %s", what, buf);
	cr_assert(strstr(buf, "NoNewPrivs:\t1") != NULL, "%s: %s", what, buf);
	cr_assert(strstr(buf, "Seccomp:\t2") != NULL, "%s: %s", what, buf);
}

static int
wait_text(const char *path, const char *needle, int ms)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	char buf[65536];
	ssize_t n;
	int fd;

	for (; ms > 0; ms -= 50) {
		if ((fd = open(path, O_RDONLY)) >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n > 0) {
				buf[n] = '\0';
				if (strstr(buf, needle) != NULL)
					return 0;
			}
		}
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(sandbox, a_confined_node_serves_a_client_and_reloads_keys, .timeout = 90,
    .fini = kill_daemons)
{
	const char *b = getenv("MOBIUS_BUILD");
	char d[64], bin[256], hub[300], sim[300], gpio[300], modbus[300];
	char sock[128], log[256], slog[128], notify[128], preload[512] = "";
	pid_t hp, sp;
	int nfd, san;

	need_root();
	if (b == NULL)
		b = "build";
	/*
	 * ASan build: mosquitto can load the ASan plugin only with the ASan
	 * runtime preloaded, which the hub's filter was not written for; the
	 * hub then runs unconfined and the services, ASan-built, confined.
	 */
	if ((san = strstr(b, "san") != NULL)) {
		FILE *p = popen("cc -print-file-name=libasan.so", "r");

		cr_assert(p != NULL && fgets(preload, sizeof(preload), p) != NULL);
		pclose(p);
		preload[strcspn(preload, "\n")] = '\0';
		cr_assert(preload[0] == '/', "libasan.so not found: %s", preload);
	}
	snprintf(bin, sizeof(bin), "%s/bin", b);
	snprintf(hub, sizeof(hub), "%s/mobius-hub", bin);
	snprintf(sim, sizeof(sim), "%s/mobius-sim", bin);
	snprintf(gpio, sizeof(gpio), "%s/mobius-gpio", bin);
	snprintf(modbus, sizeof(modbus), "%s/mobius-modbus", bin);
	if (access(hub, X_OK) != 0 || access(sim, X_OK) != 0 ||
	    access("services/sim/sim.json", R_OK) != 0)
		cr_skip_test("mobius-hub or mobius-sim not built here");
	mkdir_tmp(d, sizeof(d));
	snprintf(node_dir, sizeof(node_dir), "%s", d);
	/* the keys the hub reads, its state and socket belong to its user */
	cr_assert(sh("%s/mobius-keytool --dir %s/keys init --hid 000001 >/dev/null 2>&1 &&"
	    " %s/mobius-keytool --dir %s/keys add 0010/010 >/dev/null 2>&1 &&"
	    " %s/mobius-keytool --dir %s/keys add 00C1/0C1 >/dev/null 2>&1 &&"
	    " %s/mobius-keytool --dir %s/keys add 0020/020 >/dev/null 2>&1 &&"
	    " %s/mobius-keytool --dir %s/keys add 0030/030 >/dev/null 2>&1 &&"
	    " mkdir %s/run %s/state %s/gsim && chown nobody %s/keys %s/keys/keyring"
	    " %s/keys/hub.key %s/run %s/state %s/gsim", bin, d, bin, d, bin, d,
	    bin, d, bin, d, d, d, d, d, d, d, d, d, d) == 0);
	snprintf(sock, sizeof(sock), "%s/run/hub.sock", d);
	snprintf(notify, sizeof(notify), "%s/run/notify", d);
	nfd = notify_socket(notify);
	snprintf(log, sizeof(log), "%s/hub.log", d);
	snprintf(slog, sizeof(slog), "%s/sim.log", d);
	{
		char keys[128], state[128];
		const char *argv[] = { hub, "--keys", keys, "--socket", sock,
		    "--state", state, "--foreground", san ? "--no-sandbox" : NULL,
		    NULL };

		snprintf(keys, sizeof(keys), "%s/keys", d);
		snprintf(state, sizeof(state), "%s/state", d);
		node_pids[0] = hp = spawn_daemon(log, argv, notify,
		    san ? preload : NULL);
	}
	cr_assert(wait_text(log, "running", 10000) == 0, "the hub did not start");
	if (san)
		cr_assert(chmod(sock, 0666) == 0);	/* a root hub's socket */
	else
		assert_confined(hp, "mosquitto");
	{
		char path[64], buf[4096];
		ssize_t n;
		int fd;

		/* the launcher's filter, and the plugin's that forbids exec */
		snprintf(path, sizeof(path), "/proc/%d/status", (int)hp);
		cr_assert((fd = open(path, O_RDONLY)) >= 0);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		cr_assert(n > 0);
		buf[n] = '\0';
		cr_assert(strstr(buf, san ? "Seccomp_filters:\t1" :
		    "Seccomp_filters:\t2") != NULL, "%s", buf);
	}
	/* Type=notify and the watchdog work from inside the sandbox */
	assert_notified(nfd, 5000);
	close(nfd);
	{
		char key[128];
		const char *argv[] = { sim, "--config", "services/sim/sim.json",
		    "--key", key, "--socket", sock, NULL };

		snprintf(key, sizeof(key), "%s/keys/010.key", d);
		node_pids[1] = sp = spawn_daemon(slog, argv, NULL, NULL);
	}
	cr_assert(wait_text(slog, "simulated resources", 10000) == 0,
	    "the confined sim did not start");
	assert_confined(sp, "mobius-sim");
	/* a client authenticates, asks the sim through the hub */
	cr_assert(sh("%s/mobius --socket %s --key %s/keys/0C1.key discover 000001"
	    " > %s/discover.txt 2>&1", bin, sock, d, d) == 0, "discover failed");
	snprintf(log, sizeof(log), "%s/discover.txt", d);
	cr_assert(wait_text(log, "000001/010", 100) == 0, "the sim's objects are missing");
	/* a new key, then reload: the hub re-reads its keyring inside the sandbox */
	cr_assert(sh("%s/mobius-keytool --dir %s/keys add 0010/011 >/dev/null 2>&1 &&"
	    " chown nobody %s/keys/keyring && MOBIUS_SANDBOX_USER=nobody"
	    " %s/mobius-keytool --dir %s/keys reload --state %s/state %s"
	    " >/dev/null 2>&1", bin, d, d, bin, d, d,
	    san ? "--no-sandbox" : "") == 0, "reload failed (unconfirmed?)");
	snprintf(log, sizeof(log), "%s/hub.log", d);
	cr_assert(wait_text(log, "keyring reloaded", 5000) == 0, "no reload in the hub log");
	if (!san)
		assert_confined(hp, "mosquitto after the reload");
	/* mobius-gpio on a simulated chip: a write reaches the chip's state file */
	if (access(gpio, X_OK) == 0 && access("services/gpio/demo.json", R_OK) == 0) {
		char key[128], simdir[128], glog[128];
		const char *argv[] = { gpio, "--config", "services/gpio/demo.json",
		    "--key", key, "--socket", sock, "--sim", "--sim-dir", simdir, NULL };

		snprintf(key, sizeof(key), "%s/keys/030.key", d);
		snprintf(simdir, sizeof(simdir), "%s/gsim", d);
		snprintf(glog, sizeof(glog), "%s/gpio.log", d);
		node_pids[2] = spawn_daemon(glog, argv, NULL, NULL);
		cr_assert(wait_text(glog, "lines on", 10000) == 0,
		    "the confined mobius-gpio did not start");
		assert_confined(node_pids[2], "mobius-gpio");
		cr_assert(sh("%s/mobius --socket %s --key %s/keys/0C1.key set "
		    "000001/030/0301/0001/42 true >/dev/null 2>&1", bin, sock, d) == 0,
		    "set through mobius-gpio failed");
		snprintf(log, sizeof(log), "%s/sim0.state", simdir);
		cr_assert(wait_text(log, "RELAY out 1", 5000) == 0,
		    "the relay did not switch on the simulated chip");
		stop_daemon(2, "mobius-gpio");
		cr_log_info("mobius-gpio served confined");
	} else
		cr_log_warn("mobius-gpio not checked: not built here");
	/* mobius-modbus over TCP to a real Modbus server */
	if (access(modbus, X_OK) == 0 && access("services/modbus/demo.json", R_OK) == 0 &&
	    sh("/usr/bin/python3 -c 'import pymodbus' 2>/dev/null") == 0) {
		char key[128], cfg[128], mlog[128], ready[128], cmd[512];
		const char *argv[] = { modbus, "--config", cfg, "--key", key,
		    "--socket", sock, NULL };
		int port = free_port();

		snprintf(key, sizeof(key), "%s/keys/020.key", d);
		snprintf(cfg, sizeof(cfg), "%s/modbus.json", d);
		snprintf(mlog, sizeof(mlog), "%s/modbus.log", d);
		snprintf(ready, sizeof(ready), "%s/mb.ready", d);
		cr_assert(sh("sed 's/15020/%d/' services/modbus/demo.json > %s",
		    port, cfg) == 0);
		snprintf(cmd, sizeof(cmd), "%d", port);
		{
			const char *srv[] = { "/usr/bin/python3", "tests/modbus_server.py",
			    "--port", cmd, "--demo", "--ready-file", ready, NULL };
			char slog2[128];
			int fd;

			snprintf(slog2, sizeof(slog2), "%s/mbserver.log", d);
			cr_assert((fd = open(slog2, O_WRONLY | O_CREAT, 0644)) >= 0);
			if ((node_pids[4] = fork()) == 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				execv(srv[0], (char *const *)srv);
				_exit(127);
			}
			close(fd);
		}
		cr_assert(wait_path(ready, 10000) == 0, "the Modbus server did not start");
		node_pids[3] = spawn_daemon(mlog, argv, NULL, NULL);
		cr_assert(wait_text(mlog, "devices, ", 10000) == 0,
		    "the confined mobius-modbus did not start");
		assert_confined(node_pids[3], "mobius-modbus");
		snprintf(log, sizeof(log), "%s/get.txt", d);
		cr_assert(sh("%s/mobius --socket %s --key %s/keys/0C1.key get "
		    "000001/020/0201/0001/43 > %s 2>&1", bin, sock, d, log) == 0,
		    "get through mobius-modbus failed");
		cr_assert(wait_text(log, " s", 100) == 0, "no uptime from the device");
		stop_daemon(3, "mobius-modbus");
		kill(node_pids[4], SIGTERM);
		waitpid(node_pids[4], NULL, 0);
		node_pids[4] = 0;
		cr_log_info("mobius-modbus served confined");
	} else
		cr_log_warn("mobius-modbus not checked: not built, or no pymodbus");
	/* all stop cleanly: nothing on the way out was killed by the filter */
	stop_daemon(1, "mobius-sim");
	stop_daemon(0, "the hub");
}
