/*
 * mobius-router through a third-party no-man's broker: aedes (npm) behind
 * its WebSocket server (tests/node/aedes-broker.mjs), two nodes peered
 * over ws:// to it, and MQTT.js (npm) as an outsider subscribed to `#` on
 * that broker for the whole test (tests/node/sniff.mjs): it must see
 * frames of both routers and no value, name or URI of either node.
 *
 * The npm modules come from tests/node/package-lock.json (npm ci into
 * $MOBIUS_BUILD/node by scripts/node-deps.sh); without node, npm or the
 * registry (and nothing in npm's cache) the test is skipped, saying why.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "support/peers.h"

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libcriterion.so\n";	/* Criterion's runner */
}

static struct tp_world w;
static struct th_proc broker, sniffer;
static char bdir[256], ndir[512], snif[320], out[65536];

static void
node_spawn(struct th_proc *p, const char *script, const char *a1,
    const char *a2, const char *log, const char *ready)
{
	char path[600];
	char *argv[] = { "/usr/bin/env", "node", path, (char *)a1, (char *)a2,
	    NULL };

	snprintf(path, sizeof(path), "%s/%s", ndir, script);
	cr_assert_eq(th_spawn(p, argv, NULL, log), 0, "cannot start %s", script);
	cr_assert_eq(th_wait_log(log, ready, 30000), 0, "%s never said \"%s\" "
	    "(%s)", script, ready, log);
}

static void
setup(void)
{
	const char *build = getenv("MOBIUS_BUILD") ? getenv("MOBIUS_BUILD") : "build";
	char cmd[400], port[16], url[64], log[320];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct tp_opts o = { .sandbox = 1 };
	int rc;

	snprintf(cmd, sizeof(cmd), "scripts/node-deps.sh '%s' 2>&1", build);
	rc = th_run(argv, NULL, ndir, sizeof(ndir), 120000);
	ndir[strcspn(ndir, "\n")] = '\0';
	if (rc == 77)
		cr_skip_test("aedes and MQTT.js unavailable: %s", ndir);
	cr_assert_eq(rc, 0, "scripts/node-deps.sh: exit %d: %s", rc, ndir);
	th_tmpdir(bdir, sizeof(bdir));
	snprintf(port, sizeof(port), "%d", th_free_port());
	snprintf(url, sizeof(url), "ws://127.0.0.1:%s/mqtt", port);
	snprintf(log, sizeof(log), "%s/aedes.log", bdir);
	node_spawn(&broker, "aedes-broker.mjs", port, "127.0.0.1", log,
	    "listening on");
	/* the outsider is there before either router connects */
	snprintf(snif, sizeof(snif), "%s/sniffed.txt", bdir);
	snprintf(log, sizeof(log), "%s/sniff.log", bdir);
	node_spawn(&sniffer, "sniff.mjs", url, snif, log, "subscribed to #");
	o.ws_url = url;
	tp_start(&w, &o);
}

static void
teardown(void)
{
	if (bdir[0] == '\0')
		return;		/* skipped */
	tp_stop(&w);
	th_stop(&sniffer, SIGTERM, 5000);
	th_stop(&broker, SIGTERM, 5000);
	if (getenv("MOBIUS_KEEP") == NULL)
		th_rmtree(bdir);
}

static int
cli(int node, const char *a, const char *b, const char *c, const char *d)
{
	const char *args[] = { a, b, c, d, NULL };

	memset(out, 0, sizeof(out));
	return tp_cli(&w, node, out, sizeof(out), args);
}

/* Frames on topic seen by the outsider. */
static size_t
count(const struct tp_frame *f, size_t n, const char *topic)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += strcmp(f[i].topic, topic) == 0;
	return k;
}

Test(router_aedes, peering_through_aedes_shows_an_outsider_no_plaintext,
    .init = setup, .fini = teardown, .timeout = 300)
{
	static struct tp_frame f[8192];
	static const char *topics[] = { "mob/x/000001/000002/data",
	    "mob/x/000002/000001/data", "mob/x/000001/000002/live",
	    "mob/x/000002/000001/live", NULL };
	char why[256];
	size_t n;

	for (int i = 0; i < 2; i++) {
		const char *other = w.n[1 - i].hid;
		char uri[64], setp[64], pat[16];

		snprintf(uri, sizeof(uri), "%s/010/0101/0001/40", other);
		cr_assert_eq(cli(i, "get", uri, NULL, NULL), 0, "%s", out);
		cr_assert_not_null(strstr(out, "Cel"), "%s", out);
		snprintf(setp, sizeof(setp), "%s/010/0102/0001/40", other);
		cr_assert_eq(cli(i, "set", setp, i ? "19.5" : "24.5", NULL), 0,
		    "%s", out);
		cr_assert_eq(cli(i, "get", setp, NULL, NULL), 0, "%s", out);
		cr_assert_not_null(strstr(out, i ? "19.5" : "24.5"), "%s", out);
		snprintf(pat, sizeof(pat), "%s/#", other);
		cr_assert_eq(cli(i, "watch", "--duration", "3", pat), 0, "%s", out);
		cr_assert_not_null(strstr(out, setp), "watch from %s: %s",
		    w.n[i].hid, out);
	}
	cr_assert_eq(tp_stat(&w, 0, "bad_signature"), 0);
	cr_assert_eq(tp_stat(&w, 1, "bad_signature"), 0);

	/* the outsider read both routers' traffic, both classes */
	th_stop(&sniffer, SIGTERM, 5000);
	n = tp_frames_read(snif, 0, f, 8192);
	for (size_t k = 0; topics[k] != NULL; k++)
		cr_assert_gt(count(f, n, topics[k]), 0, "the outsider saw no frame "
		    "on %s (%zu frames): the test proved nothing", topics[k], n);
	cr_assert_null(tp_frames_plaintext(f, n, why, sizeof(why)), "%s", why);
}
