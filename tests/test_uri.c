/* URIs and topics: good and bad cases, error messages checked. */
#include <string.h>

#include <criterion/criterion.h>

#include "mobius/err.h"
#include "mobius/uri.h"

static void
uri_ok(const char *s, int flags, int depth)
{
	struct mob_uri u;
	char err[128] = "", back[MOB_URI_MAX];

	cr_assert_eq(mob_uri_parse(s, flags, &u, err, sizeof(err)), 0,
	    "%s: %s", s, err);
	cr_assert_eq(u.depth, depth, "%s", s);
	cr_assert_eq(mob_uri_format(&u, back, sizeof(back)), (int)strlen(s));
	cr_assert_str_eq(back, s);
}

static void
uri_bad(const char *s, int flags, int code, const char *msg)
{
	struct mob_uri u;
	char err[128] = "";

	cr_assert_eq(mob_uri_parse(s, flags, &u, err, sizeof(err)), code,
	    "%s: %s", s, err);
	cr_assert_str_eq(err, msg);
}

Test(uri, parses_every_depth)
{
	struct mob_uri u;

	uri_ok("000001", 0, 1);
	uri_ok("000001/01F", 0, 2);
	uri_ok("000001/01F/003A", 0, 3);
	uri_ok("000001/01F/003A/0001", 0, 4);
	uri_ok("ABCDEF/FFF/FFFF/FFFF/FF", 0, 5);
	cr_assert_eq(mob_uri_parse("000001/01F/003A/0001/40", 0, &u, NULL, 0), 0);
	cr_assert_str_eq(u.part[MOB_URI_HID], "000001");
	cr_assert_str_eq(u.part[MOB_URI_SID], "01F");
	cr_assert_str_eq(u.part[MOB_URI_PID], "003A");
	cr_assert_str_eq(u.part[MOB_URI_INS], "0001");
	cr_assert_str_eq(u.part[MOB_URI_RID], "40");
	cr_assert_eq(u.multi, 0);
}

Test(uri, names_the_bad_part)
{
	uri_bad("", 0, MOB_EURI, "empty URI");
	uri_bad(NULL, 0, MOB_EURI, "no URI");
	uri_bad("000001/01g", 0, MOB_EURI,
	    "SID \"01g\": must be 3 upper-case hex digits");
	uri_bad("00001", 0, MOB_EURI,
	    "HID \"00001\": must be 6 upper-case hex digits");
	uri_bad("0000011", 0, MOB_EURI,
	    "HID \"0000011\": must be 6 upper-case hex digits");
	uri_bad("000001/01F/03A", 0, MOB_EURI,
	    "PID \"03A\": must be 4 upper-case hex digits");
	uri_bad("000001/01F/003A/000x", 0, MOB_EURI,
	    "INS \"000x\": must be 4 upper-case hex digits");
	uri_bad("000001/01F/003A/0001/4", 0, MOB_EURI,
	    "RID \"4\": must be 2 upper-case hex digits");
	uri_bad("000001//003A", 0, MOB_EURI, "SID is empty");
	uri_bad("000001/", 0, MOB_EURI, "SID is empty");
	uri_bad("/01F", 0, MOB_EURI, "HID is empty");
	uri_bad("000001/01F/003A/0001/40/00", 0, MOB_EURI,
	    "\"000001/01F/003A/0001/40/...\": more than 5 parts "
	    "(HID/SID/PID/INS/RID)");
	uri_bad("000001/01F/003A/0001/40/", 0, MOB_EURI,
	    "\"000001/01F/003A/0001/40/\": more than 5 parts "
	    "(HID/SID/PID/INS/RID)");
	/* untrusted text is shortened and made printable */
	uri_bad("000001/0\n\"", 0, MOB_EURI,
	    "SID \"0??\": must be 3 upper-case hex digits");
	uri_bad("000001/0123456789012345678901234567890", 0, MOB_EURI,
	    "SID \"012345678901234567890123...\": must be 3 upper-case hex "
	    "digits");
}

Test(uri, allows_wildcards_only_with_the_flag)
{
	struct mob_uri u;

	uri_bad("000001/+", 0, MOB_EWILDCARD,
	    "SID \"+\": wildcards are only allowed in subscriptions");
	uri_bad("000001/#", 0, MOB_EWILDCARD,
	    "SID \"#\": wildcards are only allowed in subscriptions");
	uri_ok("000001/+/003A/+/40", MOB_URI_WILD, 5);
	uri_ok("+", MOB_URI_WILD, 1);
	uri_ok("000001/#", MOB_URI_WILD, 2);
	cr_assert_eq(mob_uri_parse("#", MOB_URI_WILD, &u, NULL, 0), 0);
	cr_assert_eq(u.multi, 1);
	uri_bad("000001/#/003A", MOB_URI_WILD, MOB_EURI,
	    "\"#\" must be the last part");
	uri_bad("000001/0+F", MOB_URI_WILD, MOB_EURI,
	    "SID \"0+F\": must be 3 upper-case hex digits");
	uri_bad("000001/++", MOB_URI_WILD, MOB_EURI,
	    "SID \"++\": must be 3 upper-case hex digits");
}

static int
matches(const char *pattern, const char *uri)
{
	struct mob_uri p, u;

	cr_assert_eq(mob_uri_parse(pattern, MOB_URI_WILD, &p, NULL, 0), 0);
	cr_assert_eq(mob_uri_parse(uri, 0, &u, NULL, 0), 0);
	return mob_uri_match(&p, &u);
}

Test(uri, matches_like_mqtt_filters)
{
	cr_assert(matches("000001/+/003A/+/40", "000001/01F/003A/0001/40"));
	cr_assert(!matches("000001/+/003A/+/40", "000001/01F/003A/0001/41"));
	cr_assert(!matches("000001/+/003A/+/40", "000001/01F/003A/0001"));
	cr_assert(matches("000001/#", "000001"));
	cr_assert(matches("000001/#", "000001/01F/003A/0001/40"));
	cr_assert(!matches("000001/#", "000002/01F"));
	cr_assert(matches("#", "000002/01F"));
	cr_assert(matches("000001/01F", "000001/01F"));
	cr_assert(!matches("000001/01F", "000001/01F/003A"));
	cr_assert(!matches("000001/01F/003A", "000001/01F"));
	cr_assert(!matches("+", "000001/01F"));
}

static void
topic_ok(const char *s, int flags, enum mob_verb verb, int depth)
{
	struct mob_topic t;
	char err[128] = "", back[MOB_TOPIC_MAX];

	cr_assert_eq(mob_topic_parse(s, flags, &t, err, sizeof(err)), 0,
	    "%s: %s", s, err);
	cr_assert_eq(t.verb, verb, "%s", s);
	cr_assert_eq(t.uri.depth, depth, "%s", s);
	cr_assert_eq(mob_topic_format(&t, back, sizeof(back)), (int)strlen(s));
	cr_assert_str_eq(back, s);
}

static void
topic_bad(const char *s, int flags, int code, const char *msg)
{
	struct mob_topic t;
	char err[128] = "";

	cr_assert_eq(mob_topic_parse(s, flags, &t, err, sizeof(err)), code,
	    "%s: %s", s, err);
	cr_assert_str_eq(err, msg);
}

Test(topic, parses_every_verb)
{
	struct mob_topic t;

	topic_ok("mob/cov/000001/01F/003A/0001/40", 0, MOB_VERB_COV, 5);
	topic_ok("mob/obj/000001/01F/003A/0001", 0, MOB_VERB_OBJ, 4);
	topic_ok("mob/svc/000001/01F", 0, MOB_VERB_SVC, 2);
	topic_ok("mob/state/000001/01F", 0, MOB_VERB_STATE, 2);
	topic_ok("mob/req/000001/01F", 0, MOB_VERB_REQ, 2);
	topic_ok("mob/key/000001/01F", 0, MOB_VERB_KEY, 2);
	topic_ok("mob/rsp/000001/01F/r-1_Az", 0, MOB_VERB_RSP, 2);
	cr_assert_eq(mob_topic_parse("mob/rsp/000001/01F/abc", 0, &t, NULL, 0), 0);
	cr_assert_str_eq(t.reqid, "abc");
	cr_assert_str_eq(t.uri.part[MOB_URI_SID], "01F");
	cr_assert_str_eq(mob_verb_name(MOB_VERB_STATE), "state");
	cr_assert_null(mob_verb_name(MOB_VERB_COUNT));
}

Test(topic, names_what_is_wrong)
{
	topic_bad("foo/cov/000001/01F/003A/0001/40", 0, MOB_ETOPIC,
	    "\"foo/cov/000001/01F/003A/...\": topic must start with \"mob/\"");
	topic_bad("mob/xyz/000001/01F", 0, MOB_ETOPIC,
	    "unknown verb \"xyz\" (cov, obj, svc, state, req, rsp, key)");
	topic_bad("mob/COV/000001/01F", 0, MOB_ETOPIC,
	    "unknown verb \"COV\" (cov, obj, svc, state, req, rsp, key)");
	topic_bad("mob/cov", 0, MOB_ETOPIC, "cov topic has no URI");
	topic_bad("mob/cov/000001/01F", 0, MOB_ETOPIC,
	    "cov topic needs 5 URI parts (HID/SID/PID/INS/RID), got 2");
	topic_bad("mob/obj/000001/01F/003A/0001/40", 0, MOB_ETOPIC,
	    "obj topic has extra levels after the URI");
	topic_bad("mob/svc/000001/01F/003A", 0, MOB_ETOPIC,
	    "svc topic has extra levels after the URI");
	topic_bad("mob/svc/000001", 0, MOB_ETOPIC,
	    "svc topic needs 2 URI parts (HID/SID), got 1");
	topic_bad("mob/cov/000001/01F/003A/0001/4G", 0, MOB_ETOPIC,
	    "RID \"4G\": must be 2 upper-case hex digits");
	topic_bad("mob/rsp/000001/01F", 0, MOB_ETOPIC,
	    "rsp topic needs a request id after HID/SID");
	topic_bad("mob/rsp/000001/01F/", 0, MOB_ETOPIC,
	    "request id \"\": must be 1..32 characters of A-Z a-z 0-9 _ -");
	topic_bad("mob/rsp/000001/01F/a b", 0, MOB_ETOPIC,
	    "request id \"a b\": must be 1..32 characters of A-Z a-z 0-9 _ -");
	topic_bad("mob/rsp/000001/01F/a/b", 0, MOB_ETOPIC,
	    "request id \"a/b\": must be 1..32 characters of A-Z a-z 0-9 _ -");
	topic_bad("mob/rsp/000001/01F/012345678901234567890123456789012", 0,
	    MOB_ETOPIC, "request id \"012345678901234567890123...\": must be "
	    "1..32 characters of A-Z a-z 0-9 _ -");
	topic_bad("mob/cov/000001/01F/003A/0001/40/000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000000000000", 0,
	    MOB_ETOPIC, "topic longer than 95 characters");
	topic_bad(NULL, 0, MOB_ETOPIC, "no topic");
}

Test(topic, allows_wildcards_only_with_the_flag)
{
	struct mob_topic t;

	topic_bad("mob/cov/000001/+/003A/+/40", 0, MOB_EWILDCARD,
	    "SID \"+\": wildcards are only allowed in subscriptions");
	topic_ok("mob/cov/000001/+/003A/+/40", MOB_URI_WILD, MOB_VERB_COV, 5);
	topic_ok("mob/cov/000001/#", MOB_URI_WILD, MOB_VERB_COV, 2);
	topic_ok("mob/cov/#", MOB_URI_WILD, MOB_VERB_COV, 1);
	topic_ok("mob/svc/+/+", MOB_URI_WILD, MOB_VERB_SVC, 2);
	topic_ok("mob/rsp/000001/01F/+", MOB_URI_WILD, MOB_VERB_RSP, 2);
	topic_ok("mob/rsp/000001/01F/#", MOB_URI_WILD, MOB_VERB_RSP, 2);
	cr_assert_eq(mob_topic_parse("mob/cov/#", MOB_URI_WILD, &t, NULL, 0), 0);
	cr_assert_eq(t.uri.multi, 1);
	topic_bad("mob/rsp/000001/01F/+", 0, MOB_EWILDCARD,
	    "request id \"+\": wildcards are only allowed in subscriptions");
	topic_bad("mob/+/000001/01F", MOB_URI_WILD, MOB_EWILDCARD,
	    "verb \"+\": the verb cannot be a wildcard");
	topic_bad("mob/#", MOB_URI_WILD, MOB_EWILDCARD,
	    "verb \"#\": the verb cannot be a wildcard");
	topic_bad("mob/cov/000001/#/003A/0001/40", MOB_URI_WILD, MOB_ETOPIC,
	    "\"#\" must be the last part");
	topic_bad("mob/cov/000001/+/003A", MOB_URI_WILD, MOB_ETOPIC,
	    "cov topic needs 5 URI parts (HID/SID/PID/INS/RID), got 3");
}

Test(topic, validates_identities)
{
	cr_assert(mob_id_valid("000001/01F"));
	cr_assert(!mob_id_valid("000001/01f"));
	cr_assert(!mob_id_valid("000001/01F/"));
	cr_assert(!mob_id_valid("00001/01F"));
	cr_assert(!mob_id_valid("000001-01F"));
	cr_assert(!mob_id_valid(NULL));
	cr_assert(mob_user_valid("001F/01F"));
	cr_assert(!mob_user_valid("01F/01F"));
	cr_assert(!mob_user_valid("001F/01F0"));
	cr_assert(!mob_user_valid("001F:01F"));
}

Test(topic, formats_into_small_buffers_safely)
{
	struct mob_topic t;
	char buf[16];

	cr_assert_eq(mob_topic_parse("mob/svc/000001/01F", 0, &t, NULL, 0), 0);
	cr_assert_eq(mob_topic_format(&t, buf, sizeof(buf)), MOB_ETOOLONG);
	cr_assert_eq(mob_uri_format(&t.uri, buf, 10), MOB_ETOOLONG);
	cr_assert_eq(mob_uri_format(&t.uri, buf, 11), 10);
	cr_assert_str_eq(buf, "000001/01F");
}
