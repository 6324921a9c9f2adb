/*
 * Keyrings (docs/keys.md): the hub's keyring and each service's own key
 * file share one line-oriented text format.  Loading refuses a file that
 * group or others can read (MOB_EPERM) and names file and line on a parse
 * error.  Saving is atomic (temp file, fsync, rename, fsync of the
 * directory) and serialized with flock on DIR/.lock.
 */
#ifndef MOBIUS_KEYRING_H
#define MOBIUS_KEYRING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mobius/key.h"
#include "mobius/time.h"
#include "mobius/uri.h"

enum mob_mode { MOB_MODE_HARDENED = 0, MOB_MODE_COMPAT = 1 };

enum mob_key_state {
	MOB_KS_ACTIVE = 0,
	MOB_KS_GRACE,		/* superseded by rotation; valid until not_after */
	MOB_KS_REVOKED,
};

enum mob_entry_kind {
	MOB_ENTRY_SERVICE = 0,	/* a service of this node */
	MOB_ENTRY_HUB,		/* the hub's own signing key (SID 000) */
	MOB_ENTRY_PEER,		/* a remote router's external key (peering) */
};

struct mob_kr_entry {
	enum mob_entry_kind kind;
	char id[MOB_ID_MAX];	/* HID/SID */
	char spid[5];		/* service profile, "" for hub/peer */
	char user[33];		/* unix user that owns the service ("" = none) */
	enum mob_alg alg;
	enum mob_key_state state;
	int64_t not_after;	/* unix seconds; 0 = none (grace entries have one) */
	struct mob_key *key;	/* public, or private/secret when the file holds it */
};

/*
 * A keyring: the node's HID, its mode and entries in file order, indexed
 * by id (a lookup costs the same with 1 entry or 16 000).
 *
 * Ownership: the keyring owns its entries and their keys.  A const
 * struct mob_kr_entry * from mob_keyring_entry, _next, _lookup or _find
 * points into the keyring and stays valid, whatever is added, until that
 * entry is removed (mob_keyring_remove, _remove_id, _retire with
 * not_after <= 0, _prune) or the keyring is freed; change an entry only
 * through the functions below.  Not thread-safe.
 */
struct mob_keyring;

const char *mob_keyring_hid(const struct mob_keyring *kr);
enum mob_mode mob_keyring_mode(const struct mob_keyring *kr);
/* Entries 0 .. count-1 in file order; NULL past the end. */
size_t mob_keyring_count(const struct mob_keyring *kr);
const struct mob_kr_entry *mob_keyring_entry(const struct mob_keyring *kr,
    size_t i);
/*
 * The entries of one id in file order: prev NULL gives the first, then
 * pass the previous one (id is then not used); NULL when there are no
 * more.
 */
const struct mob_kr_entry *mob_keyring_next(const struct mob_keyring *kr,
    const char *id, const struct mob_kr_entry *prev);

/* err receives "path:line: message" on a parse error. */
int mob_keyring_load(const char *path, struct mob_keyring **out, char *err, size_t errlen);
/*
 * The same, and the SHA-256 (lower-case hex) of the bytes it parsed: what
 * the hub reports having loaded and mobius-keytool reload waits for.
 */
#define MOB_KR_DIGEST_LEN	64
int mob_keyring_load_digest(const char *path, struct mob_keyring **out,
    char digest[MOB_KR_DIGEST_LEN + 1], char *err, size_t errlen);
/* Atomic write with mode 0600 (caller holds the lock for read-modify-write). */
int mob_keyring_save(const struct mob_keyring *kr, const char *path);
void mob_keyring_free(struct mob_keyring *kr);

/*
 * idx-th usable key for id at time now (unix s): the active entry first,
 * then grace entries not past not_after.  Revoked entries never.
 */
const struct mob_kr_entry *mob_keyring_lookup(const struct mob_keyring *kr,
    const char *id, size_t idx, int64_t now);
/* Any entry for id, whatever its state (for revocation checks and listing). */
const struct mob_kr_entry *mob_keyring_find(const struct mob_keyring *kr, const char *id);
/*
 * Add a copy of *e; takes ownership of e->key on success.  Checks the id,
 * that the key is of e->alg, and one active entry per id (MOB_EEXIST);
 * the file format's own rules (spid, the node's HID, alg by mode) are
 * checked when parsing.
 */
int mob_keyring_add(struct mob_keyring *kr, const struct mob_kr_entry *e);
/* Every entry of id not yet revoked becomes revoked; returns how many. */
size_t mob_keyring_revoke(struct mob_keyring *kr, const char *id);
/*
 * id's active entry goes into grace until not_after (unix s), or is
 * removed if not_after <= 0 (rotation); MOB_ENOTFOUND if there is none.
 */
int mob_keyring_retire(struct mob_keyring *kr, const char *id,
    int64_t not_after);
/* Remove every entry of id (their keys are freed); returns how many. */
size_t mob_keyring_remove_id(struct mob_keyring *kr, const char *id);

/* mob_key_lookup_fn adapter: ctx is a struct mob_keyring *. */
const struct mob_key *mob_keyring_lookup_fn(void *ctx, const char *kid, size_t idx);

/* flock(LOCK_EX) on DIR/.lock; returns fd >= 0 or error. */
int mob_keyring_lock(const char *dir);
void mob_keyring_unlock(int fd);

/* --- building, formatting, files ------------------------------------- */

#define MOB_KEYRING_MAX		(1024 * 1024)	/* file size cap */
#define MOB_KEYRING_LINE_MAX	1024		/* line length cap */
/* "SHA256:" and the full SHA-256 in unpadded base64, as OpenSSH prints */
#define MOB_FPR_LEN		50

/* An empty keyring for node hid ("000001"). */
int mob_keyring_new(const char *hid, enum mob_mode mode, struct mob_keyring **out);
/*
 * Parse len bytes of keyring text; name labels error messages ("name:line:
 * message").  No permission check: for public material (import-peer) and
 * fuzzing.
 */
int mob_keyring_parse(const char *buf, size_t len, const char *name,
    struct mob_keyring **out, char *err, size_t errlen);
/* The text of kr; *out is NUL-terminated, free it with mob_keyring_text_free. */
int mob_keyring_format(const struct mob_keyring *kr, char **out, size_t *outlen);
/* Cleanses (the text may hold secrets) and frees; accepts NULL. */
void mob_keyring_text_free(char *text, size_t len);
/*
 * As mob_keyring_save, the file owned by uid:gid; (uid_t)-1 keeps the
 * owner of the file it replaces (mob_file_write_temp).
 */
int mob_keyring_save_owned(const struct mob_keyring *kr, const char *path,
    uid_t uid, gid_t gid);
/* Remove grace entries whose not_after is <= now; returns how many. */
size_t mob_keyring_prune(struct mob_keyring *kr, int64_t now);
/* Remove entry i (its key is freed). */
void mob_keyring_remove(struct mob_keyring *kr, size_t i);
/* Entry name as written in the file: "service", "hub", "peer". */
const char *mob_kr_kind_name(enum mob_entry_kind kind);
const char *mob_kr_state_name(enum mob_key_state state);
/*
 * Fingerprint: SHA-256 of the raw public key (EdDSA, 32 bytes) or of the
 * secret (HS256), as OpenSSH prints one: "SHA256:" and 43 chars of
 * unpadded standard base64, NUL-terminated.
 */
int mob_kr_fingerprint(const struct mob_key *key, char out[MOB_FPR_LEN + 1]);

/*
 * A key file (a service's DIR/<SID>.key, the hub's hub.key): load it as
 * mob_keyring_load does and find its one active entry that can sign, *own,
 * which points into *out.  MOB_ENOTFOUND if there is none, MOB_EPARSE if
 * there are two (err says which).
 */
int mob_keyfile_load(const char *path, struct mob_keyring **out,
    const struct mob_kr_entry **own, char *err, size_t errlen);
/* As mob_keyfile_load, but only a copy of that entry, whose key the
 * caller frees (mob_key_free). */
int mob_keyfile_load_own(const char *path, struct mob_kr_entry *out,
    char *err, size_t errlen);

#endif
