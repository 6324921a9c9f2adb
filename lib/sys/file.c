/*
 * Whole-file reads and atomic writes (mobius/file.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/log.h"

int
mob_file_read(const char *path, size_t max, int flags, char **buf,
    size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *b = NULL;
	size_t n = 0;
	ssize_t got;
	int fd, r = 0;

	*buf = NULL;
	*len = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (max == 0 || max >= SSIZE_MAX)
		return MOB_EINVAL;
	/*
	 * O_NONBLOCK: opening a FIFO for reading waits for a writer, for
	 * ever; a regular file ignores the flag.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
	    ((flags & MOB_FILE_NOFOLLOW) ? O_NOFOLLOW : 0));
	if (fd == -1) {
		if (errno == ELOOP && (flags & MOB_FILE_NOFOLLOW))
			return mob_errf(err, errlen, MOB_EINVAL, "%s: is a "
			    "symbolic link; it must be a regular file", path);
		return mob_errf(err, errlen, errno == ENOENT ? MOB_ENOTFOUND :
		    MOB_ESYS, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) == -1) {
		r = mob_errf(err, errlen, MOB_ESYS, "%s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = mob_errf(err, errlen, MOB_EINVAL, "%s: not a regular file",
		    path);
		goto out;
	}
	if ((flags & MOB_FILE_PRIVATE) && (st.st_mode & 077) != 0) {
		r = mob_errf(err, errlen, MOB_EPERM, "%s: mode %04o lets "
		    "group or others at it; chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
		r = mob_errf(err, errlen, MOB_ETOOLONG, "%s: larger than %zu "
		    "bytes", path, max);
		goto out;
	}
	/* One byte more than the cap tells us if the file grew meanwhile. */
	if ((b = malloc(max + 2)) == NULL) {
		r = mob_errf(err, errlen, MOB_ENOMEM, "%s: out of memory",
		    path);
		goto out;
	}
	while (n <= max) {
		got = read(fd, b + n, max + 1 - n);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			r = mob_errf(err, errlen, MOB_ESYS, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > max) {
		r = mob_errf(err, errlen, MOB_ETOOLONG, "%s: larger than %zu "
		    "bytes", path, max);
		goto out;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
 out:
	mob_file_free(b, n);
	close(fd);
	return r;
}

void
mob_file_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

/* Directory part of path into dir ("." when there is none). */
static int
file_dirname(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL)
		return snprintf(dir, len, ".") >= (int)len ? MOB_ETOOLONG : 0;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= len)
		return MOB_ETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

/*
 * The owner the new file gets: uid:gid if given, else that of the regular
 * file it replaces (a symlink at path is replaced, not followed), else
 * whatever the temp file has.  (uid_t)-1 in *uid means: leave it.
 */
static int
file_owner(const char *path, int fd, uid_t *uid, gid_t *gid)
{
	struct stat old, tmp;

	if (*uid != (uid_t)-1)
		return 0;
	if (lstat(path, &old) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(old.st_mode))
		return 0;
	if (fstat(fd, &tmp) == -1)
		return -1;
	if (old.st_uid != tmp.st_uid || old.st_gid != tmp.st_gid) {
		*uid = old.st_uid;
		*gid = old.st_gid;
	}
	return 0;
}

int
mob_file_write_temp(const char *path, const void *buf, size_t len, int mode,
    uid_t uid, gid_t gid, char *tmp, size_t tmplen)
{
	const char *base = strrchr(path, '/');
	char dir[PATH_MAX];
	size_t off = 0;
	int fd, r, saved;

	if (tmplen > 0)
		tmp[0] = '\0';
	if ((r = file_dirname(path, dir, sizeof(dir))) != 0)
		return r;
	base = base != NULL ? base + 1 : path;
	if (*base == '\0')
		return MOB_EINVAL;
	if (snprintf(tmp, tmplen, "%s/.%s.XXXXXX", dir, base) >= (int)tmplen)
		return MOB_ETOOLONG;
	/* mkostemp creates 0600, so the bytes are never readable by others. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		tmp[0] = '\0';
		return MOB_ESYS;
	}
	if (file_owner(path, fd, &uid, &gid) == -1 ||
	    fchmod(fd, (mode_t)(mode & 07777)) == -1 ||
	    (uid != (uid_t)-1 && fchown(fd, uid, gid) == -1))
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, (const char *)buf + off, len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
 fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	tmp[0] = '\0';
	errno = saved;
	return MOB_ESYS;
}

int
mob_file_commit(const char *tmp, const char *path)
{
	char dir[PATH_MAX];
	int fd, r, saved;

	if ((r = file_dirname(path, dir, sizeof(dir))) != 0) {
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return MOB_ESYS;
	}
	/* The rename is durable only once the directory entry is on disk. */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return MOB_ESYS;
	r = fsync(fd) == -1 ? MOB_ESYS : 0;
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int
mob_file_write_atomic_owned(const char *path, const void *buf, size_t len,
    int mode, uid_t uid, gid_t gid)
{
	char tmp[PATH_MAX];
	int r;

	if ((r = mob_file_write_temp(path, buf, len, mode, uid, gid, tmp,
	    sizeof(tmp))) != 0)
		return r;
	return mob_file_commit(tmp, path);
}

int
mob_file_write_atomic(const char *path, const void *buf, size_t len, int mode)
{
	return mob_file_write_atomic_owned(path, buf, len, mode, (uid_t)-1,
	    (gid_t)-1);
}
