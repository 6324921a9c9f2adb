/*
 * Whole-file reads and atomic writes (lib/sys/file.c): what may sit at a
 * path we read, and who owns what we rewrite.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "mobius/err.h"
#include "mobius/file.h"
#include "support/harness.h"

static char dir[PATH_MAX];

static void
mktmp(void)
{
	th_tmpdir(dir, sizeof(dir));
}

static void
rmtmp(void)
{
	th_rmtree(dir);
}

/* A FIFO nobody writes to would block a plain open() for ever. */
TestSuite(file, .init = mktmp, .fini = rmtmp, .timeout = 20);

static void
at(char *path, size_t len, const char *name)
{
	snprintf(path, len, "%s/%s", dir, name);
}

Test(file, a_fifo_is_refused_without_blocking)
{
	char path[PATH_MAX + 16], err[256], *buf;
	size_t len;

	at(path, sizeof(path), "fifo");
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_expect_eq(mob_file_read(path, 1024, 0, &buf, &len, err,
	    sizeof(err)), MOB_EINVAL);
	cr_expect_null(buf);
	cr_expect_not_null(strstr(err, "not a regular file"), "%s", err);
	cr_expect_eq(mob_file_read(path, 1024, MOB_FILE_NOFOLLOW |
	    MOB_FILE_PRIVATE, &buf, &len, err, sizeof(err)), MOB_EINVAL);
}

Test(file, reads_whole_files_within_the_cap)
{
	char path[PATH_MAX + 16], err[256], *buf;
	size_t len;

	at(path, sizeof(path), "f");
	cr_assert_eq(mob_file_write_atomic(path, "hello", 5, 0600), 0);
	cr_assert_eq(mob_file_read(path, 5, MOB_FILE_PRIVATE, &buf, &len, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(len, 5);
	cr_expect_str_eq(buf, "hello", "NUL-terminated");
	mob_file_free(buf, len);
	cr_expect_eq(mob_file_read(path, 4, 0, &buf, &len, err, sizeof(err)),
	    MOB_ETOOLONG);
	at(path, sizeof(path), "missing");
	cr_expect_eq(mob_file_read(path, 4, 0, &buf, &len, err, sizeof(err)),
	    MOB_ENOTFOUND);
}

Test(file, private_and_nofollow_are_enforced)
{
	char path[PATH_MAX + 16], link[PATH_MAX + 16], err[256], *buf;
	size_t len;

	at(path, sizeof(path), "f");
	at(link, sizeof(link), "l");
	cr_assert_eq(mob_file_write_atomic(path, "x", 1, 0640), 0);
	cr_expect_eq(mob_file_read(path, 16, MOB_FILE_PRIVATE, &buf, &len,
	    err, sizeof(err)), MOB_EPERM);
	cr_expect_not_null(strstr(err, "0640"), "%s", err);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(symlink(path, link), 0);
	cr_expect_eq(mob_file_read(link, 16, MOB_FILE_NOFOLLOW, &buf, &len,
	    err, sizeof(err)), MOB_EINVAL);
	cr_expect_not_null(strstr(err, "symbolic link"), "%s", err);
	cr_assert_eq(mob_file_read(link, 16, 0, &buf, &len, err, sizeof(err)),
	    0, "%s", err);
	mob_file_free(buf, len);
}

Test(file, a_rewrite_keeps_the_owner_of_the_file_it_replaces)
{
	char path[PATH_MAX + 16];
	struct stat st;

	if (geteuid() != 0)
		cr_skip_test("needs root to give the file to another user");
	at(path, sizeof(path), "keyring");
	cr_assert_eq(mob_file_write_atomic(path, "old", 3, 0600), 0);
	cr_assert_eq(chown(path, 65534, 65534), 0);
	cr_assert_eq(mob_file_write_atomic(path, "new", 3, 0600), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_uid, 65534, "owner kept, not root's");
	cr_expect_eq(st.st_gid, 65534);
	cr_expect_eq(st.st_mode & 07777, 0600);
	/* an explicit owner still wins */
	cr_assert_eq(mob_file_write_atomic_owned(path, "x", 1, 0600, 0, 0), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_uid, 0);
}

Test(file, a_new_file_has_the_mode_asked_for)
{
	char path[PATH_MAX + 16];
	struct stat st;

	at(path, sizeof(path), "conf");
	cr_assert_eq(mob_file_write_atomic(path, "a", 1, 0644), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0644);
	cr_expect_eq(st.st_uid, geteuid());
}
