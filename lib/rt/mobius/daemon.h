/*
 * The command line every service daemon shares (docs/services.md):
 * --config FILE --key FILE [--socket PATH] [--no-sandbox] [-v] [-h], plus
 * options of its own.  A daemon puts MOB_DAEMON_LONGOPTS in its getopt_long
 * table, MOB_DAEMON_SHORTOPTS in its short options, handles -h and its own
 * options, and gives the rest to mob_daemon_opt().
 */
#ifndef MOBIUS_DAEMON_H
#define MOBIUS_DAEMON_H

#include "mobius/client.h"
#include "mobius/sandbox.h"

struct mob_daemon_opts {
	const char *config;		/* --config */
	struct mob_client_cfg ccfg;	/* --key, --socket */
	int no_sandbox;			/* --no-sandbox */
	int verbose;			/* -v, --verbose (counted) */
};

#define MOB_DAEMON_SHORTOPTS	"c:k:s:nvh"
#define MOB_DAEMON_LONGOPTS \
	{ "config", required_argument, NULL, 'c' }, \
	{ "key", required_argument, NULL, 'k' }, \
	{ "socket", required_argument, NULL, 's' }, \
	{ "no-sandbox", no_argument, NULL, 'n' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, 'h' }

/* Store common option ch (its argument arg): 0, or -1 when ch is not one. */
int mob_daemon_opt(struct mob_daemon_opts *o, int ch, const char *arg);

/* After getopt: 0 when there is no operand and --config, --key are given. */
int mob_daemon_opts_check(const struct mob_daemon_opts *o, int argc);

/* The hub socket the daemon uses (--socket or MOB_HUB_SOCKET_DEFAULT). */
const char *mob_daemon_socket(const struct mob_daemon_opts *o);

/* Fill the sandbox options every daemon sets (no_sandbox, hub_socket). */
void mob_daemon_sandbox_opts(const struct mob_daemon_opts *o,
    struct mob_sandbox_opts *sbo);

#endif
