/*
 * Shared by the fuzz targets that build a service (configs, requests): a
 * service key file written once into a private temp dir, and a fresh
 * mob_service per input (objects cannot be removed from one).
 */
#ifndef MOBIUS_FUZZ_SERVICE_H
#define MOBIUS_FUZZ_SERVICE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mobius/log.h"
#include "mobius/service.h"

/* The fuzzers' service identity 000001/01F (its Ed25519 seed is 0x20..0x3f). */
#define FUZZ_KEYFILE_TEXT \
	"mobius-keyring 1 hid=000001 mode=hardened\n" \
	"service 000001/01F spid=001F alg=EdDSA state=active " \
	"priv=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8\n"

/*
 * A directory of our own under $TMPDIR (else /tmp).  scripts/run-fuzz.sh
 * points TMPDIR into the build tree and removes it after each target.
 */
static inline const char *
fuzz_tmpdir(void)
{
	static char dir[512];
	const char *base = getenv("TMPDIR");

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/mobius-fuzz-XXXXXX",
		    base != NULL && *base != '\0' ? base : "/tmp");
		if (mkdtemp(dir) == NULL)
			abort();
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

/* A daemon's config step: 0, or MOB_ECONFIG with the message in c. */
typedef int (*fuzz_configure_fn)(struct mob_service *svc, struct mob_config *c,
    void *arg);

/*
 * data as the config file fuzz.json, through a fresh service and the
 * daemon's configure step: every refusal must name the file (and, past
 * the JSON parse, a path in it).
 */
static inline void
fuzz_config(const uint8_t *data, size_t size, fuzz_configure_fn configure,
    void *arg)
{
	struct mob_service *svc = fuzz_service();
	struct mob_config *c;
	char err[512];

	if (mob_config_parse("fuzz.json", (const char *)data, size, &c, err,
	    sizeof(err)) != 0) {
		if (strncmp(err, "fuzz.json", 9) != 0)
			abort();
	} else {
		if (configure(svc, c, arg) != 0 &&
		    strncmp(mob_config_error(c), "fuzz.json: ", 11) != 0)
			abort();
		mob_config_free(c);
	}
	mob_service_free(svc);
}

#endif
