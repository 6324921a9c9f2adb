/*
 * mobius: the command-line client of a Mobius node (docs/cli.md).
 *
 *	mobius [OPTIONS] COMMAND [ARGS]
 *
 * Exit status: 0 ok, 1 error, 2 usage error, 3 timeout (hub or service
 * offline).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/proto.h"
#include "mobius/version.h"
#include "internal.h"

struct cli_cmd {
	const char *name;
	int (*fn)(int, char *[], struct cli_opts *);
	const char *summary;
	const char *usage;
	const char *help;
};

static const struct cli_cmd cmds[] = {
	{ "discover", cmd_discover,
	  "list services, objects and resources",
	  "mobius discover [--json] [HID[/SID]]",
	  "List the services of the node with their objects and resources, as a\n"
	  "table.  With HID or HID/SID, only that hub or service.  Descriptions are\n"
	  "the ones services publish when they start (retained on the hub); a\n"
	  "service that is offline now is shown with its last description and\n"
	  "state \"offline\".\n"
	  "\n"
	  "  --json        one JSON description per service and line\n" },
	{ "get", cmd_get,
	  "read the present value of a resource",
	  "mobius get [--json | --senml] URI",
	  "Ask the owning service for the present value of a resource and print\n"
	  "it with its units.  URI is HID/SID/PID/INS/RID in upper-case hex, e.g.\n"
	  "000001/010/0101/0001/40.  An object URI (HID/SID/PID/INS) prints all\n"
	  "its resources with their values as a table.\n"
	  "\n"
	  "  --json        print the service's whole answer as JSON\n"
	  "  --senml       print the value(s) as one SenML pack (RFC 8428)\n"
	  "\n"
	  "A service the hub reports offline, or one it does not know, fails at\n"
	  "once with exit status 3 and the hub's reason.\n" },
	{ "set", cmd_set,
	  "write a value at a priority",
	  "mobius set [--priority N] URI VALUE",
	  "Write VALUE into priority slot N of a writable resource.  The present\n"
	  "value is the value of the highest-priority slot that is set (1 is the\n"
	  "highest, 16 the lowest).  VALUE is read as the resource's type: a\n"
	  "decimal number (never 0x10), a timespan in seconds or with a unit s,\n"
	  "m, h or d (90, 15m, 1h), true/false (also on/off, 1/0), or text.\n"
	  "\n"
	  "  --priority N  slot 1..16 (default 16)\n" },
	{ "clear", cmd_clear,
	  "clear a priority slot",
	  "mobius clear --priority N URI",
	  "Clear priority slot N of a writable resource, so that a lower priority\n"
	  "(or the default) takes effect again.\n"
	  "\n"
	  "  --priority N  slot 1..16 (required)\n" },
	{ "status", cmd_status,
	  "the hub's counters",
	  "mobius status [--json]",
	  "Print the hub's own state and counters as a table: clients, logins\n"
	  "accepted and refused (by reason), messages verified and dropped (by\n"
	  "reason), requests refused, keyring generation.  They come from the\n"
	  "state the hub signs and publishes (retained mob/state/HID/000) every\n"
	  "stats interval.\n"
	  "\n"
	  "  --json        the hub's state as one JSON object per line\n" },
	{ "watch", cmd_watch,
	  "stream changes of value (COV)",
	  "mobius watch [--json | --senml] [--count N] [--duration SECONDS] [PATTERN]",
	  "Print every change of value as it happens, one line each: time (UTC),\n"
	  "URI, resource name, value and units.  The current values come first.\n"
	  "PATTERN is a URI or a prefix of one; \"+\" matches any one part and a\n"
	  "final \"#\" the rest (e.g. 000001/+/+/+/40).  Default: everything.\n"
	  "If the hub restarts, watch reconnects and goes on: the COVs a service\n"
	  "sent that the hub did not deliver are asked from that service and\n"
	  "printed in order, once (a gap it cannot close is said on stderr).\n"
	  "Values of a service the hub reports offline are marked offline in every format (text\n"
	  "\"(offline)\", JSON \"status\":\"offline\", SenML \"status_\":\"offline\")\n"
	  "and printed again so marked when the service goes offline.\n"
	  "\n"
	  "  --json        one JSON object per line: time, t (unix ms), uri, name,\n"
	  "                value, units, status\n"
	  "  --senml       one SenML pack (RFC 8428, JSON) per line\n"
	  "  --count N     stop after N lines\n"
	  "  --duration S  stop after S seconds\n" },
};

static const char common_help[] =
    "\n"
    "common options (before or after the command):\n"
    "  --socket PATH      hub socket (default $MOBIUS_SOCKET, else " MOB_HUB_SOCKET_DEFAULT ")\n"
    "  --key FILE         this client's key file (default $MOBIUS_KEY, else\n"
    "                     " MOB_KEYS_DIR_DEFAULT "/0C1.key, the key of\n"
    "                     identity 00C1/0C1)\n"
    "  --timeout SECONDS  wait at most this long for the hub and for answers\n"
    "                     (default 5)\n"
    "  -v, --verbose      log protocol details to stderr\n"
    "  -h, --help         show help\n"
    "  --version          print the version and exit\n"
    "\n"
    "exit status: 0 ok, 1 error, 2 usage error, 3 timeout (hub or service\n"
    "offline)\n";

static const struct cli_cmd *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static void
help_main(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: mobius [OPTIONS] COMMAND [ARGS]\n\n"
	    "The command-line client of a Mobius node.\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(fp, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(fp, "  %-10s %s\n", "help", "show help for a command");
	fprintf(fp, "%s\nSee 'mobius COMMAND --help' for a command's arguments.\n",
	    common_help);
}

static void
help_cmd(const struct cli_cmd *c, FILE *fp)
{
	fprintf(fp, "usage: %s\n\n%s%s", c->usage, c->help, common_help);
}

static void
cli_vmsg(const char *cmd, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (cmd != NULL)
		fprintf(stderr, "mobius %s: %s\n", cmd, buf);
	else
		fprintf(stderr, "mobius: %s\n", buf);
}

void
cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmsg(cmd, fmt, ap);
	va_end(ap);
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	const struct cli_cmd *c = cmd != NULL ? cmd_find(cmd) : NULL;
	va_list ap;

	va_start(ap, fmt);
	cli_vmsg(cmd, fmt, ap);
	va_end(ap);
	if (c != NULL)
		fprintf(stderr, "usage: %s\n(see 'mobius %s --help')\n",
		    c->usage, c->name);
	else
		fprintf(stderr, "(see 'mobius --help')\n");
	return CLI_EXIT_USAGE;
}

int
cli_parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || *s == ' ' || *s == '+')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
cli_parse_seconds(const char *s, int *ms)
{
	double v;

	/* in range of an int of milliseconds before the conversion */
	if (mob_parse_timespan(s, &v) != 0 || v <= 0 || v > INT_MAX / 1000.0)
		return -1;
	*ms = (int)(v * 1000.0);
	if (*ms == 0)
		*ms = 1;
	return 0;
}

int
cli_exit_code(int err)
{
	switch (err) {
	case MOB_OK:
		return CLI_EXIT_OK;
	case MOB_ETIMEOUT:
	case MOB_EOFFLINE:
	case MOB_EBUSY:
		return CLI_EXIT_TIMEOUT;
	default:
		return CLI_EXIT_ERROR;
	}
}

enum { OPT_SOCKET = 0x100, OPT_KEY, OPT_TIMEOUT, OPT_VERSION };

static const struct option common_longopts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
};
#define NCOMMON (sizeof(common_longopts) / sizeof(common_longopts[0]))
#define MAXLONG 16

int
cli_getopt(int argc, char *argv[], const char *shortopts,
    const struct option *extra, struct cli_opts *o, const char *cmd)
{
	struct option longopts[NCOMMON + MAXLONG + 1];
	char sopts[32];
	size_t n = 0, i;
	int ch;

	for (i = 0; i < NCOMMON; i++)
		longopts[n++] = common_longopts[i];
	for (i = 0; extra != NULL && extra[i].name != NULL && i < MAXLONG; i++)
		longopts[n++] = extra[i];
	memset(&longopts[n], 0, sizeof(longopts[n]));
	/* ':' first: report a missing argument as ':' to name it ourselves. */
	snprintf(sopts, sizeof(sopts), "%s:hv%s", cmd == NULL ? "+" : "",
	    shortopts != NULL ? shortopts : "");

	for (;;) {
		opterr = 0;
		ch = getopt_long(argc, argv, sopts, longopts, NULL);
		switch (ch) {
		case OPT_SOCKET:
			o->socket = optarg;
			break;
		case OPT_KEY:
			o->keyfile = optarg;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_seconds(optarg, &o->timeout_ms) != 0) {
				cli_usage_error(cmd, "--timeout \"%s\": must be "
				    "a number of seconds above 0", optarg);
				return '?';
			}
			break;
		case 'v':
			o->verbose++;
			log_setverbose(o->verbose);
			break;
		case 'h':
			if (cmd == NULL)
				help_main(stdout);
			else
				help_cmd(cmd_find(cmd), stdout);
			exit(CLI_EXIT_OK);
		case OPT_VERSION:
			mob_version_print(stdout, "mobius");
			exit(CLI_EXIT_OK);
		case ':':
			cli_usage_error(cmd, "option %s needs a value",
			    argv[optind - 1]);
			return '?';
		case '?':
			if (optopt != 0 && optopt < 0x100)
				cli_usage_error(cmd, "unknown option -%c", optopt);
			else
				cli_usage_error(cmd, "unknown option %s",
				    argv[optind - 1]);
			return '?';
		default:
			return ch;
		}
	}
}

int
main(int argc, char *argv[])
{
	struct cli_opts o;
	const struct cli_cmd *c;
	const char *env;
	int ch;

	log_init("mobius", 0);
	signal(SIGPIPE, SIG_IGN);
	memset(&o, 0, sizeof(o));
	o.timeout_ms = CLI_TIMEOUT_DEFAULT;
	if ((env = getenv("MOBIUS_SOCKET")) != NULL && *env != '\0')
		o.socket = env;
	else
		o.socket = MOB_HUB_SOCKET_DEFAULT;
	if ((env = getenv("MOBIUS_KEY")) != NULL && *env != '\0')
		o.keyfile = env;
	else
		o.keyfile = MOB_KEYS_DIR_DEFAULT "/0C1.key";

	if ((ch = cli_getopt(argc, argv, "", NULL, &o, NULL)) == '?')
		return CLI_EXIT_USAGE;
	if (ch != -1)
		return cli_usage_error(NULL, "unexpected option");
	if (optind >= argc) {
		help_main(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 >= argc || strcmp(argv[optind + 1], "--help") == 0 ||
		    strcmp(argv[optind + 1], "-h") == 0) {
			help_main(stdout);
			return CLI_EXIT_OK;
		}
		if ((c = cmd_find(argv[optind + 1])) == NULL)
			return cli_usage_error(NULL, "no command \"%s\"",
			    argv[optind + 1]);
		help_cmd(c, stdout);
		return CLI_EXIT_OK;
	}
	if ((c = cmd_find(argv[optind])) == NULL)
		return cli_usage_error(NULL, "no command \"%s\"", argv[optind]);
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: restart getopt for the command's own options */
	return c->fn(argc, argv, &o);
}
