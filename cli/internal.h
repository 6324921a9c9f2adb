/*
 * mobius: the command-line client.  Private header of the cli/ sources.
 */
#ifndef MOBIUS_CLI_INTERNAL_H
#define MOBIUS_CLI_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mobius/uri.h"

struct cJSON;

/* Exit codes (docs/cli.md). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_ERROR = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_TIMEOUT = 3,	/* no answer in time, service or hub offline */
};

#define CLI_TIMEOUT_DEFAULT	5000	/* ms */

/* Options every command accepts (before or after the command name). */
struct cli_opts {
	const char *socket;
	const char *keyfile;
	int timeout_ms;
	int verbose;
};

enum cli_fmt { CLI_FMT_TEXT, CLI_FMT_JSON, CLI_FMT_SENML };

/* --- mobius.c: shared option handling --------------------------------- */

/*
 * Parse argv of one command with getopt_long.  The global options are
 * folded in so that "mobius get URI --timeout 2" works as well as
 * "mobius --timeout 2 get URI".  Returns the option character (like
 * getopt_long), -1 at the end, or '?' after printing a usage error.
 */
struct option;
int cli_getopt(int argc, char *argv[], const char *shortopts,
    const struct option *extra, struct cli_opts *o, const char *cmd);
/* Print "mobius CMD: msg" and a hint to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print "mobius CMD: msg" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Parse a strictly formed integer in [min, max]; 0 or -1. */
int cli_parse_int(const char *s, long min, long max, long *out);
/* A timespan (mob_parse_timespan) above 0 into milliseconds; 0 or -1. */
int cli_parse_seconds(const char *s, int *ms);
/* Exit code for a MOB_E* error. */
int cli_exit_code(int err);

/* --- commands --------------------------------------------------------- */

int cmd_discover(int argc, char *argv[], struct cli_opts *o);
int cmd_get(int argc, char *argv[], struct cli_opts *o);
int cmd_set(int argc, char *argv[], struct cli_opts *o);
int cmd_clear(int argc, char *argv[], struct cli_opts *o);
int cmd_watch(int argc, char *argv[], struct cli_opts *o);
int cmd_status(int argc, char *argv[], struct cli_opts *o);

/* --- format.c: output ------------------------------------------------- */

/* One change of value as printed by watch. */
struct cli_cov {
	char uri[MOB_URI_MAX];
	const char *name;		/* resource name, NULL if unknown */
	const char *units;		/* NULL or "" if none */
	const struct cJSON *value;	/* the present value, may be JSON null */
	const char *status;		/* "online", "offline" or NULL */
	int64_t time_ms;		/* when it changed (unix ms) */
};

/* "2026-11-22T02:50:01.123Z" */
void cli_fmt_time(int64_t ms, char *buf, size_t len);
/* A value as a person reads it: numbers plain, strings unquoted, null "-". */
void cli_fmt_value(const struct cJSON *v, char *buf, size_t len);
/*
 * One COV as one line (no newline) in the given format: text columns,
 * a JSON object, or a SenML pack (RFC 8428).  *out must be free()d.
 */
int cli_fmt_cov(enum cli_fmt fmt, const struct cli_cov *c, char **out);
/* Append c to a SenML pack (a cJSON array) as one record; 0 or MOB_E*. */
int cli_senml_add(struct cJSON *pack, const struct cli_cov *c);

/* A text table: columns padded to the widest cell. */
struct cli_table;
struct cli_table *cli_table_new(size_t ncols, const char *const *headers);
/* Copies the cells; NULL cells print as "". */
int cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(const struct cli_table *t, FILE *fp);
void cli_table_free(struct cli_table *t);

#endif
