/*
 * The bounded hash table (lib/sys/table.c) that the hub, the envelope
 * verifier, the nonce cache and the keyring index share.  Checked against
 * a plain array model with random operations, so backward-shift deletion
 * and wrap-around are hit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "mobius/err.h"
#include "mobius/table.h"

#define MODEL	200

static int freed;

static void
count_free(void *p)
{
	freed++;
	free(p);
}

static int *
ival(int v)
{
	int *p = malloc(sizeof(*p));

	*p = v;
	return p;
}

Test(table, random_operations_agree_with_a_model)
{
	struct mob_table *t;
	int model[MODEL];
	char key[16];
	unsigned seed = 12345;

	cr_assert_eq(mob_table_new(MODEL, count_free, 0, &t), 0);
	for (int i = 0; i < MODEL; i++)
		model[i] = -1;
	for (int step = 0; step < 20000; step++) {
		int k = (int)(rand_r(&seed) % MODEL), op = (int)(rand_r(&seed) % 3);
		int *v;

		snprintf(key, sizeof(key), "k%d", k);
		if (op == 0) {
			cr_assert_eq(mob_table_put(t, key, ival(step), 0, 0, 0), 0);
			model[k] = step;
		} else if (op == 1) {
			mob_table_del(t, key);
			model[k] = -1;
		}
		v = mob_table_get(t, key, 0);
		if (model[k] == -1)
			cr_assert_null(v, "step %d key %s", step, key);
		else
			cr_assert(v != NULL && *v == model[k], "step %d key %s",
			    step, key);
	}
	for (int k = 0; k < MODEL; k++) {
		snprintf(key, sizeof(key), "k%d", k);
		cr_expect_eq(mob_table_get(t, key, 0) != NULL, model[k] != -1);
	}
	mob_table_free(t);
}

Test(table, full_table_purges_expired_then_evicts_or_refuses)
{
	struct mob_table *t;
	int *v;

	freed = 0;
	cr_assert_eq(mob_table_new(2, count_free, 0, &t), 0);
	cr_assert_eq(mob_table_put(t, "a", ival(1), 100, 0, 0), 0);
	cr_assert_eq(mob_table_put(t, "b", ival(2), 200, 0, 0), 0);
	cr_expect_eq(mob_table_put(t, "c", (v = ival(3)), 300, 50, 0), MOB_ENOMEM);
	free(v);
	cr_expect_null(mob_table_get(t, "a", 150), "expired");
	cr_expect_eq(mob_table_put(t, "c", ival(3), 300, 150, 0), 0, "a purged");
	cr_expect_eq(mob_table_put(t, "d", ival(4), 400, 150, 1), 0, "b evicted");
	cr_expect_null(mob_table_get(t, "b", 150));
	cr_expect_not_null(mob_table_get(t, "c", 150));
	cr_expect_not_null(mob_table_get(t, "d", 150));
	cr_expect_eq(mob_table_count(t), 2);
	mob_table_free(t);
	cr_expect_eq(freed, 4, "every value freed once");
}

Test(table, growing_table_keeps_everything)
{
	struct mob_table *t;
	char key[16];

	cr_assert_eq(mob_table_new(4, free, MOB_TABLE_GROW, &t), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "%06d/%03X", i, i & 0xfff);
		cr_assert_eq(mob_table_put(t, key, ival(i), 0, 0, 0), 0);
	}
	for (int i = 0; i < 1000; i++) {
		int *v;

		snprintf(key, sizeof(key), "%06d/%03X", i, i & 0xfff);
		v = mob_table_get(t, key, 0);
		cr_assert(v != NULL && *v == i, "%s", key);
	}
	cr_expect_eq(mob_table_count(t), 1000);
	mob_table_free(t);
}

Test(table, replacing_a_value_with_itself_keeps_it)
{
	struct mob_table *t;
	int *v = ival(7);

	cr_assert_eq(mob_table_new(4, free, 0, &t), 0);
	cr_assert_eq(mob_table_put(t, "x", v, 0, 0, 0), 0);
	cr_assert_eq(mob_table_put(t, "x", v, 500, 0, 0), 0);
	cr_expect_eq(*(int *)mob_table_get(t, "x", 0), 7);
	cr_expect_null(mob_table_get(t, "x", 600), "new expiry applies");
	cr_expect_eq(mob_table_put(t, "a-key-that-is-far-too-long-for-the-table-xxxxxxxxxxxxxxxxxxxxxxxxxx",
	    v, 0, 0, 0), MOB_ETOOLONG);
	mob_table_free(t);
}
