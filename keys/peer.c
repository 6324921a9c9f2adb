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
#include "mobius/b64.h"
#include "mobius/file.h"
#include "mobius/log.h"
#include "mobius/proto.h"
#include "mobius/time.h"

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
	if ((r = mob_keyring_format(kr, &text, &len)) == 0) {
		/* not the keyring's "keep it 0600" comment: this one is public */
		static const char head[] = "# Mobius peers (docs/keys.md): the "
		    "remote routers' public keys, as mobius-keytool import-peer "
		    "wrote them; mode 0644, only root writes it.\n";
		const char *body = strstr(text, "mobius-keyring ");
		size_t blen = body != NULL ? len - (size_t)(body - text) : 0;
		char *out = body != NULL ? malloc(sizeof(head) + blen) : NULL;

		if (out == NULL)
			r = MOB_ENOMEM;
		else {
			memcpy(out, head, sizeof(head) - 1);
			memcpy(out + sizeof(head) - 1, body, blen);
			r = mob_file_write_atomic(path, out, sizeof(head) - 1 +
			    blen, 0644);
			free(out);
		}
	}
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

/* DIR/SID.external.key: the router's own peer keys (private). */
static void
kt_external_path(const struct kt *kt, const char *sid, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.external.key", kt->dir, sid);
}

static int
kt_opt_sid(const char *arg, void *out)
{
	if (!mob_sid_valid(arg) || strcmp(arg, "000") == 0)
		return kt_usage("bad --sid \"%s\": want the router's SID, 3 "
		    "upper-case hex digits", arg);
	*(const char **)out = arg;
	return 0;
}

/* The first export: the router's external key, never a PSK. */
static int
kt_external_create(const struct mob_keyring *kr, const char *sid,
    const char *user, const char *path, const struct kt_owner *o)
{
	struct mob_keyring *rk = NULL;
	struct mob_kr_entry e;
	int r;

	memset(&e, 0, sizeof(e));
	e.kind = MOB_ENTRY_PEER;
	snprintf(e.id, sizeof(e.id), "%s/%s", mob_keyring_hid(kr), sid);
	if (user != NULL)
		snprintf(e.user, sizeof(e.user), "%s", user);
	e.alg = MOB_ALG_EDDSA;
	e.state = MOB_KS_ACTIVE;
	if ((r = mob_key_generate(MOB_ALG_EDDSA, &e.key)) != 0 ||
	    (r = mob_keyring_new(mob_keyring_hid(kr), mob_keyring_mode(kr),
	    &rk)) != 0 || (r = kt_add_copy(rk, &e, 0)) != 0)
		kt_err(r, path);
	else if ((r = kt_save(rk, path, o)) == 0)
		fprintf(stderr, "mobius-keytool: created %s (the router's "
		    "external key %s)\n", path, e.id);
	mob_key_free(e.key);
	mob_keyring_free(rk);
	return r;
}

/*
 * The router's external key file, checked: this node's peer entries for
 * HID/SID, one active; *active is it.
 */
static int
kt_external_load(const struct mob_keyring *kr, const char *sid,
    const char *path, struct mob_keyring **ext,
    const struct mob_kr_entry **active)
{
	char err[512], id[MOB_ID_MAX];
	int r;

	*active = NULL;
	if ((r = mob_keyring_load(path, ext, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return r;
	}
	snprintf(id, sizeof(id), "%s/%s", mob_keyring_hid(kr), sid);
	for (size_t i = 0; i < mob_keyring_count(*ext); i++) {
		const struct mob_kr_entry *e = mob_keyring_entry(*ext, i);

		if (e->kind != MOB_ENTRY_PEER || strcmp(e->id, id) != 0 ||
		    !mob_key_can_sign(e->key)) {
			log_warnx("%s holds %s %s, not this node's peer key %s",
			    path, mob_kr_kind_name(e->kind), e->id, id);
			return MOB_EIDENTITY;
		}
		if (e->state == MOB_KS_ACTIVE)
			*active = e;
	}
	if (*active == NULL) {
		log_warnx("%s: no active key for %s", path, id);
		return MOB_ENOTFOUND;
	}
	return 0;
}

/*
 * A rotation is signed by the key it replaces: what the old key says is
 * id, the new public key and its own, so an import can take the new key
 * on the word of the key it already trusts (docs/keys.md "Rotating a
 * router's external key").  Text: "# rotation ID OLDFPR -> NEWFPR sig=B64".
 */
#define KT_ROT_CONTEXT	"mobius peer rotation v1"
#define KT_ROT_MAX	8

struct kt_rot {
	char id[MOB_ID_MAX];
	char old_fpr[MOB_FPR_LEN + 1], new_fpr[MOB_FPR_LEN + 1];
	uint8_t sig[64];
	size_t siglen;
};

/*
 * The signed bytes: context NUL id NUL new public (32) old public (32)
 * and the old key's not-after (8, big-endian): the old key also vouches
 * for how long it stays accepted.
 */
static int
kt_rot_msg(const char *id, const struct mob_key *neu, const struct mob_key *old,
    int64_t old_until, uint8_t *msg, size_t len, size_t *n)
{
	size_t c = sizeof(KT_ROT_CONTEXT), i = strlen(id) + 1;

	if (c + i + 72 > len ||
	    mob_key_raw(neu, 0, msg + c + i, 32) != 32 ||
	    mob_key_raw(old, 0, msg + c + i + 32, 32) != 32)
		return MOB_EINVAL;
	memcpy(msg, KT_ROT_CONTEXT, c);
	memcpy(msg + c, id, i);
	for (int k = 0; k < 8; k++)
		msg[c + i + 64 + k] = (uint8_t)((uint64_t)old_until >>
		    (56 - 8 * k));
	*n = c + i + 72;
	return 0;
}

/* Print the rotation line of old (private, in its grace) to neu. */
static int
kt_rot_print(const char *id, const struct mob_key *neu,
    const struct mob_key *old, int64_t old_until)
{
	uint8_t msg[160], sig[64];
	char b64[MOB_B64URL_LEN(64) + 1];
	char of[MOB_FPR_LEN + 1], nf[MOB_FPR_LEN + 1];
	size_t n, slen;
	int r;

	if ((r = kt_rot_msg(id, neu, old, old_until, msg, sizeof(msg),
	    &n)) != 0 ||
	    (r = mob_key_sign(old, msg, n, sig, sizeof(sig), &slen)) != 0 ||
	    (r = mob_b64url_encode(sig, slen, b64, sizeof(b64))) < 0)
		return r < 0 ? r : MOB_EINVAL;
	kt_fpr(old, of);
	kt_fpr(neu, nf);
	printf("# rotation %s %s -> %s sig=%s\n", id, of, nf, b64);
	return 0;
}

/* The rotation lines of an export-peer text (at most KT_ROT_MAX). */
static size_t
kt_rot_read(const char *buf, size_t len, struct kt_rot *rot)
{
	const char *p = buf, *end = buf + len;
	size_t n = 0;

	while (p < end && n < KT_ROT_MAX) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = (size_t)((nl != NULL ? nl : end) - p);
		char line[256], sig[128];
		struct kt_rot *r = &rot[n];
		int used = 0;

		if (ll < sizeof(line) && ll > 11 &&
		    memcmp(p, "# rotation ", 11) == 0) {
			memcpy(line, p, ll);
			line[ll] = '\0';
			if (sscanf(line, "# rotation %10s %50s -> %50s "
			    "sig=%127s%n", r->id, r->old_fpr, r->new_fpr, sig,
			    &used) == 4 && (size_t)used == ll &&
			    mob_b64url_decode(sig, strlen(sig), r->sig,
			    sizeof(r->sig), &r->siglen) == 0 && r->siglen == 64)
				n++;
		}
		p += ll + 1;
	}
	return n;
}

/*
 * 1 if one of rot says, signed by old (the key this node has for id),
 * that neu replaces it; else 0.
 */
static int
kt_rot_valid(const struct kt_rot *rot, size_t nrot, const char *id,
    const struct mob_key *neu, const struct mob_key *old, int64_t old_until)
{
	char of[MOB_FPR_LEN + 1], nf[MOB_FPR_LEN + 1];
	uint8_t msg[160];
	size_t n;

	kt_fpr(old, of);
	kt_fpr(neu, nf);
	if (kt_rot_msg(id, neu, old, old_until, msg, sizeof(msg), &n) != 0)
		return 0;
	for (size_t i = 0; i < nrot; i++)
		if (strcmp(rot[i].id, id) == 0 &&
		    strcmp(rot[i].old_fpr, of) == 0 &&
		    strcmp(rot[i].new_fpr, nf) == 0 &&
		    mob_key_verify(old, msg, n, rot[i].sig, rot[i].siglen) == 0)
			return 1;
	return 0;
}

int
cmd_export_peer(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL, *ext = NULL, *pub = NULL;
	const struct mob_kr_entry *active;
	struct kt_owner o;
	const char *user = NULL, *sid = KT_ROUTER_SID;
	char fpr[MOB_FPR_LEN + 1], path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int64_t now = kt_now();
	int lock = -1, r;
	const struct kt_opt opts[] = {
		{ .name = "user", .short_name = 'u', .str = &user },
		{ .name = "sid", .parse = kt_opt_sid, .val = &sid },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (optind != argc)
		return kt_usage("unexpected argument \"%s\"", argv[optind]);
	kt_external_path(kt, sid, path, sizeof(path));
	if (user != NULL && strlen(user) >= sizeof(active->user))
		return kt_usage("--user \"%s\" is too long", user);
	if ((r = kt_owner(user, 1, &o)) != 0)
		return r;
	if ((r = kt_lock_load(kt, &lock, &kr)) != 0)
		goto out;
	if (access(path, F_OK) == -1 &&
	    (r = kt_external_create(kr, sid, user, path, &o)) != 0)
		goto out;
	if ((r = kt_external_load(kr, sid, path, &ext, &active)) != 0)
		goto out;
	/* the active key first, then those in their grace (a rotation) */
	if ((r = mob_keyring_new(mob_keyring_hid(kr), mob_keyring_mode(kr),
	    &pub)) != 0 || (r = kt_add_copy(pub, active, 1)) != 0)
		goto fail;
	for (size_t i = 0; i < mob_keyring_count(ext); i++) {
		const struct mob_kr_entry *e = mob_keyring_entry(ext, i);

		if (e->state == MOB_KS_GRACE && e->not_after > now &&
		    (r = kt_add_copy(pub, e, 1)) != 0)
			goto fail;
	}
	if ((r = mob_keyring_format(pub, &text, &len)) != 0)
		goto fail;
	kt_fpr(active->key, fpr);
	printf("# Peer key of node %s (fingerprint %s): on the other node "
	    "run\n#   mobius-keytool import-peer FILE\n", mob_keyring_hid(kr),
	    fpr);
	for (size_t i = 0; i < mob_keyring_count(ext); i++) {
		const struct mob_kr_entry *e = mob_keyring_entry(ext, i);

		if (e->state == MOB_KS_GRACE && e->not_after > now &&
		    mob_key_can_sign(e->key) &&
		    (r = kt_rot_print(active->id, active->key, e->key,
		    e->not_after)) != 0)
			goto fail;
	}
	printf("%s", strchr(text, '\n') + 1);
	goto out;
 fail:
	kt_err(r, "export");
 out:
	mob_keyring_text_free(text, len);
	mob_keyring_unlock(lock);
	mob_keyring_free(pub);
	mob_keyring_free(ext);
	mob_keyring_free(kr);
	return r;
}

/*
 * A new external key for the router; the old one stays in the file in its
 * grace (the router signs with it, and accepts frames to it, until then),
 * as rotate does for a service key.
 */
int
cmd_rotate_peer(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL, *ext = NULL;
	const struct mob_kr_entry *active;
	struct mob_kr_entry e;
	struct kt_owner o;
	const char *sid = KT_ROUTER_SID;
	char path[PATH_MAX], fpr[MOB_FPR_LEN + 1], until[24];
	int64_t grace = KT_GRACE_DEFAULT, now = kt_now();
	int lock = -1, r;
	const struct kt_opt opts[] = {
		{ .name = "sid", .parse = kt_opt_sid, .val = &sid },
		{ .name = "grace", .short_name = 'g', .parse = kt_opt_grace,
		    .val = &grace },
		{ .name = NULL }
	};

	memset(&e, 0, sizeof(e));
	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (optind != argc)
		return kt_usage("unexpected argument \"%s\"", argv[optind]);
	kt_external_path(kt, sid, path, sizeof(path));
	if ((r = kt_lock_load(kt, &lock, &kr)) != 0)
		goto out;
	if (access(path, F_OK) == -1) {
		log_warnx("%s: no external key yet (export-peer makes it)", path);
		r = MOB_ENOTFOUND;
		goto out;
	}
	if ((r = kt_external_load(kr, sid, path, &ext, &active)) != 0)
		goto out;
	mob_keyring_prune(ext, now);
	e = *active;
	e.key = NULL;
	o.uid = kt_file_uid(path, &o.gid);	/* the router's, as it was */
	if ((r = mob_key_generate(MOB_ALG_EDDSA, &e.key)) != 0 ||
	    (r = mob_keyring_retire(ext, e.id, grace > 0 ? now + grace : 0)) != 0 ||
	    (r = kt_add_copy(ext, &e, 0)) != 0) {
		kt_err(r, path);
		goto out;
	}
	if ((r = kt_save(ext, path, &o)) != 0)
		goto out;
	kt_fpr(e.key, fpr);
	if (grace > 0) {
		mob_time_format(now + grace, until, sizeof(until));
		printf("rotated %s: new key %s in %s; the old key is used and "
		    "accepted until %s\n", e.id, fpr, path, until);
	} else
		printf("rotated %s: new key %s in %s; the old key is gone\n",
		    e.id, fpr, path);
	printf("restart the router (mobius-router@%s), then give the output of "
	    "export-peer to every peer node (import-peer) before then\n", sid);
 out:
	mob_keyring_unlock(lock);
	mob_key_free(e.key);
	mob_keyring_free(ext);
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

/* Is a key with the fingerprint fpr among kr's entries for id? */
static int
kt_has_key(const struct mob_keyring *kr, const char *id, const char *fpr)
{
	char f[MOB_FPR_LEN + 1];

	for (size_t i = 0; i < mob_keyring_count(kr); i++) {
		const struct mob_kr_entry *e = mob_keyring_entry(kr, i);

		if (strcmp(e->id, id) != 0)
			continue;
		kt_fpr(e->key, f);
		if (strcmp(f, fpr) == 0)
			return 1;
	}
	return 0;
}

/*
 * What FILE says of one peer id: its active key and those in their grace
 * (after a rotation-peer there).  Checked as a whole; then it replaces
 * what this node had for the id when that is nothing yet, a subset of it
 * (nothing to do), a rotation (the active key we have is one of the
 * file's keys in grace), or --replace says so.  Returns 1 when peers
 * changed, 0 when not, or a MOB_E* (said).
 */
static int
kt_import_id(struct mob_keyring *peers, const struct mob_keyring *node,
    const struct mob_keyring *in, const char *id, const char *file,
    int replace, const struct kt_rot *rot, size_t nrot)
{
	const struct mob_kr_entry *have = mob_keyring_lookup(peers, id, 0,
	    kt_now()), *act = NULL, *held = NULL;
	char fpr[MOB_FPR_LEN + 1], hfpr[MOB_FPR_LEN + 1] = "", until[24];
	size_t nact = 0, nnew = 0;
	int rotated = 0, r;

	if (have != NULL)
		kt_fpr(have->key, hfpr);
	for (size_t i = 0; i < mob_keyring_count(in); i++) {
		const struct mob_kr_entry *e = mob_keyring_entry(in, i);

		if (strcmp(e->id, id) != 0)
			continue;
		if (e->kind != MOB_ENTRY_PEER || mob_key_can_sign(e->key)) {
			log_warnx("%s: %s %s is not a public peer entry; import "
			    "only what export-peer prints", file,
			    mob_kr_kind_name(e->kind), e->id);
			return MOB_EINVAL;
		}
		if (e->state == MOB_KS_REVOKED) {
			log_warnx("%s: peer %s is revoked", file, e->id);
			return MOB_EREVOKED;
		}
		if (strncmp(e->id, mob_keyring_hid(node), 6) == 0) {
			log_warnx("%s: %s is this node's own key", file, e->id);
			return MOB_EIDENTITY;
		}
		kt_fpr(e->key, fpr);
		if (e->state == MOB_KS_ACTIVE)
			act = e;
		nact += e->state == MOB_KS_ACTIVE;
		nnew += !kt_has_key(peers, id, fpr);
		if (e->state == MOB_KS_GRACE && strcmp(fpr, hfpr) == 0)
			held = e;
	}
	rotated = held != NULL;
	if (nact != 1) {
		log_warnx("%s: peer %s has %zu active keys; import only what "
		    "export-peer prints", file, id, nact);
		return MOB_EINVAL;
	}
	if (have != NULL && nnew == 0)
		return 0;
	if (have != NULL && !rotated && !replace) {
		log_warnx("%s: peer %s already has key %s, and this file does "
		    "not hold it as its previous key; --replace swaps it", file,
		    id, hfpr);
		return MOB_EEXIST;
	}
	/* a rotation is taken on the word of the key we have, not the file's */
	if (have != NULL && rotated && !replace &&
	    !kt_rot_valid(rot, nrot, id, act->key, have->key,
	    held->not_after)) {
		kt_fpr(act->key, fpr);
		log_warnx("%s: peer %s's new key %s is not signed by the key this "
		    "node has (%s); check the new fingerprint with the peer's "
		    "operator, then --replace takes it", file, id, fpr, hfpr);
		return MOB_EBADSIG;
	}
	mob_keyring_remove_id(peers, id);
	for (size_t i = 0; i < mob_keyring_count(in); i++) {
		struct mob_kr_entry c = *mob_keyring_entry(in, i);

		if (strcmp(c.id, id) != 0 ||
		    (c.state == MOB_KS_GRACE && c.not_after <= kt_now()))
			continue;
		/* on a signature, only what it covers: the new and the held key */
		if (rotated && !replace && c.state == MOB_KS_GRACE &&
		    mob_keyring_entry(in, i) != held) {
			kt_fpr(c.key, fpr);
			printf("  key %s in the file is not covered by the rotation "
			    "signature: not imported\n", fpr);
			continue;
		}
		c.user[0] = '\0';
		if ((r = kt_add_copy(peers, &c, 1)) != 0) {
			kt_err(r, id);
			return r;
		}
		kt_fpr(c.key, fpr);
		if (c.state == MOB_KS_ACTIVE)
			printf("%s peer %s (fingerprint %s)\n", have == NULL ?
			    "imported" : rotated ? "rotated" : "replaced", id, fpr);
		else {
			mob_time_format(c.not_after, until, sizeof(until));
			printf("  its previous key %s is accepted until %s\n",
			    fpr, until);
		}
	}
	return 1;
}

int
cmd_import_peer(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL, *in = NULL, *peers = NULL;
	struct kt_rot rot[KT_ROT_MAX];
	char err[512], *buf = NULL;
	size_t len = 0, moved = 0, nrot;
	int lock = -1, r, replace = 0, added = 0;
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
	nrot = kt_rot_read(buf, len, rot);
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
		const char *id = mob_keyring_entry(in, i)->id;
		size_t j;

		for (j = 0; j < i; j++)		/* each id once */
			if (strcmp(mob_keyring_entry(in, j)->id, id) == 0)
				break;
		if (j < i)
			continue;
		if ((r = kt_import_id(peers, kr, in, id, argv[optind],
		    replace, rot, nrot)) < 0)
			goto out;
		if (r == 0)
			printf("peer %s: already imported\n", id);
		added += r;
	}
	r = 0;
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
