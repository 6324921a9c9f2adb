/*
 * The service runtime over a real hub (mobius-hub + plugin, Unix socket):
 *
 *  1. request -> response round trip (read of a resource of mobius-sim),
 *     p50/p99, beside a loopback baseline in the same run: the client
 *     publishes on a topic it subscribes to (one signed message through
 *     the hub and back, what every hop costs).
 *  2. COV end-to-end latency at 1 000 and 10 000 msg/s for 2 s each: a
 *     service in a second thread updates resources whose value is the
 *     monotonic time of the update; a subscriber takes the difference.
 *  3. Resident memory (VmRSS) of mobius-sim with 100 objects, beside the
 *     same program with 1 object.  Target: <= 4 MiB.  `bench_service rss`
 *     runs only this one.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "mobius/client.h"
#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/service.h"
#include "../tests/support/harness.h"
#include "support/results.h"

#define RTT_N		2000
#define COV_SECONDS	2
#define COV_RES		20		/* resources the updates rotate over */
#define LAT_MAX		(10000 * (COV_SECONDS + 1))
#define RSS_TARGET_KIB	4096

static struct th_node node;
static const char *mode_name;	/* "hardened" or "compat": figure names */


static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench_service: %s: %s\n", what, mob_strerror(rc));
	th_node_stop(&node);
	exit(1);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t
pct(int64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return n == 0 ? 0 : v[i];
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0) {
		fprintf(stderr, "bench_service: cannot write %s\n", path);
		exit(1);
	}
}

static struct mob_client *
client_open(const char *keyfile, mob_client_msg_fn fn, void *arg)
{
	struct mob_client_cfg cfg = { 0 };
	struct mob_client *c;
	int rc;

	cfg.keyfile = keyfile;
	cfg.socket = node.sock;
	if ((rc = mob_client_new(&cfg, &c)) != 0)
		die(keyfile, rc);
	mob_client_set_handlers(c, fn, NULL, arg);
	if ((rc = mob_client_connect(c, 10000)) != 0)
		die("connect", rc);
	return c;
}

/* A config of n objects, each a drifting temperature, a setpoint, a switch, a counter. */
static char *
sim_config(int n)
{
	size_t cap = 512 + (size_t)n * 900, off = 0;
	char *s = malloc(cap);

	if (s == NULL)
		exit(1);
	off += (size_t)snprintf(s + off, cap - off, "{\"name\":\"bench\",\"objects\":[");
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, cap - off,
		    "%s{\"pid\":\"0101\",\"ins\":\"%04X\",\"name\":\"room %d\","
		    "\"resources\":["
		    "{\"rid\":\"40\",\"name\":\"temperature\",\"type\":\"number\","
		    "\"precision\":2,\"units\":\"Cel\",\"default\":21,"
		    "\"cov\":{\"st\":0.05,\"pmax\":60},"
		    "\"sim\":{\"model\":\"drift\",\"noise\":0.05,\"period\":1}},"
		    "{\"rid\":\"41\",\"name\":\"setpoint\",\"type\":\"number\","
		    "\"access\":\"rw\",\"min\":5,\"max\":35,\"default\":20},"
		    "{\"rid\":\"42\",\"name\":\"on\",\"type\":\"bool\",\"access\":\"rw\","
		    "\"default\":false},"
		    "{\"rid\":\"43\",\"name\":\"count\",\"type\":\"number\",\"default\":0,"
		    "\"sim\":{\"model\":\"counter\",\"period\":5}}]}",
		    i ? "," : "", i + 1, i + 1);
	snprintf(s + off, cap - off, "]}");
	return s;
}

static void
sim_start(struct th_proc *p, const char *id, int nobj, char *keyfile, size_t klen)
{
	char path[512], cfg[400], log[400], *text;
	char *argv[] = { path, "--config", cfg, "--key", keyfile, "--socket",
	    node.sock, "--no-sandbox", NULL };

	th_node_add(&node, id, keyfile, klen);
	snprintf(cfg, sizeof(cfg), "%s/sim-%d.json", node.dir, nobj);
	snprintf(log, sizeof(log), "%s/sim-%d.log", node.dir, nobj);
	text = sim_config(nobj);
	write_file(cfg, text);
	free(text);
	th_path("bin/mobius-sim", path, sizeof(path));
	if (th_spawn(p, argv, NULL, log) != 0 ||
	    th_wait_log(log, "simulated resources", 15000) != 0) {
		fprintf(stderr, "bench_service: mobius-sim did not start (%s)\n", log);
		th_node_stop(&node);
		exit(1);
	}
}

struct rss {
	long vm, anon, file, pss;	/* KiB */
};

static void
rss_read(pid_t pid, struct rss *r)
{
	char path[64], line[256];
	FILE *fp;

	r->vm = r->anon = r->file = r->pss = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		sscanf(line, "VmRSS: %ld kB", &r->vm);
		sscanf(line, "RssAnon: %ld kB", &r->anon);
		sscanf(line, "RssFile: %ld kB", &r->file);
	}
	fclose(fp);
	/* Pss: shared library pages divided among the processes mapping them */
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL)
		sscanf(line, "Pss: %ld kB", &r->pss);
	fclose(fp);
}

/* --- 1. round trip ---------------------------------------------------- */

struct loop {
	const char *topic;
	int got;
};

static void
loop_msg(struct mob_client *c, const char *topic, const struct mob_env *env, void *arg)
{
	struct loop *l = arg;

	(void)c;
	(void)env;
	if (strcmp(topic, l->topic) == 0)
		l->got++;
}

static void
bench_rtt(const char *cli_key, const char *sim_id)
{
	static int64_t base[RTT_N], rtt[RTT_N];
	char topic[MOB_TOPIC_MAX], uri[MOB_URI_MAX], id[MOB_ID_MAX];
	struct loop l = { topic, 0 };
	struct mob_client *c;
	cJSON *req, *rsp;
	int rc;

	c = client_open(cli_key, loop_msg, &l);
	snprintf(topic, sizeof(topic), "mob/cov/%s/0001/0001/40", mob_client_id(c));
	snprintf(id, sizeof(id), "%s/%s", node.hid, sim_id + 5);
	snprintf(uri, sizeof(uri), "%s/0101/0001/41", id);
	if ((rc = mob_client_subscribe(c, topic, 1)) != 0)
		die("subscribe", rc);
	for (int i = 0; i < 20; i++)
		mob_client_loop(c, 10);
	for (int i = 0; i < RTT_N; i++) {
		int64_t t0 = (mob_clock_mono_ns() / 1000);
		int want = l.got + 1;

		if ((rc = mob_client_publish(c, topic, "1", 1, 0)) != 0)
			die("publish", rc);
		while (l.got < want)
			if ((rc = mob_client_loop(c, 1000)) != 0)
				die("loop", rc);
		base[i] = (mob_clock_mono_ns() / 1000) - t0;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", "read");
	cJSON_AddStringToObject(req, "uri", uri);
	for (int i = 0; i < RTT_N; i++) {
		int64_t t0 = (mob_clock_mono_ns() / 1000);

		if ((rc = mob_client_request(c, id, req, 5000, &rsp)) != 0)
			die("request", rc);
		if (mob_client_rsp_error(rsp, NULL) != 0)
			die("response", mob_client_rsp_error(rsp, NULL));
		rtt[i] = (mob_clock_mono_ns() / 1000) - t0;
		cJSON_Delete(rsp);
	}
	cJSON_Delete(req);
	mob_client_free(c);
	qsort(base, RTT_N, sizeof(base[0]), cmp_i64);
	qsort(rtt, RTT_N, sizeof(rtt[0]), cmp_i64);
	printf("request->response round trip (%d reads of %s):\n", RTT_N, uri);
	printf("  baseline loopback (publish, hub, back): p50 %6.1f us  p99 %6.1f us\n",
	    (double)pct(base, RTT_N, 0.5), (double)pct(base, RTT_N, 0.99));
	printf("  read request -> response:               p50 %6.1f us  p99 %6.1f us"
	    "  (x%.2f / x%.2f the baseline)\n",
	    (double)pct(rtt, RTT_N, 0.5), (double)pct(rtt, RTT_N, 0.99),
	    (double)pct(rtt, RTT_N, 0.5) / (double)pct(base, RTT_N, 0.5),
	    (double)pct(rtt, RTT_N, 0.99) / (double)pct(base, RTT_N, 0.99));
	{
		char n1[64], n2[64];

		snprintf(n1, sizeof(n1), "service_read_rtt_p50_%s", mode_name);
		snprintf(n2, sizeof(n2), "hub_loopback_rtt_p50_%s", mode_name);
		bench_result(n1, (double)pct(rtt, RTT_N, 0.5), "us", NULL, 0);
		bench_result(n2, (double)pct(base, RTT_N, 0.5), "us", NULL, 0);
	}
}

/* --- 2. COV latency --------------------------------------------------- */

struct producer {
	struct mob_service *svc;
	struct mob_res *res[COV_RES];
	int rate;			/* updates per second */
	int64_t start, end;		/* µs */
	int64_t sent;
	size_t next;
	atomic_int go, done;
};

static void
produce(struct mob_service *svc, void *arg)
{
	struct producer *p = arg;
	int64_t now = (mob_clock_mono_ns() / 1000), due;
	struct mob_value v;

	(void)svc;
	if (!p->go || p->done)
		return;
	if (p->start == 0) {
		p->start = now;
		p->end = now + COV_SECONDS * 1000000LL;
	}
	if (now >= p->end) {
		p->done = 1;
		return;
	}
	/* Catch up to the schedule: one update every 1e6/rate µs. */
	due = (now - p->start) * p->rate / 1000000;
	while (p->sent < due) {
		mob_value_number(&v, (double)(mob_clock_mono_ns() / 1000));
		mob_res_update(p->res[p->next], &v);
		p->next = (p->next + 1) % COV_RES;
		p->sent++;
	}
}

static void *
producer_main(void *arg)
{
	struct producer *p = arg;

	while (!p->done)
		if (mob_service_once(p->svc, 5) != 0)
			break;
	/* drain what is still queued */
	for (int i = 0; i < 20; i++)
		mob_service_once(p->svc, 5);
	return NULL;
}

struct consumer {
	int64_t *lat;
	size_t n;
	int64_t rx;
};

static void
consume(struct mob_client *c, const char *topic, const struct mob_env *env, void *arg)
{
	struct consumer *k = arg;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(env->dat, "value");
	int64_t now = (mob_clock_mono_ns() / 1000);

	(void)c;
	(void)topic;
	if (!cJSON_IsNumber(v) || v->valuedouble <= 0)
		return;
	k->rx++;
	if (k->n < LAT_MAX)
		k->lat[k->n++] = now - (int64_t)v->valuedouble;
}

static void
bench_cov(const char *svc_key, const char *cli_key)
{
	static const int rates[] = { 1000, 10000 };
	struct mob_client_cfg ccfg = { 0 };
	struct producer p;
	struct consumer k;
	struct mob_object *o;
	struct mob_client *c;
	pthread_t th;
	struct mob_client_stats cst;
	char filter[MOB_TOPIC_MAX];
	int rc;

	printf("COV end to end (service thread -> hub -> subscriber, %d s each):\n",
	    COV_SECONDS);
	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		memset(&p, 0, sizeof(p));
		memset(&k, 0, sizeof(k));
		ccfg.keyfile = svc_key;
		ccfg.socket = node.sock;
		if ((rc = mob_service_new(&ccfg, &p.svc)) != 0 ||
		    (rc = mob_service_add_object(p.svc, "0201", "0001", "bench", &o)) != 0)
			die("service", rc);
		for (int i = 0; i < COV_RES; i++) {
			struct mob_res_def d;

			memset(&d, 0, sizeof(d));
			snprintf(d.rid, sizeof(d.rid), "%02X", 0x40 + i);
			d.name = "t";
			d.type = MOB_TYPE_NUMBER;
			d.precision = -1;
			if ((rc = mob_object_add_res(o, &d, &p.res[i])) != 0)
				die("resource", rc);
		}
		if ((rc = mob_service_add_timer(p.svc, 1, produce, &p)) != 0 ||
		    (rc = mob_service_start(p.svc, 10000)) != 0)
			die("service start", rc);
		p.rate = rates[r];
		if ((k.lat = calloc(LAT_MAX, sizeof(int64_t))) == NULL)
			exit(1);
		c = client_open(cli_key, consume, &k);
		snprintf(filter, sizeof(filter), "mob/cov/%s/0201/0001/+",
		    mob_client_id(mob_service_client(p.svc)));
		if ((rc = mob_client_subscribe(c, filter, 0)) != 0)
			die("subscribe", rc);
		for (int i = 0; i < 30; i++)
			mob_client_loop(c, 10);
		k.n = 0;
		k.rx = 0;
		if (pthread_create(&th, NULL, producer_main, &p) != 0)
			exit(1);
		p.go = 1;
		while (!p.done)
			mob_client_loop(c, 10);
		for (int i = 0; i < 50; i++)
			mob_client_loop(c, 10);
		pthread_join(th, NULL);
		mob_client_stats(c, &cst);
		qsort(k.lat, k.n, sizeof(k.lat[0]), cmp_i64);
		printf("  %5d msg/s: sent %lld (%.0f/s), received %lld (%.1f%%, %llu "
		    "dropped by the subscriber), latency p50 %.1f us  p99 %.1f us  "
		    "max %.1f us\n", rates[r], (long long)p.sent,
		    (double)p.sent / COV_SECONDS, (long long)k.rx,
		    p.sent ? 100.0 * (double)k.rx / (double)p.sent : 0,
		    (unsigned long long)cst.rx_dropped,
		    (double)pct(k.lat, k.n, 0.5), (double)pct(k.lat, k.n, 0.99),
		    (double)(k.n ? k.lat[k.n - 1] : 0));
		{
			char n1[64], n2[64];

			snprintf(n1, sizeof(n1), "service_cov_%d_p50_%s", rates[r],
			    mode_name);
			snprintf(n2, sizeof(n2), "service_cov_%d_p99_%s", rates[r],
			    mode_name);
			bench_result(n1, (double)pct(k.lat, k.n, 0.5), "us", NULL, 0);
			bench_result(n2, (double)pct(k.lat, k.n, 0.99), "us", NULL,
			    0);
		}
		mob_client_free(c);
		mob_service_free(p.svc);
		free(k.lat);
	}
}

/* --- 3. memory -------------------------------------------------------- */

static void
bench_rss(void)
{
	struct th_proc one, hundred;
	char k1[512], k100[512];
	struct rss r1, r100;

	sim_start(&one, "0013/013", 1, k1, sizeof(k1));
	sim_start(&hundred, "0014/014", 100, k100, sizeof(k100));
	/* let both run their models and publish for a while */
	sleep(2);
	rss_read(one.pid, &r1);
	rss_read(hundred.pid, &r100);
	th_stop(&one, SIGTERM, 3000);
	th_stop(&hundred, SIGTERM, 3000);
	printf("mobius-sim resident memory (KiB; file = mapped shared libraries, "
	    "Pss = shared pages divided among their users):\n");
	printf("  1 object:    VmRSS %5ld  anon %5ld  file %5ld  Pss %5ld  (baseline)\n",
	    r1.vm, r1.anon, r1.file, r1.pss);
	printf("  100 objects: VmRSS %5ld  anon %5ld  file %5ld  Pss %5ld  (x%.2f VmRSS, "
	    "+%ld KiB for 100 objects)\n", r100.vm, r100.anon, r100.file, r100.pss,
	    r1.vm > 0 ? (double)r100.vm / (double)r1.vm : 0, r100.vm - r1.vm);
	printf("  target VmRSS <= %d KiB: %s\n", RSS_TARGET_KIB,
	    r100.vm > 0 && r100.vm <= RSS_TARGET_KIB ? "met" : "MISSED");
	bench_result("sim_rss_100_objects_kib", (double)r100.vm, "KiB",
	    "<= 4096", r100.vm > 0 && r100.vm <= RSS_TARGET_KIB);
	bench_result("sim_anon_100_objects_kib", (double)r100.anon, "KiB", NULL,
	    0);
	bench_result("sim_pss_100_objects_kib", (double)r100.pss, "KiB", NULL,
	    0);
}

/* One node in mode: round trip and COV latency. */
static void
bench_node(enum mob_mode mode, int with_rss)
{
	struct th_proc sim;
	char sim_key[512], cli_key[512], svc_key[512];

	mode_name = mode == MOB_MODE_COMPAT ? "compat" : "hardened";
	printf("== %s mode (%s)\n", mode == MOB_MODE_COMPAT ? "compat" : "hardened",
	    mode == MOB_MODE_COMPAT ? "HS256" : "EdDSA");
	th_node_start(&node, mode);
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	th_node_add(&node, "0012/012", svc_key, sizeof(svc_key));
	sim_start(&sim, "0011/011", 1, sim_key, sizeof(sim_key));
	bench_rtt(cli_key, "0011/011");
	th_stop(&sim, SIGTERM, 3000);
	bench_cov(svc_key, cli_key);
	if (with_rss)
		bench_rss();
	th_node_stop(&node);
}

/* With "rss" as the argument: only the memory figures (quick, for tuning). */
int
main(int argc, char *argv[])
{
	log_init("bench_service", 0);
	if (argc > 1 && strcmp(argv[1], "rss") == 0) {
		th_node_start(&node, MOB_MODE_HARDENED);
		bench_rss();
		th_node_stop(&node);
		return 0;
	}
	bench_node(MOB_MODE_HARDENED, 1);
	bench_node(MOB_MODE_COMPAT, 0);
	return 0;
}
