/*
 * GPIO driver: lines by chip and offset or by line name, inputs with edge
 * events and debounce, outputs, active-low and bias, and a safe state that
 * mob_gpio_close() drives before releasing the lines.
 *
 * Two back-ends behind one ops table: "gpiod" (libgpiod v1.6, the kernel's
 * character device) and "sim", a simulated chip for demos and tests on
 * machines without gpio-sim.  A sim chip is driven from outside through a
 * FIFO and shows its pins in a state file, both in the sim directory
 * (docs/hardware.md):
 *
 *   DIR/CHIP.in     write "OFFSET LEVEL\n" or "NAME LEVEL\n" (LEVEL 0/1,
 *                   the physical level at the pin) to drive an input
 *   DIR/CHIP.state  rewritten on every change: "OFFSET NAME DIR LEVEL\n"
 *                   per line (DIR in/out/-), physical levels
 *
 * and, for demos, pattern_ms makes every requested input toggle in a
 * walking pattern.  Values given to and reported by this API are logical
 * (active-low applied); the sim's files speak physical levels.
 */
#ifndef MOBIUS_DRIVERS_GPIODRV_H
#define MOBIUS_DRIVERS_GPIODRV_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#define MOB_GPIO_NAME_MAX	64
#define MOB_GPIO_SIM_LINES_MAX	64

enum mob_gpio_dir { MOB_GPIO_INPUT, MOB_GPIO_OUTPUT };
enum mob_gpio_edge { MOB_GPIO_EDGE_BOTH, MOB_GPIO_EDGE_RISING,
    MOB_GPIO_EDGE_FALLING, MOB_GPIO_EDGE_NONE };
enum mob_gpio_bias { MOB_GPIO_BIAS_AS_IS, MOB_GPIO_BIAS_DISABLE,
    MOB_GPIO_BIAS_PULL_UP, MOB_GPIO_BIAS_PULL_DOWN };

struct mob_gpio_line_cfg {
	char name[MOB_GPIO_NAME_MAX];	/* for logs (the resource name) */
	char chip[MOB_GPIO_NAME_MAX];	/* name, label, path or number; "" = any */
	char line[MOB_GPIO_NAME_MAX];	/* line name, when offset < 0 */
	int offset;
	enum mob_gpio_dir dir;
	enum mob_gpio_edge edge;
	enum mob_gpio_bias bias;
	int active_low;
	int debounce_ms;
	int initial;			/* output: logical value at request */
	int safe;			/* output: on close; -1 leaves it */
};

struct mob_gpio_sim_chip {
	char name[MOB_GPIO_NAME_MAX];
	int nlines;
	char line_names[MOB_GPIO_SIM_LINES_MAX][MOB_GPIO_NAME_MAX];	/* "" = unnamed */
	int pattern_ms;			/* 0: only the FIFO drives inputs */
};

struct mob_gpio_config {
	int sim;			/* 0: gpiod */
	char sim_dir[200];		/* "" until the service picks one */
	/*
	 * Who besides the process and root may own sim_dir: the user the
	 * sandbox switches to (a daemon started as root), else 0.  The sim
	 * refuses a directory of anyone else, or writable by group or others.
	 */
	uid_t sim_owner;
	struct mob_gpio_sim_chip *chips;
	size_t nchips;
	struct mob_gpio_line_cfg *lines;
	size_t nlines;
};

/*
 * Config (docs/hardware.md) with lib/rt/mobius/config.h.  Back-end: the "gpio"
 * member of the service config; line: the "gpio" member of a resource.
 */
struct mob_config;
struct mob_cnode;
int mob_gpio_backend_parse(struct mob_config *c, const struct mob_cnode *n,
    struct mob_gpio_config *out);
int mob_gpio_line_parse(struct mob_config *c, const struct mob_cnode *n,
    struct mob_gpio_line_cfg *out);
/* Same chip and offset (or line name) as a line parsed before? */
int mob_gpio_line_check(struct mob_config *c, const struct mob_cnode *n,
    const struct mob_gpio_config *cfg, const struct mob_gpio_line_cfg *l);
void mob_gpio_config_free(struct mob_gpio_config *cfg);

/* A debounced input changed (logical value), or an output was set. */
typedef void (*mob_gpio_event_fn)(void *arg, size_t line, int value);

struct mob_gpio;

/*
 * Open chips and request every line of cfg (which must outlive g).  Errors
 * name the line in the log: MOB_ENOTFOUND (no such chip or line name),
 * MOB_EDENIED, MOB_ESYS.
 */
int mob_gpio_open(const struct mob_gpio_config *cfg, const char *consumer,
    mob_gpio_event_fn fn, void *arg, struct mob_gpio **out);
/* Drive every output to its safe value, release lines, close chips. */
void mob_gpio_close(struct mob_gpio *g);

/*
 * Descriptors to poll for POLLIN (event lines, FIFOs, timers): the first
 * max into fds, and how many there are, so that the caller sizes its poll
 * set from the driver (mob_gpio_fds(g, NULL, 0) counts them).
 */
size_t mob_gpio_fds(const struct mob_gpio *g, int *fds, size_t max);
/* Handle a readable descriptor; events go to the callback. */
void mob_gpio_dispatch(struct mob_gpio *g, int fd);

int mob_gpio_get(struct mob_gpio *g, size_t line, int *value);
/* Outputs only: MOB_EREADONLY for an input. */
int mob_gpio_set(struct mob_gpio *g, size_t line, int value);
/* Last reported (debounced) value of an input; -1 before the first. */
int mob_gpio_reported(const struct mob_gpio *g, size_t line);

/*
 * `mobius-gpio --list`, like gpioinfo: the kernel's chips and lines (name,
 * direction, used or not, consumer), then the simulated chips whose state
 * files are in sim_dir (NULL: none).  0, or MOB_E* when the chips cannot
 * be opened (said on fp).
 */
int mob_gpio_list(FILE *fp, const char *sim_dir);

#endif
