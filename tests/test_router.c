/*
 * mobius-router end to end (docs/router.md): two nodes, each with its hub,
 * mobius-sim and router, peered through Debian's mosquitto behind
 * mobius-front (ws://), all real programs on loopback.  The routers run
 * confined (as nobody when the test is root) except in the sanitizer build.
 *
 * The network-namespace tests (link cut, kill -9, loss, rate limit) are in
 * test_router_netns.c; the RabbitMQ cluster in test_router_rabbitmq.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support/peers.h"

#define TEMP	"000002/010/0101/0001/40"
#define SETP	"000002/010/0102/0001/40"
#define LAMP	"000002/010/0103/0001/40"

/*
 * Criterion's runner (libcriterion 2.4.1) leaks 48 bytes when tests of
 * this length run two at a time; not ours, and LeakSanitizer would fail
 * the SAN run for it.
 */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";
}

static struct tp_world w;
static char out[65536];

static void
start_default(void)
{
	struct tp_opts o = { .sandbox = 1 };

	tp_start(&w, &o);
}

static void
stop(void)
{
	tp_stop(&w);
}

static int
cli(int node, const char *a, const char *b, const char *c, const char *d,
    const char *e)
{
	const char *args[] = { a, b, c, d, e, NULL };

	memset(out, 0, sizeof(out));
	return tp_cli(&w, node, out, sizeof(out), args);
}

Test(router, remote_discover_get_set_watch_both_ways, .init = start_default,
    .fini = stop, .timeout = 120)
{
	for (int i = 0; i < 2; i++) {
		const char *other = w.n[1 - i].hid;
		char uri[64], setp[64], pat[16];

		cr_assert_eq(cli(i, "discover", other, NULL, NULL, NULL), 0, "%s", out);
		snprintf(uri, sizeof(uri), "%s/010/0101/0001/40", other);
		cr_assert_not_null(strstr(out, uri), "discover from %s: %s",
		    w.n[i].hid, out);
		cr_assert_not_null(strstr(out, "online"), "%s", out);

		cr_assert_eq(cli(i, "get", uri, NULL, NULL, NULL), 0, "%s", out);
		cr_assert_not_null(strstr(out, "Cel"), "%s", out);

		snprintf(setp, sizeof(setp), "%s/010/0102/0001/40", other);
		cr_assert_eq(cli(i, "set", setp, i ? "19.5" : "24.5", NULL, NULL),
		    0, "%s", out);
		cr_assert_eq(cli(i, "get", setp, NULL, NULL, NULL), 0, "%s", out);
		cr_assert_not_null(strstr(out, i ? "19.5" : "24.5"), "%s", out);

		/* the remote COV arrive on the local hub */
		snprintf(pat, sizeof(pat), "%s/#", other);
		cr_assert_eq(cli(i, "watch", "--duration", "3", pat, NULL), 0,
		    "%s", out);
		cr_assert_not_null(strstr(out, setp), "watch from %s: %s",
		    w.n[i].hid, out);
	}
	cr_assert_eq(tp_wait_stat(&w, 0, "delivered", 1, 5000), 0);
	cr_assert_eq(tp_stat(&w, 0, "bad_signature"), 0);
	cr_assert_eq(tp_stat(&w, 0, "replay"), 0);
}

Test(router, export_policy_refuses_a_write_with_a_clear_error,
    .init = start_default, .fini = stop, .timeout = 120)
{
	cr_assert_neq(cli(0, "set", LAMP, "true", NULL, NULL), 0, "%s", out);
	cr_assert_not_null(strstr(out, "node 000002 does not export write of "
	    LAMP " to node 000001"), "%s", out);
	cr_assert_eq(tp_wait_stat(&w, 1, "denied", 1, 5000), 0);
	/* reading it is exported */
	cr_assert_eq(cli(0, "get", LAMP, NULL, NULL, NULL), 0, "%s", out);
	/* and the lamp was not switched */
	cr_assert_not_null(strstr(out, "false"), "%s", out);
}

Test(router, unreachable_node_is_reported_not_waited_for,
    .init = start_default, .fini = stop, .timeout = 120)
{
	tp_router_kill(&w, 1, SIGKILL);
	/* RT_LOST_MS without a heartbeat: node 2's services go offline */
	for (int t = 0; t < 200 && tp_stat(&w, 0, "reachable") != 0; t++)
		usleep(100000);
	cr_assert_eq(tp_stat(&w, 0, "reachable"), 0);
	cr_assert_neq(cli(0, "get", TEMP, NULL, NULL, NULL), 0, "%s", out);
	cr_assert(strstr(out, "unreachable") != NULL ||
	    strstr(out, "offline") != NULL, "%s", out);
	cr_assert_eq(cli(0, "discover", "000002", NULL, NULL, NULL), 0, "%s", out);
	cr_assert_not_null(strstr(out, "offline"), "%s", out);
	/* back again: resync by request, values flow */
	tp_router_start(&w, 1);
	cr_assert_eq(tp_wait_stat(&w, 0, "reachable", 1, 30000), 0);
	cr_assert_eq(cli(0, "get", TEMP, NULL, NULL, NULL), 0, "%s", out);
}

/*
 * mobius-front --coalesce holds the broker's bytes 50 ms and sends them as
 * one WebSocket frame: acks, heartbeats, responses and COV share frames.
 * The routers' MQTT keepalive is 60 s here, so a client that waited for
 * more socket bytes before reading the second packet of a frame would
 * miss the CLI's 5 s answer window: every request must still be answered.
 */
static void
start_coalescing(void)
{
	struct tp_opts o = { .sandbox = 1, .coalesce_ms = 50, .keepalive = 60 };

	tp_start(&w, &o);
}

Test(router, coalesced_websocket_frames_do_not_stall, .init = start_coalescing,
    .fini = stop, .timeout = 180)
{
	char log[400], *p;
	unsigned long long frames = 0, merged = 0;

	for (int k = 0; k < 10; k++) {
		cr_assert_eq(cli(0, "get", TEMP, NULL, NULL, NULL), 0,
		    "request %d: %s", k, out);
		cr_assert_eq(cli(1, "get", "000001/010/0101/0001/40", NULL, NULL,
		    NULL), 0, "request %d: %s", k, out);
	}
	/* closing node 1's router makes the front report its frames */
	tp_router_kill(&w, 0, SIGTERM);
	snprintf(log, sizeof(log), "%s/front.log", w.dir);
	cr_assert_eq(th_wait_log(log, "frames to the client", 10000), 0);
	{
		FILE *f = fopen(log, "r");
		static char buf[65536];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		fclose(f);
		buf[n] = '\0';
		p = strstr(buf, "closed after ");
		cr_assert_not_null(p);
		cr_assert_eq(sscanf(p, "closed after %llu frames to the client "
		    "(%llu", &frames, &merged), 2, "%s", p);
	}
	cr_assert_gt(merged, 0, "no frame carried several broker writes "
	    "(%llu frames): the test proved nothing", frames);
}
