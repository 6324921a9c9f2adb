/*
 * mobius-router across a network (docs/router.md, "Store and forward"):
 * the broker (mosquitto + mobius-front) and each router in a network
 * namespace of its own, joined by veth pairs to a bridge that lives in a
 * fourth namespace; nothing is added to the test's own namespace.  Hubs,
 * services and the test's clients stay outside and reach their hub by its
 * Unix socket.
 *
 * Node 2 publishes COV at a fixed rate (a service of the test, 000002/0A0)
 * that a client of node 1 watches: every message must arrive once, in
 * order, through a cut link, a router killed with SIGKILL during the cut,
 * random loss and a rate limit.  Needs root (namespaces, nftables, tc):
 * skipped otherwise, saying so.
 *
 * The cut lasts 10 s here; MOBIUS_ROUTER_CUT_S=60 (make check-router-slow)
 * gives the full minute.
 */
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "mobius/client.h"
#include "mobius/clock.h"
#include "mobius/err.h"
#include "support/peers.h"

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	/* Criterion's runner leaks 48 bytes on long parallel tests */
	return "leak:libcriterion.so\n";
}

static char ns_br[32], ns_b[32], ns_n[2][32];
static struct tp_world w;

static int __attribute__((format(printf, 1, 2)))
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void
net_down(void)
{
	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; "
	    "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null",
	    ns_n[0], ns_n[1], ns_b, ns_br);
}

/* 10.77.0.1 broker, .11 node 1's router, .12 node 2's */
static int
net_up(void)
{
	const char *name[3] = { ns_b, ns_n[0], ns_n[1] };
	const int ip[3] = { 1, 11, 12 };

	snprintf(ns_br, sizeof(ns_br), "mobrt-br-%d", (int)getpid());
	snprintf(ns_b, sizeof(ns_b), "mobrt-b-%d", (int)getpid());
	snprintf(ns_n[0], sizeof(ns_n[0]), "mobrt-n1-%d", (int)getpid());
	snprintf(ns_n[1], sizeof(ns_n[1]), "mobrt-n2-%d", (int)getpid());
	if (sh("ip netns add %s && ip -n %s link add br0 type bridge && "
	    "ip -n %s link set br0 up", ns_br, ns_br, ns_br) != 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (sh("ip netns add %s && ip -n %s link add p%d type veth peer "
		    "name v%d netns %s && ip -n %s link set p%d master br0 up && "
		    "ip -n %s addr add 10.77.0.%d/24 dev v%d && "
		    "ip -n %s link set v%d up && ip -n %s link set lo up",
		    name[i], ns_br, i, i, name[i], ns_br, i, name[i], ip[i], i,
		    name[i], i, name[i]) != 0)
			return -1;
	return 0;
}

static void
setup(void)
{
	struct tp_opts o = { .sandbox = 1, .broker_addr = "10.77.0.1" };

	if (geteuid() != 0)
		cr_skip_test("needs root: network namespaces, nftables, tc");
	if (net_up() != 0) {
		net_down();
		cr_skip_test("cannot make network namespaces here (ip netns)");
	}
	o.broker_ns = ns_b;
	o.ns[0] = ns_n[0];
	o.ns[1] = ns_n[1];
	tp_start(&w, &o);
}

static void
teardown(void)
{
	if (geteuid() != 0)
		return;
	tp_stop(&w);
	net_down();
}

static void
stream_check(const struct tp_stream *s)
{
	cr_assert_gt(s->sent, 0);
	cr_assert_eq(s->gaps, 0, "%ld messages skipped a hole", s->gaps);
	cr_assert_eq(s->got, s->sent, "%ld sent, %ld received once (%ld again)",
	    s->sent, s->got, s->dups);
	cr_assert_eq(s->next, s->sent);
}

static int
cut_seconds(void)
{
	const char *e = getenv("MOBIUS_ROUTER_CUT_S");
	int v = e != NULL ? atoi(e) : 0;

	return v > 0 ? v : 10;
}

TestSuite(router_netns, .init = setup, .fini = teardown, .timeout = 600);

Test(router_netns, link_cut_loses_nothing_and_keeps_order)
{
	struct tp_stream s;

	tp_stream_open(&w, &s);
	tp_stream_run(&s, 1000, 2000);
	cr_assert_eq(sh("ip -n %s link set v2 down", ns_n[1]), 0);
	tp_stream_run(&s, 1000, cut_seconds() * 1000);
	cr_assert_eq(sh("ip -n %s link set v2 up", ns_n[1]), 0);
	tp_stream_run(&s, 1000, 2000);
	tp_stream_drain(&s);
	fprintf(stderr, "link cut %d s at 1000 COV/s: %ld sent, %ld received "
	    "once, %ld again\n", cut_seconds(), s.sent, s.got, s.dups);
	stream_check(&s);
	tp_stream_close(&s);
}

Test(router_netns, router_killed_during_the_outage_loses_nothing)
{
	struct tp_stream s;

	tp_stream_open(&w, &s);
	tp_stream_run(&s, 1000, 2000);
	cr_assert_eq(sh("ip -n %s link set v2 down", ns_n[1]), 0);
	tp_stream_run(&s, 1000, 3000);
	/* the hub has handed every message to the router, which queued it on
	 * disk: its count stays still (what the hub holds for a dead router
	 * is test_router_session's) */
	for (double last = -1, now; (now = tp_stat(&w, 1, "queue_pushed")) != last;
	    last = now)
		tp_stream_run(&s, 0, 1500);
	tp_router_kill(&w, 1, SIGKILL);
	/* what the dead one had queued on disk must all arrive */
	tp_router_start(&w, 1);
	/* the log keeps the first run's line too */
	for (int t = 0; t < 200 && th_count_log(w.n[1].router.log,
	    "hub connected") < 2; t++)
		tp_stream_run(&s, 0, 100);
	cr_assert_eq(th_count_log(w.n[1].router.log, "hub connected"), 2);
	tp_stream_run(&s, 0, 1000);
	tp_stream_run(&s, 1000, 3000);
	cr_assert_eq(sh("ip -n %s link set v2 up", ns_n[1]), 0);
	tp_stream_run(&s, 1000, 2000);
	tp_stream_drain(&s);
	fprintf(stderr, "router killed during a cut: %ld sent, %ld received "
	    "once, %ld again\n", s.sent, s.got, s.dups);
	stream_check(&s);
	tp_stream_close(&s);
}

Test(router_netns, random_loss_and_a_rate_limit_lose_nothing)
{
	struct tp_stream s;

	/* 20 % of packets dropped both ways in node 2's namespace, and its
	 * link limited to 256 kbit/s (this kernel has no netem) */
	cr_assert_eq(sh("ip netns exec %s nft -f - <<'EOF'\n"
	    "table inet loss {\n"
	    " chain in { type filter hook input priority 0; numgen random mod 100 < 20 drop; }\n"
	    " chain out { type filter hook output priority 0; numgen random mod 100 < 20 drop; }\n"
	    "}\nEOF", ns_n[1]), 0);
	cr_assert_eq(sh("ip netns exec %s tc qdisc add dev v2 root tbf rate "
	    "256kbit burst 16kbit latency 400ms", ns_n[1]), 0);
	tp_stream_open(&w, &s);
	tp_stream_run(&s, 100, 10000);
	tp_stream_drain(&s);
	fprintf(stderr, "20%% loss and 256 kbit/s: %ld sent, %ld received once, "
	    "%ld again\n", s.sent, s.got, s.dups);
	stream_check(&s);
	tp_stream_close(&s);
}
