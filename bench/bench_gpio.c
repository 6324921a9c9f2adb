/*
 * GPIO edge → COV latency on a simulated chip: an edge is a write to the
 * chip's FIFO; it ends when the COV reaches a client subscribed through
 * the real hub (mobius-gpio → sign → hub verifies → client verifies).
 * Baseline in the same run: the same edge through the driver alone, FIFO
 * write to the driver's callback in this process.  Figures: p50 and p99.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../drivers/gpio/gpiodrv.h"
#include "../tests/hw_support.h"

#define N_DRV	2000
#define N_SVC	500

static int got;
static int64_t got_ns;

static void
on_line(void *arg, size_t line, int value)
{
	(void)arg;
	(void)line;
	(void)value;
	got_ns = mob_clock_mono_ns();
	got++;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
pct(const char *what, int64_t *v, int n, double *p50)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	*p50 = v[n / 2] / 1e3;
	printf("  %-34s p50 %8.1f us  p99 %8.1f us  (%d edges)\n", what,
	    v[n / 2] / 1e3, v[n * 99 / 100] / 1e3, n);
}

static int
fifo(const char *dir, const char *chip)
{
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.in", dir, chip);
	if ((fd = open(path, O_WRONLY | O_NONBLOCK)) == -1) {
		perror(path);
		exit(1);
	}
	return fd;
}

static void
edge(int fd, int i)
{
	char cmd[16];
	int len = snprintf(cmd, sizeof(cmd), "0 %d\n", (i + 1) % 2);

	if (write(fd, cmd, (size_t)len) != len) {
		perror("fifo write");
		exit(1);
	}
}

static double
driver(void)
{
	static int64_t lat[N_DRV];
	struct mob_gpio_sim_chip chip;
	struct mob_gpio_line_cfg l;
	struct mob_gpio_config cfg;
	struct mob_gpio *g;
	struct pollfd pfd[8];
	int fds[8], fd, i;
	size_t n, k;
	char dir[180];
	double p50;
	int64_t t0;

	th_tmpdir(dir, sizeof(dir));
	memset(&chip, 0, sizeof(chip));
	memset(&l, 0, sizeof(l));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(chip.name, sizeof(chip.name), "bench");
	chip.nlines = 1;
	snprintf(l.name, sizeof(l.name), "in");
	snprintf(l.chip, sizeof(l.chip), "bench");
	l.dir = MOB_GPIO_INPUT;
	cfg.sim = 1;
	snprintf(cfg.sim_dir, sizeof(cfg.sim_dir), "%s", dir);
	cfg.chips = &chip;
	cfg.nchips = 1;
	cfg.lines = &l;
	cfg.nlines = 1;
	if (mob_gpio_open(&cfg, "bench", on_line, NULL, &g) != 0)
		exit(1);
	n = mob_gpio_fds(g, fds, 8);
	for (k = 0; k < n; k++) {
		pfd[k].fd = fds[k];
		pfd[k].events = POLLIN;
	}
	fd = fifo(dir, "bench");
	for (i = 0; i < N_DRV; i++) {
		int before = got;

		t0 = mob_clock_mono_ns();
		edge(fd, i);
		while (got == before) {
			if (poll(pfd, n, 1000) <= 0)
				exit(1);
			for (k = 0; k < n; k++)
				if (pfd[k].revents & POLLIN)
					mob_gpio_dispatch(g, pfd[k].fd);
		}
		lat[i] = got_ns - t0;
	}
	close(fd);
	mob_gpio_close(g);
	th_rmtree(dir);
	pct("driver (FIFO → callback)", lat, N_DRV, &p50);
	return p50;
}

static double
service(void)
{
	static int64_t lat[N_SVC];
	static const char cfgtext[] =
	    "{\"gpio\":{\"backend\":\"sim\",\"sim\":{\"chips\":[{\"name\":\"bench\","
	    "\"lines\":1}]}},\"objects\":[{\"pid\":\"0301\",\"ins\":\"0001\","
	    "\"resources\":[{\"rid\":\"40\",\"name\":\"in\",\"type\":\"bool\","
	    "\"gpio\":{\"chip\":\"bench\",\"offset\":0,\"direction\":\"input\"}}]}]}\n";
	char cfg[300], sim[300];
	char *args[] = { "--config", cfg, "--sim-dir", sim, "--no-sandbox", NULL };
	struct hw h;
	double p50;
	size_t before;
	int64_t t0;
	FILE *f;
	int fd, i;

	hw_node(&h, "0030/030");
	snprintf(cfg, sizeof(cfg), "%s/gpio.json", h.node.dir);
	snprintf(sim, sizeof(sim), "%s/sim", h.node.dir);
	if ((f = fopen(cfg, "w")) == NULL)
		exit(1);
	fputs(cfgtext, f);
	fclose(f);
	hw_client(&h);
	if (hw_start(&h, "bin/mobius-gpio", args, " lines on ") != 0)
		exit(1);
	hw_pump(&h, 300);
	fd = fifo(sim, "bench");
	for (i = 0; i < N_SVC; i++) {
		before = h.ncov;
		t0 = mob_clock_mono_ns();
		edge(fd, i);
		while (h.ncov == before)
			mob_client_loop(h.cli, 1000);
		lat[i] = h.cov[h.ncov - 1].at_ns - t0;
		if (h.ncov > HW_COV_MAX - 8)
			h.ncov = 0;
	}
	close(fd);
	hw_stop(&h);
	pct("mobius-gpio → hub → client COV", lat, N_SVC, &p50);
	return p50;
}

int
main(void)
{
	double d, s;

	printf("gpio edge → COV latency, simulated chip:\n");
	d = driver();
	s = service();
	printf("  end to end / driver alone (p50): %.1fx\n", s / d);
	return 0;
}
