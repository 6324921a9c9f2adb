/*
 * Envelope: round trips, and one test per check of mob_env_verify with the
 * specific error code it must produce.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/jws.h"

#define KID	"000001/01F"
#define KID2	"000001/020"
#define TOPIC	"mob/cov/000001/01F/003A/0001/40"

/* Key table behind the lookup: entries for one kid in idx order. */
struct ent {
	const char *kid;
	struct mob_key *key;
};
static struct ent keys[8];
static size_t nkeys;

static const struct mob_key *
lookup(void *ctx, const char *kid, size_t idx)
{
	(void)ctx;
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].kid, kid) == 0 && idx-- == 0)
			return keys[i].key;
	return NULL;
}

static struct mob_key *
add_key(const char *kid, enum mob_alg alg)
{
	struct mob_key *k;

	cr_assert_lt(nkeys, 8);
	cr_assert_eq(mob_key_generate(alg, &k), 0);
	keys[nkeys].kid = kid;
	keys[nkeys++].key = k;
	return k;
}

static void
teardown(void)
{
	for (size_t i = 0; i < nkeys; i++)
		mob_key_free(keys[i].key);
	nkeys = 0;
}

static struct mob_verifier *
verifier(const struct mob_verifier_cfg *cfg)
{
	struct mob_verifier *v;

	cr_assert_eq(mob_verifier_new(lookup, NULL, cfg, &v), 0);
	return v;
}

static int
verify(struct mob_verifier *v, const char *topic, const char *expect,
    const char *tok, int64_t now)
{
	struct mob_env env;
	int r;

	r = mob_env_verify(v, topic, expect, tok, strlen(tok), now, &env);
	if (r != 0) {
		cr_assert_null(env.claims);
		cr_assert_null(env.dat);
	}
	mob_env_clear(&env);
	return r;
}

/* A token with hand-made claims, signed properly (what a peer could send). */
static char *
craft(const struct mob_key *key, const char *kid, const char *claims)
{
	char *t;

	/* a compat PSK signs through its derived key, as the library does */
	cr_assert_eq(mob_jws_sign(mob_key_for(key, MOB_USE_MESSAGE), kid, claims,
	    strlen(claims), &t), 0);
	return t;
}

static char *
craft_std(const struct mob_key *key, const char *kid, const char *iss,
    const char *top, int64_t iat, uint64_t seq)
{
	char c[512];
	int n;

	n = snprintf(c, sizeof(c), "{\"iss\":\"%s\",\"top\":\"%s\",\"iat\":%lld,"
	    "\"seq\":%llu,\"dat\":null}", iss, top, (long long)iat,
	    (unsigned long long)seq);
	cr_assert_lt(n, (int)sizeof(c));
	return craft(key, kid, c);
}

/* Copy a claims template, replacing "@" with iat. */
static void
fill(char *out, size_t len, const char *tmpl, int64_t iat)
{
	size_t o = 0;

	for (; *tmpl != '\0' && o + 24 < len; tmpl++) {
		if (*tmpl == '@')
			o += (size_t)snprintf(out + o, len - o, "%lld",
			    (long long)iat);
		else
			out[o++] = *tmpl;
	}
	cr_assert_eq(*tmpl, '\0');
	out[o] = '\0';
}

TestSuite(envelope, .fini = teardown);

static void
round_trip(enum mob_alg alg)
{
	struct mob_key *k = add_key(KID, alg);
	struct mob_verifier *v = verifier(NULL);
	struct mob_signer *s;
	struct mob_env env;
	char *tok, *dat;
	size_t len;
	uint64_t first;
	int64_t now = mob_clock_wall_ms();

	cr_assert_eq(mob_signer_new(k, KID, &s), 0);
	cr_assert_str_eq(mob_signer_kid(s), KID);
	cr_assert_eq(mob_env_sign(s, TOPIC, "{\"pv\":21.5,\"t\":[1,2]}", &tok,
	    &len), 0);
	cr_assert_eq(len, strlen(tok));
	cr_assert_eq(mob_env_verify(v, TOPIC, KID, tok, len, now, &env), 0);
	cr_assert_str_eq(env.iss, KID);
	cr_assert_geq(env.iat, now - 1000);
	cr_assert_leq(env.iat, now + 1000);
	/* seq starts at the clock in microseconds */
	cr_assert_geq(env.seq, (uint64_t)(now - 1000) * 1000);
	cr_assert_leq(env.seq, (uint64_t)(now + 1000) * 1000);
	first = env.seq;
	cr_assert_not_null(dat = cJSON_PrintUnformatted(env.dat));
	cr_assert_str_eq(dat, "{\"pv\":21.5,\"t\":[1,2]}");
	free(dat);
	mob_env_clear(&env);
	free(tok);

	/* NULL dat is JSON null; seq rises by one */
	cr_assert_eq(mob_env_sign(s, TOPIC, NULL, &tok, NULL), 0);
	cr_assert_eq(mob_env_verify(v, TOPIC, NULL, tok, strlen(tok), now,
	    &env), 0);
	cr_assert(cJSON_IsNull(env.dat));
	cr_assert_eq(env.seq, first + 1);
	mob_env_clear(&env);
	free(tok);

	/* dat must itself be strict JSON */
	cr_assert_eq(mob_env_sign(s, TOPIC, "{\"a\":1", &tok, NULL), MOB_EJSON);
	cr_assert_eq(mob_env_sign(s, TOPIC, "1 2", &tok, NULL), MOB_EJSON);
	mob_signer_free(s);
	mob_verifier_free(v);
}

Test(envelope, round_trips_hs256)
{
	round_trip(MOB_ALG_HS256);
}

Test(envelope, round_trips_eddsa)
{
	round_trip(MOB_ALG_EDDSA);
}

Test(envelope, verifies_with_only_the_public_key)
{
	struct mob_key *k = add_key(KID, MOB_ALG_EDDSA), *pub;
	struct mob_verifier *v = verifier(NULL);
	struct mob_signer *s;
	char *t;

	cr_assert_eq(mob_signer_new(k, KID, &s), 0);
	cr_assert_eq(mob_key_public(k, &pub), 0);
	keys[0].key = pub;	/* what a hardened hub holds */
	cr_assert_eq(mob_env_sign(s, TOPIC, "true", &t, NULL), 0);
	cr_assert_eq(verify(v, TOPIC, KID, t, mob_clock_wall_ms()), 0);
	free(t);
	keys[0].key = k;
	mob_key_free(pub);
	mob_signer_free(s);
	mob_verifier_free(v);
}

/*
 * Whom a receiving client accepts on a topic (docs/security.md, "Trust
 * model"): cov, obj and svc only from the service the topic names, state
 * and key only from that node's hub; req and rsp are the hub's ACL's.
 */
Test(envelope, the_topic_names_its_only_signer)
{
	static const struct {
		const char *topic, *owner;
		int rc;
	} cases[] = {
		{ "mob/cov/000001/01F/003A/0001/40", "000001/01F", 1 },
		{ "mob/obj/000002/020/003A/0001", "000002/020", 1 },
		{ "mob/svc/000001/01F", "000001/01F", 1 },
		{ "mob/state/000001/01F", "000001/000", 1 },
		{ "mob/key/000001/01F", "000001/000", 1 },
		{ "mob/req/000001/01F", "", 0 },
		{ "mob/rsp/000001/01F/7", "", 0 },
		{ "mob/cov/000001/01f/003A/0001/40", "", MOB_EFORMAT },
		{ "mob/cov/000001/01F0/003A", "", MOB_EFORMAT },
		{ "mob/svc/000001", "", MOB_EFORMAT },
	};
	char owner[MOB_ID_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(mob_topic_owner(cases[i].topic, owner), cases[i].rc,
		    "%s", cases[i].topic);
		cr_expect_str_eq(owner, cases[i].owner, "%s", cases[i].topic);
	}
}

Test(envelope, signer_needs_a_signing_key_and_a_valid_id)
{
	struct mob_key *k = add_key(KID, MOB_ALG_EDDSA), *pub;
	struct mob_signer *s;

	cr_assert_eq(mob_signer_new(k, "000001/01f", &s), MOB_EINVAL);
	cr_assert_eq(mob_signer_new(k, "000001", &s), MOB_EINVAL);
	cr_assert_eq(mob_key_public(k, &pub), 0);
	cr_assert_eq(mob_signer_new(pub, KID, &s), MOB_EINVAL);
	cr_assert_null(s);
	mob_key_free(pub);
	mob_signer_free(NULL);
}

Test(envelope, rejects_an_unknown_kid)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	char *t = craft_std(k, KID2, KID2, TOPIC, now, 1);

	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EKIDUNKNOWN);
	free(t);
	/* and a token without any kid */
	t = craft_std(k, NULL, KID, TOPIC, now, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EHDRMISSING);
	free(t);
	mob_verifier_free(v);
}

/* A KID envelope signed with k, claiming iss and iat, verified on topic. */
static int
craft_verify(struct mob_verifier *v, const struct mob_key *k, const char *iss,
    const char *topic, int64_t iat, uint64_t seq, int64_t now)
{
	char *t = craft_std(k, KID, iss, TOPIC, iat, seq);
	int r = verify(v, topic, NULL, t, now);

	free(t);
	return r;
}

/*
 * A hardened client takes HS256 envelopes as verified by the hub (the
 * session key is the sender's and the hub's alone) and still checks the
 * rest: iss == kid, top, the iat window, replay; EdDSA is verified.
 */
Test(envelope, hub_verified_mode_skips_only_the_session_mac)
{
	struct mob_verifier_cfg cfg = { .hub_verified = MOB_ALG_HS256 };
	struct mob_verifier *v = verifier(&cfg);
	struct mob_key *session, *ed;
	int64_t now = mob_clock_wall_ms();
	char *ok;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &session), 0);
	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &ed), 0);
	ok = craft_std(session, KID, KID, TOPIC, now, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, ok, now), 0);
	cr_assert_eq(verify(v, TOPIC, NULL, ok, now), MOB_EREPLAY);
	free(ok);
	cr_assert_eq(craft_verify(v, session, KID2, TOPIC, now, 2, now),
	    MOB_EISSMISMATCH);
	cr_assert_eq(craft_verify(v, session, KID, "mob/cov/000001/01F/003A/0001/41",
	    now, 3, now), MOB_ETOPICMISMATCH);
	cr_assert_eq(craft_verify(v, session, KID, TOPIC, now - 60000, 4, now),
	    MOB_EEXPIRED);
	/* an EdDSA envelope is the signer's own: no key, no pass */
	cr_assert_eq(craft_verify(v, ed, KID, TOPIC, now, 5, now), MOB_EKIDUNKNOWN);
	mob_key_free(session);
	mob_key_free(ed);
	mob_verifier_free(v);
}

Test(envelope, rejects_iss_other_than_kid)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	char *t = craft_std(k, KID, KID2, TOPIC, now, 1);

	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EISSMISMATCH);
	free(t);
	mob_verifier_free(v);
}

/*
 * A run of a CLI key (mobius/proto.h) signs with kid HID/SID/RUN and iss
 * HID/SID: its identity's key verifies it, each run keeps its own replay
 * state, and a run id never speaks for another identity.
 */
Test(envelope, runs_of_one_key_sign_as_its_identity_with_their_own_seqs)
{
	static const struct {
		const char *kid, *iss;
		int want;
	} bad[] = {
		{ KID "/0000000A", KID2, MOB_EISSMISMATCH },
		{ KID "/0000000a", KID, MOB_EKIDUNKNOWN },
		{ KID "/000000A", KID, MOB_EKIDUNKNOWN },
		{ KID2 "/0000000A", KID2, MOB_EKIDUNKNOWN },
	};
	struct mob_key *k = add_key(KID, MOB_ALG_EDDSA);
	struct mob_verifier *v = verifier(NULL);
	struct mob_signer *a, *b;
	struct mob_jws jws;
	struct mob_env env;
	char *ta, *tb, *t;
	size_t len;
	int64_t now = mob_clock_wall_ms();

	cr_assert_eq(mob_signer_new(k, KID "/0000000A", &a), 0);
	cr_assert_str_eq(mob_signer_kid(a), KID "/0000000A");
	/* b starts later: its seqs are above all of a's */
	usleep(2000);
	cr_assert_eq(mob_signer_new(k, KID "/0000000B", &b), 0);
	cr_assert_eq(mob_env_sign(b, TOPIC, "1", &tb, &len), 0);
	cr_assert_eq(mob_env_sign(a, TOPIC, "2", &ta, &len), 0);
	cr_assert_eq(mob_jws_parse(ta, strlen(ta), 0, &jws), 0);
	cr_assert_str_eq(jws.kid, KID "/0000000A");
	mob_jws_clear(&jws);
	cr_assert_eq(mob_env_verify(v, TOPIC, KID "/0000000B", tb, strlen(tb),
	    now, &env), 0);
	cr_assert_str_eq(env.iss, KID, "speaks as its identity");
	mob_env_clear(&env);
	/* a's lower seq is not a replay of b's: state per kid */
	cr_assert_eq(verify(v, TOPIC, KID "/0000000A", ta, now), 0);
	cr_assert_eq(verify(v, TOPIC, KID "/0000000A", ta, now), MOB_EREPLAY);
	/* bound to its kid: another run's or the bare identity's is refused */
	cr_assert_eq(verify(v, TOPIC, KID, tb, now), MOB_EIDENTITY);
	free(ta);
	free(tb);
	/*
	 * iss must be the kid's identity; a malformed run is no run; a run
	 * of another identity does not get this key
	 */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = craft_std(k, bad[i].kid, bad[i].iss, TOPIC, now, 1);
		cr_assert_eq(verify(v, TOPIC, NULL, t, now), bad[i].want,
		    "kid %s, iss %s", bad[i].kid, bad[i].iss);
		free(t);
	}
	mob_signer_free(a);
	mob_signer_free(b);
	cr_assert_eq(mob_signer_new(k, KID "/0000000a", &a), MOB_EINVAL);
	cr_assert_eq(mob_signer_new(k, KID "/", &a), MOB_EINVAL);
	cr_assert_null(a);
	mob_verifier_free(v);
}

Test(envelope, rejects_a_wrong_expected_identity)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	char *t = craft_std(k, KID, KID, TOPIC, now, 1);

	cr_assert_eq(verify(v, TOPIC, KID2, t, now), MOB_EIDENTITY);
	cr_assert_eq(verify(v, TOPIC, KID, t, now), 0);
	free(t);
	mob_verifier_free(v);
}

Test(envelope, rejects_a_topic_mismatch)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	char *t = craft_std(k, KID, KID, TOPIC, now, 1);

	cr_assert_eq(verify(v, "mob/cov/000001/01F/003A/0001/41", NULL, t, now),
	    MOB_ETOPICMISMATCH);
	cr_assert_eq(verify(v, "mob/cov/000001/01F/003A/0001/4", NULL, t, now),
	    MOB_ETOPICMISMATCH);
	cr_assert_eq(verify(v, TOPIC "/", NULL, t, now), MOB_ETOPICMISMATCH);
	free(t);
	mob_verifier_free(v);
}

Test(envelope, enforces_the_validity_window_at_its_edges)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier_cfg cfg = { .window_ms = 5000 };
	struct mob_verifier *v = verifier(&cfg);
	int64_t now = 1700000000000LL;
	char *t;

	t = craft_std(k, KID, KID, TOPIC, now - 5001, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EEXPIRED);
	free(t);
	t = craft_std(k, KID, KID, TOPIC, now + 5001, 2);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EFUTURE);
	free(t);
	t = craft_std(k, KID, KID, TOPIC, now - 5000, 3);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	t = craft_std(k, KID, KID, TOPIC, now + 5000, 4);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	mob_verifier_free(v);
}

Test(envelope, rejects_a_replayed_token)
{
	struct mob_key *k = add_key(KID, MOB_ALG_EDDSA);
	struct mob_verifier *v = verifier(NULL);
	struct mob_signer *s;
	char *t;

	cr_assert_eq(mob_signer_new(k, KID, &s), 0);
	cr_assert_eq(mob_env_sign(s, TOPIC, "1", &t, NULL), 0);
	cr_assert_eq(verify(v, TOPIC, NULL, t, mob_clock_wall_ms()), 0);
	cr_assert_eq(verify(v, TOPIC, NULL, t, mob_clock_wall_ms()), MOB_EREPLAY);
	/* forgetting another sender changes nothing */
	mob_verifier_forget(v, KID2);
	cr_assert_eq(verify(v, TOPIC, NULL, t, mob_clock_wall_ms()), MOB_EREPLAY);
	/* forgetting all (retained messages, new key bundle) re-opens it */
	mob_verifier_forget(v, NULL);
	cr_assert_eq(verify(v, TOPIC, NULL, t, mob_clock_wall_ms()), 0);
	free(t);
	mob_signer_free(s);
	mob_verifier_free(v);
}

/*
 * Forgetting one sender (the hub does when its key is revoked) drops its
 * state as eviction does, and like eviction it cannot reopen a replay:
 * only what it signs later than the last accepted message passes.
 */
Test(envelope, forgetting_a_sender_keeps_what_it_signed_refused)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	char *t, *u;

	t = craft_std(k, KID, KID, TOPIC, now, 5000000);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	mob_verifier_forget(v, KID);
	cr_expect_eq(verify(v, TOPIC, NULL, t, now + 1), MOB_EREPLAY,
	    "forgetting a sender reopened its replay");
	/* nor does a new seq signed no later than the last accepted pass */
	u = craft_std(k, KID, KID, TOPIC, now, 1);
	cr_expect_eq(verify(v, TOPIC, NULL, u, now + 1), MOB_EREPLAY);
	free(u);
	u = craft_std(k, KID, KID, TOPIC, now + 1, 1);
	cr_expect_eq(verify(v, TOPIC, NULL, u, now + 1), 0,
	    "what it signs later passes");
	free(u);
	free(t);
	mob_verifier_free(v);
}

/*
 * The verifier restarts a sender's replay window when its own wall clock
 * was stepped by more than the window (against the boot clock) since that
 * sender was last accepted: a process of it started after a step back
 * counts its seq from the new, earlier time.  Only for a message signed
 * after the last one accepted (both on the boot clock): one that claims
 * an earlier time gets no new window (docs/protocol.md "Clock steps").
 */
Test(envelope, a_clock_step_restarts_a_window_only_for_a_later_message)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms(), back = now - 3600000;
	char *t;

	t = craft_std(k, KID, KID, TOPIC, now, 5000000000ULL);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	/* stepped back an hour: a message dated before the last one, no */
	t = craft_std(k, KID, KID, TOPIC, back - 10000, 1000);
	cr_expect_eq(verify(v, TOPIC, NULL, t, back), MOB_EREPLAY,
	    "a message signed before the last accepted one reset the window");
	free(t);
	/* a restarted process signing at the new time: its window restarts */
	usleep(5000);	/* the boot clock moves on, as it does before a restart */
	t = craft_std(k, KID, KID, TOPIC, back + 1000, 1000);
	cr_expect_eq(verify(v, TOPIC, NULL, t, back + 1000), 0);
	cr_expect_eq(verify(v, TOPIC, NULL, t, back + 1000), MOB_EREPLAY);
	free(t);
	/* a small difference is no step: a low seq stays a replay */
	t = craft_std(k, KID, KID, TOPIC, back + 2000, 1);
	cr_expect_eq(verify(v, TOPIC, NULL, t, back + 2000), MOB_EREPLAY);
	free(t);
	mob_verifier_free(v);
}

Test(envelope, accepts_late_seqs_inside_the_window_once)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	uint64_t top = 5000000;
	char *t;

	t = craft_std(k, KID, KID, TOPIC, now, top);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	/* inside: top-1 .. top-63, each once */
	t = craft_std(k, KID, KID, TOPIC, now, top - 63);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EREPLAY);
	free(t);
	t = craft_std(k, KID, KID, TOPIC, now, top - 1);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	/* outside: top-64 and below */
	t = craft_std(k, KID, KID, TOPIC, now, top - 64);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EREPLAY);
	free(t);
	t = craft_std(k, KID, KID, TOPIC, now, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EREPLAY);
	free(t);
	/* senders have separate windows */
	add_key(KID2, MOB_ALG_HS256);
	t = craft_std(keys[1].key, KID2, KID2, TOPIC, now, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	mob_verifier_free(v);
}

Test(envelope, replay_window_slides)
{
	struct mob_replay r = { 0, 0 };

	cr_assert_eq(mob_replay_check(&r, 100), 0);
	cr_assert_eq(mob_replay_check(&r, 100), MOB_EREPLAY);
	for (uint64_t s = 37; s < 100; s++)
		cr_assert_eq(mob_replay_check(&r, s), 0, "seq %llu",
		    (unsigned long long)s);
	cr_assert_eq(mob_replay_check(&r, 36), MOB_EREPLAY);
	for (uint64_t s = 37; s <= 100; s++)
		cr_assert_eq(mob_replay_check(&r, s), MOB_EREPLAY);
	/* a small step keeps what was seen */
	cr_assert_eq(mob_replay_check(&r, 110), 0);
	cr_assert_eq(mob_replay_check(&r, 100), MOB_EREPLAY);
	cr_assert_eq(mob_replay_check(&r, 105), 0);
	cr_assert_eq(mob_replay_check(&r, 46), MOB_EREPLAY);
	cr_assert_eq(mob_replay_check(&r, 47), MOB_EREPLAY);	/* seen */
	/* a jump beyond the window clears it */
	cr_assert_eq(mob_replay_check(&r, 1000), 0);
	cr_assert_eq(mob_replay_check(&r, 999), 0);
	cr_assert_eq(mob_replay_check(&r, 937), 0);
	cr_assert_eq(mob_replay_check(&r, 936), MOB_EREPLAY);
	/* seq 0 on fresh state is accepted once */
	memset(&r, 0, sizeof(r));
	cr_assert_eq(mob_replay_check(&r, 0), 0);
	cr_assert_eq(mob_replay_check(&r, 0), MOB_EREPLAY);
}

Test(envelope, forgeries_do_not_move_the_replay_window)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256), *evil;
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	char *t;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &evil), 0);
	t = craft_std(evil, KID, KID, TOPIC, now, 9000000000000000ULL);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EBADSIG);
	free(t);
	/* an authentic but stale or mis-addressed message neither */
	t = craft_std(k, KID, KID, TOPIC, now - 60000, 8000000000000000ULL);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EEXPIRED);
	free(t);
	t = craft_std(k, KID, KID, "mob/cov/x", now, 8000000000000000ULL);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_ETOPICMISMATCH);
	free(t);
	t = craft_std(k, KID, KID, TOPIC, now, 10);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	mob_key_free(evil);
	mob_verifier_free(v);
}

Test(envelope, tries_keys_in_rotation_grace)
{
	struct mob_key *oldk = add_key(KID, MOB_ALG_HS256);
	struct mob_key *newk, *gone;
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	char *t;

	/* lookup order: idx 0 must be the new key, so move it first */
	newk = add_key(KID, MOB_ALG_HS256);
	keys[0].key = newk;
	keys[1].key = oldk;
	t = craft_std(oldk, KID, KID, TOPIC, now, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	t = craft_std(newk, KID, KID, TOPIC, now, 2);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &gone), 0);
	t = craft_std(gone, KID, KID, TOPIC, now, 3);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EBADSIG);
	free(t);
	mob_key_free(gone);
	mob_verifier_free(v);
}

Test(envelope, rejects_hs256_tokens_for_an_ed25519_sender)
{
	struct mob_key *ed = add_key(KID, MOB_ALG_EDDSA), *pub, *forged;
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	uint8_t raw[32];
	char *t;

	cr_assert_eq(mob_key_public(ed, &pub), 0);
	cr_assert_eq(mob_key_raw(pub, 0, raw, sizeof(raw)), 32);
	cr_assert_eq(mob_key_from_secret(raw, sizeof(raw), &forged), 0);
	keys[0].key = pub;	/* the hub holds only the public key */
	t = craft_std(forged, KID, KID, TOPIC, now, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EALGMISMATCH);
	free(t);
	keys[0].key = ed;
	mob_key_free(pub);
	mob_key_free(forged);
	mob_verifier_free(v);
}

Test(envelope, rejects_missing_and_mistyped_claims)
{
	static const char *const bad[] = {
		/* missing each */
		"{\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"iat\":@,\"seq\":1,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"seq\":1,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1}",
		/* wrong types */
		"{\"iss\":1,\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":null,\"iat\":@,\"seq\":1,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":\"@\",\"seq\":1,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@.5,\"seq\":1,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":-1,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1.5,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":\"1\",\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":true,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1e300,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":18014398509481984,\"dat\":1}",
		/* unknown claim, too long iss, not an object */
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1,\"dat\":1,\"exp\":1}",
		"{\"iss\":\"000001/01F000000000\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1,\"dat\":1}",
		"[@]",
	};
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	char c[512], *t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fill(c, sizeof(c), bad[i], now);
		t = craft(k, KID, c);
		cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_ECLAIM, "%s: %s",
		    c, mob_errname(verify(v, TOPIC, NULL, t, now)));
		free(t);
	}
	/* exponent notation of an exact integer is still an integer */
	fill(c, sizeof(c), "{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,"
	    "\"seq\":1.5e3,\"dat\":1}", now);
	t = craft(k, KID, c);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	/* claim order is free; 2^53 is the largest seq */
	fill(c, sizeof(c), "{\"dat\":{},\"seq\":9007199254740992,\"iat\":@,"
	    "\"top\":\"" TOPIC "\",\"iss\":\"" KID "\"}", now);
	t = craft(k, KID, c);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), 0);
	free(t);
	mob_verifier_free(v);
}

/*
 * The claims however a signer spells them (whitespace, escapes, member
 * order, 1000.0 for 1000) read the same, and each is then a replay: the
 * strict cJSON parse decides, not the bytes.
 */
Test(envelope, the_claims_read_the_same_however_they_are_spelled)
{
	static const char *const spelt[] = {
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":#,\"dat\":{\"a\":[1,\"x\"]}}",
		"{ \"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":#,\"dat\":{\"a\":[1,\"x\"]}}",
		"{\"iss\":\"000001\\/01F\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":#,\"dat\":{\"a\":[1,\"x\"]}}",
		"{\"iss\":\"" KID "\",\"top\":\"mob\\/cov/000001/01F/003A/0001/40\",\"iat\":@,\"seq\":#,\"dat\":{\"a\":[1,\"x\"]}}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":#,\"dat\":{\"a\":[1,\"x\"]}}\n",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":#,\"dat\": {\"a\" : [1, \"x\"]} }",
		"{\"dat\":{\"a\":[1,\"x\"]},\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":#}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":#.0,\"dat\":{\"a\":[1,\"x\"]}}",
	};
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	struct mob_env env;
	char c[512], c2[512], *t, *dat, *hash;

	for (size_t i = 0; i < sizeof(spelt) / sizeof(spelt[0]); i++) {
		fill(c, sizeof(c), spelt[i], now);
		/* seq: 1000 + i, after the fill of iat */
		cr_assert_not_null(hash = strchr(c, '#'));
		snprintf(c2, sizeof(c2), "%.*s%zu%s", (int)(hash - c), c,
		    1000 + i, hash + 1);
		t = craft(k, KID, c2);
		cr_assert_eq(mob_env_verify(v, TOPIC, KID, t, strlen(t), now,
		    &env), 0, "%s", c2);
		cr_assert_str_eq(env.iss, KID, "%s", c2);
		cr_assert_eq(env.iat, now, "%s", c2);
		cr_assert_eq(env.seq, 1000 + i, "%s", c2);
		cr_assert_not_null(dat = cJSON_PrintUnformatted(env.dat));
		cr_assert_str_eq(dat, "{\"a\":[1,\"x\"]}", "%s", c2);
		free(dat);
		mob_env_clear(&env);
		/* and the same text again is a replay */
		cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EREPLAY, "%s", c2);
		free(t);
	}
	mob_verifier_free(v);
}

Test(envelope, rejects_duplicate_claims_at_any_depth)
{
	static const char *const bad[] = {
		"{\"iss\":\"" KID "\",\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1,\"seq\":2,\"dat\":1}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1,\"dat\":{\"pv\":1,\"pv\":2}}",
		"{\"iss\":\"" KID "\",\"top\":\"" TOPIC "\",\"iat\":@,\"seq\":1,\"dat\":[{\"a\":{\"b\":1,\"b\":1}}]}",
	};
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	char c[512], *t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fill(c, sizeof(c), bad[i], now);
		t = craft(k, KID, c);
		cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EHDRDUP, "%s", c);
		free(t);
	}
	mob_verifier_free(v);
}

Test(envelope, rejects_strings_cut_by_a_nul_escape)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier *v = verifier(NULL);
	int64_t now = mob_clock_wall_ms();
	char c[512], *t;

	snprintf(c, sizeof(c), "{\"iss\":\"" KID "\",\"top\":\"" TOPIC
	    "\\u0000/extra\",\"iat\":%lld,\"seq\":1,\"dat\":1}", (long long)now);
	t = craft(k, KID, c);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now), MOB_EJSON);
	free(t);
	mob_verifier_free(v);
}

Test(envelope, caps_the_token_size)
{
	struct mob_key *k = add_key(KID, MOB_ALG_HS256);
	struct mob_verifier_cfg cfg = { .max_len = 300 };
	struct mob_verifier *v = verifier(&cfg);
	struct mob_signer *s;
	char dat[400], *t;

	cr_assert_eq(mob_signer_new(k, KID, &s), 0);
	memset(dat, 'x', sizeof(dat) - 1);
	dat[0] = dat[sizeof(dat) - 2] = '"';
	dat[sizeof(dat) - 1] = '\0';
	cr_assert_eq(mob_env_sign(s, TOPIC, dat, &t, NULL), 0);
	cr_assert_gt(strlen(t), 300);
	cr_assert_eq(verify(v, TOPIC, NULL, t, mob_clock_wall_ms()), MOB_ETOOLONG);
	free(t);
	cr_assert_eq(mob_env_sign(s, TOPIC, "1", &t, NULL), 0);
	cr_assert_eq(verify(v, TOPIC, NULL, t, mob_clock_wall_ms()), 0);
	free(t);
	mob_signer_free(s);
	mob_verifier_free(v);
}

static void
mutations_fail(enum mob_alg alg)
{
	struct mob_key *k = add_key(KID, alg);
	struct mob_verifier *v = verifier(NULL);
	struct mob_signer *s;
	struct mob_env env;
	char *t;
	size_t len;
	int64_t now = mob_clock_wall_ms();
	int r;

	cr_assert_eq(mob_signer_new(k, KID, &s), 0);
	cr_assert_eq(mob_env_sign(s, TOPIC, "{\"pv\":1}", &t, &len), 0);
	for (size_t i = 0; i < len; i++)
		for (int b = 0; b < 8; b++) {
			t[i] ^= (char)(1 << b);
			r = mob_env_verify(v, TOPIC, NULL, t, len, now, &env);
			cr_assert_lt(r, 0, "byte %zu bit %d accepted", i, b);
			t[i] ^= (char)(1 << b);
		}
	for (size_t n = 0; n < len; n++)
		cr_assert_lt(mob_env_verify(v, TOPIC, NULL, t, n, now, &env), 0,
		    "truncated to %zu accepted", n);
	/* none of that touched the replay state */
	cr_assert_eq(mob_env_verify(v, TOPIC, NULL, t, len, now, &env), 0);
	mob_env_clear(&env);
	free(t);
	mob_signer_free(s);
	mob_verifier_free(v);
}

Test(envelope, rejects_every_bit_flip_and_truncation_hs256)
{
	mutations_fail(MOB_ALG_HS256);
}

Test(envelope, rejects_every_bit_flip_and_truncation_eddsa)
{
	mutations_fail(MOB_ALG_EDDSA);
}

Test(envelope, bounds_sender_state_and_fails_closed_on_eviction)
{
	struct mob_verifier_cfg cfg = { .max_senders = 2 };
	struct mob_verifier *v = verifier(&cfg);
	const char *kids[3] = { "000001/001", "000001/002", "000001/003" };
	struct mob_key *k[3];
	int64_t now = 1700000000000LL;
	char *old, *t;

	for (int i = 0; i < 3; i++)
		k[i] = add_key(kids[i], MOB_ALG_HS256);
	old = craft_std(k[0], kids[0], kids[0], TOPIC, now, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, old, now), 0);
	t = craft_std(k[1], kids[1], kids[1], TOPIC, now + 10, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now + 10), 0);
	free(t);
	/* a third sender evicts the least recently heard (kids[0]) */
	t = craft_std(k[2], kids[2], kids[2], TOPIC, now + 20, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now + 20), 0);
	free(t);
	/* kids[0]'s state is gone, yet its old token is not accepted again */
	cr_assert_eq(verify(v, TOPIC, NULL, old, now + 30), MOB_EREPLAY);
	free(old);
	/* a fresh message from it is (and evicts kids[1]) */
	t = craft_std(k[0], kids[0], kids[0], TOPIC, now + 40, 2);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now + 40), 0);
	free(t);
	/* kids[2] kept its state */
	t = craft_std(k[2], kids[2], kids[2], TOPIC, now + 20, 1);
	cr_assert_eq(verify(v, TOPIC, NULL, t, now + 50), MOB_EREPLAY);
	free(t);
	mob_verifier_free(v);
}

Test(envelope, keeps_state_for_many_senders)
{
	struct mob_verifier *v = verifier(NULL);
	static char kid[300][11];
	int64_t now = mob_clock_wall_ms();
	struct mob_key *k;
	char *t[300];

	/* one key serves every kid here: lookup by prefix is not the point */
	k = add_key("*", MOB_ALG_HS256);
	for (int i = 0; i < 300; i++) {
		snprintf(kid[i], sizeof(kid[i]), "000001/%03X", i);
		keys[0].kid = kid[i];
		t[i] = craft_std(k, kid[i], kid[i], TOPIC, now, 7);
		cr_assert_eq(verify(v, TOPIC, NULL, t[i], now), 0);
	}
	/* after growth and rehashing every sender still remembers seq 7 */
	for (int i = 0; i < 300; i++) {
		keys[0].kid = kid[i];
		cr_assert_eq(verify(v, TOPIC, NULL, t[i], now), MOB_EREPLAY);
		free(t[i]);
	}
	/* forget some in the middle of probe chains; the rest stay */
	for (int i = 0; i < 300; i += 3)
		mob_verifier_forget(v, kid[i]);
	for (int i = 0; i < 300; i++) {
		keys[0].kid = kid[i];
		/* a forgotten sender passes with what it signs later */
		t[i] = craft_std(k, kid[i], kid[i], TOPIC, now + 1, 7);
		cr_assert_eq(verify(v, TOPIC, NULL, t[i], now + 1),
		    i % 3 == 0 ? 0 : MOB_EREPLAY, "sender %d", i);
		free(t[i]);
	}
	keys[0].kid = "*";
	mob_verifier_free(v);
}
