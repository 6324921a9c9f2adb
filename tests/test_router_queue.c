/*
 * The router's store-and-forward queue (router/queue.c): order, durability
 * across a reopen, acks, TTL, the full policies, a torn tail.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "mobius/err.h"
#include "support/harness.h"
#include "../router/internal.h"

static char dir[256], qdir[300];

static void
setup(void)
{
	th_tmpdir(dir, sizeof(dir));
	snprintf(qdir, sizeof(qdir), "%s/q", dir);
}

static void
teardown(void)
{
	th_rmtree(dir);
}

TestSuite(router_queue, .init = setup, .fini = teardown);

static struct rt_qcfg
qcfg(uint64_t max, enum rt_qfull full)
{
	struct rt_qcfg c = { .max_bytes = max, .ttl_ms = 60000,
	    .seg_bytes = 4096, .full = full };

	return c;
}

/* Record k: "rec-<k>" padded to 100 bytes. */
static void
push(struct rt_queue *q, int k, int64_t ts)
{
	char rec[100];

	memset(rec, '.', sizeof(rec));
	snprintf(rec, sizeof(rec), "rec-%d", k);
	cr_assert_eq(rt_queue_push(q, rt_queue_next_seq(q), ts,
	    (const uint8_t *)rec, sizeof(rec)), 0, "push %d", k);
}

static int
rec_no(struct rt_queue *q, size_t i)
{
	uint8_t buf[200];
	size_t len;
	uint64_t seq;
	int64_t ts;
	int k = -1;

	cr_assert_eq(rt_queue_get(q, i, buf, sizeof(buf), &len, &seq, &ts), 0);
	buf[len - 1] = '\0';
	sscanf((char *)buf, "rec-%d", &k);
	return k;
}

Test(router_queue, records_come_back_in_order_after_a_reopen)
{
	struct rt_qcfg c = qcfg(1 << 20, RT_QFULL_REFUSE);
	struct rt_queue *q;
	uint64_t first;

	cr_assert_eq(rt_queue_open(qdir, &c, &q), 0);
	first = rt_queue_next_seq(q);
	cr_assert_gt(first, 1000000000000000ULL, "a new stream starts at the time in µs");
	for (int k = 0; k < 200; k++)
		push(q, k, 1000);
	cr_assert_eq(rt_queue_durable(q), 0, "nothing is sendable before the sync");
	cr_assert_eq(rt_queue_sync(q), 0);
	cr_assert_eq(rt_queue_durable(q), 200);
	rt_queue_free(q);

	cr_assert_eq(rt_queue_open(qdir, &c, &q), 0);
	cr_assert_eq(rt_queue_durable(q), 200);
	cr_assert_eq(rt_queue_head(q), first);
	cr_assert_eq(rt_queue_next_seq(q), first + 200);
	for (int k = 0; k < 200; k++)
		cr_assert_eq(rec_no(q, (size_t)k), k);
	rt_queue_free(q);
}

Test(router_queue, ack_removes_records_and_empty_segments)
{
	struct rt_qcfg c = qcfg(1 << 20, RT_QFULL_REFUSE);
	struct rt_queue *q;
	struct rt_qstats st;
	uint64_t first;

	cr_assert_eq(rt_queue_open(qdir, &c, &q), 0);
	first = rt_queue_next_seq(q);
	for (int k = 0; k < 200; k++)	/* 120 bytes each: 6 segments */
		push(q, k, 1000);
	rt_queue_sync(q);
	rt_queue_ack(q, first + 99);
	cr_assert_eq(rt_queue_head(q), first + 100);
	cr_assert_eq(rec_no(q, 0), 100);
	rt_queue_stats(q, &st);
	cr_assert_eq(st.acked, 100);
	cr_assert_lt(st.bytes, 200 * 120, "fully acknowledged segments are removed");
	rt_queue_ack(q, first + 199);
	rt_queue_stats(q, &st);
	cr_assert_eq(st.records, 0);
	cr_assert_eq(st.bytes, 0);
	rt_queue_free(q);
	/* an emptied queue restarts above: seq never goes back */
	cr_assert_eq(rt_queue_open(qdir, &c, &q), 0);
	cr_assert_gt(rt_queue_next_seq(q), first + 199);
	rt_queue_free(q);
}

Test(router_queue, full_queue_refuses_and_counts)
{
	struct rt_qcfg c = qcfg(1200, RT_QFULL_REFUSE);
	struct rt_queue *q;
	struct rt_qstats st;
	char rec[100] = "x";

	cr_assert_eq(rt_queue_open(qdir, &c, &q), 0);
	for (int k = 0; k < 10; k++)
		push(q, k, 1000);
	cr_assert_eq(rt_queue_push(q, rt_queue_next_seq(q), 1000,
	    (const uint8_t *)rec, sizeof(rec)), MOB_ERANGE);
	rt_queue_stats(q, &st);
	cr_assert_eq(st.refused_full, 1);
	cr_assert_eq(st.records, 10);
	cr_assert_eq(rec_no(q, 0), 0, "the old records are kept");
	rt_queue_free(q);
}

Test(router_queue, full_queue_drops_oldest_and_counts)
{
	struct rt_qcfg c = qcfg(1200, RT_QFULL_DROP_OLDEST);
	struct rt_queue *q;
	struct rt_qstats st;

	c.seg_bytes = 240;	/* two records a segment */
	cr_assert_eq(rt_queue_open(qdir, &c, &q), 0);
	for (int k = 0; k < 30; k++)
		push(q, k, 1000);
	rt_queue_stats(q, &st);
	cr_assert_leq(st.bytes, 1200);
	cr_assert_eq(st.dropped_full + st.records, 30);
	cr_assert_gt(st.dropped_full, 0);
	cr_assert_eq(rec_no(q, st.records - 1), 29, "the newest is kept");
	cr_assert_eq(rec_no(q, 0), 30 - (int)st.records);
	rt_queue_free(q);
}

Test(router_queue, records_older_than_the_ttl_expire)
{
	struct rt_qcfg c = qcfg(1 << 20, RT_QFULL_REFUSE);
	struct rt_queue *q;
	struct rt_qstats st;

	cr_assert_eq(rt_queue_open(qdir, &c, &q), 0);
	for (int k = 0; k < 5; k++)
		push(q, k, 1000);
	for (int k = 5; k < 8; k++)
		push(q, k, 50000);
	cr_assert_eq(rt_queue_expire(q, 1000 + 60000), 0, "the edge is inclusive");
	cr_assert_eq(rt_queue_expire(q, 1001 + 60000), 5);
	rt_queue_stats(q, &st);
	cr_assert_eq(st.expired, 5);
	cr_assert_eq(rec_no(q, 0), 5);
	rt_queue_free(q);
}

Test(router_queue, torn_last_record_is_cut_on_open)
{
	struct rt_qcfg c = qcfg(1 << 20, RT_QFULL_REFUSE);
	struct rt_queue *q;
	char seg[1000], cmd[400], out[300];
	struct stat st;

	cr_assert_eq(rt_queue_open(qdir, &c, &q), 0);
	for (int k = 0; k < 3; k++)
		push(q, k, 1000);
	rt_queue_sync(q);
	rt_queue_free(q);
	snprintf(cmd, sizeof(cmd), "ls %s", qdir);
	{
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };

		cr_assert_eq(th_run(argv, NULL, out, sizeof(out), 5000), 0);
	}
	out[strcspn(out, "\n")] = '\0';
	snprintf(seg, sizeof(seg), "%s/%s", qdir, out);
	cr_assert_eq(stat(seg, &st), 0);
	/* a crash in the middle of the third record */
	cr_assert_eq(truncate(seg, st.st_size - 30), 0);
	cr_assert_eq(rt_queue_open(qdir, &c, &q), 0);
	cr_assert_eq(rt_queue_durable(q), 2);
	push(q, 3, 1000);
	rt_queue_sync(q);
	cr_assert_eq(rec_no(q, 2), 3);
	rt_queue_free(q);
	cr_assert_eq(stat(seg, &st), 0);
	cr_assert_eq(st.st_size, 3 * 120);
}
