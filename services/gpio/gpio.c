/*
 * mobius-gpio: GPIO lines as bool resources (docs/hardware.md).
 *
 * Inputs publish their debounced value on every edge; outputs follow the
 * priority array (a client write drives the line before it takes effect,
 * so a failed write leaves the PV unchanged).  On SIGTERM/SIGINT every
 * output is driven to its safe value before the lines are released.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mobius/config.h"
#include "mobius/daemon.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/sandbox.h"
#include "mobius/service.h"
#include "../../drivers/gpio/gpiodrv.h"

struct gsvc {
	struct mob_gpio_config cfg;
	struct mob_gpio *g;
	struct mob_res **res;		/* parallel to cfg.lines */
	int force_sim;
	const char *sim_dir;
	char list_dir[200];		/* --list's default sim dir */
};

static void
on_line(void *arg, size_t i, int value)
{
	struct gsvc *s = arg;
	struct mob_value v;
	int rc;

	mob_value_bool(&v, value);
	if ((rc = mob_res_update(s->res[i], &v)) != 0)
		log_warnx("%s: %s", mob_res_name(s->res[i]), mob_strerror(rc));
}

static int
on_write(struct mob_res *r, const struct mob_value *pv, void *arg)
{
	struct gsvc *s = arg;
	size_t i;
	int rc;

	if (pv->null)
		return 0;
	for (i = 0; i < s->cfg.nlines; i++)
		if (s->res[i] == r)
			break;
	if (i == s->cfg.nlines)
		return MOB_ENOTFOUND;
	if ((rc = mob_gpio_set(s->g, i, pv->u.b)) != 0)
		log_warnx("%s: set %d: %s", mob_res_name(r), pv->u.b,
		    mob_strerror(rc));
	return rc;
}

static void
on_fd(struct mob_service *svc, int fd, short revents, void *arg)
{
	struct gsvc *s = arg;

	(void)svc;
	(void)revents;
	mob_gpio_dispatch(s->g, fd);
}

/* Hook: a resource's "gpio" member. */
static int
cfg_res(struct mob_config *c, const struct mob_cnode *n, struct mob_res *r,
    void *arg)
{
	struct gsvc *s = arg;
	struct mob_gpio_line_cfg *l;
	struct mob_res **nr;
	struct mob_cnode m, x;

	if (mob_cfg_member(c, n, "gpio", MOB_CFG_REQUIRED, &m) != 1)
		return MOB_ECONFIG;
	if ((l = reallocarray(s->cfg.lines, s->cfg.nlines + 1, sizeof(*l))) == NULL ||
	    (s->cfg.lines = l,
	    nr = reallocarray(s->res, s->cfg.nlines + 1, sizeof(*nr))) == NULL)
		return mob_cfg_errorf(c, n, "out of memory");
	s->res = nr;
	l = &s->cfg.lines[s->cfg.nlines];
	if (mob_gpio_line_parse(c, &m, l) != 0)
		return MOB_ECONFIG;
	snprintf(l->name, sizeof(l->name), "%s", mob_res_name(r));
	if (mob_gpio_line_check(c, &m, &s->cfg, l) != 0)
		return MOB_ECONFIG;
	if (mob_res_type(r) != MOB_TYPE_BOOL) {
		mob_cfg_member(c, n, "type", 0, &x);
		return mob_cfg_errorf(c, &x, "a GPIO line is a bool");
	}
	if ((mob_res_access(r) == MOB_ACCESS_RW) != (l->dir == MOB_GPIO_OUTPUT)) {
		if (mob_cfg_member(c, n, "access", 0, &x) != 1)
			x = *n;
		return mob_cfg_errorf(c, &x, l->dir == MOB_GPIO_OUTPUT ?
		    "an output is \"rw\"" : "an input is read-only (\"r\")");
	}
	s->res[s->cfg.nlines++] = r;
	if (l->dir == MOB_GPIO_OUTPUT)
		mob_res_set_write_handler(r, on_write, s);
	return 0;
}

/* root: /run/mobius-gpio; a user: $XDG_RUNTIME_DIR/mobius-gpio or /tmp. */
static void
default_sim_dir(char *out, size_t len)
{
	const char *x = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0)
		snprintf(out, len, "/run/mobius-gpio");
	else if (x != NULL && x[0] == '/')
		snprintf(out, len, "%s/mobius-gpio", x);
	else
		snprintf(out, len, "/tmp/mobius-gpio-%u", (unsigned)geteuid());
}

/*
 * Lines and objects from config c: 0, or MOB_ECONFIG with the message in c
 * (fuzz/fuzz_config_gpio.c feeds it untrusted text).
 */
static int
configure(struct mob_service *svc, struct gsvc *s, struct mob_config *c)
{
	static const char *const top[] = { "name", "description", "gpio",
	    "objects", "queue", "history", NULL };
	static const char *const keys[] = { "gpio", NULL };
	struct mob_service_hooks hooks = { NULL, keys, NULL, cfg_res, s };
	struct mob_cnode root, m;

	mob_config_root(c, &root);
	if (mob_cfg_object(c, &root, top) != 0 ||
	    mob_cfg_member(c, &root, "gpio", MOB_CFG_REQUIRED, &m) != 1 ||
	    mob_gpio_backend_parse(c, &m, &s->cfg) != 0)
		return MOB_ECONFIG;
	if (s->force_sim) {
		if (s->cfg.nchips == 0)
			return mob_cfg_errorf(c, &m,
			    "--sim needs simulated chips in \"sim\"");
		s->cfg.sim = 1;
	}
	if (s->sim_dir != NULL)
		snprintf(s->cfg.sim_dir, sizeof(s->cfg.sim_dir), "%s", s->sim_dir);
	else if (s->cfg.sim_dir[0] == '\0')
		default_sim_dir(s->cfg.sim_dir, sizeof(s->cfg.sim_dir));
	return mob_service_config(svc, c, &root, &hooks);
}

static void
load_config(struct mob_service *svc, struct gsvc *s, const char *path)
{
	struct mob_config *c;
	char err[512];

	if (mob_config_load(path, &c, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (configure(svc, s, c) != 0)
		fatalx("%s", mob_config_error(c));
	mob_config_free(c);
}

/* Register the driver's descriptors, as many as it has, and the values. */
static void
start_lines(struct mob_service *svc, struct gsvc *s)
{
	struct mob_value v;
	size_t i, n;
	int *fds, rc;

	n = mob_gpio_fds(s->g, NULL, 0);
	if ((fds = calloc(n, sizeof(*fds))) == NULL)
		fatal("poll set");
	mob_gpio_fds(s->g, fds, n);
	for (i = 0; i < n; i++)
		if ((rc = mob_service_add_fd(svc, fds[i], POLLIN, on_fd, s)) != 0)
			fatalx("poll: %s", mob_strerror(rc));
	free(fds);
	for (i = 0; i < s->cfg.nlines; i++) {
		if (s->cfg.lines[i].dir == MOB_GPIO_INPUT)
			mob_value_bool(&v, mob_gpio_reported(s->g, i));
		else
			mob_value_bool(&v, s->cfg.lines[i].initial);
		mob_res_update(s->res[i], &v);
	}
}

static int
own_option(void *arg, int ch, const char *val)
{
	struct gsvc *s = arg;

	switch (ch) {
	case 'S':
		s->force_sim = 1;
		return 0;
	case 'd':
		s->sim_dir = val;
		return 0;
	case 'l':
		/* an action, like --version: at once, with what came before */
		if (s->sim_dir == NULL)
			s->sim_dir = getenv("RUNTIME_DIRECTORY");
		if (s->sim_dir == NULL) {
			default_sim_dir(s->list_dir, sizeof(s->list_dir));
			s->sim_dir = s->list_dir;
		}
		exit(mob_gpio_list(stdout, s->sim_dir) == 0 ? 0 : 1);
	default:
		return -1;
	}
}

static const struct mob_daemon_option gpio_opts[] = {
	{ "sim", 'S', NULL, "use the simulated chips of the config, whatever\n"
	    "its \"backend\" says (demos, tests)" },
	{ "sim-dir", 'd', "DIR", "where the simulated chips' FIFOs and state "
	    "files go\n(default: $RUNTIME_DIRECTORY, else gpio.sim.dir of\n"
	    "the config, else /run/mobius-gpio as root and\n"
	    "$XDG_RUNTIME_DIR/mobius-gpio as a user)" },
	{ "list", 'l', NULL, "list the GPIO chips and lines this process can "
	    "see\n(kernel chips, then simulated chips in the sim dir\n"
	    "given before it) and exit; needs no --config or --key" },
	{ NULL, 0, NULL, NULL },
};

static const struct mob_daemon gpio_daemon = {
	"mobius-gpio",
	"GPIO lines as bool resources (docs/hardware.md).",
	"lines and objects (JSON, docs/hardware.md)",
	gpio_opts, own_option, &mob_sandbox_gpio, "0030",
};

int
main(int argc, char *argv[])
{
	const char *rw[2] = { NULL, NULL };
	struct mob_service *svc;
	struct mob_daemon_opts o;
	struct gsvc s;
	int rc;

	/* config: the command line, the key file, lines and objects */
	memset(&s, 0, sizeof(s));
	mob_daemon_args(&gpio_daemon, &s, argc, argv, &o);
	if (s.sim_dir == NULL)
		s.sim_dir = getenv("RUNTIME_DIRECTORY");
	/* the reason is logged already, in one line */
	if (mob_service_new(&o.ccfg, &svc) != 0)
		exit(1);
	load_config(svc, &s, o.config);
	s.cfg.sim_owner = mob_daemon_user(&gpio_daemon, &o);

	/* open: chips and lines, the hub; nothing read from the hub */
	if ((rc = mob_gpio_open(&s.cfg, "mobius-gpio", on_line, &s, &s.g)) != 0)
		fatalx("gpio: %s", mob_strerror(rc));
	start_lines(svc, &s);
	if ((rc = mob_service_open(svc)) != 0) {
		mob_gpio_close(s.g);
		fatalx("hub %s: %s", mob_daemon_socket(&o), mob_strerror(rc));
	}

	/* sandbox: a simulated chip keeps writing its state file */
	if (s.cfg.sim)
		rw[0] = s.cfg.sim_dir;
	mob_daemon_confine(&gpio_daemon, &o, rw);

	/* loop: log in, then serve */
	if ((rc = mob_service_start(svc, 30000)) != 0) {
		mob_gpio_close(s.g);
		mob_daemon_hub_fatal(&o, rc, 30000);
	}
	log_info("%s: %zu lines on %s%s",
	    mob_client_id(mob_service_client(svc)), s.cfg.nlines,
	    s.cfg.sim ? "simulated chips in " : "gpiod",
	    s.cfg.sim ? s.cfg.sim_dir : "");
	rc = mob_service_run(svc);

	/* shutdown: outputs to their safe state first */
	mob_gpio_close(s.g);
	log_info("outputs in their safe state; lines released");
	mob_service_free(svc);
	mob_gpio_config_free(&s.cfg);
	free(s.res);
	return rc == 0 ? 0 : 1;
}
