/*
 * GPIO back-end over libgpiod v1.6 (the kernel's GPIO character device).
 * Each line keeps its own chip handle, so lines found by name on any chip
 * (gpiod_line_find) and lines by chip and offset are handled alike.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpiod.h>

#include "mobius/err.h"
#include "mobius/log.h"
#include "internal.h"

struct gline {
	struct gpiod_line *line;
	int fd;			/* event fd, -1 for outputs and edge "none" */
	struct gline *next;
};

struct gbe {
	gpio_edge_fn edge;
	void *arg;
	struct gline *lines;
};

static int
gd_init(const struct mob_gpio_config *cfg, gpio_edge_fn edge, void *arg, void **out)
{
	struct gbe *b;

	(void)cfg;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return MOB_ENOMEM;
	b->edge = edge;
	b->arg = arg;
	*out = b;
	return 0;
}

static void
gd_fini(void *be)
{
	free(be);
}

static int
sys_err(void)
{
	return errno == ENOENT || errno == ENODEV || errno == EINVAL ?
	    MOB_ENOTFOUND : errno == EACCES || errno == EPERM ? MOB_EDENIED :
	    errno == EBUSY ? MOB_EEXIST : MOB_ESYS;
}

static struct gpiod_line *
find(const struct mob_gpio_line_cfg *l)
{
	struct gpiod_chip *chip = NULL;
	struct gpiod_line *line = NULL;

	if (l->chip[0] == '\0')
		return gpiod_line_find(l->line);
	if ((chip = gpiod_chip_open_lookup(l->chip)) == NULL)
		return NULL;
	line = l->offset >= 0 ? gpiod_chip_get_line(chip, (unsigned)l->offset) :
	    gpiod_chip_find_line(chip, l->line);
	if (line == NULL)
		gpiod_chip_close(chip);
	return line;
}

static int
gd_request(void *be, const struct mob_gpio_line_cfg *l, const char *consumer,
    void **out)
{
	static const int edges[] = { GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES,
	    GPIOD_LINE_REQUEST_EVENT_RISING_EDGE,
	    GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE,
	    GPIOD_LINE_REQUEST_DIRECTION_INPUT };
	static const int bias[] = { 0, GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE,
	    GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP,
	    GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN };
	struct gpiod_line_request_config rc;
	struct gbe *b = be;
	struct gline *g;
	int r;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return MOB_ENOMEM;
	g->fd = -1;
	errno = ENOENT;
	if ((g->line = find(l)) == NULL) {
		r = sys_err();
		if (l->offset >= 0)
			log_warn("%s: line %s/%d", l->name, l->chip, l->offset);
		else
			log_warn("%s: line \"%s\"%s%s", l->name, l->line,
			    l->chip[0] ? " on " : "", l->chip);
		free(g);
		return r;
	}
	memset(&rc, 0, sizeof(rc));
	rc.consumer = consumer;
	rc.request_type = l->dir == MOB_GPIO_OUTPUT ?
	    GPIOD_LINE_REQUEST_DIRECTION_OUTPUT : edges[l->edge];
	rc.flags = bias[l->bias] |
	    (l->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0);
	if (gpiod_line_request(g->line, &rc, l->initial) == -1) {
		r = sys_err();
		log_warn("%s: request", l->name);
		gpiod_line_close_chip(g->line);
		free(g);
		return r;
	}
	if (l->dir == MOB_GPIO_INPUT && l->edge != MOB_GPIO_EDGE_NONE)
		g->fd = gpiod_line_event_get_fd(g->line);
	g->next = b->lines;
	b->lines = g;
	*out = g;
	return 0;
}

static void
gd_release(void *be, void *line)
{
	struct gbe *b = be;
	struct gline **pp, *g = line;

	for (pp = &b->lines; *pp != NULL; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	gpiod_line_release(g->line);
	gpiod_line_close_chip(g->line);
	free(g);
}

static int
gd_get(void *be, void *line, int *value)
{
	struct gline *g = line;
	int v;

	(void)be;
	if ((v = gpiod_line_get_value(g->line)) == -1)
		return MOB_ESYS;
	*value = v;
	return 0;
}

static int
gd_set(void *be, void *line, int value)
{
	struct gline *g = line;

	(void)be;
	return gpiod_line_set_value(g->line, value) == -1 ? MOB_ESYS : 0;
}

static size_t
gd_fds(void *be, int *fds, size_t max)
{
	struct gbe *b = be;
	struct gline *g;
	size_t n = 0;

	for (g = b->lines; g != NULL; g = g->next)
		if (g->fd != -1 && n++ < max)
			fds[n - 1] = g->fd;
	return n;
}

static void
gd_dispatch(void *be, int fd)
{
	struct gbe *b = be;
	struct gpiod_line_event ev;
	struct gline *g;

	for (g = b->lines; g != NULL; g = g->next)
		if (g->fd == fd)
			break;
	if (g == NULL)
		return;
	/* The value is read after debounce; the event only says "moved". */
	if (gpiod_line_event_read(g->line, &ev) == -1) {
		log_warn("gpio event read");
		return;
	}
	b->edge(b->arg, g);
}

const struct gpio_ops gpio_ops_gpiod = {
	.name = "gpiod",
	.init = gd_init,
	.fini = gd_fini,
	.request = gd_request,
	.release = gd_release,
	.get = gd_get,
	.set = gd_set,
	.fds = gd_fds,
	.dispatch = gd_dispatch,
};

/* One kernel chip as gpioinfo shows it: each line, its consumer, in use. */
static void
gd_list_chip(FILE *fp, struct gpiod_chip *chip)
{
	struct gpiod_line *line;
	const char *name, *consumer;
	unsigned int i, n = gpiod_chip_num_lines(chip);

	fprintf(fp, "%s [%s] %u lines\n", gpiod_chip_name(chip),
	    gpiod_chip_label(chip), n);
	for (i = 0; i < n; i++) {
		if ((line = gpiod_chip_get_line(chip, i)) == NULL) {
			fprintf(fp, "  %3u  ?  (%s)\n", i, strerror(errno));
			continue;
		}
		name = gpiod_line_name(line);
		consumer = gpiod_line_consumer(line);
		fprintf(fp, "  %3u  %-16s %-6s %-6s %s\n", i,
		    name != NULL ? name : "-",
		    gpiod_line_direction(line) == GPIOD_LINE_DIRECTION_OUTPUT ?
		    "output" : "input", gpiod_line_is_used(line) ? "used" :
		    "unused", consumer != NULL ? consumer : "-");
	}
}

int
mob_gpio_list_kernel(FILE *fp)
{
	struct gpiod_chip_iter *it;
	struct gpiod_chip *chip;
	glob_t g;
	int n;

	/* libgpiod opens every /dev/gpiochip*: none is not an error here */
	n = glob("/dev/gpiochip*", 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
	globfree(&g);
	if (n == 0) {
		fprintf(fp, "no kernel GPIO chips (/dev/gpiochip*): this "
		    "kernel or container has none\n");
		return 0;
	}
	if ((it = gpiod_chip_iter_new()) == NULL) {
		fprintf(fp, "cannot open the GPIO chips in /dev: %s%s\n",
		    strerror(errno), errno == EACCES ? " (run it as the "
		    "service's user, or as root)" : "");
		return sys_err();
	}
	gpiod_foreach_chip(it, chip)
		gd_list_chip(fp, chip);
	gpiod_chip_iter_free(it);
	return 0;
}
