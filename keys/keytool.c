/*
 * mobius-keytool: creates and manages every key of a node (docs/keys.md).
 *
 * Every command that writes takes DIR/.lock first, reads what it changes
 * under the lock and writes each file atomically (mode 0600), so two
 * keytools never lose each other's changes and a crash leaves either the
 * old or the new file.  Key material is printed only by `list
 * --show-secret`; tokens are printed by `token`, which is what it is for.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/crypto.h>

#include "internal.h"
#include "mobius/b64.h"
#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/key.h"
#include "mobius/keyring.h"
#include "mobius/log.h"
#include "mobius/proto.h"
#include "mobius/token.h"
#include "mobius/uri.h"

#define KT_HUB_USER	"mobius-hub"
#define KT_ROUTER_SID	"0F0"
#define KT_GRACE_DEFAULT 3600
#define KT_GRACE_MAX	(30 * 86400)
#define KT_IMPORT_MAX	65536

struct kt {
	const char *dir;
	char keyring[PATH_MAX];
	char hubkey[PATH_MAX];
	char pidfile[PATH_MAX];
};

struct kt_owner {
	uid_t uid;		/* (uid_t)-1: leave the file ours */
	gid_t gid;
};

struct kt_cmd {
	const char *name;
	int (*fn)(struct kt *, int, char **);
	const char *args;
	const char *help;
};

static const struct kt_cmd *kt_current;

static const struct kt_cmd kt_cmds[];

static void
kt_usage_all(FILE *f)
{
	fprintf(f, "usage: mobius-keytool [--dir DIR] COMMAND [ARGS]\n\n"
	    "Creates and manages the keys of a Mobius node (docs/keys.md).\n\n"
	    "commands:\n");
	for (const struct kt_cmd *c = kt_cmds; c->name != NULL; c++)
		fprintf(f, "  %s %s\n      %s\n", c->name, c->args, c->help);
	fprintf(f, "\noptions:\n"
	    "  --dir DIR   key directory (default " MOB_KEYS_DIR_DEFAULT ")\n"
	    "  -h, --help  this text; COMMAND --help for one command\n\n"
	    "exit status: 0 success, 1 failure, 2 usage error\n");
}

/* A usage error in the current command: message, its usage line, 2. */
static int MOB_PRINTF(1, 2)
kt_usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "mobius-keytool: ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, "\n");
	}
	if (kt_current != NULL)
		fprintf(stderr, "usage: mobius-keytool [--dir DIR] %s %s\n",
		    kt_current->name, kt_current->args);
	else
		kt_usage_all(stderr);
	return KT_USAGE;
}

static int
kt_help(void)
{
	printf("usage: mobius-keytool [--dir DIR] %s %s\n  %s\n",
	    kt_current->name, kt_current->args, kt_current->help);
	return KT_OK;
}

/*
 * A command's option: a string taken as it is (str), a flag set to 1
 * (flag), or a value that parse() checks as it is read and stores in val
 * (it returns 0, or kt_usage's status).
 */
struct kt_opt {
	const char *name;
	int short_name;		/* 0: only the long form */
	const char **str;
	int *flag;
	int (*parse)(const char *, void *);
	void *val;
};

#define KT_OPTS_MAX	8
#define KT_GO		(-1)

/*
 * The options of a command (plus -h, --help).  Returns KT_GO for the
 * command to go on, else the exit status (help shown, or a usage error).
 */
static int
kt_getopt(int argc, char **argv, const struct kt_opt *o)
{
	struct option lo[KT_OPTS_MAX + 2];
	char so[3 * KT_OPTS_MAX + 2], *sp = so;
	size_t i, n;
	int ch, r;

	for (n = 0; o[n].name != NULL; n++) {
		if (n == KT_OPTS_MAX)
			fatalx("%s: too many options", kt_current->name);
		lo[n].name = o[n].name;
		lo[n].has_arg = o[n].flag == NULL ? required_argument :
		    no_argument;
		lo[n].flag = NULL;
		lo[n].val = o[n].short_name != 0 ? o[n].short_name :
		    256 + (int)n;
		if (o[n].short_name != 0) {
			*sp++ = (char)o[n].short_name;
			if (o[n].flag == NULL)
				*sp++ = ':';
		}
	}
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n + 1] = (struct option){ NULL, 0, NULL, 0 };
	*sp++ = 'h';
	*sp = '\0';
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		for (i = 0; i < n && lo[i].val != ch; i++)
			;
		if (i == n)	/* -h, --help, or an option we do not know */
			return ch == 'h' ? kt_help() : kt_usage(NULL);
		if (o[i].parse != NULL) {
			if ((r = o[i].parse(optarg, o[i].val)) != 0)
				return r;
		} else if (o[i].str != NULL)
			*o[i].str = optarg;
		else
			*o[i].flag = 1;
	}
	return KT_GO;
}

/* Library error: errno's text for system failures, else our own. */
static void
kt_err(int r, const char *what)
{
	if (r == MOB_ESYS)
		log_warn("%s", what);
	else
		log_warnx("%s: %s", what, mob_strerror(r));
}

static int64_t
kt_now(void)
{
	return (int64_t)time(NULL);
}

/* "SPID/SID" of a service (not the hub's SID 000). */
static int
kt_parse_ss(const char *s, char spid[5], char sid[4])
{
	if (!mob_user_valid(s) || strcmp(s + 5, "000") == 0)
		return kt_usage("bad SPID/SID \"%s\": want 4 and 3 upper-case "
		    "hex digits, e.g. 001F/01F (SID 000 is the hub)", s);
	memcpy(spid, s, 4);
	spid[4] = '\0';
	memcpy(sid, s + 5, 4);
	return 0;
}

static void
kt_sidpath(const struct kt *kt, const char *sid, char *out, size_t len)
{
	snprintf(out, len, "%s/%s.key", kt->dir, sid);
}

/*
 * Owner for a file of user: only root can give files away; others keep
 * them (and say so).  Returns 0, 1 when the user does not exist and is not
 * required, or KT_FAIL.
 */
static int
kt_owner(const char *user, int required, struct kt_owner *o)
{
	struct passwd *pw;

	o->uid = (uid_t)-1;
	o->gid = (gid_t)-1;
	if (user == NULL || *user == '\0')
		return 0;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (!required)
			return 1;
		log_warnx("no such user \"%s\"", user);
		return KT_FAIL;
	}
	if (geteuid() == 0) {
		o->uid = pw->pw_uid;
		o->gid = pw->pw_gid;
	} else if (pw->pw_uid != geteuid())
		fprintf(stderr, "mobius-keytool: note: not root, so files stay "
		    "owned by uid %u, not %s\n", (unsigned)geteuid(), user);
	return 0;
}

/* The hub's files belong to mobius-hub when it exists (init says if not). */
static void
kt_hub_owner(const struct kt *kt, struct kt_owner *o, int say)
{
	if (kt_owner(KT_HUB_USER, 0, o) == 1 && geteuid() == 0 && say)
		fprintf(stderr, "mobius-keytool: note: user " KT_HUB_USER
		    " does not exist; %s and %s stay owned by root\n",
		    kt->keyring, kt->hubkey);
}

static int
kt_load(const char *path, struct mob_keyring **kr)
{
	char err[512];
	int r;

	if ((r = mob_keyring_load(path, kr, err, sizeof(err))) == 0)
		return 0;
	if (r == MOB_ENOTFOUND)
		log_warnx("%s; run mobius-keytool init first", err);
	else
		log_warnx("%s", err);
	return KT_FAIL;
}

static int
kt_save(const struct mob_keyring *kr, const char *path,
    const struct kt_owner *o)
{
	int r;

	if ((r = mob_keyring_save_owned(kr, path, o->uid, o->gid)) != 0) {
		kt_err(r, path);
		return KT_FAIL;
	}
	return 0;
}

/*
 * A temp file of one of our key files (".keyring.Ab12Cd", ".01F.key.x9Z0aB",
 * ".0F0.external.key.q1w2e3"): mob_file_write_temp names them
 * ".NAME.XXXXXX".
 */
static int
kt_is_our_temp(const char *name)
{
	size_t n = strlen(name);

	if (n < 9 || name[0] != '.' || name[n - 7] != '.')
		return 0;
	n -= 8;		/* the base between the dots */
	if ((n == 7 && strncmp(name + 1, "keyring", 7) == 0) ||
	    (n == 7 && strncmp(name + 1, "hub.key", 7) == 0))
		return 1;
	if (strspn(name + 1, "0123456789ABCDEF") != 3)
		return 0;
	return (n == 7 && strncmp(name + 4, ".key", 4) == 0) ||
	    (n == 16 && strncmp(name + 4, ".external.key", 13) == 0);
}

/*
 * Under the lock no other keytool is writing, so a temp file of ours is
 * what a crashed write left behind (the files themselves are whole).
 */
static void
kt_clean_temps(const struct kt *kt)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(kt->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!kt_is_our_temp(de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			fprintf(stderr, "mobius-keytool: removed %s/%s, left by "
			    "an interrupted write\n", kt->dir, de->d_name);
	}
	closedir(d);
}

static int
kt_lock(const struct kt *kt, int *fd)
{
	if ((*fd = mob_keyring_lock(kt->dir)) < 0) {
		kt_err(*fd, kt->dir);
		return KT_FAIL;
	}
	kt_clean_temps(kt);
	return 0;
}

/* Lock DIR and load its keyring: the start of every command that writes. */
static int
kt_lock_load(const struct kt *kt, int *lock, struct mob_keyring **kr)
{
	if (kt_lock(kt, lock) != 0 || kt_load(kt->keyring, kr) != 0)
		return KT_FAIL;
	return 0;
}

static void
kt_fpr(const struct mob_key *key, char fpr[MOB_FPR_LEN + 1])
{
	if (mob_kr_fingerprint(key, fpr) != 0)
		snprintf(fpr, MOB_FPR_LEN + 1, "?");
}

/* The part of a key the hub keeps: public half, or the PSK itself. */
static int
kt_hub_half(const struct mob_key *key, struct mob_key **out)
{
	if (mob_key_alg(key) == MOB_ALG_EDDSA)
		return mob_key_public(key, out);
	return mob_key_dup(key, out);
}

static const struct mob_kr_entry *
kt_find_hub(const struct mob_keyring *kr)
{
	char id[MOB_ID_MAX];

	snprintf(id, sizeof(id), "%s/000", kr->hid);
	return mob_keyring_lookup(kr, id, 0, kt_now());
}

/* Add a copy of e (its key duplicated) to kr. */
static int
kt_add_copy(struct mob_keyring *kr, const struct mob_kr_entry *e,
    int public_only)
{
	struct mob_kr_entry c = *e;
	int r;

	r = public_only ? kt_hub_half(e->key, &c.key) :
	    mob_key_dup(e->key, &c.key);
	if (r != 0)
		return r;
	if ((r = mob_keyring_add(kr, &c)) != 0)
		mob_key_free(c.key);
	return r;
}

/*
 * A service's own key file: its private entry, plus (hardened) the hub's
 * public entry so it can verify the hub; in compat mode the hub's key
 * reaches it encrypted on mob/key instead (docs/keys.md).
 */
static int
kt_write_service_file(const struct mob_keyring *hubkr,
    const struct mob_kr_entry *own, const char *path, const struct kt_owner *o)
{
	struct mob_keyring *kr = NULL;
	const struct mob_kr_entry *hub;
	int r, ret = KT_FAIL;

	if ((r = mob_keyring_new(hubkr->hid, hubkr->mode, &kr)) != 0 ||
	    (r = kt_add_copy(kr, own, 0)) != 0) {
		kt_err(r, path);
		goto out;
	}
	if (hubkr->mode == MOB_MODE_HARDENED) {
		if ((hub = kt_find_hub(hubkr)) == NULL) {
			log_warnx("the keyring has no active hub key");
			goto out;
		}
		if ((r = kt_add_copy(kr, hub, 1)) != 0) {
			kt_err(r, path);
			goto out;
		}
	}
	ret = kt_save(kr, path, o);
 out:
	mob_keyring_free(kr);
	return ret;
}

/* The keyring, owned as the hub's files are. */
static int
kt_save_keyring(const struct kt *kt, const struct mob_keyring *kr)
{
	struct kt_owner own;

	kt_hub_owner(kt, &own, 0);
	return kt_save(kr, kt->keyring, &own);
}

/*
 * A new key for entry e (add, rotate): its key file first, so the keyring
 * never names a key no service has, then its entry in the keyring.
 */
static int
kt_install(const struct kt *kt, struct mob_keyring *kr,
    struct mob_kr_entry *e, const char *path, const struct kt_owner *svcown)
{
	int r;

	if ((r = mob_key_generate(e->alg, &e->key)) != 0) {
		kt_err(r, "key generation");
		return KT_FAIL;
	}
	if (kt_write_service_file(kr, e, path, svcown) != 0)
		return KT_FAIL;
	if ((r = kt_add_copy(kr, e, 1)) != 0) {
		kt_err(r, e->id);
		return KT_FAIL;
	}
	return kt_save_keyring(kt, kr);
}

static int
kt_mkdirs(const char *dir)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p)) {
		log_warnx("bad directory \"%s\"", dir);
		return KT_FAIL;
	}
	memcpy(p, dir, n + 1);
	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) == 0)
			chmod(p, 0755);	/* past our umask of 077 */
		else if (errno != EEXIST) {
			log_warn("mkdir %s", p);
			return KT_FAIL;
		}
		*s = '/';
	}
	/* Traversable, not listable: each daemon opens only its own file. */
	if (mkdir(p, 0711) == 0) {
		if (chmod(p, 0711) == -1) {
			log_warn("chmod %s", p);
			return KT_FAIL;
		}
	} else if (errno != EEXIST) {
		log_warn("mkdir %s", p);
		return KT_FAIL;
	}
	return 0;
}

/* --- commands ----------------------------------------------------------- */

static int
kt_opt_mode(const char *arg, void *out)
{
	enum mob_mode *mode = out;

	if (strcmp(arg, "hardened") == 0)
		*mode = MOB_MODE_HARDENED;
	else if (strcmp(arg, "compat") == 0)
		*mode = MOB_MODE_COMPAT;
	else
		return kt_usage("bad --mode \"%s\": want hardened or compat",
		    arg);
	return 0;
}

static int
cmd_init(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL, *hk = NULL;
	struct mob_kr_entry e;
	struct kt_owner own;
	enum mob_mode mode = MOB_MODE_HARDENED;
	const char *hid = NULL;
	char fpr[MOB_FPR_LEN + 1];
	int force = 0, lock = -1, r, ret = KT_FAIL;
	const struct kt_opt opts[] = {
		{ .name = "hid", .str = &hid },
		{ .name = "mode", .parse = kt_opt_mode, .val = &mode },
		{ .name = "force", .flag = &force },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (optind != argc)
		return kt_usage("unexpected argument \"%s\"", argv[optind]);
	if (hid == NULL)
		return kt_usage("--hid is required");
	if ((r = mob_keyring_new(hid, mode, &kr)) != 0)
		return kt_usage("bad --hid \"%s\": want 6 upper-case hex "
		    "digits, e.g. 000001", hid);
	memset(&e, 0, sizeof(e));

	if (kt_mkdirs(kt->dir) != 0 || kt_lock(kt, &lock) != 0)
		goto out;
	if (!force && access(kt->keyring, F_OK) == 0) {
		log_warnx("%s exists; --force replaces it (and drops every key "
		    "in it)", kt->keyring);
		goto out;
	}
	kt_hub_owner(kt, &own, 1);
	e.kind = MOB_ENTRY_HUB;
	snprintf(e.id, sizeof(e.id), "%s/000", hid);
	snprintf(e.user, sizeof(e.user), KT_HUB_USER);
	e.alg = mode == MOB_MODE_COMPAT ? MOB_ALG_HS256 : MOB_ALG_EDDSA;
	e.state = MOB_KS_ACTIVE;
	if ((r = mob_key_generate(e.alg, &e.key)) != 0 ||
	    (r = mob_keyring_new(hid, mode, &hk)) != 0 ||
	    (r = kt_add_copy(hk, &e, 0)) != 0 ||
	    (r = kt_add_copy(kr, &e, 1)) != 0) {
		kt_err(r, "hub key");
		goto out;
	}
	/* hub.key first: a keyring never names a hub key that is missing. */
	if (kt_save(hk, kt->hubkey, &own) != 0 ||
	    kt_save(kr, kt->keyring, &own) != 0)
		goto out;
	kt_fpr(e.key, fpr);
	printf("initialized node %s in %s: mode %s (%s), hub key %s/000 "
	    "fingerprint %s\n", hid, kt->dir, mode == MOB_MODE_COMPAT ?
	    "compat" : "hardened", mob_alg_name(e.alg), hid, fpr);
	ret = KT_OK;
 out:
	mob_keyring_unlock(lock);
	mob_key_free(e.key);
	mob_keyring_free(hk);
	mob_keyring_free(kr);
	return ret;
}

static int
cmd_add(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL;
	struct mob_kr_entry e;
	const struct mob_kr_entry *old;
	struct kt_owner svcown;
	const char *user = NULL;
	char spid[5], sid[4], path[PATH_MAX], fpr[MOB_FPR_LEN + 1];
	int lock = -1, r, ret = KT_FAIL;
	const struct kt_opt opts[] = {
		{ .name = "user", .short_name = 'u', .str = &user },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (argc - optind != 1)
		return kt_usage(argc == optind ? "SPID/SID is required" :
		    "one SPID/SID at a time");
	if (kt_parse_ss(argv[optind], spid, sid) != 0)
		return KT_USAGE;
	memset(&e, 0, sizeof(e));
	if (user != NULL) {
		if (strlen(user) >= sizeof(e.user))
			return kt_usage("--user \"%s\" is too long", user);
		if (kt_owner(user, 1, &svcown) != 0)
			return KT_FAIL;
	} else
		kt_owner(NULL, 0, &svcown);

	if (kt_lock_load(kt, &lock, &kr) != 0)
		goto out;
	e.kind = MOB_ENTRY_SERVICE;
	snprintf(e.id, sizeof(e.id), "%s/%s", kr->hid, sid);
	memcpy(e.spid, spid, sizeof(e.spid));
	if (user != NULL)
		snprintf(e.user, sizeof(e.user), "%s", user);
	e.alg = kr->mode == MOB_MODE_COMPAT ? MOB_ALG_HS256 : MOB_ALG_EDDSA;
	e.state = MOB_KS_ACTIVE;
	if ((old = mob_keyring_find(kr, e.id)) != NULL &&
	    old->state != MOB_KS_REVOKED) {
		log_warnx("%s already has a key (spid %s); use rotate to "
		    "replace it", e.id, old->spid);
		goto out;
	}
	mob_keyring_prune(kr, kt_now());
	kt_sidpath(kt, sid, path, sizeof(path));
	if (kt_install(kt, kr, &e, path, &svcown) != 0)
		goto out;
	kt_fpr(e.key, fpr);
	printf("added %s/%s as %s (%s, fingerprint %s); key file %s\n", spid,
	    sid, e.id, mob_alg_name(e.alg), fpr, path);
	ret = KT_OK;
 out:
	mob_keyring_unlock(lock);
	mob_key_free(e.key);
	mob_keyring_free(kr);
	return ret;
}

static void
kt_list_entry(const struct mob_kr_entry *e, int64_t now, int show)
{
	char na[24] = "-", fpr[MOB_FPR_LEN + 1], key[128] = "";
	const char *state = mob_kr_state_name(e->state);

	if (e->state == MOB_KS_GRACE) {
		mob_time_format(e->not_after, na, sizeof(na));
		if (e->not_after <= now)
			state = "expired";
	}
	kt_fpr(e->key, fpr);
	if (show) {
		uint8_t raw[MOB_HS256_MAXLEN];
		int n = mob_key_raw(e->key, mob_key_can_sign(e->key), raw,
		    sizeof(raw));

		if (n < 0 || mob_b64url_encode(raw, (size_t)n, key,
		    sizeof(key)) < 0)
			snprintf(key, sizeof(key), "?");
		OPENSSL_cleanse(raw, sizeof(raw));
	}
	printf("%-7s %-10s %-4s %-5s %-7s %-20s %-16s %s%s%s\n",
	    mob_kr_kind_name(e->kind), e->id, e->spid[0] ? e->spid : "-",
	    mob_alg_name(e->alg), state, na, e->user[0] ? e->user : "-", fpr,
	    show ? "  " : "", key);
	OPENSSL_cleanse(key, sizeof(key));
}

static int
cmd_list(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL;
	const char *path = kt->keyring;
	int r, show = 0;
	const struct kt_opt opts[] = {
		{ .name = "keyring", .short_name = 'k', .str = &path },
		{ .name = "show-secret", .flag = &show },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (optind != argc)
		return kt_usage("unexpected argument \"%s\"", argv[optind]);
	if (kt_load(path, &kr) != 0)
		return KT_FAIL;
	printf("# %s: node %s, mode %s\n", path, kr->hid,
	    kr->mode == MOB_MODE_COMPAT ? "compat" : "hardened");
	printf("%-7s %-10s %-4s %-5s %-7s %-20s %-16s %s\n", "KIND", "ID",
	    "SPID", "ALG", "STATE", "NOT-AFTER", "USER",
	    show ? "FINGERPRINT       KEY" : "FINGERPRINT");
	for (size_t i = 0; i < kr->n; i++)
		kt_list_entry(&kr->entries[i], kt_now(), show);
	mob_keyring_free(kr);
	return KT_OK;
}

/* Common head of revoke and rotate: parse SPID/SID, lock, load, match. */
static int
kt_service_op(struct kt *kt, const char *ss, int *lock,
    struct mob_keyring **kr, char id[MOB_ID_MAX], char sid[4])
{
	const struct mob_kr_entry *e;
	char spid[5];

	if (kt_parse_ss(ss, spid, sid) != 0)
		return KT_USAGE;
	if (kt_lock_load(kt, lock, kr) != 0)
		return KT_FAIL;
	snprintf(id, MOB_ID_MAX, "%s/%s", (*kr)->hid, sid);
	if ((e = mob_keyring_find(*kr, id)) == NULL ||
	    e->kind != MOB_ENTRY_SERVICE) {
		log_warnx("no service key for %s", id);
		return KT_FAIL;
	}
	if (strcmp(e->spid, spid) != 0) {
		log_warnx("%s has spid %s, not %s", id, e->spid, spid);
		return KT_FAIL;
	}
	return 0;
}

static int
cmd_revoke(struct kt *kt, int argc, char **argv)
{
	static const struct kt_opt opts[] = {
		{ .name = NULL }
	};
	struct mob_keyring *kr = NULL;
	char id[MOB_ID_MAX], sid[4], path[PATH_MAX];
	int lock = -1, n = 0, ret;

	if ((ret = kt_getopt(argc, argv, opts)) != KT_GO)
		return ret;
	if (argc - optind != 1)
		return kt_usage("SPID/SID is required");
	if ((ret = kt_service_op(kt, argv[optind], &lock, &kr, id, sid)) != 0)
		goto out;
	ret = KT_FAIL;
	mob_keyring_prune(kr, kt_now());
	for (size_t i = 0; i < kr->n; i++) {
		struct mob_kr_entry *e = &kr->entries[i];

		if (strcmp(e->id, id) != 0 || e->state == MOB_KS_REVOKED)
			continue;
		e->state = MOB_KS_REVOKED;
		e->not_after = 0;
		n++;
	}
	if (n == 0) {
		log_warnx("%s is already revoked", id);
		goto out;
	}
	if (kt_save_keyring(kt, kr) != 0)
		goto out;
	/* Revoked material has no use left; the service must not start on it. */
	kt_sidpath(kt, sid, path, sizeof(path));
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
	printf("revoked %s (%d key%s); removed %s; run mobius-keytool reload "
	    "so a running hub drops it\n", id, n, n == 1 ? "" : "s", path);
	ret = KT_OK;
 out:
	mob_keyring_unlock(lock);
	mob_keyring_free(kr);
	return ret;
}

/* "90", "90s", "15m", "1h", "2d" → seconds. */
static int
kt_parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mul = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0 || *s == '-' || *s == '+')
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 's':
			mul = 1;
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		default:
			return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v > KT_GRACE_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static uid_t
kt_file_uid(const char *path, gid_t *gid)
{
	struct stat st;

	*gid = (gid_t)-1;
	if (geteuid() != 0 || stat(path, &st) == -1)
		return (uid_t)-1;
	*gid = st.st_gid;
	return st.st_uid;
}

static int
kt_opt_grace(const char *arg, void *out)
{
	if (kt_parse_duration(arg, out) != 0)
		return kt_usage("bad --grace \"%s\": want e.g. 30s, 15m, 1h or "
		    "2d (at most 30d)", arg);
	return 0;
}

static int
cmd_rotate(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL;
	struct mob_kr_entry e, *old = NULL;
	struct kt_owner svcown;
	char id[MOB_ID_MAX], sid[4], path[PATH_MAX], fpr[MOB_FPR_LEN + 1];
	char until[24];
	int64_t grace = KT_GRACE_DEFAULT, now;
	int lock = -1, ret;
	const struct kt_opt opts[] = {
		{ .name = "grace", .short_name = 'g', .parse = kt_opt_grace,
		    .val = &grace },
		{ .name = NULL }
	};

	if ((ret = kt_getopt(argc, argv, opts)) != KT_GO)
		return ret;
	if (argc - optind != 1)
		return kt_usage("SPID/SID is required");
	memset(&e, 0, sizeof(e));
	if ((ret = kt_service_op(kt, argv[optind], &lock, &kr, id, sid)) != 0)
		goto out;
	ret = KT_FAIL;
	now = kt_now();
	mob_keyring_prune(kr, now);
	for (size_t i = 0; i < kr->n; i++)
		if (strcmp(kr->entries[i].id, id) == 0 &&
		    kr->entries[i].state == MOB_KS_ACTIVE)
			old = &kr->entries[i];
	if (old == NULL) {
		log_warnx("%s has no active key (revoked?); use add", id);
		goto out;
	}
	e = *old;
	e.key = NULL;
	kt_sidpath(kt, sid, path, sizeof(path));
	/* Keep the key file's owner: root may rotate a key it did not add. */
	if (kt_owner(e.user, 0, &svcown) != 0 || svcown.uid == (uid_t)-1)
		svcown.uid = kt_file_uid(path, &svcown.gid);
	/* Only in memory until kt_install saves the keyring. */
	if (grace > 0) {
		old->state = MOB_KS_GRACE;
		old->not_after = now + grace;
	} else
		mob_keyring_remove(kr, (size_t)(old - kr->entries));
	if (kt_install(kt, kr, &e, path, &svcown) != 0)
		goto out;
	kt_fpr(e.key, fpr);
	if (grace > 0) {
		mob_time_format(now + grace, until, sizeof(until));
		printf("rotated %s: new key %s in %s; the old key is accepted "
		    "until %s\n", id, fpr, path, until);
	} else
		printf("rotated %s: new key %s in %s; the old key is no longer "
		    "accepted\n", id, fpr, path);
	printf("restart the service to use the new key; run mobius-keytool "
	    "reload so a running hub knows it\n");
	ret = KT_OK;
 out:
	mob_keyring_unlock(lock);
	mob_key_free(e.key);
	mob_keyring_free(kr);
	return ret;
}

static int
cmd_token(struct kt *kt, int argc, char **argv)
{
	struct mob_kr_entry own;
	const char *file = NULL;
	char spid[5], sid[4], path[PATH_MAX], sub[16], err[512], *tok = NULL;
	int r, ret = KT_FAIL;
	const struct kt_opt opts[] = {
		{ .name = "key", .short_name = 'k', .str = &file },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (file == NULL && argc - optind != 1)
		return kt_usage("SPID/SID or --key FILE is required");
	if (file != NULL && argc != optind)
		return kt_usage("give SPID/SID or --key FILE, not both");
	if (file == NULL) {
		if (kt_parse_ss(argv[optind], spid, sid) != 0)
			return KT_USAGE;
		kt_sidpath(kt, sid, path, sizeof(path));
		file = path;
	}
	if ((r = mob_keyfile_load_own(file, &own, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return KT_FAIL;
	}
	if (own.kind != MOB_ENTRY_SERVICE) {
		log_warnx("%s holds the %s key %s; tokens are for services",
		    file, mob_kr_kind_name(own.kind), own.id);
		goto out;
	}
	if (file == path && (strcmp(own.spid, spid) != 0 ||
	    strcmp(own.id + 7, sid) != 0)) {
		log_warnx("%s is the key of %s/%s, not %s/%s", file, own.spid,
		    own.id + 7, spid, sid);
		goto out;
	}
	snprintf(sub, sizeof(sub), "%.4s/%.3s", own.spid, own.id + 7);
	if ((r = mob_token_mint(own.key, own.id, sub, mob_clock_wall_ms(),
	    &tok)) != 0) {
		kt_err(r, "token");
		goto out;
	}
	printf("%s\n", tok);
	ret = KT_OK;
 out:
	free(tok);
	mob_key_free(own.key);
	return ret;
}

/* A read-only view of why no key verified, for the operator. */
static int
kt_refine(const struct mob_keyring *kr, const char *tok, int r)
{
	const struct mob_kr_entry *e;
	struct mob_jws jws;

	if (r != MOB_EKIDUNKNOWN)
		return r;
	if (mob_jws_parse(tok, strlen(tok), 0, &jws) != 0)
		return r;
	if ((e = mob_keyring_find(kr, jws.kid)) != NULL) {
		if (e->state == MOB_KS_REVOKED)
			r = MOB_EREVOKED;
		else if (e->state == MOB_KS_GRACE)
			r = MOB_EKEYEXPIRED;
	}
	mob_jws_clear(&jws);
	return r;
}

static void
kt_print_time(const char *label, int64_t ms)
{
	char t[24] = "?";

	mob_time_format(ms / 1000, t, sizeof(t));
	printf("%-6s %s (%lld ms)\n", label, t, (long long)ms);
}

static int
kt_verify_token(const struct mob_keyring *kr, const char *tok,
    int64_t window_ms)
{
	const struct mob_kr_entry *e;
	struct mob_token t;
	char want[16];
	int r;

	r = mob_token_verify(tok, strlen(tok), mob_keyring_lookup_fn,
	    (void *)kr, NULL, NULL, window_ms, mob_clock_wall_ms(), &t);
	if (r == 0 && (e = mob_keyring_find(kr, t.iss)) != NULL &&
	    e->kind == MOB_ENTRY_SERVICE) {
		/* The username must be the one the keyring gives this id. */
		snprintf(want, sizeof(want), "%.4s/%.3s", e->spid, e->id + 7);
		if (strcmp(t.sub, want) != 0) {
			log_warnx("invalid token: sub %s, but the keyring has "
			    "%s for %s", t.sub, want, t.iss);
			return KT_FAIL;
		}
	}
	if (r != 0) {
		r = kt_refine(kr, tok, r);
		log_warnx("invalid token: %s (%s)", mob_strerror(r),
		    mob_errname(r));
		return KT_FAIL;
	}
	printf("valid token\n%-6s %s\n%-6s %s\n", "iss", t.iss, "sub", t.sub);
	kt_print_time("iat", t.iat);
	printf("%-6s %s\n", "nonce", t.nonce);
	return KT_OK;
}

static int
kt_verify_message(const struct mob_keyring *kr, const char *msg,
    const char *topic, int64_t window_ms)
{
	struct mob_verifier_cfg cfg;
	struct mob_verifier *v = NULL;
	struct mob_env env;
	char *dat = NULL;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.window_ms = window_ms;
	memset(&env, 0, sizeof(env));
	if ((r = mob_verifier_new(mob_keyring_lookup_fn, (void *)kr, &cfg,
	    &v)) != 0) {
		kt_err(r, "verifier");
		return KT_FAIL;
	}
	r = mob_env_verify(v, topic, NULL, msg, strlen(msg), mob_clock_wall_ms(),
	    &env);
	mob_verifier_free(v);
	if (r != 0) {
		r = kt_refine(kr, msg, r);
		log_warnx("invalid message: %s (%s)", mob_strerror(r),
		    mob_errname(r));
		return KT_FAIL;
	}
	dat = cJSON_PrintUnformatted(env.dat);
	printf("valid message\n%-6s %s\n%-6s %s\n", "iss", env.iss, "topic",
	    topic);
	kt_print_time("iat", env.iat);
	printf("%-6s %llu\n%-6s %s\n", "seq", (unsigned long long)env.seq,
	    "dat", dat != NULL ? dat : "?");
	cJSON_free(dat);
	mob_env_clear(&env);
	return KT_OK;
}

static int
kt_opt_window(const char *arg, void *out)
{
	int64_t *window = out;

	if (kt_parse_duration(arg, window) != 0 || *window == 0)
		return kt_usage("bad --window \"%s\": want e.g. 10s or 5m", arg);
	return 0;
}

static int
cmd_verify(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL;
	const char *topic = NULL, *path = kt->keyring;
	char *line = NULL, *tok;
	size_t cap = 0;
	int64_t window = MOB_WINDOW_MS_DEFAULT / 1000;
	ssize_t n;
	int ret;
	const struct kt_opt opts[] = {
		{ .name = "topic", .short_name = 't', .str = &topic },
		{ .name = "keyring", .short_name = 'k', .str = &path },
		{ .name = "window", .parse = kt_opt_window, .val = &window },
		{ .name = NULL }
	};

	if ((ret = kt_getopt(argc, argv, opts)) != KT_GO)
		return ret;
	if (argc - optind != 1)
		return kt_usage("TOKEN (or - to read it from stdin) is required");
	tok = argv[optind];
	if (strcmp(tok, "-") == 0) {
		if ((n = getline(&line, &cap, stdin)) <= 0) {
			free(line);
			return kt_usage("nothing on stdin");
		}
		line[strcspn(line, "\r\n")] = '\0';
		tok = line;
	}
	if (kt_load(path, &kr) != 0) {
		free(line);
		return KT_FAIL;
	}
	if (topic != NULL)
		ret = kt_verify_message(kr, tok, topic, window * 1000);
	else
		ret = kt_verify_token(kr, tok, window * 1000);
	mob_keyring_free(kr);
	free(line);
	return ret;
}

static int
cmd_export_peer(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL, *rk = NULL, *pub = NULL;
	struct mob_kr_entry own, e;
	struct kt_owner o;
	const char *user = NULL, *sid = KT_ROUTER_SID;
	char err[512], fpr[MOB_FPR_LEN + 1], path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int lock = -1, r, ret = KT_FAIL, created = 0;
	const struct kt_opt opts[] = {
		{ .name = "user", .short_name = 'u', .str = &user },
		{ .name = "sid", .str = &sid },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (optind != argc)
		return kt_usage("unexpected argument \"%s\"", argv[optind]);
	if (strlen(sid) != 3 || strspn(sid, "0123456789ABCDEF") != 3 ||
	    strcmp(sid, "000") == 0)
		return kt_usage("bad --sid \"%s\": want the router's SID, 3 "
		    "upper-case hex digits", sid);
	snprintf(path, sizeof(path), "%s/%s.external.key", kt->dir, sid);
	memset(&own, 0, sizeof(own));
	memset(&e, 0, sizeof(e));
	if (user != NULL && strlen(user) >= sizeof(e.user))
		return kt_usage("--user \"%s\" is too long", user);
	if (kt_owner(user, 1, &o) != 0)
		return KT_FAIL;
	if (kt_lock_load(kt, &lock, &kr) != 0)
		goto out;
	r = mob_keyfile_load_own(path, &own, err, sizeof(err));
	if (r == MOB_ENOTFOUND && access(path, F_OK) == -1) {
		/* First use: the router's external key, never a PSK. */
		e.kind = MOB_ENTRY_PEER;
		snprintf(e.id, sizeof(e.id), "%s/%s", kr->hid, sid);
		if (user != NULL)
			snprintf(e.user, sizeof(e.user), "%s", user);
		e.alg = MOB_ALG_EDDSA;
		e.state = MOB_KS_ACTIVE;
		if ((r = mob_key_generate(MOB_ALG_EDDSA, &e.key)) != 0 ||
		    (r = mob_keyring_new(kr->hid, kr->mode, &rk)) != 0 ||
		    (r = kt_add_copy(rk, &e, 0)) != 0) {
			kt_err(r, path);
			goto out;
		}
		if (kt_save(rk, path, &o) != 0)
			goto out;
		own = e;
		e.key = NULL;
		created = 1;
	} else if (r != 0) {
		log_warnx("%s", err);
		goto out;
	}
	if (own.kind != MOB_ENTRY_PEER || strncmp(own.id, kr->hid, 6) != 0 ||
	    strcmp(own.id + 7, sid) != 0) {
		log_warnx("%s holds %s %s, not this node's peer key %s/%s",
		    path, mob_kr_kind_name(own.kind), own.id, kr->hid, sid);
		goto out;
	}
	if ((r = mob_keyring_new(kr->hid, kr->mode, &pub)) != 0 ||
	    (r = kt_add_copy(pub, &own, 1)) != 0 ||
	    (r = mob_keyring_format(pub, &text, &len)) != 0) {
		kt_err(r, "export");
		goto out;
	}
	kt_fpr(own.key, fpr);
	if (created)
		fprintf(stderr, "mobius-keytool: created %s (the router's "
		    "external key %s)\n", path, own.id);
	printf("# Peer key of node %s (fingerprint %s): on the other node "
	    "run\n#   mobius-keytool import-peer FILE\n%s", kr->hid, fpr,
	    strchr(text, '\n') + 1);
	ret = KT_OK;
 out:
	mob_keyring_text_free(text, len);
	mob_keyring_unlock(lock);
	mob_key_free(own.key);
	mob_key_free(e.key);
	mob_keyring_free(pub);
	mob_keyring_free(rk);
	mob_keyring_free(kr);
	return ret;
}

static int
kt_read_public(const char *file, char **buf, size_t *len)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	size_t n;

	*buf = NULL;
	if (f == NULL) {
		log_warn("%s", file);
		return KT_FAIL;
	}
	if ((*buf = malloc(KT_IMPORT_MAX + 1)) == NULL) {
		log_warnx("out of memory");
		goto fail;
	}
	n = fread(*buf, 1, KT_IMPORT_MAX + 1, f);
	if (ferror(f) || n > KT_IMPORT_MAX) {
		log_warnx("%s: %s", file, ferror(f) ? "read error" :
		    "larger than 64 KiB");
		goto fail;
	}
	*len = n;
	if (f != stdin)
		fclose(f);
	return 0;
 fail:
	free(*buf);
	*buf = NULL;
	if (f != stdin)
		fclose(f);
	return KT_FAIL;
}

/* Check an imported entry; *same when the same key is already there. */
static int
kt_import_one(struct mob_keyring *kr, const struct mob_kr_entry *e,
    const char *file, int replace, int *same)
{
	char a[MOB_FPR_LEN + 1], b[MOB_FPR_LEN + 1];
	const struct mob_kr_entry *have;

	*same = 0;
	if (e->kind != MOB_ENTRY_PEER || mob_key_can_sign(e->key)) {
		log_warnx("%s: %s %s is not a public peer entry; import only "
		    "what export-peer prints", file, mob_kr_kind_name(e->kind),
		    e->id);
		return KT_FAIL;
	}
	if (e->state != MOB_KS_ACTIVE) {
		log_warnx("%s: peer %s is %s", file, e->id,
		    mob_kr_state_name(e->state));
		return KT_FAIL;
	}
	if (strncmp(e->id, kr->hid, 6) == 0) {
		log_warnx("%s: %s is this node's own key", file, e->id);
		return KT_FAIL;
	}
	if ((have = mob_keyring_lookup(kr, e->id, 0, kt_now())) == NULL)
		return 0;
	kt_fpr(have->key, a);
	kt_fpr(e->key, b);
	if (strcmp(a, b) == 0) {
		*same = 1;
		return 0;
	}
	if (!replace) {
		log_warnx("%s: peer %s already has key %s (this one is %s); "
		    "--replace swaps it", file, e->id, a, b);
		return KT_FAIL;
	}
	for (size_t i = kr->n; i-- > 0;)
		if (strcmp(kr->entries[i].id, e->id) == 0)
			mob_keyring_remove(kr, i);
	return 0;
}

static int
cmd_import_peer(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL, *in = NULL;
	struct kt_owner own;
	char err[512], fpr[MOB_FPR_LEN + 1], *buf = NULL;
	size_t len = 0;
	int lock = -1, r, replace = 0, same, ret = KT_FAIL, added = 0;
	const struct kt_opt opts[] = {
		{ .name = "replace", .flag = &replace },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (argc - optind != 1)
		return kt_usage("FILE (or - for stdin) is required");
	if (kt_read_public(argv[optind], &buf, &len) != 0)
		return KT_FAIL;
	r = mob_keyring_parse(buf, len, argv[optind], &in, err, sizeof(err));
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (r != 0) {
		log_warnx("%s", err);
		return KT_FAIL;
	}
	if (in->n == 0) {
		log_warnx("%s: no peer entry", argv[optind]);
		goto out;
	}
	if (kt_lock_load(kt, &lock, &kr) != 0)
		goto out;
	mob_keyring_prune(kr, kt_now());
	for (size_t i = 0; i < in->n; i++) {
		struct mob_kr_entry *e = &in->entries[i];

		if (kt_import_one(kr, e, argv[optind], replace, &same) != 0)
			goto out;
		if (same) {
			printf("peer %s: already imported\n", e->id);
			continue;
		}
		e->user[0] = '\0';
		if ((r = kt_add_copy(kr, e, 1)) != 0) {
			kt_err(r, e->id);
			goto out;
		}
		kt_fpr(e->key, fpr);
		printf("imported peer %s (fingerprint %s)\n", e->id, fpr);
		added++;
	}
	kt_hub_owner(kt, &own, 0);
	if (added > 0 && kt_save(kr, kt->keyring, &own) != 0)
		goto out;
	ret = KT_OK;
 out:
	mob_keyring_unlock(lock);
	mob_keyring_free(in);
	mob_keyring_free(kr);
	return ret;
}

static int
cmd_reload(struct kt *kt, int argc, char **argv)
{
	const char *unit = KT_UNIT_DEFAULT;
	int r, no_sandbox = 0;
	const struct kt_opt opts[] = {
		{ .name = "unit", .str = &unit },
		{ .name = "no-sandbox", .flag = &no_sandbox },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (optind != argc)
		return kt_usage("unexpected argument \"%s\"", argv[optind]);
	return kt_reload(unit, kt->pidfile, no_sandbox);
}

static const struct kt_cmd kt_cmds[] = {
	{ "init", cmd_init, "--hid HID [--mode hardened|compat] [--force]",
	    "create the node's keyring and hub key (mode hardened = EdDSA)" },
	{ "add", cmd_add, "SPID/SID [--user USER]",
	    "create a service key: DIR/SID.key and its keyring entry" },
	{ "list", cmd_list, "[--keyring FILE] [--show-secret]",
	    "show the keys (fingerprint = first 8 bytes of SHA-256)" },
	{ "revoke", cmd_revoke, "SPID/SID",
	    "revoke a service's keys and remove its key file" },
	{ "rotate", cmd_rotate, "SPID/SID [--grace DURATION]",
	    "new service key; the old one stays valid for the grace (1h)" },
	{ "token", cmd_token, "SPID/SID | --key FILE",
	    "print an MQTT password token for the service" },
	{ "verify", cmd_verify, "[--topic TOPIC] [--keyring FILE] "
	    "[--window DURATION] TOKEN|-",
	    "check a token, or a signed message with --topic" },
	{ "export-peer", cmd_export_peer, "[--sid SID] [--user USER]",
	    "print the router's external public key (made on first use)" },
	{ "import-peer", cmd_import_peer, "[--replace] FILE|-",
	    "add a remote node's peer key to the keyring" },
	{ "reload", cmd_reload, "[--unit UNIT] [--no-sandbox]",
	    "make the running hub re-read its keys" },
	{ NULL, NULL, NULL, NULL }
};

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct kt kt = { MOB_KEYS_DIR_DEFAULT, "", "", "" };
	const struct kt_cmd *c;
	int ch;

	log_init("mobius-keytool", getenv("MOBIUS_DEBUG") != NULL);
	umask(077);
	while ((ch = getopt_long(argc, argv, "+hd:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			kt.dir = optarg;
			break;
		case 'h':
			kt_usage_all(stdout);
			return KT_OK;
		default:
			return kt_usage(NULL);
		}
	}
	if (optind == argc)
		return kt_usage("a command is required");
	for (c = kt_cmds; c->name != NULL; c++)
		if (strcmp(c->name, argv[optind]) == 0)
			break;
	if (c->name == NULL)
		return kt_usage("unknown command \"%s\"", argv[optind]);
	kt_current = c;
	if (snprintf(kt.keyring, sizeof(kt.keyring), "%s/keyring", kt.dir) >=
	    (int)sizeof(kt.keyring) ||
	    snprintf(kt.hubkey, sizeof(kt.hubkey), "%s/hub.key", kt.dir) >=
	    (int)sizeof(kt.hubkey) ||
	    snprintf(kt.pidfile, sizeof(kt.pidfile), "%s/hub.pid", kt.dir) >=
	    (int)sizeof(kt.pidfile))
		return kt_usage("--dir is too long");
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: restart the scan for the command's options */
	return c->fn(&kt, argc, argv);
}
