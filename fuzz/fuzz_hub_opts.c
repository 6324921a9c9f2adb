/*
 * libFuzzer target: the hub plugin's options (plugin_opt_* lines of
 * mosquitto.conf, hub/plugin.c's hub_opts_parse, compiled in).  The input
 * is "KEY=VALUE" lines.  A refusal says which option; accepted options
 * are within their documented bounds.
 *
 * The rest of the hub is linked in (Makefile.fuzz); the broker is not:
 * fuzz/hub_broker.h stands in for the few mosquitto_* calls.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../hub/plugin.c"
#include "hub_broker.h"

#define MAX_OPTS	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hub_opts o;	/* ~13 KiB: not on the stack */
	struct mosquitto_opt opts[MAX_OPTS];
	char err[256], *text, *line, *save, *eq;
	int n = 0, r;

	if (size > 16384 || (text = strndup((const char *)data, size)) == NULL)
		return 0;
	for (line = strtok_r(text, "\n", &save); line != NULL && n < MAX_OPTS;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		opts[n].key = line;
		opts[n++].value = eq + 1;
	}
	err[0] = '\0';
	r = hub_opts_parse(&o, opts, n, err, sizeof(err));
	if (r != 0) {
		if (r != MOB_ECONFIG || (strncmp(err, "plugin_opt_", 11) != 0 &&
		    strncmp(err, "unknown option plugin_opt_", 26) != 0))
			abort();
	} else if (o.keys_dir[0] == '\0' || o.window_ms < 100 ||
	    o.window_ms > 3600000 || o.max_message < 1024 ||
	    o.backoff_cap_ms < o.backoff_base_ms || o.nwriters > HUB_WRITERS_MAX ||
	    strlen(o.router_sid) != 3)
		abort();
	free(text);
	return 0;
}
