/*
 * Object model: objects, resources, values and the 16-slot priority array.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/object.h"
#include "mobius/proto.h"
#include "mobius/time.h"

struct mob_res {
	struct mob_object *obj;
	struct mob_res_def def;		/* name/units point into this struct */
	char name[MOB_NAME_MAX];
	char units[MOB_UNITS_MAX];
	struct mob_value dflt;		/* relinquish default */
	struct mob_value slot[MOB_PRIO_COUNT];
	struct mob_value pv;
	enum mob_status status;
	int64_t changed;
	mob_write_fn wfn;
	void *warg;
	void *udata;
};

struct mob_object {
	char pid[5];
	char ins[5];
	char name[MOB_NAME_MAX];
	struct mob_res **res;
	size_t nres;
	mob_change_fn observer;
	void *oarg;
};


static const char *const type_names[] = {
	"bool", "number", "string", "datetime", "timespan",
};

/* Timespans and datetimes are bounded so that ms never overflows. */
#define TIME_S_MAX	1e12

const char *
mob_type_name(enum mob_type t)
{
	if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "unknown";
	return type_names[t];
}

int
mob_type_parse(const char *s, enum mob_type *out)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strcmp(s, type_names[i]) == 0) {
			*out = (enum mob_type)i;
			return 0;
		}
	}
	return MOB_EINVAL;
}

/* --- values ----------------------------------------------------------- */

void
mob_value_null(struct mob_value *v, enum mob_type t)
{
	memset(v, 0, sizeof(*v));
	v->type = t;
	v->null = 1;
}

void
mob_value_bool(struct mob_value *v, int b)
{
	memset(v, 0, sizeof(*v));
	v->type = MOB_TYPE_BOOL;
	v->u.b = b != 0;
}

void
mob_value_number(struct mob_value *v, double n)
{
	memset(v, 0, sizeof(*v));
	v->type = MOB_TYPE_NUMBER;
	v->u.num = n;
}

int
mob_value_string(struct mob_value *v, const char *s)
{
	memset(v, 0, sizeof(*v));
	v->type = MOB_TYPE_STRING;
	if ((v->u.str = strdup(s)) == NULL) {
		v->null = 1;
		return MOB_ENOMEM;
	}
	return 0;
}

void
mob_value_time(struct mob_value *v, enum mob_type t, int64_t ms)
{
	memset(v, 0, sizeof(*v));
	v->type = t;
	v->u.ms = ms;
}

void
mob_value_clear(struct mob_value *v)
{
	if (v == NULL)
		return;
	if (v->type == MOB_TYPE_STRING && !v->null)
		free(v->u.str);
	mob_value_null(v, v->type);
}

int
mob_value_copy(struct mob_value *dst, const struct mob_value *src)
{
	if (src->type == MOB_TYPE_STRING && !src->null)
		return mob_value_string(dst, src->u.str);
	*dst = *src;
	return 0;
}

int
mob_value_equal(const struct mob_value *a, const struct mob_value *b)
{
	if (a->type != b->type || a->null != b->null)
		return 0;
	if (a->null)
		return 1;
	switch (a->type) {
	case MOB_TYPE_BOOL:
		return a->u.b == b->u.b;
	case MOB_TYPE_NUMBER:
		return a->u.num == b->u.num;
	case MOB_TYPE_STRING:
		return strcmp(a->u.str, b->u.str) == 0;
	case MOB_TYPE_DATETIME:
	case MOB_TYPE_TIMESPAN:
		return a->u.ms == b->u.ms;
	}
	return 0;
}

int
mob_value_from_json(enum mob_type t, const cJSON *j, struct mob_value *out)
{
	mob_value_null(out, t);
	if (j == NULL)
		return MOB_ETYPE;
	if (cJSON_IsNull(j))
		return 0;
	switch (t) {
	case MOB_TYPE_BOOL:
		if (!cJSON_IsBool(j))
			return MOB_ETYPE;
		mob_value_bool(out, cJSON_IsTrue(j));
		return 0;
	case MOB_TYPE_NUMBER:
		if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
			return MOB_ETYPE;
		mob_value_number(out, j->valuedouble);
		return 0;
	case MOB_TYPE_STRING:
		if (!cJSON_IsString(j) || !mob_utf8_valid(j->valuestring))
			return MOB_ETYPE;
		return mob_value_string(out, j->valuestring);
	case MOB_TYPE_DATETIME: {
		int64_t ms;

		if (!cJSON_IsString(j) || mob_time_parse_ms(j->valuestring, &ms) != 0)
			return MOB_ETYPE;
		mob_value_time(out, t, ms);
		return 0;
	}
	case MOB_TYPE_TIMESPAN:
		if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble) ||
		    fabs(j->valuedouble) > TIME_S_MAX)
			return MOB_ETYPE;
		mob_value_time(out, t, llround(j->valuedouble * 1000.0));
		return 0;
	}
	return MOB_ETYPE;
}

cJSON *
mob_value_to_json(const struct mob_value *v)
{
	char buf[96];

	if (v->null)
		return cJSON_CreateNull();
	switch (v->type) {
	case MOB_TYPE_BOOL:
		return cJSON_CreateBool(v->u.b);
	case MOB_TYPE_NUMBER:
		return cJSON_CreateNumber(v->u.num);
	case MOB_TYPE_STRING:
		return cJSON_CreateString(v->u.str);
	case MOB_TYPE_DATETIME:
		if (mob_time_format_ms(v->u.ms, buf, sizeof(buf)) != 0)
			return NULL;
		return cJSON_CreateString(buf);
	case MOB_TYPE_TIMESPAN:
		return cJSON_CreateNumber((double)v->u.ms / 1000.0);
	}
	return NULL;
}

/* --- objects ---------------------------------------------------------- */

static int
hex_valid(const char *s, size_t width)
{
	return s != NULL && strlen(s) == width && mob_hex_valid(s, width);
}

int
mob_object_new(const char *pid, const char *ins, const char *name,
    struct mob_object **out)
{
	struct mob_object *o;

	*out = NULL;
	if (!hex_valid(pid, 4) || !hex_valid(ins, 4) ||
	    (name != NULL && strlen(name) >= MOB_NAME_MAX))
		return MOB_EINVAL;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return MOB_ENOMEM;
	memcpy(o->pid, pid, 5);
	memcpy(o->ins, ins, 5);
	if (name != NULL)
		snprintf(o->name, sizeof(o->name), "%s", name);
	*out = o;
	return 0;
}

static void
res_free(struct mob_res *r)
{
	if (r == NULL)
		return;
	mob_value_clear(&r->dflt);
	mob_value_clear(&r->pv);
	for (int i = 0; i < MOB_PRIO_COUNT; i++)
		mob_value_clear(&r->slot[i]);
	free(r);
}

void
mob_object_free(struct mob_object *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->nres; i++)
		res_free(o->res[i]);
	free(o->res);
	free(o);
}

const char *mob_object_pid(const struct mob_object *o) { return o->pid; }
const char *mob_object_ins(const struct mob_object *o) { return o->ins; }
const char *mob_object_name(const struct mob_object *o) { return o->name; }
size_t mob_object_nres(const struct mob_object *o) { return o->nres; }

void
mob_object_set_observer(struct mob_object *o, mob_change_fn fn, void *arg)
{
	o->observer = fn;
	o->oarg = arg;
}

struct mob_res *
mob_object_res(const struct mob_object *o, const char *rid)
{
	for (size_t i = 0; i < o->nres; i++)
		if (strcmp(o->res[i]->def.rid, rid) == 0)
			return o->res[i];
	return NULL;
}

struct mob_res *
mob_object_res_at(const struct mob_object *o, size_t i)
{
	return i < o->nres ? o->res[i] : NULL;
}

static int
def_valid(const struct mob_res_def *d)
{
	if (!hex_valid(d->rid, 2) || d->name == NULL || d->name[0] == '\0' ||
	    strlen(d->name) >= MOB_NAME_MAX)
		return 0;
	if ((unsigned)d->type > MOB_TYPE_TIMESPAN ||
	    (d->access != MOB_ACCESS_R && d->access != MOB_ACCESS_RW))
		return 0;
	if (d->units != NULL && strlen(d->units) >= MOB_UNITS_MAX)
		return 0;
	if ((d->has_min && !isfinite(d->min)) || (d->has_max && !isfinite(d->max)) ||
	    (d->has_min && d->has_max && d->min > d->max))
		return 0;
	if (d->type == MOB_TYPE_STRING &&
	    ((d->has_min && d->min < 0) || (d->has_max && d->max < 0)))
		return 0;
	if (d->precision < -1 || d->precision > 15)
		return 0;
	if (!isfinite(d->st) || d->st < 0 || !isfinite(d->pmin) || d->pmin < 0 ||
	    !isfinite(d->pmax) || d->pmax < 0 || (d->pmax > 0 && d->pmin > d->pmax))
		return 0;
	return 1;
}

static double
round_to(double x, int precision)
{
	double f;

	if (precision < 0)
		return x;
	f = pow(10.0, precision);
	return round(x * f) / f;
}

int
mob_object_add_res(struct mob_object *o, const struct mob_res_def *def,
    struct mob_res **out)
{
	struct mob_res *r, **nres;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (!def_valid(def))
		return MOB_EINVAL;
	if (mob_object_res(o, def->rid) != NULL)
		return MOB_EEXIST;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MOB_ENOMEM;
	r->obj = o;
	r->def = *def;
	snprintf(r->name, sizeof(r->name), "%s", def->name);
	snprintf(r->units, sizeof(r->units), "%s", def->units ? def->units : "");
	r->def.name = r->name;
	r->def.units = r->units;
	r->def.dflt = NULL;
	for (int i = 0; i < MOB_PRIO_COUNT; i++)
		mob_value_null(&r->slot[i], def->type);
	mob_value_null(&r->dflt, def->type);
	mob_value_null(&r->pv, def->type);
	if (def->dflt != NULL && !def->dflt->null) {
		if ((rc = mob_res_validate(r, def->dflt)) != 0 ||
		    (rc = mob_value_copy(&r->dflt, def->dflt)) != 0 ||
		    (rc = mob_value_copy(&r->pv, def->dflt)) != 0) {
			res_free(r);
			return rc == MOB_ENOMEM ? rc : MOB_EINVAL;
		}
		if (r->def.type == MOB_TYPE_NUMBER)
			r->dflt.u.num = r->pv.u.num = round_to(r->pv.u.num, def->precision);
	}
	r->def.dflt = &r->dflt;
	r->changed = mob_clock_wall_ms();
	if ((nres = reallocarray(o->res, o->nres + 1, sizeof(*nres))) == NULL) {
		res_free(r);
		return MOB_ENOMEM;
	}
	o->res = nres;
	o->res[o->nres++] = r;
	if (out != NULL)
		*out = r;
	return 0;
}

/* --- resources -------------------------------------------------------- */

struct mob_object *mob_res_object(const struct mob_res *r) { return r->obj; }
const char *mob_res_rid(const struct mob_res *r) { return r->def.rid; }
const char *mob_res_name(const struct mob_res *r) { return r->name; }
enum mob_type mob_res_type(const struct mob_res *r) { return r->def.type; }
enum mob_access mob_res_access(const struct mob_res *r) { return r->def.access; }
const struct mob_res_def *mob_res_def(const struct mob_res *r) { return &r->def; }
const struct mob_value *mob_res_pv(const struct mob_res *r) { return &r->pv; }
enum mob_status mob_res_status(const struct mob_res *r) { return r->status; }
int64_t mob_res_changed(const struct mob_res *r) { return r->changed; }
void *mob_res_udata(const struct mob_res *r) { return r->udata; }
void mob_res_set_udata(struct mob_res *r, void *udata) { r->udata = udata; }

const struct mob_value *
mob_res_slot(const struct mob_res *r, int prio)
{
	if (prio < 1 || prio > MOB_PRIO_COUNT)
		return NULL;
	return &r->slot[prio - 1];
}

void
mob_res_set_write_handler(struct mob_res *r, mob_write_fn fn, void *arg)
{
	r->wfn = fn;
	r->warg = arg;
}

int
mob_res_validate(const struct mob_res *r, const struct mob_value *v)
{
	const struct mob_res_def *d = &r->def;
	double x;

	if (v->type != d->type)
		return MOB_ETYPE;
	if (v->null)
		return 0;
	switch (d->type) {
	case MOB_TYPE_BOOL:
	case MOB_TYPE_DATETIME:
		return 0;
	case MOB_TYPE_STRING:
		x = (double)strlen(v->u.str);
		if (!mob_utf8_valid(v->u.str))
			return MOB_ETYPE;
		if (x > (d->has_max ? d->max : MOB_STRING_MAX_DEFAULT) ||
		    (d->has_min && x < d->min))
			return MOB_ERANGE;
		return 0;
	case MOB_TYPE_NUMBER:
		if (!isfinite(v->u.num))
			return MOB_ETYPE;
		x = v->u.num;
		break;
	case MOB_TYPE_TIMESPAN:
		x = (double)v->u.ms / 1000.0;
		break;
	default:
		return MOB_ETYPE;
	}
	if ((d->has_min && x < d->min) || (d->has_max && x > d->max))
		return MOB_ERANGE;
	return 0;
}

/* The value the priority array selects. */
static const struct mob_value *
res_select(const struct mob_res *r)
{
	for (int i = 0; i < MOB_PRIO_COUNT; i++)
		if (!r->slot[i].null)
			return &r->slot[i];
	return &r->dflt;
}

static void
res_notify(struct mob_res *r)
{
	if (r->obj->observer != NULL)
		r->obj->observer(r, r->obj->oarg);
}

/* Make pv follow the priority array; 1 if it changed, or MOB_ENOMEM. */
static int
res_commit(struct mob_res *r)
{
	const struct mob_value *sel = res_select(r);
	struct mob_value nv;
	int rc;

	if (mob_value_equal(sel, &r->pv))
		return 0;
	if ((rc = mob_value_copy(&nv, sel)) != 0)
		return rc;
	mob_value_clear(&r->pv);
	r->pv = nv;
	r->changed = mob_clock_wall_ms();
	return 1;
}

/* Put v (owned, may be null) into slot prio with the write handler's consent. */
static int
res_set_slot(struct mob_res *r, int prio, struct mob_value *v)
{
	struct mob_value old = r->slot[prio - 1];
	int rc;

	r->slot[prio - 1] = *v;
	if (r->wfn != NULL && !mob_value_equal(res_select(r), &r->pv) &&
	    (rc = r->wfn(r, res_select(r), r->warg)) != 0) {
		r->slot[prio - 1] = old;
		mob_value_clear(v);
		return rc > 0 ? MOB_EDEVICE : rc;
	}
	mob_value_clear(&old);
	if ((rc = res_commit(r)) < 0)
		return rc;
	if (rc == 1)
		res_notify(r);
	return 0;
}

static int
res_check_writable(const struct mob_res *r, int prio)
{
	if (prio < 1 || prio > MOB_PRIO_COUNT)
		return MOB_EINVAL;
	if (r->def.access != MOB_ACCESS_RW)
		return MOB_EREADONLY;
	if (r->status == MOB_STATUS_OFFLINE)
		return MOB_EOFFLINE;
	return 0;
}

int
mob_res_write(struct mob_res *r, int prio, const struct mob_value *v)
{
	struct mob_value nv;
	int rc;

	if ((rc = res_check_writable(r, prio)) != 0 ||
	    (rc = mob_res_validate(r, v)) != 0)
		return rc;
	if (v->null)
		return mob_res_clear(r, prio);
	if ((rc = mob_value_copy(&nv, v)) != 0)
		return rc;
	if (nv.type == MOB_TYPE_NUMBER)
		nv.u.num = round_to(nv.u.num, r->def.precision);
	return res_set_slot(r, prio, &nv);
}

int
mob_res_clear(struct mob_res *r, int prio)
{
	struct mob_value nv;
	int rc;

	if ((rc = res_check_writable(r, prio)) != 0)
		return rc;
	mob_value_null(&nv, r->def.type);
	return res_set_slot(r, prio, &nv);
}

int
mob_res_report(struct mob_res *r, const struct mob_value *v,
    enum mob_status st)
{
	struct mob_value nv;
	int rc;

	if ((rc = mob_res_validate(r, v)) != 0 ||
	    (rc = mob_value_copy(&nv, v)) != 0)
		return rc;
	if (nv.type == MOB_TYPE_NUMBER && !nv.null)
		nv.u.num = round_to(nv.u.num, r->def.precision);
	mob_value_clear(&r->dflt);
	r->dflt = nv;
	if ((rc = res_commit(r)) < 0)
		return rc;
	if (rc == 1 || r->status != st) {
		r->status = st;
		res_notify(r);
	}
	return 0;
}

int
mob_res_update(struct mob_res *r, const struct mob_value *v)
{
	return mob_res_report(r, v, r->status);
}

void
mob_res_set_status(struct mob_res *r, enum mob_status st)
{
	if (r->status == st)
		return;
	r->status = st;
	res_notify(r);
}

/* --- JSON ------------------------------------------------------------- */

cJSON *
mob_res_describe(const struct mob_res *r)
{
	const struct mob_res_def *d = &r->def;
	cJSON *j, *cov;
	int ok;

	if ((j = cJSON_CreateObject()) == NULL)
		return NULL;
	ok = cJSON_AddStringToObject(j, "rid", d->rid) != NULL &&
	    cJSON_AddStringToObject(j, "name", r->name) != NULL &&
	    cJSON_AddStringToObject(j, "type", mob_type_name(d->type)) != NULL &&
	    cJSON_AddStringToObject(j, "access",
	    d->access == MOB_ACCESS_RW ? "rw" : "r") != NULL;
	if (ok && d->has_min)
		ok = cJSON_AddNumberToObject(j, "min", d->min) != NULL;
	if (ok && d->has_max)
		ok = cJSON_AddNumberToObject(j, "max", d->max) != NULL;
	if (ok && d->precision >= 0)
		ok = cJSON_AddNumberToObject(j, "precision", d->precision) != NULL;
	if (ok && r->units[0] != '\0')
		ok = cJSON_AddStringToObject(j, "units", r->units) != NULL;
	if (ok && (d->st > 0 || d->pmin > 0 || d->pmax > 0)) {
		ok = (cov = cJSON_AddObjectToObject(j, "cov")) != NULL &&
		    cJSON_AddNumberToObject(cov, "st", d->st) != NULL &&
		    cJSON_AddNumberToObject(cov, "pmin", d->pmin) != NULL &&
		    cJSON_AddNumberToObject(cov, "pmax", d->pmax) != NULL;
	}
	if (!ok) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

cJSON *
mob_object_describe(const struct mob_object *o)
{
	cJSON *j, *arr;

	if ((j = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(j, "pid", o->pid) == NULL ||
	    cJSON_AddStringToObject(j, "ins", o->ins) == NULL ||
	    cJSON_AddStringToObject(j, "name", o->name) == NULL ||
	    (arr = cJSON_AddArrayToObject(j, "resources")) == NULL)
		goto fail;
	for (size_t i = 0; i < o->nres; i++) {
		if (mob_json_add(arr, NULL, mob_res_describe(o->res[i])) != 0)
			goto fail;
	}
	return j;
 fail:
	cJSON_Delete(j);
	return NULL;
}

cJSON *
mob_res_state(const struct mob_res *r, int with_prio)
{
	cJSON *j, *arr;

	if ((j = cJSON_CreateObject()) == NULL)
		return NULL;
	if (mob_json_add(j, "value", mob_value_to_json(&r->pv)) != 0 ||
	    cJSON_AddStringToObject(j, "status",
	    r->status == MOB_STATUS_ONLINE ? "online" : "offline") == NULL ||
	    cJSON_AddNumberToObject(j, "changed", (double)r->changed) == NULL)
		goto fail;
	if (with_prio) {
		if ((arr = cJSON_AddArrayToObject(j, "priority")) == NULL)
			goto fail;
		for (int i = 0; i < MOB_PRIO_COUNT; i++)
			if (mob_json_add(arr, NULL,
			    mob_value_to_json(&r->slot[i])) != 0)
				goto fail;
		if (mob_json_add(j, "default", mob_value_to_json(&r->dflt)) != 0)
			goto fail;
	}
	return j;
 fail:
	cJSON_Delete(j);
	return NULL;
}
