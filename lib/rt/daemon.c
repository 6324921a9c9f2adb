/*
 * The skeleton the daemons share (lib/rt/mobius/daemon.h): the command
 * line from one table, the sandbox phase.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mobius/daemon.h"
#include "mobius/keyring.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/version.h"

#define OPT_MAX		32	/* common and own options together */
#define OPT_VERSION	256
#define RW_MAX		8	/* a daemon's own writable paths */

static const struct mob_daemon_option common_opts[] = {
	{ "config", 'c', "FILE", NULL },	/* help: d->config_help */
	{ "key", 'k', "FILE", "this service's key file (mobius-keytool add)" },
	{ "socket", 's', "PATH", "the hub's socket (default "
	    MOB_HUB_SOCKET_DEFAULT ")" },
	{ "no-sandbox", 'n', NULL, "do not confine the process (debugging only)" },
	{ "verbose", 'v', NULL, "verbose logging (debug messages)" },
	{ "help", 'h', NULL, "print this help and exit" },
	{ "version", OPT_VERSION, NULL, "print the version and exit" },
	{ NULL, 0, NULL, NULL },
};

static void
usage_opt(FILE *fp, const struct mob_daemon_option *op, const char *help)
{
	char lhs[64];
	const char *nl;

	if (help == NULL)
		help = "";
	snprintf(lhs, sizeof(lhs), "%c%c%c --%s%s%s",
	    op->ch < 256 ? '-' : ' ', op->ch < 256 ? op->ch : ' ',
	    op->ch < 256 ? ',' : ' ', op->name, op->arg ? " " : "",
	    op->arg ? op->arg : "");
	/* Continuation lines line up under the first. */
	while ((nl = strchr(help, '\n')) != NULL) {
		fprintf(fp, "  %-24s %.*s\n", lhs, (int)(nl - help), help);
		lhs[0] = '\0';
		help = nl + 1;
	}
	fprintf(fp, "  %-24s %s\n", lhs, help);
}

void
mob_daemon_usage(const struct mob_daemon *d, FILE *fp)
{
	const struct mob_daemon_option *op;

	fprintf(fp, "usage: %s --config FILE --key FILE [option ...]\n",
	    d->name);
	if (d->summary != NULL)
		fprintf(fp, "%s\n", d->summary);
	fprintf(fp, "\noptions:\n");
	for (op = common_opts; op->name != NULL; op++) {
		usage_opt(fp, op, op->ch == 'c' ? d->config_help : op->help);
		/* the daemon's own options after --socket */
		if (op->ch == 's' && d->options != NULL)
			for (const struct mob_daemon_option *x = d->options;
			    x->name != NULL; x++)
				usage_opt(fp, x, x->help);
	}
}

static __attribute__((noreturn)) void
usage_exit(const struct mob_daemon *d, int status)
{
	mob_daemon_usage(d, status ? stderr : stdout);
	exit(status);
}

/* getopt_long's table and short option string from both tables. */
static void
getopt_table(const struct mob_daemon *d, struct option *lo, char *so, size_t sosz)
{
	const struct mob_daemon_option *tabs[2] = { common_opts, d->options };
	size_t n = 0, k = 0;

	for (size_t t = 0; t < 2; t++) {
		for (const struct mob_daemon_option *op = tabs[t];
		    op != NULL && op->name != NULL; op++) {
			if (n >= OPT_MAX - 1 || k + 3 >= sosz)
				fatalx("%s: too many options", d->name);
			lo[n].name = op->name;
			lo[n].has_arg = op->arg ? required_argument : no_argument;
			lo[n].flag = NULL;
			lo[n].val = op->ch;
			n++;
			if (op->ch < 256) {
				so[k++] = (char)op->ch;
				if (op->arg)
					so[k++] = ':';
			}
		}
	}
	memset(&lo[n], 0, sizeof(lo[n]));
	so[k] = '\0';
}

/*
 * Mobius's own service profiles, as `make run` and docs/services.md give
 * them.  A key of one of them given to another daemon makes that daemon
 * run as the identity (the operator's CLI key given to mobius-sim): say
 * so.  A profile outside the table (a site's own, 001F) is not guessed at.
 */
static const struct {
	const char *spid, *what;
} known_spids[] = {
	{ "0010", "mobius-sim" }, { "0020", "mobius-modbus" },
	{ "0030", "mobius-gpio" }, { "00A0", "mobius-api" },
	{ "00C1", "the mobius CLI" }, { "00F0", "mobius-router" },
};

static void
check_spid(const struct mob_daemon *d, const char *keyfile)
{
	struct mob_kr_entry own;
	char err[256];
	size_t i;

	/* a key that does not load is reported once, by the client */
	if (d->spid == NULL ||
	    mob_keyfile_load_own(keyfile, &own, err, sizeof(err)) != 0)
		return;
	mob_key_free(own.key);
	if (strcmp(own.spid, d->spid) == 0)
		return;
	for (i = 0; i < sizeof(known_spids) / sizeof(known_spids[0]); i++)
		if (strcmp(own.spid, known_spids[i].spid) == 0) {
			log_warnx("warning: %s is a key of SPID %s (%s), not "
			    "%s's SPID %s: this runs as %s/%s; make its own key "
			    "with mobius-keytool add %s/SID", keyfile, own.spid,
			    known_spids[i].what, d->name, d->spid, own.spid,
			    own.id + 7, d->spid);
			return;
		}
}

void
mob_daemon_args(const struct mob_daemon *d, void *arg, int argc,
    char *argv[], struct mob_daemon_opts *o)
{
	struct option lo[OPT_MAX];
	char so[2 * OPT_MAX + 1];
	int ch;

	memset(o, 0, sizeof(*o));
	getopt_table(d, lo, so, sizeof(so));
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 'k': o->ccfg.keyfile = optarg; break;
		case 's': o->ccfg.socket = optarg; break;
		case 'n': o->no_sandbox = 1; break;
		case 'v': o->verbose++; break;
		case 'h': usage_exit(d, 0);
		case OPT_VERSION:
			mob_version_print(stdout, d->name);
			exit(0);
		default:
			if (ch == '?' || d->option == NULL ||
			    d->option(arg, ch, optarg) != 0)
				usage_exit(d, 2);
		}
	}
	if (optind != argc || o->config == NULL || o->ccfg.keyfile == NULL)
		usage_exit(d, 2);
	log_init(d->name, o->verbose);
	check_spid(d, o->ccfg.keyfile);
}

const char *
mob_daemon_socket(const struct mob_daemon_opts *o)
{
	return o->ccfg.socket != NULL ? o->ccfg.socket : MOB_HUB_SOCKET_DEFAULT;
}

void
mob_daemon_hub_fatal(const struct mob_daemon_opts *o, int rc, int timeout_ms)
{
	if (rc == MOB_ESYS || rc == MOB_ETIMEOUT)
		fatalx("hub %s: not reachable within %d s (why is logged above); "
		    "exiting", mob_daemon_socket(o), timeout_ms / 1000);
	fatalx("hub %s: %s", mob_daemon_socket(o), mob_strerror(rc));
}

/*
 * rw_paths and the state directory ($STATE_DIRECTORY: the slots file of
 * mobius/persist.h is rewritten there).
 */
static void
sandbox_opts(const struct mob_daemon_opts *o, const char *const *rw_paths,
    struct mob_sandbox_opts *sbo)
{
	static char state[PATH_MAX];
	static const char *rw[RW_MAX + 2];
	const char *dir = getenv("STATE_DIRECTORY");
	size_t n = 0;

	memset(sbo, 0, sizeof(*sbo));
	sbo->no_sandbox = o->no_sandbox;
	sbo->hub_socket = mob_daemon_socket(o);
	for (; rw_paths != NULL && rw_paths[n] != NULL && n < RW_MAX; n++)
		rw[n] = rw_paths[n];
	if (dir != NULL && *dir != '\0') {
		snprintf(state, sizeof(state), "%.*s", (int)strcspn(dir, ":"), dir);
		rw[n++] = state;
	}
	rw[n] = NULL;
	sbo->rw_paths = rw;
}

uid_t
mob_daemon_user(const struct mob_daemon *d, const struct mob_daemon_opts *o)
{
	struct mob_sandbox_opts sbo;
	uid_t uid;
	gid_t gid;

	sandbox_opts(o, NULL, &sbo);
	if (mob_sandbox_user(d->profile, &sbo, &uid, &gid) != 0 ||
	    uid == (uid_t)-1)
		return 0;
	return uid;
}

void
mob_daemon_confine_ro(const struct mob_daemon *d,
    const struct mob_daemon_opts *o, const char *const *rw_paths,
    const char *const *ro_paths)
{
	struct mob_sandbox_opts sbo;

	sandbox_opts(o, rw_paths, &sbo);
	sbo.ro_paths = ro_paths;
	if (mob_sandbox_enter(d->profile, &sbo) != 0)
		fatalx("cannot enter the sandbox");
}

void
mob_daemon_confine(const struct mob_daemon *d, const struct mob_daemon_opts *o,
    const char *const *rw_paths)
{
	mob_daemon_confine_ro(d, o, rw_paths, NULL);
}
