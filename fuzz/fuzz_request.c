/*
 * libFuzzer target: request handling in the service runtime
 * (lib/rt/service/request.c), as a verified request reaches it: the input
 * is the request's "dat" JSON ({"id","op","uri","value","priority",
 * "offset"}).  The service has an object with a resource of every type,
 * read-only and writable, with ranges; the answer is built in full (its
 * publication fails quietly: the service is not connected).  A second
 * pass reads every resource back, so a write that left a resource in a
 * state its reader cannot describe shows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../lib/rt/service/internal.h"
#include "fuzz_service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config[] =
	"{\"objects\":[{\"pid\":\"0001\",\"ins\":\"0001\",\"name\":\"all\","
	"\"resources\":["
	"{\"rid\":\"40\",\"name\":\"n\",\"type\":\"number\",\"access\":\"rw\","
	"\"min\":-10,\"max\":100,\"precision\":1,\"default\":21},"
	"{\"rid\":\"41\",\"name\":\"b\",\"type\":\"bool\",\"access\":\"rw\"},"
	"{\"rid\":\"42\",\"name\":\"s\",\"type\":\"string\",\"access\":\"rw\","
	"\"max\":16,\"default\":\"x\"},"
	"{\"rid\":\"43\",\"name\":\"d\",\"type\":\"datetime\",\"access\":\"rw\"},"
	"{\"rid\":\"44\",\"name\":\"t\",\"type\":\"timespan\",\"access\":\"rw\","
	"\"min\":0,\"max\":3600},"
	"{\"rid\":\"45\",\"name\":\"r\",\"type\":\"number\"}]}]}";

static struct mob_service *
service(void)
{
	struct mob_service *svc = fuzz_service();
	struct mob_config *c;
	struct mob_cnode root;
	char err[256];

	if (mob_config_parse("fuzz.json", config, sizeof(config) - 1, &c, err,
	    sizeof(err)) != 0)
		abort();
	mob_config_root(c, &root);
	if (mob_service_config(svc, c, &root, NULL) != 0)
		abort();
	mob_config_free(c);
	return svc;
}

static void
deliver(struct mob_service *svc, const cJSON *dat)
{
	struct mob_env env;

	memset(&env, 0, sizeof(env));
	snprintf(env.iss, sizeof(env.iss), "000001/0C1");
	env.dat = dat;
	svc__on_message(NULL, svc->reqtopic, &env, svc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rids[] = { "40", "41", "42", "43", "44", "45" };
	struct mob_service *svc;
	char buf[96];
	cJSON *dat;

	if (size > 8192 ||
	    (dat = cJSON_ParseWithLength((const char *)data, size)) == NULL)
		return 0;
	svc = service();
	deliver(svc, dat);
	cJSON_Delete(dat);
	for (size_t i = 0; i < sizeof(rids) / sizeof(rids[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"id\":\"r%zu\",\"op\":\"read\","
		    "\"uri\":\"000001/01F/0001/0001/%s\"}", i, rids[i]);
		if ((dat = cJSON_Parse(buf)) == NULL)
			abort();
		deliver(svc, dat);
		cJSON_Delete(dat);
	}
	mob_service_free(svc);
	return 0;
}
