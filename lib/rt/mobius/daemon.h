/*
 * The skeleton every daemon follows (docs/services.md), after OpenBSD
 * ntpd: nothing a peer sends is parsed before the process is confined.
 *
 *   config   mob_daemon_args(): the command line (--help and --version
 *            answered from the table, a usage error exits 2); then the
 *            daemon's own config file and key file, both local.
 *   open     what needs privilege or paths the sandbox hides: devices,
 *            sockets, the hub connection opened without reading from it
 *            (mob_service_open(), mob_client_open()).
 *   sandbox  mob_daemon_confine(): fatal on any error.
 *   loop     log in (mob_service_start(): the hub's CONNACK and key
 *            bundle are the first peer bytes read), then serve
 *            (mob_service_run()).
 *
 * A main() reads, with a comment a phase:
 *
 *	static const struct mob_daemon_option opts[] = {
 *		{ "port", 'p', "N", "use TCP port N for every TCP device" },
 *		{ NULL, 0, NULL, NULL },
 *	};
 *	static const struct mob_daemon daemon = { "mobius-x", "what it is",
 *	    "what --config holds", opts, own_option, &mob_sandbox_x, "00X0" };
 *
 *	mob_daemon_args(&daemon, &x, argc, argv, &o);		config
 *	mob_service_new(&o.ccfg, &svc); ... read o.config ...
 *	... open devices ...; mob_service_open(svc);		open
 *	mob_daemon_confine(&daemon, &o, rw_paths);		sandbox
 *	mob_service_start(svc, 30000); mob_service_run(svc);	loop
 *
 * A daemon that is not a mob_service (router, API) uses the same calls
 * with mob_client_open() / mob_client_connect() instead.
 */
#ifndef MOBIUS_DAEMON_H
#define MOBIUS_DAEMON_H

#include <stdio.h>
#include <sys/types.h>

#include "mobius/client.h"
#include "mobius/sandbox.h"

/* The options every daemon has. */
struct mob_daemon_opts {
	const char *config;		/* --config */
	struct mob_client_cfg ccfg;	/* --key, --socket */
	int no_sandbox;			/* --no-sandbox */
	int verbose;			/* -v, --verbose (counted) */
};

/*
 * One option of a daemon's own: getopt_long's table and --help are both
 * written from it.  ch is the short letter (or a value above 255 for a
 * long option alone); arg names the argument ("N"), NULL for a flag.
 * help may hold "\n" to continue on the next line.
 */
struct mob_daemon_option {
	const char *name;
	int ch;
	const char *arg;
	const char *help;
};

struct mob_daemon {
	const char *name;		/* "mobius-modbus": logs, --help, --version */
	const char *summary;		/* one line under the usage line */
	const char *config_help;	/* what --config FILE holds */
	const struct mob_daemon_option *options;	/* own; NULL name ends; may be NULL */
	/* Own option ch with its argument: 0, or -1 for a usage error. */
	int (*option)(void *arg, int ch, const char *optarg);
	const struct mob_sandbox_profile *profile;
	/*
	 * The service profile (SPID) of this daemon's keys, e.g. "0010":
	 * mob_daemon_args warns when --key holds another of Mobius's own
	 * profiles (docs/services.md "Service profiles").  NULL: no check.
	 */
	const char *spid;
};

/*
 * The config phase's command line: common options into o, the daemon's
 * own through d->option(arg, ...).  --help prints the usage to stdout and
 * exits 0; --version prints "NAME VERSION" and exits 0; a usage error
 * prints the usage to stderr and exits 2.  --config and --key are
 * required.  Ends with log_init(d->name, o->verbose), then one warning
 * if the key's SPID is another daemon's (d->spid).
 */
void mob_daemon_args(const struct mob_daemon *d, void *arg, int argc,
    char *argv[], struct mob_daemon_opts *o);

/* The usage and every option, explained, on fp. */
void mob_daemon_usage(const struct mob_daemon *d, FILE *fp);

/* The hub socket the daemon uses (--socket or MOB_HUB_SOCKET_DEFAULT). */
const char *mob_daemon_socket(const struct mob_daemon_opts *o);

/*
 * The last line of a daemon whose first login to the hub failed (rc of
 * mob_client_connect or mob_service_start): a hub still unreachable at
 * the deadline is said as such, not as the errno of the last dial (each
 * cause was logged once as it happened); exits 1 for the service manager
 * to restart it.
 */
void mob_daemon_hub_fatal(const struct mob_daemon_opts *o, int rc,
    int timeout_ms) __attribute__((noreturn));

/*
 * The user the sandbox phase will switch to (mob_sandbox_user()), so that
 * the open phase can accept or hand over what that user must write; 0
 * when there is no switch.
 */
uid_t mob_daemon_user(const struct mob_daemon *d,
    const struct mob_daemon_opts *o);

/*
 * The sandbox phase: confine the process with d->profile; the hub
 * socket's directory stays reachable (to reconnect), rw_paths
 * (NULL-terminated, may be NULL, at most 8) and the state directory
 * ($STATE_DIRECTORY, mobius/persist.h) writable.  Any error is fatal:
 * the process may be half-confined.
 */
void mob_daemon_confine(const struct mob_daemon *d,
    const struct mob_daemon_opts *o, const char *const *rw_paths);
/*
 * The same, with ro_paths (NULL-terminated, may be NULL) kept visible
 * read-only even under /tmp: files the daemon re-reads while it runs
 * (the API's tokens and certificate).
 */
void mob_daemon_confine_ro(const struct mob_daemon *d,
    const struct mob_daemon_opts *o, const char *const *rw_paths,
    const char *const *ro_paths);

#endif
