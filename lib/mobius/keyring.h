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

#include "mobius/key.h"
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

struct mob_keyring {
	char hid[7];
	enum mob_mode mode;
	struct mob_kr_entry *entries;
	size_t n;
};

/* err receives "path:line: message" on a parse error. */
int mob_keyring_load(const char *path, struct mob_keyring **out, char *err, size_t errlen);
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
/* Takes ownership of e->key on success. */
int mob_keyring_add(struct mob_keyring *kr, const struct mob_kr_entry *e);

/* mob_key_lookup_fn adapter: ctx is a struct mob_keyring *. */
const struct mob_key *mob_keyring_lookup_fn(void *ctx, const char *kid, size_t idx);

/* flock(LOCK_EX) on DIR/.lock; returns fd >= 0 or error. */
int mob_keyring_lock(const char *dir);
void mob_keyring_unlock(int fd);

/* Write buf to path atomically (0600): tmp, fsync, rename, fsync dir. */
int mob_file_write_atomic(const char *path, const void *buf, size_t len, int mode);

#endif
