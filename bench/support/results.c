/*
 * Benchmark figures into results.json (bench/support/results.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "mobius/err.h"
#include "mobius/file.h"
#include "results.h"

#define RESULTS_DEFAULT	"build/bench/results.json"
#define RESULTS_MAX	(1024 * 1024)

/* obj[name] as an object, created (or replaced if not an object). */
static cJSON *
results_obj(cJSON *obj, const char *name)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (cJSON_IsObject(o))
		return o;
	cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
	return cJSON_AddObjectToObject(obj, name);
}

int
bench_result(const char *bench, const char *figure, double value,
    const char *unit, const char *target, int pass)
{
	const char *path = getenv("MOBIUS_BENCH_RESULTS");
	cJSON *root = NULL, *b, *f;
	char *buf = NULL, *txt = NULL;
	size_t len = 0;
	int r;

	if (path == NULL || *path == '\0')
		path = RESULTS_DEFAULT;
	r = mob_file_read(path, RESULTS_MAX, 0, &buf, &len, NULL, 0);
	if (r == 0)
		root = cJSON_ParseWithLength(buf, len);
	mob_file_free(buf, len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		root = cJSON_CreateObject();
	}
	r = MOB_ENOMEM;
	if (root == NULL || (b = results_obj(root, bench)) == NULL)
		goto out;
	cJSON_DeleteItemFromObjectCaseSensitive(b, figure);
	if ((f = cJSON_AddObjectToObject(b, figure)) == NULL ||
	    cJSON_AddNumberToObject(f, "value", value) == NULL ||
	    cJSON_AddStringToObject(f, "unit", unit) == NULL ||
	    (target != NULL &&
	    cJSON_AddStringToObject(f, "target", target) == NULL) ||
	    cJSON_AddStringToObject(f, "result", target == NULL ? "-" :
	    pass ? "PASS" : "MISS") == NULL ||
	    (txt = cJSON_Print(root)) == NULL)
		goto out;
	r = mob_file_write_atomic(path, txt, strlen(txt), 0644);
 out:
	if (r != 0)
		fprintf(stderr, "%s: cannot record %s in %s: %s\n", bench,
		    figure, path, mob_strerror(r));
	cJSON_free(txt);
	cJSON_Delete(root);
	return r;
}
