/*
 * Mobius URIs and topics (docs/protocol.md).
 *
 * URI: HID(6)/SID(3)/PID(4)/INS(4)/RID(2), upper-case hex; a prefix of 1..5
 * parts addresses a hub, service, object or resource.  With MOB_URI_WILD a
 * part may be "+" and the last part may be "#" (matches any remainder).
 *
 * Topic: "mob/VERB/..." where VERB and its URI depth are
 *   cov HID/SID/PID/INS/RID   obj HID/SID/PID/INS   svc|state|req|key HID/SID
 *   rsp HID/SID/REQID (REQID: 1..32 chars of [A-Za-z0-9_-])
 */
#ifndef MOBIUS_URI_H
#define MOBIUS_URI_H

#include <stddef.h>

#include "mobius/proto.h"

#define MOB_URI_PARTS	5
#define MOB_URI_MAX	24	/* "HHHHHH/SSS/PPPP/IIII/RR" + NUL */
#define MOB_TOPIC_MAX	96

enum { MOB_URI_HID, MOB_URI_SID, MOB_URI_PID, MOB_URI_INS, MOB_URI_RID };

/* parse flags */
#define MOB_URI_WILD	0x1	/* allow + and # (subscriptions only) */

struct mob_uri {
	int depth;			/* parts present, 1..5 */
	int multi;			/* last part was "#" (depth counts it) */
	char part[MOB_URI_PARTS][7];	/* each NUL-terminated, "+" or "#" when wild */
};

/*
 * Parse s.  On error returns MOB_EURI or MOB_EWILDCARD and writes a message
 * naming the part ("SID \"01g\": must be 3 upper-case hex digits") to err.
 */
int mob_uri_parse(const char *s, int flags, struct mob_uri *out, char *err, size_t errlen);
int mob_uri_format(const struct mob_uri *u, char *buf, size_t len);
/* 1 if the (possibly wild) pattern matches the concrete uri. */
int mob_uri_match(const struct mob_uri *pattern, const struct mob_uri *uri);

enum mob_verb {
	MOB_VERB_COV, MOB_VERB_OBJ, MOB_VERB_SVC, MOB_VERB_STATE,
	MOB_VERB_REQ, MOB_VERB_RSP, MOB_VERB_KEY, MOB_VERB_COUNT
};

const char *mob_verb_name(enum mob_verb v);

struct mob_topic {
	enum mob_verb verb;
	struct mob_uri uri;		/* HID/SID[/PID/INS[/RID]] */
	char reqid[MOB_REQID_MAX + 1];	/* rsp only */
};

/* Parse an MQTT topic; with MOB_URI_WILD a subscription filter. */
int mob_topic_parse(const char *s, int flags, struct mob_topic *out, char *err, size_t errlen);
int mob_topic_format(const struct mob_topic *t, char *buf, size_t len);

#endif
