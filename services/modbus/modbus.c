/*
 * mobius-modbus: a Modbus TCP and RTU master that maps registers to
 * resources (docs/hardware.md).
 *
 * Config: "devices" (connections and unit ids) and "objects" whose
 * resources carry a "modbus" member naming the register.  Each object gets
 * a status resource ("online", bool) that follows its device.  While a
 * device does not answer, every resource on it is offline with no value,
 * so nothing stale is ever served as fresh; writes are refused (offline)
 * without touching the bus.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mobius/config.h"
#include "mobius/daemon.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/sandbox.h"
#include "mobius/service.h"
#include "../../drivers/modbus/mbdrv.h"

#define STATUS_RID_DEFAULT	"40"

/* A resource parsed before its object named the device. */
struct pending {
	struct mob_mb_point pt;
	struct mob_res *r;
	struct mob_cnode n;		/* the resource's "modbus" member */
};

struct objdev {
	struct mob_res *status;
	size_t dev;
};

struct mbsvc {
	struct mob_mb_config cfg;
	struct mob_mb_master *m;
	struct pending *pend;
	size_t npend;
	struct objdev *objs;
	size_t nobjs;
	int port_override;
	int timer;			/* timerfd: the next block due */
	int sigfd;			/* SIGUSR1: log figures */
	struct mob_service *svc;
};

/* --- device events → resources ---------------------------------------- */

static void
set_status_res(struct mbsvc *s, size_t dev, int online)
{
	struct mob_value v;
	size_t i;

	mob_value_bool(&v, online);
	for (i = 0; i < s->nobjs; i++)
		if (s->objs[i].dev == dev)
			mob_res_update(s->objs[i].status, &v);
}

/*
 * The device is silent: offline and null, so no client mistakes it; one
 * COV (mob_res_report), not the old value marked offline and then null.
 */
static void
res_unknown(struct mob_res *r)
{
	struct mob_value v;

	mob_value_null(&v, mob_res_type(r));
	mob_res_report(r, &v, MOB_STATUS_OFFLINE);
}

/* systemd STATUS= for `systemctl status`. */
static void
report_status(struct mbsvc *s)
{
	size_t i, up = 0;

	for (i = 0; i < s->cfg.ndevices; i++)
		up += mob_mb_master_online(s->m, i) != 0;
	mob_service_status(s->svc, "%zu of %zu devices answering", up,
	    s->cfg.ndevices);
}

/* The device answers but this value is unknown: null, still online. */
static void
value_unknown(struct mob_res *r)
{
	struct mob_value v;

	mob_value_null(&v, mob_res_type(r));
	mob_res_report(r, &v, MOB_STATUS_ONLINE);
}

static void
on_event(void *arg, enum mob_mb_event ev, size_t dev, size_t pi, double value,
    int err)
{
	struct mbsvc *s = arg;
	struct mob_mb_device *d = &s->cfg.devices[dev];
	struct mob_res *r = pi < d->npoints ? d->points[pi].udata : NULL;
	struct mob_value v;
	size_t i;
	int rc;

	switch (ev) {
	case MOB_MB_EV_VALUE:
		if (mob_res_type(r) == MOB_TYPE_BOOL)
			mob_value_bool(&v, value != 0);
		else
			mob_value_number(&v, value);
		/* a value back after an outage: one COV, value and online */
		if ((rc = mob_res_report(r, &v, MOB_STATUS_ONLINE)) != 0) {
			/* Outside the resource's min/max: not passed on. */
			if (!mob_res_pv(r)->null)
				log_warnx("%s: %s: device value %g: %s", d->name,
				    mob_res_name(r), value, mob_strerror(rc));
			value_unknown(r);
		}
		break;
	case MOB_MB_EV_POINT_ERR:
		/* The device answers (the master logged its exception), so
		 * writes still reach it; only the value is unknown. */
		log_debug("%s: %s: %s", d->name, mob_res_name(r), mob_strerror(err));
		value_unknown(r);
		break;
	case MOB_MB_EV_OFFLINE:
		for (i = 0; i < d->npoints; i++)
			res_unknown(d->points[i].udata);
		set_status_res(s, dev, 0);
		report_status(s);
		break;
	case MOB_MB_EV_ONLINE:
		set_status_res(s, dev, 1);
		report_status(s);
		break;
	}
}

/* A client write that would change the PV: to the device, then read back. */
static int
on_write(struct mob_res *r, const struct mob_value *pv, void *arg)
{
	struct mbsvc *s = arg;
	const struct mob_mb_point *p = NULL;
	size_t di, pi;
	double want, got;
	int rc;

	if (pv->null)
		return 0;	/* every slot relinquished and nothing read yet */
	for (di = 0; di < s->cfg.ndevices; di++)
		for (pi = 0; pi < s->cfg.devices[di].npoints; pi++)
			if (s->cfg.devices[di].points[pi].udata == r) {
				p = &s->cfg.devices[di].points[pi];
				goto found;
			}
	return MOB_ENOTFOUND;
 found:
	want = pv->type == MOB_TYPE_BOOL ? pv->u.b : pv->u.num;
	if ((rc = mob_mb_master_write(s->m, di, pi, want, &got)) != 0) {
		log_warnx("%s: write %s = %g: %s", s->cfg.devices[di].name,
		    mob_res_name(r), want, mob_strerror(rc));
		return rc;
	}
	/* Scaling rounds to the register's resolution; more is the device's doing. */
	if (fabs(got - want) > fabs(p->scale) / 2 + 1e-6 * fabs(want))
		log_warnx("%s: %s: wrote %g, device holds %g",
		    s->cfg.devices[di].name, mob_res_name(r), want, got);
	return 0;
}

/* The poll timer (one-shot timerfd) fires in ms. */
static void
arm(struct mbsvc *s, int ms)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (ms < 1)
		ms = 1;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	if (timerfd_settime(s->timer, 0, &its, NULL) == -1)
		fatal("poll timer");
}

/* Poll what is due, then sleep until the next block is. */
static void
poll_and_arm(struct mbsvc *s)
{
	arm(s, mob_mb_master_poll(s->m));
}

static void
on_timer(struct mob_service *svc, int fd, short revents, void *arg)
{
	uint64_t n;

	(void)svc;
	(void)revents;
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("poll timer");
	poll_and_arm(arg);
}

/* --- config ------------------------------------------------------------- */

static int
cfg_devices(struct mbsvc *s, struct mob_config *c, const struct mob_cnode *root)
{
	struct mob_cnode arr, item;
	struct mob_mb_device *d;
	size_t i;
	int r, cnt;

	if ((r = mob_cfg_member(c, root, "devices", MOB_CFG_REQUIRED, &arr)) < 0 ||
	    (cnt = mob_cfg_array(c, &arr, 256)) < 0)
		return MOB_ECONFIG;
	if (cnt == 0)
		return mob_cfg_errorf(c, &arr, "needs at least one device");
	if ((s->cfg.devices = calloc((size_t)cnt, sizeof(*d))) == NULL)
		return mob_cfg_errorf(c, &arr, "out of memory");
	for (i = 0; i < (size_t)cnt; i++) {
		mob_cfg_item(&arr, i, &item);
		d = &s->cfg.devices[i];
		if ((r = mob_mb_device_parse(c, &item, d)) < 0)
			return r;
		s->cfg.ndevices++;
		if (s->port_override > 0 && !d->rtu)
			d->port = s->port_override;
		if ((r = mob_mb_device_check(c, &item, s->cfg.devices, i, d)) < 0)
			return r;
	}
	return 0;
}

/* Hook: a resource's "modbus" member. */
static int
cfg_res(struct mob_config *c, const struct mob_cnode *n, struct mob_res *r,
    void *arg)
{
	struct mbsvc *s = arg;
	struct pending *p;
	struct mob_cnode m, x;
	int isbool;

	if (mob_cfg_member(c, n, "modbus", MOB_CFG_REQUIRED, &m) != 1)
		return MOB_ECONFIG;
	if ((p = reallocarray(s->pend, s->npend + 1, sizeof(*p))) == NULL)
		return mob_cfg_errorf(c, n, "out of memory");
	s->pend = p;
	p = &s->pend[s->npend];
	if (mob_mb_point_parse(c, &m, &p->pt) != 0)
		return MOB_ECONFIG;
	snprintf(p->pt.name, sizeof(p->pt.name), "%s", mob_res_name(r));
	p->pt.udata = r;
	p->r = r;
	p->n = m;
	isbool = p->pt.type == MOB_MB_BOOL;
	if (mob_res_type(r) != (isbool ? MOB_TYPE_BOOL : MOB_TYPE_NUMBER)) {
		mob_cfg_member(c, n, "type", 0, &x);
		return mob_cfg_errorf(c, &x, "must be \"%s\": the register "
		    "holds %s", isbool ? "bool" : "number",
		    mob_mb_type_name(p->pt.type));
	}
	if (mob_res_access(r) == MOB_ACCESS_RW && p->pt.table != MOB_MB_COIL &&
	    p->pt.table != MOB_MB_HOLDING) {
		mob_cfg_member(c, n, "access", 0, &x);
		return mob_cfg_errorf(c, &x, "%s is read-only; "
		    "rw needs a coil or holding_register",
		    mob_mb_table_name(p->pt.table));
	}
	s->npend++;
	mob_res_set_write_handler(r, on_write, s);
	return 0;
}

/* Hook: after an object's resources, its "modbus" member (device, status). */
static int
cfg_object(struct mob_config *c, const struct mob_cnode *n, struct mob_object *o,
    void *arg)
{
	static const char *const keys[] = { "device", "status_rid", NULL };
	struct mbsvc *s = arg;
	struct mob_cnode m, x;
	struct mob_mb_device *d;
	struct mob_mb_point *np;
	struct mob_res_def def;
	struct objdev *od;
	const char *dev = NULL;
	char rid[3] = STATUS_RID_DEFAULT;
	size_t i, di;
	int r, has_m;

	if ((has_m = r = mob_cfg_member(c, n, "modbus", 0, &m)) < 0)
		return r;
	if (r == 1 && (mob_cfg_object(c, &m, keys) != 0 ||
	    mob_cfg_string(c, &m, "device", 0, MOB_MB_NAME_MAX - 1, &dev) < 0 ||
	    mob_cfg_hex(c, &m, "status_rid", 0, 2, rid) < 0))
		return MOB_ECONFIG;
	if (dev == NULL && s->cfg.ndevices > 1)
		return mob_cfg_errorf(c, has_m ? &m : n, "with several devices, "
		    "\"modbus\": {\"device\": NAME} says which one");
	for (di = 0; di < s->cfg.ndevices; di++)
		if (dev == NULL || strcmp(s->cfg.devices[di].name, dev) == 0)
			break;
	if (di == s->cfg.ndevices) {
		mob_cfg_member(c, &m, "device", 0, &x);
		return mob_cfg_errorf(c, &x, "no device \"%s\" in devices", dev);
	}
	d = &s->cfg.devices[di];
	for (i = 0; i < s->npend; i++) {
		if ((np = reallocarray(d->points, d->npoints + 1, sizeof(*np))) == NULL)
			return mob_cfg_errorf(c, n, "out of memory");
		d->points = np;
		d->points[d->npoints] = s->pend[i].pt;
		if ((r = mob_mb_point_check(c, &s->pend[i].n, d,
		    &d->points[d->npoints])) != 0)
			return r;
		d->npoints++;
	}
	s->npend = 0;

	if ((od = reallocarray(s->objs, s->nobjs + 1, sizeof(*od))) == NULL)
		return mob_cfg_errorf(c, n, "out of memory");
	s->objs = od;
	od = &s->objs[s->nobjs];
	memset(&def, 0, sizeof(def));
	memcpy(def.rid, rid, sizeof(def.rid));
	def.name = "online";
	def.type = MOB_TYPE_BOOL;
	def.access = MOB_ACCESS_R;
	def.precision = -1;
	if ((r = mob_object_add_res(o, &def, &od->status)) == MOB_EEXIST) {
		if (!has_m || mob_cfg_member(c, &m, "status_rid", 0, &x) != 1)
			x = *n;
		return mob_cfg_errorf(c, &x, "resource %s is the "
		    "device status; give the register another rid or set "
		    "\"modbus\": {\"status_rid\"}", rid);
	}
	if (r != 0)
		return mob_cfg_errorf(c, n, "%s", mob_strerror(r));
	od->dev = di;
	s->nobjs++;
	return 0;
}

/*
 * Devices and objects from config c: 0, or MOB_ECONFIG with the message in
 * c (fuzz/fuzz_config_modbus.c feeds it untrusted text).
 */
static int
configure(struct mob_service *svc, struct mbsvc *s, struct mob_config *c)
{
	static const char *const top[] = { "name", "description", "devices",
	    "objects", "queue", "history", NULL };
	static const char *const keys[] = { "modbus", NULL };
	struct mob_service_hooks hooks = { keys, keys, cfg_object, cfg_res, s };
	struct mob_cnode root;
	int rc = 0;

	mob_config_root(c, &root);
	if (mob_cfg_object(c, &root, top) != 0 || cfg_devices(s, c, &root) != 0 ||
	    mob_service_config(svc, c, &root, &hooks) != 0)
		rc = MOB_ECONFIG;
	free(s->pend);
	s->pend = NULL;
	s->npend = 0;
	return rc;
}

static void
load_config(struct mob_service *svc, struct mbsvc *s, const char *path)
{
	struct mob_config *c;
	char err[512];
	size_t i;

	if (mob_config_load(path, &c, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (configure(svc, s, c) != 0)
		fatalx("%s", mob_config_error(c));
	for (i = 0; i < s->cfg.ndevices; i++)
		if (s->cfg.devices[i].npoints == 0)
			log_warnx("%s: device \"%s\" has no registers mapped",
			    path, s->cfg.devices[i].name);
	mob_config_free(c);
}

/* Figures for operators and bench_modbus: cycles and what one cost. */
static void
log_stats(const struct mbsvc *s, size_t i)
{
	double n = (double)mob_mb_master_cycles(s->m, i);

	if (n == 0) {
		log_info("%s: no complete poll cycle", s->cfg.devices[i].name);
		return;
	}
	log_info("%s: %.0f poll cycles of %zu requests, %.1f us busy per cycle, "
	    "%.1f us of it in requests", s->cfg.devices[i].name, n,
	    mob_mb_master_blocks(s->m, i), mob_mb_master_busy_ns(s->m, i) / 1e3 / n,
	    mob_mb_master_io_ns(s->m, i) / 1e3 / n);
}

/* SIGUSR1: log the figures so far (a signalfd: no async handler). */
static void
on_usr1(struct mob_service *svc, int fd, short revents, void *arg)
{
	struct signalfd_siginfo si;
	const struct mbsvc *s = arg;
	size_t i;

	(void)svc;
	(void)revents;
	while (read(fd, &si, sizeof(si)) == sizeof(si))
		for (i = 0; i < s->cfg.ndevices; i++)
			log_stats(s, i);
}

static void
stats_signal(struct mob_service *svc, struct mbsvc *s)
{
	sigset_t set;
	int fd, rc;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	if ((rc = mob_service_add_fd(svc, fd, POLLIN, on_usr1, s)) != 0)
		fatalx("signalfd: %s", mob_strerror(rc));
	s->sigfd = fd;
}

/* --- main --------------------------------------------------------------- */

static int
own_option(void *arg, int ch, const char *val)
{
	struct mbsvc *s = arg;
	char *end;
	long l;

	if (ch != 'p')
		return -1;
	l = strtol(val, &end, 10);
	if (*end != '\0' || l < 1 || l > 65535)
		return -1;
	s->port_override = (int)l;
	return 0;
}

static const struct mob_daemon_option modbus_opts[] = {
	{ "port", 'p', "N", "use TCP port N for every TCP device (demos, tests)" },
	{ NULL, 0, NULL, NULL },
};

static const struct mob_daemon modbus_daemon = {
	"mobius-modbus",
	"A Modbus TCP and RTU master: registers as resources (docs/hardware.md).",
	"devices and register map (JSON, docs/hardware.md)",
	modbus_opts, own_option, &mob_sandbox_modbus, "0020",
};

int
main(int argc, char *argv[])
{
	struct mob_service *svc;
	struct mob_daemon_opts o;
	struct mbsvc s;
	size_t i;
	int rc;

	/* config: the command line, the key file, the register map */
	memset(&s, 0, sizeof(s));
	s.timer = s.sigfd = -1;
	mob_daemon_args(&modbus_daemon, &s, argc, argv, &o);
	/* the reason is logged already, in one line */
	if (mob_service_new(&o.ccfg, &svc) != 0)
		exit(1);
	s.svc = svc;
	load_config(svc, &s, o.config);

	/* open: the buses (serial ports before the sandbox hides them), the
	 * first poll due at once, the hub; no request sent, nothing read */
	if ((rc = mob_mb_master_new(&s.cfg, on_event, &s, &s.m)) != 0)
		fatalx("modbus: %s", mob_strerror(rc));
	mob_mb_master_connect(s.m);
	if ((s.timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) == -1)
		fatal("timerfd");
	arm(&s, 1);
	if ((rc = mob_service_add_fd(svc, s.timer, POLLIN, on_timer, &s)) != 0)
		fatalx("poll timer: %s", mob_strerror(rc));
	stats_signal(svc, &s);
	if ((rc = mob_service_open(svc)) != 0)
		fatalx("hub %s: %s", mob_daemon_socket(&o), mob_strerror(rc));

	/* sandbox */
	mob_daemon_confine(&modbus_daemon, &o, NULL);

	/* loop: log in, then poll and serve */
	if ((rc = mob_service_start(svc, 30000)) != 0)
		mob_daemon_hub_fatal(&o, rc, 30000);
	log_info("%s: %zu devices, %zu objects",
	    mob_client_id(mob_service_client(svc)), s.cfg.ndevices,
	    mob_service_nobjects(svc));
	rc = mob_service_run(svc);

	for (i = 0; i < s.cfg.ndevices; i++)
		log_stats(&s, i);
	mob_service_free(svc);
	mob_mb_master_free(s.m);
	mob_mb_config_free(&s.cfg);
	free(s.objs);
	close(s.timer);
	close(s.sigfd);
	return rc == 0 ? 0 : 1;
}
