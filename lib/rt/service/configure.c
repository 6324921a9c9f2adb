/*
 * The service runtime: objects from a JSON config node
 * (mob_service_config, docs/services.md).
 */
#include <stdlib.h>
#include <string.h>

#include "mobius/err.h"
#include "internal.h"


static void
keys_join(const char *const *base, const char *const *extra,
    const char **out, size_t max)
{
	size_t n = 0;

	for (; base != NULL && *base != NULL; base++)
		if (n < max - 1)
			out[n++] = *base;
	for (; extra != NULL && *extra != NULL; extra++)
		if (n < max - 1)
			out[n++] = *extra;
	out[n] = NULL;
}

/* The "cov" member of a resource: {"st","pmin","pmax"}, all optional. */
static int
config_cov(struct mob_config *c, const struct mob_cnode *n, struct mob_res_def *d)
{
	static const char *const keys[] = { "st", "pmin", "pmax", NULL };
	struct mob_cnode m, x;

	if (mob_cfg_member(c, n, "cov", 0, &m) != 1)
		return 0;
	if (mob_cfg_object(c, &m, keys) != 0 ||
	    mob_cfg_number(c, &m, "st", 0, &d->st) < 0 ||
	    mob_cfg_number(c, &m, "pmin", 0, &d->pmin) < 0 ||
	    mob_cfg_number(c, &m, "pmax", 0, &d->pmax) < 0)
		return MOB_ECONFIG;
	if (d->st < 0 || d->pmin < 0 || d->pmax < 0) {
		mob_cfg_member(c, &m, d->st < 0 ? "st" : d->pmin < 0 ? "pmin" :
		    "pmax", 0, &x);
		return mob_cfg_errorf(c, &x, "must not be negative");
	}
	if (d->pmin > COV_PERIOD_MAX || d->pmax > COV_PERIOD_MAX) {
		mob_cfg_member(c, &m, d->pmin > COV_PERIOD_MAX ? "pmin" : "pmax",
		    0, &x);
		return mob_cfg_errorf(c, &x, "must be at most %d seconds (30 days)",
		    COV_PERIOD_MAX);
	}
	if (d->st > 0 && d->type != MOB_TYPE_NUMBER) {
		mob_cfg_member(c, &m, "st", 0, &x);
		return mob_cfg_errorf(c, &x, "only for numbers");
	}
	if (d->pmax > 0 && d->pmin > d->pmax) {
		mob_cfg_member(c, &m, "pmax", 0, &x);
		return mob_cfg_errorf(c, &x, "must not be below pmin (%g)", d->pmin);
	}
	return 0;
}

static int
config_res(struct mob_config *c, const struct mob_cnode *n, struct mob_object *o,
    const struct mob_service_hooks *h)
{
	static const char *const base[] = { "rid", "name", "type", "access",
	    "min", "max", "precision", "units", "default", "cov", NULL };
	static const char *const types[] = { "bool", "number", "string",
	    "datetime", "timespan", NULL };
	static const char *const access[] = { "r", "rw", NULL };
	const char *allowed[32], *name = NULL, *units = NULL;
	struct mob_res_def d;
	struct mob_cnode m;
	struct mob_value dv;
	struct mob_res *r;
	long prec = -1;
	int t = 0, a = 0, rc;

	memset(&d, 0, sizeof(d));
	keys_join(base, h ? h->res_keys : NULL, allowed, 32);
	if ((rc = mob_cfg_object(c, n, allowed)) != 0 ||
	    (rc = mob_cfg_hex(c, n, "rid", MOB_CFG_REQUIRED, 2, d.rid)) < 0 ||
	    (rc = mob_cfg_string(c, n, "name", MOB_CFG_REQUIRED,
	    MOB_NAME_MAX - 1, &name)) < 0 ||
	    (rc = mob_cfg_enum(c, n, "type", MOB_CFG_REQUIRED, types, &t)) < 0 ||
	    (rc = mob_cfg_enum(c, n, "access", 0, access, &a)) < 0 ||
	    (rc = d.has_min = mob_cfg_number(c, n, "min", 0, &d.min)) < 0 ||
	    (rc = d.has_max = mob_cfg_number(c, n, "max", 0, &d.max)) < 0 ||
	    (rc = mob_cfg_int(c, n, "precision", 0, 0, 15, &prec)) < 0 ||
	    (rc = mob_cfg_string(c, n, "units", 0, MOB_UNITS_MAX - 1, &units)) < 0)
		return MOB_ECONFIG;
	if (d.rid[0] == '0' && d.rid[1] <= '9') {
		mob_cfg_member(c, n, "rid", 0, &m);
		return mob_cfg_errorf(c, &m, "%s is reserved (00 parent, 01 name, "
		    "02 last-updated, 03 description, 04 location); use 0A-3F for "
		    "attributes, 40 and up for values", d.rid);
	}
	mob_cfg_member(c, n, "name", 0, &m);
	if (name[0] == '\0')
		return mob_cfg_errorf(c, &m, "must not be empty");
	d.name = name;
	d.units = units;
	d.type = (enum mob_type)t;
	d.access = a == 1 ? MOB_ACCESS_RW : MOB_ACCESS_R;
	d.precision = (int)prec;
	if ((d.has_min || d.has_max) && d.type != MOB_TYPE_NUMBER &&
	    d.type != MOB_TYPE_TIMESPAN && d.type != MOB_TYPE_STRING) {
		mob_cfg_member(c, n, d.has_min ? "min" : "max", 0, &m);
		return mob_cfg_errorf(c, &m, "not allowed for type %s", types[t]);
	}
	if (d.type == MOB_TYPE_STRING && ((d.has_min && d.min < 0) ||
	    (d.has_max && d.max < 0))) {
		mob_cfg_member(c, n, d.has_min && d.min < 0 ? "min" : "max", 0, &m);
		return mob_cfg_errorf(c, &m, "a string length must not be negative");
	}
	if (d.has_min && d.has_max && d.max < d.min) {
		mob_cfg_member(c, n, "max", 0, &m);
		return mob_cfg_errorf(c, &m, "must not be below min (%g)", d.min);
	}
	if (prec >= 0 && d.type != MOB_TYPE_NUMBER) {
		mob_cfg_member(c, n, "precision", 0, &m);
		return mob_cfg_errorf(c, &m, "only for numbers");
	}
	if ((rc = config_cov(c, n, &d)) != 0)
		return rc;
	mob_value_null(&dv, d.type);
	if (mob_cfg_member(c, n, "default", 0, &m) == 1) {
		if (mob_value_from_json(d.type, m.j, &dv) != 0)
			return mob_cfg_errorf(c, &m, "must be %s%s",
			    d.type == MOB_TYPE_DATETIME ? "an RFC 3339 UTC datetime"
			    " like \"2026-01-01T00:00:00Z\"" : "a ",
			    d.type == MOB_TYPE_DATETIME ? "" : types[t]);
	}
	d.dflt = &dv;
	rc = mob_object_add_res(o, &d, &r);
	if (rc == MOB_EINVAL && !dv.null) {
		mob_cfg_member(c, n, "default", 0, &m);
		rc = mob_cfg_errorf(c, &m, "out of range");
	} else if (rc == MOB_EEXIST) {
		mob_cfg_member(c, n, "rid", 0, &m);
		rc = mob_cfg_errorf(c, &m, "duplicate resource %s in this object",
		    d.rid);
	} else if (rc != 0) {
		rc = mob_cfg_errorf(c, n, "%s", mob_strerror(rc));
	}
	mob_value_clear(&dv);
	if (rc == 0 && h != NULL && h->res != NULL)
		rc = h->res(c, n, r, h->arg);
	return rc;
}

static int
config_object(struct mob_service *svc, struct mob_config *c,
    const struct mob_cnode *n, const struct mob_service_hooks *h)
{
	static const char *const base[] = { "pid", "ins", "name", "resources", NULL };
	const char *allowed[32], *name = NULL;
	struct mob_cnode m, item;
	struct mob_object *o;
	char pid[5], ins[5], *txt;
	size_t len;
	int rc, count;

	keys_join(base, h ? h->object_keys : NULL, allowed, 32);
	if (mob_cfg_object(c, n, allowed) != 0 ||
	    mob_cfg_hex(c, n, "pid", MOB_CFG_REQUIRED, 4, pid) < 0 ||
	    mob_cfg_hex(c, n, "ins", MOB_CFG_REQUIRED, 4, ins) < 0 ||
	    mob_cfg_string(c, n, "name", 0, MOB_NAME_MAX - 1, &name) < 0 ||
	    mob_cfg_member(c, n, "resources", MOB_CFG_REQUIRED, &m) < 0 ||
	    (count = mob_cfg_array(c, &m, MOB_SERVICE_MAX_RES)) < 0)
		return MOB_ECONFIG;
	if ((rc = mob_service_add_object(svc, pid, ins, name, &o)) == MOB_EEXIST)
		return mob_cfg_errorf(c, n, "duplicate object %s/%s", pid, ins);
	if (rc != 0)
		return mob_cfg_errorf(c, n, "%s", mob_strerror(rc));
	for (int i = 0; i < count; i++) {
		mob_cfg_item(&m, (size_t)i, &item);
		if ((rc = config_res(c, &item, o, h)) != 0)
			return rc;
	}
	/* Its description must fit one message (discover, mob/svc pages). */
	if ((rc = svc__to_text(mob_object_describe(o), &txt)) == MOB_ENOMEM)
		return mob_cfg_errorf(c, n, "%s", mob_strerror(rc));
	len = strlen(txt);
	free(txt);
	if (len > LIST_MAX)
		return mob_cfg_errorf(c, n, "description too large for one "
		    "message (%zu bytes of JSON, at most %d): split the object",
		    len, LIST_MAX);
	if (h != NULL && h->object != NULL)
		return h->object(c, n, o, h->arg);
	return 0;
}

int
mob_service_config(struct mob_service *svc, struct mob_config *c,
    const struct mob_cnode *node, const struct mob_service_hooks *hooks)
{
	const char *name = NULL, *desc = NULL;
	struct mob_cnode m, item;
	long queue = 0, history = -1;
	int count, rc;

	if (mob_cfg_object(c, node, NULL) != 0 ||
	    mob_cfg_string(c, node, "name", 0, MOB_NAME_MAX - 1, &name) < 0 ||
	    mob_cfg_string(c, node, "description", 0, 255, &desc) < 0 ||
	    mob_cfg_int(c, node, "queue", 0, 16, 1000000, &queue) < 0 ||
	    mob_cfg_int(c, node, "history", 0, 0, 1000000, &history) < 0 ||
	    mob_cfg_member(c, node, "objects", MOB_CFG_REQUIRED, &m) < 0 ||
	    (count = mob_cfg_array(c, &m, MOB_SERVICE_MAX_OBJECTS)) < 0)
		return MOB_ECONFIG;
	/* the outgoing queue's bound, the COVs kept for watchers (since) */
	if ((rc = mob_client_set_limits(svc->c, (int)queue, (int)history)) != 0)
		return rc;
	if ((name != NULL || desc != NULL) &&
	    (rc = mob_service_set_info(svc, name ? name : svc->name,
	    desc ? desc : svc->description)) != 0)
		return rc;
	for (int i = 0; i < count; i++) {
		mob_cfg_item(&m, (size_t)i, &item);
		if ((rc = config_object(svc, c, &item, hooks)) != 0)
			return rc;
	}
	return 0;
}
