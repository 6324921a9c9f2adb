/*
 * Modbus register map config: the "modbus" members of objects (devices)
 * and resources (points).  See docs/hardware.md for the format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mobius/config.h"
#include "mobius/err.h"
#include "mbdrv.h"

static const char *const tables[] = { "coil", "discrete_input",
    "holding_register", "input_register", NULL };
static const char *const types[] = { "bool", "int16", "uint16", "int32",
    "uint32", "float32", NULL };
static const char *const orders[] = { "big", "little", NULL };
static const char *const parities[] = { "none", "even", "odd", NULL };

static int
ok(int r)
{
	return r < 0 ? r : 0;
}

static int
parse_tcp(struct mob_config *c, const struct mob_cnode *n, struct mob_mb_device *d)
{
	static const char *const keys[] = { "host", "port", NULL };
	const char *s = NULL;
	int r;

	if ((r = mob_cfg_object(c, n, keys)) < 0 ||
	    (r = mob_cfg_string(c, n, "host", MOB_CFG_REQUIRED,
	    sizeof(d->host) - 1, &s)) < 0)
		return r;
	if (*s == '\0')
		return mob_cfg_errorf(c, n, "\"host\" is empty: give the "
		    "device's IP address or host name");
	snprintf(d->host, sizeof(d->host), "%s", s);
	d->port = 502;
	return mob_cfg_int_set(c, n, "port", 0, 1, 65535, &d->port);
}

static int
parse_rtu(struct mob_config *c, const struct mob_cnode *n, struct mob_mb_device *d)
{
	static const char *const keys[] = { "device", "baud", "parity",
	    "data_bits", "stop_bits", NULL };
	const char *s = NULL;
	int r, par = 0;

	if ((r = mob_cfg_object(c, n, keys)) < 0 ||
	    (r = mob_cfg_string(c, n, "device", MOB_CFG_REQUIRED,
	    sizeof(d->path) - 1, &s)) < 0)
		return r;
	snprintf(d->path, sizeof(d->path), "%s", s);
	d->rtu = 1;
	d->baud = 19200;
	d->data_bits = 8;
	d->stop_bits = 1;
	if ((r = mob_cfg_int_set(c, n, "baud", 0, 300, 4000000,
	    &d->baud)) < 0 ||
	    (r = ok(mob_cfg_enum(c, n, "parity", 0, parities, &par))) < 0 ||
	    (r = mob_cfg_int_set(c, n, "data_bits", 0, 5, 8,
	    &d->data_bits)) < 0 ||
	    (r = mob_cfg_int_set(c, n, "stop_bits", 0, 1, 2,
	    &d->stop_bits)) < 0)
		return r;
	d->parity = "NEO"[par];
	return 0;
}

int
mob_mb_device_parse(struct mob_config *c, const struct mob_cnode *n,
    struct mob_mb_device *d)
{
	static const char *const keys[] = { "name", "tcp", "rtu", "unit", "timeout_ms",
	    "retries", "poll_ms", "backoff_min_ms", "backoff_max_ms", "max_gap",
	    NULL };
	struct mob_cnode tcp, rtu;
	const char *s = NULL;
	int r, ht, hr;

	memset(d, 0, sizeof(*d));
	d->unit = 1;
	d->timeout_ms = 500;
	d->retries = 1;
	d->poll_ms = 1000;
	d->backoff_min_ms = 1000;
	d->backoff_max_ms = 30000;
	if ((r = mob_cfg_object(c, n, keys)) < 0 ||
	    (r = mob_cfg_string(c, n, "name", MOB_CFG_REQUIRED,
	    sizeof(d->name) - 1, &s)) < 0 ||
	    (ht = mob_cfg_member(c, n, "tcp", 0, &tcp)) < 0 ||
	    (hr = mob_cfg_member(c, n, "rtu", 0, &rtu)) < 0)
		return r < 0 ? r : MOB_ECONFIG;
	snprintf(d->name, sizeof(d->name), "%s", s);
	if (ht == hr)
		return mob_cfg_errorf(c, n, "needs exactly one of \"tcp\" or \"rtu\"");
	if ((r = ht ? parse_tcp(c, &tcp, d) : parse_rtu(c, &rtu, d)) < 0 ||
	    (r = mob_cfg_int_set(c, n, "unit", 0, 0, d->rtu ? 247 : 255,
	    &d->unit)) < 0 ||
	    (r = mob_cfg_int_set(c, n, "timeout_ms", 0, 10, 60000,
	    &d->timeout_ms)) < 0 ||
	    (r = mob_cfg_int_set(c, n, "retries", 0, 0, 10, &d->retries)) < 0 ||
	    (r = mob_cfg_int_set(c, n, "poll_ms", 0, 10, 86400000,
	    &d->poll_ms)) < 0 ||
	    (r = mob_cfg_int_set(c, n, "backoff_min_ms", 0, 10, 3600000,
	    &d->backoff_min_ms)) < 0 ||
	    (r = mob_cfg_int_set(c, n, "backoff_max_ms", 0, 10, 3600000,
	    &d->backoff_max_ms)) < 0 ||
	    (r = mob_cfg_int_set(c, n, "max_gap", 0, 0, 100, &d->max_gap)) < 0)
		return r;
	if (d->rtu && d->unit == 0)
		return mob_cfg_errorf(c, n, "unit 0 is broadcast on RTU and never answers");
	if (d->backoff_max_ms < d->backoff_min_ms)
		return mob_cfg_errorf(c, n, "backoff_max_ms is below backoff_min_ms");
	return 0;
}

int
mob_mb_device_check(struct mob_config *c, const struct mob_cnode *n,
    const struct mob_mb_device *devs, size_t ndevs, const struct mob_mb_device *d)
{
	const struct mob_mb_device *o;
	size_t i;

	for (i = 0; i < ndevs; i++) {
		o = &devs[i];
		if (o != d && strcmp(o->name, d->name) == 0)
			return mob_cfg_errorf(c, n, "device \"%s\" is defined twice",
			    d->name);
		if (o == d || o->rtu != d->rtu || (d->rtu ? strcmp(o->path, d->path) != 0 :
		    (strcmp(o->host, d->host) != 0 || o->port != d->port)))
			continue;
		if (d->rtu && (o->baud != d->baud || o->parity != d->parity ||
		    o->data_bits != d->data_bits || o->stop_bits != d->stop_bits))
			return mob_cfg_errorf(c, n, "serial settings of %s differ "
			    "from those of device \"%s\" on the same bus",
			    d->path, o->name);
		if (o->unit == d->unit)
			return mob_cfg_errorf(c, n, "unit %d is already device "
			    "\"%s\" on the same bus", d->unit, o->name);
	}
	return 0;
}

int
mob_mb_point_parse(struct mob_config *c, const struct mob_cnode *n,
    struct mob_mb_point *p)
{
	static const char *const keys[] = { "table", "address", "type",
	    "word_order", "byte_order", "scale", "offset", "poll_ms", NULL };
	int r, tab = 0, typ = 0, has_type;
	struct mob_cnode tn;

	memset(p, 0, sizeof(*p));
	p->scale = 1;
	if ((r = mob_cfg_object(c, n, keys)) < 0 ||
	    (r = ok(mob_cfg_enum(c, n, "table", MOB_CFG_REQUIRED, tables, &tab))) < 0)
		return r;
	p->table = (enum mob_mb_table)tab;
	if ((r = mob_cfg_int_set(c, n, "address", MOB_CFG_REQUIRED, 0, 65535,
	    &tab)) < 0)
		return r;
	p->address = (uint16_t)tab;
	if ((has_type = mob_cfg_enum(c, n, "type", 0, types, &typ)) < 0)
		return has_type;
	if (!has_type && (p->table == MOB_MB_HOLDING || p->table == MOB_MB_INPUT))
		typ = MOB_MB_UINT16;
	p->type = (enum mob_mb_type)typ;
	if ((r = ok(mob_cfg_enum(c, n, "word_order", 0, orders, &p->word_little))) < 0 ||
	    (r = ok(mob_cfg_enum(c, n, "byte_order", 0, orders, &p->byte_little))) < 0 ||
	    (r = ok(mob_cfg_number(c, n, "scale", 0, &p->scale))) < 0 ||
	    (r = ok(mob_cfg_number(c, n, "offset", 0, &p->offset))) < 0 ||
	    (r = mob_cfg_int_set(c, n, "poll_ms", 0, 10, 86400000,
	    &p->poll_ms)) < 0)
		return r;
	if (!has_type || mob_cfg_member(c, n, "type", 0, &tn) != 1)
		tn = *n;
	if ((p->table == MOB_MB_COIL || p->table == MOB_MB_DISCRETE) &&
	    p->type != MOB_MB_BOOL)
		return mob_cfg_errorf(c, &tn, "a %s holds a bool, not %s",
		    tables[p->table], types[p->type]);
	if (p->type != MOB_MB_BOOL && p->scale == 0)
		return mob_cfg_errorf(c, n, "scale must not be 0");
	if (mob_mb_point_width(p) == 2 && p->address == 65535)
		return mob_cfg_errorf(c, n, "%s at address 65535 runs past the "
		    "last register", types[p->type]);
	return 0;
}

int
mob_mb_point_check(struct mob_config *c, const struct mob_cnode *n,
    const struct mob_mb_device *d, const struct mob_mb_point *p)
{
	const struct mob_mb_point *o;
	unsigned pa = p->address, pe = pa + (unsigned)mob_mb_point_width(p);
	unsigned oa, oe;
	size_t i;

	for (i = 0; i < d->npoints; i++) {
		o = &d->points[i];
		if (o == p || o->table != p->table)
			continue;
		oa = o->address;
		oe = oa + (unsigned)mob_mb_point_width(o);
		if (pa < oe && oa < pe)
			return mob_cfg_errorf(c, n, "%s %u overlaps resource "
			    "\"%s\" (%s %u..%u)", tables[p->table], pa, o->name,
			    tables[o->table], oa, oe - 1);
	}
	return 0;
}

void
mob_mb_config_free(struct mob_mb_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->ndevices; i++)
		free(cfg->devices[i].points);
	free(cfg->devices);
	cfg->devices = NULL;
	cfg->ndevices = 0;
}
