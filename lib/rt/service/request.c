/*
 * The service runtime: requests served (read, write, clear, discover) and
 * the client's message and connection handlers.
 */
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/persist.h"
#include "mobius/proto.h"
#include "mobius/uri.h"
#include "internal.h"

struct req {
	const cJSON *id;		/* as the requester sent it */
	char reqid[MOB_REQID_MAX + 1];	/* its text, the last part of the rsp topic */
	const char *op;
	struct mob_uri uri;
	const cJSON *dat;
	char msg[160];			/* error message */
};

/* The request id (mob_reqid_from_json), kept to echo it back. */
static int
req_id(struct req *q)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(q->dat, "id");
	int r;

	if ((r = mob_reqid_from_json(j, q->reqid)) != 0)
		return r;
	q->id = j;
	return 0;
}

/* {"id": the request's id}. */
static cJSON *
rsp_new(const struct req *q)
{
	cJSON *rsp;

	if ((rsp = cJSON_CreateObject()) == NULL)
		return NULL;
	if (mob_json_add(rsp, "id", cJSON_Duplicate(q->id, 0)) != 0) {
		cJSON_Delete(rsp);
		return NULL;
	}
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

struct sobj *
svc__find(const struct mob_service *svc, const char *pid, const char *ins)
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
	if ((*so = svc__find(svc, u->part[MOB_URI_PID], u->part[MOB_URI_INS])) == NULL)
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
		if (mob_json_add(rsp, it->string, it) != 0) {
			cJSON_Delete(st);
			return MOB_ENOMEM;
		}
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
	int rc;

	if ((rc = req_target(svc, q, 4, &so, &r)) != 0)
		return rc;
	if (r != NULL)
		return rsp_res(rsp, r);
	return mob_json_add(rsp, "object", svc__obj_state(so->o, 0));
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
	if (svc->state != NULL)
		mob_persist_commit(svc, svc->state, rsp);
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
	if (r != NULL)
		return mob_json_add(rsp, "resource", mob_res_describe(r));
	if (so != NULL)
		return mob_json_add(rsp, "object", mob_object_describe(so->o));
	if (off != NULL) {
		if (!cJSON_IsNumber(off) || off->valuedouble < 0 ||
		    off->valuedouble != floor(off->valuedouble) ||
		    off->valuedouble > (double)svc->nobjs)
			return req_fail(q, MOB_EINVAL, "bad offset");
		offset = (size_t)off->valuedouble;
	}
	d = svc__describe(svc, 1, offset, LIST_MAX, &next);
	if ((rc = mob_json_add(rsp, "service", d)) != 0)
		return rc;
	if (next != 0 &&
	    cJSON_AddNumberToObject(rsp, "next", (double)next) == NULL)
		return MOB_ENOMEM;
	return 0;
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

void
svc__on_message(struct mob_client *c, const char *topic,
    const struct mob_env *env, void *arg)
{
	struct mob_service *svc = arg;

	(void)c;
	if (strcmp(topic, svc->reqtopic) == 0 && cJSON_IsObject(env->dat))
		handle_request(svc, env);
}

void
svc__on_conn(struct mob_client *c, int connected, void *arg)
{
	struct mob_service *svc = arg;
	int rc;

	(void)c;
	if (!connected) {
		mob_service_status(svc, "hub connection lost, reconnecting");
		return;
	}
	if ((rc = svc__publish_all(svc)) != 0)
		log_warnx("publishing state: %s", mob_strerror(rc));
	/* Give back what configuring and the publication burst left free. */
	malloc_trim(0);
	mob_service_status(svc, "connected as %s, %zu objects",
	    mob_client_id(svc->c), svc->nobjs);
}
