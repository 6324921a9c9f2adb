/*
 * mobius get / set / clear: one request to the service that owns a
 * resource (docs/services.md: read, write, clear).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "mobius/client.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/proto.h"
#include "mobius/time.h"
#include "node.h"

/*
 * Parse a resource URI argument (or an object URI when allow_obj); prints
 * the error naming the part.
 */
static int
parse_res_uri(const char *cmd, const char *s, struct mob_uri *u, int allow_obj)
{
	char err[160];

	if (mob_uri_parse(s, 0, u, err, sizeof(err)) != 0) {
		cli_usage_error(cmd, "URI \"%s\": %s", s, err);
		return -1;
	}
	if (u->depth < MOB_URI_PARTS - 1 && allow_obj) {
		cli_usage_error(cmd, "URI \"%s\": give an object "
		    "(HID/SID/PID/INS) or a resource (HID/SID/PID/INS/RID)", s);
		return -1;
	}
	if (u->depth != MOB_URI_PARTS && !allow_obj) {
		cli_usage_error(cmd, "URI \"%s\": RID missing: a resource URI "
		    "has 5 parts, HID/SID/PID/INS/RID", s);
		return -1;
	}
	return 0;
}

static void
svc_id(const struct mob_uri *u, char *id, size_t len)
{
	snprintf(id, len, "%.6s/%.3s", u->part[MOB_URI_HID], u->part[MOB_URI_SID]);
}

/* Learn the service's presence and description while the request runs. */
static int
watch_service(struct cli_node *n, const struct mob_uri *u)
{
	char id[MOB_ID_MAX];

	svc_id(u, id, sizeof(id));
	if (cli_node_subscribe(n, "state", id) != 0 ||
	    cli_node_subscribe(n, "svc", id) != 0)
		return CLI_EXIT_ERROR;
	return CLI_EXIT_OK;
}

static int
parse_prio(const char *cmd, const char *s, long *prio)
{
	if (cli_parse_int(s, 1, 16, prio) != 0) {
		cli_usage_error(cmd, "--priority \"%s\": must be a whole number "
		    "from 1 (highest) to 16 (lowest)", s);
		return -1;
	}
	return 0;
}

static const char *
jstr(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* An object's resources and their present values, as a table. */
static int
print_object(const char *uri, const cJSON *obj)
{
	static const char *const headers[] = {
		"RID", "NAME", "VALUE", "UNITS", "STATUS",
	};
	struct cli_table *t;
	const cJSON *res;
	const char *row[5];
	char val[512];
	int rc = CLI_EXIT_ERROR;

	if (!cJSON_IsObject(obj)) {
		cli_error("get", "%s: the answer has no object", uri);
		return CLI_EXIT_ERROR;
	}
	if ((t = cli_table_new(5, headers)) == NULL)
		return CLI_EXIT_ERROR;
	cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(obj,
	    "resources")) {
		cli_fmt_value(cJSON_GetObjectItemCaseSensitive(res, "value"),
		    val, sizeof(val));
		row[0] = jstr(res, "rid");
		row[1] = jstr(res, "name");
		row[2] = val;
		row[3] = jstr(res, "units");
		row[4] = jstr(res, "status");
		if (cli_table_add(t, row) != 0)
			goto out;
	}
	if (jstr(obj, "name") != NULL)
		printf("%s  %s\n", uri, jstr(obj, "name"));
	cli_table_print(t, stdout);
	rc = CLI_EXIT_OK;
 out:
	cli_table_free(t);
	return rc;
}

/* A read answer (or one resource of an object) as a COV for SenML. */
static void
rsp_cov(const cJSON *r, const char *uri, struct cli_cov *c)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(r, "changed");

	memset(c, 0, sizeof(*c));
	snprintf(c->uri, sizeof(c->uri), "%s", uri);
	c->value = cJSON_GetObjectItemCaseSensitive(r, "value");
	c->units = jstr(r, "units");
	c->status = jstr(r, "status");
	/* from the network: in range before the cast */
	if (cJSON_IsNumber(j) && j->valuedouble > 0 &&
	    j->valuedouble <= MOB_TIME_MS_MAX)
		c->time_ms = (int64_t)j->valuedouble;
}

/* One SenML pack: the resource, or every resource of the object. */
static int
print_senml(const char *uri, int is_obj, const cJSON *rsp)
{
	const cJSON *res;
	struct cli_cov c;
	cJSON *pack;
	char ruri[MOB_URI_MAX + 8], *s = NULL;
	int r = 0;

	if ((pack = cJSON_CreateArray()) == NULL)
		return CLI_EXIT_ERROR;
	if (!is_obj) {
		rsp_cov(rsp, uri, &c);
		r = cli_senml_add(pack, &c);
	} else
		cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(rsp, "object"),
		    "resources")) {
			if (jstr(res, "rid") == NULL)
				continue;
			snprintf(ruri, sizeof(ruri), "%s/%s", uri,
			    jstr(res, "rid"));
			rsp_cov(res, ruri, &c);
			if ((r = cli_senml_add(pack, &c)) != 0)
				break;
		}
	if (r == 0 && (s = mob_json_print(pack)) != NULL)
		printf("%s\n", s);
	cJSON_free(s);
	cJSON_Delete(pack);
	if (r != 0 || s == NULL) {
		cli_error("get", "%s: cannot write the answer as SenML: %s",
		    uri, mob_strerror(r != 0 ? r : MOB_ENOMEM));
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

int
cmd_get(int argc, char *argv[], struct cli_opts *o)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "senml", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_node n;
	struct mob_uri u;
	const cJSON *v, *res, *units;
	cJSON *req = NULL, *rsp = NULL;
	char val[512], *s;
	int ch, json = 0, senml = 0, rc;

	while ((ch = cli_getopt(argc, argv, "", lo, o, "get")) != -1) {
		if (ch == 'j')
			json = 1;
		else if (ch == 's')
			senml = 1;
		else
			return CLI_EXIT_USAGE;
	}
	if (json && senml)
		return cli_usage_error("get", "--json and --senml: choose one");
	if (argc - optind != 1)
		return cli_usage_error("get", argc - optind < 1 ?
		    "URI missing" : "too many arguments");
	if (parse_res_uri("get", argv[optind], &u, 1) != 0)
		return CLI_EXIT_USAGE;

	memset(&n, 0, sizeof(n));
	if ((rc = cli_node_open(&n, o, "get")) != CLI_EXIT_OK ||
	    (rc = watch_service(&n, &u)) != CLI_EXIT_OK)
		goto out;
	if ((req = mob_client_req_new("read", &u)) == NULL) {
		rc = CLI_EXIT_ERROR;
		goto out;
	}
	if ((rc = cli_node_request(&n, &u, req, &rsp)) != CLI_EXIT_OK)
		goto out;
	if (senml) {
		rc = print_senml(argv[optind], u.depth < MOB_URI_PARTS, rsp);
		goto out;
	}
	if (json) {
		cJSON_DeleteItemFromObjectCaseSensitive(rsp, "id");
		if ((s = mob_json_print(rsp)) == NULL) {
			rc = CLI_EXIT_ERROR;
			goto out;
		}
		printf("%s\n", s);
		cJSON_free(s);
		goto out;
	}
	if (u.depth < MOB_URI_PARTS) {
		rc = print_object(argv[optind],
		    cJSON_GetObjectItemCaseSensitive(rsp, "object"));
		goto out;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(rsp, "value")) == NULL) {
		cli_error("get", "%s: the answer has no value", argv[optind]);
		rc = CLI_EXIT_ERROR;
		goto out;
	}
	cli_fmt_value(v, val, sizeof(val));
	units = cJSON_GetObjectItemCaseSensitive(rsp, "units");
	if (!cJSON_IsString(units) && (res = cli_node_res(&n, &u)) != NULL)
		units = cJSON_GetObjectItemCaseSensitive(res, "units");
	if (cJSON_IsString(units) && *units->valuestring != '\0' &&
	    !cJSON_IsNull(v))
		printf("%s %s\n", val, units->valuestring);
	else
		printf("%s\n", val);
 out:
	cJSON_Delete(req);
	cJSON_Delete(rsp);
	cli_node_close(&n);
	return rc;
}

static int
parse_bool(const char *s, int *b)
{
	static const char *t[] = { "true", "on", "1", "yes" };
	static const char *f[] = { "false", "off", "0", "no" };
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcasecmp(s, t[i]) == 0) {
			*b = 1;
			return 0;
		}
		if (strcasecmp(s, f[i]) == 0) {
			*b = 0;
			return 0;
		}
	}
	return -1;
}

/*
 * VALUE as the resource's type (from its description); without one, a
 * number or true/false when it reads as such, otherwise text.
 */
static cJSON *
parse_value(const char *s, const cJSON *res, const char *uri)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(res, "type");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(res, "name");
	const char *tn = cJSON_IsString(type) ? type->valuestring : NULL;
	const char *rn = cJSON_IsString(name) ? name->valuestring : uri;
	double d;
	int b;

	if (tn == NULL) {
		if (mob_parse_number(s, &d) == 0)
			return cJSON_CreateNumber(d);
		if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
			return cJSON_CreateBool(s[0] == 't');
		return cJSON_CreateString(s);
	}
	if (strcmp(tn, "bool") == 0) {
		if (parse_bool(s, &b) == 0)
			return cJSON_CreateBool(b);
		cli_usage_error("set", "VALUE \"%s\": %s is a bool: use true "
		    "or false (on/off, 1/0)", s, rn);
		return NULL;
	}
	if (strcmp(tn, "number") == 0) {
		if (mob_parse_number(s, &d) == 0)
			return cJSON_CreateNumber(d);
		cli_usage_error("set", "VALUE \"%s\": %s is a number: give "
		    "a decimal number (e.g. 21.5, -5, 1e3)", s, rn);
		return NULL;
	}
	if (strcmp(tn, "timespan") == 0) {
		if (mob_parse_timespan(s, &d) == 0)
			return cJSON_CreateNumber(d);
		cli_usage_error("set", "VALUE \"%s\": %s is a timespan: give "
		    "seconds, or a number with s, m, h or d (e.g. 90, 15m, 1h)",
		    s, rn);
		return NULL;
	}
	return cJSON_CreateString(s);
}

/*
 * Negative numbers look like options: move any "-<digit>..." argument
 * that is not an option's value behind a "--" so it stays VALUE.
 */
static void
protect_negative(int argc, char *argv[])
{
	static const char *const withval[] = {
		"--priority", "-p", "--socket", "--key", "--timeout",
	};
	char *neg[8];
	int i, j, k, nneg = 0, isval;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return;
	for (i = 1, j = 1; i < argc; i++) {
		isval = 0;
		for (k = 0; k < (int)(sizeof(withval) / sizeof(withval[0])); k++)
			if (strcmp(argv[i - 1], withval[k]) == 0)
				isval = 1;
		if (!isval && argv[i][0] == '-' &&
		    ((argv[i][1] >= '0' && argv[i][1] <= '9') ||
		    argv[i][1] == '.') && nneg < 8)
			neg[nneg++] = argv[i];
		else
			argv[j++] = argv[i];
	}
	if (nneg == 0)
		return;
	/* j + 1 + nneg == argc + 1: argv[argc] (NULL) takes the "--". */
	argv[j++] = "--";
	for (k = 0; k < nneg; k++)
		argv[j++] = neg[k];
}

int
cmd_set(int argc, char *argv[], struct cli_opts *o)
{
	static const struct option lo[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_node n;
	struct mob_uri u;
	char **av = NULL;
	cJSON *req = NULL, *rsp = NULL, *v;
	long prio = 16;
	int ch, rc;

	/* One more slot for the "--" protect_negative may insert. */
	if ((av = calloc((size_t)argc + 2, sizeof(*av))) == NULL)
		return CLI_EXIT_ERROR;
	memcpy(av, argv, (size_t)argc * sizeof(*av));
	protect_negative(argc, av);
	if (av[argc] != NULL)
		argc++;
	argv = av;

	memset(&n, 0, sizeof(n));
	rc = CLI_EXIT_USAGE;
	while ((ch = cli_getopt(argc, argv, "p:", lo, o, "set")) != -1) {
		if (ch != 'p' || parse_prio("set", optarg, &prio) != 0)
			goto out;
	}
	if (argc - optind > 2) {
		cli_usage_error("set", "too many arguments");
		goto out;
	}
	if (argc - optind < 2) {
		cli_usage_error("set", "%s missing", argc - optind < 1 ?
		    "URI and VALUE" : "VALUE");
		goto out;
	}
	if (parse_res_uri("set", argv[optind], &u, 0) != 0)
		goto out;

	if ((rc = cli_node_open(&n, o, "set")) != CLI_EXIT_OK ||
	    (rc = watch_service(&n, &u)) != CLI_EXIT_OK)
		goto out;
	/*
	 * The type of VALUE comes from the service's retained description,
	 * which arrives right after subscribing.  Without one (a service the
	 * hub does not know) the request goes out as typed and the hub's
	 * answer says why.
	 */
	if (cli_node_settle(&n, 100, o->timeout_ms) != 0) {
		rc = CLI_EXIT_TIMEOUT;
		goto out;
	}
	rc = CLI_EXIT_USAGE;
	if ((v = parse_value(argv[optind + 1], cli_node_res(&n, &u),
	    argv[optind])) == NULL)
		goto out;
	rc = CLI_EXIT_ERROR;
	if ((req = mob_client_req_new("write", &u)) == NULL) {
		cJSON_Delete(v);
		goto out;
	}
	if (mob_json_add(req, "value", v) != 0 ||
	    cJSON_AddNumberToObject(req, "priority", (double)prio) == NULL)
		goto out;
	rc = cli_node_request(&n, &u, req, &rsp);
 out:
	cJSON_Delete(req);
	cJSON_Delete(rsp);
	cli_node_close(&n);
	free(av);
	return rc;
}

int
cmd_clear(int argc, char *argv[], struct cli_opts *o)
{
	static const struct option lo[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_node n;
	struct mob_uri u;
	cJSON *req = NULL, *rsp = NULL;
	long prio = 0;
	int ch, rc;

	while ((ch = cli_getopt(argc, argv, "p:", lo, o, "clear")) != -1) {
		if (ch != 'p' || parse_prio("clear", optarg, &prio) != 0)
			return CLI_EXIT_USAGE;
	}
	if (prio == 0)
		return cli_usage_error("clear", "--priority N is required: "
		    "which slot to clear");
	if (argc - optind != 1)
		return cli_usage_error("clear", argc - optind < 1 ?
		    "URI missing" : "too many arguments");
	if (parse_res_uri("clear", argv[optind], &u, 0) != 0)
		return CLI_EXIT_USAGE;

	memset(&n, 0, sizeof(n));
	if ((rc = cli_node_open(&n, o, "clear")) != CLI_EXIT_OK ||
	    (rc = watch_service(&n, &u)) != CLI_EXIT_OK)
		goto out;
	rc = CLI_EXIT_ERROR;
	if ((req = mob_client_req_new("clear", &u)) == NULL ||
	    cJSON_AddNumberToObject(req, "priority", (double)prio) == NULL)
		goto out;
	rc = cli_node_request(&n, &u, req, &rsp);
 out:
	cJSON_Delete(req);
	cJSON_Delete(rsp);
	cli_node_close(&n);
	return rc;
}
