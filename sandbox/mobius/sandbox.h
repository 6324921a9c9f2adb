/*
 * Confinement of a daemon (docs/security.md).
 *
 * A daemon opens what needs privilege (sockets, devices, keys), then calls
 * mob_sandbox_enter() once, before it starts any thread, and treats any
 * error as fatal.  The layers, in order:
 *
 *   1. namespaces: mount (everything read-only except opts->rw_paths, a
 *      private /tmp), ipc, uts, and net for profiles without network.
 *      With CAP_SYS_ADMIN directly; otherwise inside a user namespace when
 *      the kernel allows one; otherwise skipped with a notice (under
 *      systemd the unit has already built the same view).
 *   2. when started as root: bounding set emptied, then setgroups /
 *      setresgid / setresuid to the profile's user; no capability may be
 *      left afterwards (checked with capget).
 *   3. rlimits: RLIMIT_CORE 0, RLIMIT_NOFILE, RLIMIT_NPROC.
 *   4. PR_SET_NO_NEW_PRIVS.
 *   5. seccomp allowlist (libseccomp), default kill process.
 *
 * MOBIUS_SANDBOX_DEBUG=1 in the environment traps instead of killing and
 * logs each offending syscall by name; it is for finding what a profile
 * lacks, never for production.
 */
#ifndef MOBIUS_SANDBOX_H
#define MOBIUS_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

enum mob_sb_action {
	MOB_SB_ALLOW = 0,
	MOB_SB_ERRNO,		/* fail softly with rule->err */
};

/* Argument filters a rule may carry. */
enum mob_sb_arg {
	MOB_SB_ARG_NONE = 0,
	MOB_SB_ARG_NOEXEC,	/* mmap, mprotect: prot has no PROT_EXEC */
	MOB_SB_ARG_FILEEXEC,	/* mmap: PROT_EXEC only for file mappings */
	MOB_SB_ARG_SOCKET,	/* socket, socketpair: family in profile */
	MOB_SB_ARG_IOCTL,	/* ioctl: request in profile->ioctls */
	MOB_SB_ARG_RDONLY,	/* open, openat: no write, create or truncate */
	MOB_SB_ARG_THREAD,	/* clone: CLONE_THREAD set (threads, no fork) */
	MOB_SB_ARG_EQ,		/* argument argn equals val */
	MOB_SB_ARG_EXEC,	/* execve: filename is opts->exec_path */
	MOB_SB_ARG_SELF,	/* kill, tgkill: pid (argument 0) is our own */
	MOB_SB_ARG_FCNTL,	/* fcntl: descriptor flags, locks, dup; no
				 * signals, owners, leases or notify */
};

struct mob_sandbox_rule {
	const char *name;	/* syscall; skipped where the arch lacks it */
	enum mob_sb_action action;
	int err;
	enum mob_sb_arg arg;
	unsigned int argn;
	uint64_t val;
};

/* One syscall a line, as in OpenSSH's sandbox-seccomp-filter.c. */
#define SB_ALLOW(sys)		{ #sys, MOB_SB_ALLOW, 0, MOB_SB_ARG_NONE, 0, 0 }
#define SB_ALLOW_ARG(sys, a)	{ #sys, MOB_SB_ALLOW, 0, (a), 0, 0 }
#define SB_ALLOW_EQ(sys, n, v)	{ #sys, MOB_SB_ALLOW, 0, MOB_SB_ARG_EQ, (n), (v) }
#define SB_DENY(sys, e)		{ #sys, MOB_SB_ERRNO, (e), MOB_SB_ARG_NONE, 0, 0 }
#define SB_DENY_EQ(sys, e, n, v) { #sys, MOB_SB_ERRNO, (e), MOB_SB_ARG_EQ, (n), (v) }
/*
 * What SB_ALLOW_ARG(sys, a) does not allow fails with e (a is
 * MOB_SB_ARG_SOCKET or MOB_SB_ARG_RDONLY).  libseccomp lets an
 * unconditional rule override every conditional one of the same syscall,
 * so the complement is spelled out as rules of its own.
 */
#define SB_DENY_ELSE(sys, e, a)	{ #sys, MOB_SB_ERRNO, (e), (a), 0, 0 }
#define SB_END			{ NULL, MOB_SB_ALLOW, 0, MOB_SB_ARG_NONE, 0, 0 }

/* Profile flags. */
#define MOB_SB_NET	0x01	/* AF_INET, AF_INET6 sockets; keep the network */
#define MOB_SB_EXEC	0x02	/* one execve of opts->exec_path (hub launcher) */

struct mob_sandbox_profile {
	const char *name;		/* "sim"; names the profile in logs */
	const char *user;		/* service user when started as root; NULL keeps the caller's */
	unsigned int flags;		/* MOB_SB_* */
	rlim_t nofile;			/* RLIMIT_NOFILE */
	rlim_t nproc;			/* RLIMIT_NPROC; 0 leaves it */
	const struct mob_sandbox_rule *rules;	/* SB_END-terminated */
	const unsigned long *ioctls;	/* 0-terminated, for MOB_SB_ARG_IOCTL */
};

struct mob_sandbox_opts {
	const char *user;		/* overrides $MOBIUS_SANDBOX_USER, then profile->user */
	const char *const *rw_paths;	/* NULL-terminated: stay writable (state, socket dirs) */
	const char *const *ro_paths;	/* NULL-terminated: under /tmp, stay visible read-only */
	const char *hub_socket;		/* its directory stays visible, to reconnect */
	const char *exec_path;		/* MOB_SB_EXEC: the exact pointer later given to execve */
	int no_sandbox;			/* --no-sandbox: skip everything, log a warning */
	int no_private_tmp;		/* keep the host's /tmp visible (read-only) */
};

/* The rules every profile gets: memory, time, signals, exit, I/O on open fds. */
extern const struct mob_sandbox_rule mob_sandbox_base_rules[];

extern const struct mob_sandbox_profile mob_sandbox_hub;
extern const struct mob_sandbox_profile mob_sandbox_sim;
extern const struct mob_sandbox_profile mob_sandbox_gpio;
extern const struct mob_sandbox_profile mob_sandbox_modbus;
extern const struct mob_sandbox_profile mob_sandbox_router;
extern const struct mob_sandbox_profile mob_sandbox_keytool;
extern const struct mob_sandbox_profile mob_sandbox_api;
extern const struct mob_sandbox_profile mob_sandbox_front;

/* Profile by name ("hub", "sim", ...), or NULL. */
const struct mob_sandbox_profile *mob_sandbox_profile(const char *name);

/*
 * Confine the calling process (see the top of this file).  o may be NULL.
 * Returns 0, or a negative MOB_E* code after logging why; the caller must
 * then exit: the process may be half-confined.
 */
int mob_sandbox_enter(const struct mob_sandbox_profile *p, const struct mob_sandbox_opts *o);

/*
 * The user mob_sandbox_enter() will switch to (same choice: o->user,
 * $MOBIUS_SANDBOX_USER, profile->user), so that a daemon started as root
 * can hand it the files it made (state directory, generated config).
 * *uid = -1 when no switch will happen (not root, no user, --no-sandbox).
 * 0, or MOB_ENOTFOUND when the user does not exist.
 */
int mob_sandbox_user(const struct mob_sandbox_profile *p,
    const struct mob_sandbox_opts *o, uid_t *uid, gid_t *gid);

/*
 * Stack a filter that kills the process on execve/execveat, for a program
 * that was itself started by a MOB_SB_EXEC launcher (the hub plugin calls
 * it once mosquitto has loaded it).  0 or a negative MOB_E* code.
 */
int mob_sandbox_lock_exec(void);

#endif
