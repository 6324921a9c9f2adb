/*
 * mobius status: the hub's own state and counters, from the retained
 * mob/state/HID/000 the hub signs and republishes every stats interval
 * (docs/hub.md): logins, refusals by reason, verified and dropped
 * messages by reason, clients.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "mobius/err.h"
#include "node.h"

/* KEY VALUE rows; one level of nesting as "outer.inner". */
static int
status_rows(struct cli_table *t, const char *prefix, const cJSON *o)
{
	const cJSON *j;
	const char *row[2];
	char key[128], val[256];

	cJSON_ArrayForEach(j, o) {
		snprintf(key, sizeof(key), "%s%s", prefix, j->string);
		if (cJSON_IsObject(j)) {
			char sub[132];

			snprintf(sub, sizeof(sub), "%s.", key);
			if (status_rows(t, sub, j) != 0)
				return -1;
			continue;
		}
		cli_fmt_value(j, val, sizeof(val));
		row[0] = key;
		row[1] = val;
		if (cli_table_add(t, row) != 0)
			return -1;
	}
	return 0;
}

int
cmd_status(int argc, char *argv[], struct cli_opts *o)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const headers[] = { "COUNTER", "VALUE" };
	struct cli_node n;
	struct cli_svc *s;
	struct cli_table *t;
	char *js;
	int ch, json = 0, rc, found = 0;

	while ((ch = cli_getopt(argc, argv, "", lo, o, "status")) != -1) {
		if (ch == 'j')
			json = 1;
		else
			return CLI_EXIT_USAGE;
	}
	if (argc - optind != 0)
		return cli_usage_error("status", "too many arguments");
	memset(&n, 0, sizeof(n));
	if ((rc = cli_node_open(&n, o, "status")) != CLI_EXIT_OK)
		goto out;
	rc = CLI_EXIT_ERROR;
	/* retained: it arrives right after subscribing */
	if (cli_node_subscribe(&n, "state", "+/000") != 0 ||
	    cli_node_settle(&n, 200, o->timeout_ms) != 0)
		goto out;
	for (s = n.svcs; s != NULL; s = s->next) {
		if (s->presence == NULL)
			continue;
		found++;
		if (json) {
			if ((js = cJSON_PrintUnformatted(s->presence)) == NULL)
				goto out;
			printf("%s\n", js);
			cJSON_free(js);
			continue;
		}
		if ((t = cli_table_new(2, headers)) == NULL)
			goto out;
		printf("hub %s\n", s->id);
		if (status_rows(t, "", s->presence) != 0) {
			cli_table_free(t);
			goto out;
		}
		cli_table_print(t, stdout);
		cli_table_free(t);
	}
	if (found == 0) {
		cli_error("status", "the hub has published no state yet (it "
		    "does every stats interval): try again in a few seconds");
		rc = CLI_EXIT_TIMEOUT;
		goto out;
	}
	rc = CLI_EXIT_OK;
 out:
	cli_node_close(&n);
	return rc;
}
