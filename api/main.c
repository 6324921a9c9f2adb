/*
 * mobius-api: the node's HTTP and WebSocket API and its dashboard
 * (docs/api.md).  A service on the hub (own key, own SPID/SID) on one
 * side, an HTTPS server (libwebsockets) on the other.
 *
 * main() reads top to bottom: configuration, then everything opened that
 * needs privilege or the file system (listening socket, TLS key and
 * certificate, tokens, dashboard files, the hub link), then the sandbox,
 * then the loop.  No byte from an application is parsed before the
 * sandbox: the listening socket accepts nothing until the loop runs.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <libwebsockets.h>

#include "mobius/config.h"
#include "mobius/daemon.h"
#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/log.h"
#include "mobius/proto.h"
#include "mobius/sandbox.h"
#include "internal.h"

#define API_CFG_TOKENS	MOB_KEYS_DIR_DEFAULT "/api-tokens.json"
#define API_CFG_CERT	MOB_KEYS_DIR_DEFAULT "/api.crt"
#define API_CFG_KEY	MOB_KEYS_DIR_DEFAULT "/api.key"
#define API_CFG_WWW	"/usr/share/mobius/www"
#define CERT_MAX	(64 * 1024)

struct api api;

size_t api_sess_size(void);

static struct mob_config *cfgdoc;

/* docs/api.md "Configuration"; every error names the JSON path. */
static void
read_config(const char *path, struct api_cfg *c)
{
	static const char *const top[] = { "listen", "port", "tls", "tokens",
		"www", "cors", "rate", "burst", "queue_bytes", "body_max",
		"timeout_ms", NULL };
	static const char *const tls[] = { "cert", "key", NULL };
	struct mob_cnode root, t;
	char err[512];
	int r, plain = 0;

	c->port = API_PORT_DEFAULT;
	c->tokens = API_CFG_TOKENS;
	c->www = API_CFG_WWW;
	c->cert = API_CFG_CERT;
	c->key = API_CFG_KEY;
	c->rate = API_RATE_DEFAULT;
	c->burst = API_BURST_DEFAULT;
	c->queue_max = API_QUEUE_DEFAULT;
	c->body_max = API_BODY_MAX;
	c->req_timeout_ms = API_REQ_TIMEOUT_MS;
	if (mob_config_load(path, &cfgdoc, err, sizeof(err)) != 0)
		fatalx("%s", err);
	mob_config_root(cfgdoc, &root);
	if (mob_cfg_object(cfgdoc, &root, top) != 0 ||
	    mob_cfg_string(cfgdoc, &root, "listen", 0, 64, &c->listen) < 0 ||
	    mob_cfg_int_set(cfgdoc, &root, "port", 0, 1, 65535, &c->port) != 0 ||
	    mob_cfg_string(cfgdoc, &root, "tokens", 0, 256, &c->tokens) < 0 ||
	    mob_cfg_string(cfgdoc, &root, "www", 0, 256, &c->www) < 0 ||
	    mob_cfg_string(cfgdoc, &root, "cors", 0, 256, &c->cors) < 0 ||
	    mob_cfg_int_set(cfgdoc, &root, "rate", 0, 1, 100000, &c->rate) != 0 ||
	    mob_cfg_int_set(cfgdoc, &root, "burst", 0, 1, 100000, &c->burst) != 0 ||
	    mob_cfg_int_set(cfgdoc, &root, "queue_bytes", 0, 16384, 64 << 20,
	    &c->queue_max) != 0 ||
	    mob_cfg_int_set(cfgdoc, &root, "body_max", 0, 64, 65536, &c->body_max) != 0 ||
	    mob_cfg_int_set(cfgdoc, &root, "timeout_ms", 0, 100, 60000,
	    &c->req_timeout_ms) != 0)
		fatalx("%s", mob_config_error(cfgdoc));
	/* "tls": false is plain HTTP; an object names the key and certificate */
	if ((r = mob_cfg_member(cfgdoc, &root, "tls", 0, &t)) < 0)
		fatalx("%s", mob_config_error(cfgdoc));
	if (r == 1 && cJSON_IsFalse(t.j))
		plain = 1;
	else if (r == 1 && (mob_cfg_object(cfgdoc, &t, tls) != 0 ||
	    mob_cfg_string(cfgdoc, &t, "cert", 0, 256, &c->cert) < 0 ||
	    mob_cfg_string(cfgdoc, &t, "key", 0, 256, &c->key) < 0))
		fatalx("%s: tls: false, or {\"cert\",\"key\"}", mob_config_error(cfgdoc));
	c->plain = plain;
	if (plain && (c->listen == NULL || (strcmp(c->listen, "127.0.0.1") != 0 &&
	    strcmp(c->listen, "::1") != 0)))
		fatalx("%s: tls: false (plain HTTP) needs \"listen\": \"127.0.0.1\" "
		    "or \"::1\"", path);
}

static void
lws_logger(int level, const char *line)
{
	size_t n = strlen(line);

	if (n > 0 && line[n - 1] == '\n')
		n--;
	if (level & LLL_ERR)
		log_warnx("lws: %.*s", (int)n, line);
	else
		log_debug("lws: %.*s", (int)n, line);
}

static struct lws_protocols protocols[] = {
	/* first: HTTP, and WebSocket upgrades that name no subprotocol */
	{ "mobius-api", (lws_callback_function *)(void *)api_http_callback, 0, 1024, 0, NULL, 0 },
	{ "mobius-hub", (lws_callback_function *)(void *)api_hub_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* The certificate and key changed on disk: give them to the TLS context. */
static struct timespec cert_mtime, key_mtime;

static void
cert_stat(struct timespec *c, struct timespec *k)
{
	struct stat st;

	memset(c, 0, sizeof(*c));
	memset(k, 0, sizeof(*k));
	if (stat(api.cfg.cert, &st) == 0)
		*c = st.st_mtim;
	if (stat(api.cfg.key, &st) == 0)
		*k = st.st_mtim;
}

static lws_sorted_usec_list_t cert_sul;

static void
cert_check(lws_sorted_usec_list_t *sul)
{
	struct timespec c, k;
	size_t cl = 0, kl = 0;
	char *cb = NULL, *kb = NULL, err[512];

	(void)sul;
	cert_stat(&c, &k);
	if (memcmp(&c, &cert_mtime, sizeof(c)) != 0 ||
	    memcmp(&k, &key_mtime, sizeof(k)) != 0) {
		if (mob_file_read(api.cfg.cert, CERT_MAX, 0, &cb, &cl, err,
		    sizeof(err)) != 0 ||
		    mob_file_read(api.cfg.key, CERT_MAX, MOB_FILE_PRIVATE, &kb, &kl,
		    err, sizeof(err)) != 0 ||
		    lws_tls_cert_updated(api.ctx, api.cfg.cert, api.cfg.key,
		    cb, cl, kb, kl) != 0)
			log_warnx("%s: cannot load the new certificate; keeping "
			    "the old one", api.cfg.cert);
		else
			log_info("%s: new certificate loaded", api.cfg.cert);
		mob_file_free(cb, cl);
		mob_file_free(kb, kl);
		cert_mtime = c;
		key_mtime = k;
	}
	lws_sul_schedule(api.ctx, 0, &cert_sul, cert_check, 2 * LWS_US_PER_SEC);
}

static const char *
dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return ".";
	snprintf(buf, len, "%.*s", (int)(slash == path ? 1 : slash - path), path);
	return buf;
}

static void
on_signal(int sig)
{
	(void)sig;
	api.stop = 1;
	if (api.ctx != NULL)
		lws_cancel_service(api.ctx);
}

/* The listening socket and TLS context (the socket listens, nothing is read). */
static void
open_server(void)
{
	struct lws_context_creation_info info;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_logger);
	protocols[0].per_session_data_size = api_sess_size();
	memset(&info, 0, sizeof(info));
	info.port = api.cfg.port;
	info.iface = api.cfg.listen;
	info.protocols = protocols;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	info.alpn = "http/1.1";
	info.max_http_header_data = API_HDR_MAX;
	info.max_http_header_pool = 32;
	info.fd_limit_per_thread = API_CONN_MAX + 16;
	info.timeout_secs = 10;
	info.keepalive_timeout = 30;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 |
	    LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	if (api.cfg.listen != NULL && strchr(api.cfg.listen, ':') == NULL)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	if (!api.cfg.plain) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = api.cfg.cert;
		info.ssl_private_key_filepath = api.cfg.key;
		info.ssl_cipher_list = "ECDHE+AESGCM:ECDHE+CHACHA20";
		info.tls1_3_plus_cipher_list = "TLS_AES_256_GCM_SHA384:"
		    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
		info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
		    SSL_OP_NO_RENEGOTIATION;
	}
	if ((api.ctx = lws_create_context(&info)) == NULL)
		fatalx("cannot listen on %s port %d%s", api.cfg.listen != NULL ?
		    api.cfg.listen : "*", api.cfg.port, api.cfg.plain ? "" :
		    " (or the TLS key/certificate cannot be loaded)");
	api.vh = lws_get_vhost_by_name(api.ctx, "default");
	if (api.vh == NULL)
		fatalx("no vhost");
	if (!api.cfg.plain)
		cert_stat(&cert_mtime, &key_mtime);
}

static const struct mob_daemon api_daemon = {
	"mobius-api",
	"The node's HTTP and WebSocket API and its dashboard (docs/api.md).",
	"listen address, port, TLS, tokens, limits (JSON, docs/api.md)",
	NULL, NULL, &mob_sandbox_api, "00A0",
};

int
main(int argc, char *argv[])
{
	struct mob_daemon_opts o;
	const char *ro[3] = { NULL, NULL, NULL };
	char tokdir[512], certdir[512];
	struct sigaction sa;
	int r, n = 0;

	/* config: the command line, the key file (said in one line when it
	 * fails), then the config file */
	mob_daemon_args(&api_daemon, NULL, argc, argv, &o);
	if (api_hub_new(&o.ccfg) != 0)
		return 1;
	read_config(o.config, &api.cfg);

	/* open: tokens, dashboard, TLS key, the listening socket, the hub link */
	if (api_tokens_load(api.cfg.tokens) != 0)
		fatalx("%s: cannot read the API tokens", api.cfg.tokens);
	if (api_www_load(api.cfg.www) != 0)
		fatalx("%s: cannot read the dashboard", api.cfg.www);
	open_server();
	if ((r = api_hub_open()) != 0)
		fatalx("hub %s: %s", mob_daemon_socket(&o), mob_strerror(r));

	/*
	 * sandbox: the token file's and the certificate's directories stay
	 * visible read-only (re-read when they change; keytool replaces the
	 * files by rename)
	 */
	ro[n++] = dir_of(api.cfg.tokens, tokdir, sizeof(tokdir));
	if (!api.cfg.plain)
		ro[n++] = dir_of(api.cfg.cert, certdir, sizeof(certdir));
	mob_daemon_confine_ro(&api_daemon, &o, NULL, ro);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* loop: log in to the hub (its first bytes), then serve */
	if ((r = api_hub_login(30000)) != 0)
		mob_daemon_hub_fatal(&o, r, 30000);
	if (!api.cfg.plain)
		lws_sul_schedule(api.ctx, 0, &cert_sul, cert_check, 2 * LWS_US_PER_SEC);
	log_info("%s: listening on %s://%s:%d/", mob_client_id(api.c),
	    api.cfg.plain ? "http" : "https",
	    api.cfg.listen != NULL ? api.cfg.listen : "*", api.cfg.port);
	while (!api.stop && lws_service(api.ctx, 0) >= 0)
		;
	log_info("stopping");
	lws_sul_cancel(&cert_sul);
	lws_context_destroy(api.ctx);
	api.ctx = NULL;
	api_hub_close();
	api_tokens_free();
	api_www_free();
	mob_config_free(cfgdoc);
	return 0;
}
