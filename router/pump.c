/*
 * A byte pump between a raw socket and a WebSocket, both libwebsockets
 * connections of one service thread (router: its Unix listener for
 * libmosquitto and its ws/wss client; front: the mosquitto TCP connection
 * and the browser-side ws/wss server).
 *
 * MQTT rides the WebSocket as a plain byte stream (binary frames, packet
 * boundaries not aligned with frames, as MQTT requires): nothing here
 * parses MQTT.  Each side's pending bytes go out in one write per
 * writeable callback; above RT_PUMP_HIGH a side stops being read until the
 * other has drained (lws_rx_flow_control), so memory stays bounded.
 */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "mobius/err.h"
#include "mobius/log.h"
#include "internal.h"

#define WS_CHUNK	(60 * 1024)	/* one frame at most */

void
rt_buf_free(struct rt_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Room for LWS_PRE before the data is kept at the front of p. */
static int
buf_add(struct rt_buf *b, const void *in, size_t len)
{
	if (b->len + len + LWS_PRE > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		uint8_t *np;

		while (b->len + len + LWS_PRE > ncap)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return MOB_ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + LWS_PRE + b->len, in, len);
	b->len += len;
	return 0;
}

static void
buf_consume(struct rt_buf *b, size_t n)
{
	memmove(b->p + LWS_PRE, b->p + LWS_PRE + n, b->len - n);
	b->len -= n;
}

struct rt_pump *
rt_pump_new(void)
{
	return calloc(1, sizeof(struct rt_pump));
}

void
rt_pump_detach(struct rt_pump *p, struct lws *wsi)
{
	struct lws *other;

	if (p == NULL)
		return;
	if (p->raw == wsi) {
		p->raw = NULL;
		p->raw_up = 0;
		other = p->ws;
	} else if (p->ws == wsi) {
		p->ws = NULL;
		p->ws_up = 0;
		other = p->raw;
	} else
		return;
	lws_set_opaque_user_data(wsi, NULL);
	if (other != NULL) {
		/* the stream is broken: the other side goes too */
		lws_set_timeout(other, PENDING_TIMEOUT_KILLED_BY_PARENT,
		    LWS_TO_KILL_ASYNC);
		return;
	}
	rt_buf_free(&p->to_ws);
	rt_buf_free(&p->to_raw);
	free(p);
}

int
rt_pump_from_raw(struct rt_pump *p, const void *in, size_t len)
{
	if (buf_add(&p->to_ws, in, len) != 0)
		return -1;
	p->chunks++;
	if (p->to_ws.len > RT_PUMP_HIGH && p->raw != NULL)
		lws_rx_flow_control(p->raw, 0);
	if (p->ws == NULL || !p->ws_up)
		return 0;
	if (p->coalesce_us > 0) {
		if (!p->timer_armed) {
			p->timer_armed = 1;
			lws_set_timer_usecs(p->ws, p->coalesce_us);
		}
		return 0;
	}
	lws_callback_on_writable(p->ws);
	return 0;
}

int
rt_pump_from_ws(struct rt_pump *p, const void *in, size_t len)
{
	if (buf_add(&p->to_raw, in, len) != 0)
		return -1;
	if (p->to_raw.len > RT_PUMP_HIGH && p->ws != NULL)
		lws_rx_flow_control(p->ws, 0);
	if (p->raw != NULL && p->raw_up)
		lws_callback_on_writable(p->raw);
	return 0;
}

void
rt_pump_ws_timer(struct rt_pump *p)
{
	p->timer_armed = 0;
	if (p->ws != NULL)
		lws_callback_on_writable(p->ws);
}

int
rt_pump_ws_writeable(struct rt_pump *p)
{
	size_t n;

	if (p->ws == NULL || p->to_ws.len == 0 || p->timer_armed)
		return 0;
	n = p->to_ws.len < WS_CHUNK ? p->to_ws.len : WS_CHUNK;
	if (lws_write(p->ws, p->to_ws.p + LWS_PRE, n, LWS_WRITE_BINARY) < (int)n)
		return -1;
	p->frames_out++;
	if (n == p->to_ws.len) {
		if (p->chunks > 1)
			p->frames_merged++;
		p->chunks = 0;
	}
	buf_consume(&p->to_ws, n);
	if (p->to_ws.len > 0)
		lws_callback_on_writable(p->ws);
	else if (p->raw != NULL)
		lws_rx_flow_control(p->raw, 1);
	return 0;
}

int
rt_pump_raw_writeable(struct rt_pump *p)
{
	size_t n;

	if (p->raw == NULL || p->to_raw.len == 0)
		return 0;
	n = p->to_raw.len < WS_CHUNK ? p->to_raw.len : WS_CHUNK;
	if (lws_write(p->raw, p->to_raw.p + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
		return -1;
	buf_consume(&p->to_raw, n);
	if (p->to_raw.len > 0)
		lws_callback_on_writable(p->raw);
	else if (p->ws != NULL)
		lws_rx_flow_control(p->ws, 1);
	return 0;
}

void
rt_pump_up(struct rt_pump *p, struct lws *wsi)
{
	if (wsi == p->ws) {
		p->ws_up = 1;
		if (p->to_ws.len > 0)
			lws_callback_on_writable(p->ws);
	} else if (wsi == p->raw) {
		p->raw_up = 1;
		if (p->to_raw.len > 0)
			lws_callback_on_writable(p->raw);
	}
}

void
rt_lws_log(int level, const char *line)
{
	if (level & LLL_ERR)
		log_warnx("lws: %.*s", (int)strcspn(line, "\n"), line);
	else
		log_debug("lws: %.*s", (int)strcspn(line, "\n"), line);
}
