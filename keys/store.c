/*
 * mobius-keytool: the key directory (keyring, hub key, service key files),
 * locked, loaded, written atomically and owned by whom it belongs to.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/proto.h"

/* Library error: errno's text for system failures, else our own. */
void
kt_err(int r, const char *what)
{
	if (r == MOB_ESYS)
		log_warn("%s", what);
	else
		log_warnx("%s: %s", what, mob_strerror(r));
}

int64_t
kt_now(void)
{
	return (int64_t)time(NULL);
}

/* "SPID/SID" of a service (not the hub's SID 000). */
int
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

void
kt_sidpath(const struct kt *kt, const char *sid, char *out, size_t len)
{
	snprintf(out, len, "%s/%s.key", kt->dir, sid);
}

/*
 * Owner for a file of user: only root can give files away; others keep
 * them (and say so).  Returns 0, 1 when the user does not exist and is not
 * required, or MOB_ENOTFOUND.
 */
int
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
		return MOB_ENOTFOUND;
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
void
kt_hub_owner(const struct kt *kt, struct kt_owner *o, int say)
{
	if (kt_owner(KT_HUB_USER, 0, o) == 1 && geteuid() == 0 && say)
		fprintf(stderr, "mobius-keytool: note: user " KT_HUB_USER
		    " does not exist; %s and %s stay owned by root\n",
		    kt->keyring, kt->hubkey);
}

int
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
	return r;
}

int
kt_save(const struct mob_keyring *kr, const char *path,
    const struct kt_owner *o)
{
	int r;

	if ((r = mob_keyring_save_owned(kr, path, o->uid, o->gid)) != 0)
		kt_err(r, path);
	return r;
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
	    (n == 7 && strncmp(name + 1, "hub.key", 7) == 0) ||
	    (n == 5 && strncmp(name + 1, KT_PEERS, 5) == 0))
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

int
kt_lock(const struct kt *kt, int *fd)
{
	if ((*fd = mob_keyring_lock(kt->dir)) < 0) {
		kt_err(*fd, kt->dir);
		return *fd;
	}
	kt_clean_temps(kt);
	return 0;
}

/* Lock DIR and load its keyring: the start of every command that writes. */
int
kt_lock_load(const struct kt *kt, int *lock, struct mob_keyring **kr)
{
	int r;

	if ((r = kt_lock(kt, lock)) != 0 || (r = kt_load(kt->keyring, kr)) != 0)
		return r;
	return 0;
}

void
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

	snprintf(id, sizeof(id), "%s/000", mob_keyring_hid(kr));
	return mob_keyring_lookup(kr, id, 0, kt_now());
}

/* Add a copy of e (its key duplicated) to kr. */
int
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
	int r;

	if ((r = mob_keyring_new(mob_keyring_hid(hubkr),
	    mob_keyring_mode(hubkr), &kr)) != 0 ||
	    (r = kt_add_copy(kr, own, 0)) != 0) {
		kt_err(r, path);
		goto out;
	}
	if (mob_keyring_mode(hubkr) == MOB_MODE_HARDENED) {
		if ((hub = kt_find_hub(hubkr)) == NULL) {
			log_warnx("the keyring has no active hub key");
			r = MOB_ENOTFOUND;
			goto out;
		}
		if ((r = kt_add_copy(kr, hub, 1)) != 0) {
			kt_err(r, path);
			goto out;
		}
	}
	r = kt_save(kr, path, o);
 out:
	mob_keyring_free(kr);
	return r;
}

/* The keyring, owned as the hub's files are. */
int
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
int
kt_install(const struct kt *kt, struct mob_keyring *kr,
    struct mob_kr_entry *e, const char *path, const struct kt_owner *svcown)
{
	int r;

	if ((r = mob_key_generate(e->alg, &e->key)) != 0) {
		kt_err(r, "key generation");
		return r;
	}
	if ((r = kt_write_service_file(kr, e, path, svcown)) != 0)
		return r;
	if ((r = kt_add_copy(kr, e, 1)) != 0) {
		kt_err(r, e->id);
		return r;
	}
	return kt_save_keyring(kt, kr);
}

int
kt_mkdirs(const char *dir)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p)) {
		log_warnx("bad directory \"%s\"", dir);
		return MOB_EINVAL;
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
			return MOB_ESYS;
		}
		*s = '/';
	}
	/* Traversable, not listable: each daemon opens only its own file. */
	if (mkdir(p, 0711) == 0) {
		if (chmod(p, 0711) == -1) {
			log_warn("chmod %s", p);
			return MOB_ESYS;
		}
	} else if (errno != EEXIST) {
		log_warn("mkdir %s", p);
		return MOB_ESYS;
	}
	return 0;
}
