/*
 * mobius-keytool reload: make the running hub re-read its keys.
 *
 * Under systemd the unit is reloaded through the manager (sd-bus), so the
 * unit's own ExecReload= and its state tracking apply; without an active
 * unit the hub launcher's pid file names the process to send SIGHUP.  That
 * file may be writable by the hub's user, so before trusting it keytool
 * confines itself (sandbox profile "keytool": the hub's user, read-only
 * opens, kill): the kernel then lets it signal the hub and nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "internal.h"
#include "mobius/log.h"
#include "mobius/sandbox.h"

#define SD_DEST		"org.freedesktop.systemd1"
#define SD_PATH		"/org/freedesktop/systemd1"
#define SD_MANAGER	"org.freedesktop.systemd1.Manager"
#define SD_UNIT		"org.freedesktop.systemd1.Unit"

/* 1 reloaded, 0 no active unit (why says), -1 failed (logged). */
static int
reload_systemd(const char *unit, char *why, size_t whylen)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	sd_bus *bus = NULL;
	char *path = NULL, *state = NULL;
	const char *p;
	int r, ret = 0;

	if ((r = sd_bus_open_system(&bus)) < 0) {
		snprintf(why, whylen, "no systemd bus (%s)", strerror(-r));
		goto out;
	}
	if ((r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER,
	    "GetUnit", &err, &reply, "s", unit)) < 0) {
		snprintf(why, whylen, "%s is not loaded", unit);
		goto out;
	}
	if (sd_bus_message_read(reply, "o", &p) < 0 ||
	    (path = strdup(p)) == NULL) {
		snprintf(why, whylen, "bad GetUnit reply from systemd");
		goto out;
	}
	sd_bus_error_free(&err);
	if ((r = sd_bus_get_property_string(bus, SD_DEST, path, SD_UNIT,
	    "ActiveState", &err, &state)) < 0) {
		snprintf(why, whylen, "%s: no ActiveState (%s)", unit,
		    err.message != NULL ? err.message : strerror(-r));
		goto out;
	}
	if (strcmp(state, "active") != 0 && strcmp(state, "reloading") != 0) {
		snprintf(why, whylen, "%s is %s", unit, state);
		goto out;
	}
	sd_bus_message_unref(reply);
	reply = NULL;
	sd_bus_error_free(&err);
	if (sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "ReloadUnit",
	    &err, &reply, "ss", unit, "replace") >= 0) {
		printf("asked systemd to reload %s\n", unit);
		ret = 1;
		goto out;
	}
	/* A unit without ExecReload= cannot reload: signal its main process. */
	log_debug("ReloadUnit %s: %s", unit, err.message);
	sd_bus_error_free(&err);
	if ((r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER,
	    "KillUnit", &err, NULL, "ssi", unit, "main", SIGHUP)) >= 0) {
		printf("sent SIGHUP to the main process of %s\n", unit);
		ret = 1;
		goto out;
	}
	log_warnx("%s is active but systemd refused to reload it: %s", unit,
	    err.message != NULL ? err.message : strerror(-r));
	ret = -1;
 out:
	free(state);
	free(path);
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	sd_bus_flush_close_unref(bus);
	return ret;
}

/* The hub process is mosquitto (after the launcher's exec) or the launcher. */
static int
reload_is_hub(pid_t pid)
{
	char path[64], comm[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "mosquitto") == 0 || strcmp(comm, "mobius-hub") == 0;
}

/* 1 signalled, 0 no pid file (why says), -1 failed (logged). */
static int
reload_pidfile(const char *pidfile, char *why, size_t whylen)
{
	char buf[32], *end;
	long pid;
	ssize_t n;
	int fd;

	if ((fd = open(pidfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT) {
			snprintf(why, whylen, "%s does not exist", pidfile);
			return 0;
		}
		log_warn("%s", pidfile);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		log_warnx("%s: empty or unreadable", pidfile);
		return -1;
	}
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\0' && *end != '\n') ||
	    pid <= 1 || pid > 0x7fffffff) {
		log_warnx("%s: not a process id", pidfile);
		return -1;
	}
	/*
	 * The pid file may be writable by the hub's user: never signal a
	 * process that is not the hub, whatever the file says.
	 */
	if (!reload_is_hub((pid_t)pid)) {
		log_warnx("%s names pid %ld, which is not a running hub "
		    "(mosquitto or mobius-hub); stale pid file?", pidfile, pid);
		return -1;
	}
	if (kill((pid_t)pid, SIGHUP) == -1) {
		log_warn("kill %ld", pid);
		return -1;
	}
	printf("sent SIGHUP to hub pid %ld\n", pid);
	return 1;
}

int
kt_reload(const char *unit, const char *pidfile, int no_sandbox)
{
	struct mob_sandbox_opts o;
	char why_sd[256], why_pid[256];
	int r;

	if ((r = reload_systemd(unit, why_sd, sizeof(why_sd))) != 0)
		return r > 0 ? 0 : MOB_ESYS;
	if (access(pidfile, F_OK) == -1 && errno == ENOENT) {
		log_warnx("no running hub found: %s, and %s does not exist",
		    why_sd, pidfile);
		return MOB_ENOTFOUND;
	}
	memset(&o, 0, sizeof(o));
	o.no_sandbox = no_sandbox;
	o.no_private_tmp = 1;	/* a test node's key dir lives under /tmp */
	if ((r = mob_sandbox_enter(&mob_sandbox_keytool, &o)) != 0) {
		log_warnx("cannot confine the pid file path (see above); "
		    "--no-sandbox skips this");
		return r;
	}
	if ((r = reload_pidfile(pidfile, why_pid, sizeof(why_pid))) != 0)
		return r > 0 ? 0 : MOB_ESYS;
	log_warnx("no running hub found: %s, and %s", why_sd, why_pid);
	return MOB_ENOTFOUND;
}

int
cmd_reload(struct kt *kt, int argc, char **argv)
{
	const char *unit = KT_UNIT_DEFAULT;
	int r, no_sandbox = 0;
	const struct kt_opt opts[] = {
		{ .name = "unit", .str = &unit },
		{ .name = "no-sandbox", .flag = &no_sandbox },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (optind != argc)
		return kt_usage("unexpected argument \"%s\"", argv[optind]);
	return kt_reload(unit, kt->pidfile, no_sandbox);
}
