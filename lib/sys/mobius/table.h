/*
 * A bounded hash table keyed by short strings: open addressing with
 * linear probing and backward-shift deletion (no tombstones), at most
 * half full, so a lookup stays short whatever peers send.  An entry may
 * carry an expiry; a full table first drops expired entries, then grows
 * (MOB_TABLE_GROW), or evicts the entry closest to expiry (when asked
 * to), or refuses with MOB_ENOMEM.
 *
 * Users: the hub's clients, backoff and request tables, the envelope
 * verifier's per-sender replay state, the token nonce cache and the
 * keyring's id index.  Values are the caller's pointers; the table frees
 * them with the free function given at creation (NULL: never).
 * A table is not thread-safe.
 */
#ifndef MOBIUS_TABLE_H
#define MOBIUS_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define MOB_TABLE_KEY_MAX	64	/* key length + NUL; longer is refused */
#define MOB_TABLE_MAX		(1u << 24)	/* entries, whatever max says */

/* mob_table_new flags */
#define MOB_TABLE_GROW		0x1	/* full: double max instead of refusing */

/*
 * FNV-1a (64 bit) of a string.  Unkeyed: a peer choosing colliding keys
 * can at worst make probes as long as the bounded table.
 */
uint64_t mob_hash_str(const char *s);

struct mob_table;
typedef void (*mob_table_free_fn)(void *val);
typedef void (*mob_table_walk_fn)(const char *key, void *val, void *arg);

/* At most max entries (1..MOB_TABLE_MAX); memory grows with use. */
int mob_table_new(size_t max, mob_table_free_fn free_val, int flags,
    struct mob_table **out);
void mob_table_free(struct mob_table *t);	/* frees every value; NULL ok */

/*
 * The value under key if its entry has not expired at now (expires is 0
 * for never, else the entry is gone once expires <= now); NULL if none.
 * mob_table_find tells a NULL value from none: 1 found, 0 not.
 */
void *mob_table_get(struct mob_table *t, const char *key, int64_t now);
int mob_table_find(struct mob_table *t, const char *key, int64_t now,
    void **val);
/*
 * Insert or replace (the old value is freed unless it is val); the table
 * owns val on success.  When the table is full: purge what expired at
 * now, then grow (MOB_TABLE_GROW) or evict (if evict) or fail with
 * MOB_ENOMEM.  A key of
 * MOB_TABLE_KEY_MAX or more characters is MOB_ETOOLONG.  On error val
 * is the caller's still.
 */
int mob_table_put(struct mob_table *t, const char *key, void *val,
    int64_t expires, int64_t now, int evict);
void mob_table_del(struct mob_table *t, const char *key);
void mob_table_purge(struct mob_table *t, int64_t now);
void mob_table_clear(struct mob_table *t);
size_t mob_table_count(const struct mob_table *t);
size_t mob_table_memory(const struct mob_table *t);
/* fn sees every entry, expired or not; it must not insert or delete. */
void mob_table_walk(struct mob_table *t, mob_table_walk_fn fn, void *arg);

#endif
