/*
 * Shared by the fuzz targets that build a service (configs, requests): a
 * service key file written once into a private temp dir, and a fresh
 * mob_service per input (objects cannot be removed from one).
 */
#ifndef MOBIUS_FUZZ_SERVICE_H
#define MOBIUS_FUZZ_SERVICE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mobius/log.h"
#include "mobius/service.h"

/* The fuzzers' service identity 000001/01F (its Ed25519 seed is 0x20..0x3f). */
#define FUZZ_KEYFILE_TEXT \
	"mobius-keyring 1 hid=000001 mode=hardened\n" \
	"service 000001/01F spid=001F alg=EdDSA state=active " \
	"priv=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n"

/* A directory of our own, removed by nobody: the fuzzer's run is short. */
static inline const char *
fuzz_tmpdir(void)
{
	static char dir[] = "/tmp/mobius-fuzz-XXXXXX";
	static int made;

	if (!made) {
		if (mkdtemp(dir) == NULL)
			abort();
		made = 1;
	}
	return dir;
}

static inline struct mob_service *
fuzz_service(void)
{
	static char path[64];
	struct mob_client_cfg cc = { 0 };
	struct mob_service *svc;
	FILE *f;

	if (path[0] == '\0') {
		log_init("fuzz", 0);
		snprintf(path, sizeof(path), "%s/key", fuzz_tmpdir());
		if ((f = fopen(path, "w")) == NULL || fchmod(fileno(f), 0600) != 0 ||
		    fputs(FUZZ_KEYFILE_TEXT, f) == EOF || fclose(f) != 0)
			abort();
	}
	cc.keyfile = path;
	if (mob_service_new(&cc, &svc) != 0)
		abort();
	return svc;
}

#endif
