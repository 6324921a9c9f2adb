/*
 * mobius-keytool init: the node's keyring and hub key.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "mobius/log.h"

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

int
cmd_init(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL, *hk = NULL;
	struct mob_kr_entry e;
	struct kt_owner own;
	enum mob_mode mode = MOB_MODE_HARDENED;
	const char *hid = NULL;
	char fpr[MOB_FPR_LEN + 1];
	int force = 0, lock = -1, r;
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

	if ((r = kt_mkdirs(kt->dir)) != 0 || (r = kt_lock(kt, &lock)) != 0)
		goto out;
	if (!force && access(kt->keyring, F_OK) == 0) {
		log_warnx("%s exists; --force replaces it (and drops every key "
		    "in it)", kt->keyring);
		r = MOB_EEXIST;
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
	if ((r = kt_save(hk, kt->hubkey, &own)) != 0 ||
	    (r = kt_save(kr, kt->keyring, &own)) != 0)
		goto out;
	kt_fpr(e.key, fpr);
	printf("initialized node %s in %s: mode %s (%s), hub key %s/000 "
	    "fingerprint %s\n", hid, kt->dir, mode == MOB_MODE_COMPAT ?
	    "compat" : "hardened", mob_alg_name(e.alg), hid, fpr);
	r = kt_api_cert_make(kt, 1);
 out:
	mob_keyring_unlock(lock);
	mob_key_free(e.key);
	mob_keyring_free(hk);
	mob_keyring_free(kr);
	return r;
}
