/*
 * mobius-keytool: service keys (add, list, revoke, rotate).
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "internal.h"
#include "mobius/b64.h"
#include "mobius/log.h"

int
cmd_add(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL;
	struct mob_kr_entry e;
	const struct mob_kr_entry *old;
	struct kt_owner svcown;
	const char *user = NULL;
	char spid[5], sid[4], path[PATH_MAX], fpr[MOB_FPR_LEN + 1];
	int lock = -1, r;
	const struct kt_opt opts[] = {
		{ .name = "user", .short_name = 'u', .str = &user },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (argc - optind != 1)
		return kt_usage(argc == optind ? "SPID/SID is required" :
		    "one SPID/SID at a time");
	if ((r = kt_parse_ss(argv[optind], spid, sid)) != 0)
		return r;
	memset(&e, 0, sizeof(e));
	if (user != NULL) {
		if (strlen(user) >= sizeof(e.user))
			return kt_usage("--user \"%s\" is too long", user);
		if ((r = kt_owner(user, 1, &svcown)) != 0)
			return r;
	} else
		kt_owner(NULL, 0, &svcown);

	if ((r = kt_lock_load(kt, &lock, &kr)) != 0)
		goto out;
	e.kind = MOB_ENTRY_SERVICE;
	snprintf(e.id, sizeof(e.id), "%s/%s", mob_keyring_hid(kr), sid);
	memcpy(e.spid, spid, sizeof(e.spid));
	if (user != NULL)
		snprintf(e.user, sizeof(e.user), "%s", user);
	e.alg = mob_keyring_mode(kr) == MOB_MODE_COMPAT ? MOB_ALG_HS256 :
	    MOB_ALG_EDDSA;
	e.state = MOB_KS_ACTIVE;
	if ((old = mob_keyring_find(kr, e.id)) != NULL &&
	    old->state != MOB_KS_REVOKED) {
		log_warnx("%s already has a key (spid %s); use rotate to "
		    "replace it", e.id, old->spid);
		r = MOB_EEXIST;
		goto out;
	}
	mob_keyring_prune(kr, kt_now());
	kt_sidpath(kt, sid, path, sizeof(path));
	if ((r = kt_install(kt, kr, &e, path, &svcown)) != 0)
		goto out;
	kt_fpr(e.key, fpr);
	printf("added %s/%s as %s (%s, fingerprint %s); key file %s\n", spid,
	    sid, e.id, mob_alg_name(e.alg), fpr, path);
 out:
	mob_keyring_unlock(lock);
	mob_key_free(e.key);
	mob_keyring_free(kr);
	return r;
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

int
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
	if ((r = kt_load(path, &kr)) != 0)
		return r;
	printf("# %s: node %s, mode %s\n", path, mob_keyring_hid(kr),
	    mob_keyring_mode(kr) == MOB_MODE_COMPAT ? "compat" : "hardened");
	printf("%-7s %-10s %-4s %-5s %-7s %-20s %-16s %s\n", "KIND", "ID",
	    "SPID", "ALG", "STATE", "NOT-AFTER", "USER",
	    show ? "FINGERPRINT       KEY" : "FINGERPRINT");
	for (size_t i = 0; i < mob_keyring_count(kr); i++)
		kt_list_entry(mob_keyring_entry(kr, i), kt_now(), show);
	/* the node's keyring: its peers too (DIR/peers, import-peer) */
	if (path == kt->keyring) {
		struct mob_keyring *peers = NULL;
		size_t moved;

		if ((r = kt_peers_load(kt, kr, 0, &peers, &moved)) == 0)
			for (size_t i = 0; i < mob_keyring_count(peers); i++)
				kt_list_entry(mob_keyring_entry(peers, i),
				    kt_now(), show);
		mob_keyring_free(peers);
	}
	mob_keyring_free(kr);
	return r;
}

/* Common head of revoke and rotate: parse SPID/SID, lock, load, match. */
static int
kt_service_op(struct kt *kt, const char *ss, int *lock,
    struct mob_keyring **kr, char id[MOB_ID_MAX], char sid[4])
{
	const struct mob_kr_entry *e;
	char spid[5];
	int r;

	if ((r = kt_parse_ss(ss, spid, sid)) != 0 ||
	    (r = kt_lock_load(kt, lock, kr)) != 0)
		return r;
	snprintf(id, MOB_ID_MAX, "%s/%s", mob_keyring_hid((*kr)), sid);
	if ((e = mob_keyring_find(*kr, id)) == NULL ||
	    e->kind != MOB_ENTRY_SERVICE) {
		log_warnx("no service key for %s", id);
		return MOB_ENOTFOUND;
	}
	if (strcmp(e->spid, spid) != 0) {
		log_warnx("%s has spid %s, not %s", id, e->spid, spid);
		return MOB_EIDENTITY;
	}
	return 0;
}

int
cmd_revoke(struct kt *kt, int argc, char **argv)
{
	static const struct kt_opt opts[] = {
		{ .name = NULL }
	};
	struct mob_keyring *kr = NULL;
	char id[MOB_ID_MAX], sid[4], path[PATH_MAX];
	size_t n;
	int lock = -1, ret;

	if ((ret = kt_getopt(argc, argv, opts)) != KT_GO)
		return ret;
	if (argc - optind != 1)
		return kt_usage("SPID/SID is required");
	if ((ret = kt_service_op(kt, argv[optind], &lock, &kr, id, sid)) != 0)
		goto out;
	mob_keyring_prune(kr, kt_now());
	if ((n = mob_keyring_revoke(kr, id)) == 0) {
		log_warnx("%s is already revoked", id);
		ret = MOB_EREVOKED;
		goto out;
	}
	if ((ret = kt_save_keyring(kt, kr)) != 0)
		goto out;
	/* Revoked material has no use left; the service must not start on it. */
	kt_sidpath(kt, sid, path, sizeof(path));
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
	printf("revoked %s (%zu key%s); removed %s; run mobius-keytool reload "
	    "so a running hub drops it\n", id, n, n == 1 ? "" : "s", path);
 out:
	mob_keyring_unlock(lock);
	mob_keyring_free(kr);
	return ret;
}

uid_t
kt_file_uid(const char *path, gid_t *gid)
{
	struct stat st;

	*gid = (gid_t)-1;
	if (geteuid() != 0 || stat(path, &st) == -1)
		return (uid_t)-1;
	*gid = st.st_gid;
	return st.st_uid;
}

int
kt_opt_grace(const char *arg, void *out)
{
	if (kt_parse_duration(arg, out) != 0)
		return kt_usage("bad --grace \"%s\": want e.g. 30s, 15m, 1h or "
		    "2d (at most 30d)", arg);
	return 0;
}

int
cmd_rotate(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL;
	const struct mob_kr_entry *old;
	struct mob_kr_entry e;
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
	now = kt_now();
	mob_keyring_prune(kr, now);
	if ((old = mob_keyring_lookup(kr, id, 0, now)) == NULL ||
	    old->state != MOB_KS_ACTIVE) {
		log_warnx("%s has no active key (revoked?); use add", id);
		ret = MOB_ENOTFOUND;
		goto out;
	}
	e = *old;
	e.key = NULL;
	kt_sidpath(kt, sid, path, sizeof(path));
	/* Keep the key file's owner: root may rotate a key it did not add. */
	if (kt_owner(e.user, 0, &svcown) != 0 || svcown.uid == (uid_t)-1)
		svcown.uid = kt_file_uid(path, &svcown.gid);
	/* Only in memory until kt_install saves the keyring. */
	mob_keyring_retire(kr, id, grace > 0 ? now + grace : 0);
	if ((ret = kt_install(kt, kr, &e, path, &svcown)) != 0)
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
 out:
	mob_keyring_unlock(lock);
	mob_key_free(e.key);
	mob_keyring_free(kr);
	return ret;
}
