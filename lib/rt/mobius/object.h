/*
 * The object model (docs/services.md).
 *
 * An object is PID + INS + a name + resources.  A resource has an RID,
 * a name, a type, an access mode (r or rw), optional min/max/precision/
 * units, COV attributes, a status (online/offline) and a 16-slot priority
 * array (BACnet style):
 *
 *   present value (PV) = the value of the highest-priority (lowest number)
 *   non-null slot, or the relinquish default when every slot is null.
 *
 * Clients write into a slot (priority 1..16, default 16) and clear a slot;
 * only rw resources accept that.  The owning service sets the relinquish
 * default with mob_res_update() (a sensor reading, a locally toggled
 * switch): for a read-only resource that is simply the PV.
 *
 * Wire forms of values (JSON): bool → true/false; number → number;
 * string → string (UTF-8, at most max bytes, default 256); datetime →
 * RFC 3339 UTC string "2026-11-22T02:50:01.123Z"; timespan → number of
 * seconds (fractional allowed, millisecond resolution).  null is "no value".
 */
#ifndef MOBIUS_OBJECT_H
#define MOBIUS_OBJECT_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

enum mob_type {
	MOB_TYPE_BOOL = 0,
	MOB_TYPE_NUMBER,
	MOB_TYPE_STRING,
	MOB_TYPE_DATETIME,
	MOB_TYPE_TIMESPAN,
};

#define MOB_PRIO_COUNT		16
#define MOB_PRIO_DEFAULT	16
#define MOB_STRING_MAX_DEFAULT	256
#define MOB_NAME_MAX		64
#define MOB_UNITS_MAX		16

/* "bool", "number", "string", "datetime", "timespan" */
const char *mob_type_name(enum mob_type t);
int mob_type_parse(const char *s, enum mob_type *out);

struct mob_value {
	enum mob_type type;
	int null;			/* 1: no value */
	union {
		int b;			/* bool: 0 / 1 */
		double num;		/* number */
		int64_t ms;		/* datetime: unix ms; timespan: ms */
		char *str;		/* string: owned, NUL-terminated */
	} u;
};

/* Constructors for the common cases (no allocation except string). */
void mob_value_null(struct mob_value *v, enum mob_type t);
void mob_value_bool(struct mob_value *v, int b);
void mob_value_number(struct mob_value *v, double n);
int mob_value_string(struct mob_value *v, const char *s);	/* copies */
void mob_value_time(struct mob_value *v, enum mob_type t, int64_t ms);
/* Frees a string and makes v null; accepts NULL. */
void mob_value_clear(struct mob_value *v);
int mob_value_copy(struct mob_value *dst, const struct mob_value *src);
/* 1 if same type, same nullness and same value. */
int mob_value_equal(const struct mob_value *a, const struct mob_value *b);
/*
 * Parse the wire form of a value of type t (JSON null gives a null
 * value).  MOB_ETYPE if the JSON has the wrong shape for t.
 */
int mob_value_from_json(enum mob_type t, const struct cJSON *j, struct mob_value *out);
/* Wire form; NULL on allocation failure. */
struct cJSON *mob_value_to_json(const struct mob_value *v);

/* --- resources -------------------------------------------------------- */

enum mob_access { MOB_ACCESS_R = 0, MOB_ACCESS_RW = 1 };
enum mob_status { MOB_STATUS_ONLINE = 0, MOB_STATUS_OFFLINE = 1 };

/* Resource definition; copied by mob_object_add_res. */
struct mob_res_def {
	char rid[3];			/* 2 upper-case hex digits, >= "40" for values */
	const char *name;		/* required, 1..MOB_NAME_MAX-1 bytes */
	enum mob_type type;
	enum mob_access access;
	int has_min, has_max;		/* number/timespan: value bounds;
					 * string: min/max length in bytes */
	double min, max;
	int precision;			/* decimals for numbers; -1 = none */
	const char *units;		/* NULL or "" = none */
	const struct mob_value *dflt;	/* relinquish default; NULL → null */
	/* COV attributes (LwM2M style), applied by the owning service. */
	double st;			/* deadband: numbers only, 0 = any change */
	double pmin;			/* seconds between COVs at least; 0 = none */
	double pmax;			/* seconds: republish at least this often; 0 = never */
};

struct mob_object;
struct mob_res;

/*
 * Write handler (optional): called when a client write or clear would
 * change the PV of an rw resource, before it takes effect.  Return 0 to
 * accept, or a MOB_E* (MOB_EDEVICE, MOB_EOFFLINE, ...) to refuse: the slot
 * is restored and the error goes back to the client.
 */
typedef int (*mob_write_fn)(struct mob_res *r, const struct mob_value *pv, void *arg);
/* Observer: called after the PV or status of any resource of the object changed. */
typedef void (*mob_change_fn)(struct mob_res *r, void *arg);

/* pid, ins: 4 upper-case hex digits; name may be NULL. */
int mob_object_new(const char *pid, const char *ins, const char *name,
    struct mob_object **out);
void mob_object_free(struct mob_object *o);
const char *mob_object_pid(const struct mob_object *o);
const char *mob_object_ins(const struct mob_object *o);
const char *mob_object_name(const struct mob_object *o);

/* MOB_EEXIST for a duplicate RID, MOB_EINVAL for a bad definition. */
int mob_object_add_res(struct mob_object *o, const struct mob_res_def *def,
    struct mob_res **out);
struct mob_res *mob_object_res(const struct mob_object *o, const char *rid);
/* Iteration in the order added: i = 0, 1, ... until NULL. */
struct mob_res *mob_object_res_at(const struct mob_object *o, size_t i);
size_t mob_object_nres(const struct mob_object *o);
void mob_object_set_observer(struct mob_object *o, mob_change_fn fn, void *arg);

struct mob_object *mob_res_object(const struct mob_res *r);
const char *mob_res_rid(const struct mob_res *r);
const char *mob_res_name(const struct mob_res *r);
enum mob_type mob_res_type(const struct mob_res *r);
enum mob_access mob_res_access(const struct mob_res *r);
const struct mob_res_def *mob_res_def(const struct mob_res *r);	/* name/units point into r */
const struct mob_value *mob_res_pv(const struct mob_res *r);
/* Slot prio (1..16); a null value when empty. */
const struct mob_value *mob_res_slot(const struct mob_res *r, int prio);
enum mob_status mob_res_status(const struct mob_res *r);
int64_t mob_res_changed(const struct mob_res *r);	/* unix ms of the last PV change */
void mob_res_set_write_handler(struct mob_res *r, mob_write_fn fn, void *arg);
/* Owner's data (driver state), not freed by the model. */
void mob_res_set_udata(struct mob_res *r, void *udata);
void *mob_res_udata(const struct mob_res *r);

/*
 * Check a value against type and range: MOB_ETYPE, MOB_ERANGE.  A null
 * value is valid (it clears).  Numbers are not rounded by the check.
 */
int mob_res_validate(const struct mob_res *r, const struct mob_value *v);

/*
 * Client write at prio (1..16): MOB_EREADONLY for an r resource,
 * MOB_EINVAL for a bad prio, MOB_ETYPE / MOB_ERANGE, MOB_EOFFLINE while
 * the resource is offline, or the write handler's error.  Numbers are
 * rounded to the precision.  Writing null is the same as clearing.
 */
int mob_res_write(struct mob_res *r, int prio, const struct mob_value *v);
int mob_res_clear(struct mob_res *r, int prio);

/*
 * Owner update of the relinquish default (validated like a write, but
 * access is not checked and the write handler is not called).  The
 * observer runs if the PV changed.
 */
int mob_res_update(struct mob_res *r, const struct mob_value *v);
void mob_res_set_status(struct mob_res *r, enum mob_status st);
/*
 * mob_res_update and mob_res_set_status at once: the observer runs once
 * if either the PV or the status changed, so a device that goes away or
 * comes back is one COV per resource, not one per field (on error,
 * nothing changes).
 */
int mob_res_report(struct mob_res *r, const struct mob_value *v,
    enum mob_status st);

/* --- JSON (docs/services.md) ------------------------------------------ */

/* {"rid","name","type","access",["min","max","precision","units"],"cov":{...}} */
struct cJSON *mob_res_describe(const struct mob_res *r);
/* {"pid","ins","name","resources":[describe...]} */
struct cJSON *mob_object_describe(const struct mob_object *o);
/*
 * {"value","status","changed"[,"priority":[16 × value|null]]}:
 * with_prio adds the priority array.
 */
struct cJSON *mob_res_state(const struct mob_res *r, int with_prio);

#endif
