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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mob_service *svc = fuzz_service();
	struct gsvc s;
	struct mob_config *c;
	char err[512];

	memset(&s, 0, sizeof(s));
	s.sim_dir = fuzz_tmpdir();
	if (mob_config_parse("fuzz.json", (const char *)data, size, &c, err,
	    sizeof(err)) != 0) {
		if (strncmp(err, "fuzz.json", 9) != 0)
			abort();
	} else {
		if (configure(svc, &s, c) != 0 &&
		    strncmp(mob_config_error(c), "fuzz.json: ", 11) != 0)
			abort();
		mob_config_free(c);
	}
	mob_service_free(svc);
	mob_gpio_config_free(&s.cfg);
	free(s.res);
	return 0;
}
