/*
 * Simulated GPIO chips (see gpiodrv.h for the FIFO and state file).
 *
 * A pin has a physical level.  An input that nothing drives floats to its
 * bias (pull-up → 1, otherwise 0); the FIFO drives it; an output's level is
 * what the service set, inverted when active-low, as on real hardware.
 * Edges are seen on the logical value, as the kernel reports them.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mobius/err.h"
#include "mobius/log.h"
#include "internal.h"

struct sline;

struct schip {
	const struct mob_gpio_sim_chip *cfg;
	int level[MOB_GPIO_SIM_LINES_MAX];
	int driven[MOB_GPIO_SIM_LINES_MAX];	/* the FIFO set this input */
	struct sline *req[MOB_GPIO_SIM_LINES_MAX];
	int fifo, timer;
	unsigned step;
	char buf[256];
	size_t len;
	char in[280], state[280];
};

struct sline {
	struct schip *chip;
	int offset;
	const struct mob_gpio_line_cfg *cfg;
};

struct sbe {
	const struct mob_gpio_config *cfg;
	gpio_edge_fn edge;
	void *arg;
	struct schip *chips;
	size_t nchips;
};

static int
logical(const struct sline *s)
{
	return s->chip->level[s->offset] ^ (s->cfg->active_low != 0);
}

/*
 * A new file beside the state file, then renamed over it: never through
 * a link planted at either name (O_EXCL, O_NOFOLLOW; rename replaces a
 * link rather than following it), and readers see the old or the new
 * file whole.  Not mob_file_write_atomic: it fsyncs the file and the
 * directory, on every pin change, for a file only observers read and
 * nobody needs back after a crash.
 */
static void
write_state(struct schip *c)
{
	char tmp[300];
	const char *dir;
	FILE *f;
	int i, fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", c->state);
	if ((unlink(tmp) == -1 && errno != ENOENT) ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644)) == -1) {
		log_warn("sim: %s", tmp);
		return;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		log_warn("sim: %s", tmp);
		close(fd);
		return;
	}
	for (i = 0; i < c->cfg->nlines; i++) {
		dir = c->req[i] == NULL ? "-" :
		    c->req[i]->cfg->dir == MOB_GPIO_OUTPUT ? "out" : "in";
		fprintf(f, "%d %s %s %d\n", i, c->cfg->line_names[i][0] ?
		    c->cfg->line_names[i] : "-", dir, c->level[i]);
	}
	if (fclose(f) != 0 || rename(tmp, c->state) == -1)
		log_warn("sim: %s", c->state);
}

static int
wants(const struct sline *s, int was, int now)
{
	switch (s->cfg->edge) {
	case MOB_GPIO_EDGE_BOTH:
		return was != now;
	case MOB_GPIO_EDGE_RISING:
		return !was && now;
	case MOB_GPIO_EDGE_FALLING:
		return was && !now;
	default:
		return 0;
	}
}

/* Set an input pin's physical level; report an edge when requested. */
static void
drive(struct sbe *b, struct schip *c, int off, int level)
{
	struct sline *s = c->req[off];
	int was;

	if (s != NULL && s->cfg->dir == MOB_GPIO_OUTPUT) {
		log_warnx("sim %s: line %d is an output; not driven",
		    c->cfg->name, off);
		return;
	}
	c->driven[off] = 1;
	if (c->level[off] == level)
		return;
	was = s != NULL ? logical(s) : 0;
	c->level[off] = level;
	/* The edge first: the state file is for observers, not on the path. */
	if (s != NULL && wants(s, was, logical(s)))
		b->edge(b->arg, s);
	write_state(c);
}

static void sim_fini(void *be);

/*
 * The directory of the FIFOs and state files: made 0700 when missing,
 * else only one of ours (or root's, or the sandbox user's) that nobody
 * else may write to: in /tmp another user could have made it first.
 */
static int
sim_dir_check(const struct mob_gpio_config *cfg)
{
	struct stat st;

	if (mkdir(cfg->sim_dir, 0700) == -1 && errno != EEXIST) {
		log_warn("sim: %s", cfg->sim_dir);
		return MOB_ESYS;
	}
	if (lstat(cfg->sim_dir, &st) == -1) {
		log_warn("sim: %s", cfg->sim_dir);
		return MOB_ESYS;
	}
	if (!S_ISDIR(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0 &&
	    st.st_uid != cfg->sim_owner) || (st.st_mode & 022) != 0) {
		log_warnx("sim: %s: not a directory of ours closed to others "
		    "(owner %u, mode %04o): refused", cfg->sim_dir,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return MOB_EDENIED;
	}
	return 0;
}

static int
sim_init(const struct mob_gpio_config *cfg, gpio_edge_fn edge, void *arg, void **out)
{
	struct itimerspec its;
	struct sbe *b;
	struct schip *c;
	size_t i;
	int r;

	if ((r = sim_dir_check(cfg)) != 0)
		return r;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return MOB_ENOMEM;
	b->cfg = cfg;
	b->edge = edge;
	b->arg = arg;
	r = MOB_ENOMEM;
	if (cfg->nchips > 0 &&
	    (b->chips = calloc(cfg->nchips, sizeof(*b->chips))) == NULL)
		goto fail;
	for (i = 0; i < cfg->nchips; i++) {
		b->chips[i].cfg = &cfg->chips[i];
		b->chips[i].fifo = b->chips[i].timer = -1;
	}
	b->nchips = cfg->nchips;
	for (i = 0; i < cfg->nchips; i++) {
		c = &b->chips[i];
		snprintf(c->in, sizeof(c->in), "%s/%s.in", cfg->sim_dir, c->cfg->name);
		snprintf(c->state, sizeof(c->state), "%s/%s.state", cfg->sim_dir,
		    c->cfg->name);
		/* O_RDWR: we hold a writer, so writers coming and going never
		 * leave the FIFO hung up. */
		if ((unlink(c->in) == -1 && errno != ENOENT) ||
		    mkfifo(c->in, 0600) == -1 || (c->fifo = open(c->in,
		    O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)) == -1) {
			log_warn("sim: %s", c->in);
			r = MOB_ESYS;
			goto fail;
		}
		if (c->cfg->pattern_ms > 0) {
			memset(&its, 0, sizeof(its));
			its.it_interval.tv_sec = c->cfg->pattern_ms / 1000;
			its.it_interval.tv_nsec = (c->cfg->pattern_ms % 1000) * 1000000L;
			its.it_value = its.it_interval;
			if ((c->timer = timerfd_create(CLOCK_MONOTONIC,
			    TFD_NONBLOCK | TFD_CLOEXEC)) == -1 ||
			    timerfd_settime(c->timer, 0, &its, NULL) == -1) {
				r = MOB_ESYS;
				goto fail;
			}
		}
		write_state(c);
	}
	*out = b;
	return 0;
 fail:
	sim_fini(b);
	return r;
}

static void
sim_fini(void *be)
{
	struct sbe *b = be;
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->nchips; i++) {
		if (b->chips[i].fifo != -1)
			close(b->chips[i].fifo);
		if (b->chips[i].timer != -1)
			close(b->chips[i].timer);
		if (b->chips[i].in[0] != '\0')
			unlink(b->chips[i].in);
	}
	free(b->chips);
	free(b);
}

static int
find_name(const struct schip *c, const char *name)
{
	int i;

	for (i = 0; i < c->cfg->nlines; i++)
		if (strcmp(c->cfg->line_names[i], name) == 0)
			return i;
	return -1;
}

static int
sim_request(void *be, const struct mob_gpio_line_cfg *l, const char *consumer,
    void **out)
{
	struct sbe *b = be;
	struct schip *c = NULL;
	struct sline *s;
	size_t i;
	int off = -1;

	(void)consumer;
	for (i = 0; i < b->nchips && off < 0; i++) {
		if (l->chip[0] != '\0' && strcmp(l->chip, b->chips[i].cfg->name) != 0)
			continue;
		c = &b->chips[i];
		off = l->offset >= 0 ? l->offset : find_name(c, l->line);
		if (l->chip[0] != '\0')
			break;
	}
	if (c == NULL || off < 0 || off >= c->cfg->nlines) {
		log_warnx("%s: no sim line %s%s%s", l->name, l->chip,
		    l->chip[0] ? "/" : "", l->offset >= 0 ? "(offset)" : l->line);
		return MOB_ENOTFOUND;
	}
	if (c->req[off] != NULL) {
		log_warnx("%s: sim line %s/%d is busy", l->name, c->cfg->name, off);
		return MOB_EEXIST;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MOB_ENOMEM;
	s->chip = c;
	s->offset = off;
	s->cfg = l;
	c->req[off] = s;
	if (l->dir == MOB_GPIO_OUTPUT)
		c->level[off] = (l->initial != 0) ^ (l->active_low != 0);
	else if (!c->driven[off])
		c->level[off] = l->bias == MOB_GPIO_BIAS_PULL_UP;
	write_state(c);
	*out = s;
	return 0;
}

static void
sim_release(void *be, void *line)
{
	struct sline *s = line;

	(void)be;
	s->chip->req[s->offset] = NULL;
	write_state(s->chip);
	free(s);
}

static int
sim_get(void *be, void *line, int *value)
{
	(void)be;
	*value = logical(line);
	return 0;
}

static int
sim_set(void *be, void *line, int value)
{
	struct sline *s = line;

	(void)be;
	s->chip->level[s->offset] = (value != 0) ^ (s->cfg->active_low != 0);
	write_state(s->chip);
	return 0;
}

static size_t
sim_fds(void *be, int *fds, size_t max)
{
	struct sbe *b = be;
	size_t i, n = 0;

	for (i = 0; i < b->nchips; i++) {
		if (n++ < max)
			fds[n - 1] = b->chips[i].fifo;
		if (b->chips[i].timer != -1 && n++ < max)
			fds[n - 1] = b->chips[i].timer;
	}
	return n;
}

/* "OFFSET LEVEL" or "NAME LEVEL"; anything else is logged and dropped. */
static void
command(struct sbe *b, struct schip *c, char *line)
{
	char what[MOB_GPIO_NAME_MAX], *end;
	int level, off;
	long l;

	if (sscanf(line, "%63s %d", what, &level) != 2 || (level != 0 && level != 1)) {
		log_warnx("sim %s: bad command \"%.40s\" (want OFFSET|NAME 0|1)",
		    c->cfg->name, line);
		return;
	}
	l = strtol(what, &end, 10);
	off = *end == '\0' ? (l >= 0 && l < c->cfg->nlines ? (int)l : -1) :
	    find_name(c, what);
	if (off < 0) {
		log_warnx("sim %s: no line \"%s\"", c->cfg->name, what);
		return;
	}
	drive(b, c, off, level);
}

static void
pattern_tick(struct sbe *b, struct schip *c)
{
	uint64_t n;
	int i, off;

	if (read(c->timer, &n, sizeof(n)) != sizeof(n))
		return;
	/* Walk over the requested inputs, toggling one per tick. */
	for (i = 0; i < c->cfg->nlines; i++) {
		off = (int)((c->step + (unsigned)i) % (unsigned)c->cfg->nlines);
		if (c->req[off] != NULL && c->req[off]->cfg->dir == MOB_GPIO_INPUT) {
			c->step = (unsigned)off + 1;
			drive(b, c, off, !c->level[off]);
			return;
		}
	}
}

static void
sim_dispatch(void *be, int fd)
{
	struct sbe *b = be;
	struct schip *c = NULL;
	char *nl;
	ssize_t n;
	size_t i;

	for (i = 0; i < b->nchips; i++) {
		if (b->chips[i].timer == fd) {
			pattern_tick(b, &b->chips[i]);
			return;
		}
		if (b->chips[i].fifo == fd)
			c = &b->chips[i];
	}
	if (c == NULL)
		return;
	while ((n = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len)) > 0) {
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
		while ((nl = strchr(c->buf, '\n')) != NULL) {
			*nl = '\0';
			command(b, c, c->buf);
			c->len -= (size_t)(nl + 1 - c->buf);
			memmove(c->buf, nl + 1, c->len + 1);
		}
		if (c->len == sizeof(c->buf) - 1) {
			log_warnx("sim %s: command too long; dropped", c->cfg->name);
			c->len = 0;
		}
	}
}

const struct gpio_ops gpio_ops_sim = {
	.name = "sim",
	.init = sim_init,
	.fini = sim_fini,
	.request = sim_request,
	.release = sim_release,
	.get = sim_get,
	.set = sim_set,
	.fds = sim_fds,
	.dispatch = sim_dispatch,
};

/*
 * The simulated chips of a running mobius-gpio, from their state files:
 * each line, in use (requested by the service) or not, and its level.
 */
int
mob_gpio_list_sim(FILE *fp, const char *dir)
{
	char pat[300], line[200], name[MOB_GPIO_NAME_MAX], d[8];
	const char *chip;
	glob_t g;
	size_t i;
	int off, lvl, n;
	FILE *f;

	snprintf(pat, sizeof(pat), "%s/*.state", dir);
	if (glob(pat, 0, NULL, &g) != 0) {
		fprintf(fp, "no simulated chips in %s (no mobius-gpio with the "
		    "sim back-end has run there)\n", dir);
		return 0;
	}
	for (i = 0; i < g.gl_pathc; i++) {
		if ((f = fopen(g.gl_pathv[i], "re")) == NULL) {
			fprintf(fp, "%s: %s\n", g.gl_pathv[i], strerror(errno));
			continue;
		}
		chip = strrchr(g.gl_pathv[i], '/') + 1;
		for (n = 0; fgets(line, sizeof(line), f) != NULL; n++)
			;
		fprintf(fp, "%.*s [simulated, %s] %d lines\n",
		    (int)(strlen(chip) - strlen(".state")), chip, dir, n);
		rewind(f);
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "%d %63s %7s %d", &off, name, d,
			    &lvl) == 4)
				fprintf(fp, "  %3d  %-16s %-6s %-6s %-11s level "
				    "%d\n", off, name, strcmp(d, "out") == 0 ?
				    "output" : "input", strcmp(d, "-") == 0 ?
				    "unused" : "used", strcmp(d, "-") == 0 ? "-" :
				    "mobius-gpio", lvl);
		fclose(f);
	}
	globfree(&g);
	return 0;
}
