/*
 * mobius-keytool api-token add|list|revoke and api-cert: the credentials
 * of mobius-api (docs/api.md).
 *
 * A token is "mobt_" and 43 base64url characters (256 random bits).  It
 * is printed once by `add`; DIR/api-tokens.json keeps only its SHA-256,
 * its name and its scopes, so a copy of the file grants nothing.  A
 * 256-bit secret needs no slow hash: nothing can be guessed offline.
 * The file is written like every key file (locked, atomic, 0600) and
 * belongs to mobius-api when that user exists; mobius-api re-reads it
 * when it changes, so `revoke` takes effect within a second.
 *
 * api-cert makes the server's TLS key (EC P-256) and a self-signed
 * certificate for localhost, 127.0.0.1 and ::1 (DIR/api.key, DIR/api.crt);
 * an administrator may put their own in their place at any time, the
 * server loads a changed pair without a restart.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "mobius/b64.h"
#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/keyring.h"
#include "mobius/log.h"
#include "mobius/uri.h"

#define API_USER	"mobius-api"
#define API_TOKENS	"api-tokens.json"
#define API_NAME_MAX	32
#define API_SCOPES_MAX	16
#define API_TOKENS_MAX	256
#define API_FILE_MAX	(256 * 1024)
#define CERT_DAYS	825

/*
 * A new file of mobius-api's belongs to its user when it exists and we
 * are root; a rewrite keeps the owner of the file it replaces (lib/sys).
 */
static void
api_owner(const char *path, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (geteuid() == 0 && access(path, F_OK) != 0 &&
	    (pw = getpwnam(API_USER)) != NULL) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
}

static int
api_path(const struct kt *kt, const char *name, char *out, size_t len)
{
	if (snprintf(out, len, "%s/%s", kt->dir, name) >= (int)len) {
		log_warnx("%s: path too long", kt->dir);
		return MOB_ETOOLONG;
	}
	return 0;
}

/* The token file, or an empty one when there is none yet. */
static cJSON *
tokens_load(const char *path)
{
	char *buf = NULL, err[512];
	size_t len;
	cJSON *j;
	int r;

	r = mob_file_read(path, API_FILE_MAX, MOB_FILE_NOFOLLOW | MOB_FILE_PRIVATE,
	    &buf, &len, err, sizeof(err));
	if (r == MOB_ENOTFOUND)
		return cJSON_Parse("{\"tokens\":[]}");
	if (r != 0) {
		log_warnx("%s", err);
		return NULL;
	}
	j = cJSON_ParseWithLength(buf, len);
	mob_file_free(buf, len);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "tokens"))) {
		log_warnx("%s: not a token file", path);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static int
tokens_save(const char *path, const cJSON *j)
{
	uid_t uid;
	gid_t gid;
	char *s;
	int r;

	if ((s = cJSON_Print(j)) == NULL)
		return MOB_ENOMEM;
	api_owner(path, &uid, &gid);
	r = mob_file_write_atomic_owned(path, s, strlen(s), 0600, uid, gid);
	cJSON_free(s);
	if (r != 0)
		kt_err(r, path);
	return r;
}

static const cJSON *
tokens_find(const cJSON *arr, const char *name, int *idx)
{
	const cJSON *e, *n;
	int i = 0;

	cJSON_ArrayForEach(e, arr) {
		n = cJSON_GetObjectItemCaseSensitive(e, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
			*idx = i;
			return e;
		}
		i++;
	}
	return NULL;
}

/* VERB:PATTERN with VERB read, write or rw and a URI pattern (+, #). */
static int
scope_valid(const char *s)
{
	const char *c = strchr(s, ':');
	struct mob_uri u;
	char err[160];

	if (c == NULL || !((c - s == 4 && strncmp(s, "read", 4) == 0) ||
	    (c - s == 5 && strncmp(s, "write", 5) == 0) ||
	    (c - s == 2 && strncmp(s, "rw", 2) == 0))) {
		fprintf(stderr, "mobius-keytool: --scope \"%s\": want read:, "
		    "write: or rw: and a URI pattern (read:000001/#)\n", s);
		return 0;
	}
	if (mob_uri_parse(c + 1, MOB_URI_WILD, &u, err, sizeof(err)) != 0) {
		fprintf(stderr, "mobius-keytool: --scope \"%s\": %s\n", s, err);
		return 0;
	}
	return 1;
}

static int
name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > API_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' ||
		    s[i] == '.'))
			return 0;
	return 1;
}

static int
token_add(const struct kt *kt, const char *name, char **scopes, int nscopes)
{
	unsigned char secret[32], hash[32];
	char path[4096], tok[80], hb64[64];
	cJSON *j = NULL, *e, *arr;
	int lock = -1, i, idx, r;

	if (!name_valid(name))
		return kt_usage("NAME \"%s\": 1-%d of [A-Za-z0-9._-]", name,
		    API_NAME_MAX);
	if (nscopes == 0)
		return kt_usage("at least one --scope is needed");
	for (i = 0; i < nscopes; i++)
		if (!scope_valid(scopes[i]))
			return KT_EUSAGE;
	if ((r = api_path(kt, API_TOKENS, path, sizeof(path))) != 0 ||
	    (r = kt_lock(kt, &lock)) != 0)
		return r;
	r = MOB_EINVAL;
	if ((j = tokens_load(path)) == NULL)
		goto out;
	arr = cJSON_GetObjectItemCaseSensitive(j, "tokens");
	if (tokens_find(arr, name, &idx) != NULL) {
		log_warnx("a token named \"%s\" exists; revoke it first", name);
		r = MOB_EEXIST;
		goto out;
	}
	if (cJSON_GetArraySize(arr) >= API_TOKENS_MAX) {
		log_warnx("%s: already %d tokens", path, API_TOKENS_MAX);
		r = MOB_ETOOLONG;
		goto out;
	}
	r = MOB_ECRYPTO;
	memcpy(tok, "mobt_", 5);
	if (RAND_bytes(secret, sizeof(secret)) != 1 ||
	    mob_b64url_encode(secret, sizeof(secret), tok + 5, sizeof(tok) - 5) < 0)
		goto out;
	SHA256((unsigned char *)tok, strlen(tok), hash);
	r = MOB_ENOMEM;
	if (mob_b64url_encode(hash, sizeof(hash), hb64, sizeof(hb64)) < 0 ||
	    (e = cJSON_CreateObject()) == NULL)
		goto out;
	cJSON_AddItemToArray(arr, e);
	cJSON_AddStringToObject(e, "name", name);
	cJSON_AddStringToObject(e, "sha256", hb64);
	cJSON_AddItemToObject(e, "scopes",
	    cJSON_CreateStringArray((const char *const *)scopes, nscopes));
	cJSON_AddNumberToObject(e, "created", (double)time(NULL));
	if ((r = tokens_save(path, j)) != 0)
		goto out;
	/* the one time the token is shown: alone on stdout, for scripts */
	printf("%s\n", tok);
	fprintf(stderr, "mobius-keytool: API token \"%s\" added; it is shown "
	    "only now (the node keeps its hash)\n", name);
 out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(tok, sizeof(tok));
	cJSON_Delete(j);
	mob_keyring_unlock(lock);
	return r;
}

static int
token_list(const struct kt *kt)
{
	const cJSON *e, *n, *s, *c, *sc;
	char path[4096], when[32];
	cJSON *j;
	time_t t;

	if (api_path(kt, API_TOKENS, path, sizeof(path)) != 0 ||
	    (j = tokens_load(path)) == NULL)
		return MOB_EINVAL;	/* said why */
	printf("%-20s  %-20s  %s\n", "NAME", "CREATED", "SCOPES");
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "tokens")) {
		n = cJSON_GetObjectItemCaseSensitive(e, "name");
		c = cJSON_GetObjectItemCaseSensitive(e, "created");
		s = cJSON_GetObjectItemCaseSensitive(e, "scopes");
		t = cJSON_IsNumber(c) ? (time_t)c->valuedouble : 0;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		printf("%-20s  %-20s ", cJSON_IsString(n) ? n->valuestring : "?", when);
		cJSON_ArrayForEach(sc, s)
			if (cJSON_IsString(sc))
				printf(" %s", sc->valuestring);
		printf("\n");
	}
	cJSON_Delete(j);
	return 0;
}

static int
token_revoke(const struct kt *kt, const char *name)
{
	char path[4096];
	cJSON *j = NULL;
	int lock = -1, idx, r;

	if ((r = api_path(kt, API_TOKENS, path, sizeof(path))) != 0 ||
	    (r = kt_lock(kt, &lock)) != 0)
		return r;
	r = MOB_EINVAL;
	if ((j = tokens_load(path)) == NULL)
		goto out;
	if (tokens_find(cJSON_GetObjectItemCaseSensitive(j, "tokens"), name,
	    &idx) == NULL) {
		log_warnx("no API token named \"%s\"", name);
		r = MOB_ENOTFOUND;
		goto out;
	}
	cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(j, "tokens"), idx);
	if ((r = tokens_save(path, j)) == 0)
		printf("API token \"%s\" revoked\n", name);
 out:
	cJSON_Delete(j);
	mob_keyring_unlock(lock);
	return r;
}

static int
token_help(void)
{
	printf("usage: mobius-keytool [--dir DIR] api-token "
	    KT_API_TOKEN_USAGE "\n");
	return 0;
}

int
cmd_api_token(struct kt *kt, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "scope", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char *scopes[API_SCOPES_MAX];
	int ch, n = 0;

	/* argv[0] is "api-token", argv[1] the action (or --help) */
	if (argc < 2)
		goto usage;
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return token_help();
	/* scan from the action on; optind = 0 makes glibc start afresh */
	argc--;
	argv++;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "s:h", lo, NULL)) != -1) {
		if (ch == 's' && n < API_SCOPES_MAX)
			scopes[n++] = optarg;
		else if (ch == 'h')
			return token_help();
		else
			goto usage;
	}
	if (strcmp(argv[0], "add") == 0 && optind == argc - 1)
		return token_add(kt, argv[optind], scopes, n);
	if (strcmp(argv[0], "list") == 0 && optind == argc && n == 0)
		return token_list(kt);
	if (strcmp(argv[0], "revoke") == 0 && optind == argc - 1 && n == 0)
		return token_revoke(kt, argv[optind]);
 usage:
	return kt_usage(n == API_SCOPES_MAX ? "at most %d --scope" : NULL,
	    API_SCOPES_MAX);
}

/* --- the TLS key and certificate -------------------------------------- */

static int
cert_make(EVP_PKEY *pk, X509 **out)
{
	X509 *x;
	X509_NAME *nm;
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	*out = NULL;
	if ((x = X509_new()) == NULL || X509_set_version(x, 2) != 1 ||
	    RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), (long)CERT_DAYS * 86400) == NULL ||
	    X509_set_pubkey(x, pk) != 1 || (nm = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"mobius-api", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, nm) != 1)
		goto out;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
	    "DNS:localhost,IP:127.0.0.1,IP:::1")) == NULL)
		goto out;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	if (!ok || X509_sign(x, pk, EVP_sha256()) == 0) {
		ok = 0;
		goto out;
	}
	*out = x;
	x = NULL;
 out:
	BN_free(bn);
	X509_free(x);
	return ok ? 0 : MOB_ECRYPTO;
}

static int
pem_write(const char *path, EVP_PKEY *pk, X509 *x, int mode)
{
	BIO *b = BIO_new(BIO_s_secmem());	/* cleansed when freed */
	char *data;
	long len;
	uid_t uid;
	gid_t gid;
	int r = MOB_ECRYPTO;

	if (b == NULL)
		return MOB_ENOMEM;
	if ((pk != NULL && PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1) ||
	    (x != NULL && PEM_write_bio_X509(b, x) != 1))
		goto out;
	len = BIO_get_mem_data(b, &data);
	api_owner(path, &uid, &gid);
	r = mob_file_write_atomic_owned(path, data, (size_t)len, mode, uid, gid);
 out:
	BIO_free_all(b);
	return r;
}

int
kt_api_cert_make(const struct kt *kt, int force)
{
	char kpath[4096], cpath[4096];
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	int r;

	if ((r = api_path(kt, "api.key", kpath, sizeof(kpath))) != 0 ||
	    (r = api_path(kt, "api.crt", cpath, sizeof(cpath))) != 0)
		return r;
	if (!force && access(cpath, F_OK) == 0) {
		log_warnx("%s exists; --force replaces it", cpath);
		return MOB_EEXIST;
	}
	if ((pk = EVP_EC_gen("P-256")) == NULL || (r = cert_make(pk, &x)) != 0) {
		log_warnx("cannot make the API key and certificate");
		r = MOB_ECRYPTO;
		goto out;
	}
	/* the key first: a certificate never names a key that is missing */
	if ((r = pem_write(kpath, pk, NULL, 0600)) != 0 ||
	    (r = pem_write(cpath, NULL, x, 0644)) != 0) {
		kt_err(r, kpath);
		goto out;
	}
	printf("API TLS key %s and self-signed certificate %s (localhost, "
	    "127.0.0.1, ::1; %d days)\n", kpath, cpath, CERT_DAYS);
 out:
	X509_free(x);
	EVP_PKEY_free(pk);
	return r;
}

int
cmd_api_cert(struct kt *kt, int argc, char **argv)
{
	int force = 0, r;
	const struct kt_opt opts[] = {
		{ .name = "force", .flag = &force },
		{ .name = NULL }
	};

	if ((r = kt_getopt(argc, argv, opts)) != KT_GO)
		return r;
	if (optind != argc)
		return kt_usage("unexpected argument \"%s\"", argv[optind]);
	return kt_api_cert_make(kt, force);
}
