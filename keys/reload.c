/*
 * mobius-keytool reload: make the running hub re-read its keys.
 *
 * Under systemd the unit is reloaded through the manager (sd-bus), so the
 * unit's own ExecReload= and its state tracking apply; without an active
 * unit the hub launcher's pid file names the process to send SIGHUP.  That
 * file may be writable by the hub's user, so before trusting it keytool
 * confines itself (sandbox profile "keytool": the hub's user, read-only
 * opens, kill): the kernel then lets it signal the hub and nothing else.
 *
 * Asking is not enough: a hub that cannot read the new keyring keeps the
 * old one, and a revoked service stays in.  So reload succeeds only when
 * the hub confirms it loaded the keyring as keytool left it: the hub
 * writes the outcome of every (re)load to STATE/keyring.status, a
 * generation counter, ok or the error, and the SHA-256 of the keyring it
 * parsed; keytool waits (--timeout, 10 s) for a generation after the one
 * it saw before asking, and fails with the hub's reason otherwise.  Under
 * systemd it also waits for the reload job's result.  The status file is
 * the hub user's: read with a size cap and strict JSON, trusted for no
 * more than the hub's own word.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <systemd/sd-bus.h>

#include "internal.h"
#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/keyring.h"
#include "mobius/log.h"
#include "mobius/sandbox.h"

#define SD_DEST		"org.freedesktop.systemd1"
#define SD_PATH		"/org/freedesktop/systemd1"
#define SD_MANAGER	"org.freedesktop.systemd1.Manager"
#define SD_UNIT		"org.freedesktop.systemd1.Unit"
#define STATUS_MAX	4096

/* STATE/keyring.status, as the hub wrote it (hub/plugin.c). */
struct reload_status {
	double generation;
	int ok;
	char digest[MOB_KR_DIGEST_LEN + 1];
	char error[512];
};

/* 0, MOB_ENOTFOUND (no file yet), or another MOB_E* (malformed). */
static int
status_read(const char *path, struct reload_status *st)
{
	const cJSON *g, *ok, *d, *e;
	const char *end = NULL;
	cJSON *j = NULL;
	char *buf = NULL, err[256];
	size_t len = 0;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = mob_file_read(path, STATUS_MAX, MOB_FILE_NOFOLLOW, &buf, &len,
	    err, sizeof(err))) != 0)
		return r;
	r = MOB_EJSON;
	if ((j = cJSON_ParseWithLengthOpts(buf, len, &end, 0)) == NULL ||
	    end != buf + len)
		goto out;
	g = cJSON_GetObjectItemCaseSensitive(j, "generation");
	ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
	d = cJSON_GetObjectItemCaseSensitive(j, "digest");
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (!cJSON_IsNumber(g) || !cJSON_IsBool(ok) ||
	    (d != NULL && !cJSON_IsString(d)) ||
	    (e != NULL && !cJSON_IsString(e)))
		goto out;
	st->generation = g->valuedouble;
	st->ok = cJSON_IsTrue(ok);
	if (d != NULL)
		snprintf(st->digest, sizeof(st->digest), "%s", d->valuestring);
	if (e != NULL)
		snprintf(st->error, sizeof(st->error), "%s", e->valuestring);
	r = 0;
 out:
	cJSON_Delete(j);
	mob_file_free(buf, len);
	return r;
}

/*
 * Wait for the hub's word on a (re)load after generation before: 0 when
 * it loaded the keyring whose digest is want, else a MOB_E* (said why).
 */
static int
reload_confirm(const char *path, double before, const char *want,
    int64_t timeout_s)
{
	int64_t end = mob_clock_mono_ms() + timeout_s * 1000;
	struct reload_status st;
	char safe[512];

	for (;;) {
		if (status_read(path, &st) == 0 && st.generation > before)
			break;
		if (mob_clock_mono_ms() >= end) {
			log_warnx("the hub did not confirm the reload within %llds "
			    "(no new outcome in %s); is it running with this "
			    "--state?", (long long)timeout_s, path);
			return MOB_ETIMEOUT;
		}
		usleep(50 * 1000);
	}
	/* the hub's words, shown to an operator: printable ASCII only */
	for (size_t i = 0; i < sizeof(safe); i++) {
		unsigned char ch = (unsigned char)st.error[i];

		safe[i] = ch == '\0' ? '\0' : (ch < 0x20 || ch > 0x7e) ? '?' : ch;
		if (ch == '\0')
			break;
	}
	if (!st.ok) {
		log_warnx("the hub refused the new keyring and keeps the "
		    "previous keys: %s", safe);
		return MOB_EDENIED;
	}
	if (strcmp(st.digest, want) != 0) {
		log_warnx("the hub loaded a keyring other than the one here "
		    "(changed again meanwhile?); run reload again");
		return MOB_EEXIST;
	}
	printf("the hub loaded the keyring (generation %.0f)\n", st.generation);
	return 0;
}

struct job_wait {
	const char *path;	/* the job we wait for */
	char result[32];	/* "done", "failed", ... once removed */
};

/* JobRemoved(u id, o job, s unit, s result) of the manager. */
static int
job_removed(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct job_wait *w = arg;
	const char *job, *unit, *result;
	uint32_t id;

	(void)err;
	if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0 &&
	    strcmp(job, w->path) == 0)
		snprintf(w->result, sizeof(w->result), "%s", result);
	return 0;
}

/* 0 when the job ended "done", else -1 (logged). */
static int
job_wait(sd_bus *bus, const char *unit, const char *path, int64_t timeout_s)
{
	int64_t end = mob_clock_mono_ms() + timeout_s * 1000;
	struct job_wait w = { .path = path };
	sd_bus_slot *slot = NULL;
	int r;

	if (sd_bus_match_signal(bus, &slot, SD_DEST, SD_PATH, SD_MANAGER,
	    "JobRemoved", job_removed, &w) < 0) {
		log_warnx("cannot follow the reload job of %s", unit);
		return -1;
	}
	while (w.result[0] == '\0' && mob_clock_mono_ms() < end) {
		if ((r = sd_bus_process(bus, NULL)) < 0)
			break;
		if (r == 0)
			sd_bus_wait(bus, 100 * 1000);
	}
	sd_bus_slot_unref(slot);
	if (strcmp(w.result, "done") == 0)
		return 0;
	log_warnx("systemd's reload of %s %s%s", unit, w.result[0] ? "ended: " :
	    "did not end in time", w.result);
	return -1;
}

/* 1 reloaded, 0 no active unit (why says), -1 failed (logged). */
static int
reload_systemd(const char *unit, int64_t timeout_s, char *why, size_t whylen)
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
	/* subscribe first, so the job's end cannot slip past */
	if (sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe",
	    NULL, NULL, "") < 0)
		log_debug("systemd Subscribe failed; JobRemoved may still come");
	if (sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "ReloadUnit",
	    &err, &reply, "ss", unit, "replace") >= 0) {
		if (sd_bus_message_read(reply, "o", &p) < 0) {
			log_warnx("bad ReloadUnit reply from systemd");
			ret = -1;
			goto out;
		}
		printf("asked systemd to reload %s\n", unit);
		ret = job_wait(bus, unit, p, timeout_s) == 0 ? 1 : -1;
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

struct reload_opts {
	const char *unit;	/* systemd unit of the hub */
	const char *pidfile;	/* KEYS/hub.pid, without a unit */
	const char *keyring;	/* what the hub must confirm it loaded */
	const char *state;	/* the hub's --state: keyring.status */
	int64_t timeout_s;	/* wait that long for the confirmation */
	int no_sandbox;
};

static int
reload(const struct reload_opts *o)
{
	struct mob_sandbox_opts so;
	struct mob_keyring *kr = NULL;
	struct reload_status st;
	char why_sd[256], why_pid[256], err[512], status[PATH_MAX];
	char want[MOB_KR_DIGEST_LEN + 1];
	double before = 0;
	int r;

	if ((r = mob_keyring_load_digest(o->keyring, &kr, want, err,
	    sizeof(err))) != 0) {
		log_warnx("%s", err);
		return r;
	}
	mob_keyring_free(kr);
	if ((size_t)snprintf(status, sizeof(status), "%s/keyring.status",
	    o->state) >= sizeof(status)) {
		log_warnx("--state %s: path too long", o->state);
		return MOB_ETOOLONG;
	}
	if (status_read(status, &st) == 0)
		before = st.generation;
	if ((r = reload_systemd(o->unit, o->timeout_s, why_sd,
	    sizeof(why_sd))) != 0)
		return r > 0 ? reload_confirm(status, before, want,
		    o->timeout_s) : MOB_ESYS;
	if (access(o->pidfile, F_OK) == -1 && errno == ENOENT) {
		log_warnx("no running hub found: %s, and %s does not exist",
		    why_sd, o->pidfile);
		return MOB_ENOTFOUND;
	}
	memset(&so, 0, sizeof(so));
	so.no_sandbox = o->no_sandbox;
	so.no_private_tmp = 1;	/* a test node's key dir lives under /tmp */
	if ((r = mob_sandbox_enter(&mob_sandbox_keytool, &so)) != 0) {
		log_warnx("cannot confine the pid file path (see above); "
		    "--no-sandbox skips this");
		return r;
	}
	if ((r = reload_pidfile(o->pidfile, why_pid, sizeof(why_pid))) != 0)
		return r > 0 ? reload_confirm(status, before, want,
		    o->timeout_s) : MOB_ESYS;
	log_warnx("no running hub found: %s, and %s", why_sd, why_pid);
	return MOB_ENOTFOUND;
}

static int
reload_opt_timeout(const char *arg, void *out)
{
	int64_t *timeout = out;

	if (kt_parse_duration(arg, timeout) != 0 || *timeout == 0 ||
	    *timeout > 3600)
		return kt_usage("bad --timeout \"%s\": want e.g. 10s", arg);
	return 0;
}

int
cmd_reload(struct kt *kt, int argc, char **argv)
{
	struct reload_opts o = {
		.unit = KT_UNIT_DEFAULT,
		.pidfile = kt->pidfile,
		.keyring = kt->keyring,
		.state = MOB_HUB_STATE_DEFAULT,
		.timeout_s = 10,
	};
	int r;
	const struct kt_opt opts[] = {
		{ .name = "unit", .str = &o.unit },
		{ .name = "state", .str = &o.state },
		{ .name = "timeout", .parse = reload_opt_timeout,
		    .val = &o.timeout_s },
		{ .name = "no-sandbox", .flag = &o.no_sandbox },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (optind != argc)
		return kt_usage("unexpected argument \"%s\"", argv[optind]);
	return reload(&o);
}
