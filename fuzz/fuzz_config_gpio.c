/*
 * libFuzzer target: mobius-gpio's config (back-end, lines, objects), as
 * the daemon reads it (services/gpio/gpio.c compiled in, its main
 * renamed).  A refused config names the file and the JSON path.
 */
#define main mobius_gpio_main
#include "../services/gpio/gpio.c"
#undef main

#include "fuzz_service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_configure(struct mob_service *svc, struct mob_config *c, void *arg)
{
	return configure(svc, arg, c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gsvc s;

	memset(&s, 0, sizeof(s));
	s.sim_dir = fuzz_tmpdir();
	fuzz_config(data, size, fuzz_configure, &s);
	mob_gpio_config_free(&s.cfg);
	free(s.res);
	return 0;
}
