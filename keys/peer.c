/*
 * mobius-keytool: peer keys between nodes (export-peer, import-peer,
 * remove-peer).
 *
 * The peers of a node and their keys are in DIR/peers (KT_PEERS), a
 * keyring text of public peer entries: import-peer and remove-peer write
 * it, and mobius-router reads exactly that file (--peers), again whenever
 * it changes.  Public keys only, so it is 0644: the router reads it as its
 * own user; what guards it is that only root (keytool) may write it.
 * Peers imported into DIR/keyring by earlier versions move to it on the
 * next import-peer or remove-peer.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "internal.h"
#include "mobius/file.h"
#include "mobius/log.h"
#include "mobius/proto.h"

void
kt_peers_path(const struct kt *kt, char *buf, size_t len)
{
	snprintf(buf, len, "%s/" KT_PEERS, kt->dir);
}

/*
 * The peer file of node (whose keyring is node), or an empty one when
 * there is none; with migrate, the peer entries still in the node's
 * keyring move into it (*moved counts them).
 */
int
kt_peers_load(const struct kt *kt, struct mob_keyring *node, int migrate,
    struct mob_keyring **out, size_t *moved)
{
	char path[PATH_MAX], err[512], *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	*moved = 0;
	kt_peers_path(kt, path, sizeof(path));
	r = mob_file_read(path, MOB_KEYRING_MAX, MOB_FILE_NOFOLLOW, &buf, &len,
	    err, sizeof(err));
	if (r == MOB_ENOTFOUND)
		r = mob_keyring_new(mob_keyring_hid(node), mob_keyring_mode(node),
		    out);
	else if (r == 0)
		r = mob_keyring_parse(buf, len, path, out, err, sizeof(err));
	mob_file_free(buf, len);
	if (r != 0) {
		log_warnx("%s", err);
		return r;
	}
	if (strcmp(mob_keyring_hid(*out), mob_keyring_hid(node)) != 0) {
		log_warnx("%s: peers of node %s, but this is node %s", path,
		    mob_keyring_hid(*out), mob_keyring_hid(node));
		return MOB_EIDENTITY;
	}
	for (size_t i = 0; migrate && i < mob_keyring_count(node);) {
		const struct mob_kr_entry *e = mob_keyring_entry(node, i);
		char id[MOB_ID_MAX];

		if (e->kind != MOB_ENTRY_PEER) {
			i++;
			continue;
		}
		snprintf(id, sizeof(id), "%s", e->id);
		if (mob_keyring_find(*out, id) == NULL)
			for (size_t j = i; j < mob_keyring_count(node); j++) {
				e = mob_keyring_entry(node, j);
				if (strcmp(e->id, id) == 0 &&
				    (r = kt_add_copy(*out, e, 1)) != 0)
					return r;
			}
		*moved += mob_keyring_remove_id(node, id);
	}
	return 0;
}

/* Public keys: world-readable, so that the router can read it. */
int
kt_peers_save(const struct kt *kt, const struct mob_keyring *kr)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int r;

	kt_peers_path(kt, path, sizeof(path));
	if ((r = mob_keyring_format(kr, &text, &len)) == 0)
		r = mob_file_write_atomic(path, text, len, 0644);
	if (r != 0)
		kt_err(r, path);
	mob_keyring_text_free(text, len);
	return r;
}

/* Both files after a change of peers: the keyring only if entries moved. */
static int
kt_peers_commit(struct kt *kt, struct mob_keyring *node,
    const struct mob_keyring *peers, size_t moved)
{
	int r;

	if ((r = kt_peers_save(kt, peers)) != 0)
		return r;
	if (moved > 0 && (r = kt_save_keyring(kt, node)) == 0)
		printf("moved %zu peer key(s) from %s to the peer file\n", moved,
		    kt->keyring);
	return r;
}

int
cmd_export_peer(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL, *rk = NULL, *pub = NULL;
	struct mob_kr_entry own, e;
	struct kt_owner o;
	const char *user = NULL, *sid = KT_ROUTER_SID;
	char err[512], fpr[MOB_FPR_LEN + 1], path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int lock = -1, r, created = 0;
	const struct kt_opt opts[] = {
		{ .name = "user", .short_name = 'u', .str = &user },
		{ .name = "sid", .str = &sid },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (optind != argc)
		return kt_usage("unexpected argument \"%s\"", argv[optind]);
	if (!mob_sid_valid(sid) || strcmp(sid, "000") == 0)
		return kt_usage("bad --sid \"%s\": want the router's SID, 3 "
		    "upper-case hex digits", sid);
	snprintf(path, sizeof(path), "%s/%s.external.key", kt->dir, sid);
	memset(&own, 0, sizeof(own));
	memset(&e, 0, sizeof(e));
	if (user != NULL && strlen(user) >= sizeof(e.user))
		return kt_usage("--user \"%s\" is too long", user);
	if ((r = kt_owner(user, 1, &o)) != 0)
		return r;
	if ((r = kt_lock_load(kt, &lock, &kr)) != 0)
		goto out;
	r = mob_keyfile_load_own(path, &own, err, sizeof(err));
	if (r == MOB_ENOTFOUND && access(path, F_OK) == -1) {
		/* First use: the router's external key, never a PSK. */
		e.kind = MOB_ENTRY_PEER;
		snprintf(e.id, sizeof(e.id), "%s/%s", mob_keyring_hid(kr), sid);
		if (user != NULL)
			snprintf(e.user, sizeof(e.user), "%s", user);
		e.alg = MOB_ALG_EDDSA;
		e.state = MOB_KS_ACTIVE;
		if ((r = mob_key_generate(MOB_ALG_EDDSA, &e.key)) != 0 ||
		    (r = mob_keyring_new(mob_keyring_hid(kr),
		    mob_keyring_mode(kr), &rk)) != 0 ||
		    (r = kt_add_copy(rk, &e, 0)) != 0) {
			kt_err(r, path);
			goto out;
		}
		if ((r = kt_save(rk, path, &o)) != 0)
			goto out;
		own = e;
		e.key = NULL;
		created = 1;
	} else if (r != 0) {
		log_warnx("%s", err);
		goto out;
	}
	if (own.kind != MOB_ENTRY_PEER ||
	    strncmp(own.id, mob_keyring_hid(kr), 6) != 0 ||
	    strcmp(own.id + 7, sid) != 0) {
		log_warnx("%s holds %s %s, not this node's peer key %s/%s",
		    path, mob_kr_kind_name(own.kind), own.id,
		    mob_keyring_hid(kr), sid);
		r = MOB_EIDENTITY;
		goto out;
	}
	if ((r = mob_keyring_new(mob_keyring_hid(kr), mob_keyring_mode(kr),
	    &pub)) != 0 ||
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
	    "run\n#   mobius-keytool import-peer FILE\n%s", mob_keyring_hid(kr), fpr,
	    strchr(text, '\n') + 1);
 out:
	mob_keyring_text_free(text, len);
	mob_keyring_unlock(lock);
	mob_key_free(own.key);
	mob_key_free(e.key);
	mob_keyring_free(pub);
	mob_keyring_free(rk);
	mob_keyring_free(kr);
	return r;
}

static int
kt_read_public(const char *file, char **buf, size_t *len)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	size_t n;
	int r;

	*buf = NULL;
	if (f == NULL) {
		log_warn("%s", file);
		return MOB_ESYS;
	}
	if ((*buf = malloc(KT_IMPORT_MAX + 1)) == NULL) {
		log_warnx("out of memory");
		r = MOB_ENOMEM;
		goto fail;
	}
	n = fread(*buf, 1, KT_IMPORT_MAX + 1, f);
	if (ferror(f) || n > KT_IMPORT_MAX) {
		log_warnx("%s: %s", file, ferror(f) ? "read error" :
		    "larger than 64 KiB");
		r = ferror(f) ? MOB_ESYS : MOB_ETOOLONG;
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
	return r;
}

/* Check an imported entry; *same when the same key is already there. */
static int
kt_import_one(struct mob_keyring *kr, const struct mob_keyring *node,
    const struct mob_kr_entry *e, const char *file, int replace, int *same)
{
	char a[MOB_FPR_LEN + 1], b[MOB_FPR_LEN + 1];
	const struct mob_kr_entry *have;

	*same = 0;
	if (e->kind != MOB_ENTRY_PEER || mob_key_can_sign(e->key)) {
		log_warnx("%s: %s %s is not a public peer entry; import only "
		    "what export-peer prints", file, mob_kr_kind_name(e->kind),
		    e->id);
		return MOB_EINVAL;
	}
	if (e->state != MOB_KS_ACTIVE) {
		log_warnx("%s: peer %s is %s", file, e->id,
		    mob_kr_state_name(e->state));
		return MOB_EREVOKED;
	}
	if (strncmp(e->id, mob_keyring_hid(node), 6) == 0) {
		log_warnx("%s: %s is this node's own key", file, e->id);
		return MOB_EIDENTITY;
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
		return MOB_EEXIST;
	}
	mob_keyring_remove_id(kr, e->id);
	return 0;
}

int
cmd_import_peer(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL, *in = NULL, *peers = NULL;
	char err[512], fpr[MOB_FPR_LEN + 1], *buf = NULL;
	size_t len = 0, moved = 0;
	int lock = -1, r, replace = 0, same, added = 0;
	const struct kt_opt opts[] = {
		{ .name = "replace", .flag = &replace },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (argc - optind != 1)
		return kt_usage("FILE (or - for stdin) is required");
	if ((r = kt_read_public(argv[optind], &buf, &len)) != 0)
		return r;
	r = mob_keyring_parse(buf, len, argv[optind], &in, err, sizeof(err));
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (r != 0) {
		log_warnx("%s", err);
		return r;
	}
	if (mob_keyring_count(in) == 0) {
		log_warnx("%s: no peer entry", argv[optind]);
		r = MOB_ENOTFOUND;
		goto out;
	}
	if ((r = kt_lock_load(kt, &lock, &kr)) != 0 ||
	    (r = kt_peers_load(kt, kr, 1, &peers, &moved)) != 0)
		goto out;
	mob_keyring_prune(peers, kt_now());
	for (size_t i = 0; i < mob_keyring_count(in); i++) {
		struct mob_kr_entry c = *mob_keyring_entry(in, i), *e = &c;

		if ((r = kt_import_one(peers, kr, e, argv[optind], replace,
		    &same)) != 0)
			goto out;
		if (same) {
			printf("peer %s: already imported\n", e->id);
			continue;
		}
		e->user[0] = '\0';
		if ((r = kt_add_copy(peers, e, 1)) != 0) {
			kt_err(r, e->id);
			goto out;
		}
		kt_fpr(e->key, fpr);
		printf("imported peer %s (fingerprint %s)\n", e->id, fpr);
		added++;
	}
	if ((added > 0 || moved > 0) &&
	    (r = kt_peers_commit(kt, kr, peers, moved)) != 0)
		goto out;
	if (added > 0)
		printf("running routers of this node pick it up within a second\n");
 out:
	mob_keyring_unlock(lock);
	mob_keyring_free(in);
	mob_keyring_free(peers);
	mob_keyring_free(kr);
	return r;
}

/* The undo of import-peer: the node's routers stop trusting that peer key. */
int
cmd_remove_peer(struct kt *kt, int argc, char **argv)
{
	static const struct kt_opt opts[] = {
		{ .name = NULL }
	};
	const struct mob_kr_entry *e;
	struct mob_keyring *kr = NULL, *peers = NULL;
	size_t moved = 0;
	int lock = -1, r;

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (argc - optind != 1)
		return kt_usage("HID/SID of the peer is required");
	if ((r = kt_lock_load(kt, &lock, &kr)) != 0 ||
	    (r = kt_peers_load(kt, kr, 1, &peers, &moved)) != 0)
		goto out;
	if ((e = mob_keyring_find(peers, argv[optind])) == NULL ||
	    e->kind != MOB_ENTRY_PEER) {
		log_warnx("%s: no peer key of that name", argv[optind]);
		r = MOB_ENOTFOUND;
		if (moved > 0)
			kt_peers_commit(kt, kr, peers, moved);
		goto out;
	}
	mob_keyring_remove_id(peers, argv[optind]);
	if ((r = kt_peers_commit(kt, kr, peers, moved)) != 0)
		goto out;
	printf("removed peer %s; running routers of this node drop it within "
	    "a second\n", argv[optind]);
 out:
	mob_keyring_unlock(lock);
	mob_keyring_free(peers);
	mob_keyring_free(kr);
	return r;
}
