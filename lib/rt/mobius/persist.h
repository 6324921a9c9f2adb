/*
 * What operators commanded survives a restart (docs/services.md
 * "What persists"): every non-empty priority slot of every rw resource,
 * kept in one file in the service's state directory and rewritten
 * atomically (temp file, fsync, rename, directory fsync) after each
 * accepted write or clear.  Live values (sensor readings, relinquish
 * defaults the device sets) are not kept: the device is the truth for them.
 *
 * File (JSON, mode 0600):
 *   {"v":1,"slots":{"PID/INS/RID":[[PRIO,VALUE],...],...}}
 * VALUE in the wire form of the resource's type (mobius/object.h).
 */
#ifndef MOBIUS_PERSIST_H
#define MOBIUS_PERSIST_H

#include <stddef.h>

#define MOB_PERSIST_FILE	"slots.json"
#define MOB_PERSIST_MAX		(4 * 1024 * 1024)	/* bytes read at most */

struct cJSON;
struct mob_service;

/*
 * The slots file of this service: $STATE_DIRECTORY/slots.json (systemd's
 * StateDirectory=; the first directory when it lists several), or NULL
 * when STATE_DIRECTORY is unset (nothing persists).  free() it.
 */
char *mob_persist_path(void);

/* The runtime's hooks: mob_persist_load / _save, logging what failed. */
void mob_persist_restore(struct mob_service *svc, const char *path);
/*
 * After an accepted write or clear.  When the file cannot be written the
 * value stays applied (the device has it), the log says why with the path,
 * and so does rsp's "warning" member, for the operator who wrote.
 */
void mob_persist_commit(const struct mob_service *svc, const char *path,
    struct cJSON *rsp);

/*
 * Put the slots saved in path back into svc's resources (before it
 * publishes).  A missing file is not an error (first start).  A file that
 * cannot be read or does not parse is refused whole, nothing applied:
 * MOB_ESYS / MOB_ECONFIG with "path: reason" in err; the caller logs it
 * and goes on from the config defaults.  Entries for resources the config
 * no longer has, or values it no longer accepts, are skipped with a
 * warning naming the path and the resource.
 */
int mob_persist_load(struct mob_service *svc, const char *path, char *err,
    size_t errlen);

/*
 * Write every non-empty slot of svc's rw resources to path, atomically:
 * on any error (MOB_ESYS with errno, e.g. ENOSPC) the previous file is
 * left as it was.
 */
int mob_persist_save(const struct mob_service *svc, const char *path);

#endif
