/*
 * The service runtime: objects published over a mob_client, requests
 * served, COV attributes applied, systemd notified.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <systemd/sd-daemon.h>

#include "mobius/err.h"
#include "mobius/service.h"
#include "mobius/uri.h"

#define OBJ_MIN_MS	1000		/* mob/obj at most once a second per object */
/*
 * Every message is kept under 8 KiB once signed and base64url-encoded (a
 * dat of at most JSON_MAX bytes), well inside the hub's max_message (64 KiB
 * by default), so a large service never nears the cap on a smaller node.
 * Object lists are cut at LIST_MAX (leaving room for the other members):
 * mob/svc then says "truncated" and discover answers page with "next".
 */
#define JSON_MAX	5600
#define LIST_MAX	4608
#define MAX_FDS		32
#define MAX_TIMERS	32

/* What was last published for one resource. */
struct covst {
	struct mob_value last;
	enum mob_status last_status;
	int published;
	int pending;			/* a change waits for pmin */
	int64_t last_pub;		/* monotonic ms */
};

struct sobj {
	struct mob_service *svc;
	struct mob_object *o;
	struct covst *cov;		/* one per resource, index as in the object */
	size_t ncov;
	int dirty;			/* mob/obj needs republishing */
	int64_t obj_last;
};

struct sfd {
	int fd;
	short events;
	mob_fd_fn cb;
	void *arg;
};

struct stimer {
	int interval;
	int64_t next;
	mob_timer_fn cb;
	void *arg;
};

struct mob_service {
	struct mob_client *c;
	char *name;
	char *description;
	struct sobj *objs;
	size_t nobjs;
	struct sfd fds[MAX_FDS];
	size_t nfds;
	struct stimer timers[MAX_TIMERS];
	size_t ntimers;
	int64_t next_due;		/* COV / obj work, monotonic ms; 0 = none */
	int64_t wd_interval;		/* watchdog ping period, ms; 0 = off */
	int64_t wd_next;
	int notify;			/* under systemd */
	int started;
	int stop;
	char reqtopic[MOB_TOPIC_MAX];
	struct mob_service_stats st;
};

static volatile sig_atomic_t got_signal;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
schedule(struct mob_service *svc, int64_t at)
{
	if (svc->next_due == 0 || at < svc->next_due)
		svc->next_due = at;
}

/* --- publishing ------------------------------------------------------- */

/* JSON text of dat (consumed), or NULL; MOB_ETOOLONG above JSON_MAX. */
static int
to_text(cJSON *dat, char **out)
{
	*out = NULL;
	if (dat == NULL)
		return MOB_ENOMEM;
	*out = cJSON_PrintUnformatted(dat);
	cJSON_Delete(dat);
	if (*out == NULL)
		return MOB_ENOMEM;
	if (strlen(*out) > JSON_MAX)
		return MOB_ETOOLONG;
	return 0;
}

/* Retained publication of dat (consumed). */
static int
publish(struct mob_service *svc, const char *topic, cJSON *dat, int qos)
{
	char *txt;
	int rc;

	if ((rc = to_text(dat, &txt)) == 0)
		rc = mob_client_publish(svc->c, topic, txt, qos, 1);
	else if (rc == MOB_ETOOLONG)
		log_warnx("%s: %zu bytes of JSON, more than the hub accepts: "
		    "not published", topic, strlen(txt));
	free(txt);
	return rc;
}

static cJSON *
svc_describe(const struct mob_service *svc, int with_res, size_t offset,
    size_t budget, size_t *next)
{
	cJSON *j, *arr, *oj;
	size_t used = 0;
	char *txt;

	*next = 0;
	if ((j = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(j, "id", mob_client_id(svc->c)) == NULL ||
	    cJSON_AddStringToObject(j, "spid", mob_client_spid(svc->c)) == NULL ||
	    cJSON_AddStringToObject(j, "name", svc->name ? svc->name : "") == NULL ||
	    (svc->description != NULL && cJSON_AddStringToObject(j,
	    "description", svc->description) == NULL) ||
	    (arr = cJSON_AddArrayToObject(j, "objects")) == NULL)
		goto fail;
	for (size_t i = offset; i < svc->nobjs; i++) {
		const struct mob_object *o = svc->objs[i].o;

		if (with_res)
			oj = mob_object_describe(o);
		else if ((oj = cJSON_CreateObject()) != NULL &&
		    (cJSON_AddStringToObject(oj, "pid", mob_object_pid(o)) == NULL ||
		    cJSON_AddStringToObject(oj, "ins", mob_object_ins(o)) == NULL ||
		    cJSON_AddStringToObject(oj, "name", mob_object_name(o)) == NULL)) {
			cJSON_Delete(oj);
			oj = NULL;
		}
		if (oj == NULL)
			goto fail;
		if (budget > 0) {
			if ((txt = cJSON_PrintUnformatted(oj)) == NULL) {
				cJSON_Delete(oj);
				goto fail;
			}
			used += strlen(txt) + 1;
			free(txt);
			if (used > budget && i > offset) {
				cJSON_Delete(oj);
				*next = i;
				break;
			}
		}
		cJSON_AddItemToArray(arr, oj);
	}
	return j;
 fail:
	cJSON_Delete(j);
	return NULL;
}

static int
publish_svc(struct mob_service *svc)
{
	char topic[MOB_TOPIC_MAX];
	size_t next;
	cJSON *d;

	snprintf(topic, sizeof(topic), "mob/svc/%s", mob_client_id(svc->c));
	d = svc_describe(svc, 1, 0, LIST_MAX, &next);
	if (d != NULL && next != 0) {
		cJSON_Delete(d);
		d = svc_describe(svc, 0, 0, LIST_MAX, &next);
		if (d != NULL && cJSON_AddTrueToObject(d, "truncated") == NULL) {
			cJSON_Delete(d);
			d = NULL;
		}
	}
	return publish(svc, topic, d, 1);
}

/*
 * Object description and state together; compact leaves out the
 * description (for objects too big for one message: the metadata is in
 * discover answers then).
 */
static cJSON *
obj_state(const struct mob_object *o, int compact)
{
	cJSON *j, *arr, *rj, *sj, *it;
	struct mob_res *r;

	if (!compact)
		j = mob_object_describe(o);
	else if ((j = cJSON_CreateObject()) != NULL &&
	    (cJSON_AddStringToObject(j, "pid", mob_object_pid(o)) == NULL ||
	    cJSON_AddStringToObject(j, "ins", mob_object_ins(o)) == NULL ||
	    cJSON_AddStringToObject(j, "name", mob_object_name(o)) == NULL ||
	    cJSON_AddArrayToObject(j, "resources") == NULL)) {
		cJSON_Delete(j);
		j = NULL;
	}
	if (j == NULL)
		return NULL;
	arr = cJSON_GetObjectItemCaseSensitive(j, "resources");
	rj = arr->child;
	for (size_t i = 0; (r = mob_object_res_at(o, i)) != NULL; i++) {
		if ((sj = mob_res_state(r, 0)) == NULL)
			goto fail;
		if (compact) {
			if (cJSON_AddStringToObject(sj, "rid", mob_res_rid(r)) == NULL) {
				cJSON_Delete(sj);
				goto fail;
			}
			cJSON_AddItemToArray(arr, sj);
			continue;
		}
		while ((it = sj->child) != NULL) {
			cJSON_DetachItemViaPointer(sj, it);
			cJSON_AddItemToObject(rj, it->string, it);
		}
		cJSON_Delete(sj);
		rj = rj->next;
	}
	return j;
 fail:
	cJSON_Delete(j);
	return NULL;
}

static int
publish_obj(struct mob_service *svc, struct sobj *so, int64_t now)
{
	char topic[MOB_TOPIC_MAX], *txt;
	int rc;

	snprintf(topic, sizeof(topic), "mob/obj/%s/%s/%s", mob_client_id(svc->c),
	    mob_object_pid(so->o), mob_object_ins(so->o));
	so->dirty = 0;
	so->obj_last = now;
	if ((rc = to_text(obj_state(so->o, 0), &txt)) == MOB_ETOOLONG) {
		free(txt);
		return publish(svc, topic, obj_state(so->o, 1), 1);
	}
	if (rc == 0)
		rc = mob_client_publish(svc->c, topic, txt, 1, 1);
	free(txt);
	return rc;
}

static int
publish_cov(struct mob_service *svc, struct sobj *so, size_t i, int64_t now)
{
	struct mob_res *r = mob_object_res_at(so->o, i);
	struct covst *cs = &so->cov[i];
	char topic[MOB_TOPIC_MAX];
	int rc;

	snprintf(topic, sizeof(topic), "mob/cov/%s/%s/%s/%s",
	    mob_client_id(svc->c), mob_object_pid(so->o), mob_object_ins(so->o),
	    mob_res_rid(r));
	if ((rc = publish(svc, topic, mob_res_state(r, 0), 0)) != 0)
		return rc;
	mob_value_clear(&cs->last);
	if ((rc = mob_value_copy(&cs->last, mob_res_pv(r))) != 0)
		return rc;
	cs->last_status = mob_res_status(r);
	cs->published = 1;
	cs->pending = 0;
	cs->last_pub = now;
	svc->st.covs++;
	if (!so->dirty) {
		so->dirty = 1;
		schedule(svc, so->obj_last + OBJ_MIN_MS);
	}
	return 0;
}

/* The per-resource state array follows the object's resources. */
static int
sobj_sync(struct sobj *so)
{
	size_t n = mob_object_nres(so->o);
	struct covst *nc;

	if (n <= so->ncov)
		return 0;
	if ((nc = reallocarray(so->cov, n, sizeof(*nc))) == NULL)
		return MOB_ENOMEM;
	memset(nc + so->ncov, 0, (n - so->ncov) * sizeof(*nc));
	for (size_t i = so->ncov; i < n; i++)
		mob_value_null(&nc[i].last, mob_res_type(mob_object_res_at(so->o, i)));
	so->cov = nc;
	so->ncov = n;
	return 0;
}

/* Does the PV differ from what was published, given the deadband? */
static int
cov_changed(const struct mob_res *r, const struct covst *cs)
{
	const struct mob_value *pv = mob_res_pv(r);
	double st = mob_res_def(r)->st;

	if (!cs->published || cs->last_status != mob_res_status(r))
		return 1;
	if (st > 0 && pv->type == MOB_TYPE_NUMBER && !pv->null && !cs->last.null)
		return fabs(pv->u.num - cs->last.u.num) >= st;
	return !mob_value_equal(pv, &cs->last);
}

/* Publish resource i of so if its attributes say so now; else schedule. */
static void
cov_eval(struct mob_service *svc, struct sobj *so, size_t i, int64_t now)
{
	struct mob_res *r = mob_object_res_at(so->o, i);
	const struct mob_res_def *d = mob_res_def(r);
	struct covst *cs = &so->cov[i];
	int64_t pmin = (int64_t)(d->pmin * 1000), pmax = (int64_t)(d->pmax * 1000);
	int rc;

	if (!mob_client_connected(svc->c))
		return;
	if (cov_changed(r, cs)) {
		if (cs->published && now - cs->last_pub < pmin) {
			cs->pending = 1;
			schedule(svc, cs->last_pub + pmin);
			return;
		}
	} else if (pmax == 0 || now - cs->last_pub < pmax) {
		cs->pending = 0;
		if (pmax > 0)
			schedule(svc, cs->last_pub + pmax);
		return;
	}
	if ((rc = publish_cov(svc, so, i, now)) != 0)
		log_debug("cov %s/%s/%s: %s", mob_object_pid(so->o),
		    mob_object_ins(so->o), mob_res_rid(r), mob_strerror(rc));
	if (pmax > 0)
		schedule(svc, now + pmax);
}

static void
observer(struct mob_res *r, void *arg)
{
	struct sobj *so = arg;
	struct mob_res *x;
	size_t i;

	if (!so->svc->started || sobj_sync(so) != 0)
		return;
	for (i = 0; (x = mob_object_res_at(so->o, i)) != NULL; i++)
		if (x == r)
			break;
	if (x != NULL)
		cov_eval(so->svc, so, i, mono_ms());
}

/* Deferred work: pmin-delayed COVs, pmax republishing, object state. */
static void
svc_tick(struct mob_service *svc)
{
	int64_t now = mono_ms();

	if (svc->next_due == 0 || now < svc->next_due)
		return;
	svc->next_due = 0;
	if (!mob_client_connected(svc->c))
		return;
	for (size_t k = 0; k < svc->nobjs; k++) {
		struct sobj *so = &svc->objs[k];

		for (size_t i = 0; i < so->ncov; i++) {
			const struct mob_res_def *d =
			    mob_res_def(mob_object_res_at(so->o, i));

			if (so->cov[i].pending || d->pmax > 0)
				cov_eval(svc, so, i, now);
		}
		if (so->dirty) {
			if (now - so->obj_last >= OBJ_MIN_MS)
				publish_obj(svc, so, now);
			else
				schedule(svc, so->obj_last + OBJ_MIN_MS);
		}
	}
}

/* Everything, retained: after every (re)connection. */
static int
publish_all(struct mob_service *svc)
{
	int64_t now = mono_ms();
	int rc;

	if ((rc = publish_svc(svc)) != 0)
		return rc;
	for (size_t k = 0; k < svc->nobjs; k++) {
		struct sobj *so = &svc->objs[k];

		if ((rc = sobj_sync(so)) != 0)
			return rc;
		for (size_t i = 0; i < so->ncov; i++) {
			const struct mob_res_def *d =
			    mob_res_def(mob_object_res_at(so->o, i));

			if ((rc = publish_cov(svc, so, i, now)) != 0)
				return rc;
			if (d->pmax > 0)
				schedule(svc, now + (int64_t)(d->pmax * 1000));
		}
		if ((rc = publish_obj(svc, so, now)) != 0)
			return rc;
	}
	return 0;
}

/* --- requests --------------------------------------------------------- */

static int
reqid_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MOB_REQID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

struct req {
	const cJSON *id;		/* as the requester sent it */
	char reqid[MOB_REQID_MAX + 1];	/* its text, the last part of the rsp topic */
	const char *op;
	struct mob_uri uri;
	const cJSON *dat;
	char msg[160];			/* error message */
};

/*
 * The request id: a string of 1..32 [A-Za-z0-9_-], or (as the hub also
 * accepts) an integer 0..2^53 whose decimal text names the rsp topic.
 */
static int
req_id(struct req *q)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(q->dat, "id");

	if (cJSON_IsString(j) && reqid_valid(j->valuestring))
		snprintf(q->reqid, sizeof(q->reqid), "%s", j->valuestring);
	else if (cJSON_IsNumber(j) && j->valuedouble >= 0 &&
	    j->valuedouble <= 9007199254740992.0 &&
	    j->valuedouble == floor(j->valuedouble))
		snprintf(q->reqid, sizeof(q->reqid), "%lld",
		    (long long)j->valuedouble);
	else
		return MOB_EINVAL;
	q->id = j;
	return 0;
}

/* {"id": the request's id}. */
static cJSON *
rsp_new(const struct req *q)
{
	cJSON *rsp, *id;

	if ((rsp = cJSON_CreateObject()) == NULL)
		return NULL;
	if ((id = cJSON_Duplicate(q->id, 0)) == NULL) {
		cJSON_Delete(rsp);
		return NULL;
	}
	cJSON_AddItemToObject(rsp, "id", id);
	return rsp;
}

static int MOB_PRINTF(3, 4)
req_fail(struct req *q, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->msg, sizeof(q->msg), fmt, ap);
	va_end(ap);
	return code;
}

static struct sobj *
sobj_find(const struct mob_service *svc, const char *pid, const char *ins)
{
	for (size_t i = 0; i < svc->nobjs; i++)
		if (strcmp(mob_object_pid(svc->objs[i].o), pid) == 0 &&
		    strcmp(mob_object_ins(svc->objs[i].o), ins) == 0)
			return &svc->objs[i];
	return NULL;
}

/* Resolve q->uri to an object and (depth 5) a resource of this service. */
static int
req_target(struct mob_service *svc, struct req *q, int need,
    struct sobj **so, struct mob_res **r)
{
	const struct mob_uri *u = &q->uri;
	char uri[MOB_URI_MAX];

	*so = NULL;
	*r = NULL;
	mob_uri_format(u, uri, sizeof(uri));
	if (strcmp(u->part[MOB_URI_HID], mob_client_hid(svc->c)) != 0 ||
	    (u->depth >= 2 && strcmp(u->part[MOB_URI_SID], mob_client_sid(svc->c)) != 0))
		return req_fail(q, MOB_ENOTFOUND, "%s is not served here", uri);
	if (u->depth < need)
		return req_fail(q, MOB_ENOTFOUND, "%s: op %s needs a%s URI", uri,
		    q->op, need == 5 ? " resource" : "n object");
	if (u->depth < 4)
		return 0;
	if ((*so = sobj_find(svc, u->part[MOB_URI_PID], u->part[MOB_URI_INS])) == NULL)
		return req_fail(q, MOB_ENOTFOUND, "no object %s", uri);
	if (u->depth < 5)
		return 0;
	if ((*r = mob_object_res((*so)->o, u->part[MOB_URI_RID])) == NULL)
		return req_fail(q, MOB_ENOTFOUND, "no resource %s", uri);
	return 0;
}

/* The state of one resource into a response. */
static int
rsp_res(cJSON *rsp, const struct mob_res *r)
{
	const struct mob_res_def *d = mob_res_def(r);
	cJSON *st, *it;

	if ((st = mob_res_state(r, 1)) == NULL)
		return MOB_ENOMEM;
	while ((it = st->child) != NULL) {
		cJSON_DetachItemViaPointer(st, it);
		cJSON_AddItemToObject(rsp, it->string, it);
	}
	cJSON_Delete(st);
	if (cJSON_AddStringToObject(rsp, "name", mob_res_name(r)) == NULL ||
	    cJSON_AddStringToObject(rsp, "type", mob_type_name(d->type)) == NULL ||
	    (d->units[0] != '\0' &&
	    cJSON_AddStringToObject(rsp, "units", d->units) == NULL))
		return MOB_ENOMEM;
	return 0;
}

static int
op_read(struct mob_service *svc, struct req *q, cJSON *rsp)
{
	struct sobj *so;
	struct mob_res *r;
	cJSON *oj;
	int rc;

	if ((rc = req_target(svc, q, 4, &so, &r)) != 0)
		return rc;
	if (r != NULL)
		return rsp_res(rsp, r);
	if ((oj = obj_state(so->o, 0)) == NULL)
		return MOB_ENOMEM;
	cJSON_AddItemToObject(rsp, "object", oj);
	return 0;
}

static int
req_priority(struct req *q, int *prio)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(q->dat, "priority");

	*prio = MOB_PRIO_DEFAULT;
	if (p == NULL)
		return 0;
	if (!cJSON_IsNumber(p) || p->valuedouble != floor(p->valuedouble) ||
	    p->valuedouble < 1 || p->valuedouble > MOB_PRIO_COUNT)
		return req_fail(q, MOB_EINVAL, "priority must be an integer 1..16");
	*prio = (int)p->valuedouble;
	return 0;
}

static int
write_error(struct req *q, const struct mob_res *r, int rc)
{
	const struct mob_res_def *d = mob_res_def(r);

	switch (rc) {
	case MOB_ERANGE:
		if (d->type == MOB_TYPE_STRING)
			return req_fail(q, rc, "%s: length must be %g..%g bytes",
			    mob_res_name(r), d->has_min ? d->min : 0,
			    d->has_max ? d->max : (double)MOB_STRING_MAX_DEFAULT);
		return req_fail(q, rc, "%s: must be within %g..%g", mob_res_name(r),
		    d->has_min ? d->min : -INFINITY, d->has_max ? d->max : INFINITY);
	case MOB_EREADONLY:
		return req_fail(q, rc, "%s is read-only", mob_res_name(r));
	case MOB_EOFFLINE:
		return req_fail(q, rc, "%s is offline", mob_res_name(r));
	default:
		return req_fail(q, rc, "%s: %s", mob_res_name(r), mob_strerror(rc));
	}
}

static int
op_set(struct mob_service *svc, struct req *q, cJSON *rsp, int clear)
{
	const cJSON *vj;
	struct mob_value v;
	struct sobj *so;
	struct mob_res *r;
	int rc, prio;

	if ((rc = req_target(svc, q, 5, &so, &r)) != 0 ||
	    (rc = req_priority(q, &prio)) != 0)
		return rc;
	if (mob_res_access(r) != MOB_ACCESS_RW)
		return write_error(q, r, MOB_EREADONLY);
	if (clear) {
		rc = mob_res_clear(r, prio);
	} else {
		if ((vj = cJSON_GetObjectItemCaseSensitive(q->dat, "value")) == NULL)
			return req_fail(q, MOB_EINVAL, "write needs a value");
		if ((rc = mob_value_from_json(mob_res_type(r), vj, &v)) != 0)
			return req_fail(q, rc, "%s: value must be a %s",
			    mob_res_name(r), mob_type_name(mob_res_type(r)));
		rc = mob_res_write(r, prio, &v);
		mob_value_clear(&v);
	}
	if (rc != 0)
		return write_error(q, r, rc);
	return rsp_res(rsp, r);
}

static int
op_discover(struct mob_service *svc, struct req *q, cJSON *rsp)
{
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(q->dat, "offset");
	struct sobj *so;
	struct mob_res *r;
	size_t offset = 0, next;
	cJSON *d;
	int rc;

	if ((rc = req_target(svc, q, 1, &so, &r)) != 0)
		return rc;
	if (r != NULL) {
		d = mob_res_describe(r);
		cJSON_AddItemToObject(rsp, "resource", d);
	} else if (so != NULL) {
		d = mob_object_describe(so->o);
		cJSON_AddItemToObject(rsp, "object", d);
	} else {
		if (off != NULL) {
			if (!cJSON_IsNumber(off) || off->valuedouble < 0 ||
			    off->valuedouble != floor(off->valuedouble) ||
			    off->valuedouble > (double)svc->nobjs)
				return req_fail(q, MOB_EINVAL, "bad offset");
			offset = (size_t)off->valuedouble;
		}
		d = svc_describe(svc, 1, offset, LIST_MAX, &next);
		cJSON_AddItemToObject(rsp, "service", d);
		if (d != NULL && next != 0 &&
		    cJSON_AddNumberToObject(rsp, "next", (double)next) == NULL)
			return MOB_ENOMEM;
	}
	return d == NULL ? MOB_ENOMEM : 0;
}

static int
op_write(struct mob_service *svc, struct req *q, cJSON *rsp)
{
	return op_set(svc, q, rsp, 0);
}

static int
op_clear(struct mob_service *svc, struct req *q, cJSON *rsp)
{
	return op_set(svc, q, rsp, 1);
}

static const struct {
	const char *name;
	int (*fn)(struct mob_service *, struct req *, cJSON *);
} ops[] = {
	{ "read", op_read },
	{ "write", op_write },
	{ "clear", op_clear },
	{ "discover", op_discover },
};

static void
handle_request(struct mob_service *svc, const struct mob_env *env)
{
	const size_t nops = sizeof(ops) / sizeof(ops[0]);
	char topic[MOB_TOPIC_MAX], err[128], *txt;
	const cJSON *j;
	cJSON *rsp = NULL, *e;
	struct req q;
	size_t i;
	int rc = MOB_EINVAL;

	memset(&q, 0, sizeof(q));
	q.dat = env->dat;
	if (req_id(&q) != 0) {
		/* Nowhere to answer. */
		log_debug("request from %s without a valid id dropped", env->iss);
		return;
	}
	if ((rsp = rsp_new(&q)) == NULL)
		goto out;
	j = cJSON_GetObjectItemCaseSensitive(q.dat, "op");
	q.op = cJSON_IsString(j) ? j->valuestring : "";
	j = cJSON_GetObjectItemCaseSensitive(q.dat, "uri");
	if (!cJSON_IsString(j) && !(j == NULL && strcmp(q.op, "discover") == 0)) {
		rc = req_fail(&q, MOB_EINVAL, "request needs a uri");
	} else if (j != NULL && (rc = mob_uri_parse(j->valuestring, 0, &q.uri,
	    err, sizeof(err))) != 0) {
		rc = req_fail(&q, rc, "%s", err);
	} else {
		if (j == NULL)
			mob_uri_parse(mob_client_id(svc->c), 0, &q.uri, err, sizeof(err));
		if (cJSON_AddStringToObject(rsp, "uri", j ? j->valuestring :
		    mob_client_id(svc->c)) == NULL) {
			rc = MOB_ENOMEM;
			goto out;
		}
		for (i = 0; i < nops && strcmp(q.op, ops[i].name) != 0; i++)
			;
		rc = i < nops ? ops[i].fn(svc, &q, rsp) :
		    req_fail(&q, MOB_EINVAL, "unknown op \"%.32s\"", q.op);
	}
	if (rc == MOB_ENOMEM)
		goto out;
	if (rc == 0) {
		if (cJSON_AddTrueToObject(rsp, "ok") == NULL ||
		    (txt = cJSON_PrintUnformatted(rsp)) == NULL)
			goto out;
		if (strlen(txt) > JSON_MAX)
			rc = req_fail(&q, MOB_ETOOLONG, "the answer (%zu bytes) is "
			    "larger than the hub accepts", strlen(txt));
		free(txt);
	}
	if (rc != 0) {
		/* Replace any partial answer with just the error. */
		cJSON_Delete(rsp);
		if ((rsp = rsp_new(&q)) == NULL ||
		    cJSON_AddFalseToObject(rsp, "ok") == NULL ||
		    (e = cJSON_AddObjectToObject(rsp, "error")) == NULL ||
		    cJSON_AddStringToObject(e, "code", mob_errname(rc)) == NULL ||
		    cJSON_AddStringToObject(e, "message",
		    q.msg[0] ? q.msg : mob_strerror(rc)) == NULL)
			goto out;
		svc->st.errors++;
	}
	snprintf(topic, sizeof(topic), "mob/rsp/%s/%s", env->iss, q.reqid);
	if ((rc = mob_client_publish_json(svc->c, topic, rsp, 1, 0)) != 0)
		log_debug("response to %s: %s", env->iss, mob_strerror(rc));
	else
		svc->st.requests++;
 out:
	cJSON_Delete(rsp);
}

static void
on_message(struct mob_client *c, const char *topic, const struct mob_env *env,
    void *arg)
{
	struct mob_service *svc = arg;

	(void)c;
	if (strcmp(topic, svc->reqtopic) == 0 && cJSON_IsObject(env->dat))
		handle_request(svc, env);
}

static void
on_conn(struct mob_client *c, int connected, void *arg)
{
	struct mob_service *svc = arg;
	int rc;

	(void)c;
	if (!connected) {
		mob_service_status(svc, "hub connection lost, reconnecting");
		return;
	}
	if ((rc = publish_all(svc)) != 0)
		log_warnx("publishing state: %s", mob_strerror(rc));
	/* Give back what configuring and the publication burst left free. */
	malloc_trim(0);
	mob_service_status(svc, "connected as %s, %zu objects",
	    mob_client_id(svc->c), svc->nobjs);
}

/* --- construction ----------------------------------------------------- */

int
mob_service_new(const struct mob_client_cfg *ccfg, struct mob_service **out)
{
	struct mob_service *svc;
	int rc;

	*out = NULL;
	if ((svc = calloc(1, sizeof(*svc))) == NULL)
		return MOB_ENOMEM;
	if ((rc = mob_client_new(ccfg, &svc->c)) != 0) {
		free(svc);
		return rc;
	}
	mob_client_set_handlers(svc->c, on_message, on_conn, svc);
	snprintf(svc->reqtopic, sizeof(svc->reqtopic), "mob/req/%s",
	    mob_client_id(svc->c));
	svc->notify = sd_notify(0, "STATUS=starting") > 0;
	*out = svc;
	return 0;
}

void
mob_service_free(struct mob_service *svc)
{
	if (svc == NULL)
		return;
	if (svc->notify)
		sd_notify(0, "STOPPING=1");
	mob_client_free(svc->c);
	for (size_t i = 0; i < svc->nobjs; i++) {
		for (size_t k = 0; k < svc->objs[i].ncov; k++)
			mob_value_clear(&svc->objs[i].cov[k].last);
		free(svc->objs[i].cov);
		mob_object_free(svc->objs[i].o);
	}
	free(svc->objs);
	free(svc->name);
	free(svc->description);
	free(svc);
}

struct mob_client *mob_service_client(struct mob_service *svc) { return svc->c; }
size_t mob_service_nobjects(const struct mob_service *svc) { return svc->nobjs; }

struct mob_object *
mob_service_object_at(const struct mob_service *svc, size_t i)
{
	return i < svc->nobjs ? svc->objs[i].o : NULL;
}

struct mob_object *
mob_service_object(const struct mob_service *svc, const char *pid, const char *ins)
{
	struct sobj *so = sobj_find(svc, pid, ins);

	return so ? so->o : NULL;
}

void
mob_service_stats(const struct mob_service *svc, struct mob_service_stats *out)
{
	*out = svc->st;
}

int
mob_service_set_info(struct mob_service *svc, const char *name,
    const char *description)
{
	char *n = NULL, *d = NULL;

	if ((name != NULL && (n = strdup(name)) == NULL) ||
	    (description != NULL && (d = strdup(description)) == NULL)) {
		free(n);
		return MOB_ENOMEM;
	}
	free(svc->name);
	free(svc->description);
	svc->name = n;
	svc->description = d;
	return 0;
}

int
mob_service_add_object(struct mob_service *svc, const char *pid,
    const char *ins, const char *name, struct mob_object **out)
{
	struct mob_object *o;
	struct sobj *objs;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (svc->started)
		return MOB_EINVAL;	/* the published description is fixed */
	if (svc->nobjs >= MOB_SERVICE_MAX_OBJECTS)
		return MOB_ETOOLONG;
	if (sobj_find(svc, pid, ins) != NULL)
		return MOB_EEXIST;
	if ((rc = mob_object_new(pid, ins, name, &o)) != 0)
		return rc;
	if ((objs = reallocarray(svc->objs, svc->nobjs + 1, sizeof(*objs))) == NULL) {
		mob_object_free(o);
		return MOB_ENOMEM;
	}
	svc->objs = objs;
	/* Observers point at their sobj: re-aim them after the move. */
	for (size_t i = 0; i < svc->nobjs; i++)
		mob_object_set_observer(objs[i].o, observer, &objs[i]);
	memset(&objs[svc->nobjs], 0, sizeof(objs[0]));
	objs[svc->nobjs].svc = svc;
	objs[svc->nobjs].o = o;
	mob_object_set_observer(o, observer, &objs[svc->nobjs]);
	svc->nobjs++;
	if (out != NULL)
		*out = o;
	return 0;
}

/* --- configuration ---------------------------------------------------- */

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
	if ((rc = to_text(mob_object_describe(o), &txt)) == MOB_ENOMEM)
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
	int count, rc;

	if (mob_cfg_object(c, node, NULL) != 0 ||
	    mob_cfg_string(c, node, "name", 0, MOB_NAME_MAX - 1, &name) < 0 ||
	    mob_cfg_string(c, node, "description", 0, 255, &desc) < 0 ||
	    mob_cfg_member(c, node, "objects", MOB_CFG_REQUIRED, &m) < 0 ||
	    (count = mob_cfg_array(c, &m, MOB_SERVICE_MAX_OBJECTS)) < 0)
		return MOB_ECONFIG;
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

/* --- running ---------------------------------------------------------- */

void
mob_service_status(struct mob_service *svc, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_debug("status: %s", buf);
	if (svc->notify)
		sd_notifyf(0, "STATUS=%s", buf);
}

int
mob_service_start(struct mob_service *svc, int timeout_ms)
{
	uint64_t usec = 0;
	int rc;

	if ((rc = mob_client_subscribe(svc->c, svc->reqtopic, 1)) != 0)
		return rc;
	svc->started = 1;
	for (size_t i = 0; i < svc->nobjs; i++)
		if ((rc = sobj_sync(&svc->objs[i])) != 0)
			return rc;
	/* on_conn publishes everything once the keys are in. */
	if ((rc = mob_client_connect(svc->c, timeout_ms)) != 0)
		return rc;
	if (svc->notify) {
		if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
			svc->wd_interval = (int64_t)(usec / 2000);
			if (svc->wd_interval < 1)
				svc->wd_interval = 1;
			svc->wd_next = mono_ms();
		}
		sd_notify(0, "READY=1");
	}
	return 0;
}

int
mob_service_add_fd(struct mob_service *svc, int fd, short events,
    mob_fd_fn cb, void *arg)
{
	if (fd < 0 || cb == NULL)
		return MOB_EINVAL;
	if (svc->nfds >= MAX_FDS)
		return MOB_ETOOLONG;
	svc->fds[svc->nfds].fd = fd;
	svc->fds[svc->nfds].events = events;
	svc->fds[svc->nfds].cb = cb;
	svc->fds[svc->nfds].arg = arg;
	svc->nfds++;
	return 0;
}

int
mob_service_del_fd(struct mob_service *svc, int fd)
{
	for (size_t i = 0; i < svc->nfds; i++) {
		if (svc->fds[i].fd == fd) {
			memmove(&svc->fds[i], &svc->fds[i + 1],
			    (svc->nfds - i - 1) * sizeof(svc->fds[0]));
			svc->nfds--;
			return 0;
		}
	}
	return MOB_ENOTFOUND;
}

int
mob_service_add_timer(struct mob_service *svc, int interval_ms,
    mob_timer_fn cb, void *arg)
{
	if (interval_ms <= 0 || cb == NULL)
		return MOB_EINVAL;
	if (svc->ntimers >= MAX_TIMERS)
		return MOB_ETOOLONG;
	svc->timers[svc->ntimers].interval = interval_ms;
	svc->timers[svc->ntimers].next = mono_ms() + interval_ms;
	svc->timers[svc->ntimers].cb = cb;
	svc->timers[svc->ntimers].arg = arg;
	svc->ntimers++;
	return 0;
}

void
mob_service_stop(struct mob_service *svc)
{
	svc->stop = 1;
}

static void
on_signal(int sig)
{
	got_signal = sig;
}

static int
min_timeout(int a, int64_t b)
{
	if (b < 0)
		b = 0;
	if (a < 0 || b < a)
		return (int)(b > 60000 ? 60000 : b);
	return a;
}

/* One iteration; sigmask (may be NULL) is the mask while waiting. */
static int
service_iter(struct mob_service *svc, int timeout_ms, const sigset_t *sigmask)
{
	struct pollfd pfd[MAX_FDS + 1];
	struct sfd fds[MAX_FDS];
	struct timespec ts, *tsp = NULL;
	size_t nfds = svc->nfds;
	int64_t now = mono_ms();
	int t, n;

	t = mob_client_timeout(svc->c);
	if (timeout_ms >= 0)
		t = min_timeout(t, timeout_ms);
	for (size_t i = 0; i < svc->ntimers; i++)
		t = min_timeout(t, svc->timers[i].next - now);
	if (svc->next_due != 0)
		t = min_timeout(t, svc->next_due - now);
	if (svc->wd_interval > 0)
		t = min_timeout(t, svc->wd_next - now);
	mob_client_pollfd(svc->c, &pfd[0]);
	/* A copy: callbacks may add or remove descriptors. */
	memcpy(fds, svc->fds, nfds * sizeof(fds[0]));
	for (size_t i = 0; i < nfds; i++) {
		pfd[i + 1].fd = fds[i].fd;
		pfd[i + 1].events = fds[i].events;
		pfd[i + 1].revents = 0;
	}
	if (t >= 0) {
		ts.tv_sec = t / 1000;
		ts.tv_nsec = (long)(t % 1000) * 1000000;
		tsp = &ts;
	}
	if ((n = ppoll(pfd, nfds + 1, tsp, sigmask)) == -1) {
		if (errno != EINTR)
			return MOB_ESYS;
		n = 0;
		pfd[0].revents = 0;
		for (size_t i = 0; i < nfds; i++)
			pfd[i + 1].revents = 0;
	}
	mob_client_process(svc->c, pfd[0].revents);
	for (size_t i = 0; i < nfds; i++)
		if (pfd[i + 1].revents != 0)
			fds[i].cb(svc, fds[i].fd, pfd[i + 1].revents, fds[i].arg);
	now = mono_ms();
	for (size_t i = 0; i < svc->ntimers; i++) {
		struct stimer *tm = &svc->timers[i];

		if (now >= tm->next) {
			/* Skip missed periods instead of bursting. */
			tm->next += tm->interval;
			if (tm->next <= now)
				tm->next = now + tm->interval;
			tm->cb(svc, tm->arg);
		}
	}
	svc_tick(svc);
	if (svc->wd_interval > 0 && now >= svc->wd_next) {
		sd_notify(0, "WATCHDOG=1");
		svc->wd_next = now + svc->wd_interval;
	}
	return 0;
}

int
mob_service_once(struct mob_service *svc, int timeout_ms)
{
	return service_iter(svc, timeout_ms, NULL);
}

int
mob_service_run(struct mob_service *svc)
{
	struct sigaction sa, old_term, old_int;
	sigset_t block, waitmask;
	int rc = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	/* Blocked except inside ppoll: no signal is lost between checks. */
	if (sigprocmask(SIG_BLOCK, &block, &waitmask) == -1 ||
	    sigaction(SIGTERM, &sa, &old_term) == -1 ||
	    sigaction(SIGINT, &sa, &old_int) == -1)
		return MOB_ESYS;
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	got_signal = 0;
	svc->stop = 0;
	while (!svc->stop && !got_signal) {
		if ((rc = service_iter(svc, -1, &waitmask)) != 0)
			break;
	}
	if (got_signal)
		log_info("signal %d: stopping", (int)got_signal);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	return rc;
}
