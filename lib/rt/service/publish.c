/*
 * The service runtime: objects, their COV and the service description
 * published over the client (lib/rt/mobius/service.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "internal.h"
void
svc__schedule(struct mob_service *svc, int64_t at)
{
	if (svc->next_due == 0 || at < svc->next_due)
		svc->next_due = at;
}

int64_t
svc__cov_ms(double s)
{
	if (!(s > 0))		/* also NaN */
		return 0;
	if (s > COV_PERIOD_MAX)
		s = COV_PERIOD_MAX;
	return (int64_t)(s * 1000);
}

/* JSON text of dat (consumed), or NULL; MOB_ETOOLONG above JSON_MAX. */
int
svc__to_text(cJSON *dat, char **out)
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

	if ((rc = svc__to_text(dat, &txt)) == 0)
		rc = mob_client_publish(svc->c, topic, txt, qos, 1);
	else if (rc == MOB_ETOOLONG)
		log_warnx("%s: %zu bytes of JSON, more than the hub accepts: "
		    "not published", topic, strlen(txt));
	free(txt);
	return rc;
}

cJSON *
svc__describe(const struct mob_service *svc, int with_res, size_t offset,
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
		if (mob_json_add(arr, NULL, oj) != 0)
			goto fail;
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
	d = svc__describe(svc, 1, 0, LIST_MAX, &next);
	if (d != NULL && next != 0) {
		cJSON_Delete(d);
		d = svc__describe(svc, 0, 0, LIST_MAX, &next);
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
cJSON *
svc__obj_state(const struct mob_object *o, int compact)
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
			if (mob_json_add(arr, NULL, sj) != 0)
				goto fail;
			continue;
		}
		while ((it = sj->child) != NULL) {
			cJSON_DetachItemViaPointer(sj, it);
			if (mob_json_add(rj, it->string, it) != 0) {
				cJSON_Delete(sj);
				goto fail;
			}
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
	if ((rc = svc__to_text(svc__obj_state(so->o, 0), &txt)) == MOB_ETOOLONG) {
		free(txt);
		return publish(svc, topic, svc__obj_state(so->o, 1), 1);
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
		svc__schedule(svc, so->obj_last + OBJ_MIN_MS);
	}
	return 0;
}

/* The per-resource state array follows the object's resources. */
int
svc__sync(struct sobj *so)
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

/* Publish resource i of so if its attributes say so now; else svc__schedule. */
static void
cov_eval(struct mob_service *svc, struct sobj *so, size_t i, int64_t now)
{
	struct mob_res *r = mob_object_res_at(so->o, i);
	const struct mob_res_def *d = mob_res_def(r);
	struct covst *cs = &so->cov[i];
	int64_t pmin = svc__cov_ms(d->pmin), pmax = svc__cov_ms(d->pmax);
	int rc;

	if (!mob_client_connected(svc->c))
		return;
	if (cov_changed(r, cs)) {
		if (cs->published && now - cs->last_pub < pmin) {
			cs->pending = 1;
			svc__schedule(svc, cs->last_pub + pmin);
			return;
		}
	} else if (pmax == 0 || now - cs->last_pub < pmax) {
		cs->pending = 0;
		if (pmax > 0)
			svc__schedule(svc, cs->last_pub + pmax);
		return;
	}
	if ((rc = publish_cov(svc, so, i, now)) != 0)
		log_debug("cov %s/%s/%s: %s", mob_object_pid(so->o),
		    mob_object_ins(so->o), mob_res_rid(r), mob_strerror(rc));
	if (pmax > 0)
		svc__schedule(svc, now + pmax);
}

void
svc__observer(struct mob_res *r, void *arg)
{
	struct sobj *so = arg;
	struct mob_res *x;
	size_t i;

	if (!so->svc->started || svc__sync(so) != 0)
		return;
	for (i = 0; (x = mob_object_res_at(so->o, i)) != NULL; i++)
		if (x == r)
			break;
	if (x != NULL)
		cov_eval(so->svc, so, i, mob_clock_mono_ms());
}

/* Deferred work: pmin-delayed COVs, pmax republishing, object state. */
void
svc__tick(struct mob_service *svc)
{
	int64_t now = mob_clock_mono_ms();

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
				svc__schedule(svc, so->obj_last + OBJ_MIN_MS);
		}
	}
}

/* Everything, retained: after every (re)connection. */
int
svc__publish_all(struct mob_service *svc)
{
	int64_t now = mob_clock_mono_ms();
	int rc;

	if ((rc = publish_svc(svc)) != 0)
		return rc;
	for (size_t k = 0; k < svc->nobjs; k++) {
		struct sobj *so = &svc->objs[k];

		if ((rc = svc__sync(so)) != 0)
			return rc;
		for (size_t i = 0; i < so->ncov; i++) {
			const struct mob_res_def *d =
			    mob_res_def(mob_object_res_at(so->o, i));

			if ((rc = publish_cov(svc, so, i, now)) != 0)
				return rc;
			if (d->pmax > 0)
				svc__schedule(svc, now + svc__cov_ms(d->pmax));
		}
		if ((rc = publish_obj(svc, so, now)) != 0)
			return rc;
	}
	return 0;
}
