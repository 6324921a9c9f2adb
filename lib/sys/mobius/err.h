/*
 * Error codes shared by every part of Mobius.
 *
 * Functions return 0 on success or a negative MOB_E* code.  Each code has a
 * stable short name (used on the wire in responses and in hub counters) and
 * a message in plain words (mob_strerror).
 */
#ifndef MOBIUS_ERR_H
#define MOBIUS_ERR_H

#include <stddef.h>

/* X(name, value, short_name, message) */
#define MOB_ERRORS(X) \
	X(MOB_OK,               0,  "ok",              "success") \
	X(MOB_ENOMEM,          -1,  "nomem",           "out of memory") \
	X(MOB_EINVAL,          -2,  "invalid",         "invalid argument") \
	X(MOB_ESYS,            -3,  "system",          "system call failed (see errno)") \
	X(MOB_ETOOLONG,        -4,  "too_long",        "input exceeds the size limit") \
	X(MOB_EB64,            -5,  "base64",          "invalid or non-canonical base64url") \
	X(MOB_EFORMAT,         -6,  "format",          "malformed token (parts, separators or trailing data)") \
	X(MOB_EJSON,           -7,  "json",            "malformed JSON") \
	X(MOB_EHDRDUP,         -8,  "header_dup",      "duplicate field in JSON object") \
	X(MOB_EHDRMISSING,     -9,  "header_missing",  "required header field missing") \
	X(MOB_EHDRUNKNOWN,    -10,  "header_unknown",  "unsupported header field") \
	X(MOB_EALGNONE,       -11,  "alg_none",        "alg \"none\" is never accepted") \
	X(MOB_EALGUNKNOWN,    -12,  "alg_unknown",     "unknown or disallowed alg") \
	X(MOB_EALGMISMATCH,   -13,  "alg_mismatch",    "alg does not match the key type") \
	X(MOB_EBADSIG,        -14,  "bad_signature",   "signature does not verify") \
	X(MOB_EKIDUNKNOWN,    -15,  "kid_unknown",     "no key for this kid") \
	X(MOB_EISSMISMATCH,   -16,  "iss_mismatch",    "iss does not match kid") \
	X(MOB_ETOPICMISMATCH, -17,  "topic_mismatch",  "top claim does not match the topic") \
	X(MOB_EEXPIRED,       -18,  "expired",         "iat is older than the validity window") \
	X(MOB_EFUTURE,        -19,  "future",          "iat is ahead of the validity window") \
	X(MOB_EREPLAY,        -20,  "replay",          "seq or nonce already seen") \
	X(MOB_ECLAIM,         -21,  "claim",           "claim missing or of the wrong type") \
	X(MOB_EREVOKED,       -22,  "revoked",         "key is revoked") \
	X(MOB_EKEYEXPIRED,    -23,  "key_expired",     "key grace period is over") \
	X(MOB_EIDENTITY,      -24,  "identity",        "identity does not match the authenticated client") \
	X(MOB_EURI,           -25,  "uri",             "malformed URI") \
	X(MOB_ETOPIC,         -26,  "topic",           "malformed topic") \
	X(MOB_EWILDCARD,      -27,  "wildcard",        "wildcard not allowed here") \
	X(MOB_EPARSE,         -28,  "parse",           "parse error") \
	X(MOB_EPERM,          -29,  "permissions",     "file is readable by group or others") \
	X(MOB_ELOCK,          -30,  "lock",            "could not lock file") \
	X(MOB_ENOTFOUND,      -31,  "not_found",       "not found") \
	X(MOB_EEXIST,         -32,  "exists",          "already exists") \
	X(MOB_EDENIED,        -33,  "denied",          "not permitted") \
	X(MOB_ETIMEOUT,       -34,  "timeout",         "timed out") \
	X(MOB_ECRYPTO,        -35,  "crypto",          "cryptographic library failure") \
	X(MOB_ETYPE,          -36,  "bad_type",        "value has the wrong type") \
	X(MOB_ERANGE,         -37,  "out_of_range",    "value out of range") \
	X(MOB_EREADONLY,      -38,  "read_only",       "resource is read-only") \
	X(MOB_EOFFLINE,       -39,  "offline",         "device or service is offline") \
	X(MOB_EDEVICE,        -40,  "device",          "device reported an error") \
	X(MOB_EPROTO,         -41,  "protocol",        "protocol error") \
	X(MOB_ECONFIG,        -42,  "config",          "invalid configuration") \
	X(MOB_EMBADDR,        -43,  "illegal_address", "device refused: illegal data address (Modbus exception 2)") \
	X(MOB_EMBVALUE,       -44,  "illegal_value",   "device refused: illegal data value (Modbus exception 3)") \
	X(MOB_EBUSY,          -45,  "busy",            "too many requests pending: try again later")

enum mob_err {
#define MOB_ERR_ENUM(name, value, shortname, msg) name = value,
	MOB_ERRORS(MOB_ERR_ENUM)
#undef MOB_ERR_ENUM
};

#define MOB_ERR_MIN MOB_EBUSY

/* Message in plain words; never NULL. */
const char *mob_strerror(int err);
/* Stable short name ("bad_signature"); never NULL. */
const char *mob_errname(int err);
/* Code for a short name, or MOB_EINVAL if unknown. */
int mob_errcode(const char *name);
/*
 * A message for the caller's err buffer (none when err is NULL or errlen
 * 0; truncated to fit); returns code, so "return mob_errf(...)".
 */
int mob_errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
