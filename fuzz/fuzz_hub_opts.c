/*
 * libFuzzer target: the hub's options (plugin_opt_* lines of
 * mosquitto.conf and hub.conf, hub/opts.c's hub_opts__parse).  The input
 * is "KEY=VALUE" lines.  A refusal starts with the option's name (or says
 * that keys is required); accepted options are within their documented
 * bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "../hub/internal.h"

#define MAX_OPTS	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
names_option(const char *err, const struct mosquitto_opt *opts, int n)
{
	if (strncmp(err, "keys (", 6) == 0)
		return 1;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(opts[i].key);

		if (strncmp(err, opts[i].key, l) == 0 && err[l] == ':')
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hub_opts o;	/* ~13 KiB: not on the stack */
	struct mosquitto_opt opts[MAX_OPTS];
	static char err[32768];	/* a key may be as long as the input */
	char *text, *line, *save, *eq;
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
	r = hub_opts__parse(&o, opts, n, err, sizeof(err));
	if (r != 0) {
		if (r != MOB_ECONFIG || !names_option(err, opts, n))
			abort();
	} else if (o.keys_dir[0] == '\0' || o.window_ms < 100 ||
	    o.window_ms > 3600000 || o.max_message < 1024 ||
	    o.req_max < 16 || o.nwriters > HUB_WRITERS_MAX ||
	    strlen(o.router_sid) != 3)
		abort();
	free(text);
	return 0;
}
