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

/* Configure, then a few steps of every model the config accepted. */
static int
fuzz_configure(struct mob_service *svc, struct mob_config *c, void *arg)
{
	struct sim *s = arg;
	int rc;

	if ((rc = sim_configure(svc, s, c)) != 0)
		return rc;
	for (int step = 0; step < 3; step++)
		for (size_t i = 0; i < s->n; i++)
			sim_step(s, &s->m[i]);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim s = { 0 };

	fuzz_config(data, size, fuzz_configure, &s);
	free(s.m);
	return 0;
}
