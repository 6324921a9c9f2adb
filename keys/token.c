/*
 * mobius-keytool: tokens and signed messages (token, verify).
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "internal.h"
#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/log.h"
#include "mobius/time.h"
#include "mobius/token.h"

int
cmd_token(struct kt *kt, int argc, char **argv)
{
	struct mob_kr_entry own;
	const char *file = NULL;
	char spid[5], sid[4], path[PATH_MAX], sub[16], err[512], *tok = NULL;
	int r;
	const struct kt_opt opts[] = {
		{ .name = "key", .short_name = 'k', .str = &file },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (file == NULL && argc - optind != 1)
		return kt_usage("SPID/SID or --key FILE is required");
	if (file != NULL && argc != optind)
		return kt_usage("give SPID/SID or --key FILE, not both");
	if (file == NULL) {
		if ((r = kt_parse_ss(argv[optind], spid, sid)) != 0)
			return r;
		kt_sidpath(kt, sid, path, sizeof(path));
		file = path;
	}
	if ((r = mob_keyfile_load_own(file, &own, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		return r;
	}
	if (own.kind != MOB_ENTRY_SERVICE) {
		log_warnx("%s holds the %s key %s; tokens are for services",
		    file, mob_kr_kind_name(own.kind), own.id);
		r = MOB_EINVAL;
		goto out;
	}
	if (file == path && (strcmp(own.spid, spid) != 0 ||
	    strcmp(own.id + 7, sid) != 0)) {
		log_warnx("%s is the key of %s/%s, not %s/%s", file, own.spid,
		    own.id + 7, spid, sid);
		r = MOB_EIDENTITY;
		goto out;
	}
	snprintf(sub, sizeof(sub), "%.4s/%.3s", own.spid, own.id + 7);
	if ((r = mob_token_mint(own.key, own.id, sub, mob_clock_wall_ms(),
	    &tok)) != 0) {
		kt_err(r, "token");
		goto out;
	}
	printf("%s\n", tok);
 out:
	free(tok);
	mob_key_free(own.key);
	return r;
}

/* A read-only view of why no key verified, for the operator. */
static int
kt_refine(const struct mob_keyring *kr, const char *tok, int r)
{
	const struct mob_kr_entry *e;
	struct mob_jws jws;

	if (r != MOB_EKIDUNKNOWN)
		return r;
	if (mob_jws_parse(tok, strlen(tok), 0, &jws) != 0)
		return r;
	if ((e = mob_keyring_find(kr, jws.kid)) != NULL) {
		if (e->state == MOB_KS_REVOKED)
			r = MOB_EREVOKED;
		else if (e->state == MOB_KS_GRACE)
			r = MOB_EKEYEXPIRED;
	}
	mob_jws_clear(&jws);
	return r;
}

static void
kt_print_time(const char *label, int64_t ms)
{
	char t[24] = "?";

	mob_time_format(ms / 1000, t, sizeof(t));
	printf("%-6s %s (%lld ms)\n", label, t, (long long)ms);
}

static int
kt_verify_token(const struct mob_keyring *kr, const char *tok,
    int64_t window_ms)
{
	const struct mob_kr_entry *e;
	struct mob_token t;
	char want[16];
	int r;

	r = mob_token_verify(tok, strlen(tok), mob_keyring_lookup_fn,
	    (void *)kr, NULL, NULL, window_ms, mob_clock_wall_ms(), &t);
	if (r == 0 && (e = mob_keyring_find(kr, t.iss)) != NULL &&
	    e->kind == MOB_ENTRY_SERVICE) {
		/* The username must be the one the keyring gives this id. */
		snprintf(want, sizeof(want), "%.4s/%.3s", e->spid, e->id + 7);
		if (strcmp(t.sub, want) != 0) {
			log_warnx("invalid token: sub %s, but the keyring has "
			    "%s for %s", t.sub, want, t.iss);
			return MOB_EIDENTITY;
		}
	}
	if (r != 0) {
		r = kt_refine(kr, tok, r);
		log_warnx("invalid token: %s (%s)", mob_strerror(r),
		    mob_errname(r));
		return r;
	}
	printf("valid token\n%-6s %s\n%-6s %s\n", "iss", t.iss, "sub", t.sub);
	kt_print_time("iat", t.iat);
	printf("%-6s %s\n", "nonce", t.nonce);
	return 0;
}

/*
 * msg on topic against the keyring, with a verifier of its own (so no
 * replay state carries over): 0 with *env filled, or the refined MOB_E*.
 * hub_verified as mob_verifier_cfg's.
 */
static int
kt_env_check(const struct mob_keyring *kr, const char *topic, const char *msg,
    int64_t window_ms, enum mob_alg hub_verified, struct mob_env *env)
{
	struct mob_verifier_cfg cfg;
	struct mob_verifier *v = NULL;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.window_ms = window_ms;
	cfg.hub_verified = hub_verified;
	memset(env, 0, sizeof(*env));
	if ((r = mob_verifier_new(mob_keyring_lookup_fn, (void *)kr, &cfg,
	    &v)) != 0)
		return r;
	r = mob_env_verify(v, topic, NULL, msg, strlen(msg), mob_clock_wall_ms(),
	    env);
	mob_verifier_free(v);
	return r != 0 ? kt_refine(kr, msg, r) : 0;
}

static int
kt_verify_message(const struct mob_keyring *kr, const char *msg,
    const char *topic, int64_t window_ms)
{
	struct mob_env env;
	char *dat = NULL;
	int r;

	if ((r = kt_env_check(kr, topic, msg, window_ms, MOB_ALG_INVALID,
	    &env)) != 0) {
		log_warnx("invalid message: %s (%s)", mob_strerror(r),
		    mob_errname(r));
		return r;
	}
	dat = mob_json_print((cJSON *)env.dat);
	printf("valid message\n%-6s %s\n%-6s %s\n", "iss", env.iss, "topic",
	    topic);
	kt_print_time("iat", env.iat);
	printf("%-6s %llu\n%-6s %s\n", "seq", (unsigned long long)env.seq,
	    "dat", dat != NULL ? dat : "?");
	cJSON_free(dat);
	mob_env_clear(&env);
	return 0;
}

/* Retained messages are old by design: --stream does not look at age. */
#define KT_STREAM_WINDOW_MS	((int64_t)1 << 50)

/*
 * One line of `mosquitto_sub -v` (topic, one space, payload): verified on
 * its own (a fresh verifier, so no replay or age check: retained messages
 * come in any order and any age) and printed on one line.  The hub alone
 * can check a service's session MAC (HS256 in hardened mode): such a
 * message says alg=HS256(hub), as the hub checked it before sending it.
 */
static int
kt_verify_line(const struct mob_keyring *kr, char *line, unsigned long no)
{
	enum mob_alg hub = mob_keyring_mode(kr) == MOB_MODE_HARDENED ?
	    MOB_ALG_HS256 : MOB_ALG_INVALID;
	struct mob_env env;
	struct mob_jws jws;
	char *msg, *dat = NULL, t[MOB_TIME_TEXT_MAX] = "?";
	const char *alg;
	int r;

	if ((msg = strchr(line, ' ')) == NULL || msg[1] == '\0' ||
	    strcmp(msg + 1, "(null)") == 0) {
		/* mosquitto_sub -v prints a cleared retained message so */
		log_warnx("line %lu: %s: no payload", no, line);
		return MOB_EINVAL;
	}
	*msg++ = '\0';
	if ((r = kt_env_check(kr, line, msg, KT_STREAM_WINDOW_MS, hub,
	    &env)) != 0) {
		log_warnx("line %lu: %s: invalid message: %s (%s)", no, line,
		    mob_strerror(r), mob_errname(r));
		return r;
	}
	alg = "?";
	if (mob_jws_parse(msg, strlen(msg), 0, &jws) == 0) {
		alg = jws.alg == MOB_ALG_EDDSA ? "EdDSA" :
		    hub == MOB_ALG_HS256 ? "HS256(hub)" : "HS256";
		mob_jws_clear(&jws);
	}
	mob_time_format_ms(env.iat, t, sizeof(t));
	dat = mob_json_print((cJSON *)env.dat);
	printf("%s iss=%s alg=%s iat=%s seq=%llu dat=%s\n", line, env.iss, alg,
	    t, (unsigned long long)env.seq, dat != NULL ? dat : "?");
	fflush(stdout);
	cJSON_free(dat);
	mob_env_clear(&env);
	return 0;
}

/* Every line of stdin; a bad line is said with its number, the rest go on. */
static int
kt_verify_stream(const struct mob_keyring *kr)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned long no = 0, bad = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		no++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (kt_verify_line(kr, line, no) != 0)
			bad++;
	}
	free(line);
	if (bad > 0)
		log_warnx("%lu of %lu lines did not verify", bad, no);
	return bad > 0 ? MOB_EINVAL : 0;
}

static int
kt_opt_window(const char *arg, void *out)
{
	int64_t *window = out;

	if (kt_parse_duration(arg, window) != 0 || *window == 0)
		return kt_usage("bad --window \"%s\": want e.g. 10s or 5m", arg);
	return 0;
}

int
cmd_verify(struct kt *kt, int argc, char **argv)
{
	struct mob_keyring *kr = NULL;
	const char *topic = NULL, *path = kt->keyring;
	char *line = NULL, *tok = NULL;
	size_t cap = 0;
	int64_t window = MOB_WINDOW_MS_DEFAULT / 1000;
	ssize_t n;
	int ret, stream = 0;
	const struct kt_opt opts[] = {
		{ .name = "topic", .short_name = 't', .str = &topic },
		{ .name = "keyring", .short_name = 'k', .str = &path },
		{ .name = "window", .parse = kt_opt_window, .val = &window },
		{ .name = "stream", .flag = &stream },
		{ .name = NULL }
	};

	if ((ret = kt_getopt(argc, argv, opts)) != KT_GO)
		return ret;
	if (stream && (argc != optind || topic != NULL))
		return kt_usage("--stream reads `mosquitto_sub -v` lines from "
		    "stdin: no TOKEN, no --topic");
	if (!stream && argc - optind != 1)
		return kt_usage("TOKEN (or - to read it from stdin) is required");
	if (!stream && strcmp((tok = argv[optind]), "-") == 0) {
		if ((n = getline(&line, &cap, stdin)) <= 0) {
			free(line);
			return kt_usage("nothing on stdin");
		}
		line[strcspn(line, "\r\n")] = '\0';
		tok = line;
	}
	if ((ret = kt_load(path, &kr)) != 0) {
		free(line);
		return ret;
	}
	if (stream)
		ret = kt_verify_stream(kr);
	else if (topic != NULL)
		ret = kt_verify_message(kr, tok, topic, window * 1000);
	else
		ret = kt_verify_token(kr, tok, window * 1000);
	mob_keyring_free(kr);
	free(line);
	return ret;
}
