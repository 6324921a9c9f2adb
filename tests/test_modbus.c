/*
 * mobius-modbus: the driver against an independent device (pymodbus, Debian's
 * python3-pymodbus) over TCP on 127.0.0.1 and over RTU through a socat pty
 * pair, and the register codec on its own.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "mobius/err.h"
#include "../drivers/modbus/mbdrv.h"
#include "modbus_support.h"
#include "hw_support.h"


/* --- codec --------------------------------------------------------------- */

static struct mob_mb_point
pt(enum mob_mb_type t, int wl, int bl)
{
	struct mob_mb_point p;

	memset(&p, 0, sizeof(p));
	p.type = t;
	p.word_little = wl;
	p.byte_little = bl;
	p.scale = 1;
	p.table = MOB_MB_HOLDING;
	return p;
}

Test(modbus, int32_layout_follows_word_and_byte_order)
{
	static const struct { int wl, bl; uint16_t r0, r1; } cases[] = {
		{ 0, 0, 0x1234, 0x5678 },	/* ABCD */
		{ 1, 0, 0x5678, 0x1234 },	/* CDAB */
		{ 0, 1, 0x3412, 0x7856 },	/* BADC */
		{ 1, 1, 0x7856, 0x3412 },	/* DCBA */
	};
	struct mob_mb_point p;
	uint16_t regs[2];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = pt(MOB_MB_UINT32, cases[i].wl, cases[i].bl);
		cr_assert_eq(mob_mb_encode(&p, 0x12345678, regs), 0);
		cr_expect_eq(regs[0], cases[i].r0, "case %zu r0 %04x", i, regs[0]);
		cr_expect_eq(regs[1], cases[i].r1, "case %zu r1 %04x", i, regs[1]);
		cr_expect_eq(mob_mb_decode(&p, regs), (double)0x12345678);
	}
}

Test(modbus, every_type_round_trips_with_scale_and_offset)
{
	static const struct { enum mob_mb_type t; double v; } cases[] = {
		{ MOB_MB_INT16, -321.5 }, { MOB_MB_UINT16, 6553.0 },
		{ MOB_MB_INT32, -2000000.5 }, { MOB_MB_UINT32, 400000000.0 },
		{ MOB_MB_FLOAT32, 21.25 },
	};
	struct mob_mb_point p;
	uint16_t regs[2];
	size_t i;
	int wl, bl;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (wl = 0; wl < 2; wl++)
			for (bl = 0; bl < 2; bl++) {
				p = pt(cases[i].t, wl, bl);
				p.scale = 0.5;
				p.offset = 10;
				cr_assert_eq(mob_mb_encode(&p, cases[i].v, regs), 0);
				cr_expect_float_eq(mob_mb_decode(&p, regs),
				    cases[i].v, 1e-6, "%s wl %d bl %d",
				    mob_mb_type_name(cases[i].t), wl, bl);
			}
}

Test(modbus, encode_refuses_values_the_type_cannot_hold)
{
	struct mob_mb_point p = pt(MOB_MB_INT16, 0, 0);
	uint16_t regs[2];

	cr_expect_eq(mob_mb_encode(&p, 32768, regs), MOB_ERANGE);
	cr_expect_eq(mob_mb_encode(&p, -32768, regs), 0);
	p = pt(MOB_MB_UINT16, 0, 0);
	cr_expect_eq(mob_mb_encode(&p, -1, regs), MOB_ERANGE);
	p = pt(MOB_MB_UINT32, 0, 0);
	cr_expect_eq(mob_mb_encode(&p, 4294967296.0, regs), MOB_ERANGE);
	p = pt(MOB_MB_BOOL, 0, 0);
	cr_expect_eq(mob_mb_encode(&p, 2, regs), MOB_ERANGE);
	p = pt(MOB_MB_FLOAT32, 0, 0);
	cr_expect_eq(mob_mb_encode(&p, NAN, regs), MOB_EINVAL);
	cr_expect_eq(mob_mb_encode(&p, 1e39, regs), MOB_ERANGE);
}

/* --- against the device ---------------------------------------------------- */

struct seen {
	double value[64];
	int err[64];
	int fresh[64];
	int online, offline;
	int offline_err;
};

static void
on_event(void *arg, enum mob_mb_event ev, size_t dev, size_t point,
    double value, int err)
{
	struct seen *s = arg;
	size_t i = dev * 32 + point;

	switch (ev) {
	case MOB_MB_EV_VALUE:
		s->value[i] = value;
		s->fresh[i] = 1;
		s->err[i] = 0;
		break;
	case MOB_MB_EV_POINT_ERR:
		s->err[i] = err;
		s->fresh[i] = 0;
		break;
	case MOB_MB_EV_ONLINE:
		s->online++;
		break;
	case MOB_MB_EV_OFFLINE:
		s->offline++;
		s->offline_err = err;
		for (i = dev * 32; i < dev * 32 + 32; i++)
			s->fresh[i] = 0;
		break;
	}
}

static void
add_point(struct mob_mb_device *d, enum mob_mb_table t, int addr,
    enum mob_mb_type ty, int wl, int bl)
{
	struct mob_mb_point *p;

	d->points = reallocarray(d->points, d->npoints + 1, sizeof(*p));
	cr_assert_not_null(d->points);
	p = &d->points[d->npoints];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "p%zu", d->npoints);
	p->table = t;
	p->address = (uint16_t)addr;
	p->type = ty;
	p->word_little = wl;
	p->byte_little = bl;
	p->scale = 1;
	d->npoints++;
}

static void
tcp_device(struct mob_mb_device *d, int port, int unit)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "dev%d", unit);
	snprintf(d->host, sizeof(d->host), "127.0.0.1");
	d->port = port;
	d->unit = unit;
	d->timeout_ms = 300;
	d->retries = 1;
	d->poll_ms = 50;
	d->backoff_min_ms = 100;
	d->backoff_max_ms = 400;
}

/* Every type and order, each at its own holding registers. */
static void
typed_points(struct mob_mb_device *d)
{
	enum mob_mb_type t;
	int addr = 100, wl, bl;

	for (t = MOB_MB_INT16; t <= MOB_MB_FLOAT32; t++)
		for (wl = 0; wl < 2; wl++)
			for (bl = 0; bl < 2; bl++) {
				if (t <= MOB_MB_UINT16 && wl)
					continue;
				add_point(d, MOB_MB_HOLDING, addr, t, wl, bl);
				addr += 2;
			}
}

static double
sample(enum mob_mb_type t)
{
	switch (t) {
	case MOB_MB_INT16: return -1234;
	case MOB_MB_UINT16: return 54321;
	case MOB_MB_INT32: return -123456789;
	case MOB_MB_UINT32: return 3000000000.0;
	case MOB_MB_FLOAT32: return -273.125;
	default: return 1;
	}
}

static void
poll_until(struct mob_mb_master *m, int *flag, int ms)
{
	int waited = 0;

	while (!*flag && waited < ms) {
		mob_mb_master_poll(m);
		usleep(10000);
		waited += 10;
	}
}

/* Write every point of every device, read back, then poll them all. */
static void
check_types_read_and_written(struct mob_mb_config *cfg, const char *what)
{
	const struct mob_mb_point *p;
	struct mob_mb_master *m = NULL;
	struct seen s;
	size_t di, i;
	double rb;

	memset(&s, 0, sizeof(s));
	cr_assert_eq(mob_mb_master_new(cfg, on_event, &s, &m), 0);
	for (di = 0; di < cfg->ndevices; di++)
		for (i = 0; i < cfg->devices[di].npoints; i++) {
			p = &cfg->devices[di].points[i];
			cr_assert_eq(mob_mb_master_write(m, di, i,
			    sample(p->type), &rb), 0, "%s: unit %d write %s",
			    what, cfg->devices[di].unit, mob_mb_type_name(p->type));
			cr_expect_float_eq(rb, sample(p->type), 1e-3,
			    "%s: unit %d read back %s wl %d bl %d", what,
			    cfg->devices[di].unit, mob_mb_type_name(p->type),
			    p->word_little, p->byte_little);
		}
	memset(&s.fresh, 0, sizeof(s.fresh));
	di = cfg->ndevices - 1;
	poll_until(m, &s.fresh[di * 32 + cfg->devices[di].npoints - 1], 3000);
	for (di = 0; di < cfg->ndevices; di++)
		for (i = 0; i < cfg->devices[di].npoints; i++) {
			p = &cfg->devices[di].points[i];
			cr_expect(s.fresh[di * 32 + i], "%s: point %zu polled",
			    what, i);
			cr_expect_float_eq(s.value[di * 32 + i], sample(p->type),
			    1e-3, "%s: unit %d poll %s wl %d bl %d", what,
			    cfg->devices[di].unit, mob_mb_type_name(p->type),
			    p->word_little, p->byte_little);
		}
	mob_mb_master_free(m);
}

Test(modbus, tcp_every_type_and_order_written_read_back_and_polled)
{
	struct mb_server srv;
	struct mob_mb_device dev;
	struct mob_mb_config cfg = { &dev, 1 };

	mb_server_tcp(&srv, NULL);
	tcp_device(&dev, srv.port, 1);
	typed_points(&dev);
	add_point(&dev, MOB_MB_COIL, 7, MOB_MB_BOOL, 0, 0);
	add_point(&dev, MOB_MB_HOLDING, 300, MOB_MB_BOOL, 0, 0);
	check_types_read_and_written(&cfg, "tcp");
	free(dev.points);
	mb_server_done(&srv);
}

Test(modbus, word_order_matches_what_the_device_holds)
{
	struct mb_server srv;
	struct mob_mb_device dev;
	struct mob_mb_config cfg = { &dev, 1 };
	struct mob_mb_master *m = NULL;
	struct seen s;
	uint16_t regs[4];
	modbus_t *ctx;

	mb_server_tcp(&srv, NULL);
	tcp_device(&dev, srv.port, 1);
	add_point(&dev, MOB_MB_HOLDING, 10, MOB_MB_UINT32, 0, 0);
	add_point(&dev, MOB_MB_HOLDING, 12, MOB_MB_UINT32, 1, 1);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(mob_mb_master_new(&cfg, on_event, &s, &m), 0);
	cr_assert_eq(mob_mb_master_write(m, 0, 0, 0x11223344, NULL), 0);
	cr_assert_eq(mob_mb_master_write(m, 0, 1, 0x11223344, NULL), 0);
	/* An independent look at the registers, with bare libmodbus. */
	ctx = mb_bare_connect(srv.port, 1);
	cr_assert_eq(modbus_read_registers(ctx, 10, 4, regs), 4);
	cr_expect_eq(regs[0], 0x1122);
	cr_expect_eq(regs[1], 0x3344);
	cr_expect_eq(regs[2], 0x4433);
	cr_expect_eq(regs[3], 0x2211);
	modbus_close(ctx);
	modbus_free(ctx);
	mob_mb_master_free(m);
	free(dev.points);
	mb_server_done(&srv);
}

Test(modbus, input_registers_and_discrete_inputs_are_read)
{
	struct mb_server srv;
	struct mob_mb_device dev;
	struct mob_mb_config cfg = { &dev, 1 };
	struct mob_mb_master *m = NULL;
	struct seen s;

	mb_server_tcp(&srv, NULL);
	tcp_device(&dev, srv.port, 1);
	add_point(&dev, MOB_MB_INPUT, 42, MOB_MB_UINT16, 0, 0);
	add_point(&dev, MOB_MB_INPUT, 43, MOB_MB_INT16, 0, 0);
	add_point(&dev, MOB_MB_DISCRETE, 5, MOB_MB_BOOL, 0, 0);
	add_point(&dev, MOB_MB_DISCRETE, 6, MOB_MB_BOOL, 0, 0);
	dev.points[1].scale = 0.1;
	dev.points[1].offset = -1;
	memset(&s, 0, sizeof(s));
	cr_assert_eq(mob_mb_master_new(&cfg, on_event, &s, &m), 0);
	poll_until(m, &s.fresh[3], 3000);
	cr_expect_float_eq(s.value[0], 42, 1e-9);
	cr_expect_float_eq(s.value[1], 43 * 0.1 - 1, 1e-9);
	cr_expect_eq(s.value[2], 1);	/* device seeds discrete input i as i % 2 */
	cr_expect_eq(s.value[3], 0);
	cr_expect_eq(mob_mb_master_write(m, 0, 0, 1, NULL), MOB_EREADONLY);
	cr_expect_eq(mob_mb_master_write(m, 0, 2, 1, NULL), MOB_EREADONLY);
	mob_mb_master_free(m);
	free(dev.points);
	mb_server_done(&srv);
}

Test(modbus, registers_are_read_in_coalesced_blocks)
{
	struct mob_mb_device dev;
	struct mob_mb_config cfg = { &dev, 1 };
	struct mob_mb_master *m = NULL;
	struct seen s;
	int i;

	tcp_device(&dev, 1, 1);
	for (i = 0; i < 100; i++)
		add_point(&dev, MOB_MB_HOLDING, i, MOB_MB_UINT16, 0, 0);
	add_point(&dev, MOB_MB_HOLDING, 100, MOB_MB_FLOAT32, 0, 0);
	add_point(&dev, MOB_MB_HOLDING, 110, MOB_MB_UINT16, 0, 0);	/* past the gap */
	add_point(&dev, MOB_MB_HOLDING, 300, MOB_MB_UINT16, 0, 0);	/* 125-register limit */
	add_point(&dev, MOB_MB_COIL, 0, MOB_MB_BOOL, 0, 0);
	add_point(&dev, MOB_MB_COIL, 1999, MOB_MB_BOOL, 0, 0);
	add_point(&dev, MOB_MB_COIL, 2000, MOB_MB_BOOL, 0, 0);	/* 2000-bit limit */
	dev.max_gap = 8;
	cr_assert_eq(mob_mb_master_new(&cfg, on_event, &s, &m), 0);
	/* 0..101 with 110 (gap 8), 300, coil 0, coils 1999..2000. */
	cr_expect_eq(mob_mb_master_blocks(m, 0), 4);
	mob_mb_master_free(m);
	dev.max_gap = 200;
	cr_assert_eq(mob_mb_master_new(&cfg, on_event, &s, &m), 0);
	/* 0..110 with 300 would be 301 registers; coils 0..1999, 2000. */
	cr_expect_eq(mob_mb_master_blocks(m, 0), 4);
	mob_mb_master_free(m);
	dev.max_gap = 0;
	cr_assert_eq(mob_mb_master_new(&cfg, on_event, &s, &m), 0);
	/* 0..101, 110, 300, coil 0, coils 1999..2000. */
	cr_expect_eq(mob_mb_master_blocks(m, 0), 5);
	mob_mb_master_free(m);
	free(dev.points);
}

Test(modbus, exception_responses_become_error_codes)
{
	struct mb_server srv;
	struct mob_mb_device dev;
	struct mob_mb_config cfg = { &dev, 1 };
	struct mob_mb_master *m = NULL;
	struct seen s;

	mb_server_tcp(&srv, "--limit=20=1000");
	tcp_device(&dev, srv.port, 1);
	add_point(&dev, MOB_MB_HOLDING, 20, MOB_MB_UINT16, 0, 0);
	add_point(&dev, MOB_MB_HOLDING, 5000, MOB_MB_UINT16, 0, 0);	/* beyond --size */
	memset(&s, 0, sizeof(s));
	cr_assert_eq(mob_mb_master_new(&cfg, on_event, &s, &m), 0);
	cr_expect_eq(mob_mb_master_write(m, 0, 0, 1001, NULL), MOB_EMBVALUE);
	cr_expect_eq(mob_mb_master_write(m, 0, 0, 999, NULL), 0);
	cr_expect_eq(mob_mb_master_write(m, 0, 1, 1, NULL), MOB_EMBADDR);
	cr_expect_eq(mob_mb_master_write(m, 0, 0, 70000, NULL), MOB_ERANGE);
	s.fresh[0] = 0;
	poll_until(m, &s.fresh[0], 3000);
	cr_expect_eq(s.value[0], 999);
	cr_expect_eq(s.err[1], MOB_EMBADDR, "err %d", s.err[1]);
	/* The device answered, so it is online. */
	cr_expect(mob_mb_master_online(m, 0));
	cr_expect_eq(s.offline, 0);
	cr_expect_str_eq(mob_errname(MOB_EMBADDR), "illegal_address");
	cr_expect_str_eq(mob_errname(MOB_EMBVALUE), "illegal_value");
	mob_mb_master_free(m);
	free(dev.points);
	mb_server_done(&srv);
}

Test(modbus, device_stopped_goes_offline_and_comes_back)
{
	struct mb_server srv;
	struct mob_mb_device dev;
	struct mob_mb_config cfg = { &dev, 1 };
	struct mob_mb_master *m = NULL;
	struct seen s;
	int port;

	mb_server_tcp(&srv, NULL);
	port = srv.port;
	tcp_device(&dev, port, 1);
	add_point(&dev, MOB_MB_INPUT, 9, MOB_MB_UINT16, 0, 0);
	add_point(&dev, MOB_MB_HOLDING, 9, MOB_MB_UINT16, 0, 0);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(mob_mb_master_new(&cfg, on_event, &s, &m), 0);
	poll_until(m, &s.fresh[0], 3000);
	cr_assert(s.fresh[0]);
	cr_expect_eq(s.online, 1);
	mb_server_stop(&srv);

	poll_until(m, &s.offline, 3000);
	cr_assert_eq(s.offline, 1, "offline event");
	cr_expect_not(s.fresh[0], "no stale value kept as fresh");
	cr_expect_not(mob_mb_master_online(m, 0));
	cr_expect_eq(mob_mb_master_write(m, 0, 1, 1, NULL), MOB_EOFFLINE);

	mb_server_start(&srv, port, NULL, NULL);
	s.online = 0;
	poll_until(m, &s.fresh[0], 5000);
	cr_expect_eq(s.online, 1, "online event");
	cr_expect(s.fresh[0]);
	cr_expect_eq(s.value[0], 9);
	cr_expect_eq(s.offline, 1);
	mob_mb_master_free(m);
	free(dev.points);
	mb_server_done(&srv);
}

Test(modbus, device_that_hangs_times_out_goes_offline_and_recovers)
{
	struct mb_server srv;
	struct mob_mb_device dev;
	struct mob_mb_config cfg = { &dev, 1 };
	struct mob_mb_master *m = NULL;
	struct seen s;

	mb_server_tcp(&srv, NULL);
	tcp_device(&dev, srv.port, 1);
	dev.timeout_ms = 100;
	add_point(&dev, MOB_MB_INPUT, 9, MOB_MB_UINT16, 0, 0);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(mob_mb_master_new(&cfg, on_event, &s, &m), 0);
	poll_until(m, &s.fresh[0], 3000);
	cr_assert(s.fresh[0]);
	/* Stopped, not gone: the connection stays up, answers never come. */
	cr_assert_eq(kill(srv.pid, SIGSTOP), 0);
	poll_until(m, &s.offline, 3000);
	cr_expect_eq(s.offline, 1);
	cr_expect_eq(s.offline_err, MOB_ETIMEOUT, "err %d", s.offline_err);
	cr_expect_not(s.fresh[0]);
	cr_assert_eq(kill(srv.pid, SIGCONT), 0);
	s.online = 0;
	poll_until(m, &s.fresh[0], 5000);
	cr_expect_eq(s.online, 1, "online again");
	cr_expect_eq(s.value[0], 9);
	mob_mb_master_free(m);
	free(dev.points);
	mb_server_done(&srv);
}

Test(modbus, rtu_two_units_on_one_bus_through_a_pty_pair)
{
	struct mb_server srv;
	struct mob_mb_device devs[2];
	struct mob_mb_config cfg = { devs, 2 };
	char pty[100];
	int i;

	mb_server_rtu(&srv, pty, sizeof(pty));
	for (i = 0; i < 2; i++) {
		tcp_device(&devs[i], 0, i + 1);
		devs[i].rtu = 1;
		snprintf(devs[i].path, sizeof(devs[i].path), "%s", pty);
		devs[i].baud = 115200;
		devs[i].parity = 'N';
		devs[i].data_bits = 8;
		devs[i].stop_bits = 1;
		devs[i].timeout_ms = 1000;
	}
	typed_points(&devs[0]);
	add_point(&devs[1], MOB_MB_HOLDING, 1, MOB_MB_INT16, 0, 0);
	add_point(&devs[1], MOB_MB_COIL, 3, MOB_MB_BOOL, 0, 0);
	check_types_read_and_written(&cfg, "rtu");
	free(devs[0].points);
	free(devs[1].points);
	mb_server_done(&srv);
}

/* --- mobius-modbus end to end, through the real hub ------------------------ */

#define SVC_ID	"0020/020"
#define OBJ	"0201/0001"

struct typed {
	enum mob_mb_type t;
	int wl, bl;
};

static const struct typed typed_cases[] = {
	{ MOB_MB_INT16, 0, 0 }, { MOB_MB_INT16, 0, 1 },
	{ MOB_MB_UINT16, 0, 0 }, { MOB_MB_UINT16, 0, 1 },
	{ MOB_MB_INT32, 0, 0 }, { MOB_MB_INT32, 1, 0 },
	{ MOB_MB_INT32, 0, 1 }, { MOB_MB_INT32, 1, 1 },
	{ MOB_MB_UINT32, 0, 0 }, { MOB_MB_UINT32, 1, 0 },
	{ MOB_MB_UINT32, 0, 1 }, { MOB_MB_UINT32, 1, 1 },
	{ MOB_MB_FLOAT32, 0, 0 }, { MOB_MB_FLOAT32, 1, 0 },
	{ MOB_MB_FLOAT32, 0, 1 }, { MOB_MB_FLOAT32, 1, 1 },
};
#define NTYPED	(sizeof(typed_cases) / sizeof(typed_cases[0]))

static double
sample2(enum mob_mb_type t)
{
	switch (t) {
	case MOB_MB_INT16: return 1717;
	case MOB_MB_UINT16: return 40000;
	case MOB_MB_INT32: return 98765432;
	case MOB_MB_UINT32: return 4000000000.0;
	case MOB_MB_FLOAT32: return 0.5;
	default: return 0;
	}
}

static void
typed_point(struct mob_mb_point *p, size_t i, int addr)
{
	memset(p, 0, sizeof(*p));
	p->table = MOB_MB_HOLDING;
	p->address = (uint16_t)addr;
	p->type = typed_cases[i].t;
	p->word_little = typed_cases[i].wl;
	p->byte_little = typed_cases[i].bl;
	p->scale = 1;
}

/* One resource with a "modbus" member; access "rw" or "r". */
static void
res_json(FILE *f, int rid, const char *name, const char *rtype,
    const char *access, const char *table, int addr, const struct typed *t)
{
	fprintf(f, "%s{\"rid\":\"%02X\",\"name\":\"%s\",\"type\":\"%s\","
	    "\"access\":\"%s\",\"modbus\":{\"table\":\"%s\",\"address\":%d",
	    rid > 0x41 ? "," : "", rid, name, rtype, access, table, addr);
	if (t != NULL)
		fprintf(f, ",\"type\":\"%s\",\"word_order\":\"%s\","
		    "\"byte_order\":\"%s\"", mob_mb_type_name(t->t),
		    t->wl ? "little" : "big", t->bl ? "little" : "big");
	fprintf(f, "}}\n");
}

/*
 * Every type and order twice: rw at 100 + 2i (the service writes),
 * r at 200 + 2i (the device changes, the service reads); coil 7 rw,
 * input register 42, discrete input 5, and for exceptions hr 20 and 5000.
 */
static void
typed_config(const char *path, const char *device_json, int units)
{
	FILE *f = fopen(path, "w");
	size_t i;
	int rid, u;
	char name[32];

	cr_assert_not_null(f);
	fprintf(f, "{\"name\":\"modbus-test\",\"devices\":[%s],\"objects\":[", device_json);
	for (u = 1; u <= units; u++) {
		fprintf(f, "%s{\"pid\":\"0201\",\"ins\":\"%04X\",\"name\":\"unit%d\","
		    "\"modbus\":{\"device\":\"u%d\"},\"resources\":[\n",
		    u > 1 ? "," : "", u, u, u);
		rid = 0x41;
		for (i = 0; i < NTYPED; i++) {
			snprintf(name, sizeof(name), "w%zu", i);
			res_json(f, rid++, name, "number", "rw", "holding_register",
			    100 + 2 * (int)i, &typed_cases[i]);
			snprintf(name, sizeof(name), "r%zu", i);
			res_json(f, rid++, name, "number", "r", "holding_register",
			    200 + 2 * (int)i, &typed_cases[i]);
		}
		res_json(f, rid++, "coil", "bool", "rw", "coil", 7, NULL);
		res_json(f, rid++, "ir", "number", "r", "input_register", 42, NULL);
		res_json(f, rid++, "di", "bool", "r", "discrete_input", 5, NULL);
		res_json(f, rid++, "limited", "number", "rw", "holding_register", 20, NULL);
		res_json(f, rid++, "beyond", "number", "rw", "holding_register", 5000, NULL);
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
	fclose(f);
}

/* Resource RIDs in typed_config: w_i = 41 + 2i, r_i = 42 + 2i, then the rest. */
#define RID_W(i)	(0x41 + 2 * (int)(i))
#define RID_R(i)	(0x42 + 2 * (int)(i))
#define RID_COIL	(0x41 + 2 * (int)NTYPED)
#define RID_IR		(RID_COIL + 1)
#define RID_DI		(RID_COIL + 2)
#define RID_LIMITED	(RID_COIL + 3)
#define RID_BEYOND	(RID_COIL + 4)

static void
res_uri(char *buf, size_t len, int unit, int rid)
{
	snprintf(buf, len, "0201/%04X/%02X", unit, rid);
}

static void
start_modbus(struct hw *h, const char *cfg)
{
	char *args[] = { "--config", (char *)cfg, "--no-sandbox", NULL };

	cr_assert_eq(hw_start(h, "bin/mobius-modbus", args, " devices, "), 0);
	hw_client(h);
}

/*
 * Writes through the hub land on the device in the configured layout
 * (checked with bare libmodbus), and values the device takes on are read.
 */
static void
check_service_types(struct hw *h, int unit, modbus_t *bare)
{
	struct mob_mb_point p;
	char uri[32], val[64], buf[128];
	uint16_t want[2], got[2];
	size_t i;
	int w, online;

	for (i = 0; i < NTYPED; i++) {
		typed_point(&p, i, 100 + 2 * (int)i);
		w = mob_mb_point_width(&p);
		res_uri(uri, sizeof(uri), unit, RID_W(i));
		snprintf(val, sizeof(val), "%.17g", sample(p.type));
		cr_assert_eq(hw_req(h, "write", uri, val, 8, NULL), 0,
		    "unit %d write %s wl %d bl %d", unit, mob_mb_type_name(p.type),
		    p.word_little, p.byte_little);
		cr_assert_eq(mob_mb_encode(&p, sample(p.type), want), 0);
		modbus_set_slave(bare, unit);
		cr_assert_eq(modbus_read_registers(bare, p.address, w, got), w);
		cr_expect_eq(got[0], want[0], "unit %d %s wl %d bl %d r0 %04x",
		    unit, mob_mb_type_name(p.type), p.word_little, p.byte_little, got[0]);
		if (w == 2)
			cr_expect_eq(got[1], want[1], "unit %d %s r1", unit,
			    mob_mb_type_name(p.type));

		/* The device changes the read-only twin; the service sees it. */
		typed_point(&p, i, 200 + 2 * (int)i);
		cr_assert_eq(mob_mb_encode(&p, sample2(p.type), want), 0);
		cr_assert_eq(modbus_write_registers(bare, p.address, w, want), w);
		res_uri(uri, sizeof(uri), unit, RID_R(i));
		snprintf(val, sizeof(val), "%.17g", sample2(p.type));
		cJSON *jv = cJSON_Parse(val);
		char *canon = cJSON_PrintUnformatted(jv);
		cr_expect_eq(hw_wait_value(h, uri, canon, 1, 5000), 0,
		    "unit %d read %s wl %d bl %d: want %s", unit,
		    mob_mb_type_name(p.type), p.word_little, p.byte_little, canon);
		free(canon);
		cJSON_Delete(jv);
	}
	res_uri(uri, sizeof(uri), unit, RID_COIL);
	cr_expect_eq(hw_req(h, "write", uri, "true", 0, NULL), 0);
	{
		uint8_t bit = 0;

		cr_assert_eq(modbus_read_bits(bare, 7, 1, &bit), 1);
		cr_expect_eq(bit, 1, "coil written");
	}
	res_uri(uri, sizeof(uri), unit, RID_IR);
	cr_expect_eq(hw_wait_value(h, uri, "42", 1, 5000), 0, "input register");
	res_uri(uri, sizeof(uri), unit, RID_DI);
	cr_expect_eq(hw_wait_value(h, uri, "true", 1, 5000), 0, "discrete input");
	cr_expect_eq(hw_read(h, uri, buf, sizeof(buf), &online), 0);
}

Test(modbus, service_reads_and_writes_every_type_over_tcp_through_the_hub)
{
	struct mb_server srv;
	struct hw h;
	char cfg[400], dev[200];
	modbus_t *bare;

	mb_server_tcp(&srv, NULL);
	hw_node(&h, SVC_ID);
	snprintf(cfg, sizeof(cfg), "%s/modbus.json", h.node.dir);
	snprintf(dev, sizeof(dev), "{\"name\":\"u1\",\"tcp\":{\"host\":\"127.0.0.1\","
	    "\"port\":%d},\"unit\":1,\"poll_ms\":50}", srv.port);
	typed_config(cfg, dev, 1);
	start_modbus(&h, cfg);
	bare = mb_bare_connect(srv.port, 1);
	check_service_types(&h, 1, bare);
	modbus_close(bare);
	modbus_free(bare);
	hw_stop(&h);
	mb_server_done(&srv);
}

Test(modbus, service_speaks_rtu_to_two_units_on_one_bus)
{
	struct mb_server srv;
	struct hw h;
	char cfg[400], dev[400], pty[100];
	modbus_t *bare;

	/* The device also answers on TCP (srv.port) so the test can look at
	 * its registers without sharing the serial line with the service. */
	mb_server_rtu(&srv, pty, sizeof(pty));
	hw_node(&h, SVC_ID);
	snprintf(cfg, sizeof(cfg), "%s/modbus.json", h.node.dir);
	snprintf(dev, sizeof(dev),
	    "{\"name\":\"u1\",\"rtu\":{\"device\":\"%s\",\"baud\":115200},"
	    "\"unit\":1,\"poll_ms\":50,\"timeout_ms\":1000},"
	    "{\"name\":\"u2\",\"rtu\":{\"device\":\"%s\",\"baud\":115200},"
	    "\"unit\":2,\"poll_ms\":50,\"timeout_ms\":1000}", pty, pty);
	typed_config(cfg, dev, 2);
	start_modbus(&h, cfg);
	bare = mb_bare_connect(srv.port, 1);
	check_service_types(&h, 1, bare);
	check_service_types(&h, 2, bare);
	modbus_close(bare);
	modbus_free(bare);
	hw_stop(&h);
	mb_server_done(&srv);
}

/* 1 once a COV of res with value num came in since COV mark. */
static int
cov_seen(const struct hw *h, size_t mark, const char *res, double num)
{
	for (size_t i = mark; i < h->ncov; i++)
		if (strcmp(h->cov[i].res, res) == 0 && !h->cov[i].null &&
		    h->cov[i].num == num)
			return 1;
	return 0;
}

Test(modbus, service_marks_a_silent_device_offline_and_recovers)
{
	struct mb_server srv, other;
	struct hw h;
	char cfg[400], dev[600], uri[32], buf[64];
	size_t i, n, mark, seen_false = 0, seen_offline = 0;
	int port, online;

	/* Two TCP devices; only the first one goes silent. */
	mb_server_tcp(&srv, NULL);
	mb_server_tcp(&other, NULL);
	port = srv.port;
	hw_node(&h, SVC_ID);
	snprintf(cfg, sizeof(cfg), "%s/modbus.json", h.node.dir);
	snprintf(dev, sizeof(dev), "{\"name\":\"u1\",\"tcp\":{\"host\":\"127.0.0.1\","
	    "\"port\":%d},\"unit\":1,\"poll_ms\":50,\"timeout_ms\":200,"
	    "\"backoff_min_ms\":100,\"backoff_max_ms\":400},"
	    "{\"name\":\"u2\",\"tcp\":{\"host\":\"127.0.0.1\",\"port\":%d},"
	    "\"unit\":2,\"poll_ms\":50}", port, other.port);
	typed_config(cfg, dev, 2);
	start_modbus(&h, cfg);
	res_uri(uri, sizeof(uri), 1, RID_IR);
	cr_assert_eq(hw_wait_value(&h, "0201/0001/40", "true", -1, 5000), 0);
	cr_assert_eq(hw_wait_value(&h, "0201/0002/40", "true", -1, 5000), 0);
	cr_assert_eq(hw_wait_value(&h, uri, "42", 1, 5000), 0);
	mark = h.ncov;

	mb_server_stop(&srv);
	cr_expect_eq(hw_wait_value(&h, "0201/0001/40", "false", -1, 5000), 0,
	    "status off");
	/* the log says which device, where, and the system's reason */
	snprintf(buf, sizeof(buf), "u1 (127.0.0.1:%d, unit 1): offline: ", port);
	cr_expect_eq(th_wait_log(h.log, buf, 5000), 0, "names host:port: %s", buf);
	cr_expect_eq(th_wait_log(h.log, "Connection refused", 5000), 0,
	    "names the errno");
	/* No stale value: the register is offline and has no value. */
	cr_expect_eq(hw_read(&h, uri, buf, sizeof(buf), &online), 0);
	cr_expect_str_eq(buf, "null");
	cr_expect_eq(online, 0);
	res_uri(uri, sizeof(uri), 1, RID_W(0));
	cr_expect_eq(hw_req(&h, "write", uri, "5", 0, NULL), MOB_EOFFLINE);
	/* The other device carries on. */
	res_uri(uri, sizeof(uri), 2, RID_IR);
	cr_expect_eq(hw_wait_value(&h, uri, "42", 1, 1000), 0);
	cr_expect_eq(hw_wait_value(&h, "0201/0002/40", "true", -1, 1000), 0);
	res_uri(uri, sizeof(uri), 2, RID_W(0));
	cr_expect_eq(hw_req(&h, "write", uri, "5", 0, NULL), 0);
	hw_pump(&h, 100);
	for (i = 0; i < h.ncov; i++) {
		if (strcmp(h.cov[i].rid, "40") == 0 && !h.cov[i].null && !h.cov[i].b)
			seen_false++;
		if (strcmp(h.cov[i].rid, "40") != 0)
			seen_offline += !h.cov[i].online;
	}
	cr_expect_geq(seen_false, 1, "COV of the status resource going false");
	cr_expect_geq(seen_offline, 1, "COV of registers going offline");

	mb_server_start(&srv, port, NULL, NULL);
	res_uri(uri, sizeof(uri), 1, RID_IR);
	cr_expect_eq(hw_wait_value(&h, "0201/0001/40", "true", -1, 10000), 0,
	    "status on");
	cr_expect_eq(hw_wait_value(&h, uri, "42", 1, 5000), 0, "values again");
	/*
	 * One COV per real change: the register null and offline, then 42
	 * and online; the status false, then true.  A write's COV after
	 * recovery is the barrier: the service published the rest before.
	 */
	res_uri(uri, sizeof(uri), 1, RID_W(0));
	cr_assert_eq(hw_req(&h, "write", uri, "6", 0, NULL), 0);
	for (i = 0; i < 100 && !cov_seen(&h, mark, uri, 6); i++)
		hw_pump(&h, 50);
	cr_assert(cov_seen(&h, mark, uri, 6), "COV of the write");
	res_uri(uri, sizeof(uri), 1, RID_IR);
	for (i = mark, n = 0; i < h.ncov; i++) {
		if (strcmp(h.cov[i].res, uri) != 0)
			continue;
		if (n == 0)
			cr_expect(h.cov[i].null && !h.cov[i].online,
			    "first: null, offline");
		if (n == 1)
			cr_expect(!h.cov[i].null && h.cov[i].num == 42 &&
			    h.cov[i].online, "then: 42, online");
		n++;
	}
	cr_expect_eq(n, 2, "%zu COVs of %s for one outage", n, uri);
	for (i = mark, n = 0; i < h.ncov; i++)
		n += strcmp(h.cov[i].res, "0201/0001/40") == 0;
	cr_expect_eq(n, 2, "%zu COVs of the status for one outage", n);
	hw_stop(&h);
	mb_server_done(&srv);
	mb_server_done(&other);
}

Test(modbus, exception_responses_reach_the_requester_as_error_codes)
{
	struct mb_server srv;
	struct hw h;
	char cfg[400], dev[300], uri[32];
	const char *msg = NULL;
	cJSON *rsp = NULL;

	mb_server_tcp(&srv, "--limit=20=1000");
	hw_node(&h, SVC_ID);
	snprintf(cfg, sizeof(cfg), "%s/modbus.json", h.node.dir);
	snprintf(dev, sizeof(dev), "{\"name\":\"u1\",\"tcp\":{\"host\":\"127.0.0.1\","
	    "\"port\":%d},\"unit\":1,\"poll_ms\":50}", srv.port);
	typed_config(cfg, dev, 1);
	start_modbus(&h, cfg);
	res_uri(uri, sizeof(uri), 1, RID_IR);
	cr_assert_eq(hw_wait_value(&h, uri, "42", 1, 5000), 0);

	res_uri(uri, sizeof(uri), 1, RID_LIMITED);
	cr_expect_eq(hw_req(&h, "write", uri, "1001", 0, &rsp), MOB_EMBVALUE);
	mob_client_rsp_error(rsp, &msg);
	cr_expect(msg != NULL && strstr(msg, "illegal data value") != NULL,
	    "message: %s", msg ? msg : "(none)");
	cJSON_Delete(rsp);
	cr_expect_eq(hw_req(&h, "write", uri, "999", 0, NULL), 0);
	res_uri(uri, sizeof(uri), 1, RID_BEYOND);
	cr_expect_eq(hw_req(&h, "write", uri, "1", 0, NULL), MOB_EMBADDR);
	/* Unreadable: no value, and no pretence of one. */
	cr_expect_eq(hw_wait_value(&h, uri, "null", -1, 2000), 0);
	hw_stop(&h);
	mb_server_done(&srv);
}

Test(modbus, service_does_its_job_inside_its_sandbox)
{
	struct mb_server srv;
	struct hw h;
	char cfg[400], dev[300], uri[32];
	char *args[] = { "--config", cfg, NULL };
	char *env[] = { "MOBIUS_SANDBOX_USER=nobody", NULL };
	const char *why;
	int port;

	if ((why = hw_no_sandbox_reason()) != NULL)
		cr_skip_test("%s", why);
	mb_server_tcp(&srv, NULL);
	port = srv.port;
	hw_node(&h, SVC_ID);
	snprintf(cfg, sizeof(cfg), "%s/modbus.json", h.node.dir);
	snprintf(dev, sizeof(dev), "{\"name\":\"u1\",\"tcp\":{\"host\":\"127.0.0.1\","
	    "\"port\":%d},\"unit\":1,\"poll_ms\":50,\"timeout_ms\":200,"
	    "\"backoff_min_ms\":100,\"backoff_max_ms\":400}", port);
	typed_config(cfg, dev, 1);
	cr_assert_eq(hw_start_env(&h, "bin/mobius-modbus", args, env, " devices, "), 0);
	cr_assert_eq(th_count_log(h.log, "DISABLED"), 0, "confined");
	hw_client(&h);
	res_uri(uri, sizeof(uri), 1, RID_IR);
	cr_assert_eq(hw_wait_value(&h, uri, "42", 1, 5000), 0);
	res_uri(uri, sizeof(uri), 1, RID_W(0));
	cr_expect_eq(hw_req(&h, "write", uri, "-7", 0, NULL), 0);
	/* A new TCP connection from inside the sandbox after the device
	 * restarts. */
	mb_server_stop(&srv);
	cr_expect_eq(hw_wait_value(&h, "0201/0001/40", "false", -1, 5000), 0);
	mb_server_start(&srv, port, NULL, NULL);
	cr_expect_eq(hw_wait_value(&h, "0201/0001/40", "true", -1, 10000), 0);
	res_uri(uri, sizeof(uri), 1, RID_IR);
	cr_expect_eq(hw_wait_value(&h, uri, "42", 1, 5000), 0);
	hw_stop(&h);
	mb_server_done(&srv);
}

/*
 * Started as root, mobius-modbus reads neither the hub nor a device before
 * its seccomp filter is in: the first poll runs in the loop, and so does
 * the write that puts back a slot saved before a restart (the device
 * answers it).  The ordering probe (harness.h) over strace's record of
 * the real daemon.
 */
Test(modbus, started_as_root_it_reads_no_peer_byte_before_it_is_confined)
{
	struct mb_server srv;
	struct passwd *pw;
	struct hw h;
	char cfg[400], dev[300], uri[32], trace[400], why[400], state[300];
	char stenv[400], slots[400], coil[32];
	char *args[] = { "--config", cfg, NULL };
	/* LeakSanitizer cannot run under ptrace (a SAN build) */
	char *env[] = { "MOBIUS_SANDBOX_USER=nobody", "ASAN_OPTIONS=detect_leaks=0",
	    stenv, NULL };
	const char *skip;
	FILE *f;

	if ((skip = hw_no_sandbox_reason()) != NULL ||
	    (skip = th_strace_missing()) != NULL)
		cr_skip_test("%s", skip);
	mb_server_tcp(&srv, NULL);
	hw_node(&h, SVC_ID);
	snprintf(cfg, sizeof(cfg), "%s/modbus.json", h.node.dir);
	snprintf(dev, sizeof(dev), "{\"name\":\"u1\",\"tcp\":{\"host\":\"127.0.0.1\","
	    "\"port\":%d},\"unit\":1,\"poll_ms\":50,\"timeout_ms\":200}", srv.port);
	typed_config(cfg, dev, 1);
	/* the coil was commanded on before a restart */
	res_uri(coil, sizeof(coil), 1, RID_COIL);
	th_tmpdir(state, sizeof(state));
	snprintf(stenv, sizeof(stenv), "STATE_DIRECTORY=%s", state);
	snprintf(slots, sizeof(slots), "%s/slots.json", state);
	cr_assert_not_null(f = fopen(slots, "w"));
	fprintf(f, "{\"v\":1,\"slots\":{\"%s\":[[8,true]]}}\n", coil);
	fclose(f);
	cr_assert_not_null(pw = getpwnam("nobody"));
	cr_assert_eq(chown(state, pw->pw_uid, pw->pw_gid), 0);
	cr_assert_eq(chown(slots, pw->pw_uid, pw->pw_gid), 0);
	cr_assert_eq(hw_start_traced(&h, "bin/mobius-modbus", args, env,
	    " devices, ", trace, sizeof(trace)), 0);
	cr_assert_eq(th_count_log(h.log, "DISABLED"), 0, "confined");
	hw_client(&h);
	res_uri(uri, sizeof(uri), 1, RID_IR);
	cr_assert_eq(hw_wait_value(&h, uri, "42", 1, 5000), 0);
	cr_assert_eq(hw_wait_value(&h, coil, "true", -1, 5000), 0,
	    "the saved slot was not put back");
	cr_assert_eq(kill(th_trace_pid(trace), SIGTERM), 0);
	cr_assert(WIFEXITED(th_stop(&h.svc, SIGTERM, 5000)));
	cr_assert_gt(th_trace_confined_first(trace, h.node.sock, why,
	    sizeof(why)), 0, "%s", why);
	hw_stop(&h);
	mb_server_done(&srv);
	th_rmtree(state);
}

Test(modbus, deadband_keeps_small_changes_from_publishing)
{
	struct mb_server srv;
	struct hw h;
	char cfg[400];
	double prev = -1;
	size_t i, n41 = 0, n42 = 0;
	FILE *f;

	/* --churn: every read sees the registers one higher. */
	mb_server_tcp(&srv, "--churn");
	hw_node(&h, SVC_ID);
	snprintf(cfg, sizeof(cfg), "%s/modbus.json", h.node.dir);
	cr_assert_not_null(f = fopen(cfg, "w"));
	fprintf(f, "{\"devices\":[{\"name\":\"u1\",\"tcp\":{\"host\":\"127.0.0.1\","
	    "\"port\":%d},\"poll_ms\":20}],\"objects\":[{\"pid\":\"0201\","
	    "\"ins\":\"0001\",\"resources\":["
	    "{\"rid\":\"41\",\"name\":\"banded\",\"type\":\"number\",\"cov\":{\"st\":10},"
	    "\"modbus\":{\"table\":\"holding_register\",\"address\":0}},"
	    "{\"rid\":\"42\",\"name\":\"every\",\"type\":\"number\","
	    "\"modbus\":{\"table\":\"holding_register\",\"address\":1}}]}]}\n",
	    srv.port);
	fclose(f);
	start_modbus(&h, cfg);
	hw_pump(&h, 1500);
	for (i = 0; i < h.ncov; i++) {
		if (strcmp(h.cov[i].rid, "41") == 0 && !h.cov[i].null) {
			if (prev >= 0)
				cr_expect_geq(h.cov[i].num - prev, 10,
				    "COV %g after %g: inside the deadband",
				    h.cov[i].num, prev);
			prev = h.cov[i].num;
			n41++;
		}
		if (strcmp(h.cov[i].rid, "42") == 0 && !h.cov[i].null)
			n42++;
	}
	cr_expect_geq(n41, 2, "some COVs past the deadband");
	cr_expect_geq(n42, 5 * n41, "without a deadband every change: %zu vs %zu",
	    n42, n41);
	hw_stop(&h);
	mb_server_done(&srv);
}

/* --- a misconfigured register map is rejected at start ---------------------- */

#define DEV1	"\"devices\":[{\"name\":\"a\",\"tcp\":{\"host\":\"127.0.0.1\",\"port\":1502}}]"
#define OBJ1(res)	"\"objects\":[{\"pid\":\"0201\",\"ins\":\"0001\",\"resources\":[" res "]}]"
#define RES(rid, type, extra, mb)	"{\"rid\":\"" rid "\",\"name\":\"x" rid "\",\"type\":\"" type "\"" extra ",\"modbus\":{" mb "}}"

static const struct {
	const char *json;
	const char *msg;	/* after "FILE: " */
} bad_maps[] = {
	{ "{" DEV1 "," OBJ1(RES("41", "number", "", "\"table\":\"holding_register\",\"address\":10,\"type\":\"int32\"") ","
	    RES("42", "number", "", "\"table\":\"holding_register\",\"address\":11")) "}",
	  "objects[0].resources[1].modbus: holding_register 11 overlaps resource \"x41\" (holding_register 10..11)" },
	{ "{" DEV1 "," OBJ1(RES("41", "bool", "", "\"table\":\"coil\",\"address\":1,\"type\":\"int16\"")) "}",
	  "objects[0].resources[0].modbus.type: a coil holds a bool, not int16" },
	{ "{" DEV1 "," OBJ1(RES("41", "number", ",\"access\":\"rw\"", "\"table\":\"input_register\",\"address\":1")) "}",
	  "objects[0].resources[0].access: input_register is read-only; rw needs a coil or holding_register" },
	{ "{" DEV1 "," OBJ1(RES("41", "bool", "", "\"table\":\"holding_register\",\"address\":1,\"type\":\"float32\"")) "}",
	  "objects[0].resources[0].type: must be \"number\": the register holds float32" },
	{ "{" DEV1 "," OBJ1(RES("41", "number", "", "\"table\":\"holding\",\"address\":1")) "}",
	  "objects[0].resources[0].modbus.table: must be \"coil\", \"discrete_input\", \"holding_register\" or \"input_register\"" },
	{ "{" DEV1 "," OBJ1(RES("41", "number", "", "\"table\":\"input_register\",\"address\":65536")) "}",
	  "objects[0].resources[0].modbus.address: must be between 0 and 65535" },
	{ "{" DEV1 "," OBJ1(RES("41", "number", "", "\"table\":\"input_register\",\"address\":65535,\"type\":\"uint32\"")) "}",
	  "objects[0].resources[0].modbus: uint32 at address 65535 runs past the last register" },
	{ "{" DEV1 "," OBJ1(RES("41", "number", "", "\"table\":\"input_register\",\"address\":5,\"scale\":0")) "}",
	  "objects[0].resources[0].modbus: scale must not be 0" },
	{ "{" DEV1 "," OBJ1(RES("41", "number", "", "\"table\":\"input_register\",\"address\":5,\"word_order\":\"middle\"")) "}",
	  "objects[0].resources[0].modbus.word_order: must be \"big\" or \"little\"" },
	{ "{" DEV1 "," OBJ1("{\"rid\":\"41\",\"name\":\"x\",\"type\":\"number\"}") "}",
	  "objects[0].resources[0].modbus: required" },
	{ "{" DEV1 ",\"objects\":[{\"pid\":\"0201\",\"ins\":\"0001\",\"modbus\":{\"device\":\"b\"},\"resources\":["
	    RES("41", "number", "", "\"table\":\"input_register\",\"address\":5") "]}]}",
	  "objects[0].modbus.device: no device \"b\" in devices" },
	{ "{\"devices\":[{\"name\":\"a\",\"tcp\":{\"host\":\"\"}}]," OBJ1(RES("41", "number", "", "\"table\":\"input_register\",\"address\":5")) "}",
	  "devices[0].tcp: \"host\" is empty: give the device's IP address or host name" },
	{ "{" DEV1 "," OBJ1(RES("40", "number", "", "\"table\":\"input_register\",\"address\":5")) "}",
	  "objects[0]: resource 40 is the device status; give the register another rid or set \"modbus\": {\"status_rid\"}" },
	{ "{\"devices\":[{\"name\":\"a\",\"tcp\":{\"host\":\"h\",\"port\":1}},{\"name\":\"b\",\"tcp\":{\"host\":\"h\",\"port\":1}}],\"objects\":[]}",
	  "devices[1]: unit 1 is already device \"a\" on the same bus" },
	{ "{\"devices\":[{\"name\":\"a\"}],\"objects\":[]}",
	  "devices[0]: needs exactly one of \"tcp\" or \"rtu\"" },
	{ "{\"devices\":[{\"name\":\"a\",\"rtu\":{\"device\":\"/dev/ttyS0\"},\"unit\":0}],\"objects\":[]}",
	  "devices[0]: unit 0 is broadcast on RTU and never answers" },
	{ "{\"devices\":[{\"name\":\"a\",\"rtu\":{\"device\":\"/dev/ttyS0\",\"baud\":9600}},"
	    "{\"name\":\"b\",\"rtu\":{\"device\":\"/dev/ttyS0\",\"baud\":19200},\"unit\":2}],\"objects\":[]}",
	  "devices[1]: serial settings of /dev/ttyS0 differ from those of device \"a\" on the same bus" },
	{ "{\"devices\":[{\"name\":\"a\",\"tcp\":{\"host\":\"h\"},\"timeout_ms\":5}],\"objects\":[]}",
	  "devices[0].timeout_ms: must be between 10 and 60000" },
	{ "{\"devices\":[{\"name\":\"a\",\"tcp\":{\"host\":\"h\"},\"unit\":1},{\"name\":\"a\",\"tcp\":{\"host\":\"g\"}}],\"objects\":[]}",
	  "devices[1]: device \"a\" is defined twice" },
	{ "{\"devices\":[{\"name\":\"a\",\"tcp\":{\"host\":\"h\"}}],\"objects\":[{\"pid\":\"0201\",\"ins\":\"0001\","
	    "\"modbus\":{\"device\":\"a\",\"status_rid\":\"41\"},\"resources\":["
	    RES("41", "number", "", "\"table\":\"input_register\",\"address\":5") "]}]}",
	  "objects[0].modbus.status_rid: resource 41 is the device status; give the register another rid or set \"modbus\": {\"status_rid\"}" },
	{ "{\"devices\":[],\"objects\":[]}",
	  "devices: needs at least one device" },
};

/* A key file for a service that never reaches a hub (config comes first). */
static void
offline_key(char *dir, size_t dlen, char *key, size_t klen, const char *spid_sid)
{
	char kt[300], kdir[300];
	char *init[] = { kt, "--dir", kdir, "init", "--hid", "000001", NULL };
	char *add[] = { kt, "--dir", kdir, "add", (char *)spid_sid, NULL };

	th_tmpdir(dir, dlen);
	th_path("bin/mobius-keytool", kt, sizeof(kt));
	snprintf(kdir, sizeof(kdir), "%s/keys", dir);
	cr_assert_eq(th_run(init, NULL, NULL, 0, 10000), 0);
	cr_assert_eq(th_run(add, NULL, NULL, 0, 10000), 0);
	snprintf(key, klen, "%s/%s.key", kdir, strchr(spid_sid, '/') + 1);
}

/* Run prog with config text; its exit code, and stderr into out. */
static int
run_config(const char *prog, const char *dir, const char *key, const char *json,
    char *out, size_t outlen)
{
	char cfg[300], cmd[2000], bin[300];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	FILE *f;

	snprintf(cfg, sizeof(cfg), "%s/c.json", dir);
	cr_assert_not_null(f = fopen(cfg, "w"));
	fputs(json, f);
	fclose(f);
	th_path(prog, bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --key '%s' --socket '%s/none.sock' "
	    "--no-sandbox 2>&1", bin, cfg, key, dir);
	return th_run(argv, NULL, out, outlen, 10000);
}

Test(modbus, misconfigured_register_maps_are_rejected_with_the_path)
{
	char dir[256], key[400], out[2048], want[1024];
	size_t i;
	int rc;

	offline_key(dir, sizeof(dir), key, sizeof(key), SVC_ID);
	for (i = 0; i < sizeof(bad_maps) / sizeof(bad_maps[0]); i++) {
		rc = run_config("bin/mobius-modbus", dir, key, bad_maps[i].json,
		    out, sizeof(out));
		snprintf(want, sizeof(want), "mobius-modbus: %s/c.json: %s\n",
		    dir, bad_maps[i].msg);
		cr_expect_neq(rc, 0, "case %zu exit code", i);
		cr_expect_str_eq(out, want, "case %zu", i);
	}
	th_rmtree(dir);
}
