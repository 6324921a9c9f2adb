/*
 * The service runtime: objects published over a mob_client, requests
 * served, COV attributes applied, systemd notified (lib/rt/mobius/service.h).
 * This file: construction and the objects a service owns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "mobius/err.h"
#include "internal.h"


int
mob_service_new(const struct mob_client_cfg *ccfg, struct mob_service **out)
{
	struct mob_service *svc;
	int rc;

	*out = NULL;
	if ((svc = calloc(1, sizeof(*svc))) == NULL) {
		log_warnx("cannot set up the service: %s", mob_strerror(MOB_ENOMEM));
		return MOB_ENOMEM;
	}
	/* logs why it failed */
	if ((rc = mob_client_new(ccfg, &svc->c)) != 0) {
		free(svc);
		return rc;
	}
	mob_client_set_handlers(svc->c, svc__on_message, svc__on_conn, svc);
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
	free(svc->fds);
	free(svc->pfd);
	free(svc->fdsnap);
	free(svc->name);
	free(svc->description);
	free(svc->state);
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
	struct sobj *so = svc__find(svc, pid, ins);

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
	if (svc__find(svc, pid, ins) != NULL)
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
		mob_object_set_observer(objs[i].o, svc__observer, &objs[i]);
	memset(&objs[svc->nobjs], 0, sizeof(objs[0]));
	objs[svc->nobjs].svc = svc;
	objs[svc->nobjs].o = o;
	mob_object_set_observer(o, svc__observer, &objs[svc->nobjs]);
	svc->nobjs++;
	if (out != NULL)
		*out = o;
	return 0;
}
