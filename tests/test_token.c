/* MQTT password tokens and the nonce cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/token.h"

#define ID	"000001/01F"
#define USER	"001F/01F"
#define NOW	1700000000000LL
#define WIN	10000

static struct mob_key *tkey;

static const struct mob_key *
lookup(void *ctx, const char *kid, size_t idx)
{
	(void)ctx;
	return idx == 0 && strcmp(kid, ID) == 0 ? tkey : NULL;
}

static void
setup_hs(void)
{
	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &tkey), 0);
}

static void
teardown(void)
{
	mob_key_free(tkey);
	tkey = NULL;
}

TestSuite(token, .init = setup_hs, .fini = teardown);

static int
verify(const char *tok, const char *cid, const char *user, int64_t now,
    struct mob_token *out)
{
	struct mob_token t;

	return mob_token_verify(tok, strlen(tok), lookup, NULL, cid, user, WIN,
	    now, out != NULL ? out : &t);
}

static char *
craft(const struct mob_key *key, const char *kid, const char *claims)
{
	char *t;

	/* a compat PSK signs through its derived key, as the library does */
	cr_assert_eq(mob_jws_sign(mob_key_for(key, MOB_USE_LOGIN), kid, claims,
	    strlen(claims), &t), 0);
	return t;
}

Test(token, mints_and_verifies_hs256)
{
	struct mob_token t;
	char *tok;

	cr_assert_eq(mob_token_mint(tkey, ID, USER, NOW, &tok), 0);
	cr_assert_eq(verify(tok, ID, USER, NOW + 5, &t), 0);
	cr_assert_str_eq(t.iss, ID);
	cr_assert_str_eq(t.sub, USER);
	cr_assert_eq(t.iat, NOW);
	cr_assert_eq(strlen(t.nonce), 22);
	/* client id and username checks are optional */
	cr_assert_eq(verify(tok, NULL, NULL, NOW, NULL), 0);
	free(tok);
}

Test(token, mints_and_verifies_eddsa)
{
	struct mob_token t;
	char *tok;

	mob_key_free(tkey);
	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &tkey), 0);
	cr_assert_eq(mob_token_mint(tkey, ID, USER, NOW, &tok), 0);
	cr_assert_eq(verify(tok, ID, USER, NOW, &t), 0);
	free(tok);
}

Test(token, uses_a_fresh_nonce_each_time)
{
	struct mob_token a, b;
	char *t1, *t2;

	cr_assert_eq(mob_token_mint(tkey, ID, USER, NOW, &t1), 0);
	cr_assert_eq(mob_token_mint(tkey, ID, USER, NOW, &t2), 0);
	cr_assert_eq(verify(t1, ID, USER, NOW, &a), 0);
	cr_assert_eq(verify(t2, ID, USER, NOW, &b), 0);
	cr_assert_str_neq(a.nonce, b.nonce);
	free(t1);
	free(t2);
}

Test(token, refuses_to_mint_for_bad_ids)
{
	char *tok;

	cr_assert_eq(mob_token_mint(tkey, "000001/01g", USER, NOW, &tok),
	    MOB_EINVAL);
	cr_assert_eq(mob_token_mint(tkey, ID, "01F/01F", NOW, &tok), MOB_EINVAL);
	cr_assert_null(tok);
}

Test(token, rejects_wrong_client_id_and_username)
{
	struct mob_token t;
	char *tok;

	cr_assert_eq(mob_token_mint(tkey, ID, USER, NOW, &tok), 0);
	cr_assert_eq(verify(tok, "000001/020", USER, NOW, &t), MOB_EIDENTITY);
	cr_assert_str_eq(t.iss, "");
	cr_assert_eq(verify(tok, ID, "0020/01F", NOW, NULL), MOB_EIDENTITY);
	free(tok);
}

Test(token, rejects_expired_and_future_tokens)
{
	char *tok;

	cr_assert_eq(mob_token_mint(tkey, ID, USER, NOW, &tok), 0);
	cr_assert_eq(verify(tok, ID, USER, NOW + WIN + 1, NULL), MOB_EEXPIRED);
	cr_assert_eq(verify(tok, ID, USER, NOW - WIN - 1, NULL), MOB_EFUTURE);
	cr_assert_eq(verify(tok, ID, USER, NOW + WIN, NULL), 0);
	cr_assert_eq(verify(tok, ID, USER, NOW - WIN, NULL), 0);
	free(tok);
}

Test(token, rejects_unknown_kid_bad_signature_and_iss_mismatch)
{
	struct mob_key *other;
	char *tok;

	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &other), 0);
	cr_assert_eq(mob_token_mint(other, "000001/020", "0020/020", NOW, &tok),
	    0);
	cr_assert_eq(verify(tok, NULL, NULL, NOW, NULL), MOB_EKIDUNKNOWN);
	free(tok);
	cr_assert_eq(mob_token_mint(other, ID, USER, NOW, &tok), 0);
	cr_assert_eq(verify(tok, ID, USER, NOW, NULL), MOB_EBADSIG);
	free(tok);
	/* signed by ID's key but claiming to be someone else */
	tok = craft(tkey, ID, "{\"iss\":\"000001/020\",\"sub\":\"0020/020\","
	    "\"iat\":1700000000000,\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\"}");
	cr_assert_eq(verify(tok, NULL, NULL, NOW, NULL), MOB_EISSMISMATCH);
	free(tok);
	mob_key_free(other);
}

Test(token, rejects_alg_confusion)
{
	struct mob_key *ed, *pub, *forged;
	uint8_t raw[32];
	char *tok;

	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &ed), 0);
	cr_assert_eq(mob_key_public(ed, &pub), 0);
	cr_assert_eq(mob_key_raw(pub, 0, raw, sizeof(raw)), 32);
	cr_assert_eq(mob_key_from_secret(raw, sizeof(raw), &forged), 0);
	mob_key_free(tkey);
	tkey = pub;
	cr_assert_eq(mob_token_mint(forged, ID, USER, NOW, &tok), 0);
	cr_assert_eq(verify(tok, ID, USER, NOW, NULL), MOB_EALGMISMATCH);
	free(tok);
	mob_key_free(forged);
	mob_key_free(ed);
}

Test(token, rejects_bad_claims)
{
	static const struct {
		const char *claims;
		int err;
	} cases[] = {
		{ "{\"iss\":\"" ID "\",\"sub\":\"" USER "\",\"iat\":1700000000000}",
		    MOB_ECLAIM },
		{ "{\"iss\":\"" ID "\",\"sub\":\"" USER "\",\"iat\":1700000000000,"
		    "\"nonce\":\"short\"}", MOB_ECLAIM },
		{ "{\"iss\":\"" ID "\",\"sub\":\"" USER "\",\"iat\":1700000000000,"
		    "\"nonce\":\"AAAAAAAAAAAAAAAAAAAA AA\"}", MOB_ECLAIM },
		{ "{\"iss\":\"" ID "\",\"sub\":\"" USER "\",\"iat\":\"1700000000000\","
		    "\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\"}", MOB_ECLAIM },
		{ "{\"iss\":\"" ID "\",\"sub\":\"" USER "\",\"iat\":1700000000000.5,"
		    "\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\"}", MOB_ECLAIM },
		{ "{\"iss\":\"" ID "\",\"sub\":7,\"iat\":1700000000000,"
		    "\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\"}", MOB_ECLAIM },
		{ "{\"iss\":\"" ID "\",\"sub\":\"" USER "\",\"iat\":1700000000000,"
		    "\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"exp\":1}", MOB_ECLAIM },
		{ "{\"iss\":\"" ID "\",\"sub\":\"" USER "\",\"iat\":1700000000000,"
		    "\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"sub\":\"" USER "\"}",
		    MOB_EHDRDUP },
		{ "[1]", MOB_ECLAIM },
		{ "{\"iss\":\"" ID "\"", MOB_EJSON },
	};
	char *tok;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tok = craft(tkey, ID, cases[i].claims);
		cr_assert_eq(verify(tok, NULL, NULL, NOW, NULL), cases[i].err,
		    "%s", cases[i].claims);
		free(tok);
	}
	/* and a well-formed hand-made one passes (the cases are not vacuous) */
	tok = craft(tkey, ID, "{\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"iat\":"
	    "1700000000000,\"sub\":\"" USER "\",\"iss\":\"" ID "\"}");
	cr_assert_eq(verify(tok, ID, USER, NOW, NULL), 0);
	free(tok);
}

Test(token, caps_the_token_length)
{
	char big[4096];

	memset(big, 'A', sizeof(big));
	cr_assert_eq(mob_token_verify(big, sizeof(big), lookup, NULL, NULL, NULL,
	    WIN, NOW, &(struct mob_token){ .iat = 0 }), MOB_ETOOLONG);
}

Test(token, nonce_is_single_use_until_it_expires)
{
	struct mob_nonce_cache *c;

	cr_assert_eq(mob_nonce_cache_new(16, WIN, &c), 0);
	cr_assert_eq(mob_nonce_check(c, ID, "nonce-a", NOW, NOW), 0);
	cr_assert_eq(mob_nonce_check(c, ID, "nonce-a", NOW, NOW + 1), MOB_EREPLAY);
	cr_assert_eq(mob_nonce_check(c, ID, "nonce-b", NOW, NOW + 1), 0);
	/* as long as a token with that iat could pass, the nonce is held */
	cr_assert_eq(mob_nonce_check(c, ID, "nonce-a", NOW, NOW + WIN), MOB_EREPLAY);
	/* a token too old to be remembered is refused outright */
	cr_assert_eq(mob_nonce_check(c, ID, "nonce-c", NOW, NOW + WIN + 1),
	    MOB_EEXPIRED);
	/* a new token reusing an expired nonce is fine (iat is fresh) */
	cr_assert_eq(mob_nonce_check(c, ID, "nonce-a", NOW + WIN + 1,
	    NOW + WIN + 1), 0);
	cr_assert_eq(mob_nonce_check(c, ID, "nonce-a", NOW + WIN + 1,
	    NOW + WIN + 2), MOB_EREPLAY);
	mob_nonce_cache_free(c);
	mob_nonce_cache_free(NULL);
}

Test(token, nonce_cache_is_bounded_and_fails_closed)
{
	struct mob_nonce_cache *c;
	char n[32], who[32];

	cr_assert_eq(mob_nonce_cache_new(100, WIN, &c), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "n%d", i);
		snprintf(who, sizeof(who), "s%d", i % 10);
		cr_assert_eq(mob_nonce_check(c, who, n, NOW + i, NOW + i), 0);
	}
	/* full of live nonces: refuse rather than forget one */
	cr_assert_eq(mob_nonce_check(c, "s-extra", "extra", NOW + 100, NOW + 100),
	    MOB_ENOMEM);
	/* every nonce is still remembered */
	for (int i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "n%d", i);
		cr_assert_eq(mob_nonce_check(c, "s0", n, NOW + 100, NOW + 100),
		    MOB_EREPLAY, "%s", n);
	}
	/* once the first half expired, room is made and the rest is kept */
	cr_assert_eq(mob_nonce_check(c, "s-extra", "extra", NOW + WIN + 50,
	    NOW + WIN + 50), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "n%d", i);
		if (i >= 50)
			cr_assert_eq(mob_nonce_check(c, "s0", n, NOW + WIN + 50,
			    NOW + WIN + 50), MOB_EREPLAY, "%s", n);
	}
	cr_assert_eq(mob_nonce_check(c, "s-extra", "extra", NOW + WIN + 50,
	    NOW + WIN + 50), MOB_EREPLAY);
	mob_nonce_cache_free(c);
	cr_assert_eq(mob_nonce_cache_new(0, WIN, &c), MOB_EINVAL);
}

/*
 * The table is shared: one identity with a valid key logging in as fast
 * as it can fills only its share (capacity / 8), then is refused, while
 * every other identity still logs in; its share frees as its nonces
 * expire (docs/security.md, "Logins").
 */
Test(token, one_identity_filling_its_share_cannot_block_another_login)
{
	struct mob_nonce_cache *c;
	char n[32];
	int i;

	cr_assert_eq(mob_nonce_cache_new(64, WIN, &c), 0);
	for (i = 0; i < 64; i++) {
		snprintf(n, sizeof(n), "flood%d", i);
		if (mob_nonce_check(c, "000001/066", n, NOW, NOW) != 0)
			break;
	}
	cr_expect_eq(i, 8, "the flooding identity got %d nonces", i);
	cr_expect_eq(mob_nonce_check(c, "000001/066", "one-more", NOW, NOW),
	    MOB_ENOMEM, "over its share: refused");
	for (i = 0; i < 7; i++) {
		snprintf(n, sizeof(n), "other%d", i);
		cr_expect_eq(mob_nonce_check(c, ID, n, NOW, NOW + 1), 0,
		    "another identity's login %d", i);
	}
	/* a refused nonce was not remembered, and spent ones still are */
	cr_expect_eq(mob_nonce_check(c, "000001/066", "flood0", NOW, NOW + 2),
	    MOB_EREPLAY);
	/* once its nonces expired the flooder has its share again */
	cr_expect_eq(mob_nonce_check(c, "000001/066", "later", NOW + WIN + 1,
	    NOW + WIN + 1), 0);
	cr_expect_eq(mob_nonce_check(c, "", "x", NOW, NOW), MOB_EINVAL);
	mob_nonce_cache_free(c);
}

Test(token, token_nonce_works_with_the_cache)
{
	struct mob_nonce_cache *c;
	struct mob_token t;
	char *tok;

	cr_assert_eq(mob_nonce_cache_new(8, WIN, &c), 0);
	cr_assert_eq(mob_token_mint(tkey, ID, USER, NOW, &tok), 0);
	cr_assert_eq(verify(tok, ID, USER, NOW, &t), 0);
	cr_assert_eq(mob_nonce_check(c, ID, t.nonce, t.iat, NOW), 0);
	/* the same token presented again verifies but its nonce is spent */
	cr_assert_eq(verify(tok, ID, USER, NOW + 1, &t), 0);
	cr_assert_eq(mob_nonce_check(c, ID, t.nonce, t.iat, NOW + 1), MOB_EREPLAY);
	free(tok);
	mob_nonce_cache_free(c);
}
