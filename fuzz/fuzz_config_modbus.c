/*
 * libFuzzer target: mobius-modbus's config (devices, register map), as the
 * daemon reads it (services/modbus/modbus.c compiled in, its main
 * renamed).  A refused config names the file and the JSON path.
 */
#define main mobius_modbus_main
#include "../services/modbus/modbus.c"
#undef main

#include "fuzz_service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_configure(struct mob_service *svc, struct mob_config *c, void *arg)
{
	struct mbsvc *s = arg;

	s->svc = svc;
	return configure(svc, s, c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbsvc s;

	memset(&s, 0, sizeof(s));
	s.timer = s.sigfd = -1;
	fuzz_config(data, size, fuzz_configure, &s);
	mob_mb_config_free(&s.cfg);
	free(s.objs);
	return 0;
}
