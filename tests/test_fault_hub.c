/*
 * Faults: the hub killed (-9) while a service publishes QoS 1 COVs at
 * 1 000/s to a watching client.  The real hub (mosquitto + our plugin) is
 * restarted as systemd would; both clients must reconnect by themselves.
 * The publisher numbers its messages, so the watcher can count what was
 * sent (mob_client_publish returned 0), delivered, lost and duplicated,
 * and check the order per publisher (docs/protocol.md "Hub crashes").
 * The counts go to stderr: "fault_hub: attempted ..., sent ...".
 */
#include <criterion/criterion.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/client.h"
#include "mobius/log.h"
#include "support/harness.h"

#define PUB_ID		"0010/010"
#define WATCH_ID	"00C1/0C1"
#define TOPIC		"mob/cov/" TH_HID "/010/0001/0001/40"
#define MAX_MSGS	20000
#define RATE_PER_S	1000

static struct th_node node;
static struct mob_client *pub, *watch;
static unsigned char sent[MAX_MSGS];	/* publish returned 0 */
static unsigned short seen[MAX_MSGS];	/* times delivered */
static long last_first = -1;		/* last n delivered for the first time */
static int out_of_order;

static void
on_msg(struct mob_client *c, const char *topic, const struct mob_env *env,
    void *arg)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(env->dat, "n");
	long i;

	(void)c, (void)arg;
	if (strcmp(topic, TOPIC) != 0 || !cJSON_IsNumber(n))
		return;
	i = (long)n->valuedouble;
	if (i < 0 || i >= MAX_MSGS)
		return;
	if (seen[i]++ == 0) {
		if (i < last_first)
			out_of_order++;
		last_first = i;
	}
}

static struct mob_client *
client(const char *keyfile)
{
	struct mob_client_cfg cfg = { 0 };
	struct mob_client *c;

	cfg.keyfile = keyfile;
	cfg.socket = node.sock;
	cr_assert_eq(mob_client_new(&cfg, &c), 0);
	return c;
}

/* Both clients' sockets for up to ms. */
static void
pump(int ms)
{
	struct pollfd pfd[2];

	mob_client_pollfd(pub, &pfd[0]);
	mob_client_pollfd(watch, &pfd[1]);
	(void)poll(pfd, 2, ms);
	mob_client_process(pub, pfd[0].revents);
	mob_client_process(watch, pfd[1].revents);
}

TestSuite(fault_hub, .timeout = 120);

Test(fault_hub, kill_9_mid_stream_both_clients_reconnect_in_order)
{
	char pkey[512], wkey[512], dat[64];
	struct mob_client_stats ps, ws;
	int64_t t0, now, kill_at, stop_at, last_rx;
	long n = 0, nsent = 0, delivered = 0, lost = 0, dups = 0, after = 0;
	long offline = 0, lost_before = 0;
	int killed = 0;

	log_init("test_fault_hub", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, PUB_ID, pkey, sizeof(pkey));
	th_node_add(&node, WATCH_ID, wkey, sizeof(wkey));
	pub = client(pkey);
	watch = client(wkey);
	mob_client_set_handlers(watch, on_msg, NULL, NULL);
	cr_assert_eq(mob_client_connect(pub, 10000), 0);
	cr_assert_eq(mob_client_connect(watch, 10000), 0);
	cr_assert_eq(mob_client_subscribe(watch, "mob/cov/" TH_HID "/010/#", 1), 0);
	for (int i = 0; i < 20; i++)
		pump(10);

	/* 1 000/s for 4 s; the hub dies at 1.5 s and is back at once */
	t0 = mob_clock_mono_ms();
	kill_at = t0 + 1500;
	stop_at = t0 + 4000;
	while ((now = mob_clock_mono_ms()) < stop_at && n < MAX_MSGS) {
		if (!killed && now >= kill_at) {
			th_stop(&node.hub, SIGKILL, 3000);
			th_node_hub_start(&node, NULL);
			killed = 1;
			/* what was sent before the crash and never arrived */
			for (long i = 0; i < n; i++)
				lost_before += sent[i] && seen[i] == 0;
		}
		while (n < (now - t0) * RATE_PER_S / 1000 && n < MAX_MSGS) {
			snprintf(dat, sizeof(dat), "{\"n\":%ld}", n);
			if (mob_client_publish(pub, TOPIC, dat, 1, 0) == 0) {
				sent[n] = 1;
				nsent++;
			} else
				offline++;
			n++;
		}
		pump(1);
	}
	/* drain: until nothing new for a second */
	last_rx = mob_clock_mono_ms();
	for (long before = -1; mob_clock_mono_ms() - last_rx < 1000 &&
	    mob_clock_mono_ms() - stop_at < 10000;) {
		pump(20);
		mob_client_stats(watch, &ws);
		if ((long)ws.rx != before) {
			before = (long)ws.rx;
			last_rx = mob_clock_mono_ms();
		}
	}
	for (long i = 0; i < n; i++) {
		if (seen[i] > 0)
			delivered++;
		if (seen[i] > 1)
			dups += seen[i] - 1;
		if (sent[i] && seen[i] == 0)
			lost++;
		if (seen[i] > 0 && i > n / 2)
			after++;
	}
	fprintf(stderr, "fault_hub: attempted %ld, sent %ld (refused while the "
	    "hub was down: %ld), delivered %ld, lost %ld (%ld of them sent "
	    "before the crash), duplicated %ld, out of order %d\n", n, nsent,
	    offline, delivered, lost, lost_before, dups, out_of_order);
	mob_client_stats(pub, &ps);
	mob_client_stats(watch, &ws);
	cr_expect_eq(ps.reconnects, 1, "the publisher reconnected by itself");
	cr_expect_eq(ws.reconnects, 1, "the watcher reconnected by itself");
	cr_expect_gt(after, 0, "messages flow again after the restart");
	cr_expect_eq(out_of_order, 0, "in order per publisher");
	/*
	 * lost is reported, not asserted (docs/protocol.md "Hub crashes"):
	 * what the dead hub had accepted but not yet forwarded is gone, and
	 * how much that is depends on how far behind the hub was (0 to ~400
	 * of ~3 900 measured, the most on a loaded machine).
	 */
	cr_expect_eq(ws.rx_dropped, 0, "nothing the watcher got failed to verify "
	    "(%llu dropped, last %s)", (unsigned long long)ws.rx_dropped,
	    mob_errname(ws.last_drop));
	mob_client_free(pub);
	mob_client_free(watch);
	th_node_stop(&node);
}
