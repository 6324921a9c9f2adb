/*
 * The Modbus master: plans coalesced read blocks, polls them on schedule,
 * writes with read-back, and tracks whether each device answers.
 *
 * A device that times out (after its retries) goes offline: its values are
 * reported stale at once (MOB_MB_EV_OFFLINE) and it is tried again after a
 * backoff that doubles up to backoff_max_ms.  An exception response is an
 * answer: the device stays online and only that block's points fail.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <modbus.h>

#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "internal.h"

struct bus {
	modbus_t *ctx;
	int connected;
	const struct mob_mb_device *cfg;	/* first device naming the bus */
};

/*
 * A point as a block decodes it: 32 bytes, contiguous per block, so a poll
 * touches few cache lines (it runs after a sleep, caches cold).  last is
 * the value sent: only changes are passed on.
 */
#define BPT_WL		0x1
#define BPT_BL		0x2
#define BPT_VALID	0x4
#define BPT_WIDE	0x8

struct bpt {
	double scale, offset, last;
	uint32_t idx;		/* the point in its device */
	uint16_t off;		/* register (bit) offset in the block */
	uint8_t type;
	uint8_t flags;
};

struct block {
	size_t dev;
	enum mob_mb_table table;
	uint16_t start, count;
	int poll_ms;
	int64_t due;
	int last_err;		/* logged once until it changes */
	struct bpt *pts;
	size_t npts;
};

struct dev {
	struct bus *bus;
	struct bpt **where;	/* per point: its entry in its block */
	int online;		/* -1 unknown (not polled yet), 0, 1 */
	int64_t retry_at;
	int backoff_ms;
	uint64_t cycles;
	uint64_t io_ns;		/* wall time in requests */
	uint64_t work_ns;	/* CPU time decoding and in the callbacks */
	size_t nblocks;
	size_t last_block;	/* its last block: a cycle ends there */
	char why[160];		/* the last failure in words: errno, exception */
};

struct mob_mb_master {
	const struct mob_mb_config *cfg;
	mob_mb_event_fn fn;
	void *arg;
	struct bus *buses;
	size_t nbuses;
	struct dev *devs;
	struct block *blocks;
	size_t nblocks;
};


static int64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}


int
mob_mb_errno(int e)
{
	switch (e) {
	case EMBXILADD:
		return MOB_EMBADDR;
	case EMBXILVAL:
		return MOB_EMBVALUE;
	case EMBXILFUN:
	case EMBXSFAIL:
	case EMBXACK:
	case EMBXSBUSY:
	case EMBXNACK:
	case EMBXMEMPAR:
	case EMBXGPATH:
	case EMBXGTAR:
		return MOB_EDEVICE;
	case EMBBADCRC:
	case EMBBADDATA:
	case EMBBADEXC:
	case EMBUNKEXC:
	case EMBMDATA:
	case EMBBADSLAVE:
		return MOB_EPROTO;
	case ETIMEDOUT:
		return MOB_ETIMEOUT;
	default:
		return MOB_EOFFLINE;
	}
}

/* An exception response: the device answered, the request was refused. */
static int
is_answer(int r)
{
	return r == MOB_EMBADDR || r == MOB_EMBVALUE || r == MOB_EDEVICE;
}

static int
same_bus(const struct mob_mb_device *a, const struct mob_mb_device *b)
{
	if (a->rtu != b->rtu)
		return 0;
	if (a->rtu)
		return strcmp(a->path, b->path) == 0;
	return strcmp(a->host, b->host) == 0 && a->port == b->port;
}

static int
bus_open(struct bus *b)
{
	const struct mob_mb_device *c = b->cfg;
	char port[16];

	if (c->rtu) {
		b->ctx = modbus_new_rtu(c->path, c->baud, c->parity,
		    c->data_bits, c->stop_bits);
	} else {
		snprintf(port, sizeof(port), "%d", c->port);
		b->ctx = modbus_new_tcp_pi(c->host, port);
	}
	if (b->ctx == NULL)
		return MOB_ENOMEM;
	return 0;
}

static int
bus_connect(struct bus *b)
{
	if (b->connected)
		return 0;
	if (modbus_connect(b->ctx) == -1)
		return MOB_EOFFLINE;
	b->connected = 1;
	return 0;
}

static void
bus_reset(struct bus *b)
{
	if (!b->connected)
		return;
	if (b->cfg->rtu) {
		/* Other units share the line: drop stray bytes, keep it open. */
		modbus_flush(b->ctx);
		return;
	}
	modbus_close(b->ctx);
	b->connected = 0;
}

/*
 * Run one request against a device with its timeout and retries.  op
 * returns libmodbus's result (-1 with errno on failure).
 */
enum op { OP_READ, OP_WRITE_BIT, OP_WRITE_REG, OP_WRITE_REGS };

static int
transact(struct mob_mb_master *m, size_t di, enum op op, enum mob_mb_table table,
    int addr, int n, uint16_t *regs, uint8_t *bits)
{
	const struct mob_mb_device *c = &m->cfg->devices[di];
	struct bus *b = m->devs[di].bus;
	/* An offline device gets one probe: the loop is not held up twice. */
	int tries = m->devs[di].online == 0 ? 1 : c->retries + 1;
	int i, rv, r = MOB_EOFFLINE;

	for (i = 0; i < tries; i++) {
		if ((r = bus_connect(b)) != 0) {
			snprintf(m->devs[di].why, sizeof(m->devs[di].why),
			    "connect: %s", modbus_strerror(errno));
			continue;
		}
		modbus_set_slave(b->ctx, c->unit);
		modbus_set_response_timeout(b->ctx, (uint32_t)c->timeout_ms / 1000,
		    (uint32_t)(c->timeout_ms % 1000) * 1000);
		switch (op) {
		case OP_WRITE_BIT:
			rv = modbus_write_bit(b->ctx, addr, regs[0] != 0);
			break;
		case OP_WRITE_REG:
			rv = modbus_write_register(b->ctx, addr, regs[0]);
			break;
		case OP_WRITE_REGS:
			rv = modbus_write_registers(b->ctx, addr, n, regs);
			break;
		case OP_READ:
		default:
			if (table == MOB_MB_COIL)
				rv = modbus_read_bits(b->ctx, addr, n, bits);
			else if (table == MOB_MB_DISCRETE)
				rv = modbus_read_input_bits(b->ctx, addr, n, bits);
			else if (table == MOB_MB_HOLDING)
				rv = modbus_read_registers(b->ctx, addr, n, regs);
			else
				rv = modbus_read_input_registers(b->ctx, addr, n, regs);
			break;
		}
		if (rv != -1)
			return 0;
		r = mob_mb_errno(errno);
		/* libmodbus words errno and Modbus exceptions alike */
		snprintf(m->devs[di].why, sizeof(m->devs[di].why), "%s at %d: %s",
		    mob_mb_table_name(table), addr, modbus_strerror(errno));
		if (is_answer(r))
			return r;
		log_debug("%s: %s at %d: %s (try %d)", c->name,
		    mob_mb_table_name(table), addr, modbus_strerror(errno), i + 1);
		bus_reset(b);
	}
	return r;
}

static void
set_offline(struct mob_mb_master *m, size_t di, int err)
{
	const struct mob_mb_device *c = &m->cfg->devices[di];
	struct dev *d = &m->devs[di];
	int64_t now = mob_clock_mono_ms();
	size_t i;

	for (i = 0; i < c->npoints; i++)
		d->where[i]->flags &= ~BPT_VALID;

	if (d->online != 0) {
		/* where and why, so the log says what to check */
		if (c->rtu)
			log_warnx("%s (%s, unit %d): offline: %s", c->name,
			    c->path, c->unit, *d->why != '\0' ? d->why :
			    mob_strerror(err));
		else
			log_warnx("%s (%s:%d, unit %d): offline: %s", c->name,
			    c->host, c->port, c->unit, *d->why != '\0' ?
			    d->why : mob_strerror(err));
		d->online = 0;
		d->backoff_ms = c->backoff_min_ms;
		m->fn(m->arg, MOB_MB_EV_OFFLINE, di, 0, 0, err);
	} else {
		d->backoff_ms = d->backoff_ms > c->backoff_max_ms / 2 ?
		    c->backoff_max_ms : d->backoff_ms * 2;
	}
	d->retry_at = now + d->backoff_ms;
	for (i = 0; i < m->nblocks; i++)
		if (m->blocks[i].dev == di)
			m->blocks[i].due = d->retry_at;
}

static void
set_online(struct mob_mb_master *m, size_t di)
{
	struct dev *d = &m->devs[di];

	if (d->online == 1)
		return;
	if (d->online == 0)
		log_info("%s: online again", m->cfg->devices[di].name);
	d->online = 1;
	d->backoff_ms = m->cfg->devices[di].backoff_min_ms;
	m->fn(m->arg, MOB_MB_EV_ONLINE, di, 0, 0, 0);
}

static void
emit_block(struct mob_mb_master *m, const struct block *b, const uint16_t *regs,
    const uint8_t *bits)
{
	struct bpt *e;
	uint16_t tmp[2];
	size_t i;
	double v;

	for (i = 0; i < b->npts; i++) {
		e = &b->pts[i];
		if (bits != NULL) {
			tmp[0] = bits[e->off] != 0;
			tmp[1] = 0;
		} else {
			tmp[0] = regs[e->off];
			tmp[1] = e->flags & BPT_WIDE ? regs[e->off + 1] : 0;
		}
		v = mob_mb_decode_raw(e->type, e->flags & BPT_WL,
		    e->flags & BPT_BL, e->scale, e->offset, tmp);
		if ((e->flags & BPT_VALID) && e->last == v)
			continue;
		e->last = v;
		e->flags |= BPT_VALID;
		m->fn(m->arg, MOB_MB_EV_VALUE, b->dev, e->idx, v, 0);
	}
}

static int
poll_block(struct mob_mb_master *m, size_t bi)
{
	struct block *b = &m->blocks[bi];
	uint16_t regs[MOB_MB_MAX_READ_REGS];
	uint8_t bits[MOB_MB_MAX_READ_BITS];
	int isbits = b->table == MOB_MB_COIL || b->table == MOB_MB_DISCRETE;
	int64_t t0 = mob_clock_mono_ns(), c0;
	size_t i;
	int r;

	r = transact(m, b->dev, OP_READ, b->table, b->start, b->count, regs, bits);
	m->devs[b->dev].io_ns += (uint64_t)(mob_clock_mono_ns() - t0);
	c0 = cpu_ns();
	if (r == 0) {
		set_online(m, b->dev);
		emit_block(m, b, regs, isbits ? bits : NULL);
		b->last_err = 0;
		if (bi == m->devs[b->dev].last_block)
			m->devs[b->dev].cycles++;
	} else if (is_answer(r)) {
		set_online(m, b->dev);
		if (r != b->last_err)
			log_warnx("%s: %s %u..%u: %s",
			    m->cfg->devices[b->dev].name,
			    mob_mb_table_name(b->table), b->start,
			    b->start + b->count - 1, mob_strerror(r));
		b->last_err = r;
		for (i = 0; i < b->npts; i++) {
			b->pts[i].flags &= ~BPT_VALID;
			m->fn(m->arg, MOB_MB_EV_POINT_ERR, b->dev, b->pts[i].idx,
			    0, r);
		}
	}
	/* CPU time: on a busy machine, wall time would count preemption. */
	m->devs[b->dev].work_ns += (uint64_t)(cpu_ns() - c0);
	return r;
}

int
mob_mb_master_connect(struct mob_mb_master *m)
{
	for (size_t i = 0; i < m->nbuses; i++)
		if (bus_connect(&m->buses[i]) != 0)
			log_debug("%s: not connected yet: %s",
			    m->buses[i].cfg->name, modbus_strerror(errno));
	return 0;
}

int
mob_mb_master_poll(struct mob_mb_master *m)
{
	int64_t now = mob_clock_mono_ms(), next = INT_MAX, wait;
	struct block *b;
	size_t i;
	int r;

	for (i = 0; i < m->nblocks; i++) {
		b = &m->blocks[i];
		if (b->due <= now) {
			r = poll_block(m, i);
			if (r != 0 && !is_answer(r)) {
				set_offline(m, b->dev, r);
			} else {
				/* Keep the cadence; skip missed slots. */
				b->due += b->poll_ms;
				if (b->due <= now)
					b->due = now + b->poll_ms;
			}
			now = mob_clock_mono_ms();
		}
		wait = b->due - now;
		if (wait < next)
			next = wait;
	}
	return next < 0 ? 0 : (int)next;
}

int
mob_mb_master_write(struct mob_mb_master *m, size_t di, size_t pi, double value,
    double *readback)
{
	const struct mob_mb_device *c;
	const struct mob_mb_point *p;
	uint16_t regs[2] = { 0, 0 };
	uint8_t bits[2];
	enum op op;
	int r, w;

	if (di >= m->cfg->ndevices || pi >= m->cfg->devices[di].npoints)
		return MOB_ENOTFOUND;
	c = &m->cfg->devices[di];
	p = &c->points[pi];
	if (p->table != MOB_MB_COIL && p->table != MOB_MB_HOLDING)
		return MOB_EREADONLY;
	if ((r = mob_mb_encode(p, value, regs)) != 0)
		return r;
	if (m->devs[di].online == 0)
		return MOB_EOFFLINE;
	w = mob_mb_point_width(p);
	op = p->table == MOB_MB_COIL ? OP_WRITE_BIT :
	    w == 2 ? OP_WRITE_REGS : OP_WRITE_REG;
	r = transact(m, di, op, p->table, p->address, w, regs, NULL);
	if (r == 0)
		r = transact(m, di, OP_READ, p->table, p->address, w, regs, bits);
	if (r != 0) {
		if (!is_answer(r))
			set_offline(m, di, r);
		return r;
	}
	set_online(m, di);
	if (p->table == MOB_MB_COIL) {
		regs[0] = bits[0] != 0;
		regs[1] = 0;
	}
	value = mob_mb_decode(p, regs);
	if (readback != NULL)
		*readback = value;
	/* The next poll passes the device's value on, whatever it was. */
	m->devs[di].where[pi]->flags &= ~BPT_VALID;
	return 0;
}

int
mob_mb_master_online(const struct mob_mb_master *m, size_t di)
{
	return di < m->cfg->ndevices && m->devs[di].online == 1;
}

uint64_t
mob_mb_master_cycles(const struct mob_mb_master *m, size_t di)
{
	return di < m->cfg->ndevices ? m->devs[di].cycles : 0;
}

uint64_t
mob_mb_master_busy_ns(const struct mob_mb_master *m, size_t di)
{
	return di < m->cfg->ndevices ?
	    m->devs[di].io_ns + m->devs[di].work_ns : 0;
}

uint64_t
mob_mb_master_io_ns(const struct mob_mb_master *m, size_t di)
{
	return di < m->cfg->ndevices ? m->devs[di].io_ns : 0;
}

size_t
mob_mb_master_blocks(const struct mob_mb_master *m, size_t di)
{
	return di < m->cfg->ndevices ? m->devs[di].nblocks : 0;
}

/* --- planning ------------------------------------------------------------ */

static int
cmp_point(const void *a, const void *b, void *arg)
{
	const struct mob_mb_point *pts = arg;
	const struct mob_mb_point *x = &pts[*(const size_t *)a];
	const struct mob_mb_point *y = &pts[*(const size_t *)b];

	if (x->table != y->table)
		return (int)x->table - (int)y->table;
	if (x->poll_ms != y->poll_ms)
		return x->poll_ms - y->poll_ms;
	return (int)x->address - (int)y->address;
}

static int
point_poll(const struct mob_mb_device *c, const struct mob_mb_point *p)
{
	return p->poll_ms > 0 ? p->poll_ms : c->poll_ms;
}

/*
 * Coalesce one device's points: sorted by table, period and address, a
 * point joins the current block when it has the same table and period, the
 * gap to the block's end is at most max_gap and the block stays within the
 * protocol's limit for one read.
 */
static int
plan_device(struct mob_mb_master *m, size_t di)
{
	const struct mob_mb_device *c = &m->cfg->devices[di];
	struct block *b = NULL, *nb;
	struct bpt *e;
	size_t *order, i, limit;
	const struct mob_mb_point *p;
	unsigned end, pend;
	int r = MOB_ENOMEM;

	if (c->npoints == 0)
		return 0;
	if ((order = calloc(c->npoints, sizeof(*order))) == NULL)
		return MOB_ENOMEM;
	for (i = 0; i < c->npoints; i++)
		order[i] = i;
	qsort_r(order, c->npoints, sizeof(*order), cmp_point, c->points);
	for (i = 0; i < c->npoints; i++) {
		p = &c->points[order[i]];
		limit = p->table == MOB_MB_COIL || p->table == MOB_MB_DISCRETE ?
		    MOB_MB_MAX_READ_BITS : MOB_MB_MAX_READ_REGS;
		pend = (unsigned)p->address + (unsigned)mob_mb_point_width(p);
		end = b == NULL ? 0 : (unsigned)b->start + b->count;
		if (b == NULL || b->table != p->table ||
		    b->poll_ms != point_poll(c, p) ||
		    p->address > end + (unsigned)c->max_gap ||
		    (pend > end && pend - b->start > limit)) {
			nb = reallocarray(m->blocks, m->nblocks + 1, sizeof(*nb));
			if (nb == NULL)
				goto out;
			m->blocks = nb;
			b = &m->blocks[m->nblocks++];
			memset(b, 0, sizeof(*b));
			b->dev = di;
			b->table = p->table;
			b->start = p->address;
			b->poll_ms = point_poll(c, p);
			if ((b->pts = calloc(c->npoints, sizeof(*b->pts))) == NULL)
				goto out;
			m->devs[di].nblocks++;
			m->devs[di].last_block = m->nblocks - 1;
			end = b->start;
		}
		if (pend > end)
			b->count = (uint16_t)(pend - b->start);
		e = &b->pts[b->npts++];
		e->scale = p->scale;
		e->offset = p->offset;
		e->idx = (uint32_t)order[i];
		e->off = (uint16_t)(p->address - b->start);
		e->type = (uint8_t)p->type;
		e->flags = (p->word_little ? BPT_WL : 0) |
		    (p->byte_little ? BPT_BL : 0) |
		    (mob_mb_point_width(p) == 2 ? BPT_WIDE : 0);
		m->devs[di].where[order[i]] = e;
	}
	r = 0;
 out:
	free(order);
	return r;
}

int
mob_mb_master_new(const struct mob_mb_config *cfg, mob_mb_event_fn fn,
    void *arg, struct mob_mb_master **out)
{
	struct mob_mb_master *m;
	size_t i, j;
	int r = MOB_ENOMEM;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return MOB_ENOMEM;
	m->cfg = cfg;
	m->fn = fn;
	m->arg = arg;
	if (cfg->ndevices > 0 &&
	    ((m->devs = calloc(cfg->ndevices, sizeof(*m->devs))) == NULL ||
	    (m->buses = calloc(cfg->ndevices, sizeof(*m->buses))) == NULL))
		goto out;
	for (i = 0; i < cfg->ndevices; i++) {
		for (j = 0; j < m->nbuses; j++)
			if (same_bus(m->buses[j].cfg, &cfg->devices[i]))
				break;
		if (j == m->nbuses) {
			m->buses[j].cfg = &cfg->devices[i];
			m->nbuses++;
			if ((r = bus_open(&m->buses[j])) != 0)
				goto out;
		}
		m->devs[i].bus = &m->buses[j];
		m->devs[i].online = -1;
		if (cfg->devices[i].npoints > 0 &&
		    (m->devs[i].where = calloc(cfg->devices[i].npoints,
		    sizeof(*m->devs[i].where))) == NULL) {
			r = MOB_ENOMEM;
			goto out;
		}
		m->devs[i].backoff_ms = cfg->devices[i].backoff_min_ms;
		if ((r = plan_device(m, i)) != 0)
			goto out;
	}
	*out = m;
	m = NULL;
	r = 0;
 out:
	mob_mb_master_free(m);
	return r;
}

void
mob_mb_master_free(struct mob_mb_master *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nbuses; i++) {
		if (m->buses[i].ctx == NULL)
			continue;
		if (m->buses[i].connected)
			modbus_close(m->buses[i].ctx);
		modbus_free(m->buses[i].ctx);
	}
	for (i = 0; i < m->nblocks; i++)
		free(m->blocks[i].pts);
	for (i = 0; m->devs != NULL && i < m->cfg->ndevices; i++)
		free(m->devs[i].where);
	free(m->blocks);
	free(m->buses);
	free(m->devs);
	free(m);
}
