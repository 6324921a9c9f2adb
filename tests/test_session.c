/*
 * Trust core v2 (docs/protocol.md "Handshake", docs/security.md): the
 * hardened handshake and key schedule against fixed vectors and an
 * independent implementation (tests/vectors/session.py), the checks a
 * client makes of the hub's answer, and against a real hub: a stolen
 * session key gets nothing through once its connection closed, and in
 * compat mode the key bundle does not let one service log in as another.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/crypto.h>

#include "mobius/b64.h"
#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/keydist.h"
#include "mobius/keyring.h"
#include "mobius/session.h"
#include "mobius/token.h"
#include "support/harness.h"

#define SID	"000001/01F"
#define USER	"001F/01F"
#define HUB	"000001/000"
#define IAT	1700000000000LL

/* The vectors, also printed in docs/protocol.md ("Test vectors"). */
#define V_LOGIN	"eyJhbGciOiJFZERTQSIsImtpZCI6IjAwMDAwMS8wMUYifQ.eyJpc3MiOiIwMDAwMDEvMDFGIiwic3ViIjoiMDAxRi8wMUYiLCJpYXQiOjE3MDAwMDAwMDAwMDAsIm5vbmNlIjoiQlFVRkJRVUZCUVVGQlFVRkJRVUZCUSIsImVwayI6IlhmN2RPMnZVZjItaWp1RmRscDFic09wVGQwMUlpOXI1M3h4dUFTU3o3eUkifQ.tzGeuJ8HPCmFKSlphOBT8Fey7GtMAw45DabQUGED2FqArQPq7q133i4ARDQ9MsC1-rYmkczmDAtfvmlGdlIqCw"
#define V_ANSWER "eyJhbGciOiJFZERTQSIsImtpZCI6IjAwMDAwMS8wMDAifQ.eyJpc3MiOiIwMDAwMDEvMDAwIiwiYXVkIjoiMDAwMDAxLzAxRiIsImVwayI6InJBR3lJSjZHTlUtNFV5TjdYZUQwLXJFOGY4djBNNlljQVpOcFlYX3M4UXMiLCJ0aCI6IkItME9JaU9lYTUxbkEtZllLb054S1N3dUgzbFlMdFprVzNxbG4xcU14TkEifQ.AK1hcYA45bfeRZwbnGeHIY7butXM-6_h582F0NJoAob6NrTQ63Hk97J5CUbGTJT97p1h1yh7u7lTD3co74WhCA"
#define V_DH	"40e47a3f525bdcac491d418978d7db5af623ac7afe7623c6d78a5d4fce9d0f63"
#define V_KEY	"f5f969f2b8dbc387c8f04d4facdcc7b4fe79e847fce0a98e7ad1c9942ef8c6d5"
#define V_ENV	"eyJhbGciOiJIUzI1NiIsImtpZCI6IjAwMDAwMS8wMUYifQ.eyJpc3MiOiIwMDAwMDEvMDFGIiwidG9wIjoibW9iL2Nvdi8wMDAwMDEvMDFGLzAwM0EvMDAwMS80MCIsImlhdCI6MTcwMDAwMDAwMDAwMCwic2VxIjoxNzAwMDAwMDAwMDAwMDAxLCJkYXQiOnsidiI6MjEuNX19.NyMVCuEh2vPtjDhFa3DdOEdblfPhepMjjjvF6INIElQ"
#define V_ENV_CLAIMS "{\"iss\":\"000001/01F\",\"top\":\"mob/cov/000001/01F/003A/0001/40\",\"iat\":1700000000000,\"seq\":1700000000000001,\"dat\":{\"v\":21.5}}"
#define V_CLOGIN "d5241e744b3d094a171d029971d1089d47656c6dd673bdaf59a16d3c08287683"
#define V_CMSG	"e118e38c71b7f1ab0b455d3b7640695251ae04c3640aa53a207343b76355d356"

static void
fill(uint8_t *b, size_t n, uint8_t v)
{
	memset(b, v, n);
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void
unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(sscanf(s + 2 * i, "%2hhx", &out[i]), 1);
}

static struct mob_key *
ed_seed(uint8_t v, int pub)
{
	uint8_t seed[32], raw[32];
	struct mob_key *k, *p;

	fill(seed, sizeof(seed), v);
	cr_assert_eq(mob_key_from_ed25519_private(seed, sizeof(seed), &k), 0);
	if (!pub)
		return k;
	cr_assert_eq(mob_key_raw(k, 0, raw, sizeof(raw)), 32);
	cr_assert_eq(mob_key_from_ed25519_public(raw, sizeof(raw), &p), 0);
	mob_key_free(k);
	return p;
}

static void
key_hex(const struct mob_key *k, char out[65])
{
	uint8_t raw[32];

	cr_assert_eq(mob_key_raw(k, 1, raw, sizeof(raw)), 32);
	hex(raw, 32, out);
}

/* --- vectors ---------------------------------------------------------- */

Test(session, the_handshake_and_key_schedule_give_the_vectors)
{
	struct mob_key *svc = ed_seed(1, 0), *hub = ed_seed(2, 0);
	struct mob_key *hubpub = ed_seed(2, 1), *hs = NULL, *cs = NULL, *psk;
	uint8_t nonce[16], cesk[32], hesk[32], cepk[32], dh[32], key[32];
	uint8_t sec[32];
	char *login = NULL, *answer = NULL, *env = NULL, h[65];
	size_t alen;

	fill(nonce, 16, 5);
	fill(cesk, 32, 3);
	fill(hesk, 32, 4);
	cr_assert_eq(mob_x25519_public(cesk, cepk), 0);
	cr_assert_eq(mob_token_mint_ex(svc, SID, USER, IAT, nonce, cepk,
	    &login), 0);
	cr_expect_str_eq(login, V_LOGIN);
	cr_assert_eq(mob_session_accept(hub, HUB, SID, login, strlen(login),
	    cepk, hesk, &answer, &alen, &hs), 0);
	cr_expect_str_eq(answer, V_ANSWER);
	cr_expect_eq(alen, strlen(V_ANSWER));
	key_hex(hs, h);
	cr_expect_str_eq(h, V_KEY);
	cr_expect_eq(mob_key_use(hs), MOB_USE_MESSAGE);
	/* the client's side derives the same key from its own secret */
	cr_assert_eq(mob_session_finish(hubpub, HUB, SID, login, strlen(login),
	    cesk, answer, alen, &cs), 0);
	key_hex(cs, h);
	cr_expect_str_eq(h, V_KEY);
	/* the schedule alone, from the shared secret */
	unhex(V_DH, dh, 32);
	cr_assert_eq(mob_session_schedule(dh, login, strlen(login), answer,
	    alen, key), 0);
	hex(key, 32, h);
	cr_expect_str_eq(h, V_KEY);
	/* an envelope MACed with the session key */
	cr_assert_eq(mob_jws_sign(cs, SID, V_ENV_CLAIMS, strlen(V_ENV_CLAIMS),
	    &env), 0);
	cr_expect_str_eq(env, V_ENV);
	/* compat: the login and message keys of the PSK 00 01 .. 1f */
	for (int i = 0; i < 32; i++)
		sec[i] = (uint8_t)i;
	cr_assert_eq(mob_key_from_secret(sec, sizeof(sec), &psk), 0);
	key_hex(mob_key_for(psk, MOB_USE_LOGIN), h);
	cr_expect_str_eq(h, V_CLOGIN);
	key_hex(mob_key_for(psk, MOB_USE_MESSAGE), h);
	cr_expect_str_eq(h, V_CMSG);
	free(login);
	free(answer);
	free(env);
	mob_key_free(psk);
	mob_key_free(svc);
	mob_key_free(hub);
	mob_key_free(hubpub);
	mob_key_free(hs);
	mob_key_free(cs);
}

Test(session, an_independent_implementation_computes_the_same_bytes)
{
	char *argv[] = { "/usr/bin/python3", "tests/vectors/session.py", NULL };
	static char out[8192];
	int rc;

	rc = th_run(argv, NULL, out, sizeof(out), 30000);
	if (rc != 0 && strstr(out, "session_key=") == NULL)
		cr_skip("python3-cryptography is not installed (exit %d)", rc);
	cr_assert_eq(rc, 0);
	cr_expect_not_null(strstr(out, "login=" V_LOGIN "\n"));
	cr_expect_not_null(strstr(out, "answer=" V_ANSWER "\n"));
	cr_expect_not_null(strstr(out, "dh=" V_DH "\n"));
	cr_expect_not_null(strstr(out, "session_key=" V_KEY "\n"));
	cr_expect_not_null(strstr(out, "envelope=" V_ENV "\n"));
	cr_expect_not_null(strstr(out, "compat_login_key=" V_CLOGIN "\n"));
	cr_expect_not_null(strstr(out, "compat_message_key=" V_CMSG "\n"));
}

/* A copy of s with one character changed at position i. */
static char *
flip(const char *s, size_t i)
{
	char *t = strdup(s);

	cr_assert_not_null(t);
	t[i] = t[i] == 'A' ? 'B' : 'A';
	return t;
}

Test(session, a_client_refuses_an_answer_that_is_not_for_its_login)
{
	struct mob_key *hub = ed_seed(2, 0), *hubpub = ed_seed(2, 1);
	struct mob_key *other = ed_seed(9, 1), *k = NULL, *hs = NULL;
	uint8_t cesk[32], hesk[32], zero[32] = { 0 };
	char *bad, *answer = NULL;
	size_t alen;

	fill(cesk, 32, 3);
	fill(hesk, 32, 4);
	/* a signature that does not verify, or by another key */
	bad = flip(V_ANSWER, strlen(V_ANSWER) - 5);
	cr_expect_eq(mob_session_finish(hubpub, HUB, SID, V_LOGIN,
	    strlen(V_LOGIN), cesk, bad, strlen(bad), &k), MOB_EBADSIG);
	free(bad);
	cr_expect_eq(mob_session_finish(other, HUB, SID, V_LOGIN,
	    strlen(V_LOGIN), cesk, V_ANSWER, strlen(V_ANSWER), &k), MOB_EBADSIG);
	/* the hub's answer to another login (th) or another client (aud) */
	bad = flip(V_LOGIN, 60);
	cr_expect_eq(mob_session_finish(hubpub, HUB, SID, bad, strlen(bad),
	    cesk, V_ANSWER, strlen(V_ANSWER), &k), MOB_EPROTO);
	free(bad);
	cr_expect_eq(mob_session_finish(hubpub, HUB, "000001/020", V_LOGIN,
	    strlen(V_LOGIN), cesk, V_ANSWER, strlen(V_ANSWER), &k),
	    MOB_EIDENTITY);
	cr_expect_null(k);
	/* a small-order ephemeral key gives no session */
	cr_expect_eq(mob_session_accept(hub, HUB, SID, V_LOGIN, strlen(V_LOGIN),
	    zero, hesk, &answer, &alen, &hs), MOB_ECRYPTO);
	cr_expect_null(hs);
	cr_expect_null(answer);
	mob_key_free(hub);
	mob_key_free(hubpub);
	mob_key_free(other);
}

Test(session, a_message_key_never_becomes_a_login_key)
{
	uint8_t sec[32] = { 7 };
	struct mob_key *m;
	char *tok = NULL;

	cr_assert_eq(mob_key_from_secret_use(sec, sizeof(sec), MOB_USE_MESSAGE,
	    &m), 0);
	cr_expect_null(mob_key_for(m, MOB_USE_LOGIN));
	cr_expect_eq(mob_key_for(m, MOB_USE_MESSAGE), m);
	cr_expect_eq(mob_token_mint(m, SID, USER, IAT, &tok), MOB_EINVAL);
	cr_expect_null(tok);
	mob_key_free(m);
}

/* --- against a real hub ----------------------------------------------- */

#define A_ID	TH_HID "/01F"
#define A_USER	"001F/01F"
#define B_ID	TH_HID "/020"
#define B_USER	"0020/020"
#define C_ID	TH_HID "/021"
#define C_USER	"0020/021"
#define A_COV	"mob/cov/" A_ID "/003A/0001/40"

static struct th_node node;

static void
node_fini(void)
{
	th_node_stop(&node);
	mosquitto_lib_cleanup();
}

/* A bare libmosquitto client driven by the test. */
struct raw {
	struct mosquitto *m;
	int connected, refused;
	uint8_t *answer;
	size_t alen;
	int n;			/* messages received */
	char topic[128];
	char *payload;
	int len;
};

static void
raw_connect(struct mosquitto *m, void *arg, int rc, int flags,
    const mosquitto_property *props)
{
	struct raw *r = arg;
	void *v = NULL;
	uint16_t n = 0;

	(void)m;
	(void)flags;
	if (rc != 0) {
		r->refused = rc;
		return;
	}
	if (mosquitto_property_read_binary(props, MQTT_PROP_AUTHENTICATION_DATA,
	    &v, &n, false) != NULL) {
		r->answer = v;
		r->alen = n;
	}
	r->connected = 1;
}

static void
raw_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct raw *r = arg;

	(void)m;
	r->n++;
	snprintf(r->topic, sizeof(r->topic), "%s", msg->topic);
	free(r->payload);
	r->payload = malloc((size_t)msg->payloadlen + 1);
	memcpy(r->payload, msg->payload, (size_t)msg->payloadlen);
	r->payload[msg->payloadlen] = '\0';
	r->len = msg->payloadlen;
}

static void
raw_loop(struct raw *r, int ms)
{
	int64_t end = mob_clock_mono_ms() + ms;

	while (mob_clock_mono_ms() < end)
		mosquitto_loop(r->m, 20, 1);
}

static int
raw_wait(struct raw *r, int *flag, int ms)
{
	int64_t end = mob_clock_mono_ms() + ms;

	while (!*flag && !r->refused && mob_clock_mono_ms() < end)
		mosquitto_loop(r->m, 20, 1);
	return *flag;
}

static struct raw *
raw_new(const char *id, int v5)
{
	struct raw *r = calloc(1, sizeof(*r));

	cr_assert_not_null(r);
	mosquitto_lib_init();
	cr_assert_not_null(r->m = mosquitto_new(id, true, r));
	mosquitto_int_option(r->m, MOSQ_OPT_PROTOCOL_VERSION,
	    v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	mosquitto_connect_v5_callback_set(r->m, raw_connect);
	mosquitto_message_callback_set(r->m, raw_message);
	return r;
}

static void
raw_free(struct raw *r)
{
	if (r == NULL)
		return;
	if (r->connected) {
		mosquitto_disconnect(r->m);
		raw_loop(r, 100);
	}
	mosquitto_destroy(r->m);
	free(r->answer);
	free(r->payload);
	free(r);
}

/*
 * The hardened login done by hand: returns the session key.  expiry_s > 0
 * asks the broker to keep the session that long after the client left.
 */
static struct mob_key *
raw_session_ex(struct raw *r, const char *id, const char *user,
    const struct mob_key *idkey, const struct mob_key *hubpub, int expiry_s)
{
	uint8_t esk[32], epk[32], nonce[16];
	mosquitto_property *props = NULL;
	struct mob_key *k = NULL;
	char *login = NULL;

	fill(nonce, 16, (uint8_t)(mob_clock_wall_us() & 0xff));
	nonce[1] = (uint8_t)(mob_clock_wall_us() >> 8);
	cr_assert_eq(mob_x25519_keypair(esk, epk), 0);
	cr_assert_eq(mob_token_mint_ex(idkey, id, user, mob_clock_wall_ms(),
	    nonce, epk, &login), 0);
	cr_assert_eq(mosquitto_username_pw_set(r->m, user, NULL), 0);
	cr_assert_eq(mosquitto_property_add_string(&props,
	    MQTT_PROP_AUTHENTICATION_METHOD, MOB_AUTH_METHOD), 0);
	cr_assert_eq(mosquitto_property_add_binary(&props,
	    MQTT_PROP_AUTHENTICATION_DATA, login, (uint16_t)strlen(login)), 0);
	if (expiry_s > 0)
		cr_assert_eq(mosquitto_property_add_int32(&props,
		    MQTT_PROP_SESSION_EXPIRY_INTERVAL, (uint32_t)expiry_s), 0);
	cr_assert_eq(mosquitto_connect_bind_v5(r->m, node.sock, 0, 30, NULL,
	    props), 0);
	mosquitto_property_free_all(&props);
	cr_assert(raw_wait(r, &r->connected, 5000), "%s: no CONNACK (%d)", id,
	    r->refused);
	cr_assert_not_null(r->answer, "%s: no answer in the CONNACK", id);
	cr_assert_eq(mob_session_finish(hubpub, TH_HID "/000", id, login,
	    strlen(login), esk, (const char *)r->answer, r->alen, &k), 0);
	OPENSSL_cleanse(esk, sizeof(esk));
	free(login);
	return k;
}

static struct mob_key *
raw_session(struct raw *r, const char *id, const char *user,
    const struct mob_key *idkey, const struct mob_key *hubpub)
{
	return raw_session_ex(r, id, user, idkey, hubpub, 0);
}

static struct mob_key *
file_key(const char *file, const char *id)
{
	struct mob_keyring *kr = NULL;
	const struct mob_kr_entry *e;
	struct mob_key *k = NULL;
	char err[256];

	cr_assert_eq(mob_keyring_load(file, &kr, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(e = mob_keyring_find(kr, id), "%s has no %s", file, id);
	cr_assert_eq(mob_key_dup(e->key, &k), 0);
	mob_keyring_free(kr);
	return k;
}

/* Publish an envelope for id on topic MACed with key (QoS 1). */
static void
raw_publish(struct raw *r, const struct mob_key *idkey, const char *id,
    const struct mob_key *key, const char *topic, const char *dat)
{
	struct mob_signer *s;
	char *tok;
	size_t len;

	cr_assert_eq(mob_signer_new(idkey, id, &s), 0);
	cr_assert_eq(mob_signer_set_key(s, key), 0);
	cr_assert_eq(mob_env_sign(s, topic, dat, &tok, &len), 0);
	cr_assert_eq(mosquitto_publish(r->m, NULL, topic, (int)len, tok, 1,
	    false), 0);
	raw_loop(r, 100);
	free(tok);
	mob_signer_free(s);
}

Test(session, a_stolen_session_key_gets_nothing_through_after_its_connection,
    .fini = node_fini, .timeout = 60)
{
	char akf[512], bkf[512], ckf[512];
	struct mob_key *ak, *bk, *ck, *hubpub, *ka, *kb, *kc, *ka2;
	struct raw *a, *b, *c, *a2;

	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "001F/01F", akf, sizeof(akf));
	th_node_add(&node, "0020/020", bkf, sizeof(bkf));
	th_node_add(&node, "0020/021", ckf, sizeof(ckf));
	ak = file_key(akf, A_ID);
	bk = file_key(bkf, B_ID);
	ck = file_key(ckf, C_ID);
	hubpub = file_key(akf, TH_HID "/000");

	c = raw_new(C_ID, 1);
	kc = raw_session(c, C_ID, C_USER, ck, hubpub);
	cr_assert_eq(mosquitto_subscribe(c->m, NULL, "mob/cov/" TH_HID "/#", 1),
	    0);
	raw_loop(c, 200);

	/* A's first connection: its messages pass */
	a = raw_new(A_ID, 1);
	ka = raw_session(a, A_ID, A_USER, ak, hubpub);
	raw_publish(a, ak, A_ID, ka, A_COV, "{\"n\":1}");
	raw_loop(c, 300);
	cr_assert_eq(c->n, 1, "A's own message did not arrive");
	cr_assert_eq(th_count_log(node.hub.log, "with a session key"), 2);
	raw_free(a);
	raw_loop(c, 200);

	/* B holds A's old key: as A, as itself, nothing passes */
	b = raw_new(B_ID, 1);
	kb = raw_session(b, B_ID, B_USER, bk, hubpub);
	raw_publish(b, ak, A_ID, ka, A_COV, "{\"n\":2}");
	raw_publish(b, bk, B_ID, ka, "mob/cov/" B_ID "/003A/0001/40",
	    "{\"n\":3}");
	/* nor on A's new connection */
	a2 = raw_new(A_ID, 1);
	ka2 = raw_session(a2, A_ID, A_USER, ak, hubpub);
	raw_publish(a2, ak, A_ID, ka, A_COV, "{\"n\":4}");
	/* while the new key works: everything before it was dropped */
	raw_publish(a2, ak, A_ID, ka2, A_COV, "{\"n\":5}");
	raw_loop(c, 500);
	cr_expect_eq(c->n, 2, "%d messages arrived", c->n);
	cr_expect_not_null(strstr(c->payload, "eyJ"));
	/* B on A's topic is refused by the ACL, the others by their MAC */
	cr_expect_geq(th_count_log(node.hub.log, "dropped message"), 2);

	raw_free(a2);
	raw_free(b);
	raw_free(c);
	mob_key_free(ak);
	mob_key_free(bk);
	mob_key_free(ck);
	mob_key_free(hubpub);
	mob_key_free(ka);
	mob_key_free(kb);
	mob_key_free(kc);
	mob_key_free(ka2);
}

/* B still logs in with a session key and gets its own message through. */
static void
expect_serving(const struct mob_key *bk, const struct mob_key *hubpub,
    const char *what)
{
	struct raw *b = raw_new(B_ID, 1);
	struct mob_key *kb = raw_session(b, B_ID, B_USER, bk, hubpub);
	const char *t = "mob/cov/" B_ID "/003A/0001/40";

	cr_assert_eq(mosquitto_subscribe(b->m, NULL, t, 1), 0);
	raw_loop(b, 200);
	raw_publish(b, bk, B_ID, kb, t, "{\"n\":1}");
	raw_loop(b, 300);
	cr_expect_eq(b->n, 1, "%s: the hub still serves", what);
	raw_free(b);
	mob_key_free(kb);
}

/*
 * A session-key client has no password, so at a reload mosquitto re-checks
 * its offline session (Session Expiry > 0) with none.  Refusing it makes
 * mosquitto 2.0.11 disconnect a client that is gone and later crash: the
 * hub keeps it as it keeps a token login's (docs/hub.md, "Reload").
 */
Test(session, a_reload_keeps_an_offline_session_key_login,
    .fini = node_fini, .timeout = 60)
{
	char akf[512], bkf[512];
	struct mob_key *ak, *bk, *hubpub, *ka;
	struct raw *a;

	th_node_start(&node, MOB_MODE_HARDENED);
	th_node_add(&node, "001F/01F", akf, sizeof(akf));
	th_node_add(&node, "0020/020", bkf, sizeof(bkf));
	ak = file_key(akf, A_ID);
	bk = file_key(bkf, B_ID);
	hubpub = file_key(akf, TH_HID "/000");

	a = raw_new(A_ID, 1);
	ka = raw_session_ex(a, A_ID, A_USER, ak, hubpub, 2);
	raw_free(a);	/* offline now, its session kept for 2 s */
	cr_assert_eq(th_wait_log(node.hub.log, "Client " A_ID " disconnected",
	    5000), 0);
	th_node_reload(&node);
	th_node_reload(&node);
	expect_serving(bk, hubpub, "after reloads with an offline session");
	cr_expect_eq(th_count_log(node.hub.log, "login refused"), 0,
	    "the offline session was not refused at the reload");
	cr_assert_eq(th_wait_log(node.hub.log, "Expiring client " A_ID, 10000),
	    0, "A's session expires");
	th_node_reload(&node);
	expect_serving(bk, hubpub, "after the session expired and a reload");
	cr_expect_eq(kill(node.hub.pid, 0), 0, "the hub is alive");
	mob_key_free(ak);
	mob_key_free(bk);
	mob_key_free(hubpub);
	mob_key_free(ka);
}

/* PyJWT mints the token: nothing of this library signs it. */
static int
pyjwt_token(const uint8_t *key, size_t klen, const char *id, const char *user,
    char *out, size_t outlen)
{
	char khex[129], iat[32], nonce[32];
	char *argv[] = { "/usr/bin/python3", "-c",
	    "import sys, jwt\n"
	    "print(jwt.encode({'iss': sys.argv[2], 'sub': sys.argv[3],"
	    " 'iat': int(sys.argv[4]), 'nonce': sys.argv[5]},"
	    " bytes.fromhex(sys.argv[1]), algorithm='HS256',"
	    " headers={'kid': sys.argv[2]}))",
	    khex, (char *)id, (char *)user, iat, nonce, NULL };
	int rc;

	hex(key, klen, khex);
	snprintf(iat, sizeof(iat), "%lld", (long long)mob_clock_wall_ms());
	snprintf(nonce, sizeof(nonce), "n%016llx",
	    (unsigned long long)mob_clock_wall_us());
	memset(out, 0, outlen);
	rc = th_run(argv, NULL, out, outlen, 30000);
	out[strcspn(out, "\n")] = '\0';
	return rc;
}

/* 1 if a plain (password) login with tok is accepted. */
static int
plain_login(const char *id, const char *user, const char *tok)
{
	struct raw *r = raw_new(id, 0);
	int ok;

	cr_assert_eq(mosquitto_username_pw_set(r->m, user, tok), 0);
	cr_assert_eq(mosquitto_connect(r->m, node.sock, 0, 30), 0);
	ok = raw_wait(r, &r->connected, 5000);
	raw_free(r);
	return ok;
}

Test(session, in_compat_mode_the_bundle_does_not_let_a_service_log_in_as_another,
    .fini = node_fini, .timeout = 60)
{
	char akf[512], bkf[512], tok[1024], *mine = NULL;
	struct mob_key *ak, *bk;
	struct mob_keyring *bundle = NULL;
	const struct mob_kr_entry *e;
	uint8_t raw[64];
	struct raw *b;
	int n;

	th_node_start(&node, MOB_MODE_COMPAT);
	th_node_add(&node, "001F/01F", akf, sizeof(akf));
	th_node_add(&node, "0020/020", bkf, sizeof(bkf));
	ak = file_key(akf, A_ID);
	bk = file_key(bkf, B_ID);

	/* B logs in and takes its bundle, as any service does */
	b = raw_new(B_ID, 0);
	cr_assert_eq(mob_token_mint(bk, B_ID, B_USER, mob_clock_wall_ms(),
	    &mine), 0);
	cr_assert_eq(mosquitto_username_pw_set(b->m, B_USER, mine), 0);
	cr_assert_eq(mosquitto_connect(b->m, node.sock, 0, 30), 0);
	cr_assert(raw_wait(b, &b->connected, 5000));
	cr_assert_eq(mosquitto_subscribe(b->m, NULL, "mob/key/" B_ID, 1), 0);
	cr_assert(raw_wait(b, &b->n, 5000), "no bundle");
	cr_assert_eq(mob_keydist_open(b->payload, (size_t)b->len, B_ID, bk, NULL,
	    mob_clock_wall_ms(), 0, &bundle), 0);
	cr_assert_not_null(e = mob_keyring_find(bundle, A_ID));

	/* a token for A made with what B holds of A: refused */
	n = mob_key_raw(e->key, 1, raw, sizeof(raw));
	cr_assert_eq(n, 32);
	cr_assert_eq(pyjwt_token(raw, (size_t)n, A_ID, A_USER, tok,
	    sizeof(tok)), 0, "PyJWT: %s", tok);
	cr_expect_not(plain_login(A_ID, A_USER, tok),
	    "A's message key from B's bundle logged in as A");
	/* and A's PSK itself, what bundles carried before, is no login key */
	n = mob_key_raw(ak, 1, raw, sizeof(raw));
	cr_assert_eq(pyjwt_token(raw, (size_t)n, A_ID, A_USER, tok,
	    sizeof(tok)), 0);
	cr_expect_not(plain_login(A_ID, A_USER, tok));
	/* while A's login key, made the same way, logs in: the test can fail */
	n = mob_key_raw(mob_key_for(ak, MOB_USE_LOGIN), 1, raw, sizeof(raw));
	cr_assert_eq(pyjwt_token(raw, (size_t)n, A_ID, A_USER, tok,
	    sizeof(tok)), 0);
	cr_expect(plain_login(A_ID, A_USER, tok), "A's own login key refused");

	free(mine);
	mob_keyring_free(bundle);
	raw_free(b);
	mob_key_free(ak);
	mob_key_free(bk);
}
