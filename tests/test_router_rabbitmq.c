/*
 * mobius-router through a two-node RabbitMQ cluster (rabbitmq_web_mqtt, ws
 * at /ws): node 1's router on cluster node a, node 2's on cluster node b,
 * so every frame crosses the cluster.  Each router logs in as its own user
 * with docs/router.md's production permissions (scripts/rabbitmq-cluster.sh
 * user): `{username}` topic permissions let it write only
 * mob/x/<any>/<its HID>/<class> and read only mob/x/<its HID>/#.  Probes
 * with a router's credentials (mosquitto_pub/_sub on the cluster's MQTT
 * TCP listener) show the broker refusing the rest.
 *
 * Slow (the cluster takes about a minute to start): run by `make
 * check-rabbitmq`, which sets MOBIUS_RABBITMQ=1; skipped otherwise, and
 * when RabbitMQ is missing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "support/peers.h"

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";	/* Criterion's runner */
}

static struct tp_world w;
static char rdir[256], out[65536], pw[2][32], mqtt[2][16];

static int
cluster(const char *cmd, const char *a, const char *b, char *o, size_t len)
{
	char *argv[] = { "scripts/rabbitmq-cluster.sh", (char *)cmd, rdir,
	    (char *)a, (char *)b, NULL };

	return th_run(argv, NULL, o, len, 180000);
}

static int
enabled(void)
{
	return getenv("MOBIUS_RABBITMQ") != NULL &&
	    access("/usr/lib/rabbitmq/bin/rabbitmq-server", X_OK) == 0;
}

static void
setup(void)
{
	static char pwfile[2][320];
	char ports[128] = "", url[2][64];
	const char *hid[2] = { "000001", "000002" };
	int a, b, ma, mb;
	struct tp_opts o = { .sandbox = 1 };

	if (getenv("MOBIUS_RABBITMQ") == NULL)
		cr_skip_test("RabbitMQ cluster test: slow, run by make check-rabbitmq");
	if (!enabled())
		cr_skip_test("rabbitmq-server is not installed");
	th_tmpdir(rdir, sizeof(rdir));
	if (cluster("start", NULL, NULL, ports, sizeof(ports)) != 0 ||
	    sscanf(ports, "%d %d %d %d", &a, &b, &ma, &mb) != 4) {
		cluster("stop", NULL, NULL, NULL, 0);
		cr_assert_fail("the RabbitMQ cluster did not start (%s)", rdir);
	}
	snprintf(mqtt[0], sizeof(mqtt[0]), "%d", ma);
	snprintf(mqtt[1], sizeof(mqtt[1]), "%d", mb);
	for (int i = 0; i < 2; i++) {
		snprintf(pw[i], sizeof(pw[i]), "pw-%s-%ld", hid[i], (long)getpid());
		cr_assert_eq(cluster("user", hid[i], pw[i], NULL, 0), 0,
		    "rabbitmqctl could not make user %s", hid[i]);
		snprintf(pwfile[i], sizeof(pwfile[i]), "%s/%s.password", rdir, hid[i]);
		th_write_file(pwfile[i], pw[i]);
		o.username[i] = hid[i];
		o.passfile[i] = pwfile[i];
	}
	snprintf(url[0], sizeof(url[0]), "ws://127.0.0.1:%d/ws", a);
	snprintf(url[1], sizeof(url[1]), "ws://127.0.0.1:%d/ws", b);
	o.ws_url = url[0];
	o.ws_url2 = url[1];
	tp_start(&w, &o);
}

static void
teardown(void)
{
	if (!enabled())
		return;
	tp_stop(&w);
	cluster("stop", NULL, NULL, NULL, 0);
	th_rmtree(rdir);
}

static int
cli(int node, const char *a, const char *b, const char *c)
{
	const char *args[] = { a, b, c, NULL };

	memset(out, 0, sizeof(out));
	return tp_cli(&w, node, out, sizeof(out), args);
}

/*
 * mosquitto_pub (pub) or mosquitto_sub -E (exit once subscribed) as node
 * i's router user on cluster node i, with a client id of its own (its
 * queue name is within the user's permissions); the command in cmd.
 */
static void
probe_cmd(int i, int pub, const char *topic, char *cmd, size_t len)
{
	snprintf(cmd, len, "exec %s -h 127.0.0.1 -p %s -u %s -P %s "
	    "-i mobius-router-%s-probe -q 1 -t '%s' %s 2>&1",
	    pub ? "mosquitto_pub" : "mosquitto_sub", mqtt[i], w.n[i].hid,
	    pw[i], w.n[i].hid, topic, pub ? "-m probe" : "-E");
}

static int
allowed(int i, int pub, const char *topic)
{
	char cmd[512];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	probe_cmd(i, pub, topic, cmd, sizeof(cmd));
	memset(out, 0, sizeof(out));
	return th_run(argv, NULL, out, sizeof(out), 60000);
}

/*
 * The probe is refused: cluster node i logs the topic permission it
 * denied (RabbitMQ's routing key: '.' for '/', '*' for '+') and closes
 * the connection.  A refused publish makes mosquitto_pub fail; a refused
 * subscription is never acknowledged (mosquitto_sub reconnects, and is
 * stopped).
 */
static void
refused(int i, int pub, const char *topic)
{
	char cmd[512], key[64], log[400], plog[300], line[600];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct th_proc p;
	int rc;

	snprintf(key, sizeof(key), "%s", topic);
	for (char *c = key; *c != '\0'; c++)
		*c = *c == '/' ? '.' : *c == '+' ? '*' : *c;
	snprintf(line, sizeof(line), "access to topic '%s' in exchange "
	    "'amq.topic' in vhost '/' refused for user '%s'", key, w.n[i].hid);
	snprintf(log, sizeof(log), "%s/mobius-%c/log/mobius-%c@localhost.log",
	    rdir, "ab"[i], "ab"[i]);
	probe_cmd(i, pub, topic, cmd, sizeof(cmd));
	if (pub) {
		memset(out, 0, sizeof(out));
		rc = th_run(argv, NULL, out, sizeof(out), 60000);
		cr_assert_neq(rc, 0, "%s published on %s: %s", w.n[i].hid, topic,
		    out);
	} else {
		snprintf(plog, sizeof(plog), "%s/probe.log", rdir);
		cr_assert_eq(th_spawn(&p, argv, NULL, plog), 0);
	}
	rc = th_wait_log(log, line, 60000);
	if (!pub)
		th_stop(&p, SIGTERM, 5000);
	cr_assert_eq(rc, 0, "%s: no \"%s\"", log, line);
}

Test(router_rabbitmq, peering_across_a_two_node_cluster_with_topic_permissions,
    .init = setup, .fini = teardown, .timeout = 600)
{
	cr_assert_eq(cli(0, "get", "000002/010/0101/0001/40", NULL), 0, "%s", out);
	cr_assert_not_null(strstr(out, "Cel"), "%s", out);
	cr_assert_eq(cli(0, "set", "000002/010/0102/0001/40", "25.5"), 0, "%s", out);
	cr_assert_eq(cli(1, "get", "000001/010/0102/0001/40", NULL), 0, "%s", out);
	cr_assert_eq(cli(1, "set", "000001/010/0103/0001/40", "true"), 1,
	    "the export policy holds here too: %s", out);
	{
		const char *args[] = { "watch", "--duration", "3", "000002/#", NULL };

		cr_assert_eq(tp_cli(&w, 0, out, sizeof(out), args), 0, "%s", out);
		cr_assert_not_null(strstr(out, "25.5"), "%s", out);
	}
	cr_assert_eq(tp_stat(&w, 0, "bad_signature"), 0);

	/* what the user may: write as itself (to a node nobody reads), read
	 * its inbox; the controls for the refusals below */
	cr_assert_eq(allowed(0, 1, "mob/x/00000F/000001/data"), 0, "%s", out);
	cr_assert_eq(allowed(0, 0, "mob/x/000001/#"), 0, "%s", out);
	cr_assert_eq(allowed(1, 0, "mob/x/000002/+/+"), 0, "%s", out);
	/* write as another router, read another's inbox or everything */
	refused(0, 1, "mob/x/00000F/000002/data");
	refused(1, 1, "mob/x/000002/000001/live");
	refused(0, 0, "mob/x/000002/#");
	refused(1, 0, "mob/x/+/000001/data");
	refused(0, 0, "#");

	/* and peering goes on */
	cr_assert_eq(cli(1, "get", "000001/010/0101/0001/40", NULL), 0, "%s", out);
	cr_assert_eq(cli(0, "get", "000002/010/0102/0001/40", NULL), 0, "%s", out);
	cr_assert_not_null(strstr(out, "25.5"), "%s", out);
}
