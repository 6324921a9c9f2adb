/*
 * mobius-sim: simulated sensors and actuators for demos and tests.
 *
 * Objects come from the JSON config (docs/services.md); a resource may
 * carry a "sim" member that makes its value move:
 *   {"model":"drift","center":21,"pull":0.05,"noise":0.1,"period":1}
 *       mean-reverting random walk (a temperature); with
 *       "follow":"PID/INS/RID" the center is that number resource's PV
 *       (a room warming towards its setpoint)
 *   {"model":"counter","step":1,"period":1}   counts up
 *   {"model":"toggle","period":5}            flips a bool
 * Resources without "sim" keep what clients write (setpoints, switches).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "mobius/clock.h"
#include "mobius/config.h"
#include "mobius/daemon.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/proto.h"
#include "mobius/sandbox.h"
#include "mobius/service.h"

#define SIM_TICK_MAX_MS	1000	/* timer period: the shortest model period, at most this */
#define SIM_CATCH_UP	4	/* steps one late tick may make up for */
#define SIM_MAX_MODELS	(MOB_SERVICE_MAX_OBJECTS * 4)

enum model { M_DRIFT, M_COUNTER, M_TOGGLE };

struct sim_model {
	struct mob_res *r;
	struct mob_res *follow;		/* drift: center from this PV */
	enum model model;
	double center, pull, noise, step;
	int64_t period_ms;
	int64_t next;			/* monotonic ms */
};

/* A "follow" member, until the whole config is read and it can be resolved. */
struct sim_pending {
	size_t model;			/* index in sim.m */
	struct mob_cnode node;
};

struct sim {
	struct sim_model *m;
	size_t n;
	struct sim_pending *pend;	/* only while configuring */
	size_t npend;
	unsigned short rnd[3];		/* erand48 state */
};


/*
 * Standard normal deviate, near enough for noise: the sum of 12 uniforms
 * less 6 (Irwin-Hall: mean 0, variance 1, tails cut at 6 sigma).  Unlike
 * Box-Muller it needs no log() or cos(), whose libm code and tables cost
 * about 200 KiB of resident memory.
 */
static double
gauss(struct sim *s)
{
	double x = -6;

	for (int i = 0; i < 12; i++)
		x += erand48(s->rnd);
	return x;
}

static void
sim_step(struct sim *s, struct sim_model *m)
{
	const struct mob_value *pv = mob_res_pv(m->r);
	const struct mob_res_def *d = mob_res_def(m->r);
	struct mob_value v;
	double x;
	int rc;

	switch (m->model) {
	case M_DRIFT:
		if (m->follow != NULL && !mob_res_pv(m->follow)->null)
			m->center = mob_res_pv(m->follow)->u.num;
		x = pv->null ? m->center : pv->u.num;
		x += m->pull * (m->center - x) + m->noise * gauss(s);
		if (d->has_min && x < d->min)
			x = d->min;
		if (d->has_max && x > d->max)
			x = d->max;
		mob_value_number(&v, x);
		break;
	case M_COUNTER:
		x = (pv->null ? 0 : pv->u.num) + m->step;
		if (d->has_max && x > d->max)
			x = d->has_min ? d->min : 0;
		mob_value_number(&v, x);
		break;
	case M_TOGGLE:
		mob_value_bool(&v, pv->null ? 1 : !pv->u.b);
		break;
	}
	if ((rc = mob_res_update(m->r, &v)) != 0)
		log_warnx("%s: %s", mob_res_name(m->r), mob_strerror(rc));
}

static void
sim_tick(struct mob_service *svc, void *arg)
{
	struct sim *s = arg;
	int64_t now = mob_clock_mono_ms();

	(void)svc;
	for (size_t i = 0; i < s->n; i++) {
		/* A fixed rate: a late tick catches up rather than pushing
		 * the next step back (bench/soak.sh counts on 100 steps a
		 * second at 10 ms); after a long stall, start again from now. */
		for (int k = 0; now >= s->m[i].next && k < SIM_CATCH_UP; k++) {
			s->m[i].next += s->m[i].period_ms;
			sim_step(s, &s->m[i]);
		}
		if (s->m[i].next <= now)
			s->m[i].next = now + s->m[i].period_ms;
	}
}

/* The timer period: the shortest model period, at most SIM_TICK_MAX_MS. */
static int
sim_period(const struct sim *s)
{
	int64_t t = SIM_TICK_MAX_MS;

	for (size_t i = 0; i < s->n; i++)
		if (s->m[i].period_ms < t)
			t = s->m[i].period_ms;
	return (int)t;
}

/* Hook for the "sim" member of a resource. */
static int
sim_res(struct mob_config *c, const struct mob_cnode *n, struct mob_res *r,
    void *arg)
{
	static const char *const keys[] = { "model", "center", "pull", "noise",
	    "step", "period", "follow", NULL };
	static const char *const models[] = { "drift", "counter", "toggle", NULL };
	const enum mob_type want[] = { MOB_TYPE_NUMBER, MOB_TYPE_NUMBER, MOB_TYPE_BOOL };
	struct sim *s = arg;
	struct sim_model *m, *nm;
	struct sim_pending *np;
	struct mob_cnode sn, x, fn;
	double period = 1;
	int model;

	if (mob_cfg_member(c, n, "sim", 0, &sn) != 1)
		return 0;
	if (s->n >= SIM_MAX_MODELS)
		return mob_cfg_errorf(c, &sn, "too many simulated resources");
	if ((nm = reallocarray(s->m, s->n + 1, sizeof(*nm))) == NULL)
		return mob_cfg_errorf(c, &sn, "out of memory");
	s->m = nm;
	m = &s->m[s->n];
	memset(m, 0, sizeof(*m));
	m->r = r;
	m->pull = 0.05;
	m->step = 1;
	m->center = mob_res_pv(r)->null || mob_res_type(r) != MOB_TYPE_NUMBER ?
	    0 : mob_res_pv(r)->u.num;
	if (mob_cfg_object(c, &sn, keys) != 0 ||
	    mob_cfg_enum(c, &sn, "model", MOB_CFG_REQUIRED, models, &model) < 0 ||
	    mob_cfg_number(c, &sn, "center", 0, &m->center) < 0 ||
	    mob_cfg_number(c, &sn, "pull", 0, &m->pull) < 0 ||
	    mob_cfg_number(c, &sn, "noise", 0, &m->noise) < 0 ||
	    mob_cfg_number(c, &sn, "step", 0, &m->step) < 0 ||
	    mob_cfg_number(c, &sn, "period", 0, &period) < 0)
		return MOB_ECONFIG;
	if (mob_res_type(r) != want[model]) {
		mob_cfg_member(c, &sn, "model", 0, &x);
		return mob_cfg_errorf(c, &x, "%s needs a %s resource",
		    models[model], mob_type_name(want[model]));
	}
	if (period < 0.01 || period > 86400) {
		mob_cfg_member(c, &sn, "period", 0, &x);
		return mob_cfg_errorf(c, &x, "must be between 0.01 and 86400 seconds");
	}
	if (m->noise < 0 || m->pull < 0 || m->pull > 1) {
		mob_cfg_member(c, &sn, m->noise < 0 ? "noise" : "pull", 0, &x);
		return mob_cfg_errorf(c, &x, m->noise < 0 ? "must not be negative" :
		    "must be between 0 and 1");
	}
	if (mob_cfg_member(c, &sn, "follow", 0, &fn) == 1) {
		if (model != M_DRIFT || !cJSON_IsString(fn.j))
			return mob_cfg_errorf(c, &fn, model != M_DRIFT ?
			    "only for the drift model" :
			    "must be a string PID/INS/RID");
		if ((np = reallocarray(s->pend, s->npend + 1, sizeof(*np))) == NULL)
			return mob_cfg_errorf(c, &fn, "out of memory");
		s->pend = np;
		np[s->npend].model = s->n;
		np[s->npend++].node = fn;
	}
	m->model = (enum model)model;
	m->period_ms = (int64_t)(period * 1000);
	m->next = mob_clock_mono_ms() + m->period_ms;
	s->n++;
	return 0;
}

/* Resolve "follow": "PID/INS/RID", a number resource of this service. */
static int
sim_follow(struct mob_service *svc, struct mob_config *c, struct sim_model *m,
    const struct mob_cnode *n)
{
	const char *f = n->j->valuestring;
	struct mob_object *o;
	char pid[5], ins[5];

	if (strlen(f) != 12 || f[4] != '/' || f[9] != '/' || !mob_hex_valid(f, 4) ||
	    !mob_hex_valid(f + 5, 4) || !mob_hex_valid(f + 10, 2))
		return mob_cfg_errorf(c, n,
		    "must be PID/INS/RID in upper-case hex, like \"0102/0001/40\"");
	memcpy(pid, f, 4);
	pid[4] = '\0';
	memcpy(ins, f + 5, 4);
	ins[4] = '\0';
	if ((o = mob_service_object(svc, pid, ins)) == NULL ||
	    (m->follow = mob_object_res(o, f + 10)) == NULL)
		return mob_cfg_errorf(c, n, "no resource %s here", f);
	if (mob_res_type(m->follow) != MOB_TYPE_NUMBER)
		return mob_cfg_errorf(c, n, "%s is not a number", f);
	return 0;
}

/*
 * Objects and simulated resources from config c: 0, or MOB_ECONFIG with
 * the message in c (fuzz/fuzz_config_sim.c feeds it untrusted text).
 */
static int
sim_configure(struct mob_service *svc, struct sim *s, struct mob_config *c)
{
	static const char *const top[] = { "name", "description", "objects",
	    "queue", "history", NULL };
	static const char *const res_keys[] = { "sim", NULL };
	struct mob_service_hooks hooks = { NULL, res_keys, NULL, sim_res, s };
	struct mob_cnode root;
	int rc = MOB_ECONFIG;

	mob_config_root(c, &root);
	if (mob_cfg_object(c, &root, top) != 0 ||
	    mob_service_config(svc, c, &root, &hooks) != 0)
		goto out;
	/* "follow" may name an object defined later in the file */
	for (size_t i = 0; i < s->npend; i++)
		if (sim_follow(svc, c, &s->m[s->pend[i].model],
		    &s->pend[i].node) != 0)
			goto out;
	rc = 0;
 out:
	free(s->pend);
	s->pend = NULL;
	s->npend = 0;
	return rc;
}

static void
sim_config(struct mob_service *svc, struct sim *s, const char *path)
{
	struct mob_config *c;
	char err[512];

	if (mob_config_load(path, &c, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (sim_configure(svc, s, c) != 0)
		fatalx("%s", mob_config_error(c));
	mob_config_free(c);
}

static const struct mob_daemon sim_daemon = {
	"mobius-sim",
	"Simulated sensors and actuators for demos and tests (docs/services.md).",
	"objects to simulate (JSON, docs/services.md)",
	NULL, NULL, &mob_sandbox_sim, "0010",
};

int
main(int argc, char *argv[])
{
	struct mob_service *svc;
	struct sim sim = { 0 };
	struct mob_daemon_opts o;
	int rc;

	/* config: the command line, the key file, the objects */
	mob_daemon_args(&sim_daemon, NULL, argc, argv, &o);
	sim.rnd[0] = (unsigned short)time(NULL);
	sim.rnd[1] = (unsigned short)getpid();
	/* the reason is logged already, in one line */
	if (mob_service_new(&o.ccfg, &svc) != 0)
		exit(1);
	sim_config(svc, &sim, o.config);
	if ((rc = mob_service_add_timer(svc, sim_period(&sim), sim_tick, &sim)) != 0)
		fatalx("timer: %s", mob_strerror(rc));

	/* open: the hub connection, nothing read from it yet */
	if ((rc = mob_service_open(svc)) != 0)
		fatalx("hub %s: %s", mob_daemon_socket(&o), mob_strerror(rc));

	/* sandbox: nothing more to open from here on */
	mob_daemon_confine(&sim_daemon, &o, NULL);

	/* loop: log in (the hub's first bytes), publish, serve */
	if ((rc = mob_service_start(svc, 30000)) != 0)
		mob_daemon_hub_fatal(&o, rc, 30000);
	log_info("%s: %zu objects, %zu simulated resources",
	    mob_client_id(mob_service_client(svc)), mob_service_nobjects(svc), sim.n);
	rc = mob_service_run(svc);
	mob_service_free(svc);
	free(sim.m);
	return rc == 0 ? 0 : 1;
}
