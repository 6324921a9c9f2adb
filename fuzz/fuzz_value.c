/*
 * libFuzzer target: values from a less trusted party.
 *
 * First byte: the resource type (mod 5); bit 3 picks the source:
 *  - clear: the rest is a request's "value" JSON, as the service runtime
 *    hands it to mob_value_from_json: whatever parses must give the same
 *    value back from its own wire form;
 *  - set: the rest is the VALUE argument of `mobius set` (cli/rw.c
 *    compiled in), turned into JSON for a resource of that type, which the
 *    service then parses like any request value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../cli/rw.c"

#include "mobius/object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
round_trip(enum mob_type t, const cJSON *j)
{
	struct mob_value v, again;
	cJSON *w;

	if (mob_value_from_json(t, j, &v) != 0)
		return;
	if (v.type != t || (w = mob_value_to_json(&v)) == NULL)
		abort();
	if (mob_value_from_json(t, w, &again) != 0 || !mob_value_equal(&v, &again))
		abort();
	cJSON_Delete(w);
	mob_value_clear(&again);
	mob_value_clear(&v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum mob_type t;
	cJSON *j, *res;
	char *s;

	if (size < 1 || size > 4096)
		return 0;
	t = (enum mob_type)(data[0] % 5);
	if (data[0] & 8) {
		/* argv strings end at the first NUL */
		if ((s = strndup((const char *)data + 1, size - 1)) == NULL ||
		    (res = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(res, "type", mob_type_name(t)) == NULL)
			abort();
		if ((j = parse_value(s, res, "000001/01F/0001/0001/40")) != NULL) {
			round_trip(t, j);
			cJSON_Delete(j);
		}
		cJSON_Delete(res);
		free(s);
		return 0;
	}
	if ((j = cJSON_ParseWithLength((const char *)data + 1, size - 1)) != NULL) {
		round_trip(t, j);
		cJSON_Delete(j);
	}
	return 0;
}
