/*
 * mobius-gpio: the driver on simulated chips (edges, debounce, outputs,
 * active-low, bias, safe state), config errors, the service end to end
 * through the real hub, and the gpiod back-end against the kernel's
 * gpio-sim where the kernel has it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mobius/err.h"
#include "../drivers/gpio/gpiodrv.h"
#include "hw_support.h"

/* --- driver on a simulated chip -------------------------------------------- */

struct ev {
	size_t line;
	int value;
};

struct drv {
	char dir[180];
	struct mob_gpio_sim_chip chip;
	struct mob_gpio_line_cfg lines[8];
	struct mob_gpio_config cfg;
	struct mob_gpio *g;
	struct ev ev[64];
	size_t nev;
};

static void
on_ev(void *arg, size_t line, int value)
{
	struct drv *d = arg;

	if (d->nev < 64) {
		d->ev[d->nev].line = line;
		d->ev[d->nev].value = value;
		d->nev++;
	}
}

static void
drv_init(struct drv *d)
{
	memset(d, 0, sizeof(*d));
	th_tmpdir(d->dir, sizeof(d->dir));
	snprintf(d->chip.name, sizeof(d->chip.name), "simchip");
	d->chip.nlines = 8;
	snprintf(d->chip.line_names[5], sizeof(d->chip.line_names[5]), "BTN");
	d->cfg.sim = 1;
	snprintf(d->cfg.sim_dir, sizeof(d->cfg.sim_dir), "%s", d->dir);
	d->cfg.chips = &d->chip;
	d->cfg.nchips = 1;
	d->cfg.lines = d->lines;
}

static struct mob_gpio_line_cfg *
drv_line(struct drv *d, int offset, enum mob_gpio_dir dir)
{
	struct mob_gpio_line_cfg *l = &d->lines[d->cfg.nlines++];

	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "line%d", offset);
	snprintf(l->chip, sizeof(l->chip), "simchip");
	l->offset = offset;
	l->dir = dir;
	l->safe = -1;
	return l;
}

static void
drv_pump(struct drv *d, int ms)
{
	struct pollfd pfd[16];
	int fds[16];
	int64_t end = mob_clock_mono_ns() + (int64_t)ms * 1000000;
	size_t n, i;

	n = mob_gpio_fds(d->g, fds, 16);
	for (i = 0; i < n; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	while (mob_clock_mono_ns() < end) {
		if (poll(pfd, n, 5) <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (pfd[i].revents & POLLIN)
				mob_gpio_dispatch(d->g, pfd[i].fd);
	}
}

/* Write commands to the chip's FIFO, as a test rig or a person would. */
static void
drive(const char *dir, const char *chip, const char *cmds)
{
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.in", dir, chip);
	cr_assert_neq(fd = open(path, O_WRONLY | O_NONBLOCK), -1, "%s: %s",
	    path, strerror(errno));
	cr_assert_eq(write(fd, cmds, strlen(cmds)), (ssize_t)strlen(cmds));
	close(fd);
}

/* Physical level of offset in the chip's state file, or -1. */
static int
level(const char *dir, const char *chip, int offset)
{
	char path[400], line[200], name[64], d[8];
	int off, lv, r = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.state", dir, chip);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%d %63s %7s %d", &off, name, d, &lv) == 4 &&
		    off == offset)
			r = lv;
	fclose(f);
	return r;
}

static void
drv_done(struct drv *d)
{
	mob_gpio_close(d->g);
	th_rmtree(d->dir);
}

Test(gpio, edges_on_a_simulated_input_are_reported)
{
	struct drv d;

	drv_init(&d);
	drv_line(&d, 2, MOB_GPIO_INPUT);
	cr_assert_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), 0);
	cr_expect_eq(mob_gpio_reported(d.g, 0), 0);
	drive(d.dir, "simchip", "2 1\n");
	drv_pump(&d, 50);
	drive(d.dir, "simchip", "2 0\n");
	drv_pump(&d, 50);
	cr_assert_eq(d.nev, 2);
	cr_expect_eq(d.ev[0].value, 1);
	cr_expect_eq(d.ev[1].value, 0);
	drv_done(&d);
}

/*
 * The sim directory may already exist (/tmp/mobius-gpio-UID): only one
 * nobody else can write to is used, or one of another user, which could
 * have planted links or a FIFO of its own there.
 */
Test(gpio, sim_refuses_a_directory_others_can_write_to)
{
	struct drv d;

	drv_init(&d);
	drv_line(&d, 2, MOB_GPIO_INPUT);
	cr_assert_eq(chmod(d.dir, 0777), 0);
	cr_assert_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), MOB_EDENIED);
	cr_assert_eq(chmod(d.dir, 0755), 0);
	cr_assert_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), 0);
	drv_done(&d);
}

Test(gpio, sim_refuses_a_directory_of_another_user)
{
	struct passwd *pw;
	struct drv d;

	if (geteuid() != 0 || (pw = getpwnam("nobody")) == NULL)
		cr_skip_test("needs root and a user \"nobody\" to own the directory");
	drv_init(&d);
	drv_line(&d, 2, MOB_GPIO_INPUT);
	cr_assert_eq(chown(d.dir, pw->pw_uid, pw->pw_gid), 0);
	cr_assert_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), MOB_EDENIED);
	/* unless it is the user the sandbox will switch to */
	d.cfg.sim_owner = pw->pw_uid;
	cr_assert_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), 0);
	drv_done(&d);
}

/* Links planted at the state file's names are replaced, never followed. */
Test(gpio, sim_state_file_is_not_written_through_a_link)
{
	char victim[300], link1[300], link2[300], buf[16] = { 0 };
	struct stat st;
	struct drv d;
	FILE *f;

	drv_init(&d);
	drv_line(&d, 2, MOB_GPIO_INPUT);
	snprintf(victim, sizeof(victim), "%s/victim", d.dir);
	snprintf(link1, sizeof(link1), "%s/simchip.state.tmp", d.dir);
	snprintf(link2, sizeof(link2), "%s/simchip.state", d.dir);
	cr_assert_not_null(f = fopen(victim, "w"));
	fputs("keep", f);
	fclose(f);
	cr_assert_eq(symlink(victim, link1), 0);
	cr_assert_eq(symlink(victim, link2), 0);
	cr_assert_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), 0);
	drive(d.dir, "simchip", "2 1\n");
	drv_pump(&d, 50);
	cr_assert_not_null(f = fopen(victim, "r"));
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_str_eq(buf, "keep", "written through a link");
	cr_assert_eq(lstat(link2, &st), 0);
	cr_assert(S_ISREG(st.st_mode), "the state file is a regular file");
	cr_assert_eq(level(d.dir, "simchip", 2), 1);
	drv_done(&d);
}

Test(gpio, debounce_reports_a_bouncing_input_once)
{
	struct drv d;
	struct mob_gpio_line_cfg *l;

	drv_init(&d);
	l = drv_line(&d, 0, MOB_GPIO_INPUT);
	l->debounce_ms = 200;	/* long: a loaded CI machine may stall a while */
	drv_line(&d, 1, MOB_GPIO_INPUT);	/* the same bounces, no debounce */
	cr_assert_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), 0);
	drive(d.dir, "simchip", "0 1\n0 0\n0 1\n0 0\n0 1\n"
	    "1 1\n1 0\n1 1\n1 0\n1 1\n");
	drv_pump(&d, 20);
	/* Within the quiet period only the undebounced line has spoken. */
	cr_expect_eq(d.nev, 5, "undebounced line: every bounce, got %zu", d.nev);
	drv_pump(&d, 400);
	cr_assert_eq(d.nev, 6);
	cr_expect_eq(d.ev[5].line, 0);
	cr_expect_eq(d.ev[5].value, 1);

	/* A glitch that settles where it was reports nothing. */
	d.nev = 0;
	drive(d.dir, "simchip", "0 0\n0 1\n");
	drv_pump(&d, 400);
	cr_expect_eq(d.nev, 0);
	drv_done(&d);
}

Test(gpio, active_low_and_bias_set_the_logical_value)
{
	struct drv d;
	struct mob_gpio_line_cfg *in, *out;
	int v = -1;

	drv_init(&d);
	in = drv_line(&d, 3, MOB_GPIO_INPUT);
	in->active_low = 1;
	in->bias = MOB_GPIO_BIAS_PULL_UP;	/* a released button reads high */
	out = drv_line(&d, 4, MOB_GPIO_OUTPUT);
	out->active_low = 1;
	cr_assert_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), 0);
	cr_expect_eq(level(d.dir, "simchip", 3), 1, "pulled up");
	cr_expect_eq(mob_gpio_reported(d.g, 0), 0, "high is inactive");
	drive(d.dir, "simchip", "3 0\n");	/* pressed: pin to ground */
	drv_pump(&d, 50);
	cr_assert_eq(d.nev, 1);
	cr_expect_eq(d.ev[0].value, 1);
	cr_expect_eq(level(d.dir, "simchip", 4), 1, "active-low output off is high");
	cr_assert_eq(mob_gpio_set(d.g, 1, 1), 0);
	cr_expect_eq(level(d.dir, "simchip", 4), 0, "active-low output on is low");
	cr_assert_eq(mob_gpio_get(d.g, 1, &v), 0);
	cr_expect_eq(v, 1);
	drv_done(&d);
}

Test(gpio, outputs_return_to_their_safe_state_on_close)
{
	struct drv d;
	struct mob_gpio_line_cfg *a, *b, *c;

	drv_init(&d);
	a = drv_line(&d, 0, MOB_GPIO_OUTPUT);
	a->safe = 0;
	b = drv_line(&d, 1, MOB_GPIO_OUTPUT);
	b->initial = 1;
	b->safe = 1;
	c = drv_line(&d, 2, MOB_GPIO_OUTPUT);
	c->safe = 0;
	c->active_low = 1;
	drv_line(&d, 6, MOB_GPIO_INPUT);
	cr_assert_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), 0);
	cr_expect_eq(level(d.dir, "simchip", 1), 1, "initial value");
	cr_assert_eq(mob_gpio_set(d.g, 0, 1), 0);
	cr_assert_eq(mob_gpio_set(d.g, 1, 0), 0);
	cr_assert_eq(mob_gpio_set(d.g, 2, 1), 0);
	cr_expect_eq(mob_gpio_set(d.g, 3, 1), MOB_EREADONLY);
	cr_expect_eq(level(d.dir, "simchip", 0), 1);
	cr_expect_eq(level(d.dir, "simchip", 2), 0);
	mob_gpio_close(d.g);
	d.g = NULL;
	cr_expect_eq(level(d.dir, "simchip", 0), 0, "safe off");
	cr_expect_eq(level(d.dir, "simchip", 1), 1, "safe on");
	cr_expect_eq(level(d.dir, "simchip", 2), 1, "safe off, active-low: high");
	drv_done(&d);
}

Test(gpio, lines_are_found_by_name_and_unknown_ones_refused)
{
	struct drv d;
	struct mob_gpio_line_cfg *l;

	drv_init(&d);
	l = drv_line(&d, -1, MOB_GPIO_INPUT);
	l->chip[0] = '\0';
	snprintf(l->line, sizeof(l->line), "BTN");
	cr_assert_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), 0);
	drive(d.dir, "simchip", "BTN 1\n");
	drv_pump(&d, 50);
	cr_assert_eq(d.nev, 1);
	cr_expect_eq(level(d.dir, "simchip", 5), 1);
	mob_gpio_close(d.g);
	d.g = NULL;
	snprintf(l->line, sizeof(l->line), "NOPE");
	cr_expect_eq(mob_gpio_open(&d.cfg, "test", on_ev, &d, &d.g), MOB_ENOTFOUND);
	cr_expect_null(d.g);
	drv_done(&d);
}

/* `mobius-gpio --list`'s output (stdout and stderr), its exit status. */
static int
gpio_list(const char *simdir, char *out, size_t len)
{
	char path[300];
	char *argv[] = { path, "--sim-dir", (char *)simdir, "--list", NULL };

	th_path("bin/mobius-gpio", path, sizeof(path));
	if (simdir == NULL) {
		argv[1] = "--list";
		argv[2] = NULL;
	}
	return th_run(argv, NULL, out, len, 10000);
}

/* --- the kernel's gpio-sim, where there is one -------------------------------- */

#define GPIO_SIM	"/sys/kernel/config/gpio-sim"

static int
put(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int r;

	if (f == NULL)
		return -1;
	r = fputs(val, f) < 0 ? -1 : 0;
	return fclose(f) != 0 ? -1 : r;
}

static int
get_str(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (f == NULL || fgets(buf, (int)len, f) == NULL) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

Test(gpio, gpiod_backend_against_the_kernel_gpio_sim)
{
	char dev[64], chip[64], p[400], v[16], lout[8192];
	struct mob_gpio_line_cfg lines[2];
	struct mob_gpio_config cfg;
	struct drv d;
	const char *top = GPIO_SIM "/mobius-test";

	if (access(GPIO_SIM, F_OK) != 0)
		cr_skip_test("%s is missing: this kernel has no gpio-sim "
		    "(CONFIG_GPIO_SIM) or configfs is not mounted; the gpiod "
		    "back-end is exercised only where it exists", GPIO_SIM);
	cr_assert_eq(mkdir(top, 0755), 0, "%s: %s", top, strerror(errno));
	snprintf(p, sizeof(p), "%s/bank0", top);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/bank0/num_lines", top);
	cr_assert_eq(put(p, "8"), 0);
	snprintf(p, sizeof(p), "%s/live", top);
	cr_assert_eq(put(p, "1"), 0);
	snprintf(p, sizeof(p), "%s/dev_name", top);
	cr_assert_eq(get_str(p, dev, sizeof(dev)), 0);
	snprintf(p, sizeof(p), "%s/bank0/chip_name", top);
	cr_assert_eq(get_str(p, chip, sizeof(chip)), 0);

	memset(&d, 0, sizeof(d));
	memset(&cfg, 0, sizeof(cfg));
	memset(lines, 0, sizeof(lines));
	snprintf(lines[0].name, sizeof(lines[0].name), "in");
	snprintf(lines[0].chip, sizeof(lines[0].chip), "%s", chip);
	lines[0].offset = 0;
	lines[0].dir = MOB_GPIO_INPUT;
	snprintf(lines[1].name, sizeof(lines[1].name), "out");
	snprintf(lines[1].chip, sizeof(lines[1].chip), "%s", chip);
	lines[1].offset = 1;
	lines[1].dir = MOB_GPIO_OUTPUT;
	lines[1].safe = 0;
	cfg.lines = lines;
	cfg.nlines = 2;
	cr_assert_eq(mob_gpio_open(&cfg, "mobius-test", on_ev, &d, &d.g), 0);
	/* Pull the input up from the simulator's side: an edge. */
	snprintf(p, sizeof(p), "/sys/devices/platform/%s/%s/sim_gpio0/pull", dev, chip);
	cr_assert_eq(put(p, "pull-up"), 0);
	drv_pump(&d, 100);
	cr_expect_eq(d.nev, 1);
	cr_expect_eq(d.ev[0].value, 1);
	cr_assert_eq(mob_gpio_set(d.g, 1, 1), 0);
	snprintf(p, sizeof(p), "/sys/devices/platform/%s/%s/sim_gpio1/value", dev, chip);
	cr_assert_eq(get_str(p, v, sizeof(v)), 0);
	cr_expect_str_eq(v, "1");
	/* --list shows the chip, and the lines as ours */
	cr_expect_eq(gpio_list(NULL, lout, sizeof(lout)), 0, "%s", lout);
	cr_expect_not_null(strstr(lout, chip), "%s in %s", chip, lout);
	cr_expect_not_null(strstr(lout, "used   mobius-test"), "%s", lout);
	mob_gpio_close(d.g);

	snprintf(p, sizeof(p), "%s/live", top);
	put(p, "0");
	snprintf(p, sizeof(p), "%s/bank0", top);
	rmdir(p);
	rmdir(top);
}

/* --- mobius-gpio end to end, through the real hub ---------------------------- */

#define GPIO_ID	"0030/030"

static const char gpio_cfg[] =
    "{\"name\":\"gpio-test\",\"gpio\":{\"backend\":\"sim\",\"sim\":{\"chips\":["
    "{\"name\":\"sim0\",\"lines\":8,\"line_names\":[\"BTN\",\"DOOR\",\"RELAY\",\"LED\"]}]}},"
    "\"objects\":[{\"pid\":\"0301\",\"ins\":\"0001\",\"resources\":["
    "{\"rid\":\"40\",\"name\":\"button\",\"type\":\"bool\",\"gpio\":{\"line\":\"BTN\","
    "\"direction\":\"input\",\"bias\":\"pull_up\",\"active_low\":true,\"debounce_ms\":40}},"
    "{\"rid\":\"41\",\"name\":\"door\",\"type\":\"bool\",\"gpio\":{\"chip\":\"sim0\","
    "\"offset\":1,\"direction\":\"input\"}},"
    "{\"rid\":\"42\",\"name\":\"relay\",\"type\":\"bool\",\"access\":\"rw\",\"gpio\":{"
    "\"line\":\"RELAY\",\"direction\":\"output\",\"safe\":false}},"
    "{\"rid\":\"43\",\"name\":\"led\",\"type\":\"bool\",\"access\":\"rw\",\"gpio\":{"
    "\"chip\":\"sim0\",\"offset\":3,\"direction\":\"output\",\"active_low\":true,"
    "\"initial\":true,\"safe\":false}}]}]}\n";

static void
start_gpio(struct hw *h, char *simdir, size_t len)
{
	char cfg[400];
	char *args[] = { "--config", cfg, "--sim-dir", simdir, "--no-sandbox", NULL };
	FILE *f;

	hw_node(h, GPIO_ID);
	snprintf(cfg, sizeof(cfg), "%s/gpio.json", h->node.dir);
	snprintf(simdir, len, "%s/sim", h->node.dir);
	cr_assert_not_null(f = fopen(cfg, "w"));
	fputs(gpio_cfg, f);
	fclose(f);
	hw_client(h);
	cr_assert_eq(hw_start(h, "bin/mobius-gpio", args, " lines on "), 0);
}

/* COVs of rid received so far, and the last one. */
static size_t
covs(const struct hw *h, const char *rid, const struct hw_cov **last)
{
	size_t i, n = 0;

	for (i = 0; i < h->ncov; i++)
		if (strcmp(h->cov[i].rid, rid) == 0) {
			n++;
			*last = &h->cov[i];
		}
	return n;
}

/*
 * Sixteen simulated chips, each with a FIFO and a pattern timer: 33
 * descriptors, more than the service runtime's old fixed poll set (32).
 * The daemon sizes its poll set from what the driver has, starts, and
 * sees an edge on the last chip.
 */
Test(gpio, sixteen_simulated_chips_are_all_polled)
{
	char cfg[400], simdir[400];
	char *args[] = { "--config", cfg, "--sim-dir", simdir, "--no-sandbox", NULL };
	struct hw h;
	FILE *f;
	int i;

	hw_node(&h, GPIO_ID);
	snprintf(cfg, sizeof(cfg), "%s/gpio.json", h.node.dir);
	snprintf(simdir, sizeof(simdir), "%s/sim", h.node.dir);
	cr_assert_not_null(f = fopen(cfg, "w"));
	fputs("{\"gpio\":{\"backend\":\"sim\",\"sim\":{\"chips\":[", f);
	for (i = 0; i < 16; i++)
		fprintf(f, "%s{\"name\":\"c%d\",\"lines\":1,\"pattern_ms\":3600000}",
		    i ? "," : "", i);
	fputs("]}},\"objects\":[{\"pid\":\"0301\",\"ins\":\"0001\",\"resources\":[", f);
	for (i = 0; i < 16; i++)
		fprintf(f, "%s{\"rid\":\"%X\",\"name\":\"in%d\",\"type\":\"bool\","
		    "\"gpio\":{\"chip\":\"c%d\",\"offset\":0,\"direction\":\"input\"}}",
		    i ? "," : "", 0x40 + i, i, i);
	fputs("]}]}\n", f);
	fclose(f);
	hw_client(&h);
	cr_assert_eq(hw_start(&h, "bin/mobius-gpio", args, " lines on "), 0,
	    "mobius-gpio did not start with 16 chips");
	cr_assert_eq(hw_wait_value(&h, "0301/0001/4F", "false", 1, 5000), 0);
	drive(simdir, "c15", "0 1\n");
	cr_assert_eq(hw_wait_value(&h, "0301/0001/4F", "true", 1, 5000), 0);
	hw_stop(&h);
}

Test(gpio, service_publishes_edges_as_cov_with_debounce)
{
	const struct hw_cov *last = NULL;
	char sim[300];
	struct hw h;
	size_t before, n;

	start_gpio(&h, sim, sizeof(sim));
	cr_assert_eq(hw_wait_value(&h, "0301/0001/41", "false", 1, 5000), 0);
	hw_pump(&h, 200);

	before = covs(&h, "41", &last);
	drive(sim, "sim0", "1 1\n");
	for (int i = 0; i < 100 && covs(&h, "41", &last) == before; i++)
		hw_pump(&h, 20);
	cr_assert_eq(covs(&h, "41", &last), before + 1, "door edge → one COV");
	cr_expect(last->b && last->online);

	/* The button bounces on press: one COV, pressed (active-low). */
	before = covs(&h, "40", &last);
	drive(sim, "sim0", "BTN 0\nBTN 1\nBTN 0\nBTN 1\nBTN 0\n");
	hw_pump(&h, 300);
	n = covs(&h, "40", &last);
	cr_assert_eq(n, before + 1, "bounces → one COV, got %zu", n - before);
	cr_expect(last->b, "pressed");
	cr_expect_eq(hw_wait_value(&h, "0301/0001/40", "true", 1, 1000), 0);
	hw_stop(&h);
}

Test(gpio, service_drives_outputs_and_restores_the_safe_state_on_sigterm)
{
	char sim[300];
	struct hw h;

	start_gpio(&h, sim, sizeof(sim));
	cr_expect_eq(level(sim, "sim0", 2), 0, "relay starts off");
	cr_expect_eq(level(sim, "sim0", 3), 0, "led starts on (active-low: low)");
	cr_expect_eq(hw_wait_value(&h, "0301/0001/43", "true", 1, 5000), 0);

	cr_assert_eq(hw_req(&h, "write", "0301/0001/42", "true", 8, NULL), 0);
	cr_expect_eq(level(sim, "sim0", 2), 1, "relay on");
	cr_assert_eq(hw_req(&h, "write", "0301/0001/43", "false", 0, NULL), 0);
	cr_expect_eq(level(sim, "sim0", 3), 1, "led off (active-low: high)");
	/* A lower priority does not override priority 8. */
	cr_assert_eq(hw_req(&h, "write", "0301/0001/42", "false", 16, NULL), 0);
	cr_expect_eq(level(sim, "sim0", 2), 1, "priority 8 still wins");
	cr_assert_eq(hw_req(&h, "clear", "0301/0001/42", NULL, 8, NULL), 0);
	cr_expect_eq(level(sim, "sim0", 2), 0, "priority 16 after the clear");
	cr_expect_eq(hw_req(&h, "write", "0301/0001/41", "true", 0, NULL), MOB_EREADONLY);

	cr_assert_eq(hw_req(&h, "write", "0301/0001/42", "true", 8, NULL), 0);
	cr_assert_eq(hw_req(&h, "write", "0301/0001/43", "true", 8, NULL), 0);
	cr_expect_eq(level(sim, "sim0", 2), 1);
	cr_expect_eq(level(sim, "sim0", 3), 0);
	cr_assert(WIFEXITED(th_stop(&h.svc, SIGTERM, 5000)));
	cr_expect_eq(level(sim, "sim0", 2), 0, "relay safe off");
	cr_expect_eq(level(sim, "sim0", 3), 1, "led safe off (active-low: high)");
	hw_stop(&h);
}

/* Like gpioinfo, for the simulated chip a running service uses. */
Test(gpio, list_shows_the_simulated_chips_lines_and_who_uses_them)
{
	char sim[300], out[8192];
	struct hw h;

	start_gpio(&h, sim, sizeof(sim));
	cr_assert_eq(hw_wait_value(&h, "0301/0001/41", "false", 1, 5000), 0);
	cr_assert_eq(gpio_list(sim, out, sizeof(out)), 0, "%s", out);
	cr_expect_not_null(strstr(out, "sim0 [simulated, "), "%s", out);
	cr_expect_not_null(strstr(out, "8 lines"), "%s", out);
	cr_expect(strstr(out, "0  BTN") != NULL && strstr(out,
	    "input  used   mobius-gpio") != NULL, "%s", out);
	cr_expect_not_null(strstr(out, "RELAY            output used   "
	    "mobius-gpio"), "%s", out);
	cr_expect_not_null(strstr(out, "  4  -                input  unused"),
	    "%s", out);
	/* the kernel's chips are listed (or said to be none) first */
	cr_expect(strstr(out, "no kernel GPIO chips") != NULL ||
	    strstr(out, "gpiochip") != NULL, "%s", out);
	hw_stop(&h);
	cr_assert_eq(gpio_list(h.node.dir, out, sizeof(out)), 0, "%s", out);
	cr_expect_not_null(strstr(out, "no simulated chips in"), "%s", out);
}

Test(gpio, service_does_its_job_inside_its_sandbox)
{
	const struct hw_cov *last = NULL;
	char cfg[400], sim[300];
	char *args[] = { "--config", cfg, "--sim-dir", sim, NULL };
	char *env[] = { "MOBIUS_SANDBOX_USER=nobody", NULL };
	struct passwd *pw;
	const char *why;
	struct hw h;
	size_t before;
	FILE *f;

	if ((why = hw_no_sandbox_reason()) != NULL)
		cr_skip_test("%s", why);
	hw_node(&h, GPIO_ID);
	snprintf(cfg, sizeof(cfg), "%s/gpio.json", h.node.dir);
	cr_assert_not_null(f = fopen(cfg, "w"));
	fputs(gpio_cfg, f);
	fclose(f);
	/* The state file is rewritten after the drop to "nobody": a directory
	 * of its own (the node's is root's, 0700). */
	th_tmpdir(sim, sizeof(sim));
	cr_assert_not_null(pw = getpwnam("nobody"));
	cr_assert_eq(chown(sim, pw->pw_uid, pw->pw_gid), 0);
	hw_client(&h);
	cr_assert_eq(hw_start_env(&h, "bin/mobius-gpio", args, env, " lines on "), 0);
	cr_assert_eq(th_count_log(h.log, "DISABLED"), 0, "confined");
	cr_assert_eq(hw_wait_value(&h, "0301/0001/41", "false", 1, 5000), 0);
	before = covs(&h, "41", &last);
	drive(sim, "sim0", "DOOR 1\n");
	for (int i = 0; i < 100 && covs(&h, "41", &last) == before; i++)
		hw_pump(&h, 20);
	cr_expect_eq(covs(&h, "41", &last), before + 1);
	cr_assert_eq(hw_req(&h, "write", "0301/0001/42", "true", 0, NULL), 0);
	cr_expect_eq(level(sim, "sim0", 2), 1, "relay on");
	cr_assert(WIFEXITED(th_stop(&h.svc, SIGTERM, 5000)));
	cr_expect_eq(level(sim, "sim0", 2), 0, "relay safe off");
	hw_stop(&h);
	th_rmtree(sim);
}

/*
 * Started as root, mobius-gpio reads neither the hub nor its chips' FIFOs
 * before its seccomp filter is in: the ordering probe (harness.h) over
 * strace's record of the real daemon, a FIFO command and a write served.
 */
Test(gpio, started_as_root_it_reads_no_peer_byte_before_it_is_confined)
{
	char cfg[400], sim[300], trace[400], why[400];
	char *args[] = { "--config", cfg, "--sim-dir", sim, NULL };
	/* LeakSanitizer cannot run under ptrace (a SAN build) */
	char *env[] = { "MOBIUS_SANDBOX_USER=nobody", "ASAN_OPTIONS=detect_leaks=0", NULL };
	struct passwd *pw;
	const char *why_skip;
	struct hw h;
	FILE *f;

	if ((why_skip = hw_no_sandbox_reason()) != NULL ||
	    (why_skip = th_strace_missing()) != NULL)
		cr_skip_test("%s", why_skip);
	hw_node(&h, GPIO_ID);
	snprintf(cfg, sizeof(cfg), "%s/gpio.json", h.node.dir);
	cr_assert_not_null(f = fopen(cfg, "w"));
	fputs(gpio_cfg, f);
	fclose(f);
	th_tmpdir(sim, sizeof(sim));
	cr_assert_not_null(pw = getpwnam("nobody"));
	cr_assert_eq(chown(sim, pw->pw_uid, pw->pw_gid), 0);
	cr_assert_eq(hw_start_traced(&h, "bin/mobius-gpio", args, env,
	    " lines on ", trace, sizeof(trace)), 0);
	cr_assert_eq(th_count_log(h.log, "DISABLED"), 0, "confined");
	hw_client(&h);
	drive(sim, "sim0", "DOOR 1\n");
	cr_assert_eq(hw_wait_value(&h, "0301/0001/41", "true", 1, 5000), 0);
	cr_assert_eq(kill(th_trace_pid(trace), SIGTERM), 0);
	cr_assert(WIFEXITED(th_stop(&h.svc, SIGTERM, 5000)));
	cr_assert_gt(th_trace_confined_first(trace, h.node.sock, why,
	    sizeof(why)), 0, "%s", why);
	hw_stop(&h);
	th_rmtree(sim);
}

/* --- config errors ----------------------------------------------------------- */

#define GHEAD	"{\"gpio\":{\"backend\":\"sim\",\"sim\":{\"chips\":[{\"name\":\"s\",\"lines\":4,\"line_names\":[\"A\"]}]}},"
#define GOBJ(res)	"\"objects\":[{\"pid\":\"0301\",\"ins\":\"0001\",\"resources\":[" res "]}]}"
#define GRES(rid, extra, g)	"{\"rid\":\"" rid "\",\"name\":\"r" rid "\",\"type\":\"bool\"" extra ",\"gpio\":{" g "}}"

static const struct {
	const char *json;
	const char *msg;
} bad_gpio[] = {
	{ GHEAD GOBJ(GRES("40", "", "\"chip\":\"s\",\"direction\":\"input\"")),
	  "objects[0].resources[0].gpio: needs exactly one of \"offset\" or \"line\"" },
	{ GHEAD GOBJ(GRES("40", "", "\"offset\":1,\"direction\":\"input\"")),
	  "objects[0].resources[0].gpio: \"offset\" needs \"chip\"" },
	{ GHEAD GOBJ(GRES("40", "", "\"chip\":\"s\",\"offset\":4,\"direction\":\"input\"")),
	  "objects[0].resources[0].gpio: offset 4 is past the 4 lines of sim chip \"s\"" },
	{ GHEAD GOBJ(GRES("40", "", "\"chip\":\"t\",\"offset\":0,\"direction\":\"input\"")),
	  "objects[0].resources[0].gpio: no sim chip \"t\"" },
	{ GHEAD GOBJ(GRES("40", "", "\"line\":\"B\",\"direction\":\"input\"")),
	  "objects[0].resources[0].gpio: no sim line named \"B\"" },
	{ GHEAD GOBJ(GRES("40", "", "\"line\":\"A\",\"direction\":\"input\"") ","
	    GRES("41", "", "\"line\":\"A\",\"direction\":\"input\"")),
	  "objects[0].resources[1].gpio: the line is already resource \"r40\"" },
	{ GHEAD GOBJ(GRES("40", "", "\"line\":\"A\",\"direction\":\"sideways\"")),
	  "objects[0].resources[0].gpio.direction: must be \"input\" or \"output\"" },
	{ GHEAD GOBJ(GRES("40", "", "\"line\":\"A\",\"direction\":\"input\",\"safe\":true")),
	  "objects[0].resources[0].gpio.safe: only for outputs" },
	{ GHEAD GOBJ(GRES("40", ",\"access\":\"rw\"", "\"line\":\"A\",\"direction\":\"output\",\"debounce_ms\":5")),
	  "objects[0].resources[0].gpio.debounce_ms: only for inputs" },
	{ GHEAD GOBJ(GRES("40", ",\"access\":\"rw\"", "\"line\":\"A\",\"direction\":\"input\"")),
	  "objects[0].resources[0].access: an input is read-only (\"r\")" },
	{ GHEAD GOBJ(GRES("40", "", "\"line\":\"A\",\"direction\":\"output\"")),
	  "objects[0].resources[0]: an output is \"rw\"" },
	{ GHEAD GOBJ("{\"rid\":\"40\",\"name\":\"n\",\"type\":\"number\",\"gpio\":{\"line\":\"A\",\"direction\":\"input\"}}"),
	  "objects[0].resources[0].type: a GPIO line is a bool" },
	{ GHEAD GOBJ(GRES("40", "", "\"line\":\"A\",\"direction\":\"input\",\"bias\":\"pull_sideways\"")),
	  "objects[0].resources[0].gpio.bias: must be \"as_is\", \"disable\", \"pull_up\" or \"pull_down\"" },
	{ GHEAD GOBJ(GRES("40", "", "\"line\":\"A\",\"direction\":\"input\",\"debounce_ms\":70000")),
	  "objects[0].resources[0].gpio.debounce_ms: must be between 0 and 60000" },
	{ "{\"gpio\":{\"backend\":\"sim\"}," GOBJ(""),
	  "gpio: backend \"sim\" needs a \"sim\" member" },
	{ "{\"gpio\":{\"backend\":\"sim\",\"sim\":{\"chips\":[{\"name\":\"a/b\"}]}}," GOBJ(""),
	  "gpio.sim.chips[0]: name \"a/b\" must be a plain file name" },
	{ "{\"gpio\":{\"backend\":\"sim\",\"sim\":{\"chips\":[{\"name\":\"a\"},{\"name\":\"a\"}]}}," GOBJ(""),
	  "gpio.sim.chips[1]: chip \"a\" is defined twice" },
	{ "{\"gpio\":{\"backend\":\"gpio\"}," GOBJ(""),
	  "gpio.backend: must be \"gpiod\" or \"sim\"" },
	{ "{" GOBJ(""),
	  "gpio: required" },
};

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

Test(gpio, misconfigured_lines_are_rejected_with_the_path)
{
	char dir[256], key[400], cfg[300], cmd[2000], bin[300], out[2048], want[1024];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	size_t i;
	FILE *f;
	int rc;

	offline_key(dir, sizeof(dir), key, sizeof(key), GPIO_ID);
	th_path("bin/mobius-gpio", bin, sizeof(bin));
	snprintf(cfg, sizeof(cfg), "%s/c.json", dir);
	for (i = 0; i < sizeof(bad_gpio) / sizeof(bad_gpio[0]); i++) {
		cr_assert_not_null(f = fopen(cfg, "w"));
		fputs(bad_gpio[i].json, f);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --key '%s' --socket "
		    "'%s/none.sock' --sim-dir '%s/sim' --no-sandbox 2>&1", bin, cfg,
		    key, dir, dir);
		rc = th_run(argv, NULL, out, sizeof(out), 10000);
		snprintf(want, sizeof(want), "mobius-gpio: %s: %s\n", cfg, bad_gpio[i].msg);
		cr_expect_neq(rc, 0, "case %zu exit code", i);
		cr_expect_str_eq(out, want, "case %zu", i);
	}
	th_rmtree(dir);
}

Test(gpio, gpiod_backend_refuses_a_chip_that_does_not_exist)
{
	struct mob_gpio_line_cfg l;
	struct mob_gpio_config cfg;
	struct mob_gpio *g = NULL;
	struct drv d;

	memset(&l, 0, sizeof(l));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(l.name, sizeof(l.name), "x");
	snprintf(l.chip, sizeof(l.chip), "mobius-no-such-chip");
	l.offset = 0;
	cfg.lines = &l;
	cfg.nlines = 1;
	cr_expect_eq(mob_gpio_open(&cfg, "test", on_ev, &d, &g), MOB_ENOTFOUND);
	cr_expect_null(g);
}
