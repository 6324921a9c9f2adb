/*
 * The pymodbus test device (tests/modbus_server.py) for test_modbus and
 * bench_modbus: over TCP on a free 127.0.0.1 port, or over RTU on one end
 * of a socat pty pair.  Header-only so the bench needs no Criterion; a
 * failure to start aborts the program (a test without its device is void).
 */
#ifndef MOBIUS_TESTS_MODBUS_SUPPORT_H
#define MOBIUS_TESTS_MODBUS_SUPPORT_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#define MB_PYTHON	"/usr/bin/python3"	/* Debian's, where pymodbus is */

struct mb_server {
	char dir[128];
	int port;
	pid_t pid, socat;
};

static inline void
mb_die(const char *what)
{
	fprintf(stderr, "modbus test device: %s: %s\n", what, strerror(errno));
	abort();
}

static inline int
mb_free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd, port;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		mb_die("socket");
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) == -1)
		mb_die("bind");
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static inline int
mb_wait_path(const char *path, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < ms / 10; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static inline pid_t
mb_spawn(char *const argv[], const char *log)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		mb_die("fork");
	if (pid == 0) {
		/* A test that fails an assertion exits without cleaning up:
		 * its device goes with it. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() == 1)
			_exit(127);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static inline void
mb_kill(pid_t *pid)
{
	int st, i;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (i = 0; i < 300; i++) {
		if (waitpid(*pid, &st, WNOHANG) == *pid)
			break;
		usleep(10000);
	}
	if (i == 300) {
		kill(*pid, SIGKILL);
		waitpid(*pid, &st, 0);
	}
	*pid = 0;
}

static inline const char *
mb_script(void)
{
	const char *s = getenv("MOBIUS_MODBUS_SERVER");

	return s != NULL ? s : "tests/modbus_server.py";
}

/* Start the device on TCP port (> 0), serial device rtu (not NULL), or both. */
static inline void
mb_server_start(struct mb_server *s, int port, const char *extra, const char *rtu)
{
	char ready[200], log[200], portarg[16];
	char *argv[12];
	int n = 0;

	snprintf(ready, sizeof(ready), "%s/ready", s->dir);
	snprintf(log, sizeof(log), "%s/server.log", s->dir);
	unlink(ready);
	argv[n++] = MB_PYTHON;
	argv[n++] = (char *)mb_script();
	if (port > 0) {
		snprintf(portarg, sizeof(portarg), "%d", port);
		argv[n++] = "--port";
		argv[n++] = portarg;
	}
	if (rtu != NULL) {
		argv[n++] = "--rtu";
		argv[n++] = (char *)rtu;
	}
	argv[n++] = "--units=1,2";
	argv[n++] = "--size=1000";
	argv[n++] = "--ready-file";
	argv[n++] = ready;
	if (extra != NULL)
		argv[n++] = (char *)extra;
	argv[n] = NULL;
	s->port = port;
	s->pid = mb_spawn(argv, log);
	if (mb_wait_path(ready, 15000) != 0) {
		errno = ETIMEDOUT;
		mb_die(log);
	}
}

static inline void
mb_server_tcp(struct mb_server *s, const char *extra)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/mobius-mb.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		mb_die("mkdtemp");
	mb_server_start(s, mb_free_port(), extra, NULL);
}

/*
 * RTU: socat links two ptys; the device serves one, *master gets the
 * other.  The device also answers on TCP s->port, for looking at it.
 */
static inline void
mb_server_rtu(struct mb_server *s, char *master, size_t len)
{
	char a[200], b[200], la[220], lb[220], log[200];
	char *argv[] = { "/usr/bin/socat", la, lb, NULL };

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/mobius-mb.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		mb_die("mkdtemp");
	snprintf(a, sizeof(a), "%s/dev", s->dir);
	snprintf(b, sizeof(b), "%s/master", s->dir);
	snprintf(la, sizeof(la), "pty,raw,echo=0,link=%s", a);
	snprintf(lb, sizeof(lb), "pty,raw,echo=0,link=%s", b);
	snprintf(log, sizeof(log), "%s/socat.log", s->dir);
	s->socat = mb_spawn(argv, log);
	if (mb_wait_path(a, 5000) != 0 || mb_wait_path(b, 5000) != 0) {
		errno = ETIMEDOUT;
		mb_die("socat pty pair");
	}
	mb_server_start(s, mb_free_port(), NULL, a);
	if (strlen(b) >= len) {
		errno = ENAMETOOLONG;
		mb_die(b);
	}
	memcpy(master, b, strlen(b) + 1);
}

static inline void
mb_server_stop(struct mb_server *s)
{
	mb_kill(&s->pid);
}

/* Stop the device and socat, remove the temp dir. */
static inline void
mb_server_done(struct mb_server *s)
{
	char path[200];
	static const char *files[] = { "ready", "server.log", "socat.log",
	    "dev", "master", NULL };
	int i;

	mb_kill(&s->pid);
	mb_kill(&s->socat);
	for (i = 0; files[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, files[i]);
		unlink(path);
	}
	rmdir(s->dir);
}

static inline modbus_t *
mb_bare_connect(int port, int unit)
{
	char p[16];
	modbus_t *ctx;

	snprintf(p, sizeof(p), "%d", port);
	if ((ctx = modbus_new_tcp_pi("127.0.0.1", p)) == NULL ||
	    modbus_connect(ctx) == -1 || modbus_set_slave(ctx, unit) == -1)
		mb_die("bare libmodbus connect");
	return ctx;
}

#endif
