/*
 * mobius-keytool pubkey FILE: the public half of a key file, as the line
 * the node's keyring holds for it (like ssh-keygen -y, wg pubkey).  Reads
 * no keyring directory: FILE is all it needs.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mobius/err.h"
#include "mobius/keyring.h"
#include "mobius/log.h"
#include "internal.h"

int
cmd_pubkey(struct kt *kt, int argc, char **argv)
{
	struct mob_kr_entry own;
	struct mob_keyring *pub = NULL;
	char err[512], fpr[MOB_FPR_LEN + 1], hid[7], *text = NULL;
	size_t len = 0;
	int r;
	const struct kt_opt opts[] = { { .name = NULL } };

	(void)kt;
	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (argc - optind != 1)
		return kt_usage("FILE is required: a key file (DIR/SID.key, hub.key)");
	memset(&own, 0, sizeof(own));
	if ((r = mob_keyfile_load_own(argv[optind], &own, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return r;
	}
	if (own.alg != MOB_ALG_EDDSA) {
		log_warnx("%s holds a shared secret (%s): it has no public half",
		    argv[optind], own.id);
		r = MOB_EALGMISMATCH;
		goto out;
	}
	snprintf(hid, sizeof(hid), "%.6s", own.id);
	if ((r = mob_keyring_new(hid, MOB_MODE_HARDENED, &pub)) != 0 ||
	    (r = kt_add_copy(pub, &own, 1)) != 0 ||
	    (r = mob_keyring_format(pub, &text, &len)) != 0) {
		kt_err(r, "pubkey");
		goto out;
	}
	kt_fpr(own.key, fpr);
	/* the entry lines, without the keyring's header */
	printf("# %s, fingerprint %s\n%s", own.id, fpr,
	    strchr(strchr(text, '\n') + 1, '\n') + 1);
 out:
	mob_keyring_text_free(text, len);
	mob_keyring_free(pub);
	mob_key_free(own.key);
	return r;
}
