/*
 * mob_sandbox_enter(): namespaces, user, rlimits, no_new_privs, seccomp.
 * See sandbox/mobius/sandbox.h and docs/security.md.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/sandbox.h"

#define SB_MAXPATHS	16
#define SB_NAMES	512	/* syscall numbers named in debug mode */

static const struct mob_sandbox_profile *const sb_profiles[] = {
	&mob_sandbox_hub, &mob_sandbox_sim, &mob_sandbox_gpio,
	&mob_sandbox_modbus, &mob_sandbox_router, &mob_sandbox_keytool,
	&mob_sandbox_api,
	&mob_sandbox_front,
};

/* Debug mode: names resolved up front, the SIGSYS handler may not malloc. */
static char *sb_names[SB_NAMES];

const struct mob_sandbox_profile *
mob_sandbox_profile(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(sb_profiles) / sizeof(sb_profiles[0]); i++)
		if (strcmp(sb_profiles[i]->name, name) == 0)
			return sb_profiles[i];
	return NULL;
}

/* capget/capset through the raw syscalls: glibc has no wrapper. */
static int
sb_capget(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	memset(d, 0, 2 * sizeof(*d));
	return syscall(SYS_capget, &h, d) == 0 ? 0 : MOB_ESYS;
}

static int
sb_hascap(int cap)
{
	struct __user_cap_data_struct d[2];

	if (sb_capget(d) != 0)
		return 0;
	return (d[cap / 32].effective & (1U << (cap % 32))) != 0;
}

/* Namespaces and setresuid only act on the calling thread: refuse threads. */
static int
sb_single_threaded(void)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	/* No /proc: a thread may run unseen, and the filter would miss it. */
	if ((d = opendir("/proc/self/task")) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n == 1;
}

static int
sb_write_file(const char *path, const char *s)
{
	int fd, ok;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	if (close(fd) == -1)
		ok = 0;
	return ok ? 0 : -1;
}

/* Map our own uid/gid into a fresh user namespace. */
static int
sb_userns_map(uid_t uid, gid_t gid)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (sb_write_file("/proc/self/uid_map", buf) == -1)
		return -1;
	if (sb_write_file("/proc/self/setgroups", "deny") == -1)
		return -1;
	snprintf(buf, sizeof(buf), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return sb_write_file("/proc/self/gid_map", buf);
}

/*
 * Directories where other programs keep Unix sockets (and scratch files):
 * each is replaced by an empty tmpfs, and only what the daemon needs is
 * grafted back: its own state and socket paths, the hub socket's
 * directory, systemd's notify socket.  Read-only is not enough: connect()
 * works on a read-only mount, and an attacker reached a world-writable
 * socket in /run from the sim's profile.  /tmp (only with a private
 * /tmp) is writable scratch space; the others are read-only once the
 * grafts are in.
 */
static const struct {
	const char *path;
	const char *opts;
} sb_masked[] = {
	{ "/tmp", "mode=1777,size=16m" },
	{ "/run", "mode=0755,size=1m" },
	{ "/dev/shm", "mode=1777,size=1m" },
	{ "/var/tmp", "mode=1777,size=1m" },
};
#define SB_NMASKED	(sizeof(sb_masked) / sizeof(sb_masked[0]))

static int
sb_masks(size_t i, int privtmp)
{
	struct stat st;

	if (i == 0)
		return privtmp;
	/* a symbolic link (/var/run -> /run) or nothing: nothing to mask */
	return lstat(sb_masked[i].path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
sb_under_masked(const char *path, int privtmp)
{
	for (size_t i = 0; i < SB_NMASKED; i++) {
		size_t len = strlen(sb_masked[i].path);

		if (strncmp(path, sb_masked[i].path, len) == 0 &&
		    (path[len] == '/' || path[len] == '\0') &&
		    sb_masks(i, privtmp))
			return 1;
	}
	return 0;
}

/* An empty regular file at path, as the mount point of a grafted file. */
static int
sb_mkfile(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

/* Mount points in the private /tmp, traversable whatever the caller's umask. */
static int
sb_mkdirs(const char *path)
{
	char buf[4096], *s;
	mode_t old;
	int r = 0;

	if (strlen(path) >= sizeof(buf))
		return -1;
	strcpy(buf, path);
	old = umask(022);
	for (s = buf + 1; *s != '\0' && r == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			r = -1;
		*s = '/';
	}
	if (r == 0 && mkdir(buf, 0755) == -1 && errno != EEXIST)
		r = -1;
	umask(old);
	return r;
}

struct sb_keep {
	const char *path;
	int fd;			/* detached clone of the mount tree at path */
	int rw;
	int file;		/* not a directory (a socket) */
};

/* Is path inside one of the n kept directories already? */
static int
sb_kept(const struct sb_keep *keep, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(keep[i].path);

		if (!keep[i].file && strncmp(path, keep[i].path, len) == 0 &&
		    path[len] == '/')
			return 1;
	}
	return 0;
}

/*
 * The mount view: everything read-only, /tmp, /run and the other socket
 * directories masked (sb_masked), and the kept paths grafted back (rw ones
 * cloned before / became read-only, so they stay writable; all of them
 * lose exec, suid and devices).
 */
static int
sb_mounts(const struct mob_sandbox_profile *p, const struct mob_sandbox_opts *o)
{
	struct sb_keep keep[SB_MAXPATHS];
	char sockdir[4096], parent[4096], *slash;
	const char *notify = getenv("NOTIFY_SOCKET");
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	struct mount_attr rw = { .attr_set = MOUNT_ATTR_NOEXEC |
	    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };
	size_t n = 0, i;
	int r = MOB_ESYS, privtmp = !o->no_private_tmp;

	for (i = 0; o->rw_paths != NULL && o->rw_paths[i] != NULL; i++) {
		if (n == SB_MAXPATHS)
			goto toomany;
		keep[n++] = (struct sb_keep){ o->rw_paths[i], -1, 1, 0 };
	}
	for (i = 0; o->ro_paths != NULL && o->ro_paths[i] != NULL; i++) {
		if (!sb_under_masked(o->ro_paths[i], privtmp))
			continue;	/* visible read-only anyway */
		if (n == SB_MAXPATHS)
			goto toomany;
		keep[n++] = (struct sb_keep){ o->ro_paths[i], -1, 0, 0 };
	}
	if (o->hub_socket != NULL && sb_under_masked(o->hub_socket, privtmp)) {
		if (n == SB_MAXPATHS)
			goto toomany;
		if (strlen(o->hub_socket) >= sizeof(sockdir))
			return MOB_ETOOLONG;
		strcpy(sockdir, o->hub_socket);
		if ((slash = strrchr(sockdir, '/')) != NULL && slash != sockdir)
			*slash = '\0';
		/* the hub recreates its socket: keep the directory, read-only */
		keep[n++] = (struct sb_keep){ sockdir, -1, 0, 0 };
	}
	/* sd_notify (READY, WATCHDOG) connects to it by path each time */
	if (notify != NULL && notify[0] == '/' &&
	    sb_under_masked(notify, privtmp) && !sb_kept(keep, n, notify)) {
		if (n == SB_MAXPATHS)
			goto toomany;
		keep[n++] = (struct sb_keep){ notify, -1, 0, 1 };
	}

	/* parents before children, or a later graft would hide an earlier one */
	for (i = 1; i < n; i++) {
		struct sb_keep k = keep[i];
		size_t j = i;

		for (; j > 0 && strlen(keep[j - 1].path) > strlen(k.path); j--)
			keep[j] = keep[j - 1];
		keep[j] = k;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		log_warn("sandbox %s: make / private", p->name);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (keep[i].path[0] != '/') {
			log_warnx("sandbox %s: %s: not an absolute path",
			    p->name, keep[i].path);
			r = MOB_EINVAL;
			goto out;
		}
		keep[i].fd = open_tree(AT_FDCWD, keep[i].path,
		    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (keep[i].fd == -1) {
			log_warn("sandbox %s: clone %s", p->name, keep[i].path);
			goto out;
		}
	}
	if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof(ro)) == -1) {
		log_warn("sandbox %s: make / read-only", p->name);
		goto out;
	}
	for (i = 0; i < SB_NMASKED; i++) {
		if (!sb_masks(i, privtmp))
			continue;
		if (mount("tmpfs", sb_masked[i].path, "tmpfs", MS_NOSUID |
		    MS_NODEV | MS_NOEXEC, sb_masked[i].opts) == -1) {
			log_warn("sandbox %s: mask %s", p->name, sb_masked[i].path);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (sb_under_masked(keep[i].path, privtmp)) {
			snprintf(parent, sizeof(parent), "%s", keep[i].path);
			if ((slash = strrchr(parent, '/')) != NULL && keep[i].file)
				*slash = '\0';
			if (sb_mkdirs(parent) == -1 ||
			    (keep[i].file && sb_mkfile(keep[i].path) == -1)) {
				log_warn("sandbox %s: mount point %s", p->name,
				    keep[i].path);
				goto out;
			}
		}
		if (move_mount(keep[i].fd, "", AT_FDCWD, keep[i].path,
		    MOVE_MOUNT_F_EMPTY_PATH) == -1) {
			log_warn("sandbox %s: attach %s", p->name, keep[i].path);
			goto out;
		}
		if (mount_setattr(AT_FDCWD, keep[i].path, AT_RECURSIVE,
		    keep[i].rw ? &rw : &ro, sizeof(ro)) == -1) {
			log_warn("sandbox %s: flags of %s", p->name, keep[i].path);
			goto out;
		}
	}
	/* the masks hold mount points only; /tmp stays scratch space */
	for (i = 1; i < SB_NMASKED; i++) {
		if (sb_masks(i, privtmp) && mount_setattr(AT_FDCWD,
		    sb_masked[i].path, 0, &ro, sizeof(ro)) == -1) {
			log_warn("sandbox %s: read-only %s", p->name,
			    sb_masked[i].path);
			goto out;
		}
	}
	r = 0;
 out:
	for (i = 0; i < n; i++)
		if (keep[i].fd != -1)
			close(keep[i].fd);
	return r;
 toomany:
	log_warnx("sandbox %s: more than %d kept paths", p->name, SB_MAXPATHS);
	return MOB_EINVAL;
}

/*
 * Namespaces.  With CAP_SYS_ADMIN (root) directly.  Without it, inside a
 * user namespace when the kernel lets us make one; when it does not (a
 * systemd unit with RestrictNamespaces=, a kernel that forbids them) the
 * step is skipped, as the unit has then built the same view: expected under
 * systemd, so said at debug level only.
 */
static int
sb_namespaces(const struct mob_sandbox_profile *p, const struct mob_sandbox_opts *o,
    int *userns)
{
	int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
	uid_t uid = getuid();
	gid_t gid = getgid();

	*userns = 0;
	if (!(p->flags & MOB_SB_NET))
		flags |= CLONE_NEWNET;
	if (sb_hascap(CAP_SYS_ADMIN)) {
		if (unshare(flags) == -1) {
			log_warn("sandbox %s: unshare", p->name);
			return MOB_ESYS;
		}
	} else {
		if (unshare(CLONE_NEWUSER | flags) == -1) {
			log_debug("sandbox %s: no user namespace (%s): namespaces "
			    "skipped, relying on the service manager's",
			    p->name, strerror(errno));
			return 0;
		}
		*userns = 1;
		if (sb_userns_map(uid, gid) == -1) {
			log_warn("sandbox %s: user namespace map", p->name);
			return MOB_ESYS;
		}
	}
	return sb_mounts(p, o);
}

static int
sb_drop_bounding(const struct mob_sandbox_profile *p)
{
	int cap, r;

	if (!sb_hascap(CAP_SETPCAP))
		return 0;
	for (cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1) {
			if (errno == EINVAL)
				break;	/* past the kernel's last capability */
			log_warn("sandbox %s: drop bounding capability %d",
			    p->name, cap);
			return MOB_ESYS;
		}
	}
	for (cap = 0; cap <= 63; cap++) {
		if ((r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) == -1)
			break;
		if (r != 0) {
			log_warnx("sandbox %s: bounding capability %d left",
			    p->name, cap);
			return MOB_EDENIED;
		}
	}
	return 0;
}

/*
 * When started as root, become the service user for good: bounding set
 * emptied first (a later exec can regain nothing), groups from /etc/group
 * (tty and gpio access may come from a group), then gid, then uid.
 */
/*
 * The ids of user: a name from the passwd database, or "UID:GID" for ids
 * no entry names (make run gives each daemon its own uid that way,
 * scripts/run-node.sh); *named is then 0 and no supplementary groups
 * apply.  -1 when neither.
 */
static int
sb_ids(const char *user, uid_t *uid, gid_t *gid, int *named)
{
	unsigned long u, g;
	struct passwd *pw;
	char *end;

	*named = 0;
	if (strspn(user, "0123456789") > 0 && strchr(user, ':') != NULL) {
		errno = 0;
		u = strtoul(user, &end, 10);
		if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
			return -1;
		g = strtoul(end + 1, &end, 10);
		if (errno != 0 || *end != '\0' || u >= 0xffffffffUL ||
		    g >= 0xffffffffUL)
			return -1;
		*uid = (uid_t)u;
		*gid = (gid_t)g;
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	*named = 1;
	return 0;
}

static int
sb_drop_user(const struct mob_sandbox_profile *p, const char *user)
{
	uid_t ru, eu, su, uid;
	gid_t rg, eg, sg, gid;
	int r, named;

	if (geteuid() != 0) {
		if (user != NULL)
			log_debug("sandbox %s: started as uid %u, not root: "
			    "not switching to %s", p->name,
			    (unsigned)geteuid(), user);
		return 0;
	}
	if (user == NULL)
		return 0;
	if (sb_ids(user, &uid, &gid, &named) != 0) {
		log_warnx("sandbox %s: no user %s", p->name, user);
		return MOB_ENOTFOUND;
	}
	if (uid == 0 || gid == 0) {
		log_warnx("sandbox %s: user %s is root", p->name, user);
		return MOB_EINVAL;
	}
	if ((r = sb_drop_bounding(p)) != 0)
		return r;
	if ((named ? initgroups(user, gid) : setgroups(0, NULL)) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		log_warn("sandbox %s: switch to %s", p->name, user);
		return MOB_ESYS;
	}
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 ||
	    ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid) {
		log_warnx("sandbox %s: ids did not change", p->name);
		return MOB_EDENIED;
	}
	if (setresuid(0, 0, 0) != -1) {
		log_warnx("sandbox %s: could regain root", p->name);
		return MOB_EDENIED;
	}
	return 0;
}

static int
sb_caps_empty(const struct __user_cap_data_struct d[2])
{
	int i;

	for (i = 0; i < 2; i++)
		if (d[i].effective != 0 || d[i].permitted != 0 ||
		    d[i].inheritable != 0)
			return 0;
	return 1;
}

/*
 * Whatever happened before, no capability may remain in any set.  capset
 * only when something is left: a unit's SystemCallFilter=~@privileged
 * refuses it, and there we start with none.
 */
static int
sb_no_caps(const struct mob_sandbox_profile *p)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int r;

	/* root has done this already; in a user namespace we may too */
	if ((r = sb_drop_bounding(p)) != 0)
		return r;
	if (sb_capget(d) != 0) {
		log_warn("sandbox %s: capget", p->name);
		return MOB_ESYS;
	}
	if (!sb_caps_empty(d)) {
		memset(d, 0, sizeof(d));
		if (syscall(SYS_capset, &h, d) == -1) {
			log_warn("sandbox %s: capset", p->name);
			return MOB_ESYS;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL) {
		log_warn("sandbox %s: clear ambient capabilities", p->name);
		return MOB_ESYS;
	}
	if (sb_capget(d) != 0 || !sb_caps_empty(d)) {
		log_warnx("sandbox %s: capabilities left", p->name);
		return MOB_EDENIED;
	}
	return 0;
}

/* Lower a limit; an unprivileged process cannot raise the hard one. */
static int
sb_rlimit(const struct mob_sandbox_profile *p, int res, const char *what, rlim_t v)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) == -1) {
		log_warn("sandbox %s: getrlimit %s", p->name, what);
		return MOB_ESYS;
	}
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < v)
		v = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = v;
	if (setrlimit(res, &rl) == -1) {
		log_warn("sandbox %s: setrlimit %s", p->name, what);
		return MOB_ESYS;
	}
	return 0;
}

static int
sb_rlimits(const struct mob_sandbox_profile *p)
{
	int r;

	if ((r = sb_rlimit(p, RLIMIT_CORE, "core", 0)) != 0)
		return r;
	if (p->nofile != 0 &&
	    (r = sb_rlimit(p, RLIMIT_NOFILE, "nofile", p->nofile)) != 0)
		return r;
	if (p->nproc != 0 &&
	    (r = sb_rlimit(p, RLIMIT_NPROC, "nproc", p->nproc)) != 0)
		return r;
	return 0;
}

/* Debug mode: say which syscall the profile lacks, and let it fail. */
static void
sb_sigsys(int sig, siginfo_t *info, void *vctx)
{
	static const char pre[] = "sandbox: denied syscall ";
	ucontext_t *uc = vctx;
	char num[16], *s = num + sizeof(num);
	const char *name = "?";
	int nr = info->si_syscall, saved = errno;
	unsigned int v = nr < 0 ? 0 : (unsigned int)nr;

	(void)sig;
	if (nr >= 0 && nr < SB_NAMES && sb_names[nr] != NULL)
		name = sb_names[nr];
	*--s = '\n';
	*--s = ')';
	do {
		*--s = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	*--s = '(';
	*--s = ' ';
	if (write(STDERR_FILENO, pre, sizeof(pre) - 1) < 0 ||
	    write(STDERR_FILENO, name, strlen(name)) < 0 ||
	    write(STDERR_FILENO, s, num + sizeof(num) - s) < 0)
		_exit(128 + SIGSYS);
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
	(void)uc;
	_exit(128 + SIGSYS);
#endif
	errno = saved;
}

static int
sb_debug_init(void)
{
	struct sigaction sa;
	int nr;

	for (nr = 0; nr < SB_NAMES; nr++)
		if (sb_names[nr] == NULL)
			sb_names[nr] = seccomp_syscall_resolve_num_arch(
			    SCMP_ARCH_NATIVE, nr);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sb_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		return -1;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGSYS);
	return sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
}

/* The argument index of the flags or prot checked for a syscall. */
static unsigned int
sb_argpos(const char *name)
{
	if (strcmp(name, "open") == 0)
		return 1;
	return 2;	/* openat flags; mmap, mprotect prot */
}

/*
 * The fcntl commands a daemon needs: descriptor and status flags, record
 * locks, dup.  Not F_SETOWN, F_SETOWN_EX, F_SETSIG, F_SETLEASE, F_NOTIFY
 * (nor O_ASYNC through F_SETFL): with them a confined daemon aims signals,
 * SIGKILL included, at any process of its uid (docs/security.md); the
 * filter's default action kills whoever tries.
 */
static const int sb_fcntl_cmds[] = {
	F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL,
	F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW,
	F_GETPIPE_SZ, F_GET_SEALS,
};

static int sb_add(scmp_filter_ctx ctx, uint32_t act, int nr,
    unsigned int argc, const struct scmp_arg_cmp *argv);

static int
sb_fcntl(scmp_filter_ctx ctx, uint32_t act, int nr)
{
	struct scmp_arg_cmp c[2];
	int r = 0;

	for (size_t i = 0; i < sizeof(sb_fcntl_cmds) / sizeof(sb_fcntl_cmds[0]) &&
	    r == 0; i++) {
		c[0] = SCMP_A1(SCMP_CMP_EQ, (uint64_t)sb_fcntl_cmds[i]);
		r = sb_add(ctx, act, nr, 1, c);
	}
	if (r != 0)
		return r;
	/* O_NONBLOCK and the like, never O_ASYNC (SIGIO to the owner) */
	c[0] = SCMP_A1(SCMP_CMP_EQ, F_SETFL);
	c[1] = SCMP_A2(SCMP_CMP_MASKED_EQ, O_ASYNC, 0);
	return sb_add(ctx, act, nr, 2, c);
}

static int
sb_add(scmp_filter_ctx ctx, uint32_t act, int nr, unsigned int argc,
    const struct scmp_arg_cmp *cmp)
{
	return seccomp_rule_add_array(ctx, act, nr, argc, cmp);
}

/* Families a profile may open sockets of, ascending. */
static size_t
sb_families(const struct mob_sandbox_profile *p, uint64_t fam[3])
{
	fam[0] = AF_UNIX;
	if (!(p->flags & MOB_SB_NET))
		return 1;
	fam[1] = AF_INET;
	fam[2] = AF_INET6;
	return 3;
}

/* Every socket family not allowed: below, between and above the allowed. */
static int
sb_socket_else(scmp_filter_ctx ctx, const struct mob_sandbox_profile *p,
    uint32_t act, int nr)
{
	struct scmp_arg_cmp c;
	uint64_t fam[3], v;
	size_t n = sb_families(p, fam), i;
	int r;

	c = SCMP_A0(SCMP_CMP_LT, fam[0]);
	if (fam[0] > 0 && (r = sb_add(ctx, act, nr, 1, &c)) != 0)
		return r;
	for (i = 0; i + 1 < n; i++) {
		for (v = fam[i] + 1; v < fam[i + 1]; v++) {
			c = SCMP_A0(SCMP_CMP_EQ, v);
			if ((r = sb_add(ctx, act, nr, 1, &c)) != 0)
				return r;
		}
	}
	c = SCMP_A0(SCMP_CMP_GT, fam[n - 1]);
	return sb_add(ctx, act, nr, 1, &c);
}

#define SB_WRFLAGS	(O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

/* An open that would write, create or truncate: one rule per flag. */
static int
sb_rdonly_else(scmp_filter_ctx ctx, const char *name, uint32_t act, int nr)
{
	static const uint64_t bits[] = { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND };
	struct scmp_arg_cmp c;
	size_t i;
	int r;

	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		c = SCMP_CMP(sb_argpos(name), SCMP_CMP_MASKED_EQ, bits[i], bits[i]);
		if ((r = sb_add(ctx, act, nr, 1, &c)) != 0)
			return r;
	}
	return 0;
}

static int
sb_rule(scmp_filter_ctx ctx, const struct mob_sandbox_profile *p,
    const struct mob_sandbox_opts *o, const struct mob_sandbox_rule *ru)
{
	struct scmp_arg_cmp c[2];
	uint64_t fam[3];
	uint32_t act;
	int nr, r = 0;
	size_t i, n;

	if ((nr = seccomp_syscall_resolve_name(ru->name)) == __NR_SCMP_ERROR)
		return 0;	/* not a syscall on this architecture */
	act = ru->action == MOB_SB_ALLOW ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(ru->err);
	memset(c, 0, sizeof(c));
	if (ru->action == MOB_SB_ERRNO && ru->arg == MOB_SB_ARG_SOCKET)
		return sb_socket_else(ctx, p, act, nr);
	if (ru->action == MOB_SB_ERRNO && ru->arg == MOB_SB_ARG_RDONLY)
		return sb_rdonly_else(ctx, ru->name, act, nr);
	switch (ru->arg) {
	case MOB_SB_ARG_NONE:
		return sb_add(ctx, act, nr, 0, NULL);
	case MOB_SB_ARG_NOEXEC:
		c[0] = SCMP_CMP(sb_argpos(ru->name), SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
		return sb_add(ctx, act, nr, 1, c);
	case MOB_SB_ARG_FILEEXEC:
		/* the loader maps code from files; never anonymous or writable code */
		c[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE, 0);
		c[1] = SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, 0);
		return sb_add(ctx, act, nr, 2, c);
	case MOB_SB_ARG_SOCKET:
		n = sb_families(p, fam);
		for (i = 0; i < n && r == 0; i++) {
			c[0] = SCMP_A0(SCMP_CMP_EQ, fam[i]);
			r = sb_add(ctx, act, nr, 1, c);
		}
		return r;
	case MOB_SB_ARG_IOCTL:
		/* the kernel reads the request as 32 bits: compare those */
		for (i = 0; p->ioctls != NULL && p->ioctls[i] != 0 && r == 0; i++) {
			c[0] = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, p->ioctls[i]);
			r = sb_add(ctx, act, nr, 1, c);
		}
		return r;
	case MOB_SB_ARG_RDONLY:
		c[0] = SCMP_CMP(sb_argpos(ru->name), SCMP_CMP_MASKED_EQ, SB_WRFLAGS, 0);
		return sb_add(ctx, act, nr, 1, c);
	case MOB_SB_ARG_THREAD:
		c[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
		return sb_add(ctx, act, nr, 1, c);
	case MOB_SB_ARG_EQ:
		if (ru->argn > 5)
			return -EINVAL;
		c[0] = SCMP_CMP(ru->argn, SCMP_CMP_EQ, ru->val);
		return sb_add(ctx, act, nr, 1, c);
	case MOB_SB_ARG_EXEC:
		/*
		 * Only the launcher's own pointer: after the exec it names
		 * unknown, randomized memory, and a wrong guess is killed.
		 */
		if (!(p->flags & MOB_SB_EXEC) || o->exec_path == NULL)
			return 0;
		c[0] = SCMP_A0(SCMP_CMP_EQ, (uintptr_t)o->exec_path);
		return sb_add(ctx, act, nr, 1, c);
	case MOB_SB_ARG_SELF:
		c[0] = SCMP_A0(SCMP_CMP_EQ, (uint64_t)getpid());
		return sb_add(ctx, act, nr, 1, c);
	case MOB_SB_ARG_FCNTL:
		return sb_fcntl(ctx, act, nr);
	}
	return -EINVAL;
}

static int
sb_rules(scmp_filter_ctx ctx, const struct mob_sandbox_profile *p,
    const struct mob_sandbox_opts *o, const struct mob_sandbox_rule *rules)
{
	const struct mob_sandbox_rule *ru;
	int r;

	for (ru = rules; ru->name != NULL; ru++) {
		if ((r = sb_rule(ctx, p, o, ru)) != 0) {
			log_warnx("sandbox %s: rule for %s: %s", p->name,
			    ru->name, strerror(-r));
			return MOB_EINVAL;
		}
	}
	return 0;
}

static int
sb_seccomp(const struct mob_sandbox_profile *p, const struct mob_sandbox_opts *o,
    int debug)
{
	scmp_filter_ctx ctx;
	int r = MOB_ESYS;

	if ((ctx = seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS)) == NULL) {
		log_warnx("sandbox %s: seccomp_init failed", p->name);
		return MOB_ENOMEM;
	}
	/* a foreign architecture's syscall numbers mean other calls: kill */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
		log_warnx("sandbox %s: seccomp attributes", p->name);
		goto out;
	}
	if ((r = sb_rules(ctx, p, o, mob_sandbox_base_rules)) != 0 ||
	    (r = sb_rules(ctx, p, o, p->rules)) != 0)
		goto out;
	if (debug && sb_debug_init() == -1) {
		log_warn("sandbox %s: SIGSYS handler", p->name);
		r = MOB_ESYS;
		goto out;
	}
	if ((r = seccomp_load(ctx)) != 0) {
		log_warnx("sandbox %s: seccomp_load: %s", p->name, strerror(-r));
		r = MOB_ESYS;
		goto out;
	}
	r = 0;
 out:
	seccomp_release(ctx);
	return r;
}

/* Tests on machines without the service users name another one. */
static const char *
sb_user(const struct mob_sandbox_profile *p, const struct mob_sandbox_opts *o)
{
	const char *user;

	if ((user = o->user) == NULL && (user = getenv("MOBIUS_SANDBOX_USER")) == NULL)
		user = p->user;
	return user;
}

int
mob_sandbox_user(const struct mob_sandbox_profile *p,
    const struct mob_sandbox_opts *o, uid_t *uid, gid_t *gid)
{
	const char *user;
	int named;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (p == NULL || o == NULL)
		return MOB_EINVAL;
	if (o->no_sandbox || geteuid() != 0 || (user = sb_user(p, o)) == NULL)
		return 0;
	if (sb_ids(user, uid, gid, &named) != 0) {
		*uid = (uid_t)-1;
		*gid = (gid_t)-1;
		return MOB_ENOTFOUND;
	}
	return 0;
}

int
mob_sandbox_enter(const struct mob_sandbox_profile *p, const struct mob_sandbox_opts *o)
{
	static const struct mob_sandbox_opts none;
	const char *dbg = getenv("MOBIUS_SANDBOX_DEBUG");
	const char *user;
	int r, userns, debug = dbg != NULL && strcmp(dbg, "1") == 0;

	if (p == NULL)
		return MOB_EINVAL;
	if (o == NULL)
		o = &none;
	user = sb_user(p, o);
	if (o->no_sandbox) {
		log_warnx("sandbox %s: DISABLED (--no-sandbox): for debugging "
		    "only, this process is not confined", p->name);
		return 0;
	}
	if (!sb_single_threaded()) {
		log_warnx("sandbox %s: must be entered before any thread starts "
		    "(and /proc must show it)", p->name);
		return MOB_EINVAL;
	}
#if defined(__SANITIZE_ADDRESS__)
	/*
	 * LeakSanitizer checks at exit by stopping the world with clone and
	 * ptrace, which the filter kills: check now, and not at exit.
	 */
	__lsan_do_leak_check();
#endif
	/*
	 * glibc loads libgcc_s on the first thread cancellation or exit; the
	 * filter forbids mapping code later, so load it now.
	 */
	if (!(p->flags & MOB_SB_EXEC))
		(void)dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE);
	if ((r = sb_namespaces(p, o, &userns)) != 0 ||
	    (r = sb_drop_user(p, user)) != 0 ||
	    (r = sb_no_caps(p)) != 0 ||
	    (r = sb_rlimits(p)) != 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		log_warn("sandbox %s: prctl", p->name);
		return MOB_ESYS;
	}
	if ((r = sb_seccomp(p, o, debug)) != 0)
		return r;
	if (debug)
		log_warnx("sandbox %s: DEBUG mode: denied syscalls are logged, "
		    "not killed", p->name);
	log_debug("sandbox %s: entered (%s namespaces)", p->name,
	    userns ? "user" : "system");
	return 0;
}
