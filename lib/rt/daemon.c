/*
 * The command line the service daemons share (lib/rt/mobius/daemon.h).
 */
#include <stddef.h>
#include <unistd.h>

#include "mobius/daemon.h"

int
mob_daemon_opt(struct mob_daemon_opts *o, int ch, const char *arg)
{
	switch (ch) {
	case 'c':
		o->config = arg;
		return 0;
	case 'k':
		o->ccfg.keyfile = arg;
		return 0;
	case 's':
		o->ccfg.socket = arg;
		return 0;
	case 'n':
		o->no_sandbox = 1;
		return 0;
	case 'v':
		o->verbose++;
		return 0;
	default:
		return -1;
	}
}

int
mob_daemon_opts_check(const struct mob_daemon_opts *o, int argc)
{
	if (optind != argc || o->config == NULL || o->ccfg.keyfile == NULL)
		return -1;
	return 0;
}

const char *
mob_daemon_socket(const struct mob_daemon_opts *o)
{
	return o->ccfg.socket != NULL ? o->ccfg.socket : MOB_HUB_SOCKET_DEFAULT;
}

void
mob_daemon_sandbox_opts(const struct mob_daemon_opts *o,
    struct mob_sandbox_opts *sbo)
{
	sbo->no_sandbox = o->no_sandbox;
	sbo->hub_socket = mob_daemon_socket(o);
}
