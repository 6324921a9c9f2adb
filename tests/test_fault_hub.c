/*
 * Faults: the hub killed (-9) while a service publishes QoS 1 COVs at
 * 1 000/s to a watcher.  The real hub (mosquitto + our plugin) is
 * restarted as systemd would; every client must reconnect by itself.
 * The publisher numbers its messages, so the watcher can count what was
 * sent (mob_client_publish returned 0), delivered, lost and duplicated,
 * and check the order per publisher (docs/protocol.md "Hub crashes").
 *
 * The watcher reads nothing for the last 0.5 s before the crash (a slow
 * subscriber), so the hub dies holding ~500 COVs it acknowledged and never
 * forwarded, whatever the machine's load: without the watcher's recovery
 * from the publisher's history (lib/rt/mobius/history.h) those are lost
 * (measured: 499-500 of ~3 870).  The counts go to stderr:
 * "fault_hub: attempted ..., sent ...".
 */
#include <criterion/criterion.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

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
#define STREAM_MS	4000	/* publishing */
#define KILL_MS		1500	/* the hub dies, and is back at once */
#define STALL_MS	500	/* the watcher reads nothing before the crash */
#define DRAIN_MS	60000	/* a generous bound, not a timing test */

static struct th_node node;
static char pkey[512], wkey[512];	/* the publisher's, the watcher's */
static struct mob_client *pub, *watch;	/* watch: NULL for mobius watch */
static struct th_proc cli;		/* mobius watch */
static unsigned char sent[MAX_MSGS];	/* publish returned 0 */
static unsigned short seen[MAX_MSGS];	/* times delivered */
static long last_first = -1;		/* last n delivered for the first time */
static int out_of_order, stalled;
static long delivered, nsent;

/* Count one delivery of message i. */
static void
seen_one(long i)
{
	if (i < 0 || i >= MAX_MSGS)
		return;
	if (seen[i]++ == 0) {
		if (i < last_first)
			out_of_order++;
		last_first = i;
		delivered++;
	}
}

static void
on_msg(struct mob_client *c, const char *topic, const struct mob_env *env,
    void *arg)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(env->dat, "value");

	(void)c, (void)arg;
	if (strcmp(topic, TOPIC) == 0 && cJSON_IsNumber(n))
		seen_one((long)n->valuedouble);
}

static struct mob_client *
client(const char *keyfile, int recover, int history)
{
	struct mob_client_cfg cfg = { 0 };
	struct mob_client *c;

	cfg.keyfile = keyfile;
	cfg.socket = node.sock;
	cfg.recover = recover;
	cfg.history = history;
	cr_assert_eq(mob_client_new(&cfg, &c), 0);
	cr_assert_eq(mob_client_connect(c, 10000), 0);
	return c;
}

/* The clients' sockets (the watcher's not while stalled) for up to ms. */
static void
pump(int ms)
{
	struct pollfd pfd[2];
	int w = watch != NULL && !stalled;

	mob_client_pollfd(pub, &pfd[0]);
	if (watch != NULL)
		mob_client_pollfd(watch, &pfd[1]);
	(void)poll(pfd, w ? 2 : 1, ms);
	mob_client_process(pub, pfd[0].revents);
	if (w)
		mob_client_process(watch, pfd[1].revents);
}

/* A hardened node with the publisher's and the watcher's keys. */
static void
node_up(void)
{
	log_init("test_fault_hub", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, PUB_ID, pkey, sizeof(pkey));
	th_node_add(&node, WATCH_ID, wkey, sizeof(wkey));
}

/* The publisher (history: cfg.history) and a recovering watcher. */
static void
clients_up(int history)
{
	pub = client(pkey, 0, history);
	watch = client(wkey, 1, 0);
	mob_client_set_handlers(watch, on_msg, NULL, NULL);
	cr_assert_eq(mob_client_subscribe(watch, "mob/cov/" TH_HID "/010/#", 1), 0);
	for (int i = 0; i < 20; i++)
		pump(10);
}

/* The watcher stops reading (1) or reads again (0). */
static void
stall(int on)
{
	stalled = on;
	if (watch == NULL)
		kill(cli.pid, on ? SIGSTOP : SIGCONT);
}

/*
 * 1 000 numbered COVs a second for STREAM_MS; the watcher stalls for
 * STALL_MS, then the hub is killed -9 and restarted at once.  Returns how
 * many were attempted; *offline: refused while the hub was down;
 * *missing: sent and not delivered when the hub died.
 */
static long
stream(long *offline, long *missing)
{
	int64_t t0 = mob_clock_mono_ms(), now;
	char dat[64];
	long n = 0;
	int killed = 0;

	*offline = *missing = 0;
	while ((now = mob_clock_mono_ms()) < t0 + STREAM_MS && n < MAX_MSGS) {
		if (!killed && !stalled && now >= t0 + KILL_MS - STALL_MS)
			stall(1);
		if (!killed && now >= t0 + KILL_MS) {
			for (long i = 0; i < n; i++)
				*missing += sent[i] && seen[i] == 0;
			th_stop(&node.hub, SIGKILL, 3000);
			th_node_hub_start(&node, NULL);
			stall(0);
			killed = 1;
		}
		while (n < (now - t0) * RATE_PER_S / 1000 && n < MAX_MSGS) {
			snprintf(dat, sizeof(dat), "{\"value\":%ld}", n);
			if (mob_client_publish(pub, TOPIC, dat, 1, 0) == 0) {
				sent[n] = 1;
				nsent++;
			} else
				(*offline)++;
			n++;
		}
		pump(1);
	}
	return n;
}

/* Lost (sent, never delivered) and duplicated among the first n. */
static void
tally(long n, long *lost, long *dups)
{
	*lost = *dups = 0;
	for (long i = 0; i < n; i++) {
		if (seen[i] > 1)
			*dups += seen[i] - 1;
		if (sent[i] && seen[i] == 0)
			(*lost)++;
	}
}

TestSuite(fault_hub, .timeout = 150);

Test(fault_hub, kill_9_mid_stream_nothing_lost_in_order_once)
{
	struct mob_client_stats ps, ws;
	long n, lost, dups, offline, missing;

	node_up();
	clients_up(0);

	n = stream(&offline, &missing);
	/* until everything sent arrived */
	for (int64_t t = mob_clock_mono_ms(); delivered < nsent &&
	    mob_clock_mono_ms() - t < DRAIN_MS;)
		pump(20);
	tally(n, &lost, &dups);
	mob_client_stats(pub, &ps);
	mob_client_stats(watch, &ws);
	fprintf(stderr, "fault_hub: attempted %ld, sent %ld (refused while the "
	    "hub was down: %ld), delivered %ld, lost %ld (missing when the hub "
	    "died: %ld; recovered from the publisher's history: %llu), "
	    "duplicated %ld (duplicates dropped by the watcher: %llu), out of "
	    "order %d, gaps %llu\n", n, nsent, offline, delivered, lost,
	    missing, (unsigned long long)ws.recovered, dups,
	    (unsigned long long)ws.rx_dups, out_of_order,
	    (unsigned long long)ws.gaps);
	cr_expect_eq(ps.reconnects, 1, "the publisher reconnected by itself");
	cr_expect_eq(ws.reconnects, 1, "the watcher reconnected by itself");
	cr_expect_eq(out_of_order, 0, "in order per publisher");
	/* docs/protocol.md "Hub crashes": exactly once, by design */
	cr_expect_eq(lost, 0, "nothing the publisher sent is lost");
	cr_expect_eq(dups, 0, "nothing is delivered twice");
	cr_expect_eq(ws.gaps, 0, "every recovery closed its gap");
	cr_expect_leq(ws.rx_dups, (unsigned long long)nsent, "duplicates on the "
	    "wire are bounded: at most one per message sent");
	cr_expect_eq(ws.rx_dropped, 0, "nothing the watcher got failed to verify "
	    "(%llu dropped, last %s)", (unsigned long long)ws.rx_dropped,
	    mob_errname(ws.last_drop));
	mob_client_free(pub);
	mob_client_free(watch);
	th_node_stop(&node);
}

/*
 * The same crash seen by `mobius watch --json` (the real CLI), stopped
 * (SIGSTOP) for the last 0.5 s before it: every value sent is printed
 * after the restart, in order, once.
 */
Test(fault_hub, mobius_watch_prints_every_value_once_in_order_across_a_crash)
{
	char path[512], log[600], filter[40], needle[48];
	char *argv[] = { path, "--socket", node.sock, "--key", wkey, "watch",
	    "--json", filter, NULL };
	long n, lost, dups, offline, missing, last = -1;
	char *buf, *line, *save;
	cJSON *j;

	node_up();
	pub = client(pkey, 0, 0);
	watch = NULL;
	th_path("bin/mobius", path, sizeof(path));
	snprintf(filter, sizeof(filter), "%s/010/#", TH_HID);
	snprintf(log, sizeof(log), "%s/watch.log", node.dir);
	cr_assert_eq(th_spawn(&cli, argv, NULL, log), 0);
	/* until it prints: subscribed (no name, units, status: value ends it) */
	for (int i = 0; i < 3000 && th_count_log(log, "\"value\":-1}") == 0; i++) {
		if (i % 10 == 0)
			mob_client_publish(pub, TOPIC, "{\"value\":-1}", 1, 0);
		pump(10);
	}
	cr_assert_gt(th_count_log(log, "\"value\":-1}"), 0, "mobius watch runs");

	n = stream(&offline, &missing);
	/* until the last value sent is printed (they come in order) */
	while (n > 0 && !sent[n - 1])
		n--;
	snprintf(needle, sizeof(needle), "\"value\":%ld}", n - 1);
	for (int64_t t = mob_clock_mono_ms(); th_count_log(log, needle) == 0 &&
	    mob_clock_mono_ms() - t < DRAIN_MS;)
		pump(20);
	th_stop(&cli, SIGTERM, 3000);
	cr_assert_not_null(buf = th_slurp(log, NULL));
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != '{' || (j = cJSON_Parse(line)) == NULL)
			continue;
		if (cJSON_IsNumber(cJSON_GetObjectItem(j, "value")) &&
		    cJSON_GetObjectItem(j, "value")->valueint >= 0) {
			last = cJSON_GetObjectItem(j, "value")->valueint;
			seen_one(last);
		}
		cJSON_Delete(j);
	}
	free(buf);
	tally(n, &lost, &dups);
	fprintf(stderr, "fault_hub (mobius watch): attempted %ld, sent %ld "
	    "(refused while the hub was down: %ld), printed %ld, lost %ld, "
	    "printed twice %ld, out of order %d\n", n, nsent, offline,
	    delivered, lost, dups, out_of_order);
	cr_expect_eq(lost, 0, "every value sent is printed");
	cr_expect_eq(dups, 0, "once");
	cr_expect_eq(out_of_order, 0, "in order");
	cr_expect_eq(th_count_log(log, "may be lost"), 0, "no gap reported");
	mob_client_free(pub);
	th_node_stop(&node);
}

/*
 * The publisher's own link drops (its socket shut down under it) while
 * the watcher stays connected: the QoS 1 COVs waiting in its queue and in
 * flight are gone from the link (the queue is emptied, the retransmits
 * carry the dead session's MAC).  The watcher learns from the hub's
 * mob/state that the publisher is online again and recovers them at its
 * first COV (every service republishes its state on connect).
 */
Test(fault_hub, a_publishers_own_reconnection_loses_nothing)
{
	char dat[64];
	struct mob_client_stats ps, ws;
	struct pollfd pfd;
	long n = 0, lost, dups;

	node_up();
	clients_up(0);
	/* a burst the hub cannot take at once: most of it waits in the queue */
	for (; n < 600; n++) {
		snprintf(dat, sizeof(dat), "{\"value\":%ld}", n);
		cr_assert_eq(mob_client_publish(pub, TOPIC, dat, 1, 0), 0);
		sent[n] = 1;
		nsent++;
	}
	mob_client_pollfd(pub, &pfd);
	cr_assert_eq(shutdown(pfd.fd, SHUT_RDWR), 0);
	for (int64_t t = mob_clock_mono_ms(); mob_clock_mono_ms() - t < DRAIN_MS;) {
		mob_client_stats(pub, &ps);
		if (ps.reconnects == 1)
			break;
		pump(20);
	}
	cr_assert_eq(ps.reconnects, 1, "the publisher reconnected by itself");
	/* its first COV on the new link, as a service republishes */
	snprintf(dat, sizeof(dat), "{\"value\":%ld}", n);
	cr_assert_eq(mob_client_publish(pub, TOPIC, dat, 1, 0), 0);
	sent[n++] = 1;
	nsent++;
	for (int64_t t = mob_clock_mono_ms(); delivered < nsent &&
	    mob_clock_mono_ms() - t < DRAIN_MS;)
		pump(20);
	tally(n, &lost, &dups);
	mob_client_stats(watch, &ws);
	fprintf(stderr, "fault_hub (publisher's link): sent %ld, delivered %ld, "
	    "lost %ld, recovered %llu, duplicated %ld, out of order %d\n",
	    nsent, delivered, lost, (unsigned long long)ws.recovered, dups,
	    out_of_order);
	cr_expect_eq(ws.reconnects, 0, "the watcher stayed connected");
	cr_expect_eq(lost, 0, "nothing the publisher sent is lost");
	cr_expect_eq(dups, 0, "nothing is delivered twice");
	cr_expect_eq(out_of_order, 0, "in order");
	cr_expect_eq(ws.gaps, 0, "every recovery closed its gap");
	mob_client_free(pub);
	mob_client_free(watch);
	th_node_stop(&node);
}

/*
 * A gap larger than the publisher's history is said, never silent: the
 * watcher's link drops while the publisher, keeping 10 COVs, sends 50;
 * after the reconnection the watcher gets the 10 kept, in order, and
 * counts (and logs) one gap for the 40 the history no longer has.
 */
Test(fault_hub, a_gap_larger_than_the_history_is_counted)
{
	char dat[64];
	struct mob_client_stats ws;
	struct pollfd pfd;

	node_up();
	clients_up(10);
	cr_assert_eq(mob_client_publish(pub, TOPIC, "{\"value\":0}", 1, 0), 0);
	for (int64_t t = mob_clock_mono_ms(); delivered < 1 &&
	    mob_clock_mono_ms() - t < DRAIN_MS;)
		pump(20);
	cr_assert_eq(delivered, 1);
	/* the watcher's link drops; it is not run while the 50 go out */
	mob_client_pollfd(watch, &pfd);
	cr_assert_eq(shutdown(pfd.fd, SHUT_RDWR), 0);
	mob_client_process(watch, POLLIN);
	cr_assert_eq(mob_client_connected(watch), 0);
	for (int n = 1; n <= 50; n++) {
		snprintf(dat, sizeof(dat), "{\"value\":%d}", n);
		cr_assert_eq(mob_client_publish(pub, TOPIC, dat, 1, 0), 0);
		mob_client_loop(pub, 0);
	}
	for (int64_t t = mob_clock_mono_ms(); seen[50] == 0 &&
	    mob_clock_mono_ms() - t < DRAIN_MS;)
		pump(20);
	mob_client_stats(watch, &ws);
	fprintf(stderr, "fault_hub (small history): delivered %ld, recovered "
	    "%llu, gaps %llu\n", delivered, (unsigned long long)ws.recovered,
	    (unsigned long long)ws.gaps);
	cr_expect_eq(ws.reconnects, 1, "the watcher reconnected by itself");
	cr_expect_eq(seen[50], 1, "the last COV arrived once");
	for (int n = 41; n <= 50; n++)
		cr_expect_eq(seen[n], 1, "kept COV %d delivered once", n);
	cr_expect_eq(out_of_order, 0, "in order");
	cr_expect_eq(ws.gaps, 1, "the gap of COVs 1-40 is counted");
	mob_client_free(pub);
	mob_client_free(watch);
	th_node_stop(&node);
}
