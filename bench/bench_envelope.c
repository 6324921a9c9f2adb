/*
 * Envelope sign/verify throughput for HS256 and EdDSA at 64 B and 1 KiB
 * payloads, each beside the bare OpenSSL primitive (HMAC-SHA256 through a
 * keyed EVP_MAC_CTX template, Ed25519 through EVP_DigestSign/Verify) on
 * the same bytes in the same run.  The ratio says what the envelope
 * (JSON, base64url, claims, replay state) costs on top of the crypto.
 *
 * Target (issue 2): HS256 envelope verify of a 64 B message >= 250 000/s
 * on one core.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"

#define KID		"000001/01F"
#define TOPIC		"mob/cov/000001/01F/0001/0001/40"
#define BATCH		1024
#define RUN_NS		200000000LL	/* per measurement */
#define ROUNDS		3		/* best of, against other load */
#define TARGET_VERIFY	250000.0

static const struct mob_key *bench_key;

static const struct mob_key *
lookup(void *ctx, const char *kid, size_t idx)
{
	(void)ctx;
	return idx == 0 && strcmp(kid, KID) == 0 ? bench_key : NULL;
}


static void
die(const char *what, int r)
{
	fprintf(stderr, "bench_envelope: %s: %s\n", what, mob_strerror(r));
	exit(1);
}

/* "dat" as a JSON string whose text is exactly size bytes. */
static char *
make_dat(size_t size)
{
	char *d = malloc(size + 1);

	if (d == NULL)
		die("malloc", MOB_ENOMEM);
	memset(d, 'x', size);
	d[0] = d[size - 1] = '"';
	d[size] = '\0';
	return d;
}

/* --- bare OpenSSL ----------------------------------------------------- */

struct bare {
	EVP_MAC_CTX *mac;	/* keyed template */
	EVP_PKEY *pkey;
};

static void
bare_init(struct bare *b, const struct mob_key *key)
{
	uint8_t raw[64];
	OSSL_PARAM p[2];
	EVP_MAC *m;
	int n;

	memset(b, 0, sizeof(*b));
	n = mob_key_raw(key, 1, raw, sizeof(raw));
	if (n < 0)
		die("mob_key_raw", n);
	if (mob_key_alg(key) == MOB_ALG_HS256) {
		p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)"SHA256", 0);
		p[1] = OSSL_PARAM_construct_end();
		if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
		    (b->mac = EVP_MAC_CTX_new(m)) == NULL ||
		    EVP_MAC_init(b->mac, raw, (size_t)n, p) != 1)
			die("EVP_MAC", MOB_ECRYPTO);
		EVP_MAC_free(m);
	} else if ((b->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519,
	    NULL, raw, (size_t)n)) == NULL)
		die("EVP_PKEY", MOB_ECRYPTO);
	OPENSSL_cleanse(raw, sizeof(raw));
}

static void
bare_free(struct bare *b)
{
	EVP_MAC_CTX_free(b->mac);
	EVP_PKEY_free(b->pkey);
}

/* One bare sign (verify=0) or verify (verify=1) of msg; sig in/out. */
static void
bare_op(struct bare *b, int verify, const uint8_t *msg, size_t len,
    uint8_t sig[64])
{
	uint8_t out[64];
	size_t n = sizeof(out);
	EVP_MAC_CTX *c;
	EVP_MD_CTX *md;
	int ok;

	if (b->mac != NULL) {
		if ((c = EVP_MAC_CTX_dup(b->mac)) == NULL)
			die("EVP_MAC_CTX_dup", MOB_ECRYPTO);
		ok = EVP_MAC_update(c, msg, len) == 1 &&
		    EVP_MAC_final(c, out, &n, sizeof(out)) == 1;
		EVP_MAC_CTX_free(c);
		if (!ok)
			die("HMAC", MOB_ECRYPTO);
		if (!verify)
			memcpy(sig, out, 32);
		else if (CRYPTO_memcmp(out, sig, 32) != 0)
			die("HMAC compare", MOB_EBADSIG);
		return;
	}
	if ((md = EVP_MD_CTX_new()) == NULL)
		die("EVP_MD_CTX_new", MOB_ENOMEM);
	if (verify)
		ok = EVP_DigestVerifyInit(md, NULL, NULL, NULL, b->pkey) == 1 &&
		    EVP_DigestVerify(md, sig, 64, msg, len) == 1;
	else
		ok = EVP_DigestSignInit(md, NULL, NULL, NULL, b->pkey) == 1 &&
		    EVP_DigestSign(md, sig, &n, msg, len) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		die("Ed25519", MOB_ECRYPTO);
}

/* --- measurements ----------------------------------------------------- */

struct rates {
	double sign, verify, bare_sign, bare_verify;
};

static void
measure(enum mob_alg alg, size_t size, struct rates *out)
{
	struct mob_key *key;
	struct mob_signer *s;
	struct mob_verifier *v;
	struct mob_env env;
	struct bare b;
	char **tok, *dat = make_dat(size);
	size_t *len, i, nsign = 0, nver = 0, nbare = 0;
	uint8_t sig[64];
	long long t0, tsign = 0, tver = 0, tb;
	int r;

	if ((r = mob_key_generate(alg, &key)) != 0)
		die("mob_key_generate", r);
	bench_key = key;
	if ((r = mob_signer_new(key, KID, &s)) != 0 ||
	    (r = mob_verifier_new(lookup, NULL, NULL, &v)) != 0)
		die("signer/verifier", r);
	bare_init(&b, key);
	tok = calloc(BATCH, sizeof(*tok));
	len = calloc(BATCH, sizeof(*len));
	if (tok == NULL || len == NULL)
		die("calloc", MOB_ENOMEM);

	/* Batches of fresh tokens, so replay protection sees real traffic. */
	while (tsign < RUN_NS || tver < RUN_NS) {
		t0 = mob_clock_mono_ns();
		for (i = 0; i < BATCH; i++)
			if ((r = mob_env_sign(s, TOPIC, dat, &tok[i], &len[i])) != 0)
				die("mob_env_sign", r);
		tsign += mob_clock_mono_ns() - t0;
		nsign += BATCH;
		t0 = mob_clock_mono_ns();
		for (i = 0; i < BATCH; i++) {
			if ((r = mob_env_verify(v, TOPIC, KID, tok[i], len[i],
			    mob_clock_wall_ms(), &env)) != 0)
				die("mob_env_verify", r);
			mob_env_clear(&env);
		}
		tver += mob_clock_mono_ns() - t0;
		nver += BATCH;
		for (i = 0; i < BATCH; i++)
			free(tok[i]);
	}
	out->sign = nsign * 1e9 / (double)tsign;
	out->verify = nver * 1e9 / (double)tver;

	/* Bare primitive over a token's signing input (same bytes). */
	if ((r = mob_env_sign(s, TOPIC, dat, &tok[0], &len[0])) != 0)
		die("mob_env_sign", r);
	*strrchr(tok[0], '.') = '\0';
	len[0] = strlen(tok[0]);
	for (int verify = 0; verify < 2; verify++) {
		nbare = 0;
		t0 = mob_clock_mono_ns();
		do {
			for (i = 0; i < 256; i++)
				bare_op(&b, verify, (uint8_t *)tok[0], len[0], sig);
			nbare += 256;
		} while ((tb = mob_clock_mono_ns() - t0) < RUN_NS);
		if (verify)
			out->bare_verify = nbare * 1e9 / (double)tb;
		else
			out->bare_sign = nbare * 1e9 / (double)tb;
	}
	free(tok[0]);
	free(tok);
	free(len);
	free(dat);
	bare_free(&b);
	mob_verifier_free(v);
	mob_signer_free(s);
	mob_key_free(key);
}

int
main(void)
{
	static const size_t sizes[] = { 64, 1024 };
	static const enum mob_alg algs[] = { MOB_ALG_HS256, MOB_ALG_EDDSA };
	struct rates r = { 0, 0, 0, 0 }, best;
	double target = 0;

	printf("envelope (mob_env_sign / mob_env_verify) vs bare OpenSSL on the "
	    "same bytes, one thread, best of %d\n", ROUNDS);
	printf("%-6s %5s  %-6s %12s %12s %7s\n", "alg", "dat", "op",
	    "envelope/s", "bare/s", "ratio");
	for (size_t a = 0; a < 2; a++) {
		for (size_t z = 0; z < 2; z++) {
			memset(&best, 0, sizeof(best));
			for (int i = 0; i < ROUNDS; i++) {
				measure(algs[a], sizes[z], &r);
				best.sign = r.sign > best.sign ? r.sign : best.sign;
				best.verify = r.verify > best.verify ?
				    r.verify : best.verify;
				best.bare_sign = r.bare_sign > best.bare_sign ?
				    r.bare_sign : best.bare_sign;
				best.bare_verify = r.bare_verify > best.bare_verify ?
				    r.bare_verify : best.bare_verify;
			}
			r = best;
			printf("%-6s %4zuB  %-6s %12.0f %12.0f %7.2f\n",
			    mob_alg_name(algs[a]), sizes[z], "sign", r.sign,
			    r.bare_sign, r.sign / r.bare_sign);
			printf("%-6s %4zuB  %-6s %12.0f %12.0f %7.2f\n",
			    mob_alg_name(algs[a]), sizes[z], "verify", r.verify,
			    r.bare_verify, r.verify / r.bare_verify);
			if (algs[a] == MOB_ALG_HS256 && sizes[z] == 64)
				target = r.verify;
		}
	}
	printf("target: HS256 envelope verify 64 B >= %.0f/s: %.0f/s %s\n",
	    TARGET_VERIFY, target, target >= TARGET_VERIFY ? "PASS" : "MISS");
	return 0;
}
