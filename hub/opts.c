/*
 * The hub's options: plugin_opt_NAME in mosquitto.conf, which mobius-hub
 * writes from hub.conf, its drop-ins and --opt.  Parsed here for both: by
 * the plugin at load, and by the launcher beforehand so that a bad value in
 * hub.conf is reported with its file:line (docs/hub.md).  Depends on
 * nothing of the broker's.
 *
 *   keys DIR (required), keyring PATH, hub_key PATH, status PATH,
 *   window_ms, max_message,
 *   req_ttl_ms, req_max, req_quota, runs_max, nonce_max, bad_tokens,
 *   stats_interval_ms,
 *   router_sid, remote_req (yes/no),
 *   writers_SID (SID,SID,...: who may write or clear on service SID).
 * An unknown option is an error: a typo must not silently weaken the hub.
 * Every error message starts with the option's name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "mobius/jws.h"

#include "internal.h"

static int
is_sid(const char *s, size_t len)
{
	return len == MOB_SID_LEN && mob_hex_valid(s, len);
}

/* writers_SID = SID,SID,... */
static int
opt_writers(struct hub_opts *o, const char *k, const char *v, char *err,
    size_t errlen)
{
	struct hub_writers *w;
	const char *p = v;

	if (!is_sid(k + 8, strlen(k + 8)) || o->nwriters == HUB_WRITERS_MAX) {
		snprintf(err, errlen, "%s: want writers_SID, SID 3 "
		    "upper-case hex digits (at most %d targets)", k,
		    HUB_WRITERS_MAX);
		return MOB_ECONFIG;
	}
	/* a second list for the same target would silently lose to the first */
	for (size_t i = 0; i < o->nwriters; i++)
		if (strcmp(o->writers[i].target, k + 8) == 0) {
			snprintf(err, errlen, "%s: given twice; name "
			    "every writer of %s in one list", k, k + 8);
			return MOB_ECONFIG;
		}
	w = &o->writers[o->nwriters++];
	memcpy(w->target, k + 8, 4);
	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		if (!is_sid(p, len) || w->n == HUB_WRITER_IDS) {
			snprintf(err, errlen, "%s: \"%s\" is not a list "
			    "of at most %d SIDs", k, v, HUB_WRITER_IDS);
			return MOB_ECONFIG;
		}
		memcpy(w->sid[w->n], p, 3);
		w->sid[w->n++][3] = '\0';
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int
opt_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
		return MOB_ECONFIG;
	*out = n;
	return 0;
}

int
hub_opts__parse(struct hub_opts *o, struct mosquitto_opt *opts, int n,
    char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int64_t min, max;
		size_t off;
		int is_size;
	} nums[] = {
#define NUM(name, min, max, field, sz) \
	{ name, min, max, offsetof(struct hub_opts, field), sz }
		NUM("window_ms", 100, 3600000, window_ms, 0),
		NUM("max_message", 1024, 1 << 20, max_message, 1),
		NUM("req_ttl_ms", 100, 3600000, req_ttl_ms, 0),
		NUM("req_max", 16, 1 << 20, req_max, 1),
		NUM("req_quota", 1, 1 << 20, req_quota, 1),
		NUM("runs_max", 1, 4096, runs_max, 1),
		NUM("nonce_max", 16, 1 << 22, nonce_max, 1),
		NUM("bad_tokens", 16, 1 << 20, bad_max, 1),
		NUM("stats_interval_ms", 100, 86400000, stats_ms, 0),
#undef NUM
	};
	int64_t v;
	int i, found;

	memset(o, 0, sizeof(*o));
	o->window_ms = MOB_WINDOW_MS_DEFAULT;
	o->max_message = MOB_JWS_MAX_DEFAULT;
	o->req_ttl_ms = 30000;
	o->req_max = 4096;
	o->req_quota = 64;
	o->runs_max = 16;
	o->nonce_max = 65536;
	o->bad_max = 1024;
	o->stats_ms = 10000;
	snprintf(o->router_sid, sizeof(o->router_sid), "%s", HUB_ROUTER_SID);

	for (i = 0; i < n; i++) {
		const char *k = opts[i].key, *val = opts[i].value;
		char *dst = NULL;
		size_t dstlen = 0;

		if (k == NULL || val == NULL)
			continue;
		found = 0;
		for (size_t j = 0; j < sizeof(nums) / sizeof(nums[0]); j++) {
			if (strcmp(k, nums[j].name) != 0)
				continue;
			found = 1;
			if (opt_int(val, nums[j].min, nums[j].max, &v) != 0) {
				snprintf(err, errlen, "%s: \"%s\" is not "
				    "an integer in [%lld, %lld]", k, val,
				    (long long)nums[j].min, (long long)nums[j].max);
				return MOB_ECONFIG;
			}
			if (nums[j].is_size)
				*(size_t *)((char *)o + nums[j].off) = (size_t)v;
			else
				*(int64_t *)((char *)o + nums[j].off) = v;
		}
		if (found)
			continue;
		if (strcmp(k, "keys") == 0) {
			dst = o->keys_dir;
			dstlen = sizeof(o->keys_dir);
		} else if (strcmp(k, "keyring") == 0) {
			dst = o->keyring;
			dstlen = sizeof(o->keyring);
		} else if (strcmp(k, "hub_key") == 0) {
			dst = o->hub_key;
			dstlen = sizeof(o->hub_key);
		} else if (strcmp(k, "status") == 0) {
			dst = o->status;
			dstlen = sizeof(o->status);
		} else if (strcmp(k, "router_sid") == 0) {
			dst = o->router_sid;
			dstlen = sizeof(o->router_sid);
			if (!mob_sid_valid(val)) {
				snprintf(err, errlen, "router_sid: \"%s\" "
				    "is not 3 upper-case hex digits", val);
				return MOB_ECONFIG;
			}
		} else if (strncmp(k, "writers_", 8) == 0) {
			if (opt_writers(o, k, val, err, errlen) != 0)
				return MOB_ECONFIG;
			continue;
		} else if (strcmp(k, "remote_req") == 0) {
			if (strcmp(val, "yes") == 0 || strcmp(val, "true") == 0)
				o->remote_req = 1;
			else if (strcmp(val, "no") == 0 || strcmp(val, "false") == 0)
				o->remote_req = 0;
			else {
				snprintf(err, errlen, "remote_req: \"%s\" "
				    "is not yes or no", val);
				return MOB_ECONFIG;
			}
			continue;
		} else {
			snprintf(err, errlen, "%s: unknown option", k);
			return MOB_ECONFIG;
		}
		if ((size_t)snprintf(dst, dstlen, "%s", val) >= dstlen) {
			snprintf(err, errlen, "%s: path too long", k);
			return MOB_ECONFIG;
		}
	}
	if (o->keys_dir[0] == '\0') {
		snprintf(err, errlen, "keys (the keys directory) is "
		    "required");
		return MOB_ECONFIG;
	}
	if (o->keyring[0] == '\0' && (size_t)snprintf(o->keyring,
	    sizeof(o->keyring), "%s/keyring", o->keys_dir) >= sizeof(o->keyring))
		return MOB_ECONFIG;
	if (o->hub_key[0] == '\0' && (size_t)snprintf(o->hub_key,
	    sizeof(o->hub_key), "%s/hub.key", o->keys_dir) >= sizeof(o->hub_key))
		return MOB_ECONFIG;
	return 0;
}
