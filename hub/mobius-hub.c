/*
 * mobius-hub: start the node's hub, mosquitto with our plugin
 * (docs/hub.md).  Reads the node's options from hub.conf and its drop-ins
 * (checked here with the plugin's own parser, so a bad value stops the hub
 * with its file:line), checks the keys, refuses a socket another hub
 * answers on, writes STATE/mosquitto.conf and, unless systemd supervises
 * it, KEYS/hub.pid; then execs mosquitto, so the pid in hub.pid is the
 * broker's and SIGHUP reaches it.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/keyring.h"
#include "mobius/log.h"
#include "mobius/proto.h"
#include "mobius/sandbox.h"
#include "mobius/version.h"

#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "internal.h"

#define HUB_MOSQUITTO_DEFAULT	"/usr/sbin/mosquitto"
#define HUB_PLUGIN_INSTALLED	"/usr/lib/mobius/mobius_hub.so"
#define HUB_MAX_QUEUED		1000	/* per client, then QoS 0 is dropped */
#define HUB_MAX_PACKET		(65536 + 1024)	/* envelope cap + topic */
#define HUB_MAX_OPTS		128	/* writers_SID: up to 64 alone */
#define HUB_CONF_LINE		1024

/* One plugin option and where it was set, for errors. */
struct hub_opt {
	char *name;
	char *value;
	char *where;			/* FILE:LINE or "--opt" */
};

struct hub_args {
	const char *keys;
	const char *sock;
	const char *listen;
	const char *cert;
	const char *key;
	const char *state;
	const char *plugin;
	const char *mosquitto;
	const char *config;		/* hub.conf: the unit names it */
	const char *cli[HUB_MAX_OPTS];	/* --opt NAME=VALUE, after the file */
	size_t ncli;
	struct hub_opt opts[HUB_MAX_OPTS];	/* plugin_opt_NAME VALUE */
	size_t nopts;
	int foreground;
	int verbose;
	int no_sandbox;
	char plugin_buf[PATH_MAX];
	char plugin_abs[PATH_MAX];
	char keys_abs[PATH_MAX];
	char state_abs[PATH_MAX];
	char conf[PATH_MAX];
	char pidfile[PATH_MAX];
};

/* --help (stdout, 0) or a usage error (stderr, 2); docs/hub.md. */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: mobius-hub [--keys DIR] "
	    "[--socket PATH] [--listen ADDR:PORT --tls-cert FILE --tls-key FILE]\n"
	    "                  [--state DIR] [--foreground] [--plugin PATH] "
	    "[--mosquitto PATH]\n"
	    "                  [--config FILE] [--opt NAME=VALUE]... "
	    "[--no-sandbox] [-v]\n"
	    "The hub of a Mobius node: mosquitto with the Mobius plugin "
	    "(docs/hub.md).\n\noptions:\n"
	    "  --keys DIR           keyring and hub.key (mobius-keytool init; "
	    "default %s)\n"
	    "  --socket PATH        the Unix socket, the normal listener "
	    "(default %s)\n"
	    "  --listen ADDR:PORT   an extra TCP listener, with TLS only\n"
	    "  --tls-cert FILE      the listener's certificate\n"
	    "  --tls-key FILE       the listener's private key\n"
	    "  --state DIR          mosquitto.conf and the persistence database "
	    "(default %s)\n"
	    "  --foreground         do not detach before starting mosquitto\n"
	    "  --plugin PATH        the plugin (default: ../lib/mobius_hub.so "
	    "beside this\n"
	    "                       program if present, else %s)\n"
	    "  --mosquitto PATH     the broker (default %s)\n"
	    "  --config FILE        the node's hub options, NAME = VALUE lines, "
	    "then FILE.d/*.conf\n"
	    "  --opt NAME=VALUE     one plugin option; wins over --config\n"
	    "  --no-sandbox         do not confine the launcher (debugging only)\n"
	    "  -v, --verbose        verbose logging\n"
	    "  -h, --help           print this help and exit\n"
	    "      --version        print the version and exit\n",
	    MOB_KEYS_DIR_DEFAULT, MOB_HUB_SOCKET_DEFAULT, MOB_HUB_STATE_DEFAULT,
	    HUB_PLUGIN_INSTALLED, HUB_MOSQUITTO_DEFAULT);
	exit(status);
}

static void
parse_args(struct hub_args *a, int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "keys", required_argument, NULL, 'k' },
		{ "socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "state", required_argument, NULL, 'S' },
		{ "plugin", required_argument, NULL, 'p' },
		{ "mosquitto", required_argument, NULL, 'm' },
		{ "opt", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'C' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "no-sandbox", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(a, 0, sizeof(*a));
	a->keys = MOB_KEYS_DIR_DEFAULT;
	a->sock = MOB_HUB_SOCKET_DEFAULT;
	a->state = MOB_HUB_STATE_DEFAULT;
	a->mosquitto = HUB_MOSQUITTO_DEFAULT;
	while ((ch = getopt_long(argc, argv, "fhv", lopts, NULL)) != -1) {
		switch (ch) {
		case 'k': a->keys = optarg; break;
		case 's': a->sock = optarg; break;
		case 'l': a->listen = optarg; break;
		case 'c': a->cert = optarg; break;
		case 'K': a->key = optarg; break;
		case 'S': a->state = optarg; break;
		case 'p': a->plugin = optarg; break;
		case 'm': a->mosquitto = optarg; break;
		case 'f': a->foreground = 1; break;
		case 'n': a->no_sandbox = 1; break;
		case 'v': a->verbose++; break;
		case 'C':
			a->config = optarg;
			break;
		case 'o':
			if (a->ncli == HUB_MAX_OPTS)
				fatalx("at most %d --opt", HUB_MAX_OPTS);
			a->cli[a->ncli++] = optarg;
			break;
		case 'h':
			usage(0);
		case 'V':
			mob_version_print(stdout, "mobius-hub");
			exit(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (a->listen != NULL && (a->cert == NULL || a->key == NULL))
		fatalx("--listen needs --tls-cert and --tls-key: the hub never "
		    "accepts plain TCP");
	if (a->listen == NULL && (a->cert != NULL || a->key != NULL))
		fatalx("--tls-cert and --tls-key only go with --listen");
}

/*
 * Set plugin option name to value; a later setting replaces an earlier one
 * (drop-ins override hub.conf, --opt overrides both).  The keys directory
 * is --keys's: the launcher checks the same keys the plugin loads.
 */
static void
opt_set(struct hub_args *a, const char *name, size_t namelen,
    const char *value, const char *where)
{
	struct hub_opt *o = NULL;
	size_t i;

	if (namelen == 0 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") < namelen)
		fatalx("%s: want NAME = VALUE", where);
	if ((namelen == 4 && strncmp(name, "keys", 4) == 0) ||
	    (namelen == 7 && strncmp(name, "keyring", 7) == 0) ||
	    (namelen == 7 && strncmp(name, "hub_key", 7) == 0))
		fatalx("%s: %.*s is set with --keys", where, (int)namelen, name);
	if (namelen == 6 && strncmp(name, "status", 6) == 0)
		fatalx("%s: status is set with --state", where);
	if (*value == '\0' || strpbrk(value, "\n\r") != NULL)
		fatalx("%s: %.*s: empty value", where, (int)namelen, name);
	for (i = 0; i < a->nopts; i++)
		if (strlen(a->opts[i].name) == namelen &&
		    strncmp(a->opts[i].name, name, namelen) == 0)
			break;
	if (i == HUB_MAX_OPTS)
		fatalx("%s: more than %d options", where, HUB_MAX_OPTS);
	o = &a->opts[i];
	if (i == a->nopts) {
		a->nopts++;
		if ((o->name = strndup(name, namelen)) == NULL)
			fatal("strndup");
	}
	free(o->value);
	free(o->where);
	if ((o->value = strdup(value)) == NULL ||
	    (o->where = strdup(where)) == NULL)
		fatal("strdup");
}

/* One file: "# comment", blank lines and NAME = VALUE lines. */
static void
conf_read(struct hub_args *a, const char *path)
{
	char line[HUB_CONF_LINE + 2], where[PATH_MAX + 32];
	unsigned lineno = 0;
	size_t len;
	char *p, *eq, *end;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		fatal("%s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		len = strlen(line);
		if (len > HUB_CONF_LINE)
			fatalx("%s: line too long", where);
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL)
			fatalx("%s: want NAME = VALUE", where);
		for (end = eq; end > p && isspace((unsigned char)end[-1]); end--)
			;
		for (eq++; isspace((unsigned char)*eq); eq++)
			;
		opt_set(a, p, (size_t)(end - p), eq, where);
	}
	if (ferror(f))
		fatal("%s", path);
	fclose(f);
}

static int
conf_dropin(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 &&
	    strcmp(d->d_name + n - 5, ".conf") == 0;
}

/* FILE.d/ *.conf in lexical order, if the directory exists. */
static void
conf_read_dropins(struct hub_args *a, const char *file)
{
	struct dirent **ents;
	char dir[PATH_MAX], path[PATH_MAX + 256];
	int n;

	if ((size_t)snprintf(dir, sizeof(dir), "%s.d", file) >= sizeof(dir))
		fatalx("--config: path too long");
	if ((n = scandir(dir, &ents, conf_dropin, alphasort)) == -1) {
		if (errno != ENOENT)
			fatal("%s", dir);
		return;
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		conf_read(a, path);
		free(ents[i]);
	}
	free(ents);
}

/*
 * hub.conf, then its drop-ins, then --opt; each option is then checked by
 * the plugin's parser (opts.c), in order, so the first bad one is named
 * with the file and line that set it.  No default file: a hub started by
 * hand or by the tests never picks up the installed node's policy;
 * mobius-hub.service names it.
 */
static void
load_options(struct hub_args *a)
{
	struct mosquitto_opt mo[HUB_MAX_OPTS + 1];
	struct hub_opts ho;
	char err[512];
	const char *eq;

	if (a->config != NULL) {
		conf_read(a, a->config);
		conf_read_dropins(a, a->config);
	}
	for (size_t i = 0; i < a->ncli; i++) {
		if ((eq = strchr(a->cli[i], '=')) == NULL)
			fatalx("--opt %s: want NAME=VALUE", a->cli[i]);
		opt_set(a, a->cli[i], (size_t)(eq - a->cli[i]), eq + 1, "--opt");
	}
	mo[0].key = "keys";
	mo[0].value = (char *)a->keys;
	for (size_t i = 0; i < a->nopts; i++) {
		mo[i + 1].key = a->opts[i].name;
		mo[i + 1].value = a->opts[i].value;
		if (hub_opts__parse(&ho, mo, (int)i + 2, err, sizeof(err)) != 0)
			fatalx("%s: %s", a->opts[i].where, err);
	}
}

/* The plugin next to us in a build tree, else the installed one. */
static void
find_plugin(struct hub_args *a)
{
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (a->plugin != NULL)
		return;
	a->plugin = HUB_PLUGIN_INSTALLED;
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return;
	*slash = '\0';
	if ((size_t)snprintf(a->plugin_buf, sizeof(a->plugin_buf),
	    "%s/../lib/mobius_hub.so", self) < sizeof(a->plugin_buf) &&
	    access(a->plugin_buf, R_OK) == 0)
		a->plugin = a->plugin_buf;
}

/* Load what the plugin will load, to fail here with a clear message. */
static void
check_keys(const struct hub_args *a)
{
	struct mob_keyring *kr = NULL, *hk = NULL;
	char path[PATH_MAX], err[512] = "";
	int r;

	snprintf(path, sizeof(path), "%s/keyring", a->keys);
	if (access(path, F_OK) != 0)
		fatalx("no keyring at %s: create one with `mobius-keytool --dir "
		    "%s init --hid HID`", path, a->keys);
	if ((r = mob_keyring_load(path, &kr, err, sizeof(err))) != 0)
		fatalx("cannot read the keyring: %s", err[0] ? err :
		    r == MOB_ESYS ? strerror(errno) : mob_strerror(r));
	snprintf(path, sizeof(path), "%s/hub.key", a->keys);
	if ((r = mob_keyring_load(path, &hk, err, sizeof(err))) != 0)
		fatalx("cannot read the hub key: %s", err[0] ? err :
		    r == MOB_ESYS ? strerror(errno) : mob_strerror(r));
	log_info("node %s, %s mode, %zu keyring entries", mob_keyring_hid(kr),
	    mob_keyring_mode(kr) == MOB_MODE_COMPAT ? "compat" : "hardened",
	    mob_keyring_count(kr));
	mob_keyring_free(hk);
	mob_keyring_free(kr);
}

/* Refuse a socket someone answers on; remove a stale one. */
static void
check_socket(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path))
		fatalx("socket path %s is too long", path);
	if (lstat(path, &st) != 0) {
		if (errno != ENOENT)
			fatal("%s", path);
		return;
	}
	if (!S_ISSOCK(st.st_mode))
		fatalx("%s exists and is not a socket", path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (r == 0)
		fatalx("%s is in use: another hub is running", path);
	if (errno != ECONNREFUSED)
		fatal("%s", path);
	if (unlink(path) != 0)
		fatal("cannot remove stale socket %s", path);
	log_info("removed stale socket %s", path);
}

static int MOB_PRINTF(3, 4)
conf_add(char *buf, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *off, 16384 - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= 16384 - *off)
		fatalx("configuration too long");
	*off += (size_t)n;
	return 0;
}

/* A configuration value must stay on its line. */
static const char *
conf_val(const char *what, const char *v)
{
	if (strpbrk(v, "\n\r") != NULL || *v == '\0')
		fatalx("%s: empty or contains a line break", what);
	return v;
}

static void
write_conf(struct hub_args *a)
{
	char buf[16384], port[16], addr[256];
	struct passwd *pw;
	const char *colon;
	size_t off = 0;

	if ((pw = getpwuid(geteuid())) == NULL)
		fatalx("no user name for uid %u", (unsigned)geteuid());
	conf_add(buf, &off, "# Written by mobius-hub at each start; edits are lost.\n"
	    "per_listener_settings false\nallow_anonymous false\n"
	    "allow_zero_length_clientid false\n"
	    /* mosquitto started as root switches to this user */
	    "user %s\n"
	    "persistence true\npersistence_location %s/\n"
	    "persistence_file mosquitto.db\nautosave_interval 60\n"
	    "max_queued_messages %d\nmax_inflight_messages 20\n"
	    "max_packet_size %d\n"
	    "log_dest stderr\nlog_type error\nlog_type warning\n"
	    "log_type notice\nlog_type information\n%s"
	    "connection_messages true\nlog_timestamp false\n"
	    "listener 0 %s\n",
	    conf_val("user", pw->pw_name), conf_val("--state", a->state),
	    HUB_MAX_QUEUED, HUB_MAX_PACKET, a->verbose ? "log_type debug\n" : "",
	    conf_val("--socket", a->sock));
	if (a->listen != NULL) {
		colon = strrchr(a->listen, ':');
		if (colon == NULL || colon == a->listen ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
		    strlen(colon + 1) == 0 || strlen(colon + 1) > 5 ||
		    (size_t)(colon - a->listen) >= sizeof(addr))
			fatalx("--listen %s: want ADDR:PORT", a->listen);
		snprintf(port, sizeof(port), "%s", colon + 1);
		snprintf(addr, sizeof(addr), "%.*s", (int)(colon - a->listen),
		    a->listen);
		if (addr[0] == '[' && addr[strlen(addr) - 1] == ']') {
			memmove(addr, addr + 1, strlen(addr));
			addr[strlen(addr) - 1] = '\0';
		}
		if (access(a->cert, R_OK) != 0 || access(a->key, R_OK) != 0)
			fatal("TLS certificate or key not readable");
		conf_add(buf, &off, "listener %s %s\ncertfile %s\nkeyfile %s\n"
		    "tls_version tlsv1.2\n", port, conf_val("--listen", addr),
		    conf_val("--tls-cert", a->cert), conf_val("--tls-key", a->key));
	}
	conf_add(buf, &off, "plugin %s\nplugin_opt_keys %s\n",
	    conf_val("--plugin", a->plugin), conf_val("--keys", a->keys));
	/* what mobius-keytool reload waits for (docs/hub.md, "Reload") */
	conf_add(buf, &off, "plugin_opt_status %s/keyring.status\n",
	    conf_val("--state", a->state));
	for (size_t i = 0; i < a->nopts; i++)
		conf_add(buf, &off, "plugin_opt_%s %s\n", a->opts[i].name,
		    a->opts[i].value);
	if (mob_file_write_atomic(a->conf, buf, off, 0600) != 0)
		fatal("cannot write %s", a->conf);
}

static void
write_pid(const struct hub_args *a)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (mob_file_write_atomic(a->pidfile, buf, (size_t)n, 0644) != 0)
		log_warn("cannot write %s (mobius-keytool reload will need "
		    "systemd)", a->pidfile);
}

/* The directory of path, made absolute, into out (PATH_MAX). */
static void
dir_of(const char *path, char *out)
{
	char buf[PATH_MAX], *slash;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		fatalx("%s: path too long", path);
	if ((slash = strrchr(buf, '/')) == NULL)
		snprintf(buf, sizeof(buf), ".");
	else if (slash == buf)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (realpath(buf, out) == NULL)
		fatal("realpath %s", buf);
}

/*
 * sandbox (sandbox/profile_hub.c): the filter outlives the exec, so it is
 * mosquitto's.  Writable: the state directory and the socket's; visible
 * read-only even under a private /tmp: the keys (SIGHUP re-reads them), the
 * plugin's directory and the TLS files.  exec_path is the very pointer execl() gets below.
 */
static void
enter_sandbox(const struct hub_args *a)
{
	static char sockdir[PATH_MAX], certdir[PATH_MAX], keydir[PATH_MAX];
	static char plugindir[PATH_MAX];
	const char *rw[3] = { a->state, sockdir, NULL };
	const char *ro[5] = { a->keys, plugindir, NULL, NULL, NULL };
	struct mob_sandbox_opts o;
	uid_t uid;
	gid_t gid;

	memset(&o, 0, sizeof(o));
	o.no_sandbox = a->no_sandbox;
	o.exec_path = a->mosquitto;
	dir_of(a->sock, sockdir);
	/* mosquitto loads the plugin after exec, from a tree that may be in /tmp */
	dir_of(a->plugin, plugindir);
	if (a->cert != NULL && a->key != NULL) {
		dir_of(a->cert, certdir);
		dir_of(a->key, keydir);
		ro[2] = certdir;
		ro[3] = keydir;
	}
	o.rw_paths = rw;
	o.ro_paths = ro;
	/* started as root: the broker, as the hub's user, owns what we made */
	if (mob_sandbox_user(&mob_sandbox_hub, &o, &uid, &gid) != 0)
		fatalx("sandbox: no user for the hub (--no-sandbox to debug)");
	if (uid != (uid_t)-1 && (chown(a->state, uid, gid) == -1 ||
	    chown(a->conf, uid, gid) == -1))
		fatal("chown %s", a->state);
	if (mob_sandbox_enter(&mob_sandbox_hub, &o) != 0)
		fatalx("cannot enter the sandbox (--no-sandbox to debug)");
}

/* Without --foreground: detach, the child becomes the hub. */
static void
detach(void)
{
	pid_t pid;

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		fatal("setsid");
}

int
main(int argc, char *argv[])
{
	struct hub_args a;

	log_init("mobius-hub", 0);
	parse_args(&a, argc, argv);
	log_setverbose(a.verbose);
	find_plugin(&a);
	if (snprintf(a.conf, sizeof(a.conf), "%s/mosquitto.conf", a.state) >=
	    (int)sizeof(a.conf) || snprintf(a.pidfile, sizeof(a.pidfile),
	    "%s/hub.pid", a.keys) >= (int)sizeof(a.pidfile))
		fatalx("--state or --keys path too long");

	load_options(&a);
	check_keys(&a);
	/* canonical: under a private /tmp only the plugin's own directory exists */
	if (access(a.plugin, R_OK) != 0 || realpath(a.plugin, a.plugin_abs) == NULL)
		fatal("plugin %s", a.plugin);
	a.plugin = a.plugin_abs;
	if (mkdir(a.state, 0700) != 0 && errno != EEXIST)
		fatal("mkdir %s", a.state);
	/* mosquitto must not depend on our working directory */
	if (realpath(a.keys, a.keys_abs) == NULL ||
	    realpath(a.state, a.state_abs) == NULL)
		fatal("realpath");
	a.keys = a.keys_abs;
	a.state = a.state_abs;
	check_socket(a.sock);
	write_conf(&a);
	if (!a.foreground)
		detach();
	/*
	 * A systemd unit (INVOCATION_ID, systemd.exec(5)) knows the pid and
	 * keytool reloads through it; /etc is read-only there anyway
	 * (ProtectSystem=strict).
	 */
	if (getenv("INVOCATION_ID") == NULL)
		write_pid(&a);
	/* the socket mosquitto creates: srwxrwx---, for the hub's group */
	umask(007);

	enter_sandbox(&a);

	execl(a.mosquitto, "mosquitto", "-c", a.conf, (char *)NULL);
	fatal("exec %s", a.mosquitto);
}
