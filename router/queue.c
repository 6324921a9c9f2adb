/*
 * Store-and-forward queue (docs/router.md, "The queue"): one per peer,
 * owned by the router, in its state directory.
 *
 * Append-only segment files DIR/<first seq, 20 digits>.seg of records
 *
 *     u32 length of the frame | u64 seq | i64 ts (ms) | frame
 *
 * (big-endian).  Appends are fdatasync'ed in batches (rt_queue_sync); only
 * synced records are handed out for sending, so a seq that reached the
 * peer is never reused after a crash.  A record leaves the queue when the
 * peer acknowledged it end to end (rt_queue_ack), when it is older than
 * the TTL, or, under drop-oldest, when a new record needs its room; a
 * segment file is removed once it holds no live record.  All of these are
 * counted.  On open the segments are read back; a record cut by a crash
 * at the end of a segment is truncated away.
 *
 * The index of live records stays in memory (32 bytes each); the frames
 * themselves are read back with pread when sent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "internal.h"

#define REC_HDR		20
#define SEG_MAX		4096	/* segment files in one queue */

struct seg {
	uint64_t id;		/* first seq: names the file */
	int fd;
	uint64_t size;
	size_t live;		/* records of this segment still queued */
};

struct rec {
	uint64_t seq;
	int64_t ts;
	uint64_t seg;		/* seg id */
	uint32_t off, len;
};

struct rt_queue {
	char dir[256];
	struct rt_qcfg cfg;
	struct seg *segs;
	size_t nsegs;
	struct rec *recs;	/* ring: recs[(head + i) % cap] */
	size_t head, n, cap;
	size_t durable;		/* records from the head that are synced */
	int dirty;
	uint64_t next_seq;
	struct rt_qstats st;
};

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static struct rec *
rec_at(const struct rt_queue *q, size_t i)
{
	return &q->recs[(q->head + i) % q->cap];
}

static struct seg *
seg_find(struct rt_queue *q, uint64_t id)
{
	for (size_t i = 0; i < q->nsegs; i++)
		if (q->segs[i].id == id)
			return &q->segs[i];
	return NULL;
}

static void
seg_path(const struct rt_queue *q, uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%020llu.seg", q->dir, (unsigned long long)id);
}

/* Remove the segment files that hold no live record. */
static void
seg_reap(struct rt_queue *q)
{
	char path[300];
	size_t i = 0;

	while (i < q->nsegs) {
		struct seg *s = &q->segs[i];

		if (s->live > 0) {
			i++;
			continue;
		}
		seg_path(q, s->id, path, sizeof(path));
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("queue: unlink %s", path);
		close(s->fd);
		q->st.bytes -= s->size;
		memmove(s, s + 1, (q->nsegs - i - 1) * sizeof(*s));
		q->nsegs--;
	}
}

static int
rec_append_index(struct rt_queue *q, const struct rec *r)
{
	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 1024;
		struct rec *nr = calloc(ncap, sizeof(*nr));

		if (nr == NULL)
			return MOB_ENOMEM;
		for (size_t i = 0; i < q->n; i++)
			nr[i] = *rec_at(q, i);
		free(q->recs);
		q->recs = nr;
		q->head = 0;
		q->cap = ncap;
	}
	*rec_at(q, q->n) = *r;
	q->n++;
	return 0;
}

/* Drop the head record (already counted by the caller). */
static void
rec_drop_head(struct rt_queue *q)
{
	struct rec *r = rec_at(q, 0);
	struct seg *s = seg_find(q, r->seg);

	if (s != NULL && s->live > 0)
		s->live--;
	q->head = (q->head + 1) % q->cap;
	q->n--;
	q->st.records = q->n;
	if (q->durable > 0)
		q->durable--;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Read one segment back into the index; cut a torn tail. */
static int
seg_load(struct rt_queue *q, uint64_t id)
{
	char path[300];
	uint8_t h[REC_HDR];
	struct seg s = { .id = id, .fd = -1 };
	struct stat st;
	uint64_t off = 0;
	int r;

	seg_path(q, id, path, sizeof(path));
	if ((s.fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    fstat(s.fd, &st) == -1) {
		log_warn("queue: %s", path);
		if (s.fd != -1)
			close(s.fd);
		return MOB_ESYS;
	}
	while (off + REC_HDR <= (uint64_t)st.st_size) {
		struct rec rc;
		uint32_t len;

		if (pread(s.fd, h, REC_HDR, (off_t)off) != REC_HDR)
			break;
		len = (uint32_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
		if (len == 0 || len > RT_FRAME_MAX ||
		    off + REC_HDR + len > (uint64_t)st.st_size)
			break;
		rc.seq = rt_get64(h + 4);
		rc.ts = (int64_t)rt_get64(h + 12);
		rc.seg = id;
		rc.off = (uint32_t)off;
		rc.len = len;
		if (rc.seq < q->next_seq) {
			log_warnx("queue: %s: seq out of order at %llu, cut",
			    path, (unsigned long long)off);
			break;
		}
		if ((r = rec_append_index(q, &rc)) != 0) {
			close(s.fd);
			return r;
		}
		q->next_seq = rc.seq + 1;
		s.live++;
		off += REC_HDR + len;
	}
	if (off < (uint64_t)st.st_size) {
		log_warnx("queue: %s: torn record at %llu cut", path,
		    (unsigned long long)off);
		if (ftruncate(s.fd, (off_t)off) == -1 || fdatasync(s.fd) == -1) {
			log_warn("queue: %s", path);
			close(s.fd);
			return MOB_ESYS;
		}
	}
	s.size = off;
	q->st.bytes += off;
	q->segs[q->nsegs++] = s;
	return 0;
}

int
rt_queue_open(const char *dir, const struct rt_qcfg *cfg, struct rt_queue **out)
{
	struct rt_queue *q;
	uint64_t *ids = NULL;
	size_t nids = 0;
	struct dirent *de;
	DIR *d = NULL;
	int r = MOB_ESYS;

	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->segs = calloc(SEG_MAX, sizeof(*q->segs))) == NULL ||
	    (ids = calloc(SEG_MAX, sizeof(*ids))) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	snprintf(q->dir, sizeof(q->dir), "%s", dir);
	q->cfg = *cfg;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("queue: mkdir %s", dir);
		goto out;
	}
	if ((d = opendir(dir)) == NULL) {
		log_warn("queue: %s", dir);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long id;

		if (strlen(de->d_name) != 24 ||
		    strcmp(de->d_name + 20, ".seg") != 0)
			continue;
		id = strtoull(de->d_name, &end, 10);
		if (end != de->d_name + 20)
			continue;
		if (nids == SEG_MAX) {
			log_warnx("queue: %s: more than %d segments", dir, SEG_MAX);
			goto out;
		}
		ids[nids++] = id;
	}
	qsort(ids, nids, sizeof(*ids), cmp_u64);
	for (size_t i = 0; i < nids; i++)
		if ((r = seg_load(q, ids[i])) != 0)
			goto out;
	if (q->n == 0) {
		/* a fresh stream starts at the time in µs: above any seq
		 * an earlier incarnation could have used */
		q->next_seq = (uint64_t)mob_clock_wall_us();
	}
	q->durable = q->n;
	q->st.records = q->n;
	seg_reap(q);
	*out = q;
	q = NULL;
	r = 0;
 out:
	if (d != NULL)
		closedir(d);
	free(ids);
	rt_queue_free(q);
	return r;
}

void
rt_queue_free(struct rt_queue *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; q->segs != NULL && i < q->nsegs; i++)
		close(q->segs[i].fd);
	free(q->segs);
	free(q->recs);
	free(q);
}

uint64_t
rt_queue_next_seq(const struct rt_queue *q)
{
	return q->next_seq;
}

static struct seg *
seg_for_append(struct rt_queue *q, uint64_t seq)
{
	char path[300];
	struct seg *s = q->nsegs > 0 ? &q->segs[q->nsegs - 1] : NULL;

	if (s != NULL && s->size < q->cfg.seg_bytes)
		return s;
	if (s != NULL && s->fd != -1 && fdatasync(s->fd) == -1)
		log_warn("queue: fdatasync");
	if (q->nsegs == SEG_MAX)
		return NULL;
	s = &q->segs[q->nsegs];
	memset(s, 0, sizeof(*s));
	s->id = seq;
	seg_path(q, seq, path, sizeof(path));
	if ((s->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		log_warn("queue: %s", path);
		return NULL;
	}
	q->nsegs++;
	return s;
}

int
rt_queue_push(struct rt_queue *q, uint64_t seq, int64_t ts,
    const uint8_t *rec, size_t len)
{
	uint8_t h[REC_HDR];
	struct iovec iov[2];
	struct seg *s;
	struct rec rc;
	size_t need = REC_HDR + len;
	int r;

	if (len == 0 || len > RT_FRAME_MAX || seq != q->next_seq)
		return MOB_EINVAL;
	if (need > q->cfg.max_bytes)
		return MOB_ETOOLONG;
	while (q->st.bytes + need > q->cfg.max_bytes) {
		/* room is made by dropping whole records, oldest first */
		if (q->cfg.full == RT_QFULL_REFUSE || q->n == 0) {
			q->st.refused_full++;
			return MOB_ERANGE;
		}
		rec_drop_head(q);
		q->st.dropped_full++;
		seg_reap(q);
		if (q->n == 0)
			break;
	}
	if ((s = seg_for_append(q, seq)) == NULL)
		return MOB_ESYS;
	put32(h, (uint32_t)len);
	rt_put64(h + 4, seq);
	rt_put64(h + 12, (uint64_t)ts);
	iov[0].iov_base = h;
	iov[0].iov_len = REC_HDR;
	iov[1].iov_base = (void *)rec;
	iov[1].iov_len = len;
	if (pwritev(s->fd, iov, 2, (off_t)s->size) != (ssize_t)need) {
		log_warn("queue: append");
		/* a short write leaves a torn record: cut it now */
		if (ftruncate(s->fd, (off_t)s->size) == -1)
			log_warn("queue: truncate");
		return MOB_ESYS;
	}
	rc.seq = seq;
	rc.ts = ts;
	rc.seg = s->id;
	rc.off = (uint32_t)s->size;
	rc.len = (uint32_t)len;
	if ((r = rec_append_index(q, &rc)) != 0)
		return r;
	s->size += need;
	s->live++;
	q->st.bytes += need;
	q->st.records = q->n;
	q->st.pushed++;
	q->next_seq = seq + 1;
	q->dirty = 1;
	return 0;
}

int
rt_queue_sync(struct rt_queue *q)
{
	if (!q->dirty) {
		q->durable = q->n;
		return 0;
	}
	/* earlier segments were synced when they were closed for appends */
	if (q->nsegs > 0 && fdatasync(q->segs[q->nsegs - 1].fd) == -1) {
		log_warn("queue: fdatasync");
		return MOB_ESYS;
	}
	q->dirty = 0;
	q->durable = q->n;
	return 0;
}

size_t
rt_queue_durable(const struct rt_queue *q)
{
	return q->durable;
}

int
rt_queue_get(struct rt_queue *q, size_t i, uint8_t *buf, size_t sz,
    size_t *len, uint64_t *seq, int64_t *ts)
{
	const struct rec *r;
	struct seg *s;

	*len = 0;
	if (i >= q->n)
		return MOB_ENOTFOUND;
	r = rec_at(q, i);
	if (r->len > sz)
		return MOB_ETOOLONG;
	if ((s = seg_find(q, r->seg)) == NULL)
		return MOB_ENOTFOUND;
	if (pread(s->fd, buf, r->len, (off_t)r->off + REC_HDR) != (ssize_t)r->len) {
		log_warn("queue: read");
		return MOB_ESYS;
	}
	*len = r->len;
	*seq = r->seq;
	*ts = r->ts;
	return 0;
}

uint64_t
rt_queue_head(const struct rt_queue *q)
{
	return q->n > 0 ? rec_at(q, 0)->seq : 0;
}

void
rt_queue_ack(struct rt_queue *q, uint64_t upto)
{
	size_t k = 0;

	while (q->n > 0 && rec_at(q, 0)->seq <= upto) {
		rec_drop_head(q);
		q->st.acked++;
		k++;
	}
	if (k > 0)
		seg_reap(q);
}

size_t
rt_queue_expire(struct rt_queue *q, int64_t now_ms)
{
	size_t k = 0;

	while (q->n > 0 && rec_at(q, 0)->ts + q->cfg.ttl_ms < now_ms) {
		rec_drop_head(q);
		q->st.expired++;
		k++;
	}
	if (k > 0)
		seg_reap(q);
	return k;
}

void
rt_queue_stats(const struct rt_queue *q, struct rt_qstats *out)
{
	*out = q->st;
}
