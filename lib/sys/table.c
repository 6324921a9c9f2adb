/*
 * The bounded hash table (mobius/table.h).  Slots are allocated as the
 * table fills, up to twice max, so a table sized for the worst case costs
 * little until it is needed.
 */
#include <stdlib.h>
#include <string.h>

#include "mobius/err.h"
#include "mobius/table.h"

#define TABLE_CAP_MIN	16

struct table_ent {
	int used;
	uint64_t hash;
	int64_t expires;
	void *val;
	char key[MOB_TABLE_KEY_MAX];
};

struct mob_table {
	struct table_ent *e;
	size_t cap;		/* slots, power of two; 0 until first put */
	size_t n;
	size_t max;		/* cap stays >= 2 * n, and n <= max */
	int flags;
	mob_table_free_fn free_val;
};

uint64_t
mob_hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

int
mob_table_new(size_t max, mob_table_free_fn free_val, int flags,
    struct mob_table **out)
{
	struct mob_table *t;

	*out = NULL;
	if (max == 0 || max > MOB_TABLE_MAX || (flags & ~MOB_TABLE_GROW))
		return MOB_EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return MOB_ENOMEM;
	t->max = max;
	t->flags = flags;
	t->free_val = free_val;
	*out = t;
	return 0;
}

static void
table_release(struct mob_table *t, struct table_ent *e)
{
	if (t->free_val != NULL && e->val != NULL)
		t->free_val(e->val);
	e->val = NULL;
}

void
mob_table_clear(struct mob_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].used)
			table_release(t, &t->e[i]);
	if (t->e != NULL)
		memset(t->e, 0, t->cap * sizeof(*t->e));
	t->n = 0;
}

void
mob_table_free(struct mob_table *t)
{
	if (t == NULL)
		return;
	mob_table_clear(t);
	free(t->e);
	free(t);
}

static struct table_ent *
table_lookup(const struct mob_table *t, const char *key, uint64_t h)
{
	size_t mask = t->cap - 1;

	if (t->cap == 0)
		return NULL;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct table_ent *e = &t->e[i];

		if (!e->used)
			return NULL;
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	}
}

/* Remove slot i and shift the rest of its cluster back (no tombstones). */
static void
table_remove_at(struct mob_table *t, size_t i)
{
	size_t mask = t->cap - 1, j = i;

	table_release(t, &t->e[i]);
	t->e[i].used = 0;
	t->n--;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!t->e[j].used)
			return;
		home = t->e[j].hash & mask;
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			t->e[i] = t->e[j];
			t->e[j].used = 0;
			t->e[j].val = NULL;
			i = j;
		}
	}
}

static int
table_expired(const struct table_ent *e, int64_t now)
{
	return e->expires != 0 && e->expires <= now;
}

int
mob_table_find(struct mob_table *t, const char *key, int64_t now, void **val)
{
	struct table_ent *e;

	if (val != NULL)
		*val = NULL;
	if (t == NULL || key == NULL || strlen(key) >= MOB_TABLE_KEY_MAX)
		return 0;
	e = table_lookup(t, key, mob_hash_str(key));
	if (e == NULL || table_expired(e, now))
		return 0;
	if (val != NULL)
		*val = e->val;
	return 1;
}

void *
mob_table_get(struct mob_table *t, const char *key, int64_t now)
{
	void *val;

	return mob_table_find(t, key, now, &val) ? val : NULL;
}

void
mob_table_purge(struct mob_table *t, int64_t now)
{
	for (size_t i = 0; t != NULL && i < t->cap;) {
		if (t->e[i].used && table_expired(&t->e[i], now))
			table_remove_at(t, i);	/* slot i may now hold another */
		else
			i++;
	}
}

/* The entry closest to expiry goes; entries that never expire go last. */
static void
table_evict_one(struct mob_table *t)
{
	size_t best = t->cap;

	for (size_t i = 0; i < t->cap; i++) {
		if (!t->e[i].used)
			continue;
		if (best == t->cap ||
		    (t->e[i].expires != 0 && (t->e[best].expires == 0 ||
		    t->e[i].expires < t->e[best].expires)))
			best = i;
	}
	if (best != t->cap)
		table_remove_at(t, best);
}

static int
table_resize(struct mob_table *t, size_t ncap)
{
	struct table_ent *old = t->e, *e;
	size_t oldcap = t->cap, mask = ncap - 1;

	if ((e = calloc(ncap, sizeof(*e))) == NULL)
		return MOB_ENOMEM;
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;

		if (!old[i].used)
			continue;
		for (j = old[i].hash & mask; e[j].used; j = (j + 1) & mask)
			;
		e[j] = old[i];
	}
	free(old);
	t->e = e;
	t->cap = ncap;
	return 0;
}

/* Room for one more entry: make it, or say why not. */
static int
table_room(struct mob_table *t, int64_t now, int evict)
{
	size_t ncap;

	if (t->n >= t->max) {
		mob_table_purge(t, now);
		if (t->n >= t->max) {
			if ((t->flags & MOB_TABLE_GROW) &&
			    t->max <= MOB_TABLE_MAX / 2)
				t->max *= 2;
			else if (evict)
				table_evict_one(t);
			else
				return MOB_ENOMEM;
		}
	}
	if (2 * (t->n + 1) <= t->cap)
		return 0;
	for (ncap = t->cap == 0 ? TABLE_CAP_MIN : t->cap * 2;
	    ncap < 2 * (t->n + 1); ncap *= 2)
		;
	return table_resize(t, ncap);
}

int
mob_table_put(struct mob_table *t, const char *key, void *val,
    int64_t expires, int64_t now, int evict)
{
	struct table_ent *e;
	uint64_t h;
	size_t mask, i;
	int r;

	if (t == NULL || key == NULL)
		return MOB_EINVAL;
	if (strlen(key) >= MOB_TABLE_KEY_MAX)
		return MOB_ETOOLONG;
	h = mob_hash_str(key);
	if ((e = table_lookup(t, key, h)) != NULL) {
		if (e->val != val)
			table_release(t, e);
		e->val = val;
		e->expires = expires;
		return 0;
	}
	if ((r = table_room(t, now, evict)) != 0)
		return r;
	mask = t->cap - 1;
	for (i = h & mask; t->e[i].used; i = (i + 1) & mask)
		;
	e = &t->e[i];
	e->used = 1;
	e->hash = h;
	e->expires = expires;
	e->val = val;
	memcpy(e->key, key, strlen(key) + 1);
	t->n++;
	return 0;
}

void
mob_table_del(struct mob_table *t, const char *key)
{
	struct table_ent *e;

	if (t == NULL || key == NULL || strlen(key) >= MOB_TABLE_KEY_MAX)
		return;
	if ((e = table_lookup(t, key, mob_hash_str(key))) != NULL)
		table_remove_at(t, (size_t)(e - t->e));
}

size_t
mob_table_count(const struct mob_table *t)
{
	return t != NULL ? t->n : 0;
}

size_t
mob_table_memory(const struct mob_table *t)
{
	return t != NULL ? sizeof(*t) + t->cap * sizeof(*t->e) : 0;
}

void
mob_table_walk(struct mob_table *t, mob_table_walk_fn fn, void *arg)
{
	for (size_t i = 0; t != NULL && i < t->cap; i++)
		if (t->e[i].used)
			fn(t->e[i].key, t->e[i].val, arg);
}
