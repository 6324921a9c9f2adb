/*
 * libFuzzer target: mobius-sim's config, as the daemon reads it
 * (services/sim/sim.c compiled in, its main renamed).  A refused config
 * names the file and the JSON path; an accepted one is simulated a few
 * steps (models, bounds, "follow").
 */
#define main mobius_sim_main
#include "../services/sim/sim.c"
#undef main

#include "fuzz_service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mob_service *svc = fuzz_service();
	struct sim s = { 0 };
	struct mob_config *c;
	char err[512];

	if (mob_config_parse("fuzz.json", (const char *)data, size, &c, err,
	    sizeof(err)) != 0) {
		if (strncmp(err, "fuzz.json", 9) != 0)
			abort();
	} else {
		if (sim_configure(svc, &s, c) != 0) {
			if (strncmp(mob_config_error(c), "fuzz.json: ", 11) != 0)
				abort();
		} else {
			for (int step = 0; step < 3; step++)
				for (size_t i = 0; i < s.n; i++)
					sim_step(&s, &s.m[i]);
		}
		mob_config_free(c);
	}
	mob_service_free(svc);
	free(s.m);
	return 0;
}
