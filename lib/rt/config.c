/*
 * JSON configuration helpers: strict loading and typed getters whose
 * errors name the file and the JSON path.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mobius/config.h"
#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/proto.h"

struct mob_config {
	cJSON *root;
	char name[256];
	char err[512];
};

/* vsnprintf: truncation of paths and messages is acceptable, never an overflow. */
static void MOB_PRINTF(3, 4)
fmt_to(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static const char *
cnode_type(const cJSON *j)
{
	if (cJSON_IsObject(j))
		return "an object";
	if (cJSON_IsArray(j))
		return "an array";
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "a boolean";
	return "null";
}

static void
path_member(const struct mob_cnode *parent, const char *key, struct mob_cnode *out)
{
	if (parent->path[0] == '\0')
		fmt_to(out->path, sizeof(out->path), "%s", key);
	else
		fmt_to(out->path, sizeof(out->path), "%s.%s", parent->path, key);
}

void
mob_cfg_item(const struct mob_cnode *arr, size_t i, struct mob_cnode *out)
{
	out->j = cJSON_GetArrayItem(arr->j, (int)i);
	fmt_to(out->path, sizeof(out->path), "%s[%zu]", arr->path, i);
}

int
mob_cfg_errorf(struct mob_config *c, const struct mob_cnode *n, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n == NULL || n->path[0] == '\0')
		fmt_to(c->err, sizeof(c->err), "%s: %s", c->name, msg);
	else
		fmt_to(c->err, sizeof(c->err), "%s: %s: %s", c->name, n->path, msg);
	return MOB_ECONFIG;
}

/* cJSON keeps duplicate members as siblings; a config must not have any. */
static int
check_unique(struct mob_config *c, const struct mob_cnode *n)
{
	struct mob_cnode child;
	const cJSON *a, *b;
	size_t i = 0;
	int rc;

	if (cJSON_IsObject(n->j)) {
		for (a = n->j->child; a != NULL; a = a->next) {
			for (b = a->next; b != NULL; b = b->next) {
				if (strcmp(a->string, b->string) == 0) {
					path_member(n, a->string, &child);
					return mob_cfg_errorf(c, &child, "duplicate member");
				}
			}
			child.j = a;
			path_member(n, a->string, &child);
			if ((rc = check_unique(c, &child)) != 0)
				return rc;
		}
	} else if (cJSON_IsArray(n->j)) {
		for (a = n->j->child; a != NULL; a = a->next, i++) {
			child.j = a;
			fmt_to(child.path, sizeof(child.path), "%s[%zu]", n->path, i);
			if ((rc = check_unique(c, &child)) != 0)
				return rc;
		}
	}
	return 0;
}

int
mob_config_parse(const char *name, const char *text, size_t len,
    struct mob_config **out, char *err, size_t errlen)
{
	struct mob_config *c;
	struct mob_cnode root;
	const char *end = NULL, *p;
	int line = 1, col = 1, rc;

	*out = NULL;
	if (len > MOB_CONFIG_MAX) {
		fmt_to(err, errlen, "%s: larger than %d bytes", name, MOB_CONFIG_MAX);
		return MOB_ETOOLONG;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		fmt_to(err, errlen, "%s: out of memory", name);
		return MOB_ENOMEM;
	}
	fmt_to(c->name, sizeof(c->name), "%s", name);
	c->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (c->root != NULL) {
		/* Trailing garbage after the document is an error too. */
		while (end < text + len && (*end == ' ' || *end == '\t' ||
		    *end == '\n' || *end == '\r'))
			end++;
		if (end != text + len) {
			cJSON_Delete(c->root);
			c->root = NULL;
		}
	}
	if (c->root == NULL) {
		if (end == NULL || end < text || end > text + len)
			end = text + len;
		for (p = text; p < end; p++) {
			if (*p == '\n')
				line++, col = 1;
			else
				col++;
		}
		fmt_to(err, errlen, "%s:%d:%d: malformed JSON", name, line, col);
		mob_config_free(c);
		return MOB_ECONFIG;
	}
	mob_config_root(c, &root);
	if ((rc = check_unique(c, &root)) != 0) {
		fmt_to(err, errlen, "%s", c->err);
		mob_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int
mob_config_load(const char *path, struct mob_config **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	/* Symlinks are followed: /etc is the administrator's. */
	if ((rc = mob_file_read(path, MOB_CONFIG_MAX, 0, &buf, &len, err,
	    errlen)) != 0) {
		if (rc == MOB_EINVAL)
			return MOB_ECONFIG;	/* not a regular file */
		return rc == MOB_ENOTFOUND ? MOB_ESYS : rc;
	}
	rc = mob_config_parse(path, buf, len, out, err, errlen);
	mob_file_free(buf, len);
	return rc;
}

void
mob_config_free(struct mob_config *c)
{
	if (c == NULL)
		return;
	cJSON_Delete(c->root);
	free(c);
}

const char *mob_config_error(const struct mob_config *c) { return c->err; }
const char *mob_config_name(const struct mob_config *c) { return c->name; }

void
mob_config_root(const struct mob_config *c, struct mob_cnode *out)
{
	out->j = c->root;
	out->path[0] = '\0';
}

int
mob_cfg_object(struct mob_config *c, const struct mob_cnode *n,
    const char *const *allowed)
{
	struct mob_cnode child;
	const cJSON *m;
	size_t i;

	if (!cJSON_IsObject(n->j))
		return mob_cfg_errorf(c, n, "must be an object");
	if (allowed == NULL)
		return 0;
	for (m = n->j->child; m != NULL; m = m->next) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], m->string) == 0)
				break;
		if (allowed[i] == NULL) {
			child.j = m;
			path_member(n, m->string, &child);
			return mob_cfg_errorf(c, &child, "unknown member");
		}
	}
	return 0;
}

int
mob_cfg_member(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, struct mob_cnode *out)
{
	path_member(obj, key, out);
	out->j = NULL;
	if (!cJSON_IsObject(obj->j))
		return mob_cfg_errorf(c, obj, "must be an object");
	out->j = cJSON_GetObjectItemCaseSensitive(obj->j, key);
	if (out->j == NULL) {
		if (flags & MOB_CFG_REQUIRED)
			return mob_cfg_errorf(c, out, "required");
		return 0;
	}
	return 1;
}

int
mob_cfg_array(struct mob_config *c, const struct mob_cnode *n, size_t max)
{
	int count;

	if (!cJSON_IsArray(n->j))
		return mob_cfg_errorf(c, n, "must be an array");
	count = cJSON_GetArraySize(n->j);
	if ((size_t)count > max)
		return mob_cfg_errorf(c, n, "at most %zu items", max);
	return count;
}

int
mob_cfg_string(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, size_t maxlen, const char **out)
{
	struct mob_cnode m;
	int rc;

	if ((rc = mob_cfg_member(c, obj, key, flags, &m)) <= 0)
		return rc;
	if (!cJSON_IsString(m.j))
		return mob_cfg_errorf(c, &m, "must be a string, not %s", cnode_type(m.j));
	if (strlen(m.j->valuestring) > maxlen)
		return mob_cfg_errorf(c, &m, "longer than %zu bytes", maxlen);
	/* it is published and printed: never invalid JSON text later */
	if (!mob_utf8_valid(m.j->valuestring))
		return mob_cfg_errorf(c, &m, "not valid UTF-8 (save the file "
		    "as UTF-8)");
	*out = m.j->valuestring;
	return 1;
}

int
mob_cfg_number(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, double *out)
{
	struct mob_cnode m;
	int rc;

	if ((rc = mob_cfg_member(c, obj, key, flags, &m)) <= 0)
		return rc;
	if (!cJSON_IsNumber(m.j) || !isfinite(m.j->valuedouble))
		return mob_cfg_errorf(c, &m, "must be a number");
	*out = m.j->valuedouble;
	return 1;
}

int
mob_cfg_int(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, long min, long max, long *out)
{
	struct mob_cnode m;
	double d;
	int rc;

	if ((rc = mob_cfg_member(c, obj, key, flags, &m)) <= 0)
		return rc;
	if (!cJSON_IsNumber(m.j))
		return mob_cfg_errorf(c, &m, "must be an integer");
	d = m.j->valuedouble;
	if (d != floor(d))
		return mob_cfg_errorf(c, &m, "must be an integer");
	if (d < (double)min || d > (double)max)
		return mob_cfg_errorf(c, &m, "must be between %ld and %ld", min, max);
	*out = (long)d;
	return 1;
}

int
mob_cfg_int_set(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, long min, long max, int *out)
{
	long v;
	int rc;

	if ((rc = mob_cfg_int(c, obj, key, flags, min, max, &v)) < 0)
		return rc;
	if (rc == 1)
		*out = (int)v;
	return 0;
}

int
mob_cfg_bool(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, int *out)
{
	struct mob_cnode m;
	int rc;

	if ((rc = mob_cfg_member(c, obj, key, flags, &m)) <= 0)
		return rc;
	if (!cJSON_IsBool(m.j))
		return mob_cfg_errorf(c, &m, "must be true or false");
	*out = cJSON_IsTrue(m.j);
	return 1;
}

int
mob_cfg_hex(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, int width, char *out)
{
	struct mob_cnode m;
	const char *s;
	int rc;

	if ((rc = mob_cfg_member(c, obj, key, flags, &m)) <= 0)
		return rc;
	if (!cJSON_IsString(m.j))
		goto bad;
	s = m.j->valuestring;
	if (strlen(s) != (size_t)width || !mob_hex_valid(s, (size_t)width))
		goto bad;
	memcpy(out, s, (size_t)width + 1);
	return 1;
 bad:
	return mob_cfg_errorf(c, &m, "must be %d upper-case hex digits", width);
}

int
mob_cfg_enum(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, const char *const *choices, int *out)
{
	struct mob_cnode m;
	char list[160];
	size_t off = 0;
	int rc, i;

	if ((rc = mob_cfg_member(c, obj, key, flags, &m)) <= 0)
		return rc;
	if (cJSON_IsString(m.j)) {
		for (i = 0; choices[i] != NULL; i++) {
			if (strcmp(choices[i], m.j->valuestring) == 0) {
				*out = i;
				return 1;
			}
		}
	}
	list[0] = '\0';
	for (i = 0; choices[i] != NULL && off < sizeof(list); i++) {
		rc = snprintf(list + off, sizeof(list) - off, "%s\"%s\"",
		    i == 0 ? "" : (choices[i + 1] == NULL ? " or " : ", "), choices[i]);
		if (rc < 0)
			break;
		off += (size_t)rc;
	}
	return mob_cfg_errorf(c, &m, "must be %s", list);
}
