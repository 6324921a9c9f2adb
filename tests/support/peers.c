/*
 * Two peered nodes and a no-man's broker for the router tests (peers.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "mobius/clock.h"
#include "peers.h"

static void __attribute__((noreturn, format(printf, 1, 2)))
tp_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "peers: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

static void
tp_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
tp_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		tp_die("cannot write %s", path);
}

static void
tp_show(const char *path)
{
	char *argv[] = { "/bin/sh", "-c", NULL, NULL }, cmd[400];

	snprintf(cmd, sizeof(cmd), "echo '---- %s'; tail -n 40 '%s' >&2", path, path);
	argv[2] = cmd;
	th_run(argv, NULL, NULL, 0, 5000);
}

int
tp_keytool(struct tp_world *w, int i, char *out, size_t outlen,
    const char *const args[])
{
	char tool[512];
	char *argv[16] = { tool, "--dir", w->n[i].keys };
	size_t k = 3;

	th_path("bin/mobius-keytool", tool, sizeof(tool));
	for (size_t j = 0; args[j] != NULL && k < 15; j++)
		argv[k++] = (char *)args[j];
	argv[k] = NULL;
	return th_run(argv, NULL, out, outlen, 20000);
}

static void
keytool(struct tp_world *w, int i, const char *a1, const char *a2,
    const char *a3, const char *a4, const char *a5, char *out, size_t outlen)
{
	const char *args[] = { a1, a2, a3, a4, a5, NULL };
	int rc;

	if ((rc = tp_keytool(w, i, out, outlen, args)) != 0)
		tp_die("mobius-keytool %s: exit %d", a1, rc);
}

void
tp_import(struct tp_world *w, int i)
{
	keytool(w, i, "import-peer", w->n[1 - i].peerfile, NULL, NULL, NULL,
	    NULL, 0);
}

static int
is_san(void)
{
	const char *b = getenv("MOBIUS_BUILD");
	size_t l = b ? strlen(b) : 0;

	return l >= 3 && strcmp(b + l - 3, "san") == 0;
}

/* argv with "ip netns exec NS" in front when ns is set. */
static int
spawn_in(struct th_proc *p, const char *ns, char **argv, char *const env[],
    const char *log)
{
	char *full[40];
	size_t i = 0;

	if (ns != NULL) {
		full[i++] = "/usr/sbin/ip";
		full[i++] = "netns";
		full[i++] = "exec";
		full[i++] = (char *)ns;
	}
	for (size_t j = 0; argv[j] != NULL && i < 39; j++)
		full[i++] = argv[j];
	full[i] = NULL;
	return th_spawn(p, full, env, log);
}

static void
node_init(struct tp_world *w, int i)
{
	struct tp_node *n = &w->n[i];
	static char out[16384];

	char dir[300];

	memcpy(n->hid, i == 0 ? "000001" : "000002", 7);
	snprintf(dir, sizeof(dir), "%s/n%c", w->dir, i == 0 ? '1' : '2');
	memcpy(n->dir, dir, sizeof(dir));
	snprintf(n->keys, sizeof(n->keys), "%s/keys", dir);
	snprintf(n->sock, sizeof(n->sock), "%s/hub.sock", dir);
	snprintf(n->rstate, sizeof(n->rstate), "%s/router", dir);
	snprintf(n->rconf, sizeof(n->rconf), "%s/router.json", dir);
	snprintf(n->peerfile, sizeof(n->peerfile), "%s/peer.txt", dir);
	n->netns = w->o.ns[i];
	if (mkdir(n->dir, 0755) != 0 || mkdir(n->rstate, 0700) != 0)
		tp_die("mkdir %s", n->dir);
	if (w->o.compat)
		keytool(w, i, "init", "--hid", n->hid, "--mode", "compat",
		    NULL, 0);
	else
		keytool(w, i, "init", "--hid", n->hid, NULL, NULL, NULL, 0);
	keytool(w, i, "add", "0010/010", NULL, NULL, NULL, NULL, 0);
	keytool(w, i, "add", "00F0/0F0", NULL, NULL, NULL, NULL, 0);
	keytool(w, i, "add", "00C1/0C1", NULL, NULL, NULL, NULL, 0);
	keytool(w, i, "add", "00C1/0C2", NULL, NULL, NULL, NULL, 0);
	keytool(w, i, "export-peer", NULL, NULL, NULL, NULL, out, sizeof(out));
	tp_write(n->peerfile, out);
}

#define TP_FAKETIME	"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

void
tp_clock(struct tp_world *w, int i, const char *offset)
{
	tp_write(w->n[i].clockfile, offset);
}

/* The node's daemons read their clock offset from a file (libfaketime). */
static void
node_clock(struct tp_world *w, int i)
{
	struct tp_node *n = &w->n[i];
	char keys[sizeof(n->keys)];

	if (w->o.clock[i] == NULL)
		return;
	/* in the key directory: the confined router still sees it there */
	memcpy(keys, n->keys, sizeof(keys));
	snprintf(n->clockfile, sizeof(n->clockfile), "%s/clock", keys);
	tp_clock(w, i, w->o.clock[i]);
	snprintf(n->envbuf[0], sizeof(n->envbuf[0]), "LD_PRELOAD=%s", TP_FAKETIME);
	snprintf(n->envbuf[1], sizeof(n->envbuf[1]),
	    "FAKETIME_TIMESTAMP_FILE=%s/clock", keys);
	n->env[0] = n->envbuf[0];
	n->env[1] = n->envbuf[1];
	n->env[2] = "FAKETIME_NO_CACHE=1";
	n->env[3] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
	n->env[4] = "NO_FAKE_STAT=1";
}

static void
node_config(struct tp_world *w, int i)
{
	struct tp_node *n = &w->n[i], *o = &w->n[1 - i];
	char url[200], cfg[4096], user[300] = "", ttl[64] = "";
	const char *u = w->o.ws_url;

	if (i == 1 && w->o.ws_url2 != NULL)
		u = w->o.ws_url2;
	if (u == NULL)
		snprintf(url, sizeof(url), "ws://%s:%d/mqtt",
		    w->o.broker_addr ? w->o.broker_addr : "127.0.0.1", w->ws_port);
	else
		snprintf(url, sizeof(url), "%s", u);
	if (w->o.username[i] != NULL)
		snprintf(user, sizeof(user), "\"username\": \"%s\",%s%s%s\n",
		    w->o.username[i], w->o.passfile[i] ? " \"password_file\": \"" : "",
		    w->o.passfile[i] ? w->o.passfile[i] : "",
		    w->o.passfile[i] ? "\"," : "");
	if (w->o.queue_ttl > 0)
		snprintf(ttl, sizeof(ttl), ", \"ttl\": %ld", w->o.queue_ttl);
	/* node 1 and 2 export everything for reading and watching, and only
	 * the heating setpoint for writing */
	snprintf(cfg, sizeof(cfg),
	    "{ \"broker\": \"%s\", %s\n"
	    "  \"keepalive\": %d,\n"
	    "  \"queue\": { \"max_bytes\": 67108864%s },\n"
	    "  \"peers\": [ { \"hid\": \"%s\", \"encrypt\": %s,\n"
	    "    \"read\": [\"%s/#\"], \"watch\": [\"%s/#\"],\n"
	    "    \"write\": [\"%s/010/0102/0001/40\"] } ] }\n",
	    url, user, w->o.keepalive ? w->o.keepalive : 5, ttl, o->hid,
	    w->o.plain ? "false" : "true",
	    n->hid, n->hid, n->hid);
	tp_write(n->rconf, cfg);
}

static void
node_start(struct tp_world *w, int i)
{
	struct tp_node *n = &w->n[i];
	char hub[512], sim[512], simcfg[512], state[320], log[340], kf[340];
	char *hargv[] = { hub, "--keys", n->keys, "--socket", n->sock, "--state",
	    state, "--foreground", "--no-sandbox", "--opt", "remote_req=yes",
	    NULL };
	char *sargv[] = { sim, "--config", simcfg, "--key", kf, "--socket",
	    n->sock, "--no-sandbox", NULL };

	th_path("bin/mobius-hub", hub, sizeof(hub));
	th_path("bin/mobius-sim", sim, sizeof(sim));
	snprintf(simcfg, sizeof(simcfg), "%s/services/sim/sim.json",
	    getenv("MOBIUS_SRC") ? getenv("MOBIUS_SRC") : ".");
	snprintf(state, sizeof(state), "%s/state", n->dir);
	snprintf(log, sizeof(log), "%s/hub.log", n->dir);
	if (th_spawn(&n->hub, hargv, n->env, log) != 0)
		tp_die("cannot start the hub");
	if (th_wait_path(n->sock, 15000) != 0 ||
	    th_wait_log(log, "running", 15000) != 0) {
		tp_show(log);
		tp_die("hub %s did not start", n->hid);
	}
	snprintf(kf, sizeof(kf), "%s/010.key", n->keys);
	snprintf(log, sizeof(log), "%s/sim.log", n->dir);
	if (th_spawn(&n->sim, sargv, n->env, log) != 0)
		tp_die("cannot start mobius-sim");
}

void
tp_router_start(struct tp_world *w, int i)
{
	struct tp_node *n = &w->n[i];
	char bin[512], key[340], ext[340], log[340], peers[340];
	char *argv[] = { bin, "--config", n->rconf, "--key", key,
	    "--external-key", ext, "--state", n->rstate, "--socket", n->sock,
	    "--peers", peers, "-v", NULL, NULL };
	char *env[8] = { "MOBIUS_SANDBOX_USER=nobody" };

	for (size_t k = 0; n->env[k] != NULL; k++)
		env[k + 1] = n->env[k];
	th_path("bin/mobius-router", bin, sizeof(bin));
	snprintf(key, sizeof(key), "%s/0F0.key", n->keys);
	snprintf(ext, sizeof(ext), "%s/0F0.external.key", n->keys);
	snprintf(peers, sizeof(peers), "%s/peers", n->keys);
	snprintf(log, sizeof(log), "%s/router.log", n->dir);
	if (!w->o.sandbox || is_san())
		argv[14] = "--no-sandbox";
	if (spawn_in(&n->router, n->netns, argv, env, log) != 0)
		tp_die("cannot start mobius-router");
}

void
tp_router_kill(struct tp_world *w, int i, int sig)
{
	th_stop(&w->n[i].router, sig, 5000);
}

static void
broker_start(struct tp_world *w)
{
	char conf[320], text[1024], log[320], front[512], bport[32], wport[32],
	    bhost[64], listen[64];
	char *margv[] = { "/usr/sbin/mosquitto", "-c", conf, NULL };
	char *fargv[] = { front, "--listen", listen, "--port", wport, "--broker",
	    bhost, "--no-sandbox", NULL, NULL, NULL };
	const char *addr = w->o.broker_addr ? w->o.broker_addr : "127.0.0.1";

	w->mqtt_port = th_free_port();
	w->ws_port = th_free_port();
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", w->dir);
	snprintf(w->acl, sizeof(w->acl), "%s/broker.acl", w->dir);
	snprintf(text, sizeof(text),
	    "listener %d %s\nallow_anonymous true\npersistence false\n"
	    "max_queued_messages 100000\n%s%s\n", w->mqtt_port, addr,
	    w->o.acl ? "acl_file " : "", w->o.acl ? w->acl : "");
	tp_write(conf, text);
	if (w->o.acl)
		tp_write(w->acl,
		    "# each router: write only as itself, read only its inbox\n"
		    "user 000001\ntopic write mob/x/+/000001/#\ntopic read mob/x/000001/#\n"
		    "user 000002\ntopic write mob/x/+/000002/#\ntopic read mob/x/000002/#\n"
		    "user sniffer\ntopic readwrite #\n");
	snprintf(log, sizeof(log), "%s/mosquitto.log", w->dir);
	if (spawn_in(&w->broker, w->o.broker_ns, margv, NULL, log) != 0 ||
	    th_wait_log(log, "running", 10000) != 0) {
		tp_show(log);
		tp_die("mosquitto did not start");
	}
	th_path("bin/mobius-front", front, sizeof(front));
	snprintf(listen, sizeof(listen), "%s", addr);
	snprintf(wport, sizeof(wport), "%d", w->ws_port);
	snprintf(bport, sizeof(bport), "%d", w->mqtt_port);
	snprintf(bhost, sizeof(bhost), "%s:%s", addr, bport);
	if (w->o.coalesce_ms > 0) {
		static char ms[16];

		snprintf(ms, sizeof(ms), "%d", w->o.coalesce_ms);
		fargv[8] = "--coalesce";
		fargv[9] = ms;
	}
	snprintf(log, sizeof(log), "%s/front.log", w->dir);
	if (spawn_in(&w->front, w->o.broker_ns, fargv, NULL, log) != 0 ||
	    th_wait_log(log, "-> mqtt", 10000) != 0) {
		tp_show(log);
		tp_die("mobius-front did not start");
	}
}

void
tp_start(struct tp_world *w, const struct tp_opts *o)
{
	memset(w, 0, sizeof(*w));
	w->o = *o;
	th_tmpdir(w->dir, sizeof(w->dir));
	chmod(w->dir, 0755);
	for (int i = 0; i < 2; i++) {
		node_init(w, i);
		node_clock(w, i);
	}
	for (int i = 0; i < 2 && !w->o.no_import; i++)
		tp_import(w, i);
	if (w->o.ws_url == NULL)
		broker_start(w);
	for (int i = 0; i < 2; i++) {
		node_config(w, i);
		node_start(w, i);
	}
	if (w->o.sandbox && !is_san() && geteuid() == 0) {
		/* the confined router runs as nobody: its state is nobody's */
		struct passwd *pw = getpwnam("nobody");

		for (int i = 0; pw != NULL && i < 2; i++)
			if (chown(w->n[i].rstate, pw->pw_uid, pw->pw_gid) != 0)
				tp_die("chown %s", w->n[i].rstate);
	}
	for (int i = 0; i < 2; i++)
		tp_router_start(w, i);
	if (w->o.no_import) {
		/* no peer yet: each router is linked to the broker, alone */
		for (int i = 0; i < 2; i++)
			if (tp_wait_stat(w, i, "linked", 1, 30000) != 0)
				tp_die("router of %s never linked", w->n[i].hid);
		return;
	}
	for (int i = 0; i < 2; i++)
		if (tp_wait_stat(w, i, "reachable", 1, 30000) != 0) {
			char log[340];

			snprintf(log, sizeof(log), "%s/router.log", w->n[i].dir);
			tp_show(log);
			tp_die("router of %s never reached its peer", w->n[i].hid);
		}
	/* the other node's service description has arrived (resync) */
	for (int i = 0; i < 2; i++) {
		static char out[16384];
		const char *args[] = { "discover", w->n[1 - i].hid, NULL };
		int k;

		for (k = 0; k < 100; k++) {
			if (tp_cli(w, i, out, sizeof(out), args) == 0 &&
			    strstr(out, "online") != NULL)
				break;
			tp_sleep_ms(100);
		}
		if (k == 100)
			tp_die("node %s never saw node %s's services: %s",
			    w->n[i].hid, w->n[1 - i].hid, out);
	}
}

void
tp_stop(struct tp_world *w)
{
	for (int i = 1; i >= 0; i--) {
		th_stop(&w->n[i].router, SIGTERM, 5000);
		th_stop(&w->n[i].sim, SIGTERM, 5000);
		th_stop(&w->n[i].hub, SIGTERM, 5000);
	}
	th_stop(&w->front, SIGTERM, 5000);
	th_stop(&w->broker, SIGTERM, 5000);
	/* a sanitizer report in any of our daemons fails the test */
	for (int i = 0; i < 3; i++) {
		char log[340];

		if (i < 2)
			snprintf(log, sizeof(log), "%s/router.log", w->n[i].dir);
		else
			snprintf(log, sizeof(log), "%s/front.log", w->dir);
		if (th_count_log(log, "AddressSanitizer") > 0 ||
		    th_count_log(log, "runtime error") > 0) {
			tp_show(log);
			tp_die("sanitizer report in %s", log);
		}
	}
	if (getenv("MOBIUS_KEEP") == NULL)
		th_rmtree(w->dir);
	else
		fprintf(stderr, "peers: kept %s\n", w->dir);
}

int
tp_cli(struct tp_world *w, int i, char *out, size_t outlen,
    const char *const args[])
{
	char bin[512], sock[400], key[400];
	char *argv[24];
	char *env[8] = { sock, key };	/* and the node's clock (faketime) */
	size_t k = 0;

	for (size_t j = 0; w->n[i].env[j] != NULL; j++)
		env[j + 2] = w->n[i].env[j];
	th_path("bin/mobius", bin, sizeof(bin));
	snprintf(sock, sizeof(sock), "MOBIUS_SOCKET=%s", w->n[i].sock);
	snprintf(key, sizeof(key), "MOBIUS_KEY=%s/0C1.key", w->n[i].keys);
	argv[k++] = bin;
	for (size_t j = 0; args[j] != NULL && k < 23; j++)
		argv[k++] = (char *)args[j];
	argv[k] = NULL;
	{
		/* stderr too: the CLI's errors are what the tests read */
		char *sh[] = { "/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", NULL };
		char *full[28];
		size_t m = 0;

		full[m++] = sh[0];
		full[m++] = sh[1];
		full[m++] = sh[2];
		for (size_t j = 0; argv[j] != NULL; j++)
			full[m++] = argv[j];
		full[m] = NULL;
		return th_run(full, env, out, outlen, 30000);
	}
}

double
tp_stat(struct tp_world *w, int i, const char *name)
{
	char path[400], buf[8192];
	const cJSON *p, *v;
	cJSON *j;
	FILE *f;
	size_t n;
	double r = -1;

	snprintf(path, sizeof(path), "%s/stats.json", w->n[i].rstate);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((j = cJSON_Parse(buf)) == NULL)
		return -1;
	p = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "peers"), w->n[1 - i].hid);
	v = cJSON_GetObjectItemCaseSensitive(p, name);
	if (v == NULL)
		v = cJSON_GetObjectItemCaseSensitive(j, name);
	if (cJSON_IsNumber(v))
		r = v->valuedouble;
	else if (cJSON_IsBool(v))
		r = cJSON_IsTrue(v);
	cJSON_Delete(j);
	return r;
}

int
tp_wait_stat(struct tp_world *w, int i, const char *name, double v,
    int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 50) {
		if (tp_stat(w, i, name) >= v)
			return 0;
		tp_sleep_ms(50);
	}
	return -1;
}

void
tp_broker_addr(const struct tp_world *w, char *host, size_t len, int *port)
{
	snprintf(host, len, "%s", w->o.broker_addr ? w->o.broker_addr : "127.0.0.1");
	*port = w->mqtt_port;
}

size_t
tp_frames_read(const char *path, size_t from, struct tp_frame *f, size_t max)
{
	FILE *fp = fopen(path, "r");
	static char line[16384];
	size_t n = 0, k = 0;

	if (fp == NULL)
		tp_die("cannot read %s", path);
	while (fgets(line, sizeof(line), fp) != NULL && n < max) {
		char *sp = strchr(line, ' ');
		size_t hl;

		if (k++ < from || sp == NULL)
			continue;
		*sp = '\0';
		snprintf(f[n].topic, sizeof(f[n].topic), "%.63s", line);
		hl = strcspn(sp + 1, "\n");
		if (hl / 2 > sizeof(f[n].b))
			continue;
		for (size_t i = 0; i < hl / 2; i++)
			sscanf(sp + 1 + 2 * i, "%2hhx", &f[n].b[i]);
		f[n].len = hl / 2;
		n++;
	}
	fclose(fp);
	return n;
}

const char *
tp_frames_plaintext(const struct tp_frame *f, size_t n, char *why, size_t len)
{
	/* URIs, names, units, verbs and a value the tests write (sim.json) */
	static const char *secrets[] = { "000002/010", "000001/010", "0101/0001",
	    "temperature", "Room", "setpoint", "Cel", "mob/cov", "mob/svc",
	    "\"op\"", "read", "24.5", NULL };

	for (size_t i = 0; i < n; i++) {
		if (strncmp(f[i].topic, "mob/x/", 6) != 0) {
			snprintf(why, len, "a frame on %s", f[i].topic);
			return why;
		}
		for (size_t k = 0; secrets[k] != NULL; k++)
			if (memmem(f[i].b, f[i].len, secrets[k],
			    strlen(secrets[k])) != NULL) {
				snprintf(why, len, "\"%s\" in clear in a frame on %s",
				    secrets[k], f[i].topic);
				return why;
			}
	}
	return NULL;
}

/* ---- the COV stream: a publisher on node 2, a watcher on node 1 -------- */

static void
on_cov(struct mob_client *c, const char *topic, const struct mob_env *env,
    void *arg)
{
	struct tp_stream *s = arg;
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(env->dat, "n");

	(void)c;
	if (strncmp(topic, "mob/cov/000002/0A0/", 19) != 0 || !cJSON_IsNumber(n))
		return;
	if ((long)n->valuedouble < s->next) {
		s->dups++;
		return;
	}
	if ((long)n->valuedouble > s->next)
		s->gaps++;
	s->got++;
	s->next = (long)n->valuedouble + 1;
}

void
tp_stream_open(struct tp_world *w, struct tp_stream *s)
{
	char pubkey[400], subkey[400];
	char *add[] = { NULL, "--dir", w->n[1].keys, "add", "00A0/0A0", NULL };
	char tool[512];
	struct mob_client_cfg pc = { 0 }, sc = { 0 };

	memset(s, 0, sizeof(*s));
	th_path("bin/mobius-keytool", tool, sizeof(tool));
	add[0] = tool;
	if (th_run(add, NULL, NULL, 0, 20000) != 0)
		tp_die("mobius-keytool add 00A0/0A0 failed");
	th_hub_reload(w->n[1].hub.pid, w->n[1].dir);	/* learns the new key */
	snprintf(pubkey, sizeof(pubkey), "%s/0A0.key", w->n[1].keys);
	snprintf(subkey, sizeof(subkey), "%s/0C2.key", w->n[0].keys);
	pc.keyfile = pubkey;
	pc.socket = w->n[1].sock;
	sc.keyfile = subkey;
	sc.socket = w->n[0].sock;
	if (mob_client_new(&pc, &s->pub) != 0 || mob_client_new(&sc, &s->sub) != 0 ||
	    mob_client_connect(s->pub, 10000) != 0 ||
	    mob_client_connect(s->sub, 10000) != 0)
		tp_die("the stream's clients cannot connect");
	mob_client_set_handlers(s->sub, on_cov, NULL, s);
	if (mob_client_subscribe(s->sub, "mob/cov/000002/0A0/#", 1) != 0)
		tp_die("the watcher cannot subscribe");
}

void
tp_stream_close(struct tp_stream *s)
{
	mob_client_free(s->pub);
	mob_client_free(s->sub);
}

void
tp_stream_run(struct tp_stream *s, int rate, int ms)
{
	int64_t start = mob_clock_mono_ms(), now;
	long base = s->sent;

	while ((now = mob_clock_mono_ms()) - start < ms) {
		struct pollfd pfd[2];

		if (rate > 0) {
			long due = base + (long)((now - start) * rate / 1000);

			while (s->sent < due) {
				char dat[64];

				snprintf(dat, sizeof(dat), "{\"n\":%ld}", s->sent);
				if (mob_client_publish(s->pub,
				    "mob/cov/000002/0A0/0001/0001/40", dat, 1, 0) != 0)
					break;
				s->sent++;
			}
		}
		mob_client_pollfd(s->pub, &pfd[0]);
		mob_client_pollfd(s->sub, &pfd[1]);
		if (poll(pfd, 2, 2) < 0)
			continue;
		mob_client_process(s->pub, pfd[0].revents);
		mob_client_process(s->sub, pfd[1].revents);
	}
}

void
tp_stream_drain(struct tp_stream *s)
{
	for (int i = 0; i < 1200 && s->next < s->sent; i++) {
		long before = s->got;

		tp_stream_run(s, 0, 100);
		if (s->got > before)
			i = 0;
	}
}
