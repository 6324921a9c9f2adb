/*
 * API tokens (docs/api.md "Tokens").
 *
 * The token file, written by `mobius-keytool api-token`, holds for each
 * token its name, the SHA-256 of the token text and its scopes; the
 * secret itself is shown once by keytool and never stored.  A presented
 * token is capped in length, hashed, and compared with every entry in
 * constant time.  A 256-bit secret cannot be guessed, so the throttle on
 * failed checks is there to keep a flood of bad tokens cheap (and the log
 * quiet), not to protect the secret: it holds the failing answer back a
 * little longer per failure of that source, and never refuses a valid
 * token, wherever it comes from.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "mobius/b64.h"
#include "mobius/clock.h"
#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/log.h"
#include "internal.h"

#define TOKEN_TEXT_MAX	128	/* longer presented tokens are not hashed */
#define TOKEN_FILE_MAX	(256 * 1024)
#define FAIL_HOLD_MAX	64	/* failing answers held back at once */
#define FAIL_DELAY_MIN	100	/* ms */
#define FAIL_DELAY_MAX	5000
#define FAIL_FORGET_MS	60000	/* a source's failures decay after this */

static struct {
	struct api_token *t;
	size_t n;
	struct timespec mtime;
	off_t size;
	ino_t ino;
	uint64_t gen;
} tk;

static struct {
	char addr[48];
	int fails;
	int64_t last_ms;
} fail[API_FAIL_SLOTS];
static int fail_held;

int
api_scope_parse(const char *s, struct api_scope *out, char *err, size_t errlen)
{
	const char *colon = strchr(s, ':');
	size_t vlen;

	memset(out, 0, sizeof(*out));
	if (colon == NULL) {
		snprintf(err, errlen, "\"%s\": expected VERB:PATTERN "
		    "(read:000001/#)", s);
		return MOB_EINVAL;
	}
	vlen = (size_t)(colon - s);
	if (vlen == 4 && strncmp(s, "read", 4) == 0)
		out->verbs = API_READ;
	else if (vlen == 5 && strncmp(s, "write", 5) == 0)
		out->verbs = API_WRITE;
	else if (vlen == 2 && strncmp(s, "rw", 2) == 0)
		out->verbs = API_READ | API_WRITE;
	else {
		snprintf(err, errlen, "\"%s\": verb must be read, write or rw", s);
		return MOB_EINVAL;
	}
	return mob_uri_parse(colon + 1, MOB_URI_WILD, &out->pat, err, errlen);
}

/* Parts of p before a final "#": concrete ones or "+". */
static int
pat_fixed(const struct mob_uri *p)
{
	return p->multi ? p->depth - 1 : p->depth;
}

static int
part_ok(const struct mob_uri *p, const struct mob_uri *u, int i)
{
	return strcmp(p->part[i], "+") == 0 || strcmp(p->part[i], u->part[i]) == 0;
}

/* p matches every URI at or under u. */
static int
pat_covers(const struct mob_uri *p, const struct mob_uri *u)
{
	int i, n = pat_fixed(p);

	if (p->multi ? n > u->depth : p->depth != u->depth)
		return 0;
	for (i = 0; i < n; i++)
		if (!part_ok(p, u, i))
			return 0;
	return 1;
}

/* p matches some URI at or under u. */
static int
pat_touches(const struct mob_uri *p, const struct mob_uri *u)
{
	int i, n = pat_fixed(p);

	if (!p->multi && u->depth > p->depth)
		return 0;
	for (i = 0; i < n && i < u->depth; i++)
		if (!part_ok(p, u, i))
			return 0;
	return 1;
}

int
api_scope_covers(const struct api_token *t, int verb, const struct mob_uri *u)
{
	size_t i;

	for (i = 0; i < t->nscope; i++)
		if ((t->scope[i].verbs & verb) && pat_covers(&t->scope[i].pat, u))
			return 1;
	return 0;
}

int
api_scope_touches(const struct api_token *t, int verb, const struct mob_uri *u)
{
	size_t i;

	for (i = 0; i < t->nscope; i++)
		if ((t->scope[i].verbs & verb) && pat_touches(&t->scope[i].pat, u))
			return 1;
	return 0;
}

static int
token_parse_one(const cJSON *e, struct api_token *t, const char *path, size_t idx)
{
	const cJSON *name, *hash, *scopes, *s;
	char err[160];
	size_t hl;

	name = cJSON_GetObjectItemCaseSensitive(e, "name");
	hash = cJSON_GetObjectItemCaseSensitive(e, "sha256");
	scopes = cJSON_GetObjectItemCaseSensitive(e, "scopes");
	if (!cJSON_IsString(name) || strlen(name->valuestring) == 0 ||
	    strlen(name->valuestring) > API_TOKEN_NAME_MAX ||
	    !cJSON_IsString(hash) || !cJSON_IsArray(scopes)) {
		log_warnx("%s: tokens[%zu]: needs name, sha256 and scopes", path, idx);
		return MOB_ECONFIG;
	}
	snprintf(t->name, sizeof(t->name), "%s", name->valuestring);
	if (mob_b64url_decode(hash->valuestring, strlen(hash->valuestring),
	    t->hash, sizeof(t->hash), &hl) != 0 || hl != sizeof(t->hash)) {
		log_warnx("%s: tokens[%zu].sha256: not 32 bytes of base64url", path, idx);
		return MOB_ECONFIG;
	}
	cJSON_ArrayForEach(s, scopes) {
		if (t->nscope == API_SCOPES_MAX || !cJSON_IsString(s) ||
		    api_scope_parse(s->valuestring, &t->scope[t->nscope], err,
		    sizeof(err)) != 0) {
			log_warnx("%s: tokens[%zu].scopes: %s", path, idx,
			    t->nscope == API_SCOPES_MAX ? "too many" :
			    cJSON_IsString(s) ? err : "not a string");
			return MOB_ECONFIG;
		}
		t->nscope++;
	}
	return 0;
}

int
api_tokens_load(const char *path)
{
	struct api_token *nt = NULL, *old;
	struct stat st;
	cJSON *root = NULL, *arr, *e;
	char *buf = NULL, err[512];
	size_t n = 0, i, j, len = 0;
	int r;

	/* stat first: a change after it is seen by the next refresh */
	memset(&st, 0, sizeof(st));
	if (stat(path, &st) != 0 && errno != ENOENT) {
		log_warn("%s", path);
		return MOB_ESYS;
	}
	r = mob_file_read(path, TOKEN_FILE_MAX, MOB_FILE_NOFOLLOW |
	    MOB_FILE_PRIVATE, &buf, &len, err, sizeof(err));
	if (r == MOB_ENOTFOUND) {
		/* no tokens yet: nobody may use the API */
		memset(&st, 0, sizeof(st));
		goto swap;
	}
	if (r != 0) {
		log_warnx("%s", err);
		return r;
	}
	r = MOB_ECONFIG;
	if ((root = cJSON_ParseWithLength(buf, len)) == NULL ||
	    !cJSON_IsArray(arr = cJSON_GetObjectItemCaseSensitive(root, "tokens")) ||
	    cJSON_GetArraySize(arr) > API_TOKENS_MAX) {
		log_warnx("%s: not a token file (an object with \"tokens\", "
		    "at most %d)", path, API_TOKENS_MAX);
		goto out;
	}
	if (cJSON_GetArraySize(arr) > 0 &&
	    (nt = calloc((size_t)cJSON_GetArraySize(arr), sizeof(*nt))) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(e, arr) {
		if ((r = token_parse_one(e, &nt[n], path, n)) != 0)
			goto out;
		n++;
	}
 swap:
	/* A token that stays keeps its generation and its rate bucket. */
	old = tk.t;
	for (i = 0; i < n; i++) {
		nt[i].gen = ++tk.gen;
		nt[i].bucket = -1;
		for (j = 0; j < tk.n; j++) {
			if (strcmp(old[j].name, nt[i].name) != 0 ||
			    CRYPTO_memcmp(old[j].hash, nt[i].hash, 32) != 0 ||
			    old[j].nscope != nt[i].nscope ||
			    memcmp(old[j].scope, nt[i].scope,
			    sizeof(nt[i].scope)) != 0)
				continue;
			nt[i].gen = old[j].gen;
			nt[i].bucket = old[j].bucket;
			nt[i].bucket_ms = old[j].bucket_ms;
		}
	}
	OPENSSL_cleanse(old, tk.n * sizeof(*old));
	free(old);
	tk.t = nt;
	tk.n = n;
	nt = NULL;
	tk.mtime = st.st_mtim;
	tk.size = st.st_size;
	tk.ino = st.st_ino;
	log_info("%s: %zu API token%s", path, n, n == 1 ? "" : "s");
	r = 0;
 out:
	free(nt);
	cJSON_Delete(root);
	mob_file_free(buf, len);
	return r;
}

void
api_tokens_refresh(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno != ENOENT || tk.ino == 0)
			return;
		memset(&st, 0, sizeof(st));
	} else if (st.st_mtim.tv_sec == tk.mtime.tv_sec &&
	    st.st_mtim.tv_nsec == tk.mtime.tv_nsec &&
	    st.st_size == tk.size && st.st_ino == tk.ino)
		return;
	/* A broken file keeps the tokens we have (fail closed would lock out everyone). */
	if (api_tokens_load(path) == 0)
		api_stream_tokens();
}

void
api_tokens_free(void)
{
	if (tk.t != NULL)
		OPENSSL_cleanse(tk.t, tk.n * sizeof(*tk.t));
	free(tk.t);
	memset(&tk, 0, sizeof(tk));
}

struct api_token *
api_token_check(const char *presented)
{
	unsigned char h[32];
	size_t i, len = strnlen(presented, TOKEN_TEXT_MAX + 1);
	struct api_token *found = NULL;

	if (len > TOKEN_TEXT_MAX || len == 0)
		return NULL;
	SHA256((const unsigned char *)presented, len, h);
	for (i = 0; i < tk.n; i++) {
		/* no early exit: the time does not depend on which entry matched */
		int eq = CRYPTO_memcmp(h, tk.t[i].hash, sizeof(h)) == 0;

		if (eq)
			found = &tk.t[i];
	}
	OPENSSL_cleanse(h, sizeof(h));
	return found;
}

struct api_token *
api_token_find(const char *name, uint64_t gen)
{
	size_t i;

	for (i = 0; i < tk.n; i++)
		if (tk.t[i].gen == gen && strcmp(tk.t[i].name, name) == 0)
			return &tk.t[i];
	return NULL;
}

int
api_token_spend(struct api_token *t, int rate, int burst)
{
	int64_t now = mob_clock_mono_ms();

	if (t->bucket < 0) {
		t->bucket = burst;
		t->bucket_ms = now;
	}
	t->bucket += (double)(now - t->bucket_ms) * rate / 1000.0;
	if (t->bucket > burst)
		t->bucket = burst;
	t->bucket_ms = now;
	if (t->bucket >= 1) {
		t->bucket -= 1;
		return 0;
	}
	return (int)((1 - t->bucket) * 1000.0 / rate) + 1;
}

int
api_fail_delay(const char *addr)
{
	int64_t now = mob_clock_mono_ms();
	size_t i, slot = 0;
	int delay;

	if (fail_held >= FAIL_HOLD_MAX)
		return -1;
	for (i = 0; i < API_FAIL_SLOTS; i++) {
		if (strcmp(fail[i].addr, addr) == 0) {
			slot = i;
			break;
		}
		if (fail[i].last_ms < fail[slot].last_ms)
			slot = i;	/* the least recently failing source */
	}
	if (strcmp(fail[slot].addr, addr) != 0 ||
	    now - fail[slot].last_ms > FAIL_FORGET_MS) {
		snprintf(fail[slot].addr, sizeof(fail[slot].addr), "%s", addr);
		fail[slot].fails = 0;
	}
	fail[slot].last_ms = now;
	if (fail[slot].fails < 16)
		fail[slot].fails++;
	delay = FAIL_DELAY_MIN << (fail[slot].fails - 1);
	if (delay > FAIL_DELAY_MAX || delay <= 0)
		delay = FAIL_DELAY_MAX;
	if (fail[slot].fails == 5)
		log_warnx("%s: repeated failed token checks; answers held "
		    "back up to %d ms", addr, FAIL_DELAY_MAX);
	fail_held++;
	return delay;
}

void
api_fail_release(void)
{
	if (fail_held > 0)
		fail_held--;
}
