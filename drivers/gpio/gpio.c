/*
 * GPIO generic layer: back-end selection, debounce and safe state.
 *
 * Debounce: an edge (re)starts the line's quiet period; when it has been
 * quiet for debounce_ms the value is read and reported if it differs from
 * the last report.  Bounces shorter than the period are never reported; a
 * line that settles back where it was reports nothing.  One timerfd serves
 * every line, armed for the earliest deadline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "internal.h"

struct gl {
	void *h;
	const struct mob_gpio_line_cfg *cfg;
	int reported;
	int64_t deadline;	/* debounce end, monotonic ns; 0 = none */
};

struct mob_gpio {
	const struct mob_gpio_config *cfg;
	const struct gpio_ops *ops;
	void *be;
	mob_gpio_event_fn fn;
	void *arg;
	struct gl *lines;
	size_t nlines;
	int timer;
};


static void
report(struct mob_gpio *g, size_t i)
{
	struct gl *l = &g->lines[i];
	int v;

	if (g->ops->get(g->be, l->h, &v) != 0) {
		log_warnx("%s: cannot read the line", l->cfg->name);
		return;
	}
	/* "both" mirrors the level; "rising"/"falling" report each such edge. */
	if (v == l->reported && l->cfg->edge == MOB_GPIO_EDGE_BOTH)
		return;
	l->reported = v;
	g->fn(g->arg, i, v);
}

static void
arm(struct mob_gpio *g)
{
	struct itimerspec its;
	int64_t next = 0;
	size_t i;

	for (i = 0; i < g->nlines; i++)
		if (g->lines[i].deadline != 0 &&
		    (next == 0 || g->lines[i].deadline < next))
			next = g->lines[i].deadline;
	memset(&its, 0, sizeof(its));
	if (next != 0) {
		its.it_value.tv_sec = next / 1000000000;
		its.it_value.tv_nsec = next % 1000000000;
	}
	if (timerfd_settime(g->timer, TFD_TIMER_ABSTIME, &its, NULL) == -1)
		log_warn("gpio: debounce timer");
}

static void
on_edge(void *arg, void *h)
{
	struct mob_gpio *g = arg;
	size_t i;

	for (i = 0; i < g->nlines; i++)
		if (g->lines[i].h == h)
			break;
	if (i == g->nlines)
		return;
	if (g->lines[i].cfg->debounce_ms == 0) {
		report(g, i);
		return;
	}
	g->lines[i].deadline = mob_clock_mono_ns() +
	    (int64_t)g->lines[i].cfg->debounce_ms * 1000000;
	arm(g);
}

static void
on_timer(struct mob_gpio *g)
{
	int64_t now = mob_clock_mono_ns();
	uint64_t n;
	size_t i;

	if (read(g->timer, &n, sizeof(n)) != sizeof(n) && errno != EAGAIN)
		log_warn("gpio: debounce timer read");
	for (i = 0; i < g->nlines; i++)
		if (g->lines[i].deadline != 0 && g->lines[i].deadline <= now) {
			g->lines[i].deadline = 0;
			report(g, i);
		}
	arm(g);
}

int
mob_gpio_open(const struct mob_gpio_config *cfg, const char *consumer,
    mob_gpio_event_fn fn, void *arg, struct mob_gpio **out)
{
	struct mob_gpio *g;
	struct gl *l;
	size_t i;
	int r = MOB_ENOMEM;

	*out = NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return MOB_ENOMEM;
	g->cfg = cfg;
	g->ops = cfg->sim ? &gpio_ops_sim : &gpio_ops_gpiod;
	g->fn = fn;
	g->arg = arg;
	g->timer = -1;
	if (cfg->nlines > 0 &&
	    (g->lines = calloc(cfg->nlines, sizeof(*g->lines))) == NULL)
		goto out;
	if ((g->timer = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) == -1) {
		r = MOB_ESYS;
		goto out;
	}
	if ((r = g->ops->init(cfg, on_edge, g, &g->be)) != 0)
		goto out;
	for (i = 0; i < cfg->nlines; i++) {
		l = &g->lines[i];
		l->cfg = &cfg->lines[i];
		if ((r = g->ops->request(g->be, l->cfg, consumer, &l->h)) != 0)
			goto out;
		g->nlines++;
		l->reported = -1;
		if (l->cfg->dir == MOB_GPIO_INPUT &&
		    (r = g->ops->get(g->be, l->h, &l->reported)) != 0)
			goto out;
	}
	*out = g;
	g = NULL;
	r = 0;
 out:
	mob_gpio_close(g);
	return r;
}

void
mob_gpio_close(struct mob_gpio *g)
{
	const struct mob_gpio_line_cfg *c;
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < g->nlines; i++) {
		c = g->lines[i].cfg;
		if (c->dir == MOB_GPIO_OUTPUT && c->safe >= 0 &&
		    g->ops->set(g->be, g->lines[i].h, c->safe) != 0)
			log_warnx("%s: cannot restore the safe state", c->name);
		g->ops->release(g->be, g->lines[i].h);
	}
	if (g->be != NULL)
		g->ops->fini(g->be);
	if (g->timer != -1)
		close(g->timer);
	free(g->lines);
	free(g);
}

size_t
mob_gpio_fds(const struct mob_gpio *g, int *fds, size_t max)
{
	if (max > 0)
		fds[0] = g->timer;
	return 1 + g->ops->fds(g->be, max > 0 ? fds + 1 : NULL,
	    max > 0 ? max - 1 : 0);
}

void
mob_gpio_dispatch(struct mob_gpio *g, int fd)
{
	if (fd == g->timer)
		on_timer(g);
	else
		g->ops->dispatch(g->be, fd);
}

int
mob_gpio_get(struct mob_gpio *g, size_t i, int *value)
{
	if (i >= g->nlines)
		return MOB_ENOTFOUND;
	return g->ops->get(g->be, g->lines[i].h, value);
}

int
mob_gpio_set(struct mob_gpio *g, size_t i, int value)
{
	if (i >= g->nlines)
		return MOB_ENOTFOUND;
	if (g->lines[i].cfg->dir != MOB_GPIO_OUTPUT)
		return MOB_EREADONLY;
	return g->ops->set(g->be, g->lines[i].h, value != 0);
}

int
mob_gpio_reported(const struct mob_gpio *g, size_t i)
{
	return i < g->nlines ? g->lines[i].reported : -1;
}

int
mob_gpio_list(FILE *fp, const char *sim_dir)
{
	int r = mob_gpio_list_kernel(fp);

	if (sim_dir != NULL)
		mob_gpio_list_sim(fp, sim_dir);
	return r;
}
