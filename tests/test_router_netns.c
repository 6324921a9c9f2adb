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

/* ---- the COV stream: a publisher on node 2, a watcher on node 1 -------- */

struct stream {
	struct mob_client *pub, *sub;
	long sent, next;	/* sent so far; the n the watcher expects */
	long got, dups, gaps;	/* received once, again, past a hole */
};

static void
on_cov(struct mob_client *c, const char *topic, const struct mob_env *env,
    void *arg)
{
	struct stream *s = arg;
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(env->dat, "n");

	(void)c;
	if (strncmp(topic, "mob/cov/000002/0A0/", 19) != 0 || !cJSON_IsNumber(n))
		return;
	if ((long)n->valuedouble < s->next) {
		s->dups++;
		return;
	}
	if ((long)n->valuedouble > s->next)
		s->gaps++;
	s->got++;
	s->next = (long)n->valuedouble + 1;
}

static void
stream_open(struct stream *s)
{
	char pubkey[400], subkey[400];
	char *add[] = { NULL, "--dir", w.n[1].keys, "add", "00A0/0A0", NULL };
	char tool[512];
	struct mob_client_cfg pc = { 0 }, sc = { 0 };

	memset(s, 0, sizeof(*s));
	th_path("bin/mobius-keytool", tool, sizeof(tool));
	add[0] = tool;
	cr_assert_eq(th_run(add, NULL, NULL, 0, 20000), 0);
	th_hub_reload(w.n[1].hub.pid, w.n[1].dir);	/* learns the new key */
	snprintf(pubkey, sizeof(pubkey), "%s/0A0.key", w.n[1].keys);
	snprintf(subkey, sizeof(subkey), "%s/0C2.key", w.n[0].keys);
	pc.keyfile = pubkey;
	pc.socket = w.n[1].sock;
	sc.keyfile = subkey;
	sc.socket = w.n[0].sock;
	cr_assert_eq(mob_client_new(&pc, &s->pub), 0);
	cr_assert_eq(mob_client_new(&sc, &s->sub), 0);
	cr_assert_eq(mob_client_connect(s->pub, 10000), 0);
	cr_assert_eq(mob_client_connect(s->sub, 10000), 0);
	mob_client_set_handlers(s->sub, on_cov, NULL, s);
	cr_assert_eq(mob_client_subscribe(s->sub, "mob/cov/000002/0A0/#", 1), 0);
}

static void
stream_close(struct stream *s)
{
	mob_client_free(s->pub);
	mob_client_free(s->sub);
}

/* Run both clients for ms, publishing rate COV/s when rate > 0. */
static void
stream_run(struct stream *s, int rate, int ms)
{
	int64_t start = mob_clock_mono_ms(), now;
	long base = s->sent;

	while ((now = mob_clock_mono_ms()) - start < ms) {
		struct pollfd pfd[2];

		if (rate > 0) {
			long due = base + (long)((now - start) * rate / 1000);

			while (s->sent < due) {
				char dat[64];

				snprintf(dat, sizeof(dat), "{\"n\":%ld}", s->sent);
				if (mob_client_publish(s->pub,
				    "mob/cov/000002/0A0/0001/0001/40", dat, 1, 0) != 0)
					break;
				s->sent++;
			}
		}
		mob_client_pollfd(s->pub, &pfd[0]);
		mob_client_pollfd(s->sub, &pfd[1]);
		if (poll(pfd, 2, 2) < 0)
			continue;
		mob_client_process(s->pub, pfd[0].revents);
		mob_client_process(s->sub, pfd[1].revents);
	}
}

/* Let the backlog drain: until every message arrived or 120 s of quiet. */
static void
stream_drain(struct stream *s)
{
	for (int i = 0; i < 1200 && s->next < s->sent; i++) {
		long before = s->got;

		stream_run(s, 0, 100);
		if (s->got > before)
			i = 0;
	}
}

static void
stream_check(const struct stream *s)
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
	struct stream s;

	stream_open(&s);
	stream_run(&s, 1000, 2000);
	cr_assert_eq(sh("ip -n %s link set v2 down", ns_n[1]), 0);
	stream_run(&s, 1000, cut_seconds() * 1000);
	cr_assert_eq(sh("ip -n %s link set v2 up", ns_n[1]), 0);
	stream_run(&s, 1000, 2000);
	stream_drain(&s);
	fprintf(stderr, "link cut %d s at 1000 COV/s: %ld sent, %ld received "
	    "once, %ld again\n", cut_seconds(), s.sent, s.got, s.dups);
	stream_check(&s);
	stream_close(&s);
}

Test(router_netns, router_killed_during_the_outage_loses_nothing)
{
	struct stream s;

	stream_open(&s);
	stream_run(&s, 1000, 2000);
	cr_assert_eq(sh("ip -n %s link set v2 down", ns_n[1]), 0);
	stream_run(&s, 1000, 3000);
	/* the hub has handed every message to the router, which queued it on
	 * disk: its count stays still (the hub's own queue for a client is
	 * not the router's to keep, docs/router.md) */
	for (double last = -1, now; (now = tp_stat(&w, 1, "queue_pushed")) != last;
	    last = now)
		stream_run(&s, 0, 1500);
	tp_router_kill(&w, 1, SIGKILL);
	/* nothing is published while no router is there to take it (the
	 * hub keeps no queue for it); what the dead one had queued on disk
	 * must all arrive */
	tp_router_start(&w, 1);
	cr_assert_eq(th_wait_log(w.n[1].router.log, "hub connected", 20000), 0);
	stream_run(&s, 0, 1000);
	stream_run(&s, 1000, 3000);
	cr_assert_eq(sh("ip -n %s link set v2 up", ns_n[1]), 0);
	stream_run(&s, 1000, 2000);
	stream_drain(&s);
	fprintf(stderr, "router killed during a cut: %ld sent, %ld received "
	    "once, %ld again\n", s.sent, s.got, s.dups);
	stream_check(&s);
	stream_close(&s);
}

Test(router_netns, random_loss_and_a_rate_limit_lose_nothing)
{
	struct stream s;

	/* 20 % of packets dropped both ways in node 2's namespace, and its
	 * link limited to 256 kbit/s (this kernel has no netem) */
	cr_assert_eq(sh("ip netns exec %s nft -f - <<'EOF'\n"
	    "table inet loss {\n"
	    " chain in { type filter hook input priority 0; numgen random mod 100 < 20 drop; }\n"
	    " chain out { type filter hook output priority 0; numgen random mod 100 < 20 drop; }\n"
	    "}\nEOF", ns_n[1]), 0);
	cr_assert_eq(sh("ip netns exec %s tc qdisc add dev v2 root tbf rate "
	    "256kbit burst 16kbit latency 400ms", ns_n[1]), 0);
	stream_open(&s);
	stream_run(&s, 100, 10000);
	stream_drain(&s);
	fprintf(stderr, "20%% loss and 256 kbit/s: %ld sent, %ld received once, "
	    "%ld again\n", s.sent, s.got, s.dups);
	stream_check(&s);
	stream_close(&s);
}
