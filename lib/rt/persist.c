/*
 * Priority arrays kept across restarts (lib/rt/mobius/persist.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/file.h"
#include "mobius/log.h"
#include "mobius/persist.h"
#include "mobius/service.h"

/* "PID/INS/RID" */
#define KEY_LEN		12

static struct mob_res *
find_res(const struct mob_service *svc, const char *key)
{
	char pid[5], ins[5];
	struct mob_object *o;

	if (strlen(key) != KEY_LEN || key[4] != '/' || key[9] != '/')
		return NULL;
	memcpy(pid, key, 4);
	pid[4] = '\0';
	memcpy(ins, key + 5, 4);
	ins[4] = '\0';
	if ((o = mob_service_object(svc, pid, ins)) == NULL)
		return NULL;
	return mob_object_res(o, key + 10);
}

/* The whole file must have the right shape before anything is applied. */
static int
check_shape(const cJSON *root, const char **why)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "v");
	const cJSON *slots = cJSON_GetObjectItemCaseSensitive(root, "slots");
	const cJSON *res, *e, *p;

	if (!cJSON_IsNumber(v) || v->valuedouble != 1) {
		*why = "not a version 1 slots file";
		return MOB_ECONFIG;
	}
	if (!cJSON_IsObject(slots)) {
		*why = "\"slots\" must be an object";
		return MOB_ECONFIG;
	}
	cJSON_ArrayForEach(res, slots) {
		if (strlen(res->string) != KEY_LEN || !cJSON_IsArray(res)) {
			*why = "a slot list must be \"PID/INS/RID\": [[PRIO, VALUE], ...]";
			return MOB_ECONFIG;
		}
		cJSON_ArrayForEach(e, res) {
			p = cJSON_GetArrayItem(e, 0);
			if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 ||
			    !cJSON_IsNumber(p) || p->valuedouble < 1 ||
			    p->valuedouble > MOB_PRIO_COUNT ||
			    p->valuedouble != (int)p->valuedouble) {
				*why = "a slot must be [PRIO 1..16, VALUE]";
				return MOB_ECONFIG;
			}
		}
	}
	return 0;
}

int
mob_persist_load(struct mob_service *svc, const char *path, char *err,
    size_t errlen)
{
	const cJSON *res, *e;
	cJSON *root = NULL;
	struct mob_value v;
	struct mob_res *r;
	const char *why = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc, prio;

	err[0] = '\0';
	if ((rc = mob_file_read(path, MOB_PERSIST_MAX, MOB_FILE_NOFOLLOW, &text,
	    &len, err, errlen)) != 0) {
		if (rc == MOB_ENOTFOUND) {
			err[0] = '\0';
			return 0;	/* first start */
		}
		return rc;
	}
	if ((root = cJSON_ParseWithLength(text, len)) == NULL) {
		snprintf(err, errlen, "%s: malformed JSON (truncated or corrupt)",
		    path);
		rc = MOB_ECONFIG;
		goto out;
	}
	if ((rc = check_shape(root, &why)) != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto out;
	}
	cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(root, "slots")) {
		if ((r = find_res(svc, res->string)) == NULL ||
		    mob_res_access(r) != MOB_ACCESS_RW) {
			log_warnx("%s: %s is no longer a writable resource here; "
			    "its slots are dropped", path, res->string);
			continue;
		}
		cJSON_ArrayForEach(e, res) {
			prio = (int)cJSON_GetArrayItem(e, 0)->valuedouble;
			if (mob_value_from_json(mob_res_type(r),
			    cJSON_GetArrayItem(e, 1), &v) != 0 ||
			    (rc = mob_res_write(r, prio, &v)) != 0)
				log_warnx("%s: %s priority %d: value refused (%s); "
				    "slot left empty", path, res->string, prio,
				    mob_strerror(rc != 0 ? rc : MOB_ETYPE));
			mob_value_clear(&v);
			rc = 0;
		}
	}
 out:
	cJSON_Delete(root);
	mob_file_free(text, len);
	return rc;
}

static int
add_res(cJSON *slots, const struct mob_object *o, const struct mob_res *r)
{
	const struct mob_value *v;
	char key[KEY_LEN + 1];
	cJSON *list = NULL, *e;

	for (int p = 1; p <= MOB_PRIO_COUNT; p++) {
		if ((v = mob_res_slot(r, p))->null)
			continue;
		if (list == NULL) {
			snprintf(key, sizeof(key), "%s/%s/%s", mob_object_pid(o),
			    mob_object_ins(o), mob_res_rid(r));
			if ((list = cJSON_AddArrayToObject(slots, key)) == NULL)
				return MOB_ENOMEM;
		}
		if (mob_json_add(list, NULL, e = cJSON_CreateArray()) != 0 ||
		    mob_json_add(e, NULL, cJSON_CreateNumber(p)) != 0 ||
		    mob_json_add(e, NULL, mob_value_to_json(v)) != 0)
			return MOB_ENOMEM;
	}
	return 0;
}

int
mob_persist_save(const struct mob_service *svc, const char *path)
{
	const struct mob_object *o;
	const struct mob_res *r;
	cJSON *root, *slots;
	char *text = NULL;
	int rc = MOB_ENOMEM;

	if ((root = cJSON_CreateObject()) == NULL)
		return MOB_ENOMEM;
	if (cJSON_AddNumberToObject(root, "v", 1) == NULL ||
	    (slots = cJSON_AddObjectToObject(root, "slots")) == NULL)
		goto out;
	for (size_t i = 0; (o = mob_service_object_at(svc, i)) != NULL; i++)
		for (size_t k = 0; (r = mob_object_res_at(o, k)) != NULL; k++)
			if (mob_res_access(r) == MOB_ACCESS_RW &&
			    (rc = add_res(slots, o, r)) != 0)
				goto out;
	if ((text = cJSON_PrintUnformatted(root)) == NULL) {
		rc = MOB_ENOMEM;
		goto out;
	}
	rc = mob_file_write_atomic(path, text, strlen(text), 0600);
 out:
	free(text);
	cJSON_Delete(root);
	return rc;
}

char *
mob_persist_path(void)
{
	const char *dir = getenv("STATE_DIRECTORY");
	char *path;
	size_t n;

	if (dir == NULL || *dir == '\0')
		return NULL;
	n = strcspn(dir, ":");
	if (asprintf(&path, "%.*s/%s", (int)n, dir, MOB_PERSIST_FILE) == -1)
		return NULL;
	return path;
}

void
mob_persist_restore(struct mob_service *svc, const char *path)
{
	char err[512];

	if (mob_persist_load(svc, path, err, sizeof(err)) != 0)
		log_warnx("%s; starting from the config defaults", err);
	else
		log_debug("%s: operator slots restored", path);
}

void
mob_persist_commit(const struct mob_service *svc, const char *path,
    cJSON *rsp)
{
	char msg[512];
	int rc;

	if ((rc = mob_persist_save(svc, path)) == 0)
		return;
	snprintf(msg, sizeof(msg), "%s: %s: applied but not saved, a restart "
	    "would lose it", path, rc == MOB_ESYS ? strerror(errno) :
	    mob_strerror(rc));
	log_warnx("%s", msg);
	cJSON_AddStringToObject(rsp, "warning", msg);
}
