/*
 * mobius-front: ws:// and wss:// in front of a mosquitto TCP listener, so
 * Debian's mosquitto (which has no WebSocket listener) can be the
 * no-man's broker (docs/router.md).
 *
 * Each WebSocket connection (subprotocol "mqtt") gets its own TCP
 * connection to the broker; bytes are pumped both ways unchanged
 * (pump.c).  libwebsockets does the WebSocket handshake, framing and TLS.
 *
 * --coalesce MS holds broker bytes that long before sending them as one
 * WebSocket frame, so several MQTT packets share a frame: the test of
 * clients that assume one packet per frame (docs/router.md, "Coalesced
 * frames").  Not for production.
 *
 * Order: options → listen (and load the TLS key) → sandbox → loop.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "mobius/err.h"
#include "mobius/log.h"
#include "mobius/sandbox.h"
#include "mobius/version.h"
#include "internal.h"

struct front {
	const char *listen_host;
	int port;
	const char *cert, *key;
	const char *broker_host;
	int broker_port;
	int coalesce_us;
	int no_sandbox;
	struct lws_context *ctx;
	struct lws_vhost *vh;
};

static volatile sig_atomic_t front_stop;

static void
front_broker_connect(struct front *f, struct rt_pump *p)
{
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.context = f->ctx;
	ci.vhost = f->vh;
	ci.address = f->broker_host;
	ci.port = f->broker_port;
	ci.method = "RAW";
	ci.local_protocol_name = "mqtt";
	ci.opaque_user_data = p;
	ci.pwsi = &p->raw;
	if (lws_client_connect_via_info(&ci) == NULL) {
		log_warnx("broker %s:%d: cannot connect", f->broker_host,
		    f->broker_port);
		p->raw = NULL;
	}
}

static int
front_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct front *f = lws_context_user(lws_get_context(wsi));
	struct rt_pump *p = lws_get_opaque_user_data(wsi);

	(void)user;
	switch (reason) {
	/* the WebSocket side: a router (or any MQTT-over-WebSocket client) */
	case LWS_CALLBACK_ESTABLISHED:
		if ((p = rt_pump_new()) == NULL)
			return -1;
		p->ws = wsi;
		p->ws_up = 1;
		p->coalesce_us = f->coalesce_us;
		lws_set_opaque_user_data(wsi, p);
		front_broker_connect(f, p);
		return p->raw == NULL ? -1 : 0;
	case LWS_CALLBACK_RECEIVE:
		return p != NULL ? rt_pump_from_ws(p, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return p != NULL ? rt_pump_ws_writeable(p) : -1;
	case LWS_CALLBACK_TIMER:
		if (p != NULL)
			rt_pump_ws_timer(p);
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (p != NULL)
			log_info("client connection closed after %llu frames to "
			    "the client (%llu carrying several broker reads)",
			    (unsigned long long)p->frames_out,
			    (unsigned long long)p->frames_merged);
		rt_pump_detach(p, wsi);
		return 0;

	/* the raw side: the TCP connection to mosquitto */
	case LWS_CALLBACK_RAW_CONNECTED:
		if (p == NULL)
			return -1;
		rt_pump_up(p, wsi);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		return p != NULL ? rt_pump_from_raw(p, in, len) : -1;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return p != NULL ? rt_pump_raw_writeable(p) : -1;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		log_warnx("broker %s:%d: %s", f->broker_host, f->broker_port,
		    in != NULL ? (const char *)in : "connection failed");
		rt_pump_detach(p, wsi);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		rt_pump_detach(p, wsi);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols front_protocols[] = {
	{ "mqtt", front_cb, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void
front_sig(int sig)
{
	(void)sig;
	front_stop = 1;
}

static __attribute__((noreturn)) void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: mobius-front [--listen HOST] --port PORT [--cert FILE "
	    "--tls-key FILE]\n"
	    "                    [--broker HOST:PORT] [--coalesce MS] "
	    "[--no-sandbox] [-v]\n"
	    "  --listen HOST     address to listen on (default 127.0.0.1)\n"
	    "  --port PORT       ws:// (wss:// with --cert and --tls-key)\n"
	    "  --cert FILE       the TLS certificate (wss://)\n"
	    "  --tls-key FILE    its private key\n"
	    "  --broker H:P      the mosquitto TCP listener (default "
	    "127.0.0.1:1883)\n"
	    "  --coalesce MS     test mode: hold broker bytes MS ms, one frame\n"
	    "  --no-sandbox      do not confine the process (debugging only)\n"
	    "  -v, --verbose     verbose logging\n"
	    "  -h, --help        print this help and exit\n"
	    "  --version         print the version and exit\n");
	exit(status);
}

static void
parse_args(int argc, char *argv[], struct front *f, int *verbose)
{
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "broker", required_argument, NULL, 'b' },
		{ "coalesce", required_argument, NULL, 'x' },
		{ "no-sandbox", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static char bhost[128];
	char *colon, *end;
	int ch;

	f->listen_host = "127.0.0.1";
	f->broker_host = "127.0.0.1";
	f->broker_port = 1883;
	while ((ch = getopt_long(argc, argv, "nvh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'l': f->listen_host = optarg; break;
		case 'p': f->port = atoi(optarg); break;
		case 'C': f->cert = optarg; break;
		case 'K': f->key = optarg; break;
		case 'b':
			snprintf(bhost, sizeof(bhost), "%s", optarg);
			if ((colon = strrchr(bhost, ':')) == NULL)
				usage(2);
			*colon = '\0';
			f->broker_host = bhost;
			f->broker_port = (int)strtol(colon + 1, &end, 10);
			if (*end != '\0' || f->broker_port < 1 ||
			    f->broker_port > 65535)
				usage(2);
			break;
		case 'x': f->coalesce_us = atoi(optarg) * 1000; break;
		case 'n': f->no_sandbox = 1; break;
		case 'v': (*verbose)++; break;
		case 'h': usage(0);
		case 'V':
			mob_version_print(stdout, "mobius-front");
			exit(0);
		default: usage(2);
		}
	}
	if (optind != argc || f->port < 1 || f->port > 65535 ||
	    (f->cert == NULL) != (f->key == NULL) || f->coalesce_us < 0)
		usage(2);
}

int
main(int argc, char *argv[])
{
	struct lws_context_creation_info ci;
	struct mob_sandbox_opts sbo = { 0 };
	struct front f = { 0 };
	int verbose = 0;

	parse_args(argc, argv, &f, &verbose);
	log_init("mobius-front", verbose);
	lws_set_log_level(LLL_ERR | LLL_WARN, rt_lws_log);

	/* open: the listener and the TLS key, while they can be read */
	memset(&ci, 0, sizeof(ci));
	ci.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	ci.user = &f;
	if ((f.ctx = lws_create_context(&ci)) == NULL)
		fatalx("cannot create the libwebsockets context");
	memset(&ci, 0, sizeof(ci));
	ci.vhost_name = "front";
	ci.iface = f.listen_host;
	ci.port = f.port;
	ci.protocols = front_protocols;
	ci.ssl_cert_filepath = f.cert;
	ci.ssl_private_key_filepath = f.key;
	if ((f.vh = lws_create_vhost(f.ctx, &ci)) == NULL)
		fatalx("cannot listen on %s:%d", f.listen_host, f.port);

	/* sandbox: nothing more to open from here on */
	sbo.no_sandbox = f.no_sandbox;
	if (mob_sandbox_enter(&mob_sandbox_front, &sbo) != 0)
		fatalx("cannot enter the sandbox");

	signal(SIGTERM, front_sig);
	signal(SIGINT, front_sig);
	signal(SIGPIPE, SIG_IGN);
	log_info("%s://%s:%d -> mqtt %s:%d%s", f.cert ? "wss" : "ws",
	    f.listen_host, f.port, f.broker_host, f.broker_port,
	    f.coalesce_us ? " (coalescing frames: test mode)" : "");
	while (!front_stop)
		if (lws_service(f.ctx, 0) < 0)
			break;
	lws_context_destroy(f.ctx);
	return 0;
}
