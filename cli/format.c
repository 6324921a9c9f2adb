/*
 * Output of the mobius CLI: times, values, COV lines (text, JSON, SenML)
 * and tables.  JSON is always built with cJSON.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/time.h"
#include "internal.h"

void
cli_fmt_time(int64_t ms, char *buf, size_t len)
{
	/* a time gmtime cannot take: the number as sent */
	if (mob_time_format_ms(ms, buf, len) != 0)
		snprintf(buf, len, "%lld", (long long)ms);
}

void
cli_fmt_value(const cJSON *v, char *buf, size_t len)
{
	char *s;

	if (v == NULL || cJSON_IsNull(v))
		snprintf(buf, len, "-");
	else if (cJSON_IsBool(v))
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
	    fabs(v->valuedouble) <= 9007199254740991.0)
		/* an integer, digit for digit (%.15g rounds past 15 digits) */
		snprintf(buf, len, "%.0f", v->valuedouble);
	else if (cJSON_IsNumber(v))
		snprintf(buf, len, "%.15g", v->valuedouble);
	else if (cJSON_IsString(v))
		snprintf(buf, len, "%s", v->valuestring);
	else if ((s = mob_json_print((cJSON *)v)) != NULL) {
		snprintf(buf, len, "%s", s);
		cJSON_free(s);
	} else
		snprintf(buf, len, "?");
}

static int
fmt_text(const struct cli_cov *c, char **out)
{
	char ts[40], val[256];
	int n;

	cli_fmt_time(c->time_ms, ts, sizeof(ts));
	cli_fmt_value(c->value, val, sizeof(val));
	n = asprintf(out, "%s  %-23s  %-16s  %s%s%s%s", ts, c->uri,
	    c->name != NULL && *c->name != '\0' ? c->name : "-", val,
	    c->units != NULL && *c->units != '\0' ? " " : "",
	    c->units != NULL ? c->units : "",
	    c->status != NULL && strcmp(c->status, "offline") == 0 ?
	    "  (offline)" : "");
	if (n < 0) {
		*out = NULL;
		return MOB_ENOMEM;
	}
	return 0;
}

static int
fmt_json(const struct cli_cov *c, char **out)
{
	cJSON *o, *v = NULL;
	char ts[40];
	int r = MOB_ENOMEM;

	*out = NULL;
	cli_fmt_time(c->time_ms, ts, sizeof(ts));
	if ((o = cJSON_CreateObject()) == NULL)
		return MOB_ENOMEM;
	if (c->value != NULL)
		v = cJSON_Duplicate(c->value, 1);
	else
		v = cJSON_CreateNull();
	if (v == NULL)
		goto out;
	if (cJSON_AddStringToObject(o, "time", ts) == NULL ||
	    cJSON_AddNumberToObject(o, "t", (double)c->time_ms) == NULL ||
	    cJSON_AddStringToObject(o, "uri", c->uri) == NULL)
		goto out;
	if (c->name != NULL && cJSON_AddStringToObject(o, "name", c->name) == NULL)
		goto out;
	r = mob_json_add(o, "value", v);
	v = NULL;
	if (r != 0)
		goto out;
	r = MOB_ENOMEM;
	if (c->units != NULL && *c->units != '\0' &&
	    cJSON_AddStringToObject(o, "units", c->units) == NULL)
		goto out;
	if (c->status != NULL &&
	    cJSON_AddStringToObject(o, "status", c->status) == NULL)
		goto out;
	if ((*out = mob_json_print(o)) != NULL)
		r = 0;
 out:
	cJSON_Delete(v);
	cJSON_Delete(o);
	return r;
}

/*
 * SenML (RFC 8428) JSON: one record per resource.  The base name is the
 * object URI with a trailing "/", the name is the RID, so a resolved name
 * is the full resource URI.  Time is in seconds (may have a fraction).
 * Numbers go in "v", booleans in "vb", strings in "vs"; a null present
 * value has no value field (the resource has no value now).  A value from
 * an offline resource or service carries "status_":"offline": a label
 * ending in "_" is must-understand (RFC 8428 section 4.4), so a consumer
 * that does not know it refuses the record instead of taking a stale value
 * for a live one.  Live records carry no status.
 */
int
cli_senml_add(cJSON *pack, const struct cli_cov *c)
{
	cJSON *rec;
	const cJSON *v = c->value;
	const char *slash;
	char bn[MOB_URI_MAX];

	if ((slash = strrchr(c->uri, '/')) == NULL)
		return MOB_EURI;
	snprintf(bn, sizeof(bn), "%.*s", (int)(slash - c->uri + 1), c->uri);
	if (mob_json_add(pack, NULL, rec = cJSON_CreateObject()) != 0)
		return MOB_ENOMEM;
	if (cJSON_AddStringToObject(rec, "bn", bn) == NULL ||
	    cJSON_AddStringToObject(rec, "n", slash + 1) == NULL)
		return MOB_ENOMEM;
	if (c->units != NULL && *c->units != '\0' &&
	    cJSON_AddStringToObject(rec, "u", c->units) == NULL)
		return MOB_ENOMEM;
	if (v != NULL && cJSON_IsNumber(v)) {
		if (cJSON_AddNumberToObject(rec, "v", v->valuedouble) == NULL)
			return MOB_ENOMEM;
	} else if (v != NULL && cJSON_IsBool(v)) {
		if (cJSON_AddBoolToObject(rec, "vb", cJSON_IsTrue(v)) == NULL)
			return MOB_ENOMEM;
	} else if (v != NULL && cJSON_IsString(v)) {
		if (cJSON_AddStringToObject(rec, "vs", v->valuestring) == NULL)
			return MOB_ENOMEM;
	} else if (v != NULL && !cJSON_IsNull(v))
		return MOB_ETYPE;
	if (c->time_ms > 0 && cJSON_AddNumberToObject(rec, "t",
	    (double)c->time_ms / 1000.0) == NULL)
		return MOB_ENOMEM;
	if (c->status != NULL && strcmp(c->status, "offline") == 0 &&
	    cJSON_AddStringToObject(rec, "status_", "offline") == NULL)
		return MOB_ENOMEM;
	return 0;
}

static int
fmt_senml(const struct cli_cov *c, char **out)
{
	cJSON *pack;
	int r;

	*out = NULL;
	if ((pack = cJSON_CreateArray()) == NULL)
		return MOB_ENOMEM;
	if ((r = cli_senml_add(pack, c)) == 0 &&
	    (*out = mob_json_print(pack)) == NULL)
		r = MOB_ENOMEM;
	cJSON_Delete(pack);
	return r;
}

int
cli_fmt_cov(enum cli_fmt fmt, const struct cli_cov *c, char **out)
{
	switch (fmt) {
	case CLI_FMT_JSON:
		return fmt_json(c, out);
	case CLI_FMT_SENML:
		return fmt_senml(c, out);
	case CLI_FMT_TEXT:
	default:
		return fmt_text(c, out);
	}
}

/* --- tables ----------------------------------------------------------- */

struct cli_table {
	size_t ncols;
	size_t nrows;		/* including the header row */
	size_t cap;
	char **cells;		/* nrows * ncols */
};

struct cli_table *
cli_table_new(size_t ncols, const char *const *headers)
{
	struct cli_table *t;

	if (ncols == 0 || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->ncols = ncols;
	if (cli_table_add(t, headers) != 0) {
		cli_table_free(t);
		return NULL;
	}
	return t;
}

int
cli_table_add(struct cli_table *t, const char *const *cells)
{
	char **n;
	size_t i, base;

	if (t->nrows == t->cap) {
		size_t cap = t->cap == 0 ? 16 : t->cap * 2;

		if ((n = reallocarray(t->cells, cap * t->ncols, sizeof(*n))) == NULL)
			return MOB_ENOMEM;
		t->cells = n;
		t->cap = cap;
	}
	base = t->nrows * t->ncols;
	for (i = 0; i < t->ncols; i++) {
		t->cells[base + i] = strdup(cells[i] != NULL ? cells[i] : "");
		if (t->cells[base + i] == NULL) {
			while (i-- > 0)
				free(t->cells[base + i]);
			return MOB_ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

/* Columns on a terminal: UTF-8 continuation bytes take no room ("°C"). */
static size_t
text_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

void
cli_table_print(const struct cli_table *t, FILE *fp)
{
	size_t *w, r, c, len, last;

	if ((w = calloc(t->ncols, sizeof(*w))) == NULL)
		return;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++)
			if ((len = text_width(t->cells[r * t->ncols + c])) > w[c])
				w[c] = len;
	for (r = 0; r < t->nrows; r++) {
		char **row = &t->cells[r * t->ncols];

		/* No padding after the last non-empty cell of a row. */
		for (last = t->ncols; last > 1 && *row[last - 1] == '\0'; last--)
			;
		for (c = 0; c < last; c++) {
			fputs(row[c], fp);
			if (c + 1 < last)
				fprintf(fp, "%*s", (int)(w[c] - text_width(row[c]) + 2), "");
		}
		fputc('\n', fp);
	}
	free(w);
}

void
cli_table_free(struct cli_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
