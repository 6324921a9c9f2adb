/*
 * RFC 3339 text <-> unix time (mobius/time.h).  One parser for keyring
 * dates and datetime values, so both refuse the same inputs.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mobius/err.h"
#include "mobius/time.h"

/* n decimal digits at s into *out; 0 if any is not a digit. */
static int
time_digits(const char *s, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*out = *out * 10 + (s[i] - '0');
	}
	return 1;
}

/* "YYYY-MM-DDTHH:MM:SS" then, if frac, an optional ".d{1,9}"; then "Z". */
static int
time_parse(const char *s, int frac, int64_t *ms)
{
	struct tm tm, chk;
	const char *p;
	int v[6], ms_part = 0, digits = 0;
	time_t t;

	*ms = 0;
	if (s == NULL || strnlen(s, 20) < 20 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    !time_digits(s, 4, &v[0]) || !time_digits(s + 5, 2, &v[1]) ||
	    !time_digits(s + 8, 2, &v[2]) || !time_digits(s + 11, 2, &v[3]) ||
	    !time_digits(s + 14, 2, &v[4]) || !time_digits(s + 17, 2, &v[5]))
		return MOB_EINVAL;
	p = s + 19;
	if (frac && *p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				ms_part = ms_part * 10 + (*p - '0');
		if (digits == 0 || digits > 9)
			return MOB_EINVAL;
		for (; digits < 3; digits++)
			ms_part *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return MOB_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	chk = tm;
	/* Four-digit years cannot overflow a 64-bit time_t. */
	t = timegm(&tm);
	/* timegm normalizes Feb 30 into March and :60 into the next minute. */
	if (tm.tm_year != chk.tm_year || tm.tm_mon != chk.tm_mon ||
	    tm.tm_mday != chk.tm_mday || tm.tm_hour != chk.tm_hour ||
	    tm.tm_min != chk.tm_min || tm.tm_sec != chk.tm_sec)
		return MOB_EINVAL;
	*ms = (int64_t)t * 1000 + ms_part;
	return 0;
}

int
mob_time_parse(const char *s, int64_t *out)
{
	int64_t ms;
	int r;

	*out = 0;
	if ((r = time_parse(s, 0, &ms)) != 0)
		return r;
	*out = ms / 1000;
	return 0;
}

int
mob_time_parse_ms(const char *s, int64_t *out)
{
	return time_parse(s, 1, out);
}

int
mob_time_format(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return MOB_EINVAL;
	return 0;
}

int
mob_time_format_ms(int64_t ms, char *buf, size_t len)
{
	/* Floor division: -1 ms is 1969-12-31T23:59:59.999Z. */
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)t * 1000);
	struct tm tm;
	int n;

	if (gmtime_r(&t, &tm) == NULL)
		return MOB_EINVAL;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
	return n < 0 || (size_t)n >= len ? MOB_ETOOLONG : 0;
}
