/*
 * The protocol's small rules (lib/core/proto.c) and the one RFC 3339
 * profile (lib/sys/time.c).
 */
#include <string.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "mobius/err.h"
#include "mobius/proto.h"
#include "mobius/time.h"

Test(proto, identifiers_are_fixed_width_upper_case_hex)
{
	cr_expect(mob_id_valid("00AB01/0F1"));
	cr_expect_not(mob_id_valid("00ab01/0F1"));
	cr_expect_not(mob_id_valid("00AB01/0F1 "));
	cr_expect_not(mob_id_valid("00AB01-0F1"));
	cr_expect(mob_user_valid("001F/0F1"));
	cr_expect_not(mob_user_valid("001F/0F"));
	cr_expect(mob_hid_valid("ABCDEF"));
	cr_expect_not(mob_hid_valid("ABCDEG"));
	cr_expect(mob_sid_valid("000"));
	cr_expect_not(mob_sid_valid("0000"));
	cr_expect(mob_spid_valid("0A0B"));
	cr_expect_not(mob_spid_valid(NULL));
}

static int
reqid(const char *json, char *out)
{
	cJSON *j = cJSON_Parse(json);
	int r;

	cr_assert_not_null(j, "%s", json);
	r = mob_reqid_from_json(j, out);
	cJSON_Delete(j);
	return r;
}

Test(proto, request_ids_are_one_range_for_hub_and_services)
{
	char out[MOB_REQID_MAX + 1];

	cr_expect_eq(reqid("\"a-Z_09\"", out), 0);
	cr_expect_str_eq(out, "a-Z_09");
	cr_expect_eq(reqid("0", out), 0);
	cr_expect_str_eq(out, "0");
	cr_expect_eq(reqid("9007199254740991", out), 0);
	cr_expect_str_eq(out, "9007199254740991");
	/* 2^53 is where doubles stop telling integers apart */
	cr_expect_eq(reqid("9007199254740992", out), MOB_EINVAL);
	cr_expect_eq(reqid("-1", out), MOB_EINVAL);
	cr_expect_eq(reqid("1.5", out), MOB_EINVAL);
	cr_expect_eq(reqid("1e300", out), MOB_EINVAL);
	cr_expect_eq(reqid("\"\"", out), MOB_EINVAL);
	cr_expect_eq(reqid("\"a/b\"", out), MOB_EINVAL);
	cr_expect_eq(reqid("\"123456789012345678901234567890123\"", out),
	    MOB_EINVAL, "33 characters");
	cr_expect_eq(reqid("true", out), MOB_EINVAL);
	cr_expect_eq(mob_reqid_from_json(NULL, out), MOB_EINVAL);
}

Test(time, one_strict_rfc3339_profile)
{
	int64_t t;

	cr_expect_eq(mob_time_parse("2026-11-22T04:00:00Z", &t), 0);
	cr_expect_eq(t, 1795320000);
	cr_expect_eq(mob_time_parse("2026-02-30T00:00:00Z", &t), MOB_EINVAL);
	cr_expect_eq(mob_time_parse("2026-11-22T04:00:00.5Z", &t), MOB_EINVAL,
	    "keyring dates carry no fraction");
	cr_expect_eq(mob_time_parse_ms("2026-11-22T04:00:00.5Z", &t), 0);
	cr_expect_eq(t, 1795320000500);
	cr_expect_eq(mob_time_parse_ms("2026-02-30T00:00:00Z", &t), MOB_EINVAL);
	cr_expect_eq(mob_time_parse_ms("2026-11-22T04:00:00", &t), MOB_EINVAL);
	cr_expect_eq(mob_time_parse_ms("2026-11-22T04:00:00+00:00", &t),
	    MOB_EINVAL);
	cr_expect_eq(mob_time_parse_ms("+026-11-22T04:00:00Z", &t), MOB_EINVAL);
	cr_expect_eq(mob_time_parse_ms(NULL, &t), MOB_EINVAL);
}

Test(time, formats_round_trip)
{
	char buf[MOB_TIME_TEXT_MAX];
	int64_t t;

	cr_assert_eq(mob_time_format_ms(-1, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "1969-12-31T23:59:59.999Z");
	cr_assert_eq(mob_time_parse_ms(buf, &t), 0);
	cr_expect_eq(t, -1);
	cr_assert_eq(mob_time_format(1795320000, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "2026-11-22T04:00:00Z");
	cr_expect_eq(mob_time_format_ms(0, buf, 10), MOB_ETOOLONG);
}
