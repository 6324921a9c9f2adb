/*
 * End-to-end helpers for the hardware services (test_modbus, test_gpio,
 * bench_gpio): a node (real hub), the service under test, and a client
 * that reads, writes and collects COVs.  Header-only, no Criterion: a
 * failure to set up aborts (th_die style) and the caller asserts.
 */
#ifndef MOBIUS_TESTS_HW_SUPPORT_H
#define MOBIUS_TESTS_HW_SUPPORT_H

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "mobius/clock.h"
#include "mobius/client.h"
#include "mobius/err.h"
#include "support/harness.h"

#define HW_COV_MAX	512

struct hw_cov {
	char res[16];		/* PID/INS/RID */
	char rid[3];
	int null, b, online;
	double num;
	int64_t at_ns;		/* monotonic, when received */
};

struct hw {
	struct th_node node;
	struct th_proc svc;
	char svc_key[300], cli_key[300];
	char id[16];			/* HID/SID of the service */
	char log[400];
	struct mob_client *cli;
	struct hw_cov cov[HW_COV_MAX];
	size_t ncov;
};


static inline void
hw_die(const char *what)
{
	fprintf(stderr, "hw test setup: %s\n", what);
	abort();
}

static inline void
hw_on_msg(struct mob_client *c, const char *topic, const struct mob_env *env,
    void *arg)
{
	struct hw *h = arg;
	const cJSON *v, *st;
	struct hw_cov *cv;
	const char *rid;

	(void)c;
	if (strncmp(topic, "mob/cov/", 8) != 0 || h->ncov == HW_COV_MAX)
		return;
	rid = strrchr(topic, '/') + 1;
	cv = &h->cov[h->ncov++];
	memset(cv, 0, sizeof(*cv));
	snprintf(cv->rid, sizeof(cv->rid), "%s", rid);
	/* mob/cov/HID/SID/PID/INS/RID: what follows HID/SID/ */
	snprintf(cv->res, sizeof(cv->res), "%s", topic + 8 + 11);
	cv->at_ns = mob_clock_mono_ns();
	v = cJSON_GetObjectItemCaseSensitive(env->dat, "value");
	st = cJSON_GetObjectItemCaseSensitive(env->dat, "status");
	cv->null = v == NULL || cJSON_IsNull(v);
	cv->b = cJSON_IsTrue(v);
	cv->num = cJSON_IsNumber(v) ? v->valuedouble : 0;
	cv->online = cJSON_IsString(st) && strcmp(st->valuestring, "online") == 0;
}

/* Node with the service's identity spid_sid and a client 00C1/0C1. */
static inline void
hw_node(struct hw *h, const char *spid_sid)
{
	memset(h, 0, sizeof(*h));
	th_node_start(&h->node, MOB_MODE_HARDENED);
	th_node_add(&h->node, spid_sid, h->svc_key, sizeof(h->svc_key));
	th_node_add(&h->node, "00C1/0C1", h->cli_key, sizeof(h->cli_key));
	snprintf(h->id, sizeof(h->id), "%s/%s", h->node.hid, strchr(spid_sid, '/') + 1);
}

/* The service's log to stderr, for a failing test (or MOBIUS_TEST_LOGS=1). */
static inline void
hw_dump(const struct hw *h)
{
	char line[512];
	FILE *f;

	if ((f = fopen(h->log, "r")) == NULL)
		return;
	fprintf(stderr, "--- %s\n", h->log);
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	fclose(f);
}

/*
 * argv for the service prog (under $MOBIUS_BUILD/bin, path its buffer)
 * with the node's key and socket, then args; sets h->log.
 */
static inline void
hw_argv(struct hw *h, const char *prog, char *const args[], char *path,
    size_t plen, char *argv[24])
{
	int n = 0;

	th_path(prog, path, plen);
	argv[n++] = path;
	argv[n++] = "--key";
	argv[n++] = h->svc_key;
	argv[n++] = "--socket";
	argv[n++] = h->node.sock;
	for (int i = 0; args[i] != NULL && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	snprintf(h->log, sizeof(h->log), "%s/%s.log", h->node.dir, strrchr(prog, '/') + 1);
}

/* Spawn argv as the service; wait until its log says ready. */
static inline int
hw_spawn_ready(struct hw *h, char *const argv[], char *const env[],
    const char *ready, int ms)
{
	if (th_spawn(&h->svc, argv, env, h->log) != 0)
		return -1;
	if (th_wait_log(h->log, ready, ms) != 0) {
		hw_dump(h);
		return -1;
	}
	return 0;
}

/*
 * Start the service (a program under $MOBIUS_BUILD/bin) and wait until its
 * log says ready (it logs that once connected and subscribed).
 */
static inline int
hw_start_env(struct hw *h, const char *prog, char *const args[],
    char *const env[], const char *ready)
{
	char path[300], *argv[24];

	hw_argv(h, prog, args, path, sizeof(path), argv);
	return hw_spawn_ready(h, argv, env, ready, 15000);
}

/*
 * As hw_start_env, under strace writing DIR/PROG.trace into trace (the
 * ordering probe, harness.h); h->svc is strace, th_trace_pid() the service.
 */
static inline int
hw_start_traced(struct hw *h, const char *prog, char *const args[],
    char *const env[], const char *ready, char *trace, size_t tlen)
{
	char path[300], *argv[24], *traced[40];

	hw_argv(h, prog, args, path, sizeof(path), argv);
	snprintf(trace, tlen, "%s/%s.trace", h->node.dir, strrchr(prog, '/') + 1);
	th_strace_argv(argv, trace, traced, 40);
	return hw_spawn_ready(h, traced, env, ready, 20000);
}

static inline int
hw_start(struct hw *h, const char *prog, char *const args[], const char *ready)
{
	return hw_start_env(h, prog, args, NULL, ready);
}

/*
 * Why a confined run cannot happen here (NULL: it can): the sandbox drops
 * to a user only when started as root, and the tests use "nobody".
 */
static inline const char *
hw_no_sandbox_reason(void)
{
	if (geteuid() != 0)
		return "not root: the sandbox would not switch users, and the "
		    "sandbox's own tests cover unprivileged confinement";
	if (getpwnam("nobody") == NULL)
		return "no user \"nobody\" to confine the service as";
	return NULL;
}

static inline void
hw_client(struct hw *h)
{
	struct mob_client_cfg cc;
	char filter[64];

	memset(&cc, 0, sizeof(cc));
	cc.keyfile = h->cli_key;
	cc.socket = h->node.sock;
	if (mob_client_new(&cc, &h->cli) != 0)
		hw_die("client");
	mob_client_set_handlers(h->cli, hw_on_msg, NULL, h);
	if (mob_client_connect(h->cli, 10000) != 0)
		hw_die("client connect");
	snprintf(filter, sizeof(filter), "mob/cov/%s/#", h->id);
	if (mob_client_subscribe(h->cli, filter, 1) != 0)
		hw_die("subscribe");
}

static inline void
hw_pump(struct hw *h, int ms)
{
	int64_t end = mob_clock_mono_ns() + (int64_t)ms * 1000000;

	while (mob_clock_mono_ns() < end)
		mob_client_loop(h->cli, 10);
}

/*
 * Request op on PID/INS/RID of the service.  value: JSON text or NULL.
 * Returns the MOB_E* of the answer (0 for ok) and the response in *out
 * (may be NULL; free with cJSON_Delete).
 */
static inline int
hw_req(struct hw *h, const char *op, const char *res, const char *value,
    int prio, cJSON **out)
{
	cJSON *req, *rsp = NULL;
	char uri[64];
	int rc;

	snprintf(uri, sizeof(uri), "%s/%s", h->id, res);
	if ((req = cJSON_CreateObject()) == NULL)
		hw_die("nomem");
	cJSON_AddStringToObject(req, "op", op);
	cJSON_AddStringToObject(req, "uri", uri);
	if (value != NULL)
		cJSON_AddItemToObject(req, "value", cJSON_Parse(value));
	if (prio > 0)
		cJSON_AddNumberToObject(req, "priority", prio);
	rc = mob_client_request(h->cli, h->id, req, 10000, &rsp);
	cJSON_Delete(req);
	if (rc == 0)
		rc = mob_client_rsp_error(rsp, NULL);
	if (out != NULL)
		*out = rsp;
	else
		cJSON_Delete(rsp);
	return rc;
}

/* Read a resource: its value as JSON text into buf, status into *online. */
static inline int
hw_read(struct hw *h, const char *res, char *buf, size_t len, int *online)
{
	const cJSON *v, *st;
	cJSON *rsp = NULL;
	char *s;
	int rc;

	buf[0] = '\0';
	if ((rc = hw_req(h, "read", res, NULL, 0, &rsp)) != 0) {
		cJSON_Delete(rsp);
		return rc;
	}
	v = cJSON_GetObjectItemCaseSensitive(rsp, "value");
	st = cJSON_GetObjectItemCaseSensitive(rsp, "status");
	if (online != NULL)
		*online = cJSON_IsString(st) && strcmp(st->valuestring, "online") == 0;
	if ((s = cJSON_PrintUnformatted(v)) != NULL) {
		snprintf(buf, len, "%s", s);
		free(s);
	}
	cJSON_Delete(rsp);
	return 0;
}

/* Poll a resource until its JSON value is want (and, if online >= 0, that status). */
static inline int
hw_wait_value(struct hw *h, const char *res, const char *want, int online, int ms)
{
	int64_t end = mob_clock_mono_ns() + (int64_t)ms * 1000000;
	char buf[128];
	int on;

	do {
		if (hw_read(h, res, buf, sizeof(buf), &on) == 0 &&
		    strcmp(buf, want) == 0 && (online < 0 || on == online))
			return 0;
		hw_pump(h, 50);
	} while (mob_clock_mono_ns() < end);
	return -1;
}

/* Stop everything; a sanitizer report in the service's log fails the run. */
static inline void
hw_stop(struct hw *h)
{
	int san;

	if (h->cli != NULL)
		mob_client_free(h->cli);
	h->cli = NULL;
	if (h->svc.pid > 0)
		th_stop(&h->svc, SIGTERM, 5000);
	san = th_count_log(h->log, "Sanitizer") + th_count_log(h->log, "runtime error:");
	if (san > 0 || getenv("MOBIUS_TEST_LOGS") != NULL)
		hw_dump(h);
	if (san > 0)
		hw_die("sanitizer report in the service's log");
	th_node_stop(&h->node);
}

#endif
