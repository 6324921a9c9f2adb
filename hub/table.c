/*
 * A bounded hash table for the hub's per-client state: open addressing
 * with linear probing and backward-shift deletion, at most half full, so
 * a lookup stays short whatever clients send.  Keys are short strings
 * (ids, "id|reqid", hashed addresses); longer keys are refused.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HTAB_KEYMAX	64

struct htab_ent {
	int used;
	uint32_t hash;
	int64_t expires;
	void *val;
	char key[HTAB_KEYMAX];
};

struct htab {
	struct htab_ent *e;
	size_t cap;		/* power of two, >= 2 * max */
	size_t n;
	size_t max;
	int grow;
	htab_free_fn free_val;
};

/*
 * FNV-1a.  A client choosing colliding keys (request ids) can at worst make
 * probes as long as the bounded table, which stays small.
 */
static uint32_t
htab_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

int
htab_new(size_t max, htab_free_fn free_val, int grow, struct htab **out)
{
	struct htab *t;
	size_t cap = 8;

	*out = NULL;
	if (max == 0 || max > (1u << 24))
		return MOB_EINVAL;
	while (cap < 2 * max)
		cap <<= 1;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->e = calloc(cap, sizeof(*t->e))) == NULL) {
		free(t);
		return MOB_ENOMEM;
	}
	t->cap = cap;
	t->max = max;
	t->grow = grow;
	t->free_val = free_val;
	*out = t;
	return 0;
}

static void
htab_release(struct htab *t, struct htab_ent *e)
{
	if (t->free_val != NULL)
		t->free_val(e->val);
	e->val = NULL;
}

void
htab_free(struct htab *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].used)
			htab_release(t, &t->e[i]);
	free(t->e);
	free(t);
}

static struct htab_ent *
htab_find(struct htab *t, const char *key, uint32_t h)
{
	size_t mask = t->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct htab_ent *e = &t->e[i];

		if (!e->used)
			return NULL;
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	}
}

/* Remove slot i and shift the rest of its cluster back (no tombstones). */
static void
htab_remove_at(struct htab *t, size_t i)
{
	size_t mask = t->cap - 1, j = i;

	htab_release(t, &t->e[i]);
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
htab_expired(const struct htab_ent *e, int64_t now)
{
	return e->expires != 0 && e->expires <= now;
}

void *
htab_get(struct htab *t, const char *key, int64_t now)
{
	struct htab_ent *e;

	if (strlen(key) >= HTAB_KEYMAX)
		return NULL;
	e = htab_find(t, key, htab_hash(key));
	if (e == NULL || htab_expired(e, now))
		return NULL;
	return e->val;
}

void
htab_purge(struct htab *t, int64_t now)
{
	for (size_t i = 0; i < t->cap;) {
		if (t->e[i].used && htab_expired(&t->e[i], now))
			htab_remove_at(t, i);	/* slot i may now hold another */
		else
			i++;
	}
}

static void
htab_evict_one(struct htab *t)
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
		htab_remove_at(t, best);
}

static int
htab_resize(struct htab *t)
{
	struct htab_ent *old = t->e, *e;
	size_t oldcap = t->cap, mask;

	if (t->max > (1u << 24) || (e = calloc(oldcap * 2, sizeof(*e))) == NULL)
		return MOB_ENOMEM;
	t->e = e;
	t->cap = oldcap * 2;
	t->max *= 2;
	mask = t->cap - 1;
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;

		if (!old[i].used)
			continue;
		for (j = old[i].hash & mask; e[j].used; j = (j + 1) & mask)
			;
		e[j] = old[i];
	}
	free(old);
	return 0;
}

int
htab_put(struct htab *t, const char *key, void *val, int64_t expires,
    int64_t now, int evict)
{
	uint32_t h;
	size_t mask, i;
	struct htab_ent *e;

	if (strlen(key) >= HTAB_KEYMAX)
		return MOB_ETOOLONG;
	h = htab_hash(key);
	if ((e = htab_find(t, key, h)) != NULL) {
		if (e->val != val)
			htab_release(t, e);
		e->val = val;
		e->expires = expires;
		return 0;
	}
	if (t->n >= t->max) {
		htab_purge(t, now);
		if (t->n >= t->max) {
			if (t->grow) {
				if (htab_resize(t) != 0)
					return MOB_ENOMEM;
			} else if (evict)
				htab_evict_one(t);
			else
				return MOB_ENOMEM;
		}
	}
	mask = t->cap - 1;	/* after any resize */
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
htab_del(struct htab *t, const char *key)
{
	struct htab_ent *e;

	if (strlen(key) >= HTAB_KEYMAX)
		return;
	if ((e = htab_find(t, key, htab_hash(key))) != NULL)
		htab_remove_at(t, (size_t)(e - t->e));
}

size_t
htab_count(const struct htab *t)
{
	return t->n;
}

size_t
htab_memory(const struct htab *t)
{
	return sizeof(*t) + t->cap * sizeof(*t->e);
}

/* fn must not insert or delete. */
void
htab_walk(struct htab *t, htab_walk_fn fn, void *arg)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].used)
			fn(t->e[i].key, t->e[i].val, arg);
}
