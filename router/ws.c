/*
 * The router's WebSocket side (docs/router.md, "Why libwebsockets and
 * libmosquitto").
 *
 * libmosquitto speaks MQTT 3.1.1 but not WebSocket; libwebsockets speaks
 * WebSocket and TLS but its MQTT client is not in Debian's build.  So the
 * router's libmosquitto client connects to a Unix socket of the router's
 * own (in its private state directory), and this module, in its own
 * thread, pumps each accepted connection into a fresh ws:// or wss://
 * connection to the broker (subprotocol "mqtt").  Either side closing
 * closes the other, so libmosquitto sees every broker disconnect and
 * reconnects; its keepalive is the liveness check of the whole path.
 *
 * The byte stream is never re-framed: libmosquitto reads a real socket, so
 * several MQTT packets in one WebSocket frame are simply several packets
 * in the socket buffer (tests/test_router.c, coalescing).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "mobius/err.h"
#include "mobius/log.h"
#include "internal.h"

struct rt_ws {
	struct rt_broker b;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	pthread_t thr;
	int started;
	volatile int stop;
};

int
rt_broker_parse(const char *url, struct rt_broker *b)
{
	const char *p, *slash, *colon;
	size_t hl;

	memset(b, 0, sizeof(*b));
	if (strlen(url) >= sizeof(b->url))
		return MOB_ETOOLONG;
	snprintf(b->url, sizeof(b->url), "%s", url);
	if (strncmp(url, "ws://", 5) == 0) {
		p = url + 5;
		b->port = 80;
	} else if (strncmp(url, "wss://", 6) == 0) {
		p = url + 6;
		b->tls = 1;
		b->port = 443;
	} else
		return MOB_EINVAL;
	slash = strchr(p, '/');
	hl = slash != NULL ? (size_t)(slash - p) : strlen(p);
	colon = memchr(p, ':', hl);
	if (colon != NULL) {
		char *end;
		long port = strtol(colon + 1, &end, 10);

		if (end != p + hl || port < 1 || port > 65535)
			return MOB_EINVAL;
		b->port = (int)port;
		hl = (size_t)(colon - p);
	}
	if (hl == 0 || hl >= sizeof(b->host))
		return MOB_EINVAL;
	memcpy(b->host, p, hl);
	snprintf(b->path, sizeof(b->path), "%s", slash != NULL ? slash : "/");
	return 0;
}

static void
ws_connect(struct rt_ws *w, struct rt_pump *p)
{
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.context = w->ctx;
	ci.vhost = w->vh;
	ci.address = w->b.host;
	ci.port = w->b.port;
	ci.path = w->b.path;
	ci.host = w->b.host;
	ci.origin = w->b.host;
	ci.protocol = "mqtt";
	ci.local_protocol_name = "mqtt";
	ci.ssl_connection = w->b.tls ? LCCSCF_USE_SSL : 0;
	if (w->b.tls && w->b.insecure)
		ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
		    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
		    LCCSCF_ALLOW_INSECURE;
	ci.opaque_user_data = p;
	ci.pwsi = &p->ws;
	if (lws_client_connect_via_info(&ci) == NULL) {
		log_warnx("broker %s: cannot start the connection", w->b.url);
		p->ws = NULL;
		if (p->raw != NULL)
			lws_set_timeout(p->raw, PENDING_TIMEOUT_KILLED_BY_PARENT,
			    LWS_TO_KILL_ASYNC);
	}
}

static int
ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct rt_ws *w = lws_context_user(lws_get_context(wsi));
	struct rt_pump *p = lws_get_opaque_user_data(wsi);

	(void)user;
	switch (reason) {
	/* the raw side: libmosquitto's connection to our Unix socket */
	case LWS_CALLBACK_RAW_ADOPT:
		if ((p = rt_pump_new()) == NULL)
			return -1;
		p->raw = wsi;
		p->raw_up = 1;
		lws_set_opaque_user_data(wsi, p);
		ws_connect(w, p);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		return p != NULL ? rt_pump_from_raw(p, in, len) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return p != NULL ? rt_pump_raw_writeable(p) : -1;
	case LWS_CALLBACK_RAW_CLOSE:
		rt_pump_detach(p, wsi);
		return 0;

	/* the WebSocket side: the broker */
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (p == NULL)
			return -1;
		log_info("broker %s: WebSocket up", w->b.url);
		rt_pump_up(p, wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return p != NULL ? rt_pump_from_ws(p, in, len) : -1;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return p != NULL ? rt_pump_ws_writeable(p) : -1;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		log_warnx("broker %s: %s", w->b.url,
		    in != NULL ? (const char *)in : "connection failed");
		rt_pump_detach(p, wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		log_info("broker %s: WebSocket closed", w->b.url);
		rt_pump_detach(p, wsi);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols ws_protocols[] = {
	{ "mqtt", ws_cb, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

int
rt_ws_new(const struct rt_broker *b, const char *sockpath, struct rt_ws **out)
{
	struct lws_context_creation_info ci;
	struct rt_ws *w;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return MOB_ENOMEM;
	w->b = *b;
	lws_set_log_level(LLL_ERR | LLL_WARN, rt_lws_log);
	memset(&ci, 0, sizeof(ci));
	ci.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	ci.user = w;
	if ((w->ctx = lws_create_context(&ci)) == NULL)
		goto fail;
	memset(&ci, 0, sizeof(ci));
	ci.vhost_name = "router";
	ci.protocols = ws_protocols;
	ci.iface = sockpath;
	ci.port = 0;
	ci.options = LWS_SERVER_OPTION_UNIX_SOCK |
	    LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
	ci.listen_accept_role = "raw-skt";
	ci.listen_accept_protocol = "mqtt";
	ci.client_ssl_ca_filepath = b->cafile;
	unlink(sockpath);
	if ((w->vh = lws_create_vhost(w->ctx, &ci)) == NULL)
		goto fail;
	*out = w;
	return 0;
 fail:
	log_warnx("cannot set up libwebsockets (listener %s)", sockpath);
	rt_ws_free(w);
	return MOB_ESYS;
}

static void *
ws_thread(void *arg)
{
	struct rt_ws *w = arg;

	while (!w->stop)
		if (lws_service(w->ctx, 0) < 0)
			break;
	return NULL;
}

int
rt_ws_start(struct rt_ws *w)
{
	if (pthread_create(&w->thr, NULL, ws_thread, w) != 0)
		return MOB_ESYS;
	w->started = 1;
	return 0;
}

void
rt_ws_free(struct rt_ws *w)
{
	if (w == NULL)
		return;
	if (w->started) {
		w->stop = 1;
		lws_cancel_service(w->ctx);
		pthread_join(w->thr, NULL);
	}
	if (w->ctx != NULL)
		lws_context_destroy(w->ctx);
	free(w);
}
