/*
 * The protocol's small rules (mobius/proto.h).
 */
#include <stdint.h>
#include <stdio.h>
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
