/*
 * The hub plugin's modules linked as objects (hub/rules.mk), without a
 * broker: the few mosquitto functions the plugin calls are stood in for
 * below, so a test drives auth.c, acl.c and reqs.c directly and reads what
 * they decided.  The keys are real (mobius-keytool); test_hub.c runs the
 * same plugin inside mosquitto.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "mobius/err.h"
#include "mobius/key.h"
#include "mobius/keyring.h"
#include "mobius/token.h"
#include "support/harness.h"

#include "../hub/internal.h"

#define A_USER	"001F/01F"
#define A_ID	TH_HID "/01F"
#define B_USER	"0020/020"
#define B_ID	TH_HID "/020"
#define C_USER	"0020/021"
#define C_ID	TH_HID "/021"

/* --- the broker, as far as the plugin sees it ------------------------- */

struct mosquitto {
	char id[32];
	char addr[32];
};

static char broker_log[16384];
static int kicked, published;

const char *
mosquitto_client_id(const struct mosquitto *client)
{
	return client->id;
}

const char *
mosquitto_client_address(const struct mosquitto *client)
{
	return client->addr;
}

const char *
mosquitto_client_username(const struct mosquitto *client)
{
	(void)client;
	return NULL;	/* the session handshake is tested in test_hub */
}

void *
mosquitto_malloc(size_t len)
{
	return malloc(len);
}

void
mosquitto_free(void *p)
{
	free(p);
}

void
mosquitto_log_printf(int level, const char *fmt, ...)
{
	size_t n = strlen(broker_log);
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vsnprintf(broker_log + n, sizeof(broker_log) - n, fmt, ap);
	va_end(ap);
	n = strlen(broker_log);
	if (n + 1 < sizeof(broker_log))
		strcpy(broker_log + n, "\n");
}

int
mosquitto_broker_publish_copy(const char *clientid, const char *topic,
    int payloadlen, const void *payload, int qos, bool retain,
    mosquitto_property *properties)
{
	(void)clientid, (void)topic, (void)payloadlen, (void)payload;
	(void)qos, (void)retain, (void)properties;
	published++;
	return MOSQ_ERR_SUCCESS;
}

int
mosquitto_kick_client_by_clientid(const char *clientid, bool with_will)
{
	(void)clientid, (void)with_will;
	kicked++;
	return MOSQ_ERR_SUCCESS;
}

int
mosquitto_callback_register(mosquitto_plugin_id_t *identifier, int event,
    MOSQ_FUNC_generic_callback cb_func, const void *event_data, void *userdata)
{
	(void)identifier, (void)event, (void)cb_func, (void)event_data;
	(void)userdata;
	return MOSQ_ERR_SUCCESS;
}

int
mosquitto_callback_unregister(mosquitto_plugin_id_t *identifier, int event,
    MOSQ_FUNC_generic_callback cb_func, const void *event_data)
{
	(void)identifier, (void)event, (void)cb_func, (void)event_data;
	return MOSQ_ERR_SUCCESS;
}

/* --- fixtures --------------------------------------------------------- */

static struct th_node node;
static char a_key[512], b_key[512], c_key[512];

static void
setup(void)
{
	th_node_init(&node, MOB_MODE_HARDENED);
	th_node_add(&node, A_USER, a_key, sizeof(a_key));
	th_node_add(&node, B_USER, b_key, sizeof(b_key));
	th_node_add(&node, C_USER, c_key, sizeof(c_key));
	broker_log[0] = '\0';
	kicked = published = 0;
}

static void
teardown(void)
{
	th_node_stop(&node);
}

TestSuite(hub_unit, .init = setup, .fini = teardown, .timeout = 30);

/* The plugin as mosquitto_plugin_init makes it, with extra "k=v" options. */
static struct hub *
hub_new(const char *const extra[])
{
	struct mosquitto_opt opts[16];
	char kv[16][64];
	void *ud = NULL;
	int n = 0;

	opts[n].key = "keys";
	opts[n++].value = node.keys;
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++, n++) {
		snprintf(kv[n], sizeof(kv[n]), "%s", extra[i]);
		opts[n].key = kv[n];
		opts[n].value = strchr(kv[n], '=') + 1;
		opts[n].value[-1] = '\0';
	}
	cr_assert_eq(mosquitto_plugin_init((mosquitto_plugin_id_t *)&node, &ud,
	    opts, n), MOSQ_ERR_SUCCESS, "plugin init: %s", broker_log);
	return ud;
}

static void
hub_done(struct hub *h)
{
	mosquitto_plugin_cleanup(h, NULL, 0);
}

static struct mob_key *
load_key(const char *file, const char *id)
{
	struct mob_keyring *kr = NULL;
	const struct mob_kr_entry *e;
	struct mob_key *k = NULL;
	char err[256];

	cr_assert_eq(mob_keyring_load(file, &kr, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(e = mob_keyring_find(kr, id));
	cr_assert_eq(mob_key_dup(e->key, &k), 0);
	mob_keyring_free(kr);
	return k;
}

/* A CONNECT of client with user and password: MOSQ_ERR_SUCCESS or _AUTH. */
static int
login_pw(struct hub *h, struct mosquitto *client, const char *user,
    const char *pw)
{
	struct mosquitto_evt_basic_auth ed;

	memset(&ed, 0, sizeof(ed));
	ed.client = client;
	ed.username = (char *)user;
	ed.password = (char *)pw;
	return hub_auth__basic(MOSQ_EVT_BASIC_AUTH, &ed, h);
}

/* Log client in as id with a fresh token of the key in keyfile. */
static int
login(struct hub *h, struct mosquitto *client, const char *user,
    const char *keyfile)
{
	struct mob_key *k = load_key(keyfile, client->id);
	char *tok = NULL;
	int r;

	cr_assert_eq(mob_token_mint(k, client->id, user, mob_clock_wall_ms(), &tok), 0);
	r = login_pw(h, client, user, tok);
	free(tok);
	mob_key_free(k);
	return r;
}

static int
acl(struct hub *h, struct mosquitto *client, int access, const char *topic)
{
	struct mosquitto_evt_acl_check ed;

	memset(&ed, 0, sizeof(ed));
	ed.client = client;
	ed.topic = topic;
	ed.access = access;
	return hub_acl__check(MOSQ_EVT_ACL_CHECK, &ed, h);
}

/* --- options ---------------------------------------------------------- */

Test(hub_unit, two_writers_options_for_one_target_are_refused)
{
	struct mosquitto_opt opts[] = {
		{ "keys", node.keys },
		{ "writers_020", "021" },
		{ "writers_020", "01F" },
	};
	struct hub_opts o;
	char err[256] = "";

	cr_expect_eq(hub_opts__parse(&o, opts, 2, err, sizeof(err)), 0,
	    "%s", err);
	cr_expect_eq(hub_opts__parse(&o, opts, 3, err, sizeof(err)),
	    MOB_ECONFIG, "the second list for 020 is refused");
	cr_expect(strstr(err, "writers_020") != NULL, "%s", err);
}

/* --- topic rules ------------------------------------------------------ */

Test(hub_unit, a_response_is_allowed_only_from_the_target_asked)
{
	struct mosquitto a = { A_ID, "" }, b = { B_ID, "" }, c = { C_ID, "" };
	struct hub *h = hub_new(NULL);
	const char *rsp = "mob/rsp/" A_ID "/r1";

	cr_assert_eq(login(h, &a, A_USER, a_key), MOSQ_ERR_SUCCESS);
	cr_assert_eq(login(h, &b, B_USER, b_key), MOSQ_ERR_SUCCESS);
	cr_assert_eq(login(h, &c, C_USER, c_key), MOSQ_ERR_SUCCESS);
	cr_expect_eq(acl(h, &b, MOSQ_ACL_WRITE, rsp), MOSQ_ERR_ACL_DENIED,
	    "nobody asked B yet");
	cr_assert_eq(hub_reqs__note(h, A_ID, "r1", B_ID, mob_clock_wall_ms()), 0);
	cr_expect_eq(acl(h, &b, MOSQ_ACL_WRITE, rsp), MOSQ_ERR_SUCCESS);
	cr_expect_eq(acl(h, &c, MOSQ_ACL_WRITE, rsp), MOSQ_ERR_ACL_DENIED);
	hub_reqs__done(h, A_ID, "r1");
	cr_expect_eq(acl(h, &b, MOSQ_ACL_WRITE, rsp), MOSQ_ERR_ACL_DENIED,
	    "answered once");
	hub_done(h);
}

/* --- logins ----------------------------------------------------------- */

static char *
token_of(const char *keyfile, const char *id, const char *user)
{
	struct mob_key *k = load_key(keyfile, id);
	char *tok = NULL;

	cr_assert_eq(mob_token_mint(k, id, user, mob_clock_wall_ms(), &tok), 0);
	mob_key_free(k);
	return tok;
}

/* Rule 1: nobody logs in as the hub, not even with the hub's own key. */
Test(hub_unit, the_hubs_own_id_never_logs_in)
{
	struct mosquitto x = { TH_HID "/000", "" };
	struct hub *h = hub_new(NULL);
	char hubkey[600], *tok;

	snprintf(hubkey, sizeof(hubkey), "%s/hub.key", node.keys);
	tok = token_of(hubkey, TH_HID "/000", "0000/000");
	cr_expect_eq(login_pw(h, &x, "0000/000", tok), MOSQ_ERR_AUTH);
	cr_expect_eq(h->st.logins_ok, 0);
	free(tok);
	hub_done(h);
}

Test(hub_unit, only_the_reload_recheck_of_the_same_session_passes_a_spent_token)
{
	struct mosquitto a = { A_ID, "" }, a2 = { A_ID, "" };
	struct mosquitto_evt_disconnect dis = { .client = &a };
	struct hub *h = hub_new(NULL);
	char *tok = token_of(a_key, A_ID, A_USER);

	cr_assert_eq(login_pw(h, &a, A_USER, tok), MOSQ_ERR_SUCCESS);
	cr_expect_eq(login_pw(h, &a, A_USER, tok), MOSQ_ERR_SUCCESS,
	    "re-check of the logged-in connection");
	hub_state__disconnect(MOSQ_EVT_DISCONNECT, &dis, h);
	cr_expect_eq(login_pw(h, &a, A_USER, tok), MOSQ_ERR_AUTH,
	    "outside a reload the spent token is a replay");
	h->reloading = 1;
	cr_expect_eq(login_pw(h, &a2, A_USER, tok), MOSQ_ERR_AUTH,
	    "another connection with the spent token is a replay");
	cr_expect_eq(login_pw(h, &a, A_USER, tok), MOSQ_ERR_SUCCESS,
	    "the offline session passes the reload re-check");
	free(tok);
	hub_done(h);
}

/*
 * What a client chose reaches the journal as printable ASCII only: a
 * newline in a client id cannot forge a log line, an escape cannot drive
 * a terminal (docs/hub.md, "Message verification").
 */
Test(hub_unit, client_text_in_log_lines_is_printable_ascii)
{
	struct mosquitto x = { A_ID "\nmobius: forged", "" };
	struct hub *h = hub_new(NULL);
	char *good = token_of(a_key, A_ID, A_USER);

	cr_assert_eq(login_pw(h, &x, A_USER "\x1b[2J", good), MOSQ_ERR_AUTH);
	cr_assert_not_null(strstr(broker_log, "login refused for " A_ID "?mobius: forged"),
	    "%s", broker_log);
	cr_expect_null(strstr(broker_log, "\nmobius: forged"), "%s", broker_log);
	cr_expect_null(strchr(broker_log, '\x1b'), "%s", broker_log);
	free(good);
	hub_done(h);
}

Test(hub_unit, a_failed_token_costs_one_verification_and_never_blocks_a_good_one)
{
	struct mosquitto a = { A_ID, "" }, x = { A_ID, "" };
	struct hub *h = hub_new(NULL);
	char *forged = token_of(b_key, B_ID, B_USER);
	char *good = token_of(a_key, A_ID, A_USER);

	for (int i = 0; i < 100; i++)
		cr_assert_eq(login_pw(h, &x, A_USER, forged), MOSQ_ERR_AUTH);
	cr_expect_eq(h->st.logins_failed, 100);
	cr_expect_eq(h->st.cached, 99, "the repeats were looked up, not verified");
	cr_expect_eq(login_pw(h, &a, A_USER, good), MOSQ_ERR_SUCCESS,
	    "A's own token is verified whatever failed in its name");
	free(forged);
	free(good);
	hub_done(h);
}
