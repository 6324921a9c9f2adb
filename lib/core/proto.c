/*
 * The protocol's small rules (mobius/proto.h).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "mobius/err.h"
#include "mobius/proto.h"

int
mob_hex_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static int
proto_part(const char *s, size_t width)
{
	return s != NULL && strnlen(s, width + 1) == width &&
	    mob_hex_valid(s, width);
}

int mob_hid_valid(const char *s) { return proto_part(s, MOB_HID_LEN); }
int mob_sid_valid(const char *s) { return proto_part(s, MOB_SID_LEN); }
int mob_spid_valid(const char *s) { return proto_part(s, MOB_SPID_LEN); }

int
mob_id_valid(const char *id)
{
	return id != NULL && strnlen(id, MOB_ID_MAX) == MOB_ID_MAX - 1 &&
	    mob_hex_valid(id, MOB_HID_LEN) && id[MOB_HID_LEN] == '/' &&
	    mob_hex_valid(id + MOB_HID_LEN + 1, MOB_SID_LEN);
}

int
mob_cid_split(const char *cid, char id[MOB_ID_MAX])
{
	size_t n = cid != NULL ? strnlen(cid, MOB_CID_MAX) : 0;

	id[0] = '\0';
	if (n != MOB_ID_MAX - 1 && (n != MOB_CID_MAX - 1 ||
	    cid[MOB_ID_MAX - 1] != '/' ||
	    !mob_hex_valid(cid + MOB_ID_MAX, MOB_RUN_LEN)))
		return MOB_EIDENTITY;
	memcpy(id, cid, MOB_ID_MAX - 1);
	id[MOB_ID_MAX - 1] = '\0';
	if (!mob_id_valid(id)) {
		id[0] = '\0';
		return MOB_EIDENTITY;
	}
	return n == MOB_CID_MAX - 1;
}

int
mob_user_valid(const char *user)
{
	return user != NULL &&
	    strnlen(user, MOB_SPID_LEN + MOB_SID_LEN + 2) ==
	    MOB_SPID_LEN + MOB_SID_LEN + 1 &&
	    mob_hex_valid(user, MOB_SPID_LEN) && user[MOB_SPID_LEN] == '/' &&
	    mob_hex_valid(user + MOB_SPID_LEN + 1, MOB_SID_LEN);
}

int
mob_reqid_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

int
mob_reqid_valid(const char *s, size_t n)
{
	return n >= 1 && n <= MOB_REQID_MAX && mob_reqid_chars(s, n);
}

int
mob_reqid_from_json(const cJSON *id, char out[MOB_REQID_MAX + 1])
{
	double d;

	out[0] = '\0';
	if (cJSON_IsString(id) && mob_reqid_valid(id->valuestring,
	    strlen(id->valuestring))) {
		memcpy(out, id->valuestring, strlen(id->valuestring) + 1);
		return 0;
	}
	if (!cJSON_IsNumber(id))
		return MOB_EINVAL;
	/* In range before the cast, so the conversion is defined. */
	d = id->valuedouble;
	if (!(d >= 0 && d <= MOB_REQID_INT_MAX) || d != (double)(long long)d)
		return MOB_EINVAL;
	snprintf(out, MOB_REQID_MAX + 1, "%lld", (long long)d);
	return 0;
}

int
mob_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		unsigned int c = *p, min;
		int n;

		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, c &= 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, c &= 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, c &= 0x07, min = 0x10000;
		} else
			return 0;
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (p[i] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

int
mob_claim_int(const cJSON *c, double *out)
{
	double d;

	if (c == NULL || !cJSON_IsNumber(c))
		return MOB_ECLAIM;
	d = c->valuedouble;
	if (!(d >= 0 && d <= MOB_CLAIM_INT_MAX) || (double)(int64_t)d != d)
		return MOB_ECLAIM;
	*out = d;
	return 0;
}

int
mob_parse_number(const char *s, double *d)
{
	char *end;

	/* decimal only: strtod alone would take "0x10", "inf" and " 1" */
	if (s == NULL || *s == '\0' || *s == '+' ||
	    s[strspn(s, "0123456789.eE+-")] != '\0')
		return -1;
	errno = 0;
	*d = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(*d))
		return -1;
	return 0;
}

int
mob_parse_timespan(const char *s, double *sec)
{
	static const struct { char unit; double mul; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char num[64];
	size_t len, i;
	double mul = 1;

	if (s == NULL || (len = strlen(s)) == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (num[len - 1] == units[i].unit) {
			num[len - 1] = '\0';
			mul = units[i].mul;
		}
	if (mob_parse_number(num, sec) != 0)
		return -1;
	*sec *= mul;
	return isfinite(*sec) ? 0 : -1;
}
