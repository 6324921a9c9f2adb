/*
 * Times as text: the one RFC 3339 profile Mobius reads and writes, UTC
 * only, "2026-11-22T04:00:00Z" with an optional fraction of a second
 * where milliseconds are carried ("...:00.250Z").  Parsing is strict: a
 * fixed width, every field in range, no day that does not exist
 * (2026-02-30 is refused, not moved into March), no leap second, no
 * offset other than Z.
 */
#ifndef MOBIUS_TIME_H
#define MOBIUS_TIME_H

#include <stddef.h>
#include <stdint.h>

#define MOB_TIME_TEXT_MAX	32	/* a formatted time + NUL, with room */
/* The last millisecond a four-digit year can write, 9999-12-31T23:59:59.999Z. */
#define MOB_TIME_MS_MAX		253402300799999.0

/* "YYYY-MM-DDTHH:MM:SSZ" <-> unix seconds (keyrings, listings). */
int mob_time_parse(const char *s, int64_t *out);
int mob_time_format(int64_t t, char *buf, size_t len);
/*
 * "YYYY-MM-DDTHH:MM:SS[.f]Z" (1..9 fraction digits, beyond milliseconds
 * truncated) <-> unix milliseconds; formatting always writes ".fffZ".
 */
int mob_time_parse_ms(const char *s, int64_t *out);
int mob_time_format_ms(int64_t ms, char *buf, size_t len);

#endif
