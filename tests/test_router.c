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

#include "mobius/clock.h"
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

/*
 * A loader's error is one precise line, not that line and a generic one
 * (as test_cli a_missing_key_file_is_one_line_naming_it for the CLI and
 * the services): mob_client_new names the key file and the reason.
 */
Test(router, a_missing_key_file_is_one_line_naming_it, .timeout = 30)
{
	static const char *const progs[] = { "bin/mobius-router",
	    "bin/mobius-api" };
	char dir[256], key[300], path[512], cmd[2048];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	th_tmpdir(dir, sizeof(dir));
	snprintf(key, sizeof(key), "%s/missing.key", dir);
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		char *nl;

		th_path(progs[i], path, sizeof(path));
		/* the key is loaded before the configuration is read */
		snprintf(cmd, sizeof(cmd), "exec '%s' --config /dev/null --key "
		    "'%s' --socket '%s/hub.sock' --no-sandbox%s%s%s%s 2>&1", path,
		    key, dir, i == 0 ? " --external-key " : "", i == 0 ? key : "",
		    i == 0 ? " --state " : "", i == 0 ? dir : "");
		memset(out, 0, sizeof(out));
		cr_expect_eq(th_run(argv, NULL, out, sizeof(out), 10000), 1,
		    "%s: %s", progs[i], out);
		nl = strchr(out, '\n');
		cr_expect(nl != NULL && nl[1] == '\0', "%s: one line: %s",
		    progs[i], out);
		cr_expect_not_null(strstr(out, key), "%s: names the file: %s",
		    progs[i], out);
		cr_expect_not_null(strstr(out, "No such file"), "%s: %s",
		    progs[i], out);
	}
	th_rmtree(dir);
}

/*
 * Peering by hand, as with WireGuard: both routers run with no peer; each
 * node imports the other's export-peer output, and the running routers
 * pick it up (they watch the peer file): no restart.  remove-peer undoes
 * it just as live.
 */
static void
start_unpeered(void)
{
	struct tp_opts o = { .sandbox = 1, .no_import = 1 };

	tp_start(&w, &o);
}

Test(router, import_peer_peers_running_routers_and_remove_peer_unpeers,
    .init = start_unpeered, .fini = stop, .timeout = 120)
{
	const char *rm[] = { "remove-peer", "000002/0F0", NULL };
	int rc = -1;

	cr_assert_eq(tp_stat(&w, 0, "reachable"), -1, "peered before import");
	tp_import(&w, 0);
	tp_import(&w, 1);
	cr_assert_eq(tp_wait_stat(&w, 0, "reachable", 1, 30000), 0);
	cr_assert_eq(tp_wait_stat(&w, 1, "reachable", 1, 30000), 0);
	for (int k = 0; k < 20 && rc != 0; k++)
		if ((rc = cli(0, "get", TEMP, NULL, NULL, NULL)) != 0)
			usleep(200000);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_not_null(strstr(out, "Cel"), "%s", out);

	cr_assert_eq(tp_keytool(&w, 0, out, sizeof(out), rm), 0, "%s", out);
	for (int k = 0; k < 200 && tp_stat(&w, 0, "rx") != -1; k++)
		usleep(100000);
	cr_assert_eq(tp_stat(&w, 0, "rx"), -1, "node 1's router kept node 2");
	cr_assert_neq(cli(0, "get", TEMP, NULL, NULL, NULL), 0, "%s", out);
}

/* Compat mode (HS256 service keys) on both nodes: the external key is
 * Ed25519 all the same, and everything works alike. */
static void
start_compat(void)
{
	struct tp_opts o = { .sandbox = 1, .compat = 1 };

	tp_start(&w, &o);
}

Test(router, remote_get_set_watch_in_compat_key_mode, .init = start_compat,
    .fini = stop, .timeout = 120)
{
	cr_assert_eq(cli(0, "get", TEMP, NULL, NULL, NULL), 0, "%s", out);
	cr_assert_not_null(strstr(out, "Cel"), "%s", out);
	cr_assert_eq(cli(0, "set", SETP, "22.5", NULL, NULL), 0, "%s", out);
	cr_assert_eq(cli(0, "watch", "--duration", "2", "000002/#", NULL), 0,
	    "%s", out);
	cr_assert_not_null(strstr(out, SETP), "%s", out);
	cr_assert_eq(cli(1, "get", "000001/010/0101/0001/40", NULL, NULL, NULL),
	    0, "%s", out);
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
 * A read-order test: root (to drop to a user), strace, confined daemons.
 * Criterion 2.4.1 runs no .fini after a test skips: the world is stopped
 * here first, or its hubs, routers and broker would outlive the run.
 */
static void
need_traced_confinement(void)
{
	const char *skip = NULL, *b = getenv("MOBIUS_BUILD");

	if (geteuid() != 0)
		skip = "not root: the question is what a root daemon parses "
		    "before it drops to its user";
	else if ((skip = th_strace_missing()) != NULL)
		;
	else if (b != NULL && strlen(b) >= 3 &&
	    strcmp(b + strlen(b) - 3, "san") == 0)
		skip = "the sanitizer build runs the routers and mobius-front "
		    "unconfined";
	if (skip != NULL) {
		tp_stop(&w);
		cr_skip_test("%s", skip);
	}
}

/* Stop the traced daemon p: it read peers' bytes, and only once confined. */
static void
assert_read_confined(struct th_proc *p, const char *trace, const char *hub_sock)
{
	char why[512];

	cr_assert_eq(kill(th_trace_pid(trace), SIGTERM), 0);
	cr_assert(WIFEXITED(th_stop(p, 0, 15000)));
	cr_assert_gt(th_trace_confined_first(trace, hub_sock, why, sizeof(why)), 0,
	    "%s", why);
}

/*
 * Started as root, the router reads nothing from its hub or the broker
 * before its seccomp filter is in (docs/security.md): node 1's router is
 * restarted under strace -f, and the trace shows the order.
 */
Test(router, started_as_root_it_reads_no_peer_byte_before_it_is_confined,
    .init = start_default, .fini = stop, .timeout = 120)
{
	struct tp_node *n = &w.n[0];
	char bin[512], key[340], ext[340], log[340], peers[340], trace[340];
	char *traced[40];
	char *argv[] = { bin, "--config", n->rconf, "--key", key,
	    "--external-key", ext, "--state", n->rstate, "--socket", n->sock,
	    "--peers", peers, "-v", NULL };
	char *env[] = { "MOBIUS_SANDBOX_USER=nobody", NULL };

	need_traced_confinement();
	tp_router_kill(&w, 0, SIGTERM);
	th_path("bin/mobius-router", bin, sizeof(bin));
	snprintf(key, sizeof(key), "%s/0F0.key", n->keys);
	snprintf(ext, sizeof(ext), "%s/0F0.external.key", n->keys);
	snprintf(peers, sizeof(peers), "%s/peers", n->keys);
	snprintf(log, sizeof(log), "%s/router-traced.log", n->dir);
	snprintf(trace, sizeof(trace), "%s/router.trace", n->dir);
	th_strace_argv(argv, trace, traced, 40);
	cr_assert_eq(th_spawn(&n->router, traced, env, log), 0);
	cr_assert_eq(th_wait_log(log, "000002: reachable", 60000), 0,
	    "the traced router never reached node 2");
	/* a request and its answer: peer bytes both ways */
	cr_assert_eq(cli(0, "get", TEMP, NULL, NULL, NULL), 0, "%s", out);
	assert_read_confined(&n->router, trace, n->sock);
}

/*
 * mobius-front, started as root, reads nothing from a WebSocket client or
 * the broker before its seccomp filter is in: a second front on node
 * 1's broker under strace -f carries one MQTT CONNECT and its CONNACK.
 */
Test(router, front_started_as_root_reads_no_peer_byte_before_it_is_confined,
    .init = start_default, .fini = stop, .timeout = 120)
{
	char bin[512], port[16], broker[96], host[64], log[340], trace[340];
	char py[512], *traced[40];
	char *argv[] = { bin, "--listen", "127.0.0.1", "--port", port,
	    "--broker", broker, NULL };
	char *client[] = { "/usr/bin/python3", "-c", py, NULL };
	char *env[] = { "MOBIUS_SANDBOX_USER=nobody", NULL };
	struct th_proc front;
	int mq, ws = th_free_port();

	need_traced_confinement();
	if (system("/usr/bin/python3 -c 'import websocket' 2>/dev/null") != 0)
		cr_skip_test("python3-websocket is not installed");
	tp_broker_addr(&w, host, sizeof(host), &mq);
	snprintf(broker, sizeof(broker), "%s:%d", host, mq);
	snprintf(port, sizeof(port), "%d", ws);
	th_path("bin/mobius-front", bin, sizeof(bin));
	snprintf(log, sizeof(log), "%s/front-traced.log", w.dir);
	snprintf(trace, sizeof(trace), "%s/front.trace", w.dir);
	th_strace_argv(argv, trace, traced, 40);
	cr_assert_eq(th_spawn(&front, traced, env, log), 0);
	cr_assert_eq(th_wait_log(log, "-> mqtt", 20000), 0, "the front did not start");
	/* MQTT 3.1.1 CONNECT, clean session, empty client id; CONNACK back */
	snprintf(py, sizeof(py), "import sys, websocket\n"
	    "ws = websocket.create_connection('ws://127.0.0.1:%d/', "
	    "subprotocols=['mqtt'], timeout=10)\n"
	    "ws.send_binary(bytes([16, 12, 0, 4, 77, 81, 84, 84, 4, 2, 0, 60, 0, 0]))\n"
	    "sys.exit(0 if ws.recv()[0] == 0x20 else 1)\n", ws);
	cr_assert_eq(th_run(client, NULL, NULL, 0, 20000), 0, "no CONNACK through the front");
	assert_read_confined(&front, trace, "/nonexistent");
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

/* ---- a hostile broker ----------------------------------------------------- */

/*
 * The broker is the attacker: a subscriber to everything (mosquitto_sub
 * as user "sniffer", whom the broker's ACL lets read and write all) keeps
 * every frame of the test; the broker's ACL gives each router only its
 * own topics ("write only as yourself, read only your inbox").
 */
static void
start_hostile(void)
{
	struct tp_opts o = { .sandbox = 1, .acl = 1,
	    .username = { "000001", "000002" } };

	tp_start(&w, &o);
}

/* A frame's big-endian u64 at `off` (docs/protocol.md §7: seq 26, ts 34). */
static uint64_t
frame_u64(const struct tp_frame *f, size_t off)
{
	uint64_t v = 0;

	for (size_t k = off; k < off + 8 && k < f->len; k++)
		v = v << 8 | f->b[k];
	return v;
}

static size_t
lines(const char *path)
{
	return (size_t)th_count_log(path, "\n");
}

static void
inject(const struct tp_frame *f, int flip)
{
	char path[400], host[64], port[16];
	uint8_t b[4096];
	FILE *fp;
	int p;

	memcpy(b, f->b, f->len);
	if (flip == 1)
		b[f->len / 2] ^= 0x01;
	else if (flip == 2)
		b[1] &= ~0x01;		/* the sealed flag: "plaintext" */
	snprintf(path, sizeof(path), "%s/inject.bin", w.dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	cr_assert_eq(fwrite(b, 1, f->len, fp), f->len);
	fclose(fp);
	tp_broker_addr(&w, host, sizeof(host), &p);
	snprintf(port, sizeof(port), "%d", p);
	{
		char *argv[] = { "/usr/bin/mosquitto_pub", "-h", host, "-p", port,
		    "-u", "sniffer", "-q", "1", "-t", (char *)f->topic, "-f",
		    path, NULL };

		cr_assert_eq(th_run(argv, NULL, NULL, 0, 10000), 0);
	}
}

static void
acl_read(int allow)
{
	char text[512];
	FILE *fp = fopen(w.acl, "w");

	snprintf(text, sizeof(text),
	    "user 000001\ntopic write mob/x/+/000001/#\n%s"
	    "user 000002\ntopic write mob/x/+/000002/#\ntopic read mob/x/000002/#\n"
	    "user sniffer\ntopic readwrite #\n",
	    allow ? "topic read mob/x/000001/#\n" : "");
	char log[400];
	int before;

	cr_assert_not_null(fp);
	fputs(text, fp);
	fclose(fp);
	snprintf(log, sizeof(log), "%s/mosquitto.log", w.dir);
	before = th_count_log(log, "Reloading config");
	kill(w.broker.pid, SIGHUP);
	for (int t = 0; t < 200 && th_count_log(log, "Reloading config") <=
	    before; t++)
		usleep(50000);
	cr_assert_gt(th_count_log(log, "Reloading config"), before,
	    "the broker did not reload its ACL");
}

/* The first data frame of node 2 to node 1 whose seq is at least `min`. */
static const struct tp_frame *
data_from(const struct tp_frame *f, size_t n, double min)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].topic, "mob/x/000001/000002/data") == 0 &&
		    f[i].len >= 42 && (double)frame_u64(&f[i], 26) >= min)
			return &f[i];
	return NULL;
}

/* A router counter once two of its ~1 s stats writes agree. */
static double
stable_stat(int node, const char *name)
{
	double a = tp_stat(&w, node, name), b;

	for (int t = 0; t < 30; t++) {
		usleep(1200000);
		if ((b = tp_stat(&w, node, name)) == a)
			return b;
		a = b;
	}
	cr_assert_fail("%s of router %d never settled", name, node);
	return -1;
}

/*
 * A subscriber to everything on the broker, as the sniffer, writing
 * "TOPIC HEX" lines to `path`: returns once it has seen its own probe.
 */
static void
sniffer_start(struct th_proc *sub, const char *path)
{
	char host[64], port[16];
	int p;

	tp_broker_addr(&w, host, sizeof(host), &p);
	snprintf(port, sizeof(port), "%d", p);
	{
		char *argv[] = { "/usr/bin/mosquitto_sub", "-h", host, "-p", port,
		    "-u", "sniffer", "-t", "#", "-F", "%t %x", NULL };

		cr_assert_eq(th_spawn(sub, argv, NULL, path), 0);
	}
	for (int t = 0; t < 100 && th_count_log(path, "mob/x/probe") == 0; t++) {
		char *argv[] = { "/usr/bin/mosquitto_pub", "-h", host, "-p", port,
		    "-u", "sniffer", "-t", "mob/x/probe", "-m", "probe", NULL };

		cr_assert_eq(th_run(argv, NULL, NULL, 0, 10000), 0);
		usleep(100000);
	}
	cr_assert_gt(th_count_log(path, "mob/x/probe"), 0,
	    "the sniffer never subscribed");
}

Test(router, hostile_broker_sees_no_plaintext_and_its_frames_are_refused,
    .init = start_hostile, .fini = stop, .timeout = 180)
{
	static struct tp_frame f[4096];
	char snif[400], why[256];
	struct th_proc sub;
	const struct tp_frame *ahead = NULL;
	size_t n, mark;
	double hwm;
	int r;

	snprintf(snif, sizeof(snif), "%s/sniffer.txt", w.dir);
	sniffer_start(&sub, snif);
	/* traffic of every kind, both ways */
	cr_assert_eq(cli(0, "discover", "000002", NULL, NULL, NULL), 0, "%s", out);
	cr_assert_eq(cli(0, "get", TEMP, NULL, NULL, NULL), 0, "%s", out);
	cr_assert_eq(cli(0, "set", SETP, "24.5", NULL, NULL), 0, "%s", out);
	cr_assert_eq(cli(1, "get", "000001/010/0101/0001/40", NULL, NULL, NULL),
	    0, "%s", out);
	cr_assert_eq(cli(0, "watch", "--duration", "2", "000002/#", NULL), 0,
	    "%s", out);

	/*
	 * The broker withholds node 1's inbox: frames node 1 never got.  One
	 * two or more seq ahead of node 1's mark is injected while node 2's
	 * router is paused (no resend can fill the gap meanwhile): a reorder.
	 */
	acl_read(0);
	mark = lines(snif);
	for (int t = 0; t < 300 && ahead == NULL; t++) {
		usleep(100000);
		n = tp_frames_read(snif, mark, f, 4096);
		ahead = data_from(f, n, tp_stat(&w, 0, "data_hwm") + 2);
	}
	cr_assert_not_null(ahead, "node 2 sent no data while node 1's inbox "
	    "was held");
	kill(w.n[1].router.pid, SIGSTOP);
	acl_read(1);
	hwm = stable_stat(0, "data_hwm");
	n = tp_frames_read(snif, mark, f, 4096);
	ahead = data_from(f, n, hwm + 2);
	cr_assert_not_null(ahead, "no withheld frame beyond node 1's mark %.0f",
	    hwm);
	inject(ahead, 0);
	r = tp_wait_stat(&w, 0, "reorder", 1, 10000);
	kill(w.n[1].router.pid, SIGCONT);
	cr_assert_eq(r, 0, "an injected frame ahead of the mark was not "
	    "counted as reordered");
	cr_assert_eq(tp_wait_stat(&w, 0, "reachable", 1, 30000), 0);
	/* node 2 resends what was not acknowledged: all of it arrives */
	cr_assert_eq(cli(0, "get", TEMP, NULL, NULL, NULL), 0, "%s", out);

	n = tp_frames_read(snif, 0, f, 4096);
	cr_assert_gt(n, 20, "the sniffer saw %zu frames", n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].topic, "mob/x/000001/000002/data") == 0) {
			double before = tp_stat(&w, 0, "replay");

			inject(&f[i], 0);	/* replayed */
			cr_assert_eq(tp_wait_stat(&w, 0, "replay", before + 1,
			    10000), 0);
			inject(&f[i], 1);	/* tampered */
			cr_assert_eq(tp_wait_stat(&w, 0, "bad_signature", 1,
			    10000), 0);
			inject(&f[i], 2);	/* passed off as unsealed */
			cr_assert_eq(tp_wait_stat(&w, 0, "unsealed", 1, 10000), 0);
			break;
		}
	th_stop(&sub, SIGTERM, 5000);

	/* who talks to whom, sizes and timing: nothing else */
	n = tp_frames_read(snif, 0, f, 4096);
	cr_assert_null(tp_frames_plaintext(f, n, why, sizeof(why)), "%s", why);
	/* the routers' counters name each refusal; nothing forged got in */
	cr_assert_eq(tp_stat(&w, 0, "bad_crypto"), 0);
	cr_assert_eq(tp_stat(&w, 0, "bad_body"), 0);
}

/* ---- replay across a crash of the receiving router (review F2) ------------ */

static void
router_restart(int i)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/stats.json", w.n[i].rstate);
	unlink(path);
	tp_router_start(&w, i);
	cr_assert_eq(tp_wait_stat(&w, i, "linked", 1, 20000), 0);
}

static void
inject_live(const char *snif, size_t from, size_t to)
{
	static struct tp_frame f[4096];
	size_t n = tp_frames_read(snif, from, f, 4096), k = 0;

	for (size_t i = 0; i < n && from + i < to; i++)
		if (strcmp(f[i].topic, "mob/x/000002/000001/live") == 0) {
			inject(&f[i], 0);
			k++;
		}
	cr_assert_gt(k, 0, "no live frame to node 2 was captured");
}

/*
 * The sniffer's line count once it holds a live frame of node 1 to node
 * 2 made after `since` (wall ms): node 1's router publishes in the order
 * it makes frames and the broker keeps that order, so every frame made
 * before `since` (the write) is in the sniffer's file by then.  Node 1's
 * heartbeat (every 2 s) makes one soon.
 */
static size_t
live_after(const char *snif, size_t from, int64_t since)
{
	static struct tp_frame f[4096];

	for (int t = 0; t < 300; t++) {
		size_t n = tp_frames_read(snif, from, f, 4096);

		for (size_t i = 0; i < n; i++)
			if (strcmp(f[i].topic, "mob/x/000002/000001/live") == 0 &&
			    f[i].len >= 42 && (int64_t)frame_u64(&f[i], 34) > since)
				return from + n;
		usleep(100000);
	}
	cr_assert_fail("no live frame of node 1 made after its write");
	return 0;
}

static void
assert_setpoint_is_20(void)
{
	cr_assert_eq(cli(1, "get", SETP, NULL, NULL, NULL), 0, "%s", out);
	cr_assert_not_null(strstr(out, "20"), "%s", out);
	cr_assert_null(strstr(out, "24.5"), "a replayed write ran twice: %s", out);
}

/*
 * Node 2's router killed (-9) and restarted on the state file `state`,
 * then the frames [from, to) replayed.  Node 1's router is stopped
 * meanwhile: the broker delivers the replay before any fresh frame of
 * node 1 (whose newer seq would hide it).
 */
static void
crash_and_replay(const char *st, const char *state, const char *snif,
    size_t from, size_t to)
{
	FILE *fp;
	int r;

	kill(w.n[0].router.pid, SIGSTOP);
	tp_router_kill(&w, 1, SIGKILL);
	cr_assert_not_null(fp = fopen(st, "w"));
	fputs(state, fp);
	fclose(fp);
	router_restart(1);
	inject_live(snif, from, to);
	r = tp_wait_stat(&w, 1, "stale", 1, 10000);
	assert_setpoint_is_20();
	cr_assert_eq(r, 0, "the replayed frames were not counted stale");
	kill(w.n[0].router.pid, SIGCONT);
}

/*
 * The broker keeps a remote write; node 2's router is killed (-9) with
 * its state rolled back to before the write (what a crash between two
 * ~1 s saves leaves), then with a corrupt state file: either way the
 * replayed write, younger than the 30 s live window, is refused.
 */
Test(router, a_live_write_replayed_after_a_crash_is_refused,
    .init = start_hostile, .fini = stop, .timeout = 180)
{
	char snif[400], st[400], saved[128] = "";
	struct th_proc sub;
	size_t from, to;
	FILE *fp;

	snprintf(snif, sizeof(snif), "%s/sniffer.txt", w.dir);
	snprintf(st, sizeof(st), "%s/000001.state", w.n[1].rstate);
	sniffer_start(&sub, snif);
	cr_assert_eq(cli(0, "get", TEMP, NULL, NULL, NULL), 0, "%s", out);
	/* node 2's marks as saved before the write (any time before will do) */
	for (int t = 0; t < 200 && saved[0] == '\0'; t++) {
		usleep(100000);
		if ((fp = fopen(st, "r")) == NULL)
			continue;
		if (fgets(saved, sizeof(saved), fp) == NULL)
			saved[0] = '\0';
		fclose(fp);
	}
	cr_assert_neq(saved[0], '\0', "node 2 never saved its marks in %s", st);
	from = lines(snif);
	cr_assert_eq(cli(0, "set", SETP, "24.5", NULL, NULL), 0, "%s", out);
	to = live_after(snif, from, mob_clock_wall_ms());
	cr_assert_eq(cli(0, "set", SETP, "20", NULL, NULL), 0, "%s", out);

	crash_and_replay(st, saved, snif, from, to);	/* marks rolled back */
	crash_and_replay(st, "garbage\n", snif, from, to);	/* corrupt */
	/* data still flows once node 1's heartbeat says where it stands */
	cr_assert_eq(tp_wait_stat(&w, 1, "reachable", 1, 20000), 0);
	cr_assert_eq(cli(1, "get", "000001/010/0101/0001/40", NULL, NULL, NULL),
	    0, "%s", out);
	th_stop(&sub, SIGTERM, 5000);
}

/* ---- clocks apart: a receiver whose clock was ahead at its start ---------- */

/* A world whose nodes' clocks the test steps (libfaketime): clock[i]. */
static void
start_clocks(const char *c0, const char *c1)
{
	const char *b = getenv("MOBIUS_BUILD");
	struct tp_opts o = { .sandbox = 1, .clock = { c0, c1 } };

	if (b != NULL && strstr(b, "san") != NULL)
		cr_skip_test("the SAN tree preloads the ASan runtime, which takes "
		    "LD_PRELOAD from libfaketime; the normal tree runs this test");
	if (access("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
	    R_OK) != 0)
		cr_skip_test("libfaketime (Debian package faketime) is not installed");
	tp_start(&w, &o);
}

static void
start_node2_clock(void)
{
	start_clocks(NULL, "+0");
}

/*
 * Node 2 (hub, sim, router: libfaketime, one offset file) has its clock an
 * hour ahead while its router restarts, then NTP steps it back.  Judged by
 * clocks, every live frame of node 1 would be older than node 2's router
 * for an hour and be refused; judged by node 1's answer to node 2's
 * challenge (protocol.md §7, "Live frames across a restart"), node 1's
 * requests are served again as soon as the clocks agree within bounds.
 */
Test(router, a_receiver_clock_ahead_at_start_takes_live_frames_after_the_step,
    .init = start_node2_clock, .fini = stop, .timeout = 150)
{
	char path[400];

	tp_router_kill(&w, 1, SIGTERM);
	snprintf(path, sizeof(path), "%s/stats.json", w.n[1].rstate);
	unlink(path);
	tp_clock(&w, 1, "+1h");
	tp_router_start(&w, 1);
	cr_assert_eq(tp_wait_stat(&w, 1, "linked", 1, 30000), 0);
	/* an hour apart: node 1's frames are too old for node 2 */
	cr_assert_eq(tp_wait_stat(&w, 1, "expired", 1, 30000), 0);
	cr_assert_eq(tp_stat(&w, 1, "live_fresh"), 0);
	tp_clock(&w, 1, "+0");
	cr_assert_eq(tp_wait_stat(&w, 1, "live_fresh", 1, 30000), 0,
	    "node 1 never answered node 2's challenge after the step");
	cr_assert_eq(cli(0, "get", TEMP, NULL, NULL, NULL), 0, "%s", out);
	cr_assert_not_null(strstr(out, "Cel"), "%s", out);
	cr_assert_eq(cli(0, "set", SETP, "21.5", NULL, NULL), 0, "%s", out);
}

/* ---- rotation of a router's external key, with grace ------------------------ */

static void
start_both_clocks(void)
{
	start_clocks("+0", "+0");
}

/* Until tp_stat(node, name) == v (within 30 s): 0 or -1. */
static int
wait_stat_eq(int node, const char *name, double v)
{
	for (int t = 0; t < 300; t++) {
		if (tp_stat(&w, node, name) == v)
			return 0;
		usleep(100000);
	}
	return -1;
}

/* A remote get from node i, retried while the hubs settle after a step. */
static int
remote_get(int i)
{
	const char *uri = i == 0 ? TEMP : "000001/010/0101/0001/40";
	int rc = -1;

	for (int k = 0; k < 30 && rc != 0; k++)
		if ((rc = cli(i, "get", uri, NULL, NULL, NULL)) != 0)
			usleep(200000);
	return rc;
}

/*
 * Node 1 rotates its router's external key with an hour of grace
 * (rotate-peer), restarts its router and gives export-peer's output to
 * node 2, whose router is stopped meanwhile (SIGSTOP): node 1 signs with
 * its old key, the only one node 2 knows.  Node 2 imports the rotation
 * and takes those frames under the old key, now in its grace (rx_grace),
 * then addresses the new key, which node 1 then signs with.  Both nodes'
 * clocks (libfaketime) then step past the grace: a frame under the old
 * key is refused and counted (retired_key), and the new key alone
 * carries on.
 */
Test(router, a_rotated_router_key_is_taken_beside_the_new_one_until_its_grace_ends,
    .init = start_both_clocks, .fini = stop, .timeout = 240)
{
	static struct tp_frame f[4096];
	static char exp[16384];
	const char *rot[] = { "rotate-peer", "--grace", "1h", NULL };
	const char *ex[] = { "export-peer", NULL };
	char snif[400], path[400];
	const char *imp[] = { "import-peer", path, NULL };
	const struct tp_frame *old = NULL;
	struct th_proc sub;
	size_t n, mark;
	FILE *fp;

	snprintf(snif, sizeof(snif), "%s/sniffer.txt", w.dir);
	sniffer_start(&sub, snif);
	cr_assert_eq(tp_keytool(&w, 0, out, sizeof(out), rot), 0, "%s", out);

	/* node 1's router restarts on both keys; node 2's is stopped */
	kill(w.n[1].router.pid, SIGSTOP);
	tp_router_kill(&w, 0, SIGTERM);
	snprintf(path, sizeof(path), "%s/stats.json", w.n[0].rstate);
	unlink(path);
	mark = lines(snif);
	tp_router_start(&w, 0);
	cr_assert_eq(tp_wait_stat(&w, 0, "linked", 1, 30000), 0);
	cr_assert_eq(tp_stat(&w, 0, "own_key"), 1, "node 1 should sign with "
	    "its old key until node 2 shows it has the new one");
	cr_assert_eq(tp_wait_stat(&w, 0, "tx", 4, 30000), 0);

	/* node 2 imports the rotation: the old key stays, in its grace */
	cr_assert_eq(tp_keytool(&w, 0, exp, sizeof(exp), ex), 0, "%s", exp);
	snprintf(path, sizeof(path), "%s/rotated.peer", w.dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(exp, fp);
	fclose(fp);
	cr_assert_eq(tp_keytool(&w, 1, out, sizeof(out), imp), 0, "%s", out);
	cr_assert_not_null(strstr(out, "rotated peer 000001/0F0"), "%s", out);
	kill(w.n[1].router.pid, SIGCONT);
	cr_assert_eq(tp_wait_stat(&w, 1, "keys", 2, 30000), 0);
	cr_assert_eq(tp_wait_stat(&w, 1, "rx_grace", 1, 30000), 0,
	    "node 2 took nothing under node 1's old key");
	cr_assert_eq(wait_stat_eq(0, "own_key", 0), 0,
	    "node 1 never signed with its new key");
	cr_assert_eq(remote_get(0), 0, "%s", out);
	cr_assert_eq(remote_get(1), 0, "%s", out);
	cr_assert_eq(tp_stat(&w, 1, "unknown_kid"), 0);
	cr_assert_eq(tp_stat(&w, 1, "retired_key"), 0);

	/* the grace is over */
	tp_clock(&w, 0, "+2h");
	tp_clock(&w, 1, "+2h");
	n = tp_frames_read(snif, mark, f, 4096);
	for (size_t i = 0; i < n && old == NULL; i++)
		if (strcmp(f[i].topic, "mob/x/000002/000001/live") == 0)
			old = &f[i];	/* node 1's first, under the old key */
	cr_assert_not_null(old, "no frame of node 1's restarted router captured");
	inject(old, 0);
	cr_assert_eq(tp_wait_stat(&w, 1, "retired_key", 1, 30000), 0,
	    "a frame under the retired key was not refused as such");
	cr_assert_eq(remote_get(0), 0, "%s", out);
	cr_assert_eq(remote_get(1), 0, "%s", out);
	cr_assert_eq(tp_stat(&w, 0, "own_key"), 0);
	th_stop(&sub, SIGTERM, 5000);
}
