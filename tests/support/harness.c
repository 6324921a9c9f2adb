/*
 * Test harness (harness.h): real processes in temporary directories.
 * No Criterion here (benches link it too): a broken precondition prints
 * what went wrong and aborts.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mobius/clock.h"
#include "harness.h"

static void __attribute__((noreturn, format(printf, 1, 2)))
th_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "harness: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}


static void
th_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

void
th_tmpdir(char *out, size_t len)
{
	const char *base = getenv("TMPDIR");

	/* short: Unix socket paths inside must stay under 108 bytes */
	if (base == NULL || *base == '\0' || strlen(base) > 40)
		base = "/tmp";
	if ((size_t)snprintf(out, len, "%s/mob-XXXXXX", base) >= len)
		th_die("tmpdir: buffer too small");
	if (mkdtemp(out) == NULL)
		th_die("mkdtemp %s: %s", out, strerror(errno));
}

static int
th_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void
th_rmtree(const char *path)
{
	if (path == NULL || *path == '\0' || strcmp(path, "/") == 0)
		return;
	nftw(path, th_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
th_san_build(void)
{
	const char *b = getenv("MOBIUS_BUILD");
	size_t n;

	if (b == NULL)
		return 0;
	n = strlen(b);
	while (n > 0 && b[n - 1] == '/')
		n--;
	return n >= 3 && strncmp(b + n - 3, "san", 3) == 0;
}

void
th_path(const char *rel, char *out, size_t len)
{
	const char *b = getenv("MOBIUS_BUILD");

	if (b == NULL || *b == '\0')
		b = "build";
	if ((size_t)snprintf(out, len, "%s/%s", b, rel) >= len)
		th_die("path %s/%s too long", b, rel);
}

/*
 * mosquitto is not built with ASan, but loads our ASan-built plugin under a
 * SAN build: the ASan runtime has to come first, so the hub gets it
 * preloaded (and leak checking off: mosquitto's own allocations at exit are
 * not ours to judge).
 */
static const char *
th_san_preload(const char *prog)
{
	static char preload[512];
	const char *slash = strrchr(prog, '/');
	char *argv[] = { "/bin/sh", "-c", "cc -print-file-name=libasan.so", NULL };
	size_t n;

	if (!th_san_build() || strcmp(slash ? slash + 1 : prog, "mobius-hub") != 0)
		return NULL;
	if (preload[0] == '\0') {
		if (th_run(argv, NULL, preload, sizeof(preload), 10000) != 0)
			th_die("cc -print-file-name=libasan.so failed");
		n = strcspn(preload, "\n");
		preload[n] = '\0';
		if (preload[0] != '/')
			th_die("libasan.so not found (got \"%s\")", preload);
	}
	return preload;
}

/* In the child: the SAN preload (resolved by the parent), then env. */
static void
th_child_env(const char *preload, char *const env[])
{
	if (preload != NULL) {
		setenv("LD_PRELOAD", preload, 1);
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
	}
	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		if (putenv(env[i]) != 0)
			_exit(126);
}

int
th_spawn(struct th_proc *p, char *const argv[], char *const env[],
    const char *logfile)
{
	const char *preload = th_san_preload(argv[0]);
	pid_t pid;
	int fd;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", argv[0]);
	if (logfile != NULL)
		snprintf(p->log, sizeof(p->log), "%s", logfile);
	fflush(NULL);
	if ((pid = fork()) == -1)
		return -errno;
	if (pid == 0) {
		/* a crashed test must not leave daemons behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((fd = open("/dev/null", O_RDONLY)) != -1) {
			dup2(fd, 0);
			close(fd);
		}
		if (logfile != NULL) {
			fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			    0600);
			if (fd == -1)
				_exit(126);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		th_child_env(preload, env);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	p->pid = pid;
	return 0;
}

int
th_stop(struct th_proc *p, int sig, int timeout_ms)
{
	int64_t end = mob_clock_mono_ms() + timeout_ms;
	int status = 0;
	pid_t r;

	if (p->pid <= 0)
		return 0;
	kill(p->pid, sig);
	for (;;) {
		r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid || (r == -1 && errno != EINTR))
			break;
		if (mob_clock_mono_ms() >= end) {
			fprintf(stderr, "harness: %s (pid %d) still running after "
			    "%d ms, killing\n", p->name, (int)p->pid, timeout_ms);
			kill(p->pid, SIGKILL);
			while (waitpid(p->pid, &status, 0) == -1 && errno == EINTR)
				;
			break;
		}
		th_sleep_ms(10);
	}
	p->pid = 0;
	return status;
}

int
th_run(char *const argv[], char *const env[], char *out, size_t outlen,
    int timeout_ms)
{
	int64_t end = mob_clock_mono_ms() + timeout_ms;
	size_t got = 0;
	int pfd[2], status = 0, fd;
	const char *preload = th_san_preload(argv[0]);
	char sink[512];
	pid_t pid;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) == -1)
		th_die("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) == -1)
		th_die("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((fd = open("/dev/null", O_RDONLY)) != -1) {
			dup2(fd, 0);
			close(fd);
		}
		dup2(pfd[1], 1);
		th_child_env(preload, env);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd pf = { pfd[0], POLLIN, 0 };
		int64_t left = end - mob_clock_mono_ms();
		ssize_t n;

		if (left <= 0) {
			fprintf(stderr, "harness: %s timed out after %d ms\n",
			    argv[0], timeout_ms);
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		if (out != NULL && got + 1 < outlen)
			n = read(pfd[0], out + got, outlen - 1 - got);
		else
			n = read(pfd[0], sink, sizeof(sink));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out != NULL && got + 1 < outlen) {
			got += (size_t)n;
			out[got] = '\0';
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}

int
th_wait_path(const char *path, int timeout_ms)
{
	int64_t end = mob_clock_mono_ms() + timeout_ms;

	while (access(path, F_OK) != 0) {
		if (mob_clock_mono_ms() >= end)
			return -ETIMEDOUT;
		th_sleep_ms(10);
	}
	return 0;
}

char *
th_slurp(const char *path, size_t *lenp)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (nb == NULL)
				th_die("out of memory");
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

int
th_wait_log(const char *path, const char *needle, int timeout_ms)
{
	int64_t end = mob_clock_mono_ms() + timeout_ms;

	for (;;) {
		char *buf = th_slurp(path, NULL);
		int found = buf != NULL && strstr(buf, needle) != NULL;

		free(buf);
		if (found)
			return 0;
		if (mob_clock_mono_ms() >= end)
			return -ETIMEDOUT;
		th_sleep_ms(10);
	}
}

int
th_count_log(const char *path, const char *needle)
{
	char *buf = th_slurp(path, NULL), *p;
	int n = 0;

	if (buf == NULL || *needle == '\0') {
		free(buf);
		return 0;
	}
	for (p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(buf);
	return n;
}

int
th_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd, port;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		th_die("socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == -1)
		th_die("bind 127.0.0.1:0: %s", strerror(errno));
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* --- a whole node ----------------------------------------------------- */

static void
th_dump(const char *path)
{
	char *buf = th_slurp(path, NULL);

	fprintf(stderr, "---- %s ----\n%s\n----\n", path, buf ? buf : "(none)");
	free(buf);
}

static void
th_keytool(struct th_node *n, char *const args[], char *out, size_t outlen)
{
	char *argv[16], tool[512];
	size_t i = 0;
	int rc;

	th_path("bin/mobius-keytool", tool, sizeof(tool));
	argv[i++] = tool;
	argv[i++] = "--dir";
	argv[i++] = n->keys;
	for (size_t j = 0; args[j] != NULL && i < 15; j++)
		argv[i++] = args[j];
	argv[i] = NULL;
	if ((rc = th_run(argv, NULL, out, outlen, 20000)) != 0)
		th_die("mobius-keytool %s %s: exit %d", args[0],
		    args[1] ? args[1] : "", rc);
}

void
th_node_hub_start(struct th_node *n, const char *const opts[])
{
	char hub[512], state[300], log[300];
	char *argv[16 + 2 * 16];
	size_t i = 0;
	int before, waited;

	th_path("bin/mobius-hub", hub, sizeof(hub));
	snprintf(state, sizeof(state), "%s/state", n->dir);
	snprintf(log, sizeof(log), "%s/hub.log", n->dir);
	argv[i++] = hub;
	argv[i++] = "--keys";
	argv[i++] = n->keys;
	argv[i++] = "--socket";
	argv[i++] = n->sock;
	argv[i++] = "--state";
	argv[i++] = state;
	argv[i++] = "--foreground";
	argv[i++] = "--no-sandbox";	/* the test user owns the keys; test_sandbox confines a hub */
	for (size_t j = 0; opts != NULL && opts[j] != NULL && j < 16; j++) {
		argv[i++] = "--opt";
		argv[i++] = (char *)opts[j];
	}
	argv[i] = NULL;
	/*
	 * A restarted hub appends to the log its predecessor wrote "running"
	 * into, and the old socket file may still be there: wait for this
	 * hub's own "running" (mosquitto says it once its listener is open).
	 */
	before = th_count_log(log, "running");
	if (th_spawn(&n->hub, argv, NULL, log) != 0)
		th_die("cannot start %s", hub);
	for (waited = 0; th_count_log(log, "running") <= before &&
	    waited < 15000; waited += 20)
		usleep(20 * 1000);
	if (th_wait_path(n->sock, 15000) != 0 ||
	    th_count_log(log, "running") <= before) {
		th_dump(log);
		th_die("hub did not come up on %s", n->sock);
	}
}

void
th_node_init(struct th_node *n, enum mob_mode mode)
{
	char *init[] = { "init", "--hid", n->hid, "--mode",
	    mode == MOB_MODE_COMPAT ? "compat" : "hardened", NULL };

	memset(n, 0, sizeof(*n));
	th_tmpdir(n->dir, sizeof(n->dir));
	snprintf(n->keys, sizeof(n->keys), "%s/keys", n->dir);
	snprintf(n->sock, sizeof(n->sock), "%s/hub.sock", n->dir);
	snprintf(n->hid, sizeof(n->hid), "%s", TH_HID);
	n->mode = mode;
	th_keytool(n, init, NULL, 0);
}

void
th_node_start_opts(struct th_node *n, enum mob_mode mode,
    const char *const opts[])
{
	th_node_init(n, mode);
	th_node_hub_start(n, opts);
}

void
th_node_start(struct th_node *n, enum mob_mode mode)
{
	th_node_start_opts(n, mode, NULL);
}

/* The generation in DIR/state/keyring.status, 0 if none. */
static long
th_hub_generation(const char *dir)
{
	char path[320], buf[512];
	const char *g;
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "%s/state/keyring.status", dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	return (g = strstr(buf, "\"generation\":")) != NULL ?
	    strtol(g + 13, NULL, 10) : 0;
}

/*
 * Waits for the hub's word in keyring.status, written once mosquitto is
 * done with the reload: a SIGHUP sent earlier, while mosquitto still
 * handles the previous one, would be lost.
 */
void
th_hub_reload(pid_t pid, const char *dir)
{
	char log[300];
	long before = th_hub_generation(dir);

	snprintf(log, sizeof(log), "%s/hub.log", dir);
	if (pid <= 0 || kill(pid, SIGHUP) != 0)
		th_die("hub not running");
	for (int64_t end = mob_clock_mono_ms() + 10000;
	    th_hub_generation(dir) <= before;) {
		if (mob_clock_mono_ms() >= end) {
			th_dump(log);
			th_die("hub did not reload its keyring");
		}
		th_sleep_ms(10);
	}
}

void
th_node_reload(struct th_node *n)
{
	th_hub_reload(n->hub.pid, n->dir);
}

void
th_node_add(struct th_node *n, const char *spid_sid, char *keyfile, size_t len)
{
	char *add[] = { "add", (char *)spid_sid, NULL };
	const char *sid = strchr(spid_sid, '/');

	if (sid == NULL)
		th_die("th_node_add: want SPID/SID, got %s", spid_sid);
	th_keytool(n, add, NULL, 0);
	if (keyfile != NULL &&
	    (size_t)snprintf(keyfile, len, "%s/%s.key", n->keys, sid + 1) >= len)
		th_die("th_node_add: key path too long");
	if (n->hub.pid > 0)
		th_node_reload(n);
}

void
th_node_stop(struct th_node *n)
{
	char log[300];
	int san;

	snprintf(log, sizeof(log), "%s/hub.log", n->dir);
	th_stop(&n->hub, SIGTERM, 5000);
	/* a sanitizer report from the plugin fails whoever used the node */
	san = th_count_log(log, "AddressSanitizer") +
	    th_count_log(log, "runtime error:");
	if (san > 0) {
		th_dump(log);
		th_die("sanitizer report in the hub log");
	}
	th_rmtree(n->dir);
	n->dir[0] = '\0';
}

/* --- ordering probe --------------------------------------------------- */

#define STRACE	"/usr/bin/strace"

const char *
th_strace_missing(void)
{
	if (access(STRACE, X_OK) != 0)
		return STRACE " is missing (Debian package strace)";
	return NULL;
}

void
th_strace_argv(char *const argv[], const char *trace, char **out, size_t max)
{
	static char *pre[] = { STRACE, "-f", "-qq", "-s", "256", "-e",
	    "trace=socket,connect,accept,accept4,open,openat,close,read,readv,"
	    "recvfrom,recvmsg,seccomp,prctl", "-o", NULL };
	size_t n = 0;

	for (size_t i = 0; pre[i] != NULL && n < max - 1; i++)
		out[n++] = pre[i];
	if (n < max - 1)
		out[n++] = (char *)trace;
	for (size_t i = 0; argv[i] != NULL && n < max - 1; i++)
		out[n++] = argv[i];
	out[n] = NULL;
}

pid_t
th_trace_pid(const char *trace)
{
	long pid = -1;
	FILE *f;

	if ((f = fopen(trace, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return (pid_t)pid;
}

#define TRACE_FDS	1024

/* "PID  name(FD, ..." → FD, or -1 when line is not a call of name. */
static int
trace_fd(const char *line, const char *name)
{
	const char *p = line + strspn(line, "0123456789");
	size_t n = strlen(name);

	p += strspn(p, " ");
	if (strncmp(p, name, n) != 0 || p[n] != '(')
		return -1;
	return atoi(p + n + 1);
}

/* The call's result (after the last " = ", strace pads before it), or -1. */
static long
trace_ret(const char *line)
{
	const char *r = strstr(line, " = ");
	const char *last = r;

	while (r != NULL) {
		last = r;
		r = strstr(r + 1, " = ");
	}
	return last != NULL ? strtol(last + 3, NULL, 10) : -1;
}

int
th_trace_confined_first(const char *trace, const char *hub_sock, char *why,
    size_t len)
{
	static const char *const reads[] = { "read", "readv", "recvfrom",
	    "recvmsg", NULL };
	char line[4096], hub[400];
	unsigned char peer[TRACE_FDS] = { 0 };
	int confined = 0, after = 0, lineno = 0, fd;
	long ret;
	FILE *f;

	snprintf(why, len, "no read from a peer after the sandbox");
	snprintf(hub, sizeof(hub), "sun_path=\"%s\"", hub_sock);
	if ((f = fopen(trace, "r")) == NULL) {
		snprintf(why, len, "%s: %s", trace, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		ret = trace_ret(line);
		if ((strstr(line, " seccomp(SECCOMP_SET_MODE_FILTER") != NULL ||
		    strstr(line, " prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER") != NULL) &&
		    ret == 0)
			confined = 1;
		if ((fd = trace_fd(line, "connect")) >= 0 && fd < TRACE_FDS &&
		    (strstr(line, hub) != NULL || strstr(line, "AF_INET") != NULL))
			peer[fd] = 1;
		/* a client accepted on a listening socket: an application */
		if ((trace_fd(line, "accept") >= 0 || trace_fd(line, "accept4") >= 0) &&
		    ret >= 0 && ret < TRACE_FDS)
			peer[ret] = 1;
		if ((strstr(line, " openat(") != NULL ||
		    strstr(line, " open(") != NULL) &&
		    strstr(line, ".in\"") != NULL && ret >= 0 && ret < TRACE_FDS)
			peer[ret] = 1;
		if ((fd = trace_fd(line, "close")) >= 0 && fd < TRACE_FDS)
			peer[fd] = 0;
		for (size_t i = 0; reads[i] != NULL; i++) {
			if ((fd = trace_fd(line, reads[i])) < 0 || fd >= TRACE_FDS ||
			    !peer[fd] || ret <= 0)
				continue;
			if (!confined) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(why, len, "%s:%d: %.200s: %ld peer bytes "
				    "read before any seccomp filter", trace,
				    lineno, line, ret);
				fclose(f);
				return -1;
			}
			after++;
		}
	}
	fclose(f);
	return after;
}

void
th_write_file(const char *path, const char *text)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) != 0)
		th_die("write %s: %s", path, strerror(errno));
}

int
th_cli(char *const env[], char *out, size_t outlen, const char *fmt, ...)
{
	char path[512], args[1024], cmd[2048];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	va_list ap;

	th_path("bin/mobius", path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "exec '%s' %s 2>&1", path, args);
	if (out != NULL && outlen > 0)
		out[0] = '\0';
	return th_run(argv, env, out, outlen, 20000);
}

void
th_sim_start(struct th_proc *p, const struct th_node *n, const char *config,
    const char *key, char *const env[], int sandboxed)
{
	char path[512], log[600];
	char *argv[] = { path, "--config", (char *)config, "--key", (char *)key,
	    "--socket", (char *)n->sock, sandboxed ? NULL : "--no-sandbox", NULL };

	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim.log", n->dir);
	if (th_spawn(p, argv, env, log) != 0)
		th_die("start mobius-sim: %s", strerror(errno));
}
