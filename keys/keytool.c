/*
 * mobius-keytool: creates and manages every key of a node (docs/keys.md).
 *
 * Every command that writes takes DIR/.lock first, reads what it changes
 * under the lock and writes each file atomically (mode 0600), so two
 * keytools never lose each other's changes and a crash leaves either the
 * old or the new file.  Key material is printed only by `list
 * --show-secret`; tokens are printed by `token`, which is what it is for.
 *
 * This file: the command line, the command table and main.  A command
 * family lives in a file of its own (init.c, service.c, token.c, peer.c,
 * reload.c) over the key directory's helpers (store.c), all declared in
 * internal.h.
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "mobius/log.h"
#include "mobius/proto.h"
#include "mobius/version.h"

static const struct kt_cmd *kt_current;
static const struct kt_cmd kt_cmds[];

static void
kt_usage_all(FILE *f)
{
	fprintf(f, "usage: mobius-keytool [--dir DIR] COMMAND [ARGS]\n\n"
	    "Creates and manages the keys of a Mobius node (docs/keys.md).\n\n"
	    "commands:\n");
	for (const struct kt_cmd *c = kt_cmds; c->name != NULL; c++)
		fprintf(f, "  %s %s\n      %s\n", c->name, c->args, c->help);
	fprintf(f, "\noptions:\n"
	    "  --dir DIR   key directory (default " MOB_KEYS_DIR_DEFAULT ")\n"
	    "  -h, --help  this text (also: help); help COMMAND or COMMAND --help\n"
	    "              for one command\n"
	    "  --version   print the version and exit\n\n"
	    "exit status: 0 success, 1 failure, 2 usage error\n");
}

/* A usage error in the current command: message, its usage line, 2. */
int MOB_PRINTF(1, 2)
kt_usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "mobius-keytool: ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, "\n");
	}
	if (kt_current != NULL)
		fprintf(stderr, "usage: mobius-keytool [--dir DIR] %s %s\n",
		    kt_current->name, kt_current->args);
	else
		kt_usage_all(stderr);
	return KT_EUSAGE;
}

static int
kt_help(void)
{
	printf("usage: mobius-keytool [--dir DIR] %s %s\n  %s\n",
	    kt_current->name, kt_current->args, kt_current->help);
	return 0;
}

/*
 * The options of a command (plus -h, --help).  Returns KT_GO for the
 * command to go on, else the exit status (help shown, or a usage error).
 */
int
kt_getopt(int argc, char **argv, const struct kt_opt *o)
{
	struct option lo[KT_OPTS_MAX + 2];
	char so[3 * KT_OPTS_MAX + 2], *sp = so;
	size_t i, n;
	int ch, r;

	for (n = 0; o[n].name != NULL; n++) {
		if (n == KT_OPTS_MAX)
			fatalx("%s: too many options", kt_current->name);
		lo[n].name = o[n].name;
		lo[n].has_arg = o[n].flag == NULL ? required_argument :
		    no_argument;
		lo[n].flag = NULL;
		lo[n].val = o[n].short_name != 0 ? o[n].short_name :
		    256 + (int)n;
		if (o[n].short_name != 0) {
			*sp++ = (char)o[n].short_name;
			if (o[n].flag == NULL)
				*sp++ = ':';
		}
	}
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n + 1] = (struct option){ NULL, 0, NULL, 0 };
	*sp++ = 'h';
	*sp = '\0';
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		for (i = 0; i < n && lo[i].val != ch; i++)
			;
		if (i == n)	/* -h, --help, or an option we do not know */
			return ch == 'h' ? kt_help() : kt_usage(NULL);
		if (o[i].parse != NULL) {
			if ((r = o[i].parse(optarg, o[i].val)) != 0)
				return r;
		} else if (o[i].str != NULL)
			*o[i].str = optarg;
		else
			*o[i].flag = 1;
	}
	return KT_GO;
}

/*
 * A timespan as mobius takes one (mob_parse_timespan: "90", "15m",
 * "1.5h", "2d") in whole seconds, 0..KT_GRACE_MAX.
 */
int
kt_parse_duration(const char *s, int64_t *out)
{
	double d;

	if (mob_parse_timespan(s, &d) != 0 || !(d >= 0 && d <= KT_GRACE_MAX) ||
	    d != floor(d))
		return -1;
	*out = (int64_t)d;
	return 0;
}

static const struct kt_cmd kt_cmds[] = {
	{ "init", cmd_init, "--hid HID [--mode hardened|compat] [--force]",
	    "create the node's keyring and hub key (mode hardened = EdDSA)" },
	{ "add", cmd_add, "SPID/SID [--user USER]",
	    "create a service key: DIR/SID.key and its keyring entry" },
	{ "list", cmd_list, "[--keyring FILE] [--show-secret]",
	    "show the keys (fingerprint: SHA256:base64, as OpenSSH)" },
	{ "revoke", cmd_revoke, "SPID/SID",
	    "revoke a service's keys and remove its key file" },
	{ "rotate", cmd_rotate, "SPID/SID [--grace DURATION]",
	    "new service key; the old one stays valid for the grace (1h)" },
	{ "pubkey", cmd_pubkey, "FILE",
	    "print the public half of a key file (its keyring line)" },
	{ "token", cmd_token, "SPID/SID | --key FILE",
	    "print an MQTT password token for the service" },
	{ "verify", cmd_verify, "[--topic TOPIC] [--keyring FILE] "
	    "[--window DURATION] TOKEN|- | --stream",
	    "check a token, a signed message with --topic, or with --stream "
	    "each `mosquitto_sub -v` line on stdin" },
	{ "export-peer", cmd_export_peer, "[--sid SID] [--user USER]",
	    "print the router's external public key (made on first use)" },
	{ "import-peer", cmd_import_peer, "[--replace] FILE|-",
	    "add a remote node's peer key to DIR/peers (the routers' peers)" },
	{ "remove-peer", cmd_remove_peer, "HID/SID",
	    "remove a remote node's peer key from DIR/peers" },
	{ "rotate-peer", cmd_rotate_peer, "[--sid SID] [--grace DURATION]",
	    "new router external key; the old one stays valid for the grace (1h)" },
	{ "reload", cmd_reload, "[--unit UNIT] [--state DIR] [--timeout S] "
	    "[--no-sandbox]",
	    "make the running hub re-read its keys" },
	{ "api-token", cmd_api_token, KT_API_TOKEN_USAGE,
	    "mobius-api tokens, scoped by verb (read, write, rw) and URI pattern" },
	{ "api-cert", cmd_api_cert, "[--force]",
	    "mobius-api's TLS key and self-signed certificate (init makes one)" },
	{ NULL, NULL, NULL, NULL }
};

/* What a command returned (0 or MOB_E*) as the exit status. */
static int
kt_exit(int r)
{
	if (r == 0)
		return 0;
	return r == KT_EUSAGE ? 2 : 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct kt kt = { MOB_KEYS_DIR_DEFAULT, "", "", "" };
	char help_opt[] = "--help", *hargv[] = { NULL, help_opt, NULL };
	const struct kt_cmd *c;
	int ch;

	log_init("mobius-keytool", getenv("MOBIUS_DEBUG") != NULL);
	umask(077);
	while ((ch = getopt_long(argc, argv, "+hd:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			kt.dir = optarg;
			break;
		case 'h':
			kt_usage_all(stdout);
			return 0;
		case 'V':
			mob_version_print(stdout, "mobius-keytool");
			return 0;
		default:
			return kt_exit(kt_usage(NULL));
		}
	}
	if (optind == argc)
		return kt_exit(kt_usage("a command is required"));
	/* help [COMMAND]: the overview, or what COMMAND --help prints */
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 == argc || strcmp(argv[optind + 1], "-h") == 0 ||
		    strcmp(argv[optind + 1], "--help") == 0) {
			kt_usage_all(stdout);
			return 0;
		}
		hargv[0] = argv[++optind];
		argv = hargv;
		argc = 2;
		optind = 0;
	}
	for (c = kt_cmds; c->name != NULL; c++)
		if (strcmp(c->name, argv[optind]) == 0)
			break;
	if (c->name == NULL)
		return kt_exit(kt_usage("unknown command \"%s\"", argv[optind]));
	kt_current = c;
	if (snprintf(kt.keyring, sizeof(kt.keyring), "%s/keyring", kt.dir) >=
	    (int)sizeof(kt.keyring) ||
	    snprintf(kt.hubkey, sizeof(kt.hubkey), "%s/hub.key", kt.dir) >=
	    (int)sizeof(kt.hubkey) ||
	    snprintf(kt.pidfile, sizeof(kt.pidfile), "%s/hub.pid", kt.dir) >=
	    (int)sizeof(kt.pidfile))
		return kt_exit(kt_usage("--dir is too long"));
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: restart the scan for the command's options */
	return kt_exit(c->fn(&kt, argc, argv));
}
