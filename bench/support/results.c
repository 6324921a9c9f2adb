/*
 * Benchmark figures for scripts/run-bench.sh (bench/support/results.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include <cJSON.h>

#include "mobius/err.h"
#include "results.h"

int
bench_result(const char *name, double value, const char *unit,
    const char *target, int pass)
{
	const char *path = getenv("MOBIUS_RESULTS");
	char *line = NULL;
	cJSON *o;
	FILE *f;
	int r = MOB_ENOMEM;

	if (path == NULL || *path == '\0')
		return 0;
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "name", name) == NULL ||
	    cJSON_AddNumberToObject(o, "value", value) == NULL ||
	    cJSON_AddStringToObject(o, "unit", unit) == NULL ||
	    (target != NULL ? cJSON_AddStringToObject(o, "target", target) :
	    cJSON_AddNullToObject(o, "target")) == NULL ||
	    (target != NULL ? cJSON_AddBoolToObject(o, "pass", pass) :
	    cJSON_AddNullToObject(o, "pass")) == NULL ||
	    (line = cJSON_PrintUnformatted(o)) == NULL)
		goto out;
	r = MOB_ESYS;
	if ((f = fopen(path, "ae")) != NULL) {
		if (fprintf(f, "%s\n", line) > 0)
			r = 0;
		if (fclose(f) != 0)
			r = MOB_ESYS;
	}
 out:
	if (r != 0)
		fprintf(stderr, "cannot record %s in %s: %s\n", name, path,
		    mob_strerror(r));
	cJSON_free(line);
	cJSON_Delete(o);
	return r;
}
