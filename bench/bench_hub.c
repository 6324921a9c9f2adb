/*
 * bench_hub: messages per second through the hub (mosquitto with our
 * plugin, every message verified) against raw mosquitto (same
 * configuration without the plugin, unsigned payloads, same client code),
 * in the same run: QoS 0 and 1, 1->1 and 1->10 fan-out, both key modes.
 * Also the bare Ed25519 verify rate, logins per second and the hub's
 * memory with 1000 keyring entries.
 *
 * Messages carry 64 bytes of data; signed ones are pre-signed before the
 * clock starts so the figure is the broker's, not the publisher's.  The
 * publisher keeps at most WINDOW messages in flight beyond the slowest
 * subscriber, so nothing is dropped and every count is a delivery.
 */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/key.h"
#include "mobius/keyring.h"
#include "mobius/token.h"
#include "../tests/support/harness.h"

#define NSUB		10
#define WINDOW		200
#define RUN_MS		300
#define ROUNDS		3	/* best of, alternating raw and hub runs */
#define PAYLOAD		64
#define PUB_ID		TH_HID "/100"
#define PUB_USER	"0100/100"

struct bcli {
	struct mosquitto *m;
	char id[16];
	atomic_int connack;
	atomic_long got;
	struct mob_key *key;
};

struct setup {
	int signed_;		/* hub with plugin, signed payloads */
	const char *sock;
	const char *keys;
	size_t presign;		/* payloads made ahead: more than RUN_MS needs */
	size_t rawlen;		/* unsigned payload size (0: PAYLOAD) */
};


static void
sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "bench_hub: %s\n", what);
	exit(1);
}

static void
on_connect(struct mosquitto *m, void *u, int rc)
{
	(void)m;
	atomic_store(&((struct bcli *)u)->connack, rc);
}

static void
on_message(struct mosquitto *m, void *u, const struct mosquitto_message *msg)
{
	(void)m;
	(void)msg;
	atomic_fetch_add(&((struct bcli *)u)->got, 1);
}

static struct mob_key *
load_key(const char *keys, const char *id)
{
	char path[512], err[256];
	struct mob_keyring *kr = NULL;
	const struct mob_kr_entry *e;
	struct mob_key *k = NULL;

	snprintf(path, sizeof(path), "%s/%s.key", keys, id + 7);
	if (mob_keyring_load(path, &kr, err, sizeof(err)) != 0)
		die(err);
	if ((e = mob_keyring_find(kr, id)) == NULL || mob_key_dup(e->key, &k) != 0)
		die("no key in key file");
	mob_keyring_free(kr);
	return k;
}

static void
bc_connect(struct bcli *c, const struct setup *s, const char *id,
    const char *user)
{
	char *tok = NULL;
	double end;

	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	atomic_store(&c->connack, -1);
	if ((c->m = mosquitto_new(id, true, c)) == NULL)
		die("mosquitto_new");
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_message_callback_set(c->m, on_message);
	mosquitto_int_option(c->m, MOSQ_OPT_SEND_MAXIMUM, WINDOW);
	if (s->signed_) {
		c->key = load_key(s->keys, id);
		if (mob_token_mint(c->key, id, user, mob_clock_wall_ms(), &tok) != 0)
			die("mint");
		mosquitto_username_pw_set(c->m, user, tok);
		free(tok);
	}
	if (mosquitto_connect(c->m, s->sock, 0, 60) != MOSQ_ERR_SUCCESS)
		die("connect");
	if (mosquitto_loop_start(c->m) != MOSQ_ERR_SUCCESS)
		die("loop_start");
	for (end = ((double)mob_clock_mono_ns() / 1e9) + 5; atomic_load(&c->connack) == -1 && ((double)mob_clock_mono_ns() / 1e9) < end;)
		sleep_us(200);
	if (atomic_load(&c->connack) != 0)
		die("login refused");
}

static void
bc_close(struct bcli *c)
{
	mosquitto_disconnect(c->m);
	mosquitto_loop_stop(c->m, false);
	mosquitto_destroy(c->m);
	mob_key_free(c->key);
}

static void
bc_sub(struct bcli *c, const char *filter, int qos)
{
	if (mosquitto_subscribe(c->m, NULL, filter, qos) != MOSQ_ERR_SUCCESS)
		die("subscribe");
}

/* Payloads: 64 data bytes, signed with the publisher's key when signed. */
static char **
make_payloads(const struct setup *s, struct bcli *pub, const char *topic,
    size_t n, size_t *envlen)
{
	char **p = calloc(n, sizeof(*p)), dat[PAYLOAD + 1];
	struct mob_signer *sg = NULL;

	memset(dat, 'x', PAYLOAD);
	dat[0] = '"';
	dat[PAYLOAD - 1] = '"';
	dat[PAYLOAD] = '\0';
	if (s->signed_ && mob_signer_new(pub->key, pub->id, &sg) != 0)
		die("signer");
	for (size_t i = 0; i < n; i++) {
		if (!s->signed_) {
			size_t len = s->rawlen ? s->rawlen : PAYLOAD;

			if ((p[i] = malloc(len + 1)) == NULL)
				die("out of memory");
			memset(p[i], 'x', len);
			p[i][len] = '\0';
		}
		else if (mob_env_sign(sg, topic, dat, &p[i], NULL) != 0)
			die("sign");
	}
	*envlen = strlen(p[0]);
	mob_signer_free(sg);
	return p;
}

static long
min_got(struct bcli *subs, int n)
{
	long m = atomic_load(&subs[0].got);

	for (int i = 1; i < n; i++)
		if (atomic_load(&subs[i].got) < m)
			m = atomic_load(&subs[i].got);
	return m;
}

/* Messages per second from pub to nsub subscribers at qos. */
static double
run(const struct setup *s, int qos, int nsub, size_t *envlen)
{
	struct bcli pub, subs[NSUB];
	char topic[64], id[16], user[16];
	char **pl;
	long sent = 0;
	double t0, t1, end;

	snprintf(topic, sizeof(topic), "mob/cov/%s/0001/0001/40", PUB_ID);
	bc_connect(&pub, s, PUB_ID, PUB_USER);
	for (int i = 0; i < nsub; i++) {
		snprintf(id, sizeof(id), "%s/%03X", TH_HID, 0x200 + i);
		snprintf(user, sizeof(user), "0200/%03X", 0x200 + i);
		bc_connect(&subs[i], s, id, user);
		bc_sub(&subs[i], "mob/cov/#", qos);
	}
	/* a first message proves every subscription is active */
	pl = make_payloads(s, &pub, topic, s->presign, envlen);
	for (end = ((double)mob_clock_mono_ns() / 1e9) + 5; min_got(subs, nsub) < 1 && ((double)mob_clock_mono_ns() / 1e9) < end;) {
		mosquitto_publish(pub.m, NULL, topic, (int)strlen(pl[sent]),
		    pl[sent], qos, false);
		sent++;
		sleep_us(20000);
	}
	if (min_got(subs, nsub) < 1)
		die("subscribers receive nothing");
	for (int i = 0; i < nsub; i++)
		atomic_store(&subs[i].got, 0);
	sent++;		/* keep the seq of the warm-up messages behind us */

	t0 = ((double)mob_clock_mono_ns() / 1e9);
	end = t0 + RUN_MS / 1000.0;
	long base = sent;
	while (((double)mob_clock_mono_ns() / 1e9) < end && (size_t)sent < s->presign) {
		if (sent - base - min_got(subs, nsub) >= WINDOW) {
			/* the broker needs the CPU more than we do (2 cores) */
			sleep_us(200);
			continue;
		}
		if (mosquitto_publish(pub.m, NULL, topic, (int)strlen(pl[sent]),
		    pl[sent], qos, false) != MOSQ_ERR_SUCCESS)
			die("publish");
		sent++;
	}
	while (min_got(subs, nsub) < sent - base && ((double)mob_clock_mono_ns() / 1e9) < end + 5)
		sleep_us(200);
	t1 = ((double)mob_clock_mono_ns() / 1e9);
	if (min_got(subs, nsub) < sent - base)
		fprintf(stderr, "bench_hub: %ld of %ld delivered\n",
		    min_got(subs, nsub), sent - base);

	for (int i = 0; i < nsub; i++)
		bc_close(&subs[i]);
	bc_close(&pub);
	for (size_t i = 0; i < s->presign; i++)
		free(pl[i]);
	free(pl);
	return (double)min_got(subs, nsub) / (t1 - t0);
}

/* Identities for the runs: the publisher and NSUB subscribers. */
static void
add_services(struct th_node *n)
{
	char user[16];

	th_node_add(n, PUB_USER, NULL, 0);
	for (int i = 0; i < NSUB; i++) {
		snprintf(user, sizeof(user), "0200/%03X", 0x200 + i);
		th_node_add(n, user, NULL, 0);
	}
}

/* Plain mosquitto with the hub's configuration minus the plugin. */
static void
raw_start(const struct th_node *n, struct th_proc *p, char *sock, size_t len)
{
	char src[400], dst[400], line[1024], log[400];
	char *argv[] = { "/usr/sbin/mosquitto", "-c", dst, NULL };
	FILE *in, *out;

	snprintf(src, sizeof(src), "%s/state/mosquitto.conf", n->dir);
	snprintf(dst, sizeof(dst), "%s/raw.conf", n->dir);
	snprintf(sock, len, "%s/raw.sock", n->dir);
	snprintf(log, sizeof(log), "%s/raw.log", n->dir);
	if ((in = fopen(src, "r")) == NULL || (out = fopen(dst, "w")) == NULL)
		die("raw config");
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strncmp(line, "plugin", 6) == 0 ||
		    strncmp(line, "listener", 8) == 0 ||
		    strncmp(line, "allow_anonymous", 15) == 0 ||
		    strncmp(line, "persistence_file", 16) == 0)
			continue;
		fputs(line, out);
	}
	fprintf(out, "allow_anonymous true\npersistence_file raw.db\n"
	    "listener 0 %s\n", sock);
	fclose(in);
	fclose(out);
	if (th_spawn(p, argv, NULL, log) != 0 || th_wait_path(sock, 5000) != 0)
		die("raw mosquitto did not start");
}

static double
ed25519_verify_rate(size_t len)
{
	struct mob_key *k;
	uint8_t msg[512], sig[64];
	size_t siglen;
	long n = 0;
	double t0, end;

	memset(msg, 'm', sizeof(msg));
	if (mob_key_generate(MOB_ALG_EDDSA, &k) != 0 ||
	    mob_key_sign(k, msg, len, sig, sizeof(sig), &siglen) != 0)
		die("ed25519");
	t0 = ((double)mob_clock_mono_ns() / 1e9);
	for (end = t0 + 0.3; ((double)mob_clock_mono_ns() / 1e9) < end; n++)
		if (mob_key_verify(k, msg, len, sig, siglen) != 0)
			die("verify");
	mob_key_free(k);
	return (double)n / (((double)mob_clock_mono_ns() / 1e9) - t0);
}

static double
logins_per_s(const struct th_node *n)
{
	struct setup s = { 1, n->sock, n->keys, 0, 0 };
	long count = 0;
	double t0, end;

	t0 = ((double)mob_clock_mono_ns() / 1e9);
	for (end = t0 + 1.0; ((double)mob_clock_mono_ns() / 1e9) < end; count++) {
		struct bcli c;

		bc_connect(&c, &s, PUB_ID, PUB_USER);
		bc_close(&c);
	}
	return (double)count / (((double)mob_clock_mono_ns() / 1e9) - t0);
}

static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Add count generated service entries to the node's keyring file. */
static void
grow_keyring(struct th_node *n, int count, enum mob_alg alg)
{
	char path[400], err[256];
	struct mob_keyring *kr = NULL;

	snprintf(path, sizeof(path), "%s/keyring", n->keys);
	if (mob_keyring_load(path, &kr, err, sizeof(err)) != 0)
		die(err);
	for (int i = 0; i < count; i++) {
		struct mob_kr_entry e;
		struct mob_key *k = NULL, *pub = NULL;

		memset(&e, 0, sizeof(e));
		e.kind = MOB_ENTRY_SERVICE;
		snprintf(e.id, sizeof(e.id), "%s/%03X", n->hid, 0x400 + i);
		snprintf(e.spid, sizeof(e.spid), "0400");
		e.alg = alg;
		e.state = MOB_KS_ACTIVE;
		if (mob_key_generate(alg, &k) != 0)
			die("keygen");
		if (alg == MOB_ALG_EDDSA) {
			if (mob_key_public(k, &pub) != 0)
				die("public");
			mob_key_free(k);
			k = pub;
		}
		e.key = k;
		if (mob_keyring_add(kr, &e) != 0)
			die("keyring add");
	}
	if (mob_keyring_save(kr, path) != 0)
		die("keyring save");
	mob_keyring_free(kr);
}

/* Restart the hub, log in once, read its resident memory. */
static long
fresh_hub_rss(struct th_node *n)
{
	struct setup s = { 1, n->sock, n->keys, 0, 0 };
	struct bcli c;

	th_stop(&n->hub, SIGTERM, 5000);
	th_node_hub_start(n, NULL);
	bc_connect(&c, &s, PUB_ID, PUB_USER);
	bc_close(&c);
	return rss_kb(n->hub.pid);
}

/*
 * Each figure next to raw runs alternating with it, same client code, best
 * of ROUNDS each: the machine is shared, so only adjacent runs compare.
 */
static void
mode_runs(enum mob_mode mode, const char *rawsock, const struct th_node *n)
{
	int compat = mode == MOB_MODE_COMPAT;
	struct setup s = { 1, n->sock, n->keys, compat ? 40000 : 5000, 0 };
	struct setup raw = { 0, rawsock, NULL, 40000, 0 };
	struct setup same = { 0, rawsock, NULL, 40000, compat ? 323 : 366 };
	size_t envlen = 0, rawlen;

	for (int q = 0; q < 2; q++) {
		for (int f = 0; f < 2; f++) {
			int nsub = f ? NSUB : 1;
			double rr = 0, rs = 0, r = 0, x;

			for (int i = 0; i < ROUNDS; i++) {
				if ((x = run(&raw, q, nsub, &rawlen)) > rr)
					rr = x;
				if ((x = run(&same, q, nsub, &rawlen)) > rs)
					rs = x;
				if ((x = run(&s, q, nsub, &envlen)) > r)
					r = x;
			}
			printf("%s QoS%d 1->%-2d %7.0f/s  raw %7.0f/s %5.2fx  "
			    "raw %zu B %7.0f/s %5.2fx\n", compat ? "compat  " :
			    "hardened", q, nsub, r, rr, r / rr, same.rawlen, rs,
			    r / rs);
		}
	}
}

int
main(void)
{
	struct th_node n;
	struct th_proc rawp;
	char rawsock[400];
	long rss_raw, rss_hub, rss_big;

	signal(SIGPIPE, SIG_IGN);
	mosquitto_lib_init();
	printf("bench_hub: %d B data, window %d, best of %d runs of %d ms;\n"
	    "raw = same broker without the plugin and unsigned payloads of %d B,\n"
	    "then of the signed size (what the bigger message alone costs)\n",
	    PAYLOAD, WINDOW, ROUNDS, RUN_MS, PAYLOAD);

	th_node_start(&n, MOB_MODE_HARDENED);
	add_services(&n);
	raw_start(&n, &rawp, rawsock, sizeof(rawsock));
	mode_runs(MOB_MODE_HARDENED, rawsock, &n);
	printf("bare Ed25519 verify (300 B): %.0f/s\n", ed25519_verify_rate(300));
	printf("logins (hardened, sequential): %.0f/s\n", logins_per_s(&n));
	th_stop(&rawp, SIGTERM, 5000);

	/* fresh brokers: raw, the hub, the hub with 1000 more entries */
	raw_start(&n, &rawp, rawsock, sizeof(rawsock));
	rss_raw = rss_kb(rawp.pid);
	th_stop(&rawp, SIGTERM, 5000);
	rss_hub = fresh_hub_rss(&n);
	grow_keyring(&n, 1000, MOB_ALG_EDDSA);
	rss_big = fresh_hub_rss(&n);
	printf("memory (RSS, fresh): raw mosquitto %ld kB, hub %ld kB (plugin "
	    "+%ld kB), with 1000 more keyring entries %ld kB (+%ld kB)\n",
	    rss_raw, rss_hub, rss_hub - rss_raw, rss_big, rss_big - rss_hub);
	th_node_stop(&n);

	th_node_start(&n, MOB_MODE_COMPAT);
	add_services(&n);
	raw_start(&n, &rawp, rawsock, sizeof(rawsock));
	mode_runs(MOB_MODE_COMPAT, rawsock, &n);
	th_stop(&rawp, SIGTERM, 5000);
	printf("logins (compat, sequential): %.0f/s\n", logins_per_s(&n));
	th_node_stop(&n);
	printf("targets: compat QoS0 >= 0.70x raw, hardened QoS0 >= 0.15x raw, "
	    "logins >= 500/s\n");
	mosquitto_lib_cleanup();
	return 0;
}
