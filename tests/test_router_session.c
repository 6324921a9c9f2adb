/*
 * The router's session on its own hub (docs/router.md, "The hub
 * session"): node 2's router is killed (-9) while node 2 publishes COV
 * that a client of node 1 watches, and restarted; what node 2's hub held
 * for it meanwhile — the COV published while no router was there, and
 * those in flight to it — must reach node 1: 0 lost, in order.
 *
 * Where the kill lands: libmosquitto acknowledges a message (PUBACK)
 * before the router sees it, and the router writes it to its queue in the
 * same turn of its loop.  A kill between the two loses that message
 * (microseconds per message; no manual acknowledgement in libmosquitto
 * 2.0.11).  The test kills the router where it spends its time, stopped
 * (SIGSTOP) inside poll() with a timeout, so that window is excluded and
 * lost = 0 is exact.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include <criterion/criterion.h>

#include "support/peers.h"

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";	/* Criterion's runner */
}

#define RATE	100	/* COV/s: the hub queues up to 1000 for a client */

static struct tp_world w;

static void
setup(void)
{
	struct tp_opts o = { .sandbox = 1 };

	tp_start(&w, &o);
}

/* compat key mode: MQTT 3.1.1 and clean session off instead of MQTT 5
 * session expiry and session keys */
static void
setup_compat(void)
{
	struct tp_opts o = { .sandbox = 1, .compat = 1 };

	tp_start(&w, &o);
}

static void
teardown(void)
{
	tp_stop(&w);
}

/* The state letter of /proc/PID/stat ('T' once stopped), 0 if gone. */
static char
proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof(buf), f) != NULL ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p != NULL && p[1] == ' ' ? p[2] : 0;
}

/* The stopped router's main thread is blocked in poll() with a timeout:
 * the last turn of its loop is complete. */
static int
in_poll(pid_t pid)
{
	char path[64];
	long nr = -1;
	unsigned long timeout = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	/* "NR ARG1 ARG2 ARG3 ...": poll(fds, nfds, timeout) */
	if (fscanf(f, "%ld %*x %*x %lx", &nr, &timeout) != 2)
		nr = -1;
	fclose(f);
	return nr == SYS_poll && (int)timeout > 0;
}

static void
kill_in_poll(struct tp_stream *s, pid_t pid)
{
	int k, t;

	for (k = 0; k < 1000; k++) {
		kill(pid, SIGSTOP);
		for (t = 0; t < 1000 && proc_state(pid) != 'T'; t++)
			tp_stream_run(s, RATE, 1);
		cr_assert_eq(proc_state(pid), 'T', "the router did not stop");
		if (in_poll(pid))
			break;
		kill(pid, SIGCONT);
		tp_stream_run(s, RATE, 3);
	}
	cr_assert_lt(k, 1000, "the router was never caught in poll()");
	tp_router_kill(&w, 1, SIGKILL);
}

static void
kill_and_restart(const char *mode)
{
	struct tp_stream s;
	long at_kill, at_start;

	tp_stream_open(&w, &s);
	tp_stream_run(&s, RATE, 2000);
	kill_in_poll(&s, w.n[1].router.pid);
	at_kill = s.sent;
	/* a second of COV with no router on node 2: its hub keeps them */
	tp_stream_run(&s, RATE, 1000);
	at_start = s.sent;
	tp_router_start(&w, 1);
	/* its log has the first run's line too */
	for (int t = 0; t < 300 && th_count_log(w.n[1].router.log,
	    "hub connected") < 2; t++)
		tp_stream_run(&s, RATE, 100);
	cr_assert_eq(th_count_log(w.n[1].router.log, "hub connected"), 2);
	tp_stream_run(&s, RATE, 2000);
	tp_stream_drain(&s);
	fprintf(stderr, "%s: router kill -9 at %d COV/s: %ld sent (%ld while it was "
	    "down), %ld delivered once, %ld lost, %ld duplicated, %ld holes\n",
	    mode, RATE, s.sent, at_start - at_kill, s.got, s.sent - s.got, s.dups,
	    s.gaps);
	cr_assert_gt(at_start - at_kill, 0);
	cr_assert_eq(s.gaps, 0, "%ld messages skipped a hole", s.gaps);
	cr_assert_eq(s.sent - s.got, 0, "%ld lost", s.sent - s.got);
	tp_stream_close(&s);
}

Test(router_session, a_router_killed_gets_what_its_hub_held_for_it,
    .init = setup, .fini = teardown, .timeout = 300)
{
	kill_and_restart("session keys, MQTT 5 session expiry");
}

Test(router_session, the_same_in_compat_key_mode,
    .init = setup_compat, .fini = teardown, .timeout = 300)
{
	kill_and_restart("compat keys, MQTT 3.1.1 clean session off");
}
