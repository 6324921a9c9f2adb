/*
 * Writes seed corpora for the fuzz targets into DIR/fuzz_NAME/: valid
 * tokens, envelopes and topics (with the fuzzers' fixed keys), so fuzzing
 * starts deep instead of rediscovering the formats.  Other targets may
 * add their own seeds here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "mobius/jws.h"

static const char *outdir;

static void
seed(const char *target, int n, char mode, const char *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/seed-%03d", outdir, target, n);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	if (mode != '\0')
		fputc(mode, f);
	fwrite(data, 1, len, f);
	if (fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
seed_s(const char *target, int n, char mode, const char *s)
{
	seed(target, n, mode, s, strlen(s));
}

int
main(int argc, char *argv[])
{
	static const char *const claims[] = {
		"{\"iss\":\"" FUZZ_KID "\",\"top\":\"mob/cov/000001/01F/003A/0001/40\","
		    "\"iat\":1700000000000,\"seq\":1700000000000000,\"dat\":{\"pv\":21.5}}",
		"{\"dat\":null,\"seq\":1,\"iat\":1700000000001,\"top\":"
		    "\"mob/cov/000001/01F/003A/0001/40\",\"iss\":\"" FUZZ_KID "\"}",
		"{\"iss\":\"" FUZZ_KID "\",\"top\":\"mob/cov/000001/01F/003A/0001/40\","
		    "\"iat\":1699999995000,\"seq\":9007199254740992,\"dat\":[1,\"a\",true]}",
	};
	static const char *const topics[] = {
		"000001", "000001/01F", "000001/01F/003A/0001/40", "000001/+/003A/+/40",
		"000001/#", "mob/cov/000001/01F/003A/0001/40", "mob/obj/000001/01F/003A/0001",
		"mob/svc/000001/01F", "mob/state/000001/01F", "mob/req/000001/01F",
		"mob/rsp/000001/01F/r-1_Az", "mob/key/000001/01F", "mob/cov/#",
		"mob/rsp/000001/01F/+", "001F/01F",
	};
	/* keyrings (docs/keys.md): the hub's, a service's key file, compat */
	static const char *const keyrings[] = {
		"# hub keyring\nmobius-keyring 1 hid=000001 mode=hardened\n"
		"hub 000001/000 alg=EdDSA state=active user=mobius-hub "
		"pub=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n"
		"service 000001/01F spid=001F alg=EdDSA state=grace "
		"not-after=2026-11-22T04:00:00Z user=mobius-sim "
		"pub=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n"
		"service 000001/01F spid=001F alg=EdDSA state=active "
		"user=mobius-sim pub=QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8\n"
		"service 000001/020 spid=0020 alg=EdDSA state=revoked "
		"pub=YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8\n"
		"peer 000002/0F0 alg=EdDSA state=active "
		"pub=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
		"mobius-keyring 1 hid=000001 mode=hardened\n"
		"service 000001/01F spid=001F alg=EdDSA state=active "
		"priv=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n"
		"hub 000001/000 alg=EdDSA state=active "
		"pub=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
		"mobius-keyring 1 hid=00ABCD mode=compat\n"
		"hub 00ABCD/000 alg=HS256 state=active "
		"secret=QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8\n"
		"\tservice\t00ABCD/030 spid=0030 alg=HS256 state=active "
		"secret=YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8\n",
	};
	static const char hs[] = "{\"alg\":\"HS256\",\"kid\":\"" FUZZ_KID "\"}";
	static const char ed[] = "{\"alg\":\"EdDSA\",\"kid\":\"" FUZZ_KID "\"}";
	char buf[1024], *t;
	int n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	outdir = argv[1];
	for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
		/* envelope: ready tokens, and claims the target signs itself */
		t = fuzz_craft(fuzz_hs_key(), hs, strlen(hs), claims[i],
		    strlen(claims[i]));
		seed_s("fuzz_envelope", n++, 0, t);
		seed_s("fuzz_jws", n, 0, t);
		free(t);
		t = fuzz_craft(fuzz_ed_key(), ed, strlen(ed), claims[i],
		    strlen(claims[i]));
		seed_s("fuzz_envelope", n++, 0, t);
		seed_s("fuzz_jws", n, 0, t);
		free(t);
		seed_s("fuzz_envelope", n++, 1, claims[i]);
		seed_s("fuzz_envelope", n++, 3, claims[i]);
		/* jws: "HEADER\nPAYLOAD" to be signed by the target */
		snprintf(buf, sizeof(buf), "%s\n%s", hs, claims[i]);
		seed_s("fuzz_jws", n++, 1, buf);
		snprintf(buf, sizeof(buf), "{\"typ\":\"JWT\",\r\n \"alg\":\"EdDSA\"}\n%s",
		    claims[i]);
		seed_s("fuzz_jws", n++, 1, buf);
	}
	seed_s("fuzz_jws", n++, 1, "{\"alg\":\"none\"}\n{}");
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		seed_s("fuzz_uri", n++, 0, topics[i]);
	for (size_t i = 0; i < sizeof(keyrings) / sizeof(keyrings[0]); i++)
		seed_s("fuzz_keyring", n++, 0, keyrings[i]);
	printf("mkseeds: %d seeds in %s\n", n, outdir);
	return 0;
}
