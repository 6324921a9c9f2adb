/*
 * mobius-router through a two-node RabbitMQ cluster (rabbitmq_web_mqtt, ws
 * at /ws): node 1's router on cluster node a, node 2's on cluster node b,
 * so every frame crosses the cluster.  Slow (the cluster takes about a
 * minute to start): run by `make check-rabbitmq`, which sets
 * MOBIUS_RABBITMQ=1; skipped otherwise, and when RabbitMQ is missing.
 */
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
static char rdir[256], out[65536];

static int
cluster(const char *cmd, char *ports, size_t len)
{
	char *argv[] = { "scripts/rabbitmq-cluster.sh", (char *)cmd, rdir, NULL };

	return th_run(argv, NULL, ports, len, 180000);
}

static void
setup(void)
{
	char ports[64] = "", url[2][64];
	int a, b;
	struct tp_opts o = { .sandbox = 1 };

	if (getenv("MOBIUS_RABBITMQ") == NULL)
		cr_skip_test("RabbitMQ cluster test: slow, run by make check-rabbitmq");
	if (access("/usr/lib/rabbitmq/bin/rabbitmq-server", X_OK) != 0)
		cr_skip_test("rabbitmq-server is not installed");
	th_tmpdir(rdir, sizeof(rdir));
	if (cluster("start", ports, sizeof(ports)) != 0 ||
	    sscanf(ports, "%d %d", &a, &b) != 2) {
		cluster("stop", NULL, 0);
		cr_assert_fail("the RabbitMQ cluster did not start (%s)", rdir);
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
	if (getenv("MOBIUS_RABBITMQ") == NULL ||
	    access("/usr/lib/rabbitmq/bin/rabbitmq-server", X_OK) != 0)
		return;
	tp_stop(&w);
	cluster("stop", NULL, 0);
	th_rmtree(rdir);
}

static int
cli(int node, const char *a, const char *b, const char *c)
{
	const char *args[] = { a, b, c, NULL };

	memset(out, 0, sizeof(out));
	return tp_cli(&w, node, out, sizeof(out), args);
}

Test(router_rabbitmq, peering_across_a_two_node_cluster, .init = setup,
    .fini = teardown, .timeout = 600)
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
}
