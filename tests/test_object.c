/*
 * Object model: values, the priority array, validation, write handlers,
 * observers and the JSON forms.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include "mobius/err.h"
#include "mobius/object.h"

static struct mob_object *obj;

static void
setup(void)
{
	cr_assert_eq(mob_object_new("0101", "0001", "thing", &obj), 0);
}

static void
teardown(void)
{
	mob_object_free(obj);
	obj = NULL;
}

static struct mob_res *
add_number(const char *rid, enum mob_access access, double min, double max,
    int precision, double dflt)
{
	struct mob_res_def d;
	struct mob_value v;
	struct mob_res *r;

	memset(&d, 0, sizeof(d));
	memcpy(d.rid, rid, 3);
	d.name = "n";
	d.type = MOB_TYPE_NUMBER;
	d.access = access;
	d.has_min = d.has_max = 1;
	d.min = min;
	d.max = max;
	d.precision = precision;
	mob_value_number(&v, dflt);
	d.dflt = &v;
	cr_assert_eq(mob_object_add_res(obj, &d, &r), 0);
	return r;
}

static double
pv(const struct mob_res *r)
{
	cr_assert_not(mob_res_pv(r)->null);
	return mob_res_pv(r)->u.num;
}

static int
write_num(struct mob_res *r, int prio, double x)
{
	struct mob_value v;

	mob_value_number(&v, x);
	return mob_res_write(r, prio, &v);
}

TestSuite(object, .init = setup, .fini = teardown);

Test(object, present_value_is_the_highest_priority_non_null_slot)
{
	struct mob_res *r = add_number("40", MOB_ACCESS_RW, 0, 100, -1, 20);

	cr_assert_eq(pv(r), 20);
	cr_assert_eq(write_num(r, 16, 30), 0);
	cr_assert_eq(pv(r), 30);
	cr_assert_eq(write_num(r, 8, 40), 0);
	cr_assert_eq(pv(r), 40);
	/* A lower priority write changes its slot, not the PV. */
	cr_assert_eq(write_num(r, 16, 35), 0);
	cr_assert_eq(pv(r), 40);
	cr_assert_eq(mob_res_slot(r, 16)->u.num, 35);
	cr_assert_eq(write_num(r, 1, 50), 0);
	cr_assert_eq(pv(r), 50);
	cr_assert_eq(mob_res_clear(r, 1), 0);
	cr_assert_eq(pv(r), 40);
	cr_assert_eq(mob_res_clear(r, 8), 0);
	cr_assert_eq(pv(r), 35);
	cr_assert_eq(mob_res_clear(r, 16), 0);
	/* All slots null: the relinquish default. */
	cr_assert_eq(pv(r), 20);
	cr_assert(mob_res_slot(r, 16)->null);
}

Test(object, writing_null_clears_the_slot)
{
	struct mob_res *r = add_number("40", MOB_ACCESS_RW, 0, 100, -1, 1);
	struct mob_value v;

	cr_assert_eq(write_num(r, 5, 9), 0);
	mob_value_null(&v, MOB_TYPE_NUMBER);
	cr_assert_eq(mob_res_write(r, 5, &v), 0);
	cr_assert_eq(pv(r), 1);
}

Test(object, write_checks_access_priority_type_and_range)
{
	struct mob_res *ro = add_number("40", MOB_ACCESS_R, 0, 10, -1, 1);
	struct mob_res *rw = add_number("41", MOB_ACCESS_RW, 0, 10, -1, 1);
	struct mob_value b;

	cr_assert_eq(write_num(ro, 16, 5), MOB_EREADONLY);
	cr_assert_eq(mob_res_clear(ro, 16), MOB_EREADONLY);
	cr_assert_eq(write_num(rw, 0, 5), MOB_EINVAL);
	cr_assert_eq(write_num(rw, 17, 5), MOB_EINVAL);
	cr_assert_eq(write_num(rw, 16, 10.5), MOB_ERANGE);
	cr_assert_eq(write_num(rw, 16, -0.1), MOB_ERANGE);
	mob_value_bool(&b, 1);
	cr_assert_eq(mob_res_write(rw, 16, &b), MOB_ETYPE);
	cr_assert_eq(write_num(rw, 16, 10), 0);
	cr_assert_eq(pv(rw), 10);
	/* The owner may update a read-only resource. */
	mob_value_number(&b, 7);
	cr_assert_eq(mob_res_update(ro, &b), 0);
	cr_assert_eq(pv(ro), 7);
	mob_value_number(&b, 70);
	cr_assert_eq(mob_res_update(ro, &b), MOB_ERANGE);
	cr_assert_eq(pv(ro), 7);
}

Test(object, numbers_are_rounded_to_the_precision)
{
	struct mob_res *r = add_number("40", MOB_ACCESS_RW, -100, 100, 1, 0);

	cr_assert_eq(write_num(r, 16, 21.26), 0);
	cr_assert_float_eq(pv(r), 21.3, 1e-12);
	cr_assert_eq(write_num(r, 16, -3.04), 0);
	cr_assert_float_eq(pv(r), -3.0, 1e-12);
}

static int handler_rc;
static int handler_calls;
static double handler_seen;

static int
handler(struct mob_res *r, const struct mob_value *v, void *arg)
{
	(void)r;
	(void)arg;
	handler_calls++;
	handler_seen = v->u.num;
	return handler_rc;
}

Test(object, write_handler_can_refuse_and_the_slot_is_restored)
{
	struct mob_res *r = add_number("40", MOB_ACCESS_RW, 0, 100, -1, 10);

	mob_res_set_write_handler(r, handler, NULL);
	handler_rc = 0;
	cr_assert_eq(write_num(r, 16, 20), 0);
	cr_assert_eq(handler_calls, 1);
	cr_assert_eq(handler_seen, 20);
	handler_rc = MOB_EDEVICE;
	cr_assert_eq(write_num(r, 8, 30), MOB_EDEVICE);
	cr_assert_eq(pv(r), 20);
	cr_assert(mob_res_slot(r, 8)->null);
	cr_assert_eq(mob_res_clear(r, 16), MOB_EDEVICE);
	cr_assert_eq(mob_res_slot(r, 16)->u.num, 20);
	/* A write that leaves the PV alone does not ask the device. */
	handler_calls = 0;
	handler_rc = 0;
	cr_assert_eq(write_num(r, 16, 20), 0);
	cr_assert_eq(handler_calls, 0);
}

static int observed;

static void
observe(struct mob_res *r, void *arg)
{
	(void)r;
	(void)arg;
	observed++;
}

Test(object, observer_runs_on_pv_and_status_changes_only)
{
	struct mob_res *r = add_number("40", MOB_ACCESS_RW, 0, 100, -1, 10);
	struct mob_value v;

	observed = 0;
	mob_object_set_observer(obj, observe, NULL);
	cr_assert_eq(write_num(r, 16, 11), 0);
	cr_assert_eq(observed, 1);
	cr_assert_eq(write_num(r, 16, 11), 0);
	cr_assert_eq(observed, 1);
	cr_assert_eq(write_num(r, 16, 11), 0);
	mob_value_number(&v, 50);
	cr_assert_eq(mob_res_update(r, &v), 0);	/* hidden by slot 16 */
	cr_assert_eq(observed, 1);
	mob_res_set_status(r, MOB_STATUS_OFFLINE);
	cr_assert_eq(observed, 2);
	cr_assert_eq(write_num(r, 16, 12), MOB_EOFFLINE);
	mob_res_set_status(r, MOB_STATUS_OFFLINE);
	cr_assert_eq(observed, 2);
	mob_res_set_status(r, MOB_STATUS_ONLINE);
	cr_assert_eq(mob_res_clear(r, 16), 0);
	cr_assert_eq(observed, 4);
	cr_assert_eq(pv(r), 50);
}

Test(object, values_round_trip_through_json)
{
	static const struct { enum mob_type t; const char *json; } ok[] = {
		{ MOB_TYPE_BOOL, "true" },
		{ MOB_TYPE_BOOL, "false" },
		{ MOB_TYPE_NUMBER, "-12.5" },
		{ MOB_TYPE_STRING, "\"h\\u00e9llo\"" },
		{ MOB_TYPE_DATETIME, "\"2026-11-22T02:50:01.123Z\"" },
		{ MOB_TYPE_TIMESPAN, "90.5" },
		{ MOB_TYPE_NUMBER, "null" },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cJSON *in = cJSON_Parse(ok[i].json), *out;
		struct mob_value v;

		cr_assert_not_null(in);
		cr_assert_eq(mob_value_from_json(ok[i].t, in, &v), 0, "%s", ok[i].json);
		out = mob_value_to_json(&v);
		cr_assert(cJSON_Compare(in, out, 1), "%s", ok[i].json);
		mob_value_clear(&v);
		cJSON_Delete(in);
		cJSON_Delete(out);
	}
}

Test(object, wrong_json_shapes_are_bad_type)
{
	static const struct { enum mob_type t; const char *json; } bad[] = {
		{ MOB_TYPE_BOOL, "1" },
		{ MOB_TYPE_BOOL, "\"true\"" },
		{ MOB_TYPE_NUMBER, "\"1\"" },
		{ MOB_TYPE_NUMBER, "true" },
		{ MOB_TYPE_STRING, "3" },
		{ MOB_TYPE_DATETIME, "\"2026-11-22 02:50:01Z\"" },
		{ MOB_TYPE_DATETIME, "\"2026-11-22T02:50:01+01:00\"" },
		{ MOB_TYPE_DATETIME, "\"2026-1-22T02:50:01Z\"" },
		{ MOB_TYPE_DATETIME, "1700000000" },
		/* days and times that do not exist, not moved into the next */
		{ MOB_TYPE_DATETIME, "\"2026-02-30T00:00:00Z\"" },
		{ MOB_TYPE_DATETIME, "\"2026-04-31T00:00:00Z\"" },
		{ MOB_TYPE_DATETIME, "\"2026-11-22T24:00:00Z\"" },
		{ MOB_TYPE_DATETIME, "\"2026-11-22T02:50:60Z\"" },
		{ MOB_TYPE_DATETIME, "\"2026-11-22T02:50:01.Z\"" },
		{ MOB_TYPE_TIMESPAN, "\"PT1S\"" },
		{ MOB_TYPE_TIMESPAN, "1e300" },
		{ MOB_TYPE_NUMBER, "[1]" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *in = cJSON_Parse(bad[i].json);
		struct mob_value v;

		cr_assert_not_null(in, "%s", bad[i].json);
		cr_assert_eq(mob_value_from_json(bad[i].t, in, &v), MOB_ETYPE,
		    "%s as %s", bad[i].json, mob_type_name(bad[i].t));
		cr_assert(v.null);
		cJSON_Delete(in);
	}
}

Test(object, string_length_is_bounded)
{
	struct mob_res_def d;
	struct mob_value v;
	struct mob_res *r;
	char big[MOB_STRING_MAX_DEFAULT + 2];

	memset(&d, 0, sizeof(d));
	memcpy(d.rid, "40", 3);
	d.name = "label";
	d.type = MOB_TYPE_STRING;
	d.access = MOB_ACCESS_RW;
	d.precision = -1;
	cr_assert_eq(mob_object_add_res(obj, &d, &r), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(mob_value_string(&v, big), 0);
	cr_assert_eq(mob_res_write(r, 16, &v), MOB_ERANGE);
	mob_value_clear(&v);
	cr_assert_eq(mob_value_string(&v, "\xc3\x28"), 0);	/* invalid UTF-8 */
	cr_assert_eq(mob_res_write(r, 16, &v), MOB_ETYPE);
	mob_value_clear(&v);
	cr_assert_eq(mob_value_string(&v, "ok"), 0);
	cr_assert_eq(mob_res_write(r, 16, &v), 0);
	mob_value_clear(&v);
	cr_assert_str_eq(mob_res_pv(r)->u.str, "ok");
}

Test(object, bad_definitions_are_refused)
{
	struct mob_res_def d;
	struct mob_value v;

	memset(&d, 0, sizeof(d));
	memcpy(d.rid, "40", 3);
	d.name = "x";
	d.type = MOB_TYPE_NUMBER;
	d.precision = -1;
	cr_assert_eq(mob_object_add_res(obj, &d, NULL), 0);
	cr_assert_eq(mob_object_add_res(obj, &d, NULL), MOB_EEXIST);
	memcpy(d.rid, "4g", 3);
	cr_assert_eq(mob_object_add_res(obj, &d, NULL), MOB_EINVAL);
	memcpy(d.rid, "41", 3);
	d.has_min = d.has_max = 1;
	d.min = 5;
	d.max = 1;
	cr_assert_eq(mob_object_add_res(obj, &d, NULL), MOB_EINVAL);
	d.max = 10;
	mob_value_number(&v, 11);
	d.dflt = &v;
	cr_assert_eq(mob_object_add_res(obj, &d, NULL), MOB_EINVAL);
	d.dflt = NULL;
	d.name = "";
	cr_assert_eq(mob_object_add_res(obj, &d, NULL), MOB_EINVAL);
	cr_assert_eq(mob_object_nres(obj), 1);
	{
		struct mob_object *o2;

		cr_assert_eq(mob_object_new("010", "0001", NULL, &o2), MOB_EINVAL);
		cr_assert_eq(mob_object_new("0101", "000a", NULL, &o2), MOB_EINVAL);
	}
}

Test(object, description_and_state_json)
{
	struct mob_res *r = add_number("40", MOB_ACCESS_RW, 0, 100, 1, 20);
	cJSON *d = mob_object_describe(obj), *res, *st, *prio;
	char *txt;

	cr_assert_not_null(d);
	txt = cJSON_PrintUnformatted(d);
	cr_assert_str_eq(txt, "{\"pid\":\"0101\",\"ins\":\"0001\",\"name\":\"thing\","
	    "\"resources\":[{\"rid\":\"40\",\"name\":\"n\",\"type\":\"number\","
	    "\"access\":\"rw\",\"min\":0,\"max\":100,\"precision\":1}]}");
	cJSON_free(txt);
	cJSON_Delete(d);
	cr_assert_eq(write_num(r, 3, 42), 0);
	st = mob_res_state(r, 1);
	cr_assert_eq(cJSON_GetObjectItem(st, "value")->valuedouble, 42);
	cr_assert_str_eq(cJSON_GetObjectItem(st, "status")->valuestring, "online");
	cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(st, "changed")));
	prio = cJSON_GetObjectItem(st, "priority");
	cr_assert_eq(cJSON_GetArraySize(prio), 16);
	cr_assert_eq(cJSON_GetArrayItem(prio, 2)->valuedouble, 42);
	cr_assert(cJSON_IsNull(cJSON_GetArrayItem(prio, 15)));
	cr_assert_eq(cJSON_GetObjectItem(st, "default")->valuedouble, 20);
	cJSON_Delete(st);
	res = mob_res_describe(r);
	cr_assert_null(cJSON_GetObjectItem(res, "cov"));
	cJSON_Delete(res);
}
