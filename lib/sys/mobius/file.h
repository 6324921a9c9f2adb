/*
 * Files read and written whole: key files, keyrings, configurations and
 * the hub's generated mosquitto.conf.
 *
 * Reading opens without blocking (a FIFO planted at the path must not
 * freeze a daemon, least of all the hub inside mosquitto's only thread),
 * then refuses anything but a regular file before a byte is read.
 *
 * Writing is atomic: a temp file next to the target (created 0600, so
 * the bytes are never readable by others), chmod to the wanted mode,
 * fsync, rename over the target, fsync of the directory.  A rewrite keeps
 * the owner of the file it replaces, so root (mobius-keytool) rewriting a
 * keyring that belongs to the hub's user leaves it the hub's.
 */
#ifndef MOBIUS_FILE_H
#define MOBIUS_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* mob_file_read flags */
#define MOB_FILE_NOFOLLOW	0x1	/* refuse a symbolic link (MOB_EINVAL) */
#define MOB_FILE_PRIVATE	0x2	/* refuse a mode open to group or others (MOB_EPERM) */

/*
 * Read all of path, at most max bytes (more is MOB_ETOOLONG), into *buf,
 * NUL-terminated (*len excludes the NUL); free it with mob_file_free.
 * Errors: MOB_ENOTFOUND (no such file), MOB_EINVAL (a symbolic link with
 * MOB_FILE_NOFOLLOW, or not a regular file), MOB_EPERM, MOB_ETOOLONG,
 * MOB_ENOMEM, MOB_ESYS; err receives "path: message".
 */
int mob_file_read(const char *path, size_t max, int flags, char **buf,
    size_t *len, char *err, size_t errlen);
/* Cleanses (the text may hold secrets) and frees; accepts NULL. */
void mob_file_free(char *buf, size_t len);

/* Write buf to path atomically with mode; the owner as mob_file_write_temp. */
int mob_file_write_atomic(const char *path, const void *buf, size_t len, int mode);
int mob_file_write_atomic_owned(const char *path, const void *buf, size_t len,
    int mode, uid_t uid, gid_t gid);

/*
 * The two halves of mob_file_write_atomic, apart for callers that must do
 * something in between and for the crash test: write buf into a new temp
 * file next to path (mode; owner uid:gid, or with (uid_t)-1 the owner of
 * the regular file now at path, else ours; fsync), its name in tmp; then
 * rename it over path and fsync the directory.  On error no temp file is
 * left behind.
 */
int mob_file_write_temp(const char *path, const void *buf, size_t len, int mode,
    uid_t uid, gid_t gid, char *tmp, size_t tmplen);
int mob_file_commit(const char *tmp, const char *path);

#endif
