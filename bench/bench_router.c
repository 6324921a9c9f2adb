/*
 * Two routers against a mosquitto bridge (docs/router.md): forwarded
 * messages per second and the latency one message adds, both through
 *  - Mobius: node 2's hub → its router → mosquitto behind mobius-front
 *    (ws) → node 1's router → node 1's hub (envelopes, signed and sealed
 *    frames, on-disk queue, end-to-end acks), the tests' two-node set-up;
 *  - a bridge: two plain mosquitto brokers, the first bridging mob/# to
 *    the second over TCP (no signatures, no queue on disk).
 * Throughput is measured with at most WINDOW messages on the way.
 * Figures go to build/bench/results.json (bench/support/results.h), targets:
 * at least 1000 forwarded messages/s (the netns test's rate) and a
 * median added latency of at most 50 ms.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto.h>

#include "mobius/client.h"
#include "mobius/clock.h"
#include "../tests/support/peers.h"
#include "support/results.h"

#define N_RATE		20000
#define N_LAT		200
#define WINDOW		400
#define TARGET_RATE	1000.0
#define TARGET_LAT_MS	50.0

struct sink {
	long got;
	int64_t last_us;	/* receive time of the last message */
	int64_t sent_us;	/* for latency: publish time of the one awaited */
};

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- Mobius ---------------------------------------------------------- */

static void
mob_on(struct mob_client *c, const char *topic, const struct mob_env *env,
    void *arg)
{
	struct sink *s = arg;

	(void)c;
	(void)env;
	if (strncmp(topic, "mob/cov/000002/0A0/", 19) == 0) {
		s->got++;
		s->last_us = mob_clock_mono_ns() / 1000;
	}
}

static void
mob_spin(struct mob_client *a, struct mob_client *b, int ms)
{
	struct pollfd pfd[2];

	mob_client_pollfd(a, &pfd[0]);
	mob_client_pollfd(b, &pfd[1]);
	if (poll(pfd, 2, ms) >= 0) {
		mob_client_process(a, pfd[0].revents);
		mob_client_process(b, pfd[1].revents);
	}
}

static void
bench_mobius(double *rate, double *lat_ms)
{
	static struct tp_world w;
	struct tp_opts o = { .sandbox = 0 };
	struct mob_client_cfg pc = { 0 }, sc = { 0 };
	struct mob_client *pub, *sub;
	struct sink s = { 0 };
	char tool[512], pubkey[400], subkey[400];
	char *add[] = { tool, "--dir", NULL, "add", "00A0/0A0", NULL };
	double lat[N_LAT];
	int64_t t0;

	tp_start(&w, &o);
	th_path("bin/mobius-keytool", tool, sizeof(tool));
	add[2] = w.n[1].keys;
	th_run(add, NULL, NULL, 0, 20000);
	kill(w.n[1].hub.pid, SIGHUP);
	usleep(500000);
	snprintf(pubkey, sizeof(pubkey), "%s/0A0.key", w.n[1].keys);
	snprintf(subkey, sizeof(subkey), "%s/0C2.key", w.n[0].keys);
	pc.keyfile = pubkey;
	pc.socket = w.n[1].sock;
	sc.keyfile = subkey;
	sc.socket = w.n[0].sock;
	if (mob_client_new(&pc, &pub) != 0 || mob_client_new(&sc, &sub) != 0 ||
	    mob_client_connect(pub, 10000) != 0 ||
	    mob_client_connect(sub, 10000) != 0) {
		fprintf(stderr, "bench_router: cannot connect the clients\n");
		exit(1);
	}
	mob_client_set_handlers(sub, mob_on, NULL, &s);
	mob_client_subscribe(sub, "mob/cov/000002/0A0/#", 1);
	mob_spin(pub, sub, 200);

	/* latency: one at a time */
	for (int i = 0; i < N_LAT; i++) {
		long want = s.got + 1;
		int64_t start = mob_clock_mono_ns() / 1000;

		mob_client_publish(pub, "mob/cov/000002/0A0/0001/0001/40",
		    "{\"v\":1}", 1, 0);
		while (s.got < want && mob_clock_mono_ns() / 1000 - start < 5000000)
			mob_spin(pub, sub, 1);
		lat[i] = (double)(s.last_us - start) / 1000.0;
	}
	qsort(lat, N_LAT, sizeof(lat[0]), cmp_d);
	*lat_ms = lat[N_LAT / 2];

	/*
	 * rate: as fast as it goes with at most WINDOW messages on the way
	 * (the hub bounds each client's queue, 1000: a blind burst would
	 * measure its drops, not the routers)
	 */
	s.got = 0;
	t0 = mob_clock_mono_ns() / 1000;
	for (long sent = 0; s.got < N_RATE &&
	    mob_clock_mono_ns() / 1000 - t0 < 120000000;) {
		while (sent < N_RATE && sent - s.got < WINDOW) {
			mob_client_publish(pub, "mob/cov/000002/0A0/0001/0001/40",
			    "{\"v\":2}", 1, 0);
			sent++;
		}
		mob_spin(pub, sub, 1);
	}
	*rate = s.got > 0 ? s.got / ((double)(s.last_us - t0) / 1e6) : 0;
	fprintf(stderr, "mobius: %ld of %d in %.2f s\n", s.got, N_RATE,
	    (double)(s.last_us - t0) / 1e6);
	mob_client_free(pub);
	mob_client_free(sub);
	tp_stop(&w);
}

/* ---- mosquitto bridge --------------------------------------------------- */

static void
mq_on(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct sink *s = arg;

	(void)m;
	(void)msg;
	s->got++;
	s->last_us = mob_clock_mono_ns() / 1000;
}

static void
bench_bridge(double *rate, double *lat_ms)
{
	char dir[256], conf[2][300], text[600], log[300];
	struct th_proc br[2];
	int port[2] = { th_free_port(), th_free_port() };
	struct mosquitto *pub, *sub;
	struct sink s = { 0 };
	double lat[N_LAT];
	int64_t t0;

	th_tmpdir(dir, sizeof(dir));
	for (int i = 0; i < 2; i++) {
		char *argv[] = { "/usr/sbin/mosquitto", "-c", conf[i], NULL };

		snprintf(conf[i], sizeof(conf[i]), "%s/b%d.conf", dir, i);
		if (i == 0)
			snprintf(text, sizeof(text), "listener %d 127.0.0.1\n"
			    "allow_anonymous true\nmax_queued_messages 100000\n"
			    "connection bridge\naddress 127.0.0.1:%d\n"
			    "topic mob/# out 1\ncleansession false\n", port[0],
			    port[1]);
		else
			snprintf(text, sizeof(text), "listener %d 127.0.0.1\n"
			    "allow_anonymous true\nmax_queued_messages 100000\n",
			    port[1]);
		FILE *f = fopen(conf[i], "w");
		fputs(text, f);
		fclose(f);
		snprintf(log, sizeof(log), "%s/b%d.log", dir, i);
		th_spawn(&br[i], argv, NULL, log);
	}
	usleep(1500000);
	pub = mosquitto_new(NULL, true, NULL);
	sub = mosquitto_new(NULL, true, &s);
	mosquitto_message_callback_set(sub, mq_on);
	if (mosquitto_connect(sub, "127.0.0.1", port[1], 30) != 0 ||
	    mosquitto_connect(pub, "127.0.0.1", port[0], 30) != 0) {
		fprintf(stderr, "bench_router: the bridge brokers did not start\n");
		exit(1);
	}
	mosquitto_subscribe(sub, NULL, "mob/#", 1);
	for (int i = 0; i < 50; i++) {
		mosquitto_loop(sub, 10, 1);
		mosquitto_loop(pub, 0, 1);
	}
	for (int i = 0; i < N_LAT; i++) {
		long want = s.got + 1;
		int64_t start = mob_clock_mono_ns() / 1000;

		mosquitto_publish(pub, NULL, "mob/cov/000002/0A0/0001/0001/40",
		    7, "{\"v\":1}", 1, false);
		while (s.got < want && mob_clock_mono_ns() / 1000 - start < 5000000) {
			mosquitto_loop(pub, 0, 1);
			mosquitto_loop(sub, 1, 1);
		}
		lat[i] = (double)(s.last_us - start) / 1000.0;
	}
	qsort(lat, N_LAT, sizeof(lat[0]), cmp_d);
	*lat_ms = lat[N_LAT / 2];
	s.got = 0;
	t0 = mob_clock_mono_ns() / 1000;
	for (long sent = 0; s.got < N_RATE &&
	    mob_clock_mono_ns() / 1000 - t0 < 120000000;) {
		while (sent < N_RATE && sent - s.got < WINDOW) {
			mosquitto_publish(pub, NULL,
			    "mob/cov/000002/0A0/0001/0001/40", 7, "{\"v\":2}", 1,
			    false);
			sent++;
		}
		mosquitto_loop(pub, 0, 1);
		mosquitto_loop(sub, 1, 1);
	}
	*rate = s.got > 0 ? s.got / ((double)(s.last_us - t0) / 1e6) : 0;
	fprintf(stderr, "bridge: %ld of %d in %.2f s\n", s.got, N_RATE,
	    (double)(s.last_us - t0) / 1e6);
	mosquitto_destroy(pub);
	mosquitto_destroy(sub);
	th_stop(&br[0], SIGTERM, 5000);
	th_stop(&br[1], SIGTERM, 5000);
	th_rmtree(dir);
}

int
main(void)
{
	double mr, ml, br, bl;

	if (getenv("MOBIUS_BUILD") == NULL)
		setenv("MOBIUS_BUILD", "build", 1);
	mosquitto_lib_init();
	bench_mobius(&mr, &ml);
	bench_bridge(&br, &bl);
	printf("router: %.0f forwarded msgs/s (target >= %.0f: %s), median latency "
	    "%.2f ms (target <= %.0f: %s)\n", mr, TARGET_RATE,
	    mr >= TARGET_RATE ? "PASS" : "MISS", ml, TARGET_LAT_MS,
	    ml <= TARGET_LAT_MS ? "PASS" : "MISS");
	printf("mosquitto bridge over TCP: %.0f msgs/s, median latency %.2f ms\n",
	    br, bl);
	bench_result("router_forwarded_msgs_per_s", mr, "msg/s", ">= 1000",
	    mr >= TARGET_RATE);
	bench_result("router_latency_p50", ml, "ms", "<= 50", ml <= TARGET_LAT_MS);
	bench_result("mosquitto_bridge_msgs_per_s", br, "msg/s", NULL, 0);
	bench_result("mosquitto_bridge_latency_p50", bl, "ms", NULL, 0);
	mosquitto_lib_cleanup();
	return 0;
}
