/*
 * mobius-api: GET /api/v1/stream?pattern=P, the WebSocket COV stream.
 *
 * Each text message is one record exactly as `mobius watch --json` prints
 * it (cli/format.c makes both).  A new client first gets the present
 * value of every resource its pattern and its token's read scope cover
 * (from the cache, walked with a cursor, so the snapshot costs no
 * memory), then every change.  A service going offline re-sends its
 * resources with "status":"offline".
 *
 * Back-pressure: changes wait in a queue of at most cfg.queue_max bytes
 * per client, behind a socket send buffer fixed at STREAM_SNDBUF.  A client that lets it fill is cut: the queue is freed at
 * once, and the connection is closed with 1008 "slow reader" as soon as
 * the socket takes the close frame, or killed after CUT_KILL_S if it
 * never does.  So a slow client never grows the daemon beyond that bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cJSON.h>
#include <libwebsockets.h>

#include "mobius/err.h"
#include "mobius/log.h"
#include "../cli/internal.h"
#include "internal.h"

#define CUT_KILL_S	10
#define SEND_BATCH	64	/* messages a writable callback sends at most */
#define STREAM_SNDBUF	(64 * 1024)	/* socket send buffer of a stream */

struct smsg {
	struct smsg *next;
	size_t len;
	unsigned char buf[];	/* LWS_PRE + len */
};

enum { CUT_NONE, CUT_SLOW, CUT_TOKEN };

static struct api_stream *streams;

size_t
api_stream_count(void)
{
	struct api_stream *st;
	size_t n = 0;

	for (st = streams; st != NULL; st = st->next)
		n++;
	return n;
}

static int
svc_offline(const struct mob_uri *u)
{
	char id[MOB_ID_MAX];
	struct api_svc *s;

	api_svc_id(u, id);
	return (s = api_svc_find(id)) != NULL && s->online == 0;
}

char *
api_cov_record(const struct api_cov *c, int offline)
{
	const cJSON *dat = c->dat, *j, *res;
	struct cli_cov cc;
	char *line = NULL;

	memset(&cc, 0, sizeof(cc));
	snprintf(cc.uri, sizeof(cc.uri), "%s", c->uri);
	cc.value = cJSON_IsObject(dat) ?
	    cJSON_GetObjectItemCaseSensitive(dat, "value") : dat;
	cc.time_ms = c->iat;
	j = cJSON_GetObjectItemCaseSensitive(dat, "changed");
	if (cJSON_IsNumber(j) && j->valuedouble > 0)
		cc.time_ms = (int64_t)j->valuedouble;
	j = cJSON_GetObjectItemCaseSensitive(dat, "status");
	if (cJSON_IsString(j))
		cc.status = j->valuestring;
	if (offline || svc_offline(&c->u))
		cc.status = "offline";
	if ((res = api_res_desc(&c->u)) != NULL) {
		j = cJSON_GetObjectItemCaseSensitive(res, "name");
		cc.name = cJSON_IsString(j) ? j->valuestring : NULL;
		j = cJSON_GetObjectItemCaseSensitive(res, "units");
		cc.units = cJSON_IsString(j) ? j->valuestring : NULL;
	}
	if (cli_fmt_cov(CLI_FMT_JSON, &cc, &line) != 0)
		return NULL;
	return line;
}

static int
stream_wants(const struct api_stream *st, const struct api_cov *c)
{
	return c->dat != NULL && mob_uri_match(&st->pattern, &c->u) &&
	    api_scope_covers(&st->tok, API_READ, &c->u);
}

static void
queue_free(struct api_stream *st)
{
	struct smsg *m;

	while ((m = st->head) != NULL) {
		st->head = m->next;
		free(m);
	}
	st->tail = NULL;
	st->queued = 0;
}

static void
stream_cut(struct api_stream *st, int why)
{
	if (st->cut != CUT_NONE)
		return;
	st->cut = why;
	queue_free(st);
	log_info("stream: cutting a client (%s)", why == CUT_SLOW ?
	    "slow reader" : "token revoked");
	lws_set_timeout(st->wsi, PENDING_TIMEOUT_USER_OK, CUT_KILL_S);
	lws_callback_on_writable(st->wsi);
}

static void
stream_push(struct api_stream *st, const char *rec, size_t len)
{
	struct smsg *m;

	if (st->cut != CUT_NONE)
		return;
	if (st->queued + len > (size_t)api.cfg.queue_max) {
		stream_cut(st, CUT_SLOW);
		return;
	}
	if ((m = malloc(sizeof(*m) + LWS_PRE + len)) == NULL) {
		stream_cut(st, CUT_SLOW);
		return;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, rec, len);
	if (st->tail != NULL)
		st->tail->next = m;
	else
		st->head = m;
	st->tail = m;
	st->queued += len;
	lws_callback_on_writable(st->wsi);
}

void
api_stream_cov(const struct api_cov *c)
{
	struct api_stream *st;
	char *rec = NULL;

	for (st = streams; st != NULL; st = st->next) {
		/* a change the snapshot has not reached yet goes with it */
		if (!stream_wants(st, c) ||
		    (!st->snap_done && (size_t)(c - api_cov_at(0)) >= st->snap))
			continue;
		if (rec == NULL && (rec = api_cov_record(c, 0)) == NULL)
			return;
		stream_push(st, rec, strlen(rec));
	}
	free(rec);
}

void
api_stream_offline(const char *svc_id)
{
	const struct api_cov *c;
	size_t i, n = api_cov_count();
	char id[MOB_ID_MAX], *rec;
	struct api_stream *st;

	if (streams == NULL)
		return;
	for (i = 0; i < n; i++) {
		c = api_cov_at(i);
		api_svc_id(&c->u, id);
		if (strcmp(id, svc_id) != 0 || (rec = api_cov_record(c, 1)) == NULL)
			continue;
		for (st = streams; st != NULL; st = st->next)
			if (stream_wants(st, c) && (st->snap_done || i < st->snap))
				stream_push(st, rec, strlen(rec));
		free(rec);
	}
}

void
api_stream_tokens(void)
{
	struct api_stream *st;

	for (st = streams; st != NULL; st = st->next)
		if (api_token_find(st->tok.name, st->tok.gen) == NULL)
			stream_cut(st, CUT_TOKEN);
}

int
api_stream_open(struct lws *wsi, struct api_stream *st, struct api_token *t,
    const struct mob_uri *pattern)
{
	int sndbuf = STREAM_SNDBUF;

	/* the kernel's share of a slow client is bounded too (no autotuning) */
	if (setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) != 0)
		log_warn("stream: SO_SNDBUF");
	memset(st, 0, sizeof(*st));
	st->wsi = wsi;
	st->pattern = *pattern;
	st->tok = *t;
	st->next = streams;
	if (streams != NULL)
		streams->prevp = &st->next;
	st->prevp = &streams;
	streams = st;
	lws_callback_on_writable(wsi);
	return 0;
}

static int
send_one(struct lws *wsi, unsigned char *buf, size_t len)
{
	return lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len ? -1 : 0;
}

int
api_stream_writable(struct lws *wsi, struct api_stream *st)
{
	const struct api_cov *c;
	struct smsg *m;
	unsigned char *buf;
	char *rec;
	size_t len;
	int sent = 0;

	if (st->cut != CUT_NONE) {
		if (st->cut == CUT_SLOW)
			lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			    (unsigned char *)"slow reader", 11);
		else
			lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			    (unsigned char *)"token revoked", 13);
		return -1;
	}
	while (!st->snap_done && sent < SEND_BATCH && !lws_send_pipe_choked(wsi)) {
		if ((c = api_cov_at(st->snap)) == NULL) {
			st->snap_done = 1;
			break;
		}
		st->snap++;
		if (!stream_wants(st, c) || (rec = api_cov_record(c, 0)) == NULL)
			continue;
		len = strlen(rec);
		if ((buf = malloc(LWS_PRE + len)) == NULL) {
			free(rec);
			return -1;
		}
		memcpy(buf + LWS_PRE, rec, len);
		free(rec);
		if (send_one(wsi, buf, len) != 0) {
			free(buf);
			return -1;
		}
		free(buf);
		sent++;
	}
	while (st->snap_done && (m = st->head) != NULL && sent < SEND_BATCH &&
	    !lws_send_pipe_choked(wsi)) {
		st->head = m->next;
		if (st->head == NULL)
			st->tail = NULL;
		st->queued -= m->len;
		if (send_one(wsi, m->buf, m->len) != 0) {
			free(m);
			return -1;
		}
		free(m);
		sent++;
	}
	if (!st->snap_done || st->head != NULL)
		lws_callback_on_writable(wsi);
	return 0;
}

void
api_stream_close(struct api_stream *st)
{
	if (st->prevp == NULL)
		return;
	queue_free(st);
	*st->prevp = st->next;
	if (st->next != NULL)
		st->next->prevp = st->prevp;
	st->prevp = NULL;
	memset(&st->tok, 0, sizeof(st->tok));
}
