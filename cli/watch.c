/*
 * mobius watch: a live stream of COV (mob/cov/PATTERN), one line each.
 * Names and units come from the services' retained descriptions; the
 * client reconnects by itself when the hub restarts, so the stream goes on.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "mobius/client.h"
#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/time.h"
#include "node.h"

/* The last COV of each resource, to mark it offline with its service. */
struct watch_last {
	struct mob_uri uri;
	char key[MOB_URI_MAX];		/* uri formatted */
	cJSON *dat;
	int64_t iat;
	struct watch_last *next;
};

struct watch {
	enum cli_fmt fmt;
	long count;		/* stop after this many lines; 0 = never */
	long printed;
	int failed;		/* stdout broke */
	struct watch_last *last;
};

static volatile sig_atomic_t watch_stop;

static void
watch_sig(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void
watch_svc_id(const struct mob_uri *u, char *id, size_t len)
{
	snprintf(id, len, "%.6s/%.3s", u->part[MOB_URI_HID], u->part[MOB_URI_SID]);
}

/*
 * Print one COV.  A value is only as live as its service: while the hub
 * reports the service offline (mob/state), its values print as offline
 * whatever status they were published with (docs/cli.md, "Stale values").
 */
static void
watch_print(struct cli_node *n, const struct mob_uri *u, const cJSON *dat,
    int64_t iat)
{
	struct watch *w = n->arg;
	const cJSON *j, *res;
	const struct cli_svc *s;
	struct cli_cov c;
	char id[MOB_ID_MAX], *line = NULL;

	if (watch_stop || (w->count > 0 && w->printed >= w->count))
		return;
	memset(&c, 0, sizeof(c));
	if (mob_uri_format(u, c.uri, sizeof(c.uri)) < 0)
		return;
	/* dat: {"value","status","changed"} (docs/services.md) */
	c.value = cJSON_IsObject(dat) ?
	    cJSON_GetObjectItemCaseSensitive(dat, "value") : dat;
	c.time_ms = iat;
	j = cJSON_GetObjectItemCaseSensitive(dat, "changed");
	/* from the network: in range before the cast */
	if (cJSON_IsNumber(j) && j->valuedouble > 0 &&
	    j->valuedouble <= MOB_TIME_MS_MAX)
		c.time_ms = (int64_t)j->valuedouble;
	j = cJSON_GetObjectItemCaseSensitive(dat, "status");
	if (cJSON_IsString(j))
		c.status = j->valuestring;
	watch_svc_id(u, id, sizeof(id));
	if ((s = cli_node_svc(n, id)) != NULL && strcmp(s->state, "offline") == 0)
		c.status = "offline";
	if ((res = cli_node_res(n, u)) != NULL) {
		j = cJSON_GetObjectItemCaseSensitive(res, "name");
		c.name = cJSON_IsString(j) ? j->valuestring : NULL;
		j = cJSON_GetObjectItemCaseSensitive(res, "units");
		c.units = cJSON_IsString(j) ? j->valuestring : NULL;
	}
	if (cli_fmt_cov(w->fmt, &c, &line) != 0) {
		log_debug("cannot format COV of %s", c.uri);
		return;
	}
	if (printf("%s\n", line) < 0 || fflush(stdout) == EOF)
		w->failed = 1;
	free(line);
	w->printed++;
}

static void
watch_cov(struct cli_node *n, const struct mob_topic *t,
    const struct mob_env *env)
{
	struct watch *w = n->arg;
	struct watch_last *l;
	char key[MOB_URI_MAX];
	cJSON *d;

	if (mob_uri_format(&t->uri, key, sizeof(key)) < 0)
		return;
	for (l = w->last; l != NULL; l = l->next)
		if (strcmp(l->key, key) == 0)
			break;
	if (l == NULL && (l = calloc(1, sizeof(*l))) != NULL) {
		l->uri = t->uri;
		snprintf(l->key, sizeof(l->key), "%s", key);
		l->next = w->last;
		w->last = l;
	}
	/* without memory the line still prints, only not again when stale */
	if (l != NULL && (d = cJSON_Duplicate(env->dat, 1)) != NULL) {
		cJSON_Delete(l->dat);
		l->dat = d;
		l->iat = env->iat;
	}
	watch_print(n, &t->uri, env->dat, env->iat);
}

static void
watch_free(struct watch *w)
{
	struct watch_last *l, *next;

	for (l = w->last; l != NULL; l = next) {
		next = l->next;
		cJSON_Delete(l->dat);
		free(l);
	}
	w->last = NULL;
}

/* The client library already says when the link is lost. */
static void
watch_link(struct cli_node *n, int up)
{
	if (up)
		cli_error(n->cmd, "reconnected to the hub at %s", n->o->socket);
}

/*
 * On stderr, so that stdout stays one COV per line; and the service's
 * last values again on stdout, marked offline, so that no output shows a
 * stale value as live.  Back online, the service republishes its values.
 */
static void
watch_state(struct cli_node *n, const struct cli_svc *s)
{
	struct watch *w = n->arg;
	const struct watch_last *l;
	char id[MOB_ID_MAX];

	cli_error(n->cmd, "service %s is %s%s%s%s", s->id, s->state,
	    *s->reason != '\0' ? " (" : "", s->reason,
	    *s->reason != '\0' ? ")" : "");
	if (strcmp(s->state, "offline") != 0)
		return;
	for (l = w->last; l != NULL; l = l->next) {
		watch_svc_id(&l->uri, id, sizeof(id));
		if (l->dat != NULL && strcmp(id, s->id) == 0)
			watch_print(n, &l->uri, l->dat, l->iat);
	}
}

/* "000001/010" → filters for cov ("000001/010/#"), svc and state. */
static int
watch_filters(const char *pattern, char *cov, size_t covlen, char *svc,
    size_t svclen)
{
	struct mob_uri u;
	char err[160];
	const char *hid = "+", *sid = "+";

	if (mob_uri_parse(pattern, MOB_URI_WILD, &u, err, sizeof(err)) != 0)
		return cli_usage_error("watch", "PATTERN \"%s\": %s", pattern, err);
	if (u.depth < MOB_URI_PARTS && !u.multi)
		snprintf(cov, covlen, "%s/#", pattern);
	else
		snprintf(cov, covlen, "%s", pattern);
	if (u.depth >= 1 && !(u.multi && u.depth == 1))
		hid = u.part[MOB_URI_HID];
	if (u.depth >= 2 && !(u.multi && u.depth == 2))
		sid = u.part[MOB_URI_SID];
	snprintf(svc, svclen, "%s/%s", hid, sid);
	return 0;
}

int
cmd_watch(int argc, char *argv[], struct cli_opts *o)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "senml", no_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_node n;
	struct cli_svc *s;
	struct watch w;
	struct sigaction sa;
	char cov[MOB_TOPIC_MAX], svc[MOB_ID_MAX + 4];
	int64_t end = 0;
	int ch, rc, duration_ms = 0, r;

	memset(&w, 0, sizeof(w));
	while ((ch = cli_getopt(argc, argv, "n:", lo, o, "watch")) != -1) {
		switch (ch) {
		case 'j':
			w.fmt = CLI_FMT_JSON;
			break;
		case 's':
			w.fmt = CLI_FMT_SENML;
			break;
		case 'n':
			if (cli_parse_int(optarg, 1, 1000000000, &w.count) != 0)
				return cli_usage_error("watch", "--count \"%s\": "
				    "must be a whole number above 0", optarg);
			break;
		case 'd':
			if (cli_parse_seconds(optarg, &duration_ms) != 0)
				return cli_usage_error("watch", "--duration "
				    "\"%s\": must be a number of seconds above 0",
				    optarg);
			break;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("watch", "too many arguments");
	if (watch_filters(argc - optind == 1 ? argv[optind] : "#", cov,
	    sizeof(cov), svc, sizeof(svc)) != 0)
		return CLI_EXIT_USAGE;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_sig;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	memset(&n, 0, sizeof(n));
	n.on_cov = watch_cov;
	n.on_link = watch_link;
	n.on_state = watch_state;
	/* in order and once, nothing lost across hub restarts (history.h) */
	n.recover = 1;
	n.arg = &w;
	if ((rc = cli_node_open(&n, o, "watch")) != CLI_EXIT_OK)
		goto out;
	/* Descriptions first so the retained COVs that follow have names. */
	rc = CLI_EXIT_ERROR;
	if (cli_node_subscribe(&n, "svc", svc) != 0 ||
	    cli_node_settle(&n, 100, 1000) != 0)
		goto out;
	/* Names only; a service that does not answer shows "-" instead. */
	for (s = n.svcs; s != NULL; s = s->next)
		cli_node_complete(&n, s);
	if (cli_node_subscribe(&n, "state", svc) != 0 ||
	    cli_node_subscribe(&n, "cov", cov) != 0)
		goto out;
	if (duration_ms > 0)
		end = mob_clock_mono_ms() + duration_ms;
	rc = CLI_EXIT_OK;
	while (!watch_stop && !w.failed &&
	    (w.count == 0 || w.printed < w.count)) {
		int step = 500;

		if (end != 0) {
			int64_t left = end - mob_clock_mono_ms();

			if (left <= 0)
				break;
			if (left < step)
				step = (int)left;
		}
		if ((r = mob_client_loop(n.c, step)) == MOB_EIDENTITY) {
			/* another client took our place: it said so */
			rc = CLI_EXIT_ERROR;
			break;
		}
		if (r != 0 && !watch_stop) {
			/* The client reconnects by itself; do not spin. */
			log_debug("loop: %s", mob_strerror(r));
			nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
		}
	}
	if (w.failed)
		rc = CLI_EXIT_ERROR;
 out:
	cli_node_close(&n);
	watch_free(&w);
	return rc;
}
