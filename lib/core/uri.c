/*
 * Mobius URIs and topics (docs/protocol.md).  Parsers name the offending
 * part in their error message; the quoted text is shortened and made
 * printable since it usually comes from the network.
 */
#include <stdio.h>
#include <string.h>

#include "mobius/err.h"
#include "mobius/proto.h"
#include "mobius/uri.h"

static const char *const part_name[MOB_URI_PARTS] = {
	"HID", "SID", "PID", "INS", "RID"
};
static const int part_width[MOB_URI_PARTS] = {
	MOB_HID_LEN, MOB_SID_LEN, MOB_PID_LEN, MOB_INS_LEN, MOB_RID_LEN
};

static const char *const verb_name[MOB_VERB_COUNT] = {
	[MOB_VERB_COV] = "cov", [MOB_VERB_OBJ] = "obj", [MOB_VERB_SVC] = "svc",
	[MOB_VERB_STATE] = "state", [MOB_VERB_REQ] = "req",
	[MOB_VERB_RSP] = "rsp", [MOB_VERB_KEY] = "key",
};
/* URI parts each verb's topic carries (rsp adds its REQID level). */
static const int verb_depth[MOB_VERB_COUNT] = {
	[MOB_VERB_COV] = 5, [MOB_VERB_OBJ] = 4, [MOB_VERB_SVC] = 2,
	[MOB_VERB_STATE] = 2, [MOB_VERB_REQ] = 2, [MOB_VERB_RSP] = 2,
	[MOB_VERB_KEY] = 2,
};

/* Quote-safe excerpt of untrusted text: at most 24 chars, printable. */
static const char *
excerpt(const char *s, size_t len, char *buf, size_t bufsz)
{
	size_t i, n = len < bufsz - 4 ? len : bufsz - 4;

	for (i = 0; i < n; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ?
		    s[i] : '?';
	if (n < len)
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

/* Parse len chars of s (no NUL needed). */
static int
uri_parse_n(const char *s, size_t len, int flags, struct mob_uri *out,
    char *err, size_t errlen)
{
	char ex[28];
	const char *p = s, *end = s + len, *slash;
	size_t n;
	int i;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return mob_errf(err, errlen, MOB_EURI, "empty URI");
	for (i = 0; p <= end; i++, p = slash + 1) {
		if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
			slash = end;
		n = (size_t)(slash - p);
		if (i == MOB_URI_PARTS)
			return mob_errf(err, errlen, MOB_EURI,
			    "\"%s\": more than %d parts "
			    "(HID/SID/PID/INS/RID)", excerpt(s, len, ex,
			    sizeof(ex)), MOB_URI_PARTS);
		if (out->multi)
			return mob_errf(err, errlen, MOB_EURI,
			    "\"#\" must be the last part");
		if (n == 0)
			return mob_errf(err, errlen, MOB_EURI,
			    "%s is empty", part_name[i]);
		if (n == 1 && (*p == '+' || *p == '#')) {
			if (!(flags & MOB_URI_WILD))
				return mob_errf(err, errlen, MOB_EWILDCARD,
				    "%s \"%c\": wildcards are "
				    "only allowed in subscriptions",
				    part_name[i], *p);
			out->part[i][0] = *p;
			out->multi = *p == '#';
		} else if (n == (size_t)part_width[i] && mob_hex_valid(p, n))
			memcpy(out->part[i], p, n);
		else
			return mob_errf(err, errlen, MOB_EURI,
			    "%s \"%s\": must be %d upper-case "
			    "hex digits", part_name[i], excerpt(p, n, ex,
			    sizeof(ex)), part_width[i]);
		out->depth = i + 1;
		if (slash == end)
			break;
	}
	return 0;
}

int
mob_uri_parse(const char *s, int flags, struct mob_uri *out, char *err,
    size_t errlen)
{
	if (s == NULL) {
		memset(out, 0, sizeof(*out));
		return mob_errf(err, errlen, MOB_EURI, "no URI");
	}
	return uri_parse_n(s, strlen(s), flags, out, err, errlen);
}

int
mob_uri_format(const struct mob_uri *u, char *buf, size_t len)
{
	size_t o = 0, n;

	if (u == NULL || buf == NULL || u->depth < 1 || u->depth > MOB_URI_PARTS)
		return MOB_EINVAL;
	for (int i = 0; i < u->depth; i++) {
		n = strnlen(u->part[i], sizeof(u->part[i]));
		if (o + (i > 0) + n + 1 > len)
			return MOB_ETOOLONG;
		if (i > 0)
			buf[o++] = '/';
		memcpy(buf + o, u->part[i], n);
		o += n;
	}
	buf[o] = '\0';
	return (int)o;
}

int
mob_uri_match(const struct mob_uri *pattern, const struct mob_uri *uri)
{
	for (int i = 0; i < pattern->depth; i++) {
		/* MQTT: "a/#" also matches "a" itself */
		if (strcmp(pattern->part[i], "#") == 0)
			return 1;
		if (i >= uri->depth)
			return 0;
		if (strcmp(pattern->part[i], "+") != 0 &&
		    strcmp(pattern->part[i], uri->part[i]) != 0)
			return 0;
	}
	return pattern->depth == uri->depth;
}

const char *
mob_verb_name(enum mob_verb v)
{
	return (unsigned)v < MOB_VERB_COUNT ? verb_name[v] : NULL;
}

int
mob_topic_parse(const char *s, int flags, struct mob_topic *out, char *err,
    size_t errlen)
{
	char ex[28];
	const char *p, *v, *q, *end;
	size_t len, n;
	int i, r, levels;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return mob_errf(err, errlen, MOB_ETOPIC, "no topic");
	len = strlen(s);
	end = s + len;
	if (len >= MOB_TOPIC_MAX)
		return mob_errf(err, errlen, MOB_ETOPIC,
		    "topic longer than %d characters",
		    MOB_TOPIC_MAX - 1);
	if (strncmp(s, "mob/", 4) != 0)
		return mob_errf(err, errlen, MOB_ETOPIC,
		    "\"%s\": topic must start with \"mob/\"",
		    excerpt(s, len, ex, sizeof(ex)));
	v = s + 4;
	if ((p = memchr(v, '/', (size_t)(end - v))) == NULL)
		p = end;
	n = (size_t)(p - v);
	for (i = 0; i < MOB_VERB_COUNT; i++)
		if (strlen(verb_name[i]) == n && memcmp(verb_name[i], v, n) == 0)
			break;
	if (i == MOB_VERB_COUNT) {
		if (n == 1 && (*v == '+' || *v == '#'))
			return mob_errf(err, errlen, MOB_EWILDCARD, "verb "
			    "\"%c\": the verb cannot be a wildcard", *v);
		return mob_errf(err, errlen, MOB_ETOPIC, "unknown verb \"%s\" "
		    "(cov, obj, svc, state, req, rsp, key)", excerpt(v, n, ex,
		    sizeof(ex)));
	}
	out->verb = (enum mob_verb)i;
	if (p == end)
		return mob_errf(err, errlen, MOB_ETOPIC,
		    "%s topic has no URI", verb_name[i]);
	p++;
	/* The URI is the next verb_depth levels; rsp has one more after. */
	levels = verb_depth[i];
	for (q = p, n = 1; q < end; q++)
		if (*q == '/' && (int)n++ == levels)
			break;
	if ((r = uri_parse_n(p, (size_t)(q - p), flags, &out->uri, err,
	    errlen)) != 0)
		return r == MOB_EURI ? MOB_ETOPIC : r;
	if (out->uri.multi) {
		if (q != end)
			return mob_errf(err, errlen, MOB_ETOPIC,
			    "\"#\" must be the last level");
		return 0;
	}
	if (out->uri.depth != levels)
		return mob_errf(err, errlen, MOB_ETOPIC,
		    "%s topic needs %d URI parts (%s), got %d",
		    verb_name[i], levels, levels == 5 ? "HID/SID/PID/INS/RID" :
		    levels == 4 ? "HID/SID/PID/INS" : "HID/SID",
		    out->uri.depth);
	if (out->verb != MOB_VERB_RSP) {
		if (q != end)
			return mob_errf(err, errlen, MOB_ETOPIC,
			    "%s topic has extra levels after "
			    "the URI", verb_name[i]);
		return 0;
	}
	if (q == end)
		return mob_errf(err, errlen, MOB_ETOPIC,
		    "rsp topic needs a request id after "
		    "HID/SID");
	q++;
	n = (size_t)(end - q);
	if (n == 1 && (*q == '+' || *q == '#')) {
		if (!(flags & MOB_URI_WILD))
			return mob_errf(err, errlen, MOB_EWILDCARD,
			    "request id \"%c\": wildcards are "
			    "only allowed in subscriptions", *q);
	} else if (!mob_reqid_valid(q, n))
		return mob_errf(err, errlen, MOB_ETOPIC,
		    "request id \"%s\": must be 1..%d "
		    "characters of A-Z a-z 0-9 _ -", excerpt(q, n, ex,
		    sizeof(ex)), MOB_REQID_MAX);
	memcpy(out->reqid, q, n);
	out->reqid[n] = '\0';
	return 0;
}

int
mob_topic_format(const struct mob_topic *t, char *buf, size_t len)
{
	char u[MOB_URI_MAX];
	int r, n;

	if (t == NULL || buf == NULL || mob_verb_name(t->verb) == NULL)
		return MOB_EINVAL;
	if ((r = mob_uri_format(&t->uri, u, sizeof(u))) < 0)
		return r;
	if (t->verb == MOB_VERB_RSP && !t->uri.multi)
		n = snprintf(buf, len, "mob/%s/%s/%s", verb_name[t->verb], u,
		    t->reqid);
	else
		n = snprintf(buf, len, "mob/%s/%s", verb_name[t->verb], u);
	if (n < 0 || (size_t)n >= len)
		return MOB_ETOOLONG;
	return n;
}
