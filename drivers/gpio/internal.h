/*
 * GPIO back-end ops: the generic layer (gpio.c) does debounce, safe state
 * and bookkeeping; a back-end only resolves, requests and toggles lines and
 * reports raw edges.  Values crossing this table are logical (active-low
 * applied by the back-end, as the kernel does for gpiod).
 */
#ifndef MOBIUS_DRIVERS_GPIO_INTERNAL_H
#define MOBIUS_DRIVERS_GPIO_INTERNAL_H

#include "gpiodrv.h"

/* A back-end saw an edge on the line it returned from request(). */
typedef void (*gpio_edge_fn)(void *arg, void *line);

struct gpio_ops {
	const char *name;
	int (*init)(const struct mob_gpio_config *cfg, gpio_edge_fn edge,
	    void *arg, void **be);
	void (*fini)(void *be);
	int (*request)(void *be, const struct mob_gpio_line_cfg *l,
	    const char *consumer, void **line);
	void (*release)(void *be, void *line);
	int (*get)(void *be, void *line, int *value);
	int (*set)(void *be, void *line, int value);
	/*
	 * Descriptors to poll (the first max into fds; returns how many
	 * there are) and their handler (edges via the edge fn).
	 */
	size_t (*fds)(void *be, int *fds, size_t max);
	void (*dispatch)(void *be, int fd);
};

extern const struct gpio_ops gpio_ops_gpiod;
extern const struct gpio_ops gpio_ops_sim;

/* mob_gpio_list's two halves. */
int mob_gpio_list_kernel(FILE *fp);
int mob_gpio_list_sim(FILE *fp, const char *dir);

#endif
