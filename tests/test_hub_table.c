/*
 * The hub's bounded hash table (hub/table.c), linked from the plugin's
 * objects (hub/rules.mk).  Checked against a plain array model with
 * random operations, so backward-shift deletion and wrap-around are hit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "mobius/err.h"

#include "../hub/internal.h"

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

Test(hub_table, random_operations_agree_with_a_model)
{
	struct htab *t;
	int model[MODEL];
	char key[16];
	unsigned seed = 12345;

	cr_assert_eq(htab_new(MODEL, count_free, 0, &t), 0);
	for (int i = 0; i < MODEL; i++)
		model[i] = -1;
	for (int step = 0; step < 20000; step++) {
		int k = (int)(rand_r(&seed) % MODEL), op = (int)(rand_r(&seed) % 3);
		int *v;

		snprintf(key, sizeof(key), "k%d", k);
		if (op == 0) {
			cr_assert_eq(htab_put(t, key, ival(step), 0, 0, 0), 0);
			model[k] = step;
		} else if (op == 1) {
			htab_del(t, key);
			model[k] = -1;
		}
		v = htab_get(t, key, 0);
		if (model[k] == -1)
			cr_assert_null(v, "step %d key %s", step, key);
		else
			cr_assert(v != NULL && *v == model[k], "step %d key %s",
			    step, key);
	}
	for (int k = 0; k < MODEL; k++) {
		snprintf(key, sizeof(key), "k%d", k);
		cr_expect_eq(htab_get(t, key, 0) != NULL, model[k] != -1);
	}
	htab_free(t);
}

Test(hub_table, full_table_purges_expired_then_evicts_or_refuses)
{
	struct htab *t;
	int *v;

	freed = 0;
	cr_assert_eq(htab_new(2, count_free, 0, &t), 0);
	cr_assert_eq(htab_put(t, "a", ival(1), 100, 0, 0), 0);
	cr_assert_eq(htab_put(t, "b", ival(2), 200, 0, 0), 0);
	cr_expect_eq(htab_put(t, "c", (v = ival(3)), 300, 50, 0), MOB_ENOMEM);
	free(v);
	cr_expect_null(htab_get(t, "a", 150), "expired");
	cr_expect_eq(htab_put(t, "c", ival(3), 300, 150, 0), 0, "a purged");
	cr_expect_eq(htab_put(t, "d", ival(4), 400, 150, 1), 0, "b evicted");
	cr_expect_null(htab_get(t, "b", 150));
	cr_expect_not_null(htab_get(t, "c", 150));
	cr_expect_not_null(htab_get(t, "d", 150));
	cr_expect_eq(htab_count(t), 2);
	htab_free(t);
	cr_expect_eq(freed, 4, "every value freed once");
}

Test(hub_table, growing_table_keeps_everything)
{
	struct htab *t;
	char key[16];

	cr_assert_eq(htab_new(4, free, 1, &t), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "%06d/%03X", i, i & 0xfff);
		cr_assert_eq(htab_put(t, key, ival(i), 0, 0, 0), 0);
	}
	for (int i = 0; i < 1000; i++) {
		int *v;

		snprintf(key, sizeof(key), "%06d/%03X", i, i & 0xfff);
		v = htab_get(t, key, 0);
		cr_assert(v != NULL && *v == i, "%s", key);
	}
	cr_expect_eq(htab_count(t), 1000);
	htab_free(t);
}

Test(hub_table, replacing_a_value_with_itself_keeps_it)
{
	struct htab *t;
	int *v = ival(7);

	cr_assert_eq(htab_new(4, free, 0, &t), 0);
	cr_assert_eq(htab_put(t, "x", v, 0, 0, 0), 0);
	cr_assert_eq(htab_put(t, "x", v, 500, 0, 0), 0);
	cr_expect_eq(*(int *)htab_get(t, "x", 0), 7);
	cr_expect_null(htab_get(t, "x", 600), "new expiry applies");
	cr_expect_eq(htab_put(t, "a-key-that-is-far-too-long-for-the-table-xxxxxxxxxxxxxxxxxxxxxxxxxx",
	    v, 0, 0, 0), MOB_ETOOLONG);
	htab_free(t);
}
