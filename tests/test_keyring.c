/*
 * Keyring format, permissions, atomic writes and lookup (lib/keys/keyring.c).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "mobius/b64.h"
#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/key.h"
#include "mobius/keyring.h"

#define HDR	"mobius-keyring 1 hid=000001 mode=hardened\n"
#define HDRC	"mobius-keyring 1 hid=000001 mode=compat\n"
#define SVC	"service 000001/01F spid=001F alg=EdDSA state=active "

static char tmpdir[PATH_MAX];

static void
mktmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/mobius-kr-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
rmtmp(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char p[PATH_MAX + 300];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(tmpdir);
}

TestSuite(keyring, .init = mktmp, .fini = rmtmp);

static void
b64_of(const uint8_t *raw, size_t n, char *out, size_t outsz)
{
	cr_assert_geq(mob_b64url_encode(raw, n, out, outsz), 0);
}

static void
key_b64(enum mob_alg alg, int secret, char *out, size_t outsz)
{
	struct mob_key *k = NULL;
	uint8_t raw[64];
	int n;

	cr_assert_eq(mob_key_generate(alg, &k), 0);
	n = mob_key_raw(k, secret, raw, sizeof(raw));
	cr_assert_gt(n, 0);
	b64_of(raw, (size_t)n, out, outsz);
	mob_key_free(k);
}

/* Replace %PUB% %PRIV% %SEC% %SEC16% %SEC80% in t with real encodings. */
static char *
expand(const char *t)
{
	static const char *names[] = { "%PUB%", "%PRIV%", "%SEC%", "%SEC16%",
	    "%SEC80%", "%PUB3%" };
	char vals[6][128];
	uint8_t raw[80];
	size_t cap = strlen(t) * 2 + 2048, len = 0;
	char *out = malloc(cap);

	cr_assert_not_null(out);
	key_b64(MOB_ALG_EDDSA, 0, vals[0], sizeof(vals[0]));
	key_b64(MOB_ALG_EDDSA, 1, vals[1], sizeof(vals[1]));
	key_b64(MOB_ALG_HS256, 1, vals[2], sizeof(vals[2]));
	memset(raw, 0x5a, sizeof(raw));
	b64_of(raw, 16, vals[3], sizeof(vals[3]));
	b64_of(raw, 80, vals[4], sizeof(vals[4]));
	b64_of(raw, 3, vals[5], sizeof(vals[5]));
	while (*t != '\0') {
		size_t i;

		for (i = 0; i < 6; i++)
			if (strncmp(t, names[i], strlen(names[i])) == 0)
				break;
		if (i < 6) {
			len += (size_t)snprintf(out + len, cap - len, "%s",
			    vals[i]);
			t += strlen(names[i]);
		} else
			out[len++] = *t++;
	}
	out[len] = '\0';
	return out;
}

struct bad_case {
	const char *text;
	size_t line;		/* 0: message about the whole file */
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "", 0, "no \"mobius-keyring\" header" },
	{ "# only a comment\n\n", 0, "no \"mobius-keyring\" header" },
	{ "hello\n", 1, "expected header" },
	{ "mobius-keyring 2 hid=000001 mode=hardened\n", 1,
	    "unsupported keyring version \"2\"" },
	{ "mobius-keyring 1 hid=00001 mode=hardened\n", 1, "bad hid \"00001\"" },
	{ "mobius-keyring 1 hid=00000a mode=hardened\n", 1, "bad hid" },
	{ "mobius-keyring 1 hid=000001 mode=soft\n", 1, "unknown mode \"soft\"" },
	{ "mobius-keyring 1 hid=000001\n", 1, "header lacks mode=" },
	{ "mobius-keyring 1 mode=compat\n", 1, "header lacks hid=" },
	{ "mobius-keyring 1 hid=000001 hid=000001 mode=compat\n", 1,
	    "duplicate attribute \"hid\"" },
	{ "mobius-keyring 1 hid=000001 mode=compat color=red\n", 1,
	    "unknown header attribute \"color\"" },
	{ "mobius-keyring 1 hid=000001 mode=compat junk\n", 1,
	    "expected key=value, got \"junk\"" },
	{ "# c\n" HDR "\nwidget 000001/01F alg=EdDSA\n", 4,
	    "unknown entry kind \"widget\"" },
	{ HDR "service\n", 2, "service entry lacks its HID/SID" },
	{ HDR "service 000001/01f spid=001F alg=EdDSA state=active pub=%PUB%\n",
	    2, "bad id \"000001/01f\"" },
	{ HDR "service 000002/01F spid=001F alg=EdDSA state=active pub=%PUB%\n",
	    2, "service 000002/01F is not on this node (hid=000001)" },
	{ HDR "service 000001/000 spid=001F alg=EdDSA state=active pub=%PUB%\n",
	    2, "SID 000 is the hub's" },
	{ HDR "service 000001/01F alg=EdDSA state=active pub=%PUB%\n", 2,
	    "needs spid=" },
	{ HDR "service 000001/01F spid=01F alg=EdDSA state=active pub=%PUB%\n",
	    2, "bad spid \"01F\"" },
	{ HDR "hub 000001/000 spid=001F alg=EdDSA state=active pub=%PUB%\n", 2,
	    "spid= is only for service entries" },
	{ HDR "hub 000001/001 alg=EdDSA state=active pub=%PUB%\n", 2,
	    "hub entry must be 000001/000, not 000001/001" },
	{ HDR "hub 000001/000 alg=EdDSA state=active pub=%PUB%\n"
	    "peer 000002/0F0 alg=HS512 state=active pub=%PUB%\n", 3,
	    "unknown alg \"HS512\"" },
	{ HDR SVC "\npeer 000002/0F0 alg=none state=active pub=%PUB%\n", 2,
	    "missing key" },
	{ HDR "peer 000002/0F0 alg=none state=active pub=%PUB%\n", 2,
	    "alg \"none\" is never accepted" },
	{ HDR "peer 000002/0F0 state=active pub=%PUB%\n", 2, "missing alg=" },
	{ HDR "peer 000002/0F0 alg=EdDSA pub=%PUB%\n", 2, "missing state=" },
	{ HDR "peer 000002/0F0 alg=EdDSA state=dormant pub=%PUB%\n", 2,
	    "unknown state \"dormant\"" },
	{ HDR "peer 000002/0F0 alg=EdDSA state=grace pub=%PUB%\n", 2,
	    "state=grace needs not-after=" },
	{ HDR "peer 000002/0F0 alg=EdDSA state=active "
	    "not-after=2026-11-22T04:00:00Z pub=%PUB%\n", 2,
	    "not-after= is only for state=grace" },
	{ HDR "peer 000002/0F0 alg=EdDSA state=grace "
	    "not-after=2026-02-30T04:00:00Z pub=%PUB%\n", 2,
	    "bad not-after \"2026-02-30T04:00:00Z\"" },
	{ HDR "peer 000002/0F0 alg=EdDSA state=grace "
	    "not-after=2026-11-22 pub=%PUB%\n", 2, "bad not-after" },
	{ HDR SVC "user=-x pub=%PUB%\n", 2, "bad user \"-x\"" },
	{ HDR SVC "color=red pub=%PUB%\n", 2, "unknown attribute \"color\"" },
	{ HDR SVC "alg=EdDSA pub=%PUB%\n", 2, "duplicate attribute \"alg\"" },
	{ HDR SVC "pub=%PUB% priv=%PRIV%\n", 2,
	    "more than one key (pub= and priv=)" },
	{ HDR SVC "user=mobius-sim\n", 2, "missing key" },
	{ HDR SVC "pub= %PUB%\n", 2, "field 7 is not key=value" },
	{ HDR SVC "pub=ab+c\n", 2, "pub: invalid base64url" },
	{ HDR SVC "pub=%PUB%=\n", 2, "pub: invalid base64url" },
	{ HDR SVC "pub=%PUB3%\n", 2, "pub: Ed25519 key must be 32 bytes, got 3" },
	{ HDR SVC "secret=%SEC%\n", 2, "secret= needs alg=HS256" },
	{ HDR SVC "secret=%SEC80%\n", 2, "secret: key too long" },
	{ HDRC "service 000001/01F spid=001F alg=HS256 state=active pub=%PUB%\n",
	    2, "pub= needs alg=EdDSA" },
	{ HDRC "service 000001/01F spid=001F alg=HS256 state=active "
	    "secret=%SEC16%\n", 2, "HS256 key must be 32 to 64 bytes, got 16" },
	{ HDR "service 000001/01F spid=001F alg=HS256 state=active "
	    "secret=%SEC%\n", 2, "alg HS256 does not fit a service entry in a "
	    "hardened keyring" },
	{ HDRC "service 000001/01F spid=001F alg=EdDSA state=active "
	    "pub=%PUB%\n", 2, "alg EdDSA does not fit" },
	{ HDRC "peer 000002/0F0 alg=HS256 state=active secret=%SEC%\n", 2,
	    "alg HS256 does not fit a peer entry" },
	{ HDR SVC "pub=%PUB%\n# comment\n" SVC "priv=%PRIV%\n", 4,
	    "second active entry for 000001/01F" },
	{ HDR HDR, 2, "second header" },
	{ HDR SVC "pub=%PUB%\x01\n", 2, "control character 0x01" },
	{ HDR "peer 000002/0F0 alg=EdDSA state=active pub=\xc3\xa9\n", 2,
	    "non-ASCII byte" },
	{ HDR "peer 000002/0F0 a b c d e f g h i j k\n", 2, "too many fields" },
	{ "# a comment may have any number of words at all, like this one\n"
	    "\t# indented too\n" HDR "peer\n", 4, "peer entry lacks its HID/SID" },
};

Test(keyring, every_parse_error_names_file_and_line)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct mob_keyring *kr = (struct mob_keyring *)1;
		char err[512], want[64], *text = expand(c->text);
		int r;

		r = mob_keyring_parse(text, strlen(text), "keys/keyring", &kr,
		    err, sizeof(err));
		cr_expect_neq(r, 0, "case %zu accepted", i);
		cr_expect_null(kr, "case %zu", i);
		if (c->line > 0)
			snprintf(want, sizeof(want), "keys/keyring:%zu: ",
			    c->line);
		else
			snprintf(want, sizeof(want), "keys/keyring: ");
		cr_expect_eq(strncmp(err, want, strlen(want)), 0,
		    "case %zu: \"%s\" does not start with \"%s\"", i, err, want);
		cr_expect_not_null(strstr(err, c->msg),
		    "case %zu: \"%s\" lacks \"%s\"", i, err, c->msg);
		free(text);
		mob_keyring_free(r == 0 ? kr : NULL);
	}
}

Test(keyring, overlong_line_is_refused_with_its_number)
{
	char text[4096], err[256];
	struct mob_keyring *kr;
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "%s# ", HDR);
	memset(text + n, 'x', 2000);
	text[n + 2000] = '\0';
	cr_assert_eq(mob_keyring_parse(text, strlen(text), "k", &kr, err,
	    sizeof(err)), MOB_EPARSE);
	cr_assert_str_eq(err, "k:2: line longer than 1024 bytes");
}

Test(keyring, messages_never_quote_key_material)
{
	static const char *cases[] = {
		HDR SVC "priv=%PRIV% user=-x\n",
		HDR SVC "priv= %PRIV%\n",
		HDR SVC "priv=%PRIV% priv=%PRIV%\n",
		HDR "peer 000002/0F0 alg=EdDSA state=active priv=%PRIV%x\n",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512], val[16], *text = expand(cases[i]);
		const char *priv = strstr(text, "priv=") + 5;
		struct mob_keyring *kr;

		priv += strspn(priv, " ");
		snprintf(val, sizeof(val), "%.12s", priv);
		cr_assert_neq(mob_keyring_parse(text, strlen(text), "k", &kr,
		    err, sizeof(err)), 0);
		cr_assert_null(strstr(err, val), "case %zu: %s", i, err);
		free(text);
	}
}

/*
 * A key pasted onto a line of its own, or an entry that lost its id, puts
 * key material where the parser expects a kind or an id: the error (which
 * reaches the logs) must not quote it.
 */
#define B64URL_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
	"0123456789-_"

Test(keyring, a_misplaced_key_is_not_quoted_as_kind_or_id)
{
	static const char *cases[] = {
		HDR "%PRIV%\n",
		HDRC "%SEC%\n",
		HDR "priv=%PRIV%\n",
		HDR "service priv=%PRIV%\n",
		HDR "peer %PRIV% alg=EdDSA state=active\n",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512], *text = expand(cases[i]), *key, *end, frag[9];
		struct mob_keyring *kr = NULL;
		size_t n;

		/* the key is the longest run of base64url in the text */
		key = text;
		n = 0;
		for (char *p = text; *p != '\0';) {
			size_t m = strspn(p, B64URL_CHARS);

			if (m > n) {
				n = m;
				key = p;
			}
			p += m > 0 ? m : 1;
		}
		cr_assert_geq(n, 40, "case %zu: no key found", i);
		end = key + n;
		cr_assert_eq(mob_keyring_parse(text, strlen(text), "k", &kr,
		    err, sizeof(err)), MOB_EPARSE, "case %zu accepted", i);
		cr_assert_null(kr);
		/* no 8 consecutive characters of the key in the message */
		for (char *p = key; p + 8 <= end; p++) {
			snprintf(frag, sizeof(frag), "%.8s", p);
			cr_assert_null(strstr(err, frag), "case %zu quotes the "
			    "key: %s", i, err);
		}
		cr_assert_not_null(strstr(err, "k:"), "case %zu: %s", i, err);
		free(text);
	}
}

/* A keyring with one entry of each kind and state. */
static struct mob_keyring *
sample(int64_t now)
{
	struct mob_keyring *kr;
	struct mob_kr_entry e;

	cr_assert_eq(mob_keyring_new("000001", MOB_MODE_HARDENED, &kr), 0);
	memset(&e, 0, sizeof(e));
	e.kind = MOB_ENTRY_HUB;
	strcpy(e.id, "000001/000");
	e.alg = MOB_ALG_EDDSA;
	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &e.key), 0);
	cr_assert_eq(mob_keyring_add(kr, &e), 0);

	memset(&e, 0, sizeof(e));
	e.kind = MOB_ENTRY_SERVICE;
	strcpy(e.id, "000001/01F");
	strcpy(e.spid, "001F");
	strcpy(e.user, "mobius-sim");
	e.alg = MOB_ALG_EDDSA;
	e.state = MOB_KS_GRACE;
	e.not_after = now + 3600;
	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &e.key), 0);
	cr_assert_eq(mob_keyring_add(kr, &e), 0);
	e.state = MOB_KS_ACTIVE;
	e.not_after = 0;
	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &e.key), 0);
	cr_assert_eq(mob_keyring_add(kr, &e), 0);

	memset(&e, 0, sizeof(e));
	e.kind = MOB_ENTRY_PEER;
	strcpy(e.id, "000002/0F0");
	e.alg = MOB_ALG_EDDSA;
	e.state = MOB_KS_REVOKED;
	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &e.key), 0);
	cr_assert_eq(mob_keyring_add(kr, &e), 0);
	return kr;
}

static void
same_key(const struct mob_key *a, const struct mob_key *b)
{
	uint8_t ra[64], rb[64];
	int s = mob_key_can_sign(a);
	int na, nb;

	cr_assert_eq(mob_key_alg(a), mob_key_alg(b));
	cr_assert_eq(s, mob_key_can_sign(b));
	na = mob_key_raw(a, s, ra, sizeof(ra));
	nb = mob_key_raw(b, s, rb, sizeof(rb));
	cr_assert_gt(na, 0);
	cr_assert_eq(na, nb);
	cr_assert_arr_eq(ra, rb, (size_t)na);
}

Test(keyring, save_then_load_round_trips_every_field)
{
	int64_t now = (int64_t)time(NULL);
	struct mob_keyring *kr = sample(now), *back;
	char path[PATH_MAX + 16], err[256], *t1, *t2;
	size_t l1, l2;
	struct stat st;

	snprintf(path, sizeof(path), "%s/keyring", tmpdir);
	cr_assert_eq(mob_keyring_save(kr, path), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(mob_keyring_load(path, &back, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_str_eq(mob_keyring_hid(back), "000001");
	cr_assert_eq(mob_keyring_mode(back), MOB_MODE_HARDENED);
	cr_assert_eq(mob_keyring_count(back), mob_keyring_count(kr));
	for (size_t i = 0; i < mob_keyring_count(kr); i++) {
		const struct mob_kr_entry *a = mob_keyring_entry(kr, i);
		const struct mob_kr_entry *b = mob_keyring_entry(back, i);

		cr_assert_eq(a->kind, b->kind);
		cr_assert_str_eq(a->id, b->id);
		cr_assert_str_eq(a->spid, b->spid);
		cr_assert_str_eq(a->user, b->user);
		cr_assert_eq(a->alg, b->alg);
		cr_assert_eq(a->state, b->state);
		cr_assert_eq(a->not_after, b->not_after);
		same_key(a->key, b->key);
	}
	/* Private seeds come back as private keys, publics as public. */
	cr_assert(mob_key_can_sign(mob_keyring_entry(back, 0)->key));
	cr_assert_eq(mob_keyring_format(kr, &t1, &l1), 0);
	cr_assert_eq(mob_keyring_format(back, &t2, &l2), 0);
	cr_assert_eq(l1, l2);
	cr_assert_str_eq(t1, t2);
	mob_keyring_text_free(t1, l1);
	mob_keyring_text_free(t2, l2);
	mob_keyring_free(kr);
	mob_keyring_free(back);
}

Test(keyring, compat_keyring_round_trips_secrets)
{
	struct mob_keyring *kr, *back;
	struct mob_kr_entry e;
	char path[PATH_MAX + 16], err[256];

	cr_assert_eq(mob_keyring_new("00ABCD", MOB_MODE_COMPAT, &kr), 0);
	memset(&e, 0, sizeof(e));
	e.kind = MOB_ENTRY_SERVICE;
	strcpy(e.id, "00ABCD/020");
	strcpy(e.spid, "0020");
	e.alg = MOB_ALG_HS256;
	cr_assert_eq(mob_key_generate(MOB_ALG_HS256, &e.key), 0);
	cr_assert_eq(mob_keyring_add(kr, &e), 0);
	snprintf(path, sizeof(path), "%s/compat", tmpdir);
	cr_assert_eq(mob_keyring_save(kr, path), 0);
	cr_assert_eq(mob_keyring_load(path, &back, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(mob_keyring_mode(back), MOB_MODE_COMPAT);
	cr_assert_eq(mob_keyring_count(back), 1);
	same_key(mob_keyring_entry(kr, 0)->key, mob_keyring_entry(back, 0)->key);
	mob_keyring_free(kr);
	mob_keyring_free(back);
}

Test(keyring, group_or_other_access_is_refused)
{
	static const mode_t modes[] = { 0640, 0604, 0620, 0660, 0644 };
	struct mob_keyring *kr = sample((int64_t)time(NULL)), *back;
	char path[PATH_MAX + 16], err[512], want[32];

	snprintf(path, sizeof(path), "%s/keyring", tmpdir);
	cr_assert_eq(mob_keyring_save(kr, path), 0);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		cr_assert_eq(chmod(path, modes[i]), 0);
		back = (struct mob_keyring *)1;
		cr_expect_eq(mob_keyring_load(path, &back, err, sizeof(err)),
		    MOB_EPERM);
		cr_expect_null(back);
		snprintf(want, sizeof(want), "mode %04o", (unsigned)modes[i]);
		cr_expect_not_null(strstr(err, path), "%s", err);
		cr_expect_not_null(strstr(err, want), "%s", err);
	}
	cr_assert_eq(chmod(path, 0400), 0);
	cr_assert_eq(mob_keyring_load(path, &back, err, sizeof(err)), 0);
	mob_keyring_free(back);
	mob_keyring_free(kr);
}

Test(keyring, a_key_file_reached_through_a_symlink_is_refused)
{
	struct mob_keyring *kr = sample((int64_t)time(NULL)), *back;
	char path[PATH_MAX + 16], link[PATH_MAX + 16], err[512];

	snprintf(path, sizeof(path), "%s/keyring", tmpdir);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	cr_assert_eq(mob_keyring_save(kr, path), 0);
	cr_assert_eq(symlink(path, link), 0);
	back = (struct mob_keyring *)1;
	cr_assert_eq(mob_keyring_load(link, &back, err, sizeof(err)),
	    MOB_EINVAL);
	cr_assert_null(back);
	cr_assert_not_null(strstr(err, "symbolic link"), "%s", err);
	/* the file itself still loads */
	cr_assert_eq(mob_keyring_load(path, &back, err, sizeof(err)), 0);
	mob_keyring_free(back);
	mob_keyring_free(kr);
}

/* Before: open() without O_NONBLOCK waited for a writer for ever. */
Test(keyring, a_fifo_at_the_path_is_refused_without_blocking, .timeout = 20)
{
	struct mob_keyring *kr;
	struct mob_kr_entry own;
	char path[PATH_MAX + 16], err[512];

	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_expect_eq(mob_keyring_load(path, &kr, err, sizeof(err)),
	    MOB_EINVAL);
	cr_expect_not_null(strstr(err, "not a regular file"), "%s", err);
	cr_expect_eq(mob_keyfile_load_own(path, &own, err, sizeof(err)),
	    MOB_EINVAL);
}

Test(keyring, missing_file_is_not_found)
{
	struct mob_keyring *kr;
	char path[PATH_MAX + 16], err[512];

	snprintf(path, sizeof(path), "%s/nope", tmpdir);
	cr_assert_eq(mob_keyring_load(path, &kr, err, sizeof(err)),
	    MOB_ENOTFOUND);
	cr_assert_not_null(strstr(err, path));
}

Test(keyring, crash_before_rename_leaves_the_old_file_whole)
{
	struct mob_keyring *kr = sample((int64_t)time(NULL)), *back, *big;
	char path[PATH_MAX + 16], err[256], *old, *neu, *cur;
	size_t oldlen, neulen, curlen;
	struct mob_kr_entry e;
	int status, strays = 0;
	struct dirent *de;
	pid_t pid;
	DIR *d;

	snprintf(path, sizeof(path), "%s/keyring", tmpdir);
	cr_assert_eq(mob_keyring_save(kr, path), 0);
	cr_assert_eq(mob_keyring_format(kr, &old, &oldlen), 0);

	/* The new content differs: one more service. */
	cr_assert_eq(mob_keyring_new("000001", MOB_MODE_HARDENED, &big), 0);
	memset(&e, 0, sizeof(e));
	e.kind = MOB_ENTRY_SERVICE;
	strcpy(e.id, "000001/020");
	strcpy(e.spid, "0020");
	e.alg = MOB_ALG_EDDSA;
	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &e.key), 0);
	cr_assert_eq(mob_keyring_add(big, &e), 0);
	cr_assert_eq(mob_keyring_format(big, &neu, &neulen), 0);

	if ((pid = fork()) == 0) {
		char tmp[PATH_MAX];

		if (mob_file_write_temp(path, neu, neulen, 0600, (uid_t)-1,
		    (gid_t)-1, tmp, sizeof(tmp)) != 0)
			_exit(3);
		raise(SIGKILL);	/* the crash: between write and rename */
		_exit(4);
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "child status %d", status);

	cr_assert_eq(mob_keyring_load(path, &back, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(mob_keyring_format(back, &cur, &curlen), 0);
	cr_assert_eq(curlen, oldlen);
	cr_assert_str_eq(cur, old);
	/* The half-done write is a hidden temp file, private too. */
	cr_assert_not_null(d = opendir(tmpdir));
	while ((de = readdir(d)) != NULL) {
		char p[PATH_MAX + 300];
		struct stat st;

		if (strncmp(de->d_name, ".keyring.", 9) != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
		cr_assert_eq(stat(p, &st), 0);
		cr_assert_eq(st.st_mode & 077, 0);
		strays++;
	}
	closedir(d);
	cr_assert_eq(strays, 1);

	/* And the next complete write replaces it whole. */
	cr_assert_eq(mob_file_write_atomic(path, neu, neulen, 0600), 0);
	mob_keyring_free(back);
	cr_assert_eq(mob_keyring_load(path, &back, err, sizeof(err)), 0);
	cr_assert_eq(mob_keyring_count(back), 1);
	cr_assert_str_eq(mob_keyring_entry(back, 0)->id, "000001/020");

	mob_keyring_text_free(old, oldlen);
	mob_keyring_text_free(neu, neulen);
	mob_keyring_text_free(cur, curlen);
	mob_keyring_free(back);
	mob_keyring_free(big);
	mob_keyring_free(kr);
}

Test(keyring, lookup_gives_active_then_grace_never_revoked)
{
	int64_t now = (int64_t)time(NULL);
	struct mob_keyring *kr = sample(now);
	const struct mob_kr_entry *e;

	e = mob_keyring_lookup(kr, "000001/01F", 0, now);
	cr_assert_not_null(e);
	cr_assert_eq(e->state, MOB_KS_ACTIVE);
	e = mob_keyring_lookup(kr, "000001/01F", 1, now);
	cr_assert_not_null(e);
	cr_assert_eq(e->state, MOB_KS_GRACE);
	cr_assert_null(mob_keyring_lookup(kr, "000001/01F", 2, now));
	/* Grace ends at not_after. */
	cr_assert_null(mob_keyring_lookup(kr, "000001/01F", 1, now + 3600));
	cr_assert_null(mob_keyring_lookup(kr, "000002/0F0", 0, now));
	cr_assert_eq(mob_keyring_find(kr, "000002/0F0")->state, MOB_KS_REVOKED);
	cr_assert_eq(mob_keyring_find(kr, "000001/01F")->state, MOB_KS_ACTIVE);
	cr_assert_null(mob_keyring_find(kr, "000001/020"));
	cr_assert_eq(mob_keyring_lookup_fn(kr, "000001/01F", 0),
	    mob_keyring_lookup(kr, "000001/01F", 0, now)->key);
	cr_assert_null(mob_keyring_lookup_fn(kr, "000009/01F", 0));

	cr_assert_eq(mob_keyring_prune(kr, now), 0);
	cr_assert_eq(mob_keyring_prune(kr, now + 3600), 1);
	cr_assert_eq(mob_keyring_count(kr), 3);
	cr_assert_null(mob_keyring_lookup(kr, "000001/01F", 1, now));
	mob_keyring_free(kr);
}

Test(keyring, add_refuses_a_second_active_key_and_a_wrong_alg)
{
	struct mob_keyring *kr = sample((int64_t)time(NULL));
	struct mob_kr_entry e;

	memset(&e, 0, sizeof(e));
	e.kind = MOB_ENTRY_SERVICE;
	strcpy(e.id, "000001/01F");
	strcpy(e.spid, "001F");
	e.alg = MOB_ALG_EDDSA;
	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &e.key), 0);
	cr_assert_eq(mob_keyring_add(kr, &e), MOB_EEXIST);
	strcpy(e.id, "000001/020");
	e.alg = MOB_ALG_HS256;
	cr_assert_eq(mob_keyring_add(kr, &e), MOB_EALGMISMATCH);
	e.alg = MOB_ALG_EDDSA;
	strcpy(e.id, "000001/20");
	cr_assert_eq(mob_keyring_add(kr, &e), MOB_EINVAL);
	strcpy(e.id, "000001/020");
	cr_assert_eq(mob_keyring_add(kr, &e), 0);
	mob_keyring_free(kr);
}

Test(keyring, keyfile_load_own_returns_the_private_entry)
{
	char path[PATH_MAX + 16], err[256], *text;
	struct mob_kr_entry own;

	snprintf(path, sizeof(path), "%s/01F.key", tmpdir);
	text = expand(HDR SVC "user=mobius-sim priv=%PRIV%\n"
	    "hub 000001/000 alg=EdDSA state=active pub=%PUB%\n");
	cr_assert_eq(mob_file_write_atomic(path, text, strlen(text), 0600), 0);
	free(text);
	cr_assert_eq(mob_keyfile_load_own(path, &own, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_str_eq(own.id, "000001/01F");
	cr_assert_str_eq(own.spid, "001F");
	cr_assert_str_eq(own.user, "mobius-sim");
	cr_assert(mob_key_can_sign(own.key));
	mob_key_free(own.key);

	text = expand(HDR "hub 000001/000 alg=EdDSA state=active pub=%PUB%\n");
	cr_assert_eq(mob_file_write_atomic(path, text, strlen(text), 0600), 0);
	free(text);
	cr_assert_eq(mob_keyfile_load_own(path, &own, err, sizeof(err)),
	    MOB_ENOTFOUND);
	cr_assert_null(own.key);

	text = expand(HDR SVC "priv=%PRIV%\n"
	    "hub 000001/000 alg=EdDSA state=active priv=%PRIV%\n");
	cr_assert_eq(mob_file_write_atomic(path, text, strlen(text), 0600), 0);
	free(text);
	cr_assert_eq(mob_keyfile_load_own(path, &own, err, sizeof(err)),
	    MOB_EPARSE);
	cr_assert_not_null(strstr(err, "more than one private entry"));

	cr_assert_eq(chmod(path, 0644), 0);
	cr_assert_eq(mob_keyfile_load_own(path, &own, err, sizeof(err)),
	    MOB_EPERM);
}

Test(keyring, lock_serializes_writers)
{
	char flag[PATH_MAX + 16];
	int p[2], fd;
	pid_t pid;
	char c;

	snprintf(flag, sizeof(flag), "%s/child-done", tmpdir);
	cr_assert_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		int l = mob_keyring_lock(tmpdir);
		struct timespec ts = { 0, 300 * 1000 * 1000 };

		if (l < 0 || write(p[1], "x", 1) != 1)
			_exit(1);
		nanosleep(&ts, NULL);
		/* Done before the lock is released: the parent must see it. */
		close(open(flag, O_CREAT | O_WRONLY, 0600));
		mob_keyring_unlock(l);
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1);
	fd = mob_keyring_lock(tmpdir);
	cr_assert_geq(fd, 0);
	cr_assert_eq(access(flag, F_OK), 0, "got the lock while the child held it");
	mob_keyring_unlock(fd);
	close(p[0]);
	waitpid(pid, NULL, 0);
}

Test(keyring, times_are_strict_utc)
{
	int64_t t;
	char buf[32];

	cr_assert_eq(mob_time_parse("2026-11-22T04:00:00Z", &t), 0);
	cr_assert_eq(t, 1795320000);
	cr_assert_eq(mob_time_format(t, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "2026-11-22T04:00:00Z");
	cr_assert_neq(mob_time_parse("2026-02-29T00:00:00Z", &t), 0);
	cr_assert_neq(mob_time_parse("2026-11-22T04:00:00", &t), 0);
	cr_assert_neq(mob_time_parse("2026-11-22 04:00:00Z", &t), 0);
	cr_assert_neq(mob_time_parse("+026-11-22T04:00:00Z", &t), 0);
	cr_assert_neq(mob_time_parse("2026-11-22T24:00:00Z", &t), 0);
}

Test(keyring, fingerprint_is_openssh_sha256_of_the_public_half)
{
	struct mob_key *k, *pub;
	char a[MOB_FPR_LEN + 1], b[MOB_FPR_LEN + 1];

	cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &k), 0);
	cr_assert_eq(mob_key_public(k, &pub), 0);
	cr_assert_eq(mob_kr_fingerprint(k, a), 0);
	cr_assert_eq(mob_kr_fingerprint(pub, b), 0);
	cr_assert_str_eq(a, b);
	/* "SHA256:" and 43 chars of unpadded standard base64 (test_keytool
	 * pubkey_prints_the_keyring_line_of_a_key_file checks the value) */
	cr_assert_eq(strlen(a), MOB_FPR_LEN);
	cr_assert_eq(strncmp(a, "SHA256:", 7), 0, "%s", a);
	cr_assert_eq(strspn(a + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/"), 43, "%s", a);
	mob_key_free(k);
	mob_key_free(pub);
}

/*
 * Before the keyring was opaque, mob_keyring_add moved every entry with
 * reallocarray: a pointer from lookup or find dangled after the next add
 * (ASan: heap-use-after-free on the read below).
 */
Test(keyring, an_entry_pointer_survives_later_adds)
{
	struct mob_keyring *kr = sample((int64_t)time(NULL));
	const struct mob_kr_entry *hub, *svc;
	struct mob_kr_entry e;

	cr_assert_not_null(hub = mob_keyring_find(kr, "000001/000"));
	cr_assert_not_null(svc = mob_keyring_lookup(kr, "000001/01F", 0, 0));
	for (int i = 0; i < 1000; i++) {
		memset(&e, 0, sizeof(e));
		e.kind = MOB_ENTRY_PEER;
		snprintf(e.id, sizeof(e.id), "%06X/001", 0x100000 + i);
		e.alg = MOB_ALG_EDDSA;
		cr_assert_eq(mob_key_generate(MOB_ALG_EDDSA, &e.key), 0);
		cr_assert_eq(mob_keyring_add(kr, &e), 0);
	}
	cr_expect_str_eq(hub->id, "000001/000");
	cr_expect_eq(hub->kind, MOB_ENTRY_HUB);
	cr_expect_eq(svc->state, MOB_KS_ACTIVE);
	cr_expect_eq(mob_keyring_lookup(kr, "000001/01F", 0, 0), svc);
	cr_expect_eq(mob_keyring_count(kr), 1004);
	cr_expect_str_eq(mob_keyring_entry(kr, 1003)->id, "1003E7/001",
	    "file order kept");
	mob_keyring_free(kr);
}

Test(keyring, entries_of_one_id_iterate_in_file_order_and_change_together)
{
	int64_t now = (int64_t)time(NULL);
	struct mob_keyring *kr = sample(now);
	const struct mob_kr_entry *a, *b;

	/* sample: 01F in grace, then 01F active */
	cr_assert_not_null(a = mob_keyring_next(kr, "000001/01F", NULL));
	cr_assert_not_null(b = mob_keyring_next(kr, "000001/01F", a));
	cr_expect_null(mob_keyring_next(kr, "000001/01F", b));
	cr_expect_eq(a->state, MOB_KS_GRACE);
	cr_expect_eq(b->state, MOB_KS_ACTIVE);
	cr_expect_null(mob_keyring_next(kr, "000001/0FF", NULL));
	/* rotation: the active key goes into grace, the old one stays */
	cr_assert_eq(mob_keyring_retire(kr, "000001/01F", now + 60), 0);
	cr_expect_eq(b->state, MOB_KS_GRACE);
	cr_expect_eq(b->not_after, now + 60);
	cr_expect_eq(mob_keyring_retire(kr, "000001/01F", 0), MOB_ENOTFOUND,
	    "no active key left");
	cr_expect_eq(mob_keyring_revoke(kr, "000001/01F"), 2);
	cr_expect_eq(mob_keyring_revoke(kr, "000001/01F"), 0);
	cr_expect_null(mob_keyring_lookup(kr, "000001/01F", 0, now));
	cr_expect_eq(mob_keyring_remove_id(kr, "000001/01F"), 2);
	cr_expect_null(mob_keyring_find(kr, "000001/01F"));
	cr_expect_eq(mob_keyring_count(kr), 2);
	cr_expect_not_null(mob_keyring_find(kr, "000002/0F0"),
	    "the index still finds the others");
	cr_expect_not_null(mob_keyring_find(kr, "000001/000"));
	mob_keyring_free(kr);
}
