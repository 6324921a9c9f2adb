/*
 * The service runtime end to end: a real node (mobius-keytool, mobius-hub
 * with our plugin) and the real mobius-sim, driven by a real client (the
 * library's mob_client) that reads, writes, clears, discovers and watches
 * COVs over the hub.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include "mobius/clock.h"
#include "mobius/client.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/service.h"
#include "support/harness.h"

#define SVC	TH_HID "/010"
#define TEMP	SVC "/0101/0001/40"	/* number r, drifting */
#define SETP	SVC "/0102/0001/40"	/* number rw 5..35, precision 1 */
#define LAMP	SVC "/0103/0001/40"	/* bool rw, pmax 0.5 */
#define LABEL	SVC "/0103/0001/41"	/* string rw, max 8 */
#define WHEN	SVC "/0103/0001/42"	/* datetime rw */
#define FAST	SVC "/0104/0001/40"	/* counter every 50 ms, st 5 */
#define SLOW	SVC "/0104/0001/41"	/* counter every 50 ms, pmin 0.5 */

static const char sim_json[] =
    "{\"name\":\"test sim\",\"description\":\"objects for test_service\","
    "\"objects\":["
    "{\"pid\":\"0101\",\"ins\":\"0001\",\"name\":\"room\",\"resources\":["
    " {\"rid\":\"40\",\"name\":\"temperature\",\"type\":\"number\",\"min\":-40,"
    "  \"max\":85,\"precision\":2,\"units\":\"Cel\",\"default\":21,"
    "  \"sim\":{\"model\":\"drift\",\"noise\":0.2,\"period\":0.1,"
    "  \"follow\":\"0102/0001/40\"}}]},"
    "{\"pid\":\"0102\",\"ins\":\"0001\",\"name\":\"thermostat\",\"resources\":["
    " {\"rid\":\"40\",\"name\":\"setpoint\",\"type\":\"number\",\"access\":\"rw\","
    "  \"min\":5,\"max\":35,\"precision\":1,\"units\":\"Cel\",\"default\":20}]},"
    "{\"pid\":\"0103\",\"ins\":\"0001\",\"name\":\"lamp\",\"resources\":["
    " {\"rid\":\"40\",\"name\":\"on\",\"type\":\"bool\",\"access\":\"rw\","
    "  \"default\":false,\"cov\":{\"pmax\":0.5}},"
    " {\"rid\":\"41\",\"name\":\"label\",\"type\":\"string\",\"access\":\"rw\","
    "  \"max\":8,\"default\":\"desk\"},"
    " {\"rid\":\"42\",\"name\":\"since\",\"type\":\"datetime\",\"access\":\"rw\"}]},"
    "{\"pid\":\"0104\",\"ins\":\"0001\",\"name\":\"counters\",\"resources\":["
    " {\"rid\":\"40\",\"name\":\"fast\",\"type\":\"number\",\"default\":0,"
    "  \"cov\":{\"st\":5},\"sim\":{\"model\":\"counter\",\"period\":0.05}},"
    " {\"rid\":\"41\",\"name\":\"slow\",\"type\":\"number\",\"default\":0,"
    "  \"cov\":{\"pmin\":0.5},\"sim\":{\"model\":\"counter\",\"period\":0.05}}]}"
    "]}";

static struct th_node node;
static struct th_proc sim;
static char sim_key[512], cli_key[512], sim_cfg[512];
static struct mob_client *cli;

/* Messages the client received, in order. */
#define RX_MAX	4096
static struct rx {
	char topic[MOB_TOPIC_MAX];
	cJSON *dat;
	int64_t iat;
} rx[RX_MAX];
static size_t nrx;

static void
on_msg(struct mob_client *c, const char *topic, const struct mob_env *env, void *arg)
{
	(void)c;
	(void)arg;
	if (nrx >= RX_MAX)
		return;
	snprintf(rx[nrx].topic, sizeof(rx[nrx].topic), "%s", topic);
	rx[nrx].dat = cJSON_Duplicate(env->dat, 1);
	rx[nrx].iat = env->iat;
	nrx++;
}

static void
rx_clear(void)
{
	for (size_t i = 0; i < nrx; i++)
		cJSON_Delete(rx[i].dat);
	nrx = 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	cr_assert_not_null(fp, "%s", path);
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
}

/* A log into the test output, when an assertion about it is about to fail. */
static void
dump_file(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return;
	fprintf(stderr, "---- %s ----\n", path);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(fp);
}

static void
sim_start(void)
{
	char path[512], log[600];
	char *argv[] = { path, "--config", sim_cfg, "--key", sim_key,
	    "--socket", node.sock, "--no-sandbox", "-v", NULL };

	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_assert_eq(th_spawn(&sim, argv, NULL, log), 0);
	cr_assert_eq(th_wait_log(log, "simulated resources", 15000), 0,
	    "mobius-sim did not start");
}

static void
client_open(void)
{
	struct mob_client_cfg cfg = { 0 };

	cfg.keyfile = cli_key;
	cfg.socket = node.sock;
	cr_assert_eq(mob_client_new(&cfg, &cli), 0);
	mob_client_set_handlers(cli, on_msg, NULL, NULL);
	cr_assert_eq(mob_client_connect(cli, 10000), 0);
}

static void
setup(void)
{
	log_init("test_service", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "0010/010", sim_key, sizeof(sim_key));
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	snprintf(sim_cfg, sizeof(sim_cfg), "%s/sim.json", node.dir);
	write_file(sim_cfg, sim_json);
	sim_start();
	client_open();
}

/* SIGTERM: a clean exit 0 (under ASan also: no leak, no error report). */
static void
sim_stop(void)
{
	char log[600];
	int st;

	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	st = th_stop(&sim, SIGTERM, 5000);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		dump_file(log);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "mobius-sim did not exit cleanly on SIGTERM (status %#x)", st);
}

static void
teardown(void)
{
	mob_client_free(cli);
	cli = NULL;
	rx_clear();
	sim_stop();
	th_node_stop(&node);
}

static struct mob_service *isvc;

/* Tests that build their own node: whatever they started, even after a failure. */
static void
standalone_fini(void)
{
	mob_client_free(cli);
	cli = NULL;
	rx_clear();
	mob_service_free(isvc);
	isvc = NULL;
	if (sim.pid > 0)
		sim_stop();
	if (node.dir[0] != '\0')
		th_node_stop(&node);
}

/* Send {"op":op,"uri":uri, extra...}; the whole response. */
static cJSON *
req(const char *op, const char *uri, const char *extra)
{
	char buf[1024];
	cJSON *q, *rsp = NULL;
	int rc;

	snprintf(buf, sizeof(buf), "{\"op\":\"%s\"%s%s%s%s%s}", op,
	    uri ? ",\"uri\":\"" : "", uri ? uri : "", uri ? "\"" : "",
	    extra ? "," : "", extra ? extra : "");
	cr_assert_not_null(q = cJSON_Parse(buf), "%s", buf);
	rc = mob_client_request(cli, SVC, q, 5000, &rsp);
	cJSON_Delete(q);
	cr_assert_eq(rc, 0, "%s: %s", buf, mob_strerror(rc));
	return rsp;
}

/* Request that must succeed. */
static cJSON *
req_ok(const char *op, const char *uri, const char *extra)
{
	cJSON *rsp = req(op, uri, extra);
	const char *msg;
	int rc = mob_client_rsp_error(rsp, &msg);

	cr_assert_eq(rc, 0, "%s %s %s: %s (%s)", op, uri ? uri : "-",
	    extra ? extra : "", msg, mob_errname(rc));
	return rsp;
}

/* Request that must fail with code. */
static void
req_err(const char *op, const char *uri, const char *extra, int code)
{
	cJSON *rsp = req(op, uri, extra);
	const char *msg = NULL;
	int rc = mob_client_rsp_error(rsp, &msg);

	cr_expect_eq(rc, code, "%s %s %s: want %s, got %s (%s)", op,
	    uri ? uri : "-", extra ? extra : "", mob_errname(code),
	    mob_errname(rc), msg);
	cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(rsp, "error"),
	    "code")->valuestring, mob_errname(code));
	cJSON_Delete(rsp);
}

static double
num(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItem(o, name);

	cr_assert(cJSON_IsNumber(j), "%s is not a number", name);
	return j->valuedouble;
}

static double
pv_of(const char *uri)
{
	cJSON *rsp = req_ok("read", uri, NULL);
	double v = num(rsp, "value");

	cJSON_Delete(rsp);
	return v;
}

static void
pump(int ms)
{
	int64_t end = mob_clock_mono_ms() + ms;

	for (;;) {
		int64_t now = mob_clock_mono_ms();

		if (now >= end)
			break;
		cr_assert_eq(mob_client_loop(cli, (int)(end - now)), 0);
	}
}

TestSuite(service, .init = setup, .fini = teardown, .timeout = 60);

Test(service, discover_lists_objects_and_resources)
{
	cJSON *rsp = req_ok("discover", NULL, NULL), *svc, *objs, *o, *r;

	svc = cJSON_GetObjectItem(rsp, "service");
	cr_assert_str_eq(cJSON_GetObjectItem(svc, "id")->valuestring, SVC);
	cr_assert_str_eq(cJSON_GetObjectItem(svc, "spid")->valuestring, "0010");
	cr_assert_str_eq(cJSON_GetObjectItem(svc, "name")->valuestring, "test sim");
	objs = cJSON_GetObjectItem(svc, "objects");
	cr_assert_eq(cJSON_GetArraySize(objs), 4);
	o = cJSON_GetArrayItem(objs, 1);
	cr_assert_str_eq(cJSON_GetObjectItem(o, "pid")->valuestring, "0102");
	r = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "resources"), 0);
	cr_assert_str_eq(cJSON_GetObjectItem(r, "name")->valuestring, "setpoint");
	cr_assert_str_eq(cJSON_GetObjectItem(r, "access")->valuestring, "rw");
	cr_assert_str_eq(cJSON_GetObjectItem(r, "units")->valuestring, "Cel");
	cr_assert_eq(num(r, "min"), 5);
	cr_assert_eq(num(r, "max"), 35);
	cJSON_Delete(rsp);

	rsp = req_ok("discover", SVC "/0103/0001", NULL);
	o = cJSON_GetObjectItem(rsp, "object");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "resources")), 3);
	cJSON_Delete(rsp);
	rsp = req_ok("discover", LABEL, NULL);
	r = cJSON_GetObjectItem(rsp, "resource");
	cr_assert_str_eq(cJSON_GetObjectItem(r, "type")->valuestring, "string");
	cJSON_Delete(rsp);

	/* The retained description says the same. */
	cr_assert_eq(mob_client_subscribe(cli, "mob/svc/" SVC, 1), 0);
	for (int i = 0; i < 100 && nrx == 0; i++)
		pump(20);
	cr_assert_eq(nrx, 1);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(rx[0].dat, "objects")), 4);
}

Test(service, read_returns_value_type_units_and_priorities)
{
	cJSON *rsp = req_ok("read", SETP, NULL), *prio, *obj;

	cr_assert_str_eq(cJSON_GetObjectItem(rsp, "uri")->valuestring, SETP);
	cr_assert_eq(num(rsp, "value"), 20);
	cr_assert_str_eq(cJSON_GetObjectItem(rsp, "type")->valuestring, "number");
	cr_assert_str_eq(cJSON_GetObjectItem(rsp, "units")->valuestring, "Cel");
	cr_assert_str_eq(cJSON_GetObjectItem(rsp, "status")->valuestring, "online");
	prio = cJSON_GetObjectItem(rsp, "priority");
	cr_assert_eq(cJSON_GetArraySize(prio), 16);
	cr_assert(cJSON_IsNull(cJSON_GetArrayItem(prio, 15)));
	cr_assert_eq(num(rsp, "default"), 20);
	cJSON_Delete(rsp);

	/* An object read carries every resource's state. */
	rsp = req_ok("read", SVC "/0103/0001", NULL);
	obj = cJSON_GetObjectItem(rsp, "object");
	cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(obj, "resources"), 0), "value")));
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(obj, "resources"), 1), "value")->valuestring, "desk");
	cJSON_Delete(rsp);

	/* The simulated temperature moves. */
	{
		double a = pv_of(TEMP), b;
		int moved = 0;

		for (int i = 0; i < 50 && !moved; i++) {
			pump(50);
			b = pv_of(TEMP);
			moved = b != a;
		}
		cr_assert(moved, "temperature stayed at %g", a);
	}
}

Test(service, simulated_temperature_follows_the_setpoint)
{
	double t = 0;

	cJSON_Delete(req_ok("write", SETP, "\"value\":35,\"priority\":1"));
	for (int i = 0; i < 100 && (t = pv_of(TEMP)) < 28; i++)
		pump(50);
	cr_assert_geq(t, 28, "temperature %g did not rise towards 35", t);
}

Test(service, writes_at_priorities_set_the_present_value)
{
	cJSON *rsp;

	rsp = req_ok("write", SETP, "\"value\":22.04");
	cr_assert_eq(num(rsp, "value"), 22.0);	/* precision 1 */
	cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(rsp, "priority"),
	    15)->valuedouble, 22.0);
	cJSON_Delete(rsp);
	cJSON_Delete(req_ok("write", SETP, "\"value\":25,\"priority\":8"));
	cr_assert_eq(pv_of(SETP), 25);
	/* lower priority: stored, PV unchanged */
	cJSON_Delete(req_ok("write", SETP, "\"value\":30,\"priority\":12"));
	cr_assert_eq(pv_of(SETP), 25);
	cJSON_Delete(req_ok("write", SETP, "\"value\":6.5,\"priority\":1"));
	cr_assert_eq(pv_of(SETP), 6.5);
	cJSON_Delete(req_ok("clear", SETP, "\"priority\":1"));
	cr_assert_eq(pv_of(SETP), 25);
	cJSON_Delete(req_ok("clear", SETP, "\"priority\":8"));
	cr_assert_eq(pv_of(SETP), 30);
	cJSON_Delete(req_ok("clear", SETP, "\"priority\":12"));
	cr_assert_eq(pv_of(SETP), 22);
	rsp = req_ok("clear", SETP, NULL);	/* priority 16 by default */
	cr_assert_eq(num(rsp, "value"), 20);
	cJSON_Delete(rsp);
	/* clearing an empty slot is fine */
	cJSON_Delete(req_ok("clear", SETP, "\"priority\":3"));

	rsp = req_ok("write", LAMP, "\"value\":true");
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(rsp, "value")));
	cJSON_Delete(rsp);
	rsp = req_ok("write", WHEN, "\"value\":\"2026-11-22T03:00:00.250Z\"");
	cr_assert_str_eq(cJSON_GetObjectItem(rsp, "value")->valuestring,
	    "2026-11-22T03:00:00.250Z");
	cJSON_Delete(rsp);
}

Test(service, bad_requests_get_their_error_codes)
{
	req_err("write", SETP, "\"value\":\"21\"", MOB_ETYPE);
	req_err("write", LAMP, "\"value\":1", MOB_ETYPE);
	req_err("write", WHEN, "\"value\":\"yesterday\"", MOB_ETYPE);
	req_err("write", SETP, "\"value\":35.1", MOB_ERANGE);
	req_err("write", SETP, "\"value\":-3", MOB_ERANGE);
	req_err("write", LABEL, "\"value\":\"far too long\"", MOB_ERANGE);
	req_err("write", TEMP, "\"value\":20", MOB_EREADONLY);
	req_err("clear", TEMP, NULL, MOB_EREADONLY);
	req_err("read", SVC "/0999/0001/40", NULL, MOB_ENOTFOUND);
	req_err("read", SVC "/0102/0001/4F", NULL, MOB_ENOTFOUND);
	req_err("read", TH_HID "/011/0102/0001/40", NULL, MOB_ENOTFOUND);
	req_err("write", SVC "/0102/0001", "\"value\":1", MOB_ENOTFOUND);
	req_err("read", SVC "/0102/001/40", NULL, MOB_EURI);
	req_err("read", "not a uri", NULL, MOB_EURI);
	req_err("write", SETP, "\"value\":21,\"priority\":17", MOB_EINVAL);
	req_err("write", SETP, "\"value\":21,\"priority\":1.5", MOB_EINVAL);
	req_err("write", SETP, NULL, MOB_EINVAL);
	req_err("toggle", SETP, NULL, MOB_EINVAL);
	req_err("read", NULL, NULL, MOB_EINVAL);
	/* nothing above changed anything */
	cr_assert_eq(pv_of(SETP), 20);
}

/* Live COVs on topic (the first, retained one skipped). */
static size_t
covs(const char *topic, struct rx **out, size_t max)
{
	size_t n = 0, seen = 0;

	for (size_t i = 0; i < nrx && n < max; i++) {
		if (strcmp(rx[i].topic, topic) != 0)
			continue;
		if (seen++ == 0)
			continue;
		out[n++] = &rx[i];
	}
	return n;
}

Test(service, cov_follows_writes)
{
	struct rx *c[16];
	size_t n;

	cr_assert_eq(mob_client_subscribe(cli, "mob/cov/" SETP, 1), 0);
	pump(300);
	cJSON_Delete(req_ok("write", SETP, "\"value\":23.5,\"priority\":9"));
	pump(300);
	n = covs("mob/cov/" SETP, c, 16);
	cr_assert_eq(n, 1, "%zu COVs", n);
	cr_assert_eq(num(c[0]->dat, "value"), 23.5);
	cr_assert_str_eq(cJSON_GetObjectItem(c[0]->dat, "status")->valuestring, "online");
	cr_assert(num(c[0]->dat, "changed") > 0);
	/* a write at a lower priority does not change the PV: no COV */
	cJSON_Delete(req_ok("write", SETP, "\"value\":10,\"priority\":16"));
	pump(300);
	cr_assert_eq(covs("mob/cov/" SETP, c, 16), 1);
}

Test(service, cov_honours_deadband_pmin_and_pmax)
{
	struct rx *c[256];
	size_t n;

	cr_assert_eq(mob_client_subscribe(cli, "mob/cov/" SVC "/+/+/+", 0), 0);
	pump(2600);

	/* st 5 on a counter stepping by 1: each COV at least 5 on. */
	n = covs("mob/cov/" FAST, c, 256);
	cr_assert_geq(n, 3, "%zu COVs of the deadband counter", n);
	for (size_t i = 1; i < n; i++)
		cr_expect_geq(num(c[i]->dat, "value") - num(c[i - 1]->dat, "value"),
		    5, "deadband: %g then %g", num(c[i - 1]->dat, "value"),
		    num(c[i]->dat, "value"));

	/* pmin 0.5 s on a counter stepping every 50 ms: spaced out. */
	n = covs("mob/cov/" SLOW, c, 256);
	cr_assert_geq(n, 2, "%zu COVs of the pmin counter", n);
	cr_assert_leq(n, 7, "%zu COVs in 2.6 s despite pmin 0.5 s", n);
	for (size_t i = 1; i < n; i++)
		cr_expect_geq(c[i]->iat - c[i - 1]->iat, 450, "pmin: %lld ms apart",
		    (long long)(c[i]->iat - c[i - 1]->iat));

	/* pmax 0.5 s on a lamp nobody touches: republished unchanged. */
	n = covs("mob/cov/" LAMP, c, 256);
	cr_assert_geq(n, 3, "%zu COVs of the pmax lamp", n);
	for (size_t i = 0; i < n; i++)
		cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(c[i]->dat, "value")));

	/* no attributes: a setpoint nobody writes stays silent */
	cr_assert_eq(covs("mob/cov/" SETP, c, 256), 0);
}

Test(service, reconnects_and_republishes_after_the_hub_restarts)
{
	char log[600];
	struct mob_client_stats st;
	int up = 0;

	cJSON_Delete(req_ok("write", SETP, "\"value\":27,\"priority\":5"));
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_assert_eq(th_count_log(log, "connected as"), 1);
	th_stop(&node.hub, SIGKILL, 3000);
	pump(300);
	cr_assert_not(mob_client_connected(cli));
	th_node_hub_start(&node, NULL);
	cr_assert_eq(th_wait_log(log, "connected as", 15000), 0);
	for (int i = 0; i < 300 && th_count_log(log, "connected as") < 2; i++)
		pump(50);
	if (th_count_log(log, "connected as") != 2)
		dump_file(log);
	cr_assert_eq(th_count_log(log, "connected as"), 2, "sim did not reconnect");
	for (int i = 0; i < 300 && !up; i++) {
		pump(50);
		up = mob_client_connected(cli);
	}
	cr_assert(up, "client did not reconnect");
	mob_client_stats(cli, &st);
	cr_assert_eq(st.reconnects, 1);

	/* state kept, retained state republished into the new hub */
	cr_assert_eq(pv_of(SETP), 27);
	rx_clear();
	cr_assert_eq(mob_client_subscribe(cli, "mob/obj/" SVC "/0102/0001", 1), 0);
	for (int i = 0; i < 100 && nrx == 0; i++)
		pump(20);
	cr_assert_eq(nrx, 1, "no retained mob/obj after the restart");
	cr_assert_eq(num(cJSON_GetArrayItem(cJSON_GetObjectItem(rx[0].dat,
	    "resources"), 0), "value"), 27);
}

/*
 * Confined as in production (namespaces, another user, seccomp): still
 * serves, and reconnects to a restarted hub from inside the sandbox.
 */
Test(service_sandboxed, serves_and_reconnects_from_inside_the_sandbox,
    .fini = standalone_fini, .timeout = 60)
{
	char path[512], log[600], cfg[600];
	char *argv[] = { path, "--config", cfg, "--key", sim_key, "--socket",
	    node.sock, "-v", NULL };
	char *env[] = { "MOBIUS_SANDBOX_USER=nobody", NULL };
	cJSON *rsp;
	int up = 0;

	log_init("test_service", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "0010/010", sim_key, sizeof(sim_key));
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	snprintf(cfg, sizeof(cfg), "%s/sim.json", node.dir);
	write_file(cfg, sim_json);
	/* the service user must reach the socket, as /run/mobius allows */
	cr_assert_eq(chmod(node.dir, 0711), 0);
	cr_assert_eq(chmod(node.sock, 0666), 0);
	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_assert_eq(th_spawn(&sim, argv, env, log), 0);
	cr_assert_eq(th_wait_log(log, "simulated resources", 15000), 0);
	client_open();
	rsp = req_ok("write", SETP, "\"value\":31,\"priority\":4");
	cJSON_Delete(rsp);

	th_stop(&node.hub, SIGKILL, 3000);
	th_node_hub_start(&node, NULL);
	/* mosquitto makes its socket 0770 (and may still be replacing it) */
	for (int i = 0; i < 300 && th_count_log(log, "connected as") < 2; i++) {
		chmod(node.sock, 0666);
		pump(50);
	}
	if (th_count_log(log, "connected as") != 2)
		dump_file(log);
	cr_assert_eq(th_count_log(log, "connected as"), 2, "sandboxed sim did "
	    "not reconnect");
	for (int i = 0; i < 300 && !up; i++) {
		pump(50);
		up = mob_client_connected(cli);
	}
	cr_assert(up);
	cr_assert_eq(pv_of(SETP), 31);
	cr_assert_eq(th_count_log(log, "DISABLED"), 0);
}

/*
 * Started as root, mobius-sim reads no byte from the hub before its
 * seccomp filter is in (docs/security.md): it connects and sends its
 * login in the open phase, and the CONNACK, the key bundle and every
 * request are read confined.  strace shows the order of the real
 * daemon's system calls.
 */
Test(service_sandboxed, started_as_root_it_reads_no_hub_byte_before_it_is_confined,
    .fini = standalone_fini, .timeout = 60)
{
	char path[512], log[600], cfg[600], trace[600], why[400];
	char *argv[] = { path, "--config", cfg, "--key", sim_key, "--socket",
	    node.sock, NULL };
	/* LeakSanitizer cannot run under ptrace (a SAN build) */
	char *env[] = { "MOBIUS_SANDBOX_USER=nobody", "ASAN_OPTIONS=detect_leaks=0", NULL };
	char *traced[32];
	const char *skip;
	cJSON *rsp;
	int n;

	if (geteuid() != 0)
		cr_skip_test("not root: the question is what a root daemon "
		    "parses before it drops to its user");
	if ((skip = th_strace_missing()) != NULL)
		cr_skip_test("%s", skip);
	log_init("test_service", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "0010/010", sim_key, sizeof(sim_key));
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	snprintf(cfg, sizeof(cfg), "%s/sim.json", node.dir);
	write_file(cfg, sim_json);
	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	snprintf(trace, sizeof(trace), "%s/sim.trace", node.dir);
	th_strace_argv(argv, trace, traced, 32);
	cr_assert_eq(th_spawn(&sim, traced, env, log), 0);
	if (th_wait_log(log, "simulated resources", 20000) != 0)
		dump_file(log);
	cr_assert_eq(th_count_log(log, "DISABLED"), 0, "confined");
	client_open();
	rsp = req_ok("read", SETP, NULL);
	cJSON_Delete(rsp);
	cr_assert_eq(kill(th_trace_pid(trace), SIGTERM), 0);
	cr_assert(WIFEXITED(th_stop(&sim, SIGTERM, 5000)));
	n = th_trace_confined_first(trace, node.sock, why, sizeof(why));
	cr_assert_gt(n, 0, "%s", why);
}

/*
 * 300 objects under the hub's default message cap: mob/svc is cut short
 * and says "truncated", discover pages through everything with "next",
 * and every message the service sends gets through the hub.
 */
Test(service_big, description_is_truncated_and_discover_pages,
    .fini = standalone_fini, .timeout = 60)
{
	char path[512], log[600], cfg[600], uri[MOB_URI_MAX];
	char *argv[] = { path, "--config", cfg, "--key", sim_key, "--socket",
	    node.sock, "--no-sandbox", NULL };
	int seen[301] = { 0 }, total = 0, pages = 0, offset = 0;
	const cJSON *o;
	cJSON *rsp;
	FILE *fp;

	log_init("test_service", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "0010/010", sim_key, sizeof(sim_key));
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	snprintf(cfg, sizeof(cfg), "%s/big.json", node.dir);
	cr_assert_not_null(fp = fopen(cfg, "w"));
	fprintf(fp, "{\"name\":\"big\",\"objects\":[");
	for (int i = 1; i <= 300; i++)
		fprintf(fp, "%s{\"pid\":\"0A00\",\"ins\":\"%04X\",\"name\":"
		    "\"tank number %d of the big plant\",\"resources\":[{\"rid\":"
		    "\"40\",\"name\":\"level\",\"type\":\"number\",\"units\":"
		    "\"Cel\",\"default\":%d}]}", i > 1 ? "," : "", i, i, i);
	fprintf(fp, "]}");
	cr_assert_eq(fclose(fp), 0);
	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_assert_eq(th_spawn(&sim, argv, NULL, log), 0);
	cr_assert_eq(th_wait_log(log, "simulated resources", 15000), 0);
	client_open();

	cr_assert_eq(mob_client_subscribe(cli, "mob/svc/" SVC, 1), 0);
	cr_assert_eq(mob_client_subscribe(cli, "mob/obj/" SVC "/0A00/012C", 1), 0);
	for (int i = 0; i < 100 && nrx < 2; i++)
		pump(20);
	cr_assert_eq(nrx, 2, "mob/svc and mob/obj through the hub");
	for (size_t i = 0; i < nrx; i++) {
		if (strcmp(rx[i].topic, "mob/svc/" SVC) == 0) {
			cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(rx[i].dat, "truncated")));
			cr_assert_gt(cJSON_GetArraySize(cJSON_GetObjectItem(rx[i].dat,
			    "objects")), 10);
		} else
			cr_assert_eq(num(cJSON_GetArrayItem(cJSON_GetObjectItem(
			    rx[i].dat, "resources"), 0), "value"), 300);
	}
	do {
		char extra[32];
		const cJSON *next;

		snprintf(extra, sizeof(extra), "\"offset\":%d", offset);
		rsp = req_ok("discover", NULL, offset ? extra : NULL);
		cJSON_ArrayForEach(o, cJSON_GetObjectItem(cJSON_GetObjectItem(rsp,
		    "service"), "objects")) {
			int ins = (int)strtol(cJSON_GetObjectItem(o, "ins")->valuestring,
			    NULL, 16);

			cr_assert(ins >= 1 && ins <= 300);
			cr_assert_eq(seen[ins]++, 0, "object %d twice", ins);
			cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o,
			    "resources")), 1);
			total++;
		}
		next = cJSON_GetObjectItem(rsp, "next");
		offset = cJSON_IsNumber(next) ? (int)next->valuedouble : 0;
		cJSON_Delete(rsp);
		pages++;
	} while (offset > 0 && pages < 300);
	cr_assert_eq(total, 300);
	cr_assert_gt(pages, 1);
	snprintf(uri, sizeof(uri), SVC "/0A00/%04X/40", 150);
	cr_assert_eq(pv_of(uri), 150);
}

/*
 * The hardware-facing side in one process: a service whose write handler
 * refuses some values and whose resource goes offline, pumped together
 * with a client that asks it.
 */
static int
refuse_above_50(struct mob_res *r, const struct mob_value *v, void *arg)
{
	(void)r;
	(void)arg;
	return !v->null && v->u.num > 50 ? MOB_EDEVICE : 0;
}

struct pend {
	int done, err;
	cJSON *rsp;
};

static void
pend_cb(struct mob_client *c, int err, const cJSON *rsp, void *arg)
{
	struct pend *p = arg;

	(void)c;
	p->done = 1;
	p->err = err;
	p->rsp = rsp ? cJSON_Duplicate(rsp, 1) : NULL;
}

/* A request to the in-process service, both pumped until it is answered. */
static int
ireq(const char *json, const char **code)
{
	struct pend p = { 0, 0, NULL };
	cJSON *q = cJSON_Parse(json);
	const cJSON *e;
	int rc;

	cr_assert_not_null(q);
	cr_assert_eq(mob_client_request_async(cli, TH_HID "/012", q, 5000,
	    pend_cb, &p), 0);
	cJSON_Delete(q);
	while (!p.done) {
		mob_service_once(isvc, 5);
		mob_client_loop(cli, 5);
	}
	cr_assert_eq(p.err, 0, "%s: %s", json, mob_strerror(p.err));
	rc = mob_client_rsp_error(p.rsp, NULL);
	e = cJSON_GetObjectItem(cJSON_GetObjectItem(p.rsp, "error"), "code");
	*code = rc == 0 ? "ok" : (cJSON_IsString(e) ? mob_errname(rc) : "?");
	cJSON_Delete(p.rsp);
	return rc;
}

Test(service_inproc, write_handler_errors_and_offline_reach_the_client,
    .fini = standalone_fini, .timeout = 60)
{
	struct mob_client_cfg ccfg = { 0 };
	struct mob_res_def d;
	struct mob_value v;
	struct mob_object *o;
	struct mob_res *r;
	const char *code;
	char key[512];
	int got_offline = 0;

	log_init("test_service", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "0012/012", key, sizeof(key));
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	ccfg.keyfile = key;
	ccfg.socket = node.sock;
	cr_assert_eq(mob_service_new(&ccfg, &isvc), 0);
	cr_assert_eq(mob_service_add_object(isvc, "0201", "0001", "valve", &o), 0);
	memset(&d, 0, sizeof(d));
	memcpy(d.rid, "40", 3);
	d.name = "opening";
	d.type = MOB_TYPE_NUMBER;
	d.access = MOB_ACCESS_RW;
	d.precision = -1;
	cr_assert_eq(mob_object_add_res(o, &d, &r), 0);
	mob_res_set_write_handler(r, refuse_above_50, NULL);
	cr_assert_eq(mob_service_start(isvc, 10000), 0);
	client_open();

	cr_assert_eq(ireq("{\"op\":\"write\",\"uri\":\"" TH_HID "/012/0201/0001/40\","
	    "\"value\":30}", &code), 0);
	cr_assert_eq(mob_res_pv(r)->u.num, 30);
	cr_assert_eq(ireq("{\"op\":\"write\",\"uri\":\"" TH_HID "/012/0201/0001/40\","
	    "\"value\":80,\"priority\":2}", &code), MOB_EDEVICE);
	cr_assert_str_eq(code, "device");
	cr_assert_eq(mob_res_pv(r)->u.num, 30, "a refused write left its value");

	/* offline: writes refused, the COV says so */
	cr_assert_eq(mob_client_subscribe(cli, "mob/cov/" TH_HID "/012/0201/0001/40", 1), 0);
	mob_res_set_status(r, MOB_STATUS_OFFLINE);
	cr_assert_eq(ireq("{\"op\":\"write\",\"uri\":\"" TH_HID "/012/0201/0001/40\","
	    "\"value\":10}", &code), MOB_EOFFLINE);
	for (int i = 0; i < 200 && !got_offline; i++) {
		mob_service_once(isvc, 5);
		mob_client_loop(cli, 5);
		for (size_t k = 0; k < nrx; k++)
			got_offline |= strcmp(cJSON_GetObjectItem(rx[k].dat,
			    "status")->valuestring, "offline") == 0;
	}
	cr_assert(got_offline, "no COV with status offline");
	mob_res_set_status(r, MOB_STATUS_ONLINE);
	mob_value_number(&v, 42);
	cr_assert_eq(mob_res_update(r, &v), 0);	/* hidden by slot 16 */
	cr_assert_eq(mob_res_pv(r)->u.num, 30);
	cr_assert_eq(ireq("{\"op\":\"clear\",\"uri\":\"" TH_HID "/012/0201/0001/40\"}",
	    &code), 0);
	cr_assert_eq(mob_res_pv(r)->u.num, 42);

}

/* Started before the hub (as systemd may do): waits for it, then serves. */
Test(service_order, a_service_started_before_the_hub_connects_when_it_comes,
    .fini = standalone_fini, .timeout = 60)
{
	char path[512], log[600], cfg[600];
	char *argv[] = { path, "--config", cfg, "--key", sim_key, "--socket",
	    node.sock, "--no-sandbox", "-v", NULL };

	log_init("test_service", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "0010/010", sim_key, sizeof(sim_key));
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	th_stop(&node.hub, SIGTERM, 5000);
	unlink(node.sock);
	snprintf(cfg, sizeof(cfg), "%s/sim.json", node.dir);
	write_file(cfg, sim_json);
	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_assert_eq(th_spawn(&sim, argv, NULL, log), 0);
	cr_assert_eq(th_wait_log(log, "No such file or directory", 10000), 0,
	    "the service is not trying yet");
	th_node_hub_start(&node, NULL);
	cr_assert_eq(th_wait_log(log, "simulated resources", 15000), 0);
	client_open();
	cr_assert_eq(pv_of(SETP), 20);
}

/* A key the hub does not know (revoked) is refused at once, not retried. */
Test(service_client, revoked_key_is_denied,
    .fini = standalone_fini, .timeout = 60)
{
	char tool[512];
	char *revoke[] = { tool, "--dir", node.keys, "revoke", "00C1/0C1", NULL };
	struct mob_client_cfg ccfg = { 0 };
	char keep[600], buf[4096];
	FILE *in, *out;
	size_t n;

	log_init("test_service", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	/* revoke removes the key file: keep a copy to try with */
	snprintf(keep, sizeof(keep), "%s/old.key", node.dir);
	cr_assert_not_null(in = fopen(cli_key, "r"));
	cr_assert_not_null(out = fopen(keep, "w"));
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
	cr_assert_eq(chmod(keep, 0600), 0);
	th_path("bin/mobius-keytool", tool, sizeof(tool));
	cr_assert_eq(th_run(revoke, NULL, NULL, 0, 10000), 0);
	th_node_reload(&node);

	ccfg.keyfile = keep;
	ccfg.socket = node.sock;
	cr_assert_eq(mob_client_new(&ccfg, &cli), 0);
	cr_assert_eq(mob_client_connect(cli, 20000), MOB_EDENIED);
	mob_client_free(cli);
	cli = NULL;
	/* no hub at all: a system error once the time is up */
	th_node_stop(&node);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	ccfg.keyfile = cli_key;
	ccfg.socket = "/nonexistent/hub.sock";
	cr_assert_eq(mob_client_new(&ccfg, &cli), 0);
	cr_assert_eq(mob_client_connect(cli, 300), MOB_ESYS);
}

/* Compat mode (HS256, PSKs distributed encrypted): the same service works. */
Test(service_compat, reads_and_writes_in_compat_mode,
    .fini = standalone_fini, .timeout = 60)
{
	char path[512], log[600], cfg[600];
	char *argv[] = { path, "--config", cfg, "--key", sim_key, "--socket",
	    node.sock, "--no-sandbox", NULL };

	log_init("test_service", 0);
	th_node_start(&node, MOB_MODE_COMPAT);
	th_node_add(&node, "0010/010", sim_key, sizeof(sim_key));
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	snprintf(cfg, sizeof(cfg), "%s/sim.json", node.dir);
	write_file(cfg, sim_json);
	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_assert_eq(th_spawn(&sim, argv, NULL, log), 0);
	cr_assert_eq(th_wait_log(log, "simulated resources", 15000), 0);
	client_open();
	cJSON_Delete(req_ok("write", SETP, "\"value\":12.5"));
	cr_assert_eq(pv_of(SETP), 12.5);
	req_err("write", SETP, "\"value\":true", MOB_ETYPE);
}

/* The client over TCP with TLS, the hub's certificate checked against a CA file. */
Test(service_tls, client_connects_over_tls_and_checks_the_certificate,
    .fini = standalone_fini, .timeout = 60)
{
	char path[512], hub[512], log[600], cfg[600], cert[600], key[600],
	    listen[64], state[600], other[600], hublog[600];
	char *argv[] = { path, "--config", cfg, "--key", sim_key, "--socket",
	    node.sock, "--no-sandbox", NULL };
	char *hubargv[] = { hub, "--keys", node.keys, "--socket", node.sock,
	    "--state", state, "--foreground", "--no-sandbox", "--listen", listen,
	    "--tls-cert", cert, "--tls-key", key, NULL };
	char *req_cert[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
	    "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
	    "subjectAltName=DNS:localhost,IP:127.0.0.1", NULL };
	char *req_other[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", other,
	    "-out", other, "-days", "1", "-subj", "/CN=someone else", NULL };
	struct mob_client_cfg ccfg = { 0 };
	int port, rc;

	if (access("/usr/bin/openssl", X_OK) != 0)
		cr_skip_test("no /usr/bin/openssl to make a test certificate");
	log_init("test_service", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "0010/010", sim_key, sizeof(sim_key));
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	snprintf(cert, sizeof(cert), "%s/hub.crt", node.dir);
	snprintf(key, sizeof(key), "%s/hub.pem", node.dir);
	snprintf(other, sizeof(other), "%s/other.pem", node.dir);
	cr_assert_eq(th_run(req_cert, NULL, NULL, 0, 20000), 0);
	cr_assert_eq(th_run(req_other, NULL, NULL, 0, 20000), 0);
	/* the same node, its hub now also on 127.0.0.1 with TLS */
	th_stop(&node.hub, SIGTERM, 5000);
	port = th_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(state, sizeof(state), "%s/state", node.dir);
	snprintf(hublog, sizeof(hublog), "%s/hub-tls.log", node.dir);
	th_path("bin/mobius-hub", hub, sizeof(hub));
	cr_assert_eq(th_spawn(&node.hub, hubargv, NULL, hublog), 0);
	cr_assert_eq(th_wait_log(hublog, "running", 15000), 0);

	snprintf(cfg, sizeof(cfg), "%s/sim.json", node.dir);
	write_file(cfg, sim_json);
	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_assert_eq(th_spawn(&sim, argv, NULL, log), 0);
	cr_assert_eq(th_wait_log(log, "simulated resources", 15000), 0);

	ccfg.keyfile = cli_key;
	ccfg.host = "127.0.0.1";
	ccfg.port = port;
	ccfg.cafile = other;	/* not the hub's issuer: refused */
	cr_assert_eq(mob_client_new(&ccfg, &cli), 0);
	rc = mob_client_connect(cli, 2000);
	cr_assert_neq(rc, 0, "connected to a hub whose certificate is not trusted");
	mob_client_free(cli);
	ccfg.cafile = cert;
	cr_assert_eq(mob_client_new(&ccfg, &cli), 0);
	cr_assert_eq(mob_client_connect(cli, 10000), 0);
	cr_assert_eq(pv_of(SETP), 20);
}

/* Under systemd: READY=1 once published, STATUS= lines, WATCHDOG=1 pings. */
Test(service_systemd, notifies_ready_status_and_watchdog,
    .fini = standalone_fini, .timeout = 60)
{
	char path[512], log[600], cfg[600], nsock[600], envn[700];
	char *argv[] = { path, "--config", cfg, "--key", sim_key, "--socket",
	    node.sock, "--no-sandbox", NULL };
	char *env[] = { envn, "WATCHDOG_USEC=200000", NULL };
	struct sockaddr_un sun;
	char buf[512];
	int fd, ready = 0, status = 0, wd = 0;
	ssize_t n;

	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "0010/010", sim_key, sizeof(sim_key));
	snprintf(cfg, sizeof(cfg), "%s/sim.json", node.dir);
	write_file(cfg, sim_json);
	snprintf(nsock, sizeof(nsock), "%s/notify", node.dir);
	snprintf(envn, sizeof(envn), "NOTIFY_SOCKET=%s", nsock);
	cr_assert((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	cr_assert_lt(strlen(nsock), sizeof(sun.sun_path));
	memcpy(sun.sun_path, nsock, strlen(nsock) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim.log", node.dir);
	cr_assert_eq(th_spawn(&sim, argv, env, log), 0);
	for (int i = 0; i < 200 && (ready == 0 || wd < 3); i++) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		if (poll(&pfd, 1, 50) != 1)
			continue;
		if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		ready += strstr(buf, "READY=1") != NULL;
		status += strstr(buf, "STATUS=connected as 000001/010") != NULL;
		/* pings start only once ready */
		if (strstr(buf, "WATCHDOG=1") != NULL)
			cr_assert(ready, "WATCHDOG=1 before READY=1");
		wd += strstr(buf, "WATCHDOG=1") != NULL;
	}
	close(fd);
	cr_expect_eq(ready, 1);
	cr_expect_eq(status, 1);
	cr_expect_geq(wd, 3);
}

/*
 * A service added while the client is connected: the hub hands out the new
 * key and the client verifies the newcomer's answers without reconnecting.
 */
Test(service, a_service_added_later_is_verified_with_the_new_key)
{
	char path[512], log[600], key2[512];
	char *argv[] = { path, "--config", sim_cfg, "--key", key2, "--socket",
	    node.sock, "--no-sandbox", NULL };
	struct mob_client_stats st;
	struct th_proc sim2;
	cJSON *q, *rsp = NULL;

	th_node_add(&node, "0011/011", key2, sizeof(key2));
	th_path("bin/mobius-sim", path, sizeof(path));
	snprintf(log, sizeof(log), "%s/sim2.log", node.dir);
	cr_assert_eq(th_spawn(&sim2, argv, NULL, log), 0);
	cr_assert_eq(th_wait_log(log, "simulated resources", 15000), 0);
	cr_assert_not_null(q = cJSON_Parse("{\"op\":\"read\",\"uri\":\""
	    TH_HID "/011/0102/0001/40\"}"));
	cr_assert_eq(mob_client_request(cli, TH_HID "/011", q, 5000, &rsp), 0);
	cr_assert_eq(mob_client_rsp_error(rsp, NULL), 0);
	cr_assert_eq(num(rsp, "value"), 20);
	cJSON_Delete(rsp);
	cJSON_Delete(q);
	mob_client_stats(cli, &st);
	cr_assert_eq(st.rx_dropped, 0);
	cr_assert_eq(st.reconnects, 0);
	th_stop(&sim2, SIGTERM, 5000);
}

/* --- the client's requests when the hub or the loop goes away -------- */

struct async_rsp {
	int called;
	int err;
};

static void
on_async_rsp(struct mob_client *c, int err, const cJSON *rsp, void *arg)
{
	struct async_rsp *a = arg;

	(void)c;
	(void)rsp;
	a->called++;
	a->err = err;
}

static void
client_only_setup(void)
{
	log_init("test_service", 0);
	th_node_start(&node, MOB_MODE_HARDENED);
	/* a service the hub knows (no immediate not_found) that never runs */
	th_node_add(&node, "0010/010", sim_key, sizeof(sim_key));
	th_node_add(&node, "00C1/0C1", cli_key, sizeof(cli_key));
	client_open();
}

/*
 * A request waiting for a service that never answers ends with
 * MOB_EOFFLINE as soon as the hub is lost, as client.h promises, not at
 * its timeout; and the blocking form returns MOB_EOFFLINE.
 */
Test(client, a_lost_hub_ends_waiting_requests_with_offline,
    .init = client_only_setup, .fini = standalone_fini, .timeout = 60)
{
	struct async_rsp a = { 0, 0 };
	struct mob_client_stats st;
	cJSON *q;

	cr_assert_not_null(q = cJSON_Parse("{\"op\":\"read\",\"uri\":\""
	    TH_HID "/0FF\"}"));
	cr_assert_eq(mob_client_request_async(cli, TH_HID "/010", q, 30000,
	    on_async_rsp, &a), 0);
	pump(200);
	cr_assert_eq(a.called, 0);
	th_stop(&node.hub, SIGKILL, 3000);
	for (int i = 0; i < 250 && a.called == 0; i++)
		mob_client_loop(cli, 20);
	cJSON_Delete(q);
	cr_assert_eq(a.called, 1, "no callback within 5 s of losing the hub");
	cr_assert_eq(a.err, MOB_EOFFLINE, "%s", mob_strerror(a.err));
	mob_client_stats(cli, &st);
	cr_assert_eq(st.pending, 0);
}

/*
 * When the loop inside mob_client_request fails (here poll(), refused by
 * RLIMIT_NOFILE 0), the request is withdrawn: nothing is left pending
 * whose callback would write into the returned stack frame.
 */
Test(client, a_failed_request_loop_leaves_nothing_pending,
    .init = client_only_setup, .fini = standalone_fini, .timeout = 60)
{
	struct mob_client_stats st;
	struct rlimit old, none;
	cJSON *q, *rsp = NULL;
	int rc;

	cr_assert_not_null(q = cJSON_Parse("{\"op\":\"read\",\"uri\":\""
	    TH_HID "/0FF\"}"));
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	none = old;
	none.rlim_cur = 0;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &none), 0);
	rc = mob_client_request(cli, TH_HID "/010", q, 500, &rsp);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	cJSON_Delete(q);
	cr_assert_eq(rc, MOB_ESYS, "%s", mob_strerror(rc));
	cr_assert_null(rsp);
	mob_client_stats(cli, &st);
	cr_assert_eq(st.pending, 0);
	/* past the old deadline: the loop goes on, nothing to expire */
	pump(700);
	mob_client_stats(cli, &st);
	cr_assert_eq(st.pending, 0);
}

/* A client of the service's identity (the publisher), cfg as given. */
static struct mob_client *
publisher_open(struct mob_client_cfg *cfg)
{
	struct mob_client *c;

	cfg->keyfile = sim_key;
	cfg->socket = node.sock;
	cr_assert_eq(mob_client_new(cfg, &c), 0);
	cr_assert_eq(mob_client_connect(c, 10000), 0);
	return c;
}

/* Both the publisher's and cli's sockets for up to ms. */
static void
pump2(struct mob_client *c, int ms)
{
	struct pollfd pfd[2];

	mob_client_pollfd(c, &pfd[0]);
	mob_client_pollfd(cli, &pfd[1]);
	(void)poll(pfd, 2, ms);
	mob_client_process(c, pfd[0].revents);
	mob_client_process(cli, pfd[1].revents);
}

/*
 * The outgoing queue is bounded (cfg.queue): with the hub's Receive
 * Maximum of QoS 1 messages in flight and the loop not run, the next
 * publishes wait in the queue, and beyond its bound they are refused and
 * counted (and logged), never silently dropped; once the hub acknowledged,
 * publishing works again.
 */
Test(client, a_full_outgoing_queue_is_counted_and_said,
    .init = client_only_setup, .fini = standalone_fini, .timeout = 60)
{
	struct mob_client_cfg cfg = { 0 };
	struct mob_client_stats st;
	struct mob_client *c;
	long ok = 0, refused = 0;
	int rc = MOB_EBUSY;

	cfg.queue = 8;
	c = publisher_open(&cfg);
	for (int i = 0; i < 200; i++) {
		rc = mob_client_publish(c, "mob/cov/" SVC "/0101/0001/40",
		    "{\"value\":1}", 1, 0);
		if (rc == 0)
			ok++;
		else {
			cr_assert_eq(rc, MOB_EBUSY, "%s", mob_strerror(rc));
			refused++;
		}
	}
	mob_client_stats(c, &st);
	cr_expect_gt(refused, 0, "a bound: %ld of 200 taken", ok);
	cr_expect_eq(st.tx_overflow, (uint64_t)refused);
	cr_expect_eq(st.tx, (uint64_t)ok);
	/* the hub acknowledges, the queue drains, publishing works again */
	for (int i = 0; i < 1000; i++) {
		pump2(c, 10);
		if ((rc = mob_client_publish(c, "mob/cov/" SVC "/0101/0001/40",
		    "{\"value\":2}", 1, 0)) == 0)
			break;
	}
	cr_expect_eq(rc, 0, "%s", mob_strerror(rc));
	mob_client_free(c);
}

struct since_rsp {
	int called;
	int err;
	cJSON *rsp;
};

static void
on_since(struct mob_client *c, int err, const cJSON *rsp, void *arg)
{
	struct since_rsp *a = arg;

	(void)c;
	a->called++;
	a->err = err;
	a->rsp = rsp != NULL ? cJSON_Duplicate(rsp, 1) : NULL;
}

/* since SEQ (and a filter, if any) to the publisher c; the response. */
static cJSON *
since(struct mob_client *c, double seq, const char *filter)
{
	struct since_rsp a = { 0, 0, NULL };
	cJSON *q, *f;

	cr_assert_not_null(q = cJSON_CreateObject());
	cJSON_AddStringToObject(q, "op", "since");
	cJSON_AddNumberToObject(q, "seq", seq);
	if (filter != NULL) {
		cr_assert_not_null(f = cJSON_AddArrayToObject(q, "filters"));
		cJSON_AddItemToArray(f, cJSON_CreateString(filter));
	}
	cr_assert_eq(mob_client_request_async(cli, SVC, q, 10000, on_since, &a), 0);
	cJSON_Delete(q);
	for (int i = 0; i < 2000 && a.called == 0; i++)
		pump2(c, 10);
	cr_assert_eq(a.called, 1);
	cr_assert_eq(a.err, 0, "%s", mob_strerror(a.err));
	return a.rsp;
}

/*
 * A publisher answers since from its history (lib/rt/mobius/history.h):
 * its COVs after seq, oldest first, a page at a time, only those matching
 * the filters; a malformed request is refused as invalid.
 */
Test(client, since_answers_the_covs_after_a_seq_a_page_at_a_time,
    .init = client_only_setup, .fini = standalone_fini, .timeout = 60)
{
	struct mob_client_cfg cfg = { 0 };
	struct mob_client *c;
	char dat[256];
	const cJSON *covs, *e;
	cJSON *rsp;
	double seq = 0, from;
	int n = 0, pages = 0, more = 1;

	c = publisher_open(&cfg);
	cr_assert_eq(mob_client_subscribe(cli, "mob/cov/" SVC "/#", 1), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(dat, sizeof(dat), "{\"value\":%d,\"pad\":\"%0120d\"}",
		    i, 0);
		cr_assert_eq(mob_client_publish(c, "mob/cov/" SVC "/0101/0001/40",
		    dat, 1, 0), 0);
		pump2(c, 0);
	}
	/*
	 * Its COVs reach cli: the hub took its SUBSCRIBEs (sent before them
	 * on its link), so a since request is no longer early (the key
	 * bundle, which makes a client ready, does not wait for them).
	 */
	for (int i = 0; i < 1000 && nrx == 0; i++) {
		if (i % 100 == 99)	/* in case all went before cli subscribed */
			mob_client_publish(c, "mob/cov/" SVC "/0104/0001/40",
			    "{\"value\":0}", 1, 0);
		pump2(c, 10);
	}
	cr_assert_gt(nrx, 0);
	while (more) {
		rsp = since(c, seq, NULL);
		cr_assert_eq(mob_client_rsp_error(rsp, NULL), 0);
		from = cJSON_GetObjectItem(rsp, "from")->valuedouble;
		cr_assert(seq > 0 || from > 0, "from %f", from);
		covs = cJSON_GetObjectItem(rsp, "covs");
		cr_assert(cJSON_IsArray(covs));
		cJSON_ArrayForEach(e, covs) {
			cr_assert_gt(cJSON_GetArrayItem(e, 0)->valuedouble, seq,
			    "rising seq");
			seq = cJSON_GetArrayItem(e, 0)->valuedouble;
			if (strcmp(cJSON_GetArrayItem(e, 2)->valuestring,
			    "mob/cov/" SVC "/0101/0001/40") != 0)
				continue;	/* a marker */
			cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 3),
			    "value")->valueint, n, "the COVs in order");
			n++;
		}
		more = cJSON_IsTrue(cJSON_GetObjectItem(rsp, "more"));
		pages++;
		cJSON_Delete(rsp);
	}
	cr_expect_eq(n, 300);
	cr_expect_gt(pages, 1, "more than one page for ~40 KiB");
	rsp = since(c, 0, "mob/cov/" SVC "/0102/#");
	cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(rsp, "covs")), 0,
	    "nothing matches the filter");
	cJSON_Delete(rsp);
	rsp = since(c, -1, NULL);
	cr_expect_eq(mob_client_rsp_error(rsp, NULL), MOB_EINVAL);
	cJSON_Delete(rsp);
	mob_client_free(c);
}

/* --- mobius-sim's command line and config errors (no node needed) ----- */

static char dir[256];

#define RES_SIM(x) "{\"objects\":[{\"pid\":\"0101\",\"ins\":\"0001\"," \
	"\"resources\":[{\"rid\":\"40\",\"name\":\"t\",\"type\":\"number\"," \
	"\"sim\":" x "}]}]}"

static void
cfg_setup(void)
{
	th_tmpdir(dir, sizeof(dir));
}

static void
cfg_teardown(void)
{
	th_rmtree(dir);
}

static int
run_sim(char *const extra[], char *out, size_t outlen)
{
	char path[512];
	char *argv[16];
	size_t i = 0;

	th_path("bin/mobius-sim", path, sizeof(path));
	argv[i++] = path;
	for (size_t j = 0; extra[j] != NULL && i < 15; j++)
		argv[i++] = extra[j];
	argv[i] = NULL;
	return th_run(argv, NULL, out, outlen, 10000);
}

Test(sim, usage_and_help, .init = cfg_setup, .fini = cfg_teardown)
{
	char out[2048];
	char *help[] = { "--help", NULL };
	char *none[] = { NULL };
	char *extra[] = { "--config", "x", "--key", "y", "z", NULL };

	cr_assert_eq(run_sim(help, out, sizeof(out)), 0);
	cr_assert(strstr(out, "usage: mobius-sim --config FILE --key FILE") != NULL);
	cr_assert_eq(run_sim(none, out, sizeof(out)), 2);
	cr_assert_eq(run_sim(extra, out, sizeof(out)), 2);
}

Test(sim, malformed_configs_name_file_and_path, .init = cfg_setup,
    .fini = cfg_teardown)
{
	static const struct { const char *text, *msg; } cases[] = {
		{ "{\"objects\":[],\"extra\":1}", "extra: unknown member" },
		{ "{\"objects\":[],\"queue\":8}",
		  "queue: must be between 16 and 1000000" },
		{ "{\"objects\":[],\"history\":-1}",
		  "history: must be between 0 and 1000000" },
		{ RES_SIM("{\"model\":\"sine\"}"),
		  "objects[0].resources[0].sim.model: must be \"drift\", \"counter\" or \"toggle\"" },
		{ RES_SIM("{\"model\":\"drift\",\"period\":0}"),
		  "objects[0].resources[0].sim.period: must be between 0.01 and 86400 seconds" },
		{ RES_SIM("{\"model\":\"toggle\"}"),
		  "objects[0].resources[0].sim.model: toggle needs a bool resource" },
		{ RES_SIM("{\"model\":\"drift\",\"pull\":2}"),
		  "objects[0].resources[0].sim.pull: must be between 0 and 1" },
		{ RES_SIM("{\"model\":\"counter\",\"follow\":\"0101/0001/40\"}"),
		  "objects[0].resources[0].sim.follow: only for the drift model" },
		{ RES_SIM("{\"model\":\"drift\",\"follow\":\"0101/0001\"}"),
		  "objects[0].resources[0].sim.follow: must be PID/INS/RID in upper-case "
		  "hex, like \"0102/0001/40\"" },
		{ RES_SIM("{\"model\":\"drift\",\"follow\":\"0101/0002/40\"}"),
		  "objects[0].resources[0].sim.follow: no resource 0101/0002/40 here" },
		{ "{\"objects\":[{\"pid\":\"0101\",\"ins\":\"0001\",\"resources\":"
		  "[{\"rid\":\"40\",\"name\":\"t\",\"type\":\"number\",\"max\":true}]}]}",
		  "objects[0].resources[0].max: must be a number" },
	};
	char cfg[400], key[400], want[600], logp[400];
	char *argv[] = { "--config", cfg, "--key", key, "--socket", "/nonexistent",
	    "--no-sandbox", NULL };

	/* a real key file, so only the config can be wrong */
	snprintf(key, sizeof(key), "%s/010.key", dir);
	{
		char tool[512], kdir[300];
		char *init[] = { tool, "--dir", kdir, "init", "--hid", TH_HID, NULL };
		char *add[] = { tool, "--dir", kdir, "add", "0010/010", NULL };

		th_path("bin/mobius-keytool", tool, sizeof(tool));
		snprintf(kdir, sizeof(kdir), "%s", dir);
		cr_assert_eq(th_run(init, NULL, NULL, 0, 10000), 0);
		cr_assert_eq(th_run(add, NULL, NULL, 0, 10000), 0);
	}
	snprintf(cfg, sizeof(cfg), "%s/sim.json", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct th_proc p;
		char path[512];
		char *full[12];
		size_t k = 0;

		write_file(cfg, cases[i].text);
		th_path("bin/mobius-sim", path, sizeof(path));
		full[k++] = path;
		for (size_t j = 0; argv[j] != NULL; j++)
			full[k++] = argv[j];
		full[k] = NULL;
		snprintf(logp, sizeof(logp), "%s/case%zu.log", dir, i);
		cr_assert_eq(th_spawn(&p, full, NULL, logp), 0);
		cr_expect_eq(WEXITSTATUS(th_stop(&p, 0, 10000)), 1, "case %zu", i);
		snprintf(want, sizeof(want), "mobius-sim: %s: %s", cfg, cases[i].msg);
		cr_expect_eq(th_wait_log(logp, want, 1000), 0, "case %zu: want \"%s\"",
		    i, want);
	}
}
