/*
 * The hub's tables are lib's bounded table (lib/sys/table.c, checked by
 * tests/test_table.c); these names keep the hub's call sites short.  A
 * struct htab is a struct mob_table under another name, never defined.
 */
#include "mobius/table.h"

#include "internal.h"

static struct mob_table *
htab_t(struct htab *t)
{
	return (struct mob_table *)t;
}

int
htab_new(size_t max, htab_free_fn free_val, int grow, struct htab **out)
{
	struct mob_table *t;
	int r;

	r = mob_table_new(max, free_val, grow ? MOB_TABLE_GROW : 0, &t);
	*out = (struct htab *)t;
	return r;
}

void htab_free(struct htab *t) { mob_table_free(htab_t(t)); }
void htab_del(struct htab *t, const char *key) { mob_table_del(htab_t(t), key); }
void htab_purge(struct htab *t, int64_t now) { mob_table_purge(htab_t(t), now); }

void *
htab_get(struct htab *t, const char *key, int64_t now)
{
	return mob_table_get(htab_t(t), key, now);
}

int
htab_put(struct htab *t, const char *key, void *val, int64_t expires,
    int64_t now, int evict)
{
	return mob_table_put(htab_t(t), key, val, expires, now, evict);
}

size_t
htab_count(const struct htab *t)
{
	return mob_table_count((const struct mob_table *)t);
}

size_t
htab_memory(const struct htab *t)
{
	return mob_table_memory((const struct mob_table *)t);
}

void
htab_walk(struct htab *t, htab_walk_fn fn, void *arg)
{
	mob_table_walk(htab_t(t), fn, arg);
}
