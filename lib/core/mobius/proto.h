/*
 * The protocol's small rules, each in one place (docs/protocol.md): the
 * shape of identifiers, the request-id alphabet and range, and the
 * default paths every program agrees on.
 */
#ifndef MOBIUS_PROTO_H
#define MOBIUS_PROTO_H

#include <stddef.h>

struct cJSON;

/* Default paths (docs/operations.md). */
#define MOB_KEYS_DIR_DEFAULT	"/etc/mobius/keys"
#define MOB_HUB_SOCKET_DEFAULT	"/run/mobius/hub.sock"
#define MOB_HUB_STATE_DEFAULT	"/var/lib/mobius/hub"

/* Identifier parts: upper-case hex digits of a fixed width. */
#define MOB_HID_LEN	6	/* node (hub) */
#define MOB_SID_LEN	3	/* service on a node; 000 is the hub */
#define MOB_SPID_LEN	4	/* service profile */
#define MOB_PID_LEN	4	/* object profile */
#define MOB_INS_LEN	4	/* object instance */
#define MOB_RID_LEN	2	/* resource */
#define MOB_ID_MAX	11	/* "HHHHHH/SSS" + NUL */

/* 1 if s[0..n) are all upper-case hex digits (s need not end there). */
int mob_hex_valid(const char *s, size_t n);
/* 1 if the NUL-terminated s is exactly one such part. */
int mob_hid_valid(const char *s);
int mob_sid_valid(const char *s);
int mob_spid_valid(const char *s);
int mob_id_valid(const char *id);		/* HID/SID */
int mob_user_valid(const char *user);		/* SPID/SID (MQTT username) */

/*
 * Client ids (docs/hub.md, "Identities"): a service connects as its
 * identity HID/SID; each run of a command-line key (SPID MOB_SPID_CLI)
 * as HID/SID/RUN, RUN MOB_RUN_LEN upper-case hex digits it draws at
 * random, so any number of `mobius` commands with one key can be
 * connected at once.  A run speaks as its identity (iss) and signs with
 * its client id as kid, which keeps its seq apart from the other runs'.
 */
#define MOB_SPID_CLI	"00C1"
#define MOB_RUN_LEN	8
#define MOB_CID_MAX	(MOB_ID_MAX + 1 + MOB_RUN_LEN)	/* "HHHHHH/SSS/RRRRRRRR" + NUL */
/*
 * The identity of a client id into id: 0 for HID/SID, 1 for HID/SID/RUN,
 * MOB_EIDENTITY for anything else.
 */
int mob_cid_split(const char *cid, char id[MOB_ID_MAX]);

/*
 * Request ids name the rsp topic (mob/rsp/HID/SID/REQID): a string of
 * 1..MOB_REQID_MAX characters of A-Z a-z 0-9 _ - (base64url's alphabet,
 * which token nonces use too), or an integer 0..2^53-1 written in
 * decimal.  2^53 is excluded: it is the first integer a JSON double
 * cannot tell from its successor, so two requesters' ids would collide.
 */
#define MOB_REQID_MAX		32
#define MOB_REQID_INT_MAX	9007199254740991.0	/* 2^53 - 1 */

/* 1 if every one of s[0..n) is in the request-id alphabet. */
int mob_reqid_chars(const char *s, size_t n);
/* 1 if s[0..n) is a request id string (1..MOB_REQID_MAX of the alphabet). */
int mob_reqid_valid(const char *s, size_t n);
/* The "id" member of a req: its topic text into out, or MOB_EINVAL. */
int mob_reqid_from_json(const struct cJSON *id, char out[MOB_REQID_MAX + 1]);

/*
 * Integer claims (iat, seq, exp, ...): JSON numbers are doubles in
 * cJSON, exact up to 2^53; a claim is integral and 0..2^53.
 */
#define MOB_CLAIM_INT_MAX	9007199254740992.0

/* An integer claim: a JSON number, integral, 0..MOB_CLAIM_INT_MAX. */
int mob_claim_int(const struct cJSON *c, double *out);

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF): 1 or 0. */
int mob_utf8_valid(const char *s);

/*
 * The one grammar for what a person types, in mobius and mobius-keytool
 * alike (docs/cli.md, "Values: one grammar"): a number is decimal ("-5",
 * "21.5", "1e3"; never "0x10", "inf" or " 1"); a timespan is such a number
 * of seconds with an optional unit s, m, h or d ("90", "15m", "1.5h",
 * "2d").  0, or -1 for anything else.
 */
int mob_parse_number(const char *s, double *d);
int mob_parse_timespan(const char *s, double *sec);

#endif
