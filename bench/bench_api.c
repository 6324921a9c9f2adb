/*
 * mobius-api against the CLI path on one node (docs/api.md "Performance"):
 *
 *   api_get_per_s     GET values/… over one keep-alive HTTPS connection
 *                     (curl -K with many URLs: one process, one TLS session)
 *   cli_get_per_s     `mobius get` processes one after another (each logs in)
 *   api_stream_msgs_per_s / cli_watch_msgs_per_s
 *                     a flood of signed COVs from a service of the bench's
 *                     own, received over the WebSocket (python3-websocket)
 *                     and by `mobius watch --json`; from the flood's start
 *                     to the last record
 *   api_rss_kib       mobius-api's resident memory at the end
 *
 * Each figure is printed and, with its target, appended as one JSON object
 * to $MOBIUS_RESULTS (scripts/run-bench.sh gathers them into
 * build/bench/results.json).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "mobius/client.h"
#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "../tests/support/harness.h"

#define API_GETS	2000
#define CLI_GETS	40
#define FLOOD		20000
#define SETP		"000001/010/0002/0001/40"
#define OUT_MAX		(256 * 1024)

/* Targets (docs/api.md "Performance"). */
#define TGT_API_GETS	500.0	/* requests/s */
#define TGT_GET_RATIO	10.0	/* API over the CLI path */
#define TGT_STREAM	2000.0	/* messages/s */
#define TGT_RSS_KIB	16384.0

static struct th_node node;
static char tok[128];
static int port;

static void
die(const char *what)
{
	fprintf(stderr, "bench_api: %s\n", what);
	exit(1);
}

/* cmp ">=" or "<=" with target; NULL: a figure without a target. */
static void
result(const char *name, double value, const char *unit, const char *cmp,
    double target)
{
	const char *path = getenv("MOBIUS_RESULTS");
	int pass = cmp != NULL && (strcmp(cmp, ">=") == 0 ? value >= target :
	    value <= target);
	char tgt[32], *line;
	cJSON *o;
	FILE *f;

	printf("%-24s %10.1f %-11s", name, value, unit);
	if (cmp != NULL)
		printf(" target %s %g %s", cmp, target, pass ? "PASS" : "MISS");
	printf("\n");
	if (path == NULL || (o = cJSON_CreateObject()) == NULL)
		return;
	snprintf(tgt, sizeof(tgt), "%s %g", cmp != NULL ? cmp : "", target);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNumberToObject(o, "value", value);
	cJSON_AddStringToObject(o, "unit", unit);
	if (cmp != NULL) {
		cJSON_AddStringToObject(o, "target", tgt);
		cJSON_AddBoolToObject(o, "pass", pass);
	} else {
		cJSON_AddNullToObject(o, "target");
		cJSON_AddNullToObject(o, "pass");
	}
	if ((line = cJSON_PrintUnformatted(o)) != NULL &&
	    (f = fopen(path, "a")) != NULL) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
	cJSON_free(line);
	cJSON_Delete(o);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		die(path);
}

static int
sh(char *out, size_t len, const char *cmd, char *const env[])
{
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };

	return th_run(argv, env, out, len, 300000);
}

static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

/* Signed COVs of object INS as fast as the client publishes them. */
static void
flood(const char *key, const char *ins, int n)
{
	struct mob_client_cfg c = { 0 };
	struct mob_client *mc;
	char topic[96], dat[128];
	int i;

	c.keyfile = key;
	c.socket = node.sock;
	if (mob_client_new(&c, &mc) != 0 || mob_client_connect(mc, 10000) != 0)
		die("flood: cannot connect");
	snprintf(topic, sizeof(topic), "mob/cov/000001/050/0001/%s/40", ins);
	for (i = 0; i < n; i++) {
		snprintf(dat, sizeof(dat), "{\"value\":%d,\"status\":\"online\","
		    "\"changed\":%lld}", i, (long long)mob_clock_wall_ms());
		if (mob_client_publish(mc, topic, dat, 0, 0) != 0) {
			/* queue full or reconnecting: let the hub take some */
			i--;
			mob_client_loop(mc, 1);
		} else if (i % 16 == 0)
			mob_client_loop(mc, 0);
	}
	for (i = 0; i < 20; i++)
		mob_client_loop(mc, 10);
	mob_client_free(mc);
}

static double
api_gets(void)
{
	char cfg[600], cmd[2048], *out;
	FILE *fp;
	int64_t t0, t1;
	int i, ok = 0;
	char *p;

	snprintf(cfg, sizeof(cfg), "%s/curl.cfg", node.dir);
	if ((fp = fopen(cfg, "w")) == NULL)
		die(cfg);
	for (i = 0; i < API_GETS; i++)
		fprintf(fp, "url = \"https://127.0.0.1:%d/api/v1/values/" SETP "\"\n"
		    "output = \"/dev/null\"\n", port);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "exec curl -sk -K %s -H 'Authorization: Bearer %s' "
	    "-w '%%{http_code}\\n'", cfg, tok);
	if ((out = malloc(OUT_MAX)) == NULL)
		die("memory");
	t0 = mob_clock_mono_ms();
	sh(out, OUT_MAX, cmd, NULL);
	t1 = mob_clock_mono_ms();
	for (p = out; (p = strstr(p, "200\n")) != NULL; p += 4)
		ok++;
	free(out);
	printf("  API: %d of %d GETs answered 200 in %lld ms\n", ok, API_GETS,
	    (long long)(t1 - t0));
	return t1 > t0 ? ok * 1000.0 / (double)(t1 - t0) : 0;
}

static double
cli_gets(const char *clikey)
{
	char cmd[1024], out[4096], sock[400], key[600], path[512];
	char *env[] = { sock, key, NULL };
	int64_t t0, t1;
	int i, ok = 0;

	th_path("bin/mobius", path, sizeof(path));
	snprintf(sock, sizeof(sock), "MOBIUS_SOCKET=%s", node.sock);
	snprintf(key, sizeof(key), "MOBIUS_KEY=%s", clikey);
	snprintf(cmd, sizeof(cmd), "exec %s get " SETP, path);
	t0 = mob_clock_mono_ms();
	for (i = 0; i < CLI_GETS; i++)
		ok += sh(out, sizeof(out), cmd, env) == 0;
	t1 = mob_clock_mono_ms();
	printf("  CLI: %d of %d `mobius get` in %lld ms\n", ok, CLI_GETS,
	    (long long)(t1 - t0));
	return t1 > t0 ? ok * 1000.0 / (double)(t1 - t0) : 0;
}

/*
 * A consumer (argv: api_ws.py count or lines) started, the flood, then
 * its records a second from the first to the last it received.
 */
static double
stream_rate(char *const argv[], char *const env[], const char *ready,
    const char *floodkey, const char *ins, const char *what)
{
	char log[600], line[256];
	struct th_proc p;
	long long ms = 0;
	long n = 0;
	FILE *fp;

	snprintf(log, sizeof(log), "%s/%s.out", node.dir, what);
	unlink(ready);
	if (th_spawn(&p, argv, env, log) != 0)
		die(what);
	if (th_wait_path(ready, 15000) != 0)
		die("the stream client did not connect");
	flood(floodkey, ins, FLOOD);
	th_stop(&p, 0, 120000);
	if ((fp = fopen(log, "r")) == NULL)
		die(log);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "received %ld in %lld ms", &n, &ms) == 2)
			break;
	fclose(fp);
	/* the hub drops QoS 0 beyond 1000 queued for a client that lags */
	printf("  %s: %ld of %d records, first to last %lld ms\n", what, n,
	    FLOOD, ms);
	return ms > 0 ? (n - 1) * 1000.0 / (double)ms : 0;
}

int
main(void)
{
	char simkey[512], apikey[512], clikey[512], floodkey[512], path[512];
	char out[4096], cfg[600], text[2048], cmd[1024], top[512], ready[600];
	char url[128], n_s[16], sock[400], key[600];
	struct th_proc sim, api;
	double ag, cg, as, cw;
	long rss;
	int i;

	log_init("bench_api", 0);
	if (getcwd(top, sizeof(top)) == NULL)
		die("getcwd");
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "0010/010", simkey, sizeof(simkey));
	th_node_add(&node, "00A0/0A0", apikey, sizeof(apikey));
	th_node_add(&node, "00C1/0C1", clikey, sizeof(clikey));
	th_node_add(&node, "0050/050", floodkey, sizeof(floodkey));

	snprintf(cfg, sizeof(cfg), "%s/sim.json", node.dir);
	write_file(cfg, "{ \"objects\": [ { \"pid\": \"0002\", \"ins\": \"0001\", "
	    "\"resources\": [ { \"rid\": \"40\", \"name\": \"setpoint\", "
	    "\"type\": \"number\", \"access\": \"rw\", \"default\": 20 } ] } ] }\n");
	th_path("bin/mobius-sim", path, sizeof(path));
	{
		char *argv[] = { path, "--config", cfg, "--key", simkey, "--socket",
		    node.sock, "--no-sandbox", NULL };
		char log[600];

		snprintf(log, sizeof(log), "%s/sim.log", node.dir);
		if (th_spawn(&sim, argv, NULL, log) != 0)
			die("sim");
	}
	th_path("bin/mobius-keytool", path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "exec %s --dir %s api-token add bench "
	    "--scope rw:000001/#", path, node.keys);
	if (sh(out, sizeof(out), cmd, NULL) != 0)
		die("api-token add");
	snprintf(tok, sizeof(tok), "%.*s", (int)strcspn(out, "\n"), out);

	port = th_free_port();
	snprintf(cfg, sizeof(cfg), "%s/api.json", node.dir);
	snprintf(text, sizeof(text), "{ \"listen\": \"127.0.0.1\", \"port\": %d, "
	    "\"tokens\": \"%s/api-tokens.json\", \"www\": \"%s/api/www\", "
	    "\"tls\": { \"cert\": \"%s/api.crt\", \"key\": \"%s/api.key\" }, "
	    "\"rate\": 100000, \"burst\": 100000, \"queue_bytes\": 67108864 }\n",
	    port, node.keys, top, node.keys, node.keys);
	write_file(cfg, text);
	th_path("bin/mobius-api", path, sizeof(path));
	{
		char *argv[] = { path, "--config", cfg, "--key", apikey, "--socket",
		    node.sock, "--no-sandbox", NULL };
		char log[600];

		snprintf(log, sizeof(log), "%s/api.log", node.dir);
		if (th_spawn(&api, argv, NULL, log) != 0 ||
		    th_wait_log(log, "listening on", 15000) != 0)
			die("mobius-api did not start");
	}
	for (i = 0; i < 100; i++) {
		snprintf(cmd, sizeof(cmd), "exec curl -sfk -o /dev/null -H "
		    "'Authorization: Bearer %s' https://127.0.0.1:%d/api/v1/values/"
		    SETP, tok, port);
		if (sh(out, sizeof(out), cmd, NULL) == 0)
			break;
		usleep(100 * 1000);
	}

	printf("requests (GET values/" SETP "):\n");
	ag = api_gets();
	cg = cli_gets(clikey);
	printf("  API %.0f/s, CLI %.1f/s: %.0fx\n", ag, cg, cg > 0 ? ag / cg : 0);

	printf("stream (%d COVs from a flooding service):\n", FLOOD);
	snprintf(ready, sizeof(ready), "%s/consumer.ready", node.dir);
	snprintf(url, sizeof(url), "wss://127.0.0.1:%d/api/v1/stream?pattern="
	    "000001/050/0001/0001/%%23", port);
	snprintf(n_s, sizeof(n_s), "%d", FLOOD);
	{
		char py[600];
		char *argv[] = { "/usr/bin/python3", py, "count", url, tok, ready, n_s, NULL };

		snprintf(py, sizeof(py), "%s/tests/api_ws.py", top);
		as = stream_rate(argv, NULL, ready, floodkey, "0001", "API stream");
	}
	th_path("bin/mobius", path, sizeof(path));
	snprintf(sock, sizeof(sock), "MOBIUS_SOCKET=%s", node.sock);
	snprintf(key, sizeof(key), "MOBIUS_KEY=%s", clikey);
	{
		char py[600];
		char *argv[] = { "/usr/bin/python3", py, "lines", "-", "-", ready, n_s,
		    path, "watch", "--json", "000001/050/0001/0002/#", NULL };
		char *env[] = { sock, key, NULL };

		snprintf(py, sizeof(py), "%s/tests/api_ws.py", top);
		cw = stream_rate(argv, env, ready, floodkey, "0002", "CLI watch");
	}
	rss = rss_kib(api.pid);
	printf("  API %.0f msgs/s, CLI %.0f msgs/s\nmobius-api VmRSS %ld KiB\n",
	    as, cw, rss);

	result("api_get_per_s", ag, "requests/s", ">=", TGT_API_GETS);
	result("cli_get_per_s", cg, "requests/s", NULL, 0);
	result("api_over_cli_get", cg > 0 ? ag / cg : 0, "ratio", ">=", TGT_GET_RATIO);
	result("api_stream_msgs_per_s", as, "messages/s", ">=", TGT_STREAM);
	result("cli_watch_msgs_per_s", cw, "messages/s", NULL, 0);
	result("api_rss_kib", (double)rss, "KiB", "<=", TGT_RSS_KIB);

	th_stop(&api, SIGTERM, 5000);
	th_stop(&sim, SIGTERM, 3000);
	th_node_stop(&node);
	return 0;
}
