/*
 * mobius-keytool end to end: the real binary ($MOBIUS_BUILD/bin) in a
 * temporary key directory.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/sha.h>

#include "mobius/b64.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/keyring.h"
#include "mobius/time.h"
#include "support/harness.h"

#define OUT_MAX	16384

static char tmp[PATH_MAX];	/* test directory */
static char dir[PATH_MAX + 8];	/* keytool --dir */
static char out[OUT_MAX];	/* stdout of the last run */
static char err[OUT_MAX];	/* stderr of the last run */

static void
rmtree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char p[PATH_MAX + 300];

	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		rmtree(p);
	}
	closedir(d);
	rmdir(path);
}

static void
setup(void)
{
	snprintf(tmp, sizeof(tmp), "%s/mobius-kt-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(tmp));
	snprintf(dir, sizeof(dir), "%s/keys", tmp);
}

static void
teardown(void)
{
	rmtree(tmp);
}

TestSuite(keytool, .init = setup, .fini = teardown, .timeout = 60);

static void
slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd == -1 ? 0 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd != -1)
		close(fd);
}

/*
 * Run mobius-keytool with --dir kdir (unless kdir is NULL) and the given
 * arguments (NULL-terminated); stdin from in (may be NULL).  Returns the
 * exit code; stdout and stderr land in out and err.
 */
static int
run_in(const char *kdir, const char *in, const char *arg, ...)
{
	char bin[PATH_MAX], fo[PATH_MAX + 16], fe[PATH_MAX + 16];
	char fi[PATH_MAX + 16];
	const char *argv[32];
	const char *build = getenv("MOBIUS_BUILD");
	va_list ap;
	int n = 0, status;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/bin/mobius-keytool",
	    build != NULL ? build : "build");
	snprintf(fo, sizeof(fo), "%s/.out", tmp);
	snprintf(fe, sizeof(fe), "%s/.err", tmp);
	snprintf(fi, sizeof(fi), "%s/.in", tmp);
	argv[n++] = bin;
	if (kdir != NULL) {
		argv[n++] = "--dir";
		argv[n++] = kdir;
	}
	va_start(ap, arg);
	for (const char *a = arg; a != NULL && n < 31; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	if (in != NULL) {
		FILE *f = fopen(fi, "w");

		cr_assert_not_null(f);
		fputs(in, f);
		fclose(f);
	}
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int o = open(fo, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(fe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int i = open(in != NULL ? fi : "/dev/null", O_RDONLY);

		if (o == -1 || e == -1 || i == -1 || dup2(o, 1) == -1 ||
		    dup2(e, 2) == -1 || dup2(i, 0) == -1)
			_exit(126);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	slurp(fo, out, sizeof(out));
	slurp(fe, err, sizeof(err));
	cr_assert(WIFEXITED(status), "keytool died: %d", status);
	cr_assert_neq(WEXITSTATUS(status), 127, "cannot run %s", bin);
	return WEXITSTATUS(status);
}

#define run(...)	run_in(dir, NULL, __VA_ARGS__, NULL)
#define OK(...)		cr_assert_eq(run(__VA_ARGS__), 0, "stderr: %s", err)

static void
path_of(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static mode_t
mode_of(const char *name, uid_t *uid)
{
	char p[PATH_MAX + 64];
	struct stat st;

	path_of(name, p, sizeof(p));
	cr_assert_eq(stat(p, &st), 0, "%s: %s", p, strerror(errno));
	if (uid != NULL)
		*uid = st.st_uid;
	return st.st_mode & 07777;
}

/* The value of attr= on the line of id in a key file ("" if none). */
static void
attr_of(const char *name, const char *id, const char *attr, char *val,
    size_t len)
{
	char p[PATH_MAX + 64], text[8192], *line, *save = NULL, *a;

	path_of(name, p, sizeof(p));
	slurp(p, text, sizeof(text));
	val[0] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, id) == NULL || (a = strstr(line, attr)) == NULL)
			continue;
		snprintf(val, len, "%s", a + strlen(attr));
		val[strcspn(val, " ")] = '\0';
	}
}

static void
cpy(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
token_of(const char *ss, char *tok, size_t len)
{
	OK("token", ss);
	cpy(tok, len, out);
	tok[strcspn(tok, "\n")] = '\0';
	cr_assert_gt(strlen(tok), 100);
}

Test(keytool, init_add_list_with_private_modes_and_owners)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t nobody = pw != NULL ? pw->pw_uid : (uid_t)-1;
	char hubpub[128], svcpub[128];
	uid_t uid;

	OK("init", "--hid", "000001");
	cr_assert_not_null(strstr(out, "initialized node 000001"));
	cr_assert_eq(mode_of("keyring", NULL), 0600);
	cr_assert_eq(mode_of("hub.key", NULL), 0600);
	cr_assert_eq(mode_of(".", NULL), 0711);
	if (geteuid() == 0 && getpwnam("mobius-hub") == NULL)
		cr_assert_not_null(strstr(err, "mobius-hub does not exist"),
		    "%s", err);

	OK("add", "001F/01F", "--user", "nobody");
	cr_assert_not_null(strstr(out, "000001/01F"));
	cr_assert_eq(mode_of("01F.key", &uid), 0600);
	if (geteuid() == 0 && nobody != (uid_t)-1)
		cr_assert_eq(uid, nobody, "01F.key not given to nobody");
	OK("add", "0020/020");
	cr_assert_eq(mode_of("020.key", &uid), 0600);
	cr_assert_eq(uid, geteuid());

	/* The service file carries the hub's public key; the keyring only
	 * the service's public half. */
	attr_of("hub.key", "000001/000", "priv=", hubpub, sizeof(hubpub));
	cr_assert_gt(strlen(hubpub), 40);
	attr_of("01F.key", "000001/000", "pub=", hubpub, sizeof(hubpub));
	cr_assert_gt(strlen(hubpub), 40);
	attr_of("keyring", "000001/01F", "pub=", svcpub, sizeof(svcpub));
	cr_assert_gt(strlen(svcpub), 40);
	attr_of("keyring", "000001/01F", "priv=", svcpub, sizeof(svcpub));
	cr_assert_str_empty(svcpub);

	OK("list");
	cr_assert_not_null(strstr(out, "FINGERPRINT"));
	cr_assert_not_null(strstr(out, "service 000001/01F 001F EdDSA active"),
	    "%s", out);
	cr_assert_not_null(strstr(out, "nobody"));
	cr_assert_not_null(strstr(out, "hub     000001/000 -    EdDSA active"),
	    "%s", out);
}

Test(keytool, init_and_add_refuse_to_overwrite)
{
	char fpr1[128], fpr2[128];

	OK("init", "--hid", "000001");
	snprintf(fpr1, sizeof(fpr1), "%s", strstr(out, "fingerprint"));
	cr_assert_eq(run("init", "--hid", "000001"), 1);
	cr_assert_not_null(strstr(err, "exists; --force"), "%s", err);
	OK("init", "--hid", "000001", "--force");
	snprintf(fpr2, sizeof(fpr2), "%s", strstr(out, "fingerprint"));
	cr_assert_str_neq(fpr1, fpr2);

	OK("add", "001F/01F");
	cr_assert_eq(run("add", "001F/01F"), 1);
	cr_assert_not_null(strstr(err, "000001/01F already has a key"), "%s",
	    err);
	cr_assert_eq(run("add", "0099/01F"), 1);
}

Test(keytool, token_verifies_and_tampered_token_does_not)
{
	char tok[2048], bad[2048], keyfile[PATH_MAX + 64];
	size_t n;

	OK("init", "--hid", "000001");
	OK("add", "001F/01F");
	token_of("001F/01F", tok, sizeof(tok));
	OK("verify", tok);
	cr_assert_not_null(strstr(out, "valid token"));
	cr_assert_not_null(strstr(out, "iss    000001/01F"), "%s", out);
	cr_assert_not_null(strstr(out, "sub    001F/01F"), "%s", out);

	/* One flipped bit in the signature. */
	snprintf(bad, sizeof(bad), "%s", tok);
	n = strlen(bad);
	bad[n - 3] = bad[n - 3] == 'A' ? 'B' : 'A';
	cr_assert_eq(run("verify", bad), 1);
	cr_assert_not_null(strstr(err, "invalid token"), "%s", err);
	cr_assert_not_null(strstr(err, "bad_signature"), "%s", err);
	/* And in the claims. */
	snprintf(bad, sizeof(bad), "%s", tok);
	n = strcspn(bad, ".") + 5;
	bad[n] = bad[n] == 'A' ? 'B' : 'A';
	cr_assert_eq(run("verify", bad), 1);
	cr_assert_eq(run("verify", "not.a.token"), 1);

	/* token --key FILE and a token read from stdin. */
	path_of("01F.key", keyfile, sizeof(keyfile));
	OK("token", "--key", keyfile);
	cr_assert_eq(run_in(dir, out, "verify", "-", NULL), 0, "%s", err);
	/* A token for another service's name is refused by the keyring. */
	OK("add", "0020/020");
	cr_assert_eq(run("token", "0021/020"), 1);
	cr_assert_not_null(strstr(err, "not 0021/020"), "%s", err);
}

Test(keytool, revoke_invalidates_tokens_and_removes_the_key_file)
{
	char tok[2048], keyfile[PATH_MAX + 64];

	OK("init", "--hid", "000001");
	OK("add", "001F/01F");
	token_of("001F/01F", tok, sizeof(tok));
	cr_assert_eq(run("revoke", "0020/01F"), 1);
	cr_assert_not_null(strstr(err, "has spid 001F, not 0020"), "%s", err);
	OK("revoke", "001F/01F");
	cr_assert_eq(run("verify", tok), 1);
	cr_assert_not_null(strstr(err, "revoked"), "%s", err);
	path_of("01F.key", keyfile, sizeof(keyfile));
	cr_assert_eq(access(keyfile, F_OK), -1);
	OK("list");
	cr_assert_not_null(strstr(out, "000001/01F 001F EdDSA revoked"), "%s",
	    out);
	cr_assert_eq(run("revoke", "001F/01F"), 1);
	cr_assert_eq(run("rotate", "001F/01F"), 1);
	/* A revoked service can be given a new key. */
	OK("add", "001F/01F");
	token_of("001F/01F", tok, sizeof(tok));
	OK("verify", tok);
}

Test(keytool, rotate_keeps_the_old_key_valid_until_grace_ends)
{
	char old[2048], neu[2048], p1[128], p2[128];
	struct timespec ts = { 3, 200 * 1000 * 1000 };
	uid_t uid1, uid2;

	OK("init", "--hid", "000001");
	OK("add", "001F/01F", "--user", "nobody");
	mode_of("01F.key", &uid1);
	attr_of("01F.key", "000001/01F", "priv=", p1, sizeof(p1));
	token_of("001F/01F", old, sizeof(old));

	OK("rotate", "001F/01F", "--grace", "2s");
	cr_assert_not_null(strstr(out, "accepted until"), "%s", out);
	cr_assert_eq(mode_of("01F.key", &uid2), 0600);
	cr_assert_eq(uid1, uid2, "rotation changed the key file's owner");
	attr_of("01F.key", "000001/01F", "priv=", p2, sizeof(p2));
	cr_assert_str_neq(p1, p2);
	token_of("001F/01F", neu, sizeof(neu));
	OK("list");
	cr_assert_not_null(strstr(out, "001F EdDSA grace"), "%s", out);
	cr_assert_not_null(strstr(out, "001F EdDSA active"), "%s", out);

	/* No downtime: both keys are accepted during the grace. */
	OK("verify", old);
	OK("verify", neu);

	nanosleep(&ts, NULL);
	cr_assert_eq(run("verify", old), 1, "old key outlived its grace");
	OK("verify", neu);
	OK("list");
	cr_assert_not_null(strstr(out, "expired"), "%s", out);
	/* The next write prunes the expired entry. */
	OK("add", "0020/020");
	OK("list");
	cr_assert_null(strstr(out, "expired"), "%s", out);
	cr_assert_null(strstr(out, "grace"), "%s", out);

	cr_assert_eq(run("rotate", "001F/01F", "--grace", "0"), 0);
	cr_assert_eq(run("verify", neu), 1);
}

/* Durations are the CLI's timespans (docs/cli.md "Values: one grammar"). */
Test(keytool, durations_follow_the_clis_timespan_grammar)
{
	static const char *const bad[] = { "0x10", "+1", "1.5s", "1w", "1 h",
	    "-5", "31d", "" };
	char na[64], tok[2048];
	int64_t t;
	time_t t0, t1;
	size_t i;

	OK("init", "--hid", "000001");
	OK("add", "001F/01F");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(run("rotate", "001F/01F", "--grace", bad[i]), 2,
		    "\"%s\" refused", bad[i]);
		cr_expect_not_null(strstr(err, "bad --grace"), "%s", err);
	}
	t0 = time(NULL);
	OK("rotate", "001F/01F", "--grace", "1.5m");
	t1 = time(NULL);
	attr_of("keyring", "000001/01F", "not-after=", na, sizeof(na));
	cr_assert_eq(mob_time_parse(na, &t), 0, "not-after \"%s\"", na);
	cr_expect(t >= (int64_t)t0 + 90 && t <= (int64_t)t1 + 90,
	    "1.5m is 90 s: %s", na);
	token_of("001F/01F", tok, sizeof(tok));
	OK("verify", "--window", "1e1m", tok);
	cr_expect_eq(run("verify", "--window", "0x10", tok), 2);
}

Test(keytool, compat_mode_uses_psks)
{
	char tok[2048], v[128];

	OK("init", "--hid", "00ABCD", "--mode", "compat");
	cr_assert_not_null(strstr(out, "compat (HS256)"));
	OK("add", "0030/030");
	attr_of("030.key", "00ABCD/030", "secret=", v, sizeof(v));
	cr_assert_geq(strlen(v), 43);
	/* In compat mode the hub's PSK reaches services over mob/key. */
	attr_of("030.key", "00ABCD/000", "=", v, sizeof(v));
	cr_assert_str_empty(v);
	OK("list");
	cr_assert_not_null(strstr(out, "00ABCD/030 0030 HS256 active"), "%s",
	    out);
	token_of("0030/030", tok, sizeof(tok));
	OK("verify", tok);
}

/*
 * The fingerprint of a base64url public key, as OpenSSH prints one
 * (SHA256: and unpadded standard base64 of the SHA-256), by Python's
 * hashlib and base64 rather than our code.
 */
static const char *
fpr_of(const char *pub, char *buf, size_t len)
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "python3 -c 'import base64, hashlib, sys; "
	    "k = sys.argv[1]; k += \"=\" * (-len(k) %% 4); "
	    "d = hashlib.sha256(base64.urlsafe_b64decode(k)).digest(); "
	    "print(\"SHA256:\" + base64.b64encode(d).decode().rstrip(\"=\"))' "
	    "'%s'", pub);
	cr_assert_not_null(p = popen(cmd, "r"));
	cr_assert_not_null(fgets(buf, (int)len, p));
	cr_assert_eq(pclose(p), 0);
	buf[strcspn(buf, "\n")] = '\0';
	cr_assert_eq(strlen(buf), 50, "%s", buf);
	return buf;
}

/* Like ssh-keygen -y: the public half, the very line the keyring holds. */
Test(keytool, pubkey_prints_the_keyring_line_of_a_key_file)
{
	char priv[128], pub[128], path[PATH_MAX + 32], want[128];

	OK("init", "--hid", "000001");
	OK("add", "001F/01F");
	attr_of("keyring", "000001/01F", "pub=", pub, sizeof(pub));
	cr_expect_not_null(strstr(out, fpr_of(pub, want, sizeof(want))),
	    "add prints %s: %s", want, out);
	OK("list");
	cr_expect_not_null(strstr(out, want), "list prints %s: %s", want, out);
	attr_of("01F.key", "000001/01F", "priv=", priv, sizeof(priv));
	attr_of("keyring", "000001/01F", "pub=", pub, sizeof(pub));
	snprintf(path, sizeof(path), "%s/01F.key", dir);
	cr_assert_eq(run_in(NULL, NULL, "pubkey", path, NULL), 0, "%s", err);
	cr_expect_not_null(strstr(out, "service 000001/01F spid=001F"), "%s", out);
	cr_expect_not_null(strstr(out, pub), "the keyring's pub: %s", out);
	cr_expect_null(strstr(out, priv), "no secret: %s", out);
	/* the fingerprint is OpenSSH's form, computed here independently */
	cr_expect_not_null(strstr(out, fpr_of(pub, want, sizeof(want))),
	    "%s in %s", want, out);
	snprintf(path, sizeof(path), "%s/none.key", dir);
	cr_expect_eq(run_in(NULL, NULL, "pubkey", path, NULL), 1);
	cr_expect_not_null(strstr(err, path), "names the file: %s", err);
}

Test(keytool, secrets_are_printed_only_with_show_secret)
{
	char priv[128], sec[128], tok[2048];

	OK("init", "--hid", "000001");
	OK("add", "001F/01F");
	attr_of("01F.key", "000001/01F", "priv=", priv, sizeof(priv));
	attr_of("hub.key", "000001/000", "priv=", sec, sizeof(sec));
	cr_assert_gt(strlen(priv), 40);
	OK("list");
	cr_assert_null(strstr(out, priv));
	cr_assert_null(strstr(out, sec));
	OK("list", "--keyring", strcat(strcpy(tok, dir), "/01F.key"));
	cr_assert_null(strstr(out, priv));
	token_of("001F/01F", tok, sizeof(tok));
	cr_assert_null(strstr(tok, priv));
	OK("rotate", "001F/01F");
	cr_assert_null(strstr(out, priv));
	cr_assert_null(strstr(err, priv));
	OK("list", "--keyring", strcat(strcpy(tok, dir), "/hub.key"),
	    "--show-secret");
	cr_assert_not_null(strstr(out, sec), "%s", out);
}

/*
 * An API token is printed once and kept only as its SHA-256 (docs/api.md,
 * "Tokens"): a copy of the file grants nothing.
 */
Test(keytool, api_tokens_are_kept_only_as_their_hash)
{
	char tok[64], file[OUT_MAX], p[PATH_MAX + 64], hb64[64];
	unsigned char hash[SHA256_DIGEST_LENGTH];
	const char *t;

	OK("init", "--hid", "000001");
	OK("api-token", "add", "app", "--scope", "read:000001/#");
	cr_assert_not_null(t = strstr(out, "mobt_"), "%s", out);
	cr_assert_eq(sscanf(t, "%63[A-Za-z0-9_-]", tok), 1);
	cr_assert_eq(strlen(tok), 5 + 43, "%s", tok);
	SHA256((const unsigned char *)tok, strlen(tok), hash);
	cr_assert_gt(mob_b64url_encode(hash, sizeof(hash), hb64, sizeof(hb64)), 0);
	cr_assert_eq(mode_of("api-tokens.json", NULL), 0600);
	path_of("api-tokens.json", p, sizeof(p));
	slurp(p, file, sizeof(file));
	cr_assert_not_null(strstr(file, hb64), "%s", file);
	cr_assert_null(strstr(file, tok + 5), "the token is in the file: %s", file);
	OK("api-token", "list");
	cr_assert_null(strstr(out, tok + 5), "list shows the token: %s", out);
}

Test(keytool, key_files_open_to_others_are_refused)
{
	char p[PATH_MAX + 64];

	OK("init", "--hid", "000001");
	OK("add", "001F/01F");
	path_of("keyring", p, sizeof(p));
	cr_assert_eq(chmod(p, 0640), 0);
	cr_assert_eq(run("list"), 1);
	cr_assert_not_null(strstr(err, "mode 0640"), "%s", err);
	cr_assert_eq(run("add", "0020/020"), 1);
	cr_assert_eq(chmod(p, 0600), 0);
	path_of("01F.key", p, sizeof(p));
	cr_assert_eq(chmod(p, 0604), 0);
	cr_assert_eq(run("token", "001F/01F"), 1);
	cr_assert_not_null(strstr(err, "mode 0604"), "%s", err);
}

Test(keytool, peers_export_and_import)
{
	char other[PATH_MAX + 16], exp1[4096], rk[PATH_MAX + 64];

	snprintf(other, sizeof(other), "%s/other", tmp);
	OK("init", "--hid", "000001");
	cr_assert_eq(run_in(other, NULL, "init", "--hid", "000002", NULL), 0);

	cr_assert_eq(run_in(other, NULL, "export-peer", NULL), 0, "%s", err);
	cr_assert_not_null(strstr(err, "created"), "%s", err);
	cr_assert_not_null(strstr(out, "peer 000002/0F0 alg=EdDSA state=active "
	    "pub="), "%s", out);
	cr_assert_null(strstr(out, "priv="));
	cpy(exp1, sizeof(exp1), out);
	/* The same key on every later export. */
	cr_assert_eq(run_in(other, NULL, "export-peer", NULL), 0);
	cr_assert_str_eq(out, exp1);

	cr_assert_eq(run_in(dir, exp1, "import-peer", "-", NULL), 0, "%s", err);
	cr_assert_not_null(strstr(out, "imported peer 000002/0F0"), "%s", out);
	cr_assert_eq(run_in(dir, exp1, "import-peer", "-", NULL), 0);
	cr_assert_not_null(strstr(out, "already imported"), "%s", out);
	OK("list");
	cr_assert_not_null(strstr(out, "peer    000002/0F0"), "%s", out);

	/* What export-peer printed is public: a 0644 file is fine. */
	snprintf(rk, sizeof(rk), "%s/peer.txt", tmp);
	{
		FILE *f = fopen(rk, "w");

		cr_assert_not_null(f);
		fputs(exp1, f);
		fclose(f);
		cr_assert_eq(chmod(rk, 0644), 0);
	}
	cr_assert_eq(run("import-peer", rk), 0, "%s", err);
	cr_assert_not_null(strstr(out, "already imported"), "%s", out);

	/* Not its own key, and never private material. */
	cr_assert_eq(run_in(other, exp1, "import-peer", "-", NULL), 1);
	cr_assert_not_null(strstr(err, "own key"), "%s", err);
	snprintf(rk, sizeof(rk), "%s/0F0.external.key", other);
	cr_assert_eq(run("import-peer", rk), 1);
	cr_assert_not_null(strstr(err, "not a public peer entry"), "%s", err);

	/* remove-peer undoes import-peer, and removes only peer keys */
	cr_assert_eq(run("remove-peer", "000001/0F0"), 1);
	cr_assert_not_null(strstr(err, "no peer key"), "%s", err);
	OK("remove-peer", "000002/0F0");
	OK("list");
	cr_assert_null(strstr(out, "000002/0F0"), "%s", out);
	cr_assert_eq(run("remove-peer", "000002/0F0"), 1);
	cr_assert_eq(run_in(dir, exp1, "import-peer", "-", NULL), 0, "%s", err);

	/* A second router has its own SID and file. */
	cr_assert_eq(run_in(other, NULL, "export-peer", "--sid", "0F1", NULL), 0);
	cr_assert_not_null(strstr(out, "peer 000002/0F1 alg=EdDSA"), "%s", out);
	snprintf(rk, sizeof(rk), "%s/0F1.external.key", other);
	cr_assert_eq(access(rk, F_OK), 0);
	cr_assert_eq(run_in(other, NULL, "export-peer", "--sid", "0f1", NULL), 2);
	snprintf(rk, sizeof(rk), "%s/0F0.external.key", other);

	/* A changed key needs --replace. */
	unlink(rk);
	cr_assert_eq(run_in(other, NULL, "export-peer", NULL), 0);
	cpy(exp1, sizeof(exp1), out);
	cr_assert_eq(run_in(dir, exp1, "import-peer", "-", NULL), 1);
	cr_assert_not_null(strstr(err, "--replace"), "%s", err);
	cr_assert_eq(run_in(dir, exp1, "import-peer", "--replace", "-", NULL),
	    0);
}

/*
 * rotate-peer: the router's new external key is exported with the old one
 * in its grace, and the peer imports that as a rotation (no --replace),
 * keeping both; a file without the key it has still needs --replace.
 */
Test(keytool, rotate_peer_exports_both_keys_and_import_takes_the_rotation)
{
	char other[PATH_MAX + 16], exp1[4096], exp2[4096];

	snprintf(other, sizeof(other), "%s/other", tmp);
	OK("init", "--hid", "000001");
	cr_assert_eq(run_in(other, NULL, "init", "--hid", "000002", NULL), 0);
	cr_assert_eq(run_in(other, NULL, "rotate-peer", NULL), 1);
	cr_assert_not_null(strstr(err, "export-peer makes it"), "%s", err);
	cr_assert_eq(run_in(other, NULL, "export-peer", NULL), 0, "%s", err);
	cpy(exp1, sizeof(exp1), out);
	cr_assert_eq(run_in(dir, exp1, "import-peer", "-", NULL), 0, "%s", err);

	cr_assert_eq(run_in(other, NULL, "rotate-peer", "--grace", "10m", NULL),
	    0, "%s", err);
	cr_assert_not_null(strstr(out, "accepted until"), "%s", out);
	cr_assert_eq(run_in(other, NULL, "export-peer", NULL), 0, "%s", err);
	cpy(exp2, sizeof(exp2), out);
	cr_assert_not_null(strstr(exp2, "state=active"), "%s", exp2);
	cr_assert_not_null(strstr(exp2, "state=grace not-after="), "%s", exp2);
	cr_assert_null(strstr(exp2, "priv="), "%s", exp2);
	/* a rotation is taken on the old key's signature, not on the file's
	 * word: without the "# rotation" line (or with it forged) it is not */
	{
		char *rl = strstr(exp2, "# rotation 000002/0F0 SHA256:"), *sig;
		char forged[4096];
		size_t at;

		cr_assert_not_null(rl, "%s", exp2);
		at = (size_t)(rl - exp2);
		snprintf(forged, sizeof(forged), "%.*s%s", (int)at, exp2,
		    strchr(rl, '\n') + 1);
		cr_assert_eq(run_in(dir, forged, "import-peer", "-", NULL), 1);
		cr_assert_not_null(strstr(err, "is not signed by the key this "
		    "node has"), "%s", err);
		snprintf(forged, sizeof(forged), "%s", exp2);
		sig = strstr(forged + at, "sig=") + 4;
		sig[5] = sig[5] == 'A' ? 'B' : 'A';
		cr_assert_eq(run_in(dir, forged, "import-peer", "-", NULL), 1);
		cr_assert_not_null(strstr(err, "is not signed"), "%s", err);
		/* the old key's grace is signed too: a longer one is refused */
		snprintf(forged, sizeof(forged), "%s", exp2);
		sig = strstr(forged, "not-after=2");
		cr_assert_not_null(sig, "%s", exp2);
		sig[13] = sig[13] == '9' ? '8' : '9';	/* the year's last digit */
		cr_assert_eq(run_in(dir, forged, "import-peer", "-", NULL), 1);
		cr_assert_not_null(strstr(err, "is not signed"), "%s", err);
	}
	/* a grace key added to a signed rotation is not imported */
	{
		char third[PATH_MAX + 16], added[4096 + 512], line[512], *pub;

		snprintf(third, sizeof(third), "%s/third", tmp);
		cr_assert_eq(run_in(third, NULL, "init", "--hid", "000003", NULL),
		    0);
		cr_assert_eq(run_in(third, NULL, "export-peer", NULL), 0, "%s",
		    err);
		cr_assert_not_null(pub = strstr(out, " pub="), "%s", out);
		snprintf(line, sizeof(line), "peer 000002/0F0 alg=EdDSA "
		    "state=grace not-after=2036-01-01T00:00:00Z%.*s\n",
		    (int)strcspn(pub, "\n"), pub);
		snprintf(added, sizeof(added), "%s%s", exp2, line);
		cr_assert_eq(run_in(dir, added, "import-peer", "-", NULL), 0,
		    "%s", err);
		cr_assert_not_null(strstr(out, "not covered by the rotation "
		    "signature: not imported"), "%s", out);
		OK("list");
		cr_assert_null(strstr(out, "2036"), "%s", out);
		/* undo, so the genuine import below is a rotation again */
		OK("remove-peer", "000002/0F0");
		cr_assert_eq(run_in(dir, exp1, "import-peer", "-", NULL), 0, "%s",
		    err);
	}
	cr_assert_eq(run_in(dir, exp2, "import-peer", "-", NULL), 0, "%s", err);
	cr_assert_not_null(strstr(out, "rotated peer 000002/0F0"), "%s", out);
	cr_assert_not_null(strstr(out, "its previous key"), "%s", out);
	cr_assert_eq(run_in(dir, exp2, "import-peer", "-", NULL), 0, "%s", err);
	cr_assert_not_null(strstr(out, "already imported"), "%s", out);
	OK("list");
	cr_assert_not_null(strstr(out, "grace"), "%s", out);

	/* the old export (the old key alone) is no rotation of what we have */
	cr_assert_eq(run_in(dir, exp1, "import-peer", "-", NULL), 0, "%s", err);
	cr_assert_not_null(strstr(out, "already imported"), "%s", out);
	/* grace 0: the key we have is gone from the export at once */
	cr_assert_eq(run_in(other, NULL, "rotate-peer", "--grace", "0", NULL),
	    0, "%s", err);
	cr_assert_eq(run_in(other, NULL, "export-peer", NULL), 0, "%s", err);
	cpy(exp1, sizeof(exp1), out);
	cr_assert_eq(run_in(dir, exp1, "import-peer", "-", NULL), 1);
	cr_assert_not_null(strstr(err, "--replace"), "%s", err);
}

Test(keytool, verify_checks_signed_messages_on_their_topic)
{
	const char *topic = "mob/cov/000001/01F/003A/0001/40";
	struct mob_signer *s = NULL;
	struct mob_kr_entry own;
	char p[PATH_MAX + 64], e[256], *msg = NULL;

	OK("init", "--hid", "000001");
	OK("add", "001F/01F");
	path_of("01F.key", p, sizeof(p));
	cr_assert_eq(mob_keyfile_load_own(p, &own, e, sizeof(e)), 0, "%s", e);
	cr_assert_eq(mob_signer_new(own.key, own.id, &s), 0);
	cr_assert_eq(mob_env_sign(s, topic, "{\"pv\":21.5}", &msg, NULL), 0);
	cr_assert_eq(run("verify", "--topic", topic, msg), 0, "%s", err);
	cr_assert_not_null(strstr(out, "valid message"));
	cr_assert_not_null(strstr(out, "21.5"), "%s", out);
	cr_assert_eq(run("verify", "--topic", "mob/cov/000001/01F/003A/0001/41",
	    msg), 1);
	cr_assert_not_null(strstr(err, "topic"), "%s", err);
	free(msg);
	mob_signer_free(s);
	mob_key_free(own.key);
}

/* Start a stand-in hub: a shell named "mosquitto" running as uid. */
static pid_t
fake_hub(uid_t uid, gid_t gid, const char *flag)
{
	char link[PATH_MAX + 16], script[PATH_MAX + 128];
	pid_t pid;

	snprintf(link, sizeof(link), "%s/mosquitto", tmp);
	if (access(link, F_OK) == -1)
		cr_assert_eq(symlink("/bin/sh", link), 0);
	snprintf(script, sizeof(script), "trap 'echo hup > %s; exit 0' HUP; "
	    "while :; do sleep 0.05; done", flag);
	if ((pid = fork()) == 0) {
		if (setgid(gid) == -1 || setuid(uid) == -1)
			_exit(126);
		execl(link, "mosquitto", "-c", script, (char *)NULL);
		_exit(127);
	}
	cr_assert_gt(pid, 0);
	/* Wait for the exec, then give the shell time to set its trap. */
	for (int i = 0; i < 100; i++) {
		char comm[64], c[32] = "";
		int fd;

		snprintf(comm, sizeof(comm), "/proc/%d/comm", (int)pid);
		if ((fd = open(comm, O_RDONLY)) != -1) {
			if (read(fd, c, sizeof(c) - 1) < 0)
				c[0] = '\0';
			close(fd);
		}
		if (strncmp(c, "mosquitto", 9) == 0)
			break;
		usleep(20000);
	}
	usleep(200000);
	return pid;
}

static void
write_pid(pid_t pid)
{
	char p[PATH_MAX + 64];
	FILE *f;

	path_of("hub.pid", p, sizeof(p));
	cr_assert_not_null(f = fopen(p, "w"));
	fprintf(f, "%d\n", (int)pid);
	fclose(f);
	cr_assert_eq(chmod(p, 0644), 0);
}

Test(keytool, reload_signals_the_hub_in_the_pid_file)
{
	const char *unit = "mobius-test-absent.service";
	struct passwd *pw = getpwnam("nobody");
	char flags[PATH_MAX + 16], flag[PATH_MAX + 32], buf[32];
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int status;

	if (geteuid() != 0 || pw == NULL)
		cr_skip_test("needs root and user nobody: the reload sandbox "
		    "drops to the hub's user");
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	OK("init", "--hid", "000001");
	cr_assert_eq(run("reload", "--unit", unit), 1);
	cr_assert_not_null(strstr(err, "no running hub found"), "%s", err);

	/* The sandbox runs keytool as the hub's user; here that is nobody. */
	cr_assert_eq(setenv("MOBIUS_SANDBOX_USER", "nobody", 1), 0);
	snprintf(flags, sizeof(flags), "%s/flags", tmp);
	cr_assert_eq(mkdir(flags, 0777), 0);
	cr_assert_eq(chmod(flags, 0777), 0);
	cr_assert_eq(chmod(tmp, 0711), 0);
	snprintf(flag, sizeof(flag), "%s/hup", flags);

	pid = fake_hub(uid, gid, flag);
	write_pid(pid);
	/* signalled, but a fake hub never confirms: reload fails */
	cr_assert_eq(run("reload", "--unit", unit, "--state", tmp,
	    "--timeout", "1s"), 1);
	cr_assert_not_null(strstr(out, "SIGHUP"), "%s", out);
	cr_assert_not_null(strstr(err, "did not confirm"), "%s", err);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	slurp(flag, buf, sizeof(buf));
	cr_assert_str_eq(buf, "hup\n");

	/* A pid file naming some other process is not obeyed... */
	write_pid(getpid());
	cr_assert_eq(run("reload", "--unit", unit), 1);
	cr_assert_not_null(strstr(err, "not a running hub"), "%s", err);

	/* ...nor, thanks to the sandbox, one that only looks like the hub. */
	unlink(flag);
	pid = fake_hub(0, 0, flag);
	write_pid(pid);
	cr_assert_eq(run("reload", "--unit", unit), 1);
	cr_assert_not_null(strstr(err, "kill"), "%s", err);
	cr_assert_eq(access(flag, F_OK), -1);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unsetenv("MOBIUS_SANDBOX_USER");
}

Test(keytool, concurrent_adds_lose_nothing)
{
	char ss[8][16];
	pid_t pids[8];

	OK("init", "--hid", "000001");
	for (int i = 0; i < 8; i++) {
		snprintf(ss[i], sizeof(ss[i]), "0040/%03X", 0x40 + i);
		if ((pids[i] = fork()) == 0) {
			char bin[PATH_MAX];
			const char *b = getenv("MOBIUS_BUILD");
			int dn = open("/dev/null", O_WRONLY);

			snprintf(bin, sizeof(bin), "%s/bin/mobius-keytool",
			    b != NULL ? b : "build");
			if (dn != -1) {
				dup2(dn, 1);
				dup2(dn, 2);
			}
			execl(bin, bin, "--dir", dir, "add", ss[i], (char *)NULL);
			_exit(127);
		}
		cr_assert_gt(pids[i], 0);
	}
	for (int i = 0; i < 8; i++) {
		int status;

		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "add %s: %d", ss[i], status);
	}
	OK("list");
	for (int i = 0; i < 8; i++) {
		char id[16];

		snprintf(id, sizeof(id), "000001/%s", ss[i] + 5);
		cr_assert_not_null(strstr(out, id), "lost %s:\n%s", id, out);
	}
}

Test(keytool, help_and_usage_errors)
{
	cr_assert_eq(run_in(NULL, NULL, "--help", NULL), 0);
	cr_assert_not_null(strstr(out, "usage: mobius-keytool"));
	cr_assert_not_null(strstr(out, "exit status"));
	cr_assert_eq(run("rotate", "--help"), 0);
	cr_assert_not_null(strstr(out, "--grace"));

	cr_assert_eq(run_in(dir, NULL, NULL), 2);
	cr_assert_not_null(strstr(err, "a command is required"), "%s", err);
	cr_assert_eq(run("frobnicate"), 2);
	cr_assert_not_null(strstr(err, "unknown command \"frobnicate\""));
	cr_assert_eq(run("init"), 2);
	cr_assert_not_null(strstr(err, "--hid is required"));
	cr_assert_eq(run("init", "--hid", "00001g"), 2);
	cr_assert_not_null(strstr(err, "bad --hid \"00001g\""), "%s", err);
	cr_assert_eq(run("init", "--hid", "000001", "--mode", "lax"), 2);
	cr_assert_not_null(strstr(err, "bad --mode"));
	cr_assert_eq(run("add"), 2);
	cr_assert_not_null(strstr(err, "usage: mobius-keytool [--dir DIR] add"));
	cr_assert_eq(run("add", "01F"), 2);
	cr_assert_not_null(strstr(err, "bad SPID/SID \"01F\""));
	cr_assert_eq(run("add", "0001/000"), 2);
	cr_assert_eq(run("add", "001F/01F", "--frob"), 2);
	cr_assert_eq(run("rotate", "001F/01F", "--grace", "5y"), 2);
	cr_assert_not_null(strstr(err, "bad --grace \"5y\""));
	cr_assert_eq(run("token"), 2);
	cr_assert_eq(run("verify"), 2);
	cr_assert_eq(run("list", "extra"), 2);
	/* Failures that are not usage errors exit 1. */
	cr_assert_eq(run("list"), 1);
	cr_assert_not_null(strstr(err, "run mobius-keytool init first"), "%s",
	    err);
}

/* mosquitto_pub through the hub's socket; its exit code. */
static int
mqtt_login(const struct th_node *n, const char *user, const char *id,
    const char *pass)
{
	char *argv[] = { "/usr/bin/mosquitto_pub", "--unix", (char *)n->sock,
	    "-u", (char *)user, "-i", (char *)id, "-P", (char *)pass,
	    "-t", "mob/cov/000001/01F/0001/0001/40", "-m", "x", NULL };

	return th_run(argv, NULL, NULL, 0, 10000);
}

Test(keytool, tokens_log_in_to_the_real_hub_until_revoked_and_reloaded)
{
	char tok[2048], spare[2048], bad[2048], log[300], state[300];
	struct th_node n;
	int before;

	th_node_start(&n, MOB_MODE_HARDENED);
	th_node_add(&n, "001F/01F", NULL, 0);
	snprintf(log, sizeof(log), "%s/hub.log", n.dir);

	cr_assert_eq(run_in(n.keys, NULL, "token", "001F/01F", NULL), 0);
	cpy(tok, sizeof(tok), out);
	tok[strcspn(tok, "\n")] = '\0';
	cr_assert_eq(mqtt_login(&n, "001F/01F", "000001/01F", tok), 0,
	    "the hub refused a keytool token");
	/* The nonce is single-use. */
	cr_assert_neq(mqtt_login(&n, "001F/01F", "000001/01F", tok), 0);

	cr_assert_eq(run_in(n.keys, NULL, "token", "001F/01F", NULL), 0);
	cpy(bad, sizeof(bad), out);
	bad[strcspn(bad, "\n")] = '\0';
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
	cr_assert_neq(mqtt_login(&n, "001F/01F", "000001/01F", bad), 0);

	/* Revoke, reload through keytool, and a fresh token of the old key
	 * no longer gets in. */
	cr_assert_eq(run_in(n.keys, NULL, "token", "001F/01F", NULL), 0);
	cpy(spare, sizeof(spare), out);
	spare[strcspn(spare, "\n")] = '\0';
	cr_assert_eq(run_in(n.keys, NULL, "revoke", "001F/01F", NULL), 0);
	before = th_count_log(log, "mobius: keyring reloaded");
	/* The test hub runs as root: the sandbox's user change would make
	 * the signal impossible, which is the point of it in production. */
	snprintf(state, sizeof(state), "%s/state", n.dir);
	cr_assert_eq(run_in(n.keys, NULL, "reload", "--unit",
	    "mobius-test-absent.service", "--state", state, "--no-sandbox",
	    NULL), 0, "%s", err);
	for (int i = 0; i < 500 &&
	    th_count_log(log, "mobius: keyring reloaded") <= before; i++)
		usleep(20000);
	cr_assert_gt(th_count_log(log, "mobius: keyring reloaded"), before);
	cr_assert_neq(mqtt_login(&n, "001F/01F", "000001/01F", spare), 0);
	th_node_stop(&n);
}

Test(keytool, writes_remove_temp_files_left_by_a_crash)
{
	static const char *stale[] = { ".keyring.Ab12Cd", ".hub.key.000000",
	    ".01F.key.zzzzzz", ".0F0.external.key.a1b2c3" };
	static const char *kept[] = { ".hub.pid.Ab12Cd", ".keyring", "notes",
	    ".01f.key.zzzzzz" };
	char p[PATH_MAX + 64];
	int fd;

	OK("init", "--hid", "000001");
	for (size_t i = 0; i < 4; i++) {
		path_of(stale[i], p, sizeof(p));
		cr_assert_geq(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
		close(fd);
		path_of(kept[i], p, sizeof(p));
		cr_assert_geq(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
		close(fd);
	}
	OK("add", "001F/01F");
	for (size_t i = 0; i < 4; i++) {
		path_of(stale[i], p, sizeof(p));
		cr_assert_eq(access(p, F_OK), -1, "%s survived", stale[i]);
		cr_assert_not_null(strstr(err, stale[i]), "%s", err);
		path_of(kept[i], p, sizeof(p));
		cr_assert_eq(access(p, F_OK), 0, "%s removed", kept[i]);
	}
}

/*
 * `help` and `help COMMAND` (issue 15): every command the overview lists
 * prints its own usage on stdout and exits 0, as COMMAND --help does.
 */
Test(keytool, help_names_every_command_and_each_has_its_own)
{
	char list[OUT_MAX], name[32];
	const char *p;
	int n = 0;

	cr_assert_eq(run("help"), 0, "%s", err);
	cpy(list, sizeof(list), out);
	cr_assert_eq(run("help", "--help"), 0, "%s", err);
	cr_assert_str_eq(out, list);
	p = strstr(list, "commands:\n");
	cr_assert_not_null(p, "%s", list);
	/* command lines are indented two spaces, their help four */
	for (p = strchr(p, '\n') + 1; *p != '\0'; p = strchr(p, '\n') + 1) {
		if (*p != ' ' && *p != '\n')
			break;		/* the next section: options */
		if (strncmp(p, "  ", 2) == 0 && islower((unsigned char)p[2]) &&
		    sscanf(p + 2, "%31[a-z-]", name) == 1) {
			char want[64];

			cr_assert_eq(run("help", name), 0, "help %s: %s", name, err);
			snprintf(want, sizeof(want), "] %s", name);
			cr_assert_not_null(strstr(out, want), "help %s: %s", name, out);
			cr_assert_eq(run(name, "--help"), 0, "%s --help: %s", name,
			    err);
			n++;
		}
		if (strchr(p, '\n') == NULL)
			break;
	}
	cr_assert_geq(n, 15, "only %d commands in: %s", n, list);
	cr_assert_eq(run("help", "nosuch"), 2);
	cr_assert_not_null(strstr(err, "unknown command \"nosuch\""), "%s", err);
}
