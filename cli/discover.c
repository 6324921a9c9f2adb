/*
 * mobius discover: the services of the node, their objects and resources,
 * from the descriptions services publish (retained mob/svc) and the hub's
 * presence messages (retained mob/state).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "mobius/err.h"
#include "node.h"

/* Retained messages arrive right after subscribing; then it is quiet. */
#define DISCOVER_QUIET_MS	300

static const char *
jstr(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static void
range_text(const cJSON *res, char *buf, size_t len)
{
	const cJSON *mn = cJSON_GetObjectItemCaseSensitive(res, "min");
	const cJSON *mx = cJSON_GetObjectItemCaseSensitive(res, "max");
	char a[32] = "", b[32] = "";

	if (cJSON_IsNumber(mn))
		snprintf(a, sizeof(a), "%.15g", mn->valuedouble);
	if (cJSON_IsNumber(mx))
		snprintf(b, sizeof(b), "%.15g", mx->valuedouble);
	if (*a == '\0' && *b == '\0')
		*buf = '\0';
	else
		snprintf(buf, len, "%s..%s", a, b);
}

static int
table_svc(struct cli_table *t, const struct cli_svc *s)
{
	const cJSON *desc = s->desc, *obj, *res;
	const char *spid = jstr(desc, "spid"), *name = jstr(desc, "name");
	char kind[16], uri[MOB_URI_MAX], range[72];
	const char *row[7];
	int r;

	snprintf(kind, sizeof(kind), "service%s%s", spid != NULL ? " " : "",
	    spid != NULL ? spid : "");
	row[0] = s->id;
	row[1] = name;
	row[2] = kind;
	row[3] = NULL;
	row[4] = NULL;
	row[5] = NULL;
	row[6] = *s->state != '\0' ? s->state : "unknown";
	if ((r = cli_table_add(t, row)) != 0)
		return r;
	cJSON_ArrayForEach(obj, cJSON_GetObjectItemCaseSensitive(desc, "objects")) {
		const char *pid = jstr(obj, "pid"), *ins = jstr(obj, "ins");

		if (pid == NULL || ins == NULL)
			continue;
		snprintf(uri, sizeof(uri), "%s/%s/%s", s->id, pid, ins);
		row[0] = uri;
		row[1] = jstr(obj, "name");
		row[2] = "object";
		row[6] = NULL;
		if ((r = cli_table_add(t, row)) != 0)
			return r;
		cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(obj,
		    "resources")) {
			const char *rid = jstr(res, "rid");

			if (rid == NULL)
				continue;
			snprintf(uri, sizeof(uri), "%s/%s/%s/%s", s->id, pid,
			    ins, rid);
			range_text(res, range, sizeof(range));
			row[0] = uri;
			row[1] = jstr(res, "name");
			row[2] = jstr(res, "type");
			row[3] = jstr(res, "access");
			row[4] = jstr(res, "units");
			row[5] = range;
			if ((r = cli_table_add(t, row)) != 0)
				return r;
			row[3] = row[4] = row[5] = NULL;
		}
	}
	return 0;
}

static int
print_json(const struct cli_svc *s)
{
	cJSON *o;
	char *txt;

	if ((o = cJSON_Duplicate(s->desc, 1)) == NULL)
		return MOB_ENOMEM;
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return MOB_EPROTO;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, "id");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "state");
	if (cJSON_AddStringToObject(o, "id", s->id) == NULL ||
	    cJSON_AddStringToObject(o, "state",
	    *s->state != '\0' ? s->state : "unknown") == NULL ||
	    (txt = cJSON_PrintUnformatted(o)) == NULL) {
		cJSON_Delete(o);
		return MOB_ENOMEM;
	}
	printf("%s\n", txt);
	cJSON_free(txt);
	cJSON_Delete(o);
	return 0;
}

int
cmd_discover(int argc, char *argv[], struct cli_opts *o)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const headers[] = {
		"URI", "NAME", "TYPE", "ACCESS", "UNITS", "RANGE", "STATE",
	};
	struct cli_node n;
	struct cli_table *t = NULL;
	struct cli_svc *s;
	struct mob_uri u;
	char filter[MOB_ID_MAX + 4], err[160];
	int ch, json = 0, rc, nsvc = 0, partial = 0;

	while ((ch = cli_getopt(argc, argv, "", lo, o, "discover")) != -1) {
		if (ch == 'j')
			json = 1;
		else
			return CLI_EXIT_USAGE;
	}
	if (argc - optind > 1)
		return cli_usage_error("discover", "too many arguments");
	snprintf(filter, sizeof(filter), "+/+");
	if (argc - optind == 1) {
		if (mob_uri_parse(argv[optind], 0, &u, err, sizeof(err)) != 0)
			return cli_usage_error("discover", "\"%s\": %s",
			    argv[optind], err);
		if (u.depth > 2)
			return cli_usage_error("discover", "\"%s\": give a hub "
			    "(HID) or a service (HID/SID), not an object or "
			    "resource", argv[optind]);
		snprintf(filter, sizeof(filter), "%s/%s", u.part[MOB_URI_HID],
		    u.depth == 2 ? u.part[MOB_URI_SID] : "+");
	}

	memset(&n, 0, sizeof(n));
	if ((rc = cli_node_open(&n, o, "discover")) != CLI_EXIT_OK)
		goto out;
	rc = CLI_EXIT_ERROR;
	if (cli_node_subscribe(&n, "state", filter) != 0 ||
	    cli_node_subscribe(&n, "svc", filter) != 0 ||
	    cli_node_settle(&n, DISCOVER_QUIET_MS, o->timeout_ms) != 0)
		goto out;

	if (!json && (t = cli_table_new(7, headers)) == NULL)
		goto out;
	for (s = n.svcs; s != NULL; s = s->next) {
		/* The hub's own presence has no description. */
		if (s->desc == NULL)
			continue;
		nsvc++;
		/* Without the resources the rows of objects still show. */
		if (cli_node_complete(&n, s) != CLI_EXIT_OK)
			partial = 1;
		if ((json ? print_json(s) : table_svc(t, s)) != 0)
			goto out;
	}
	if (nsvc == 0 && argc - optind == 1) {
		cli_error("discover", "%s: no service there has described "
		    "itself to the hub (none running?)", argv[optind]);
		rc = CLI_EXIT_TIMEOUT;
		goto out;
	}
	if (nsvc == 0)
		cli_error("discover", "no service has described itself to the "
		    "hub yet");
	if (t != NULL)
		cli_table_print(t, stdout);
	rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
	if (rc == CLI_EXIT_OK && partial)
		rc = CLI_EXIT_TIMEOUT;
 out:
	cli_table_free(t);
	cli_node_close(&n);
	return rc;
}
