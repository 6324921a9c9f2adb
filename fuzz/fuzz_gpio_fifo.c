/*
 * libFuzzer target: the simulated GPIO chip's FIFO (drivers/gpio/be_sim.c),
 * which anyone allowed to write DIR/CHIP.in drives.  The input is written
 * to the FIFO and dispatched as the service's poll loop would; afterwards
 * every line still reads 0 or 1.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../drivers/gpio/gpiodrv.h"
#include "fuzz_service.h"

#define NLINES	8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mob_gpio_config cfg;
static struct mob_gpio_sim_chip chip;
static struct mob_gpio_line_cfg lines[NLINES];
static struct mob_gpio *g;
static int wfd = -1;

static void
on_event(void *arg, size_t line, int value)
{
	(void)arg;
	if (line >= NLINES || (value != 0 && value != 1))
		abort();
}

/* Chip "fz": lines 0-3 inputs (named in0..in3, 2 and 3 active-low), 4-7 outputs. */
static void
setup(void)
{
	char path[256];

	log_init("fuzz", 0);
	snprintf(chip.name, sizeof(chip.name), "fz");
	chip.nlines = NLINES;
	for (int i = 0; i < NLINES; i++) {
		if (i < 4)
			snprintf(chip.line_names[i], MOB_GPIO_NAME_MAX, "in%d", i);
		snprintf(lines[i].name, sizeof(lines[i].name), "l%d", i);
		snprintf(lines[i].chip, sizeof(lines[i].chip), "fz");
		lines[i].offset = i;
		lines[i].dir = i < 4 ? MOB_GPIO_INPUT : MOB_GPIO_OUTPUT;
		lines[i].edge = MOB_GPIO_EDGE_BOTH;
		lines[i].active_low = i == 2 || i == 3;
		lines[i].safe = -1;
	}
	cfg.sim = 1;
	snprintf(cfg.sim_dir, sizeof(cfg.sim_dir), "%s", fuzz_tmpdir());
	cfg.chips = &chip;
	cfg.nchips = 1;
	cfg.lines = lines;
	cfg.nlines = NLINES;
	if (mob_gpio_open(&cfg, "fuzz", on_event, NULL, &g) != 0)
		abort();
	snprintf(path, sizeof(path), "%s/fz.in", cfg.sim_dir);
	if ((wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds[16], v;
	size_t n, off = 0;
	ssize_t w;

	if (g == NULL)
		setup();
	if (size > 8192)
		return 0;
	/* A pipe holds 64 KiB: written whole, then read in as many calls
	 * as the chip's line buffer takes.  The closing newline ends any
	 * partial command, so no input leaks into the next one. */
	while (off < size) {
		if ((w = write(wfd, data + off, size - off)) <= 0)
			abort();
		off += (size_t)w;
	}
	if (write(wfd, "\n", 1) != 1)
		abort();
	n = mob_gpio_fds(g, fds, 16);
	for (size_t i = 0; i < n; i++)
		mob_gpio_dispatch(g, fds[i]);
	for (size_t i = 0; i < NLINES; i++)
		if (mob_gpio_get(g, i, &v) != 0 || (v != 0 && v != 1))
			abort();
	return 0;
}
