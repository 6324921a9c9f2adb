/*
 * JSON configuration files (one per service), validated strictly: every
 * error names the file and the JSON path of the offending member, e.g.
 *
 *   sim.json: objects[2].resources[0].max: must be a number
 *
 * Usage: load, then walk with the typed getters; each getter returns 1 if
 * the member was present and valid, 0 if it was absent and optional (the
 * output is left untouched, so pre-set defaults), or MOB_ECONFIG with the
 * message available from mob_config_error().  Duplicate members anywhere
 * are rejected at load time.
 */
#ifndef MOBIUS_CONFIG_H
#define MOBIUS_CONFIG_H

#include <stddef.h>

#include "mobius/log.h"

struct cJSON;

#define MOB_CONFIG_MAX		(1024 * 1024)	/* bytes */
#define MOB_CONFIG_PATH_MAX	192

struct mob_config;

/* A position in the document: the JSON node and its path ("" = root). */
struct mob_cnode {
	const struct cJSON *j;
	char path[MOB_CONFIG_PATH_MAX];
};

/* getter flags */
#define MOB_CFG_REQUIRED	0x1

/*
 * Read and parse path.  On error returns MOB_ESYS / MOB_ETOOLONG /
 * MOB_ECONFIG with "path: message" (or "path:LINE:COL: malformed JSON")
 * in err.  *out is NULL on error.
 */
int mob_config_load(const char *path, struct mob_config **out, char *err, size_t errlen);
/* Same from memory; name is used in messages. */
int mob_config_parse(const char *name, const char *text, size_t len,
    struct mob_config **out, char *err, size_t errlen);
void mob_config_free(struct mob_config *c);

/* The last error: "FILE: PATH: message". */
const char *mob_config_error(const struct mob_config *c);
const char *mob_config_name(const struct mob_config *c);
void mob_config_root(const struct mob_config *c, struct mob_cnode *out);

/* Record an error at node (path only, no member): returns MOB_ECONFIG. */
int mob_cfg_errorf(struct mob_config *c, const struct mob_cnode *n,
    const char *fmt, ...) MOB_PRINTF(3, 4);

/* The node must be an object whose members are all in allowed (NULL-terminated). */
int mob_cfg_object(struct mob_config *c, const struct mob_cnode *n,
    const char *const *allowed);
/* Member key of object obj: 1 present, 0 absent (optional), MOB_ECONFIG. */
int mob_cfg_member(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, struct mob_cnode *out);
/* The node must be an array of at most max items: returns the count or MOB_ECONFIG. */
int mob_cfg_array(struct mob_config *c, const struct mob_cnode *n, size_t max);
/* Item i of an array node (path gets "[i]"). */
void mob_cfg_item(const struct mob_cnode *arr, size_t i, struct mob_cnode *out);

/* Typed members of an object node. */
int mob_cfg_string(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, size_t maxlen, const char **out);
int mob_cfg_number(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, double *out);
/* An integer in [min, max]. */
int mob_cfg_int(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, long min, long max, long *out);
/*
 * mob_cfg_int into an int (min, max within int's range): *out keeps its
 * value (the default) when an optional member is absent.  0 or MOB_ECONFIG.
 */
int mob_cfg_int_set(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, long min, long max, int *out);
int mob_cfg_bool(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, int *out);
/* Exactly width upper-case hex digits; out must hold width + 1 bytes. */
int mob_cfg_hex(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, int width, char *out);
/* One of the strings in choices (NULL-terminated): *out is its index. */
int mob_cfg_enum(struct mob_config *c, const struct mob_cnode *obj,
    const char *key, int flags, const char *const *choices, int *out);

#endif
