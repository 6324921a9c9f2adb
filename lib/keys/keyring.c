/*
 * Keyrings (docs/keys.md): parse, format, look up, and write atomically.
 *
 * The text may hold private keys and PSKs, so every buffer that held it is
 * cleansed before it is freed, error messages quote attribute names but
 * never values of key material, and a file that group or others can reach
 * is refused before a byte of it is read.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mobius/b64.h"
#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/keyring.h"
#include "mobius/log.h"
#include "mobius/proto.h"
#include "mobius/table.h"

#define KR_MAGIC	"mobius-keyring"
#define KR_VERSION	"1"
#define KR_FIELDS_MAX	12
#define KR_LOCK_TRIES	200		/* x 50 ms: give up after 10 s */

/* Upper bound of one formatted entry line (ids, attributes, 64-byte key). */
#define KR_ENTRY_LINE_MAX	320

struct kr_parser {
	const char *name;
	size_t line;
	char *err;
	size_t errlen;
};

static int MOB_PRINTF(3, 4)
kr_perr(struct kr_parser *p, int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (p->err == NULL || p->errlen == 0)
		return code;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		snprintf(p->err, p->errlen, "%s:%zu: %s", p->name, p->line,
		    msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->name, msg);
	return code;
}

/*
 * May a token that failed to parse be quoted in an error?  Only if it
 * cannot be a piece of key material: a key wrapped onto its own line, or
 * an entry that lost its id, puts base64url where a kind or an id belongs,
 * and error messages end up in logs.  Kinds are lower-case words and ids
 * hex with one '/'; a fragment of a key rarely passes, and then is short.
 */
static int
kr_quotable(const char *s, const char *alphabet)
{
	size_t n = strlen(s);

	return n <= 16 && strspn(s, alphabet) == n;
}

#define KR_KIND_CHARS	"abcdefghijklmnopqrstuvwxyz"
#define KR_ID_CHARS	"0123456789ABCDEFabcdef/"

/* A portable unix user name: [A-Za-z_][A-Za-z0-9_.-]{0,31} */
static int
kr_user_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return 0;
	if (!(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];

		if (!(c == '_' || c == '.' || c == '-' ||
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

const char *
mob_kr_kind_name(enum mob_entry_kind kind)
{
	switch (kind) {
	case MOB_ENTRY_SERVICE:
		return "service";
	case MOB_ENTRY_HUB:
		return "hub";
	case MOB_ENTRY_PEER:
		return "peer";
	}
	return "?";
}

const char *
mob_kr_state_name(enum mob_key_state state)
{
	switch (state) {
	case MOB_KS_ACTIVE:
		return "active";
	case MOB_KS_GRACE:
		return "grace";
	case MOB_KS_REVOKED:
		return "revoked";
	}
	return "?";
}

static enum mob_alg
kr_mode_alg(enum mob_mode mode)
{
	return mode == MOB_MODE_COMPAT ? MOB_ALG_HS256 : MOB_ALG_EDDSA;
}

int
mob_kr_fingerprint(const struct mob_key *key, char out[MOB_FPR_LEN + 1])
{
	uint8_t raw[MOB_HS256_MAXLEN], md[EVP_MAX_MD_SIZE];
	unsigned char b64[45];		/* 32 bytes: 43 chars, a '=', NUL */
	unsigned int mdlen = 0;
	int n, r = 0;

	out[0] = '\0';
	if (key == NULL)
		return MOB_EINVAL;
	/*
	 * A PSK has no public half: its hash lets one test a guessed PSK,
	 * as 64 bits of it did before, and a random 256-bit PSK cannot be
	 * guessed; the keys on the wire are HKDF outputs, not this hash.
	 */
	n = mob_key_raw(key, mob_key_alg(key) == MOB_ALG_HS256, raw,
	    sizeof(raw));
	if (n < 0)
		return n;
	if (EVP_Digest(raw, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32) {
		r = MOB_ECRYPTO;
		goto out;
	}
	/* As OpenSSH prints it: standard base64, padding removed. */
	EVP_EncodeBlock(b64, md, 32);
	snprintf(out, MOB_FPR_LEN + 1, "SHA256:%.43s", b64);
 out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

/* --- keyring in memory ------------------------------------------------ */

/*
 * An entry and the next entry with the same id.  Entries are allocated one
 * by one and never move, so a pointer handed out stays valid until its
 * entry is removed; the index maps an id to the first of its chain.
 */
struct kr_ent {
	struct mob_kr_entry e;		/* first: a struct mob_kr_entry * is one */
	struct kr_ent *same;		/* next entry of this id, file order */
};

struct mob_keyring {
	char hid[MOB_HID_LEN + 1];
	enum mob_mode mode;
	struct kr_ent **ent;		/* file order */
	size_t n, cap;
	struct mob_table *byid;		/* id -> first struct kr_ent */
};

#define KR_ENTRIES_MAX	(MOB_KEYRING_MAX / 64)

int
mob_keyring_new(const char *hid, enum mob_mode mode, struct mob_keyring **out)
{
	struct mob_keyring *kr;

	*out = NULL;
	if (hid == NULL || !mob_hid_valid(hid) ||
	    (mode != MOB_MODE_HARDENED && mode != MOB_MODE_COMPAT))
		return MOB_EINVAL;
	if ((kr = calloc(1, sizeof(*kr))) == NULL)
		return MOB_ENOMEM;
	if (mob_table_new(KR_ENTRIES_MAX, NULL, 0, &kr->byid) != 0) {
		free(kr);
		return MOB_ENOMEM;
	}
	memcpy(kr->hid, hid, sizeof(kr->hid));
	kr->mode = mode;
	*out = kr;
	return 0;
}

void
mob_keyring_free(struct mob_keyring *kr)
{
	if (kr == NULL)
		return;
	for (size_t i = 0; i < kr->n; i++) {
		mob_key_free(kr->ent[i]->e.key);
		free(kr->ent[i]);
	}
	free(kr->ent);
	mob_table_free(kr->byid);
	free(kr);
}

const char *
mob_keyring_hid(const struct mob_keyring *kr)
{
	return kr->hid;
}

enum mob_mode
mob_keyring_mode(const struct mob_keyring *kr)
{
	return kr->mode;
}

size_t
mob_keyring_count(const struct mob_keyring *kr)
{
	return kr != NULL ? kr->n : 0;
}

const struct mob_kr_entry *
mob_keyring_entry(const struct mob_keyring *kr, size_t i)
{
	return kr != NULL && i < kr->n ? &kr->ent[i]->e : NULL;
}

static struct kr_ent *
kr_first(const struct mob_keyring *kr, const char *id)
{
	return mob_table_get(kr->byid, id, 0);
}

const struct mob_kr_entry *
mob_keyring_next(const struct mob_keyring *kr, const char *id,
    const struct mob_kr_entry *prev)
{
	struct kr_ent *k;

	if (kr == NULL)
		return NULL;
	if (prev != NULL)
		k = ((const struct kr_ent *)prev)->same;
	else
		k = id != NULL ? kr_first(kr, id) : NULL;
	return k != NULL ? &k->e : NULL;
}

/* Unlink k from its id's chain (the index follows). */
static void
kr_unindex(struct mob_keyring *kr, struct kr_ent *k)
{
	struct kr_ent *p = kr_first(kr, k->e.id);

	if (p == k) {
		if (k->same != NULL)
			/* replaces an existing key: cannot fail */
			(void)mob_table_put(kr->byid, k->e.id, k->same, 0, 0, 0);
		else
			mob_table_del(kr->byid, k->e.id);
		return;
	}
	while (p != NULL && p->same != k)
		p = p->same;
	if (p != NULL)
		p->same = k->same;
}

void
mob_keyring_remove(struct mob_keyring *kr, size_t i)
{
	struct kr_ent *k;

	if (kr == NULL || i >= kr->n)
		return;
	k = kr->ent[i];
	kr_unindex(kr, k);
	mob_key_free(k->e.key);
	free(k);
	memmove(&kr->ent[i], &kr->ent[i + 1], (kr->n - i - 1) *
	    sizeof(kr->ent[0]));
	kr->n--;
}

/* Position of entry k in file order (kr->n if it is not there). */
static size_t
kr_pos(const struct mob_keyring *kr, const struct kr_ent *k)
{
	size_t i;

	for (i = 0; i < kr->n && kr->ent[i] != k; i++)
		;
	return i;
}

size_t
mob_keyring_remove_id(struct mob_keyring *kr, const char *id)
{
	struct kr_ent *k;
	size_t n = 0;

	while (kr != NULL && id != NULL && (k = kr_first(kr, id)) != NULL) {
		mob_keyring_remove(kr, kr_pos(kr, k));
		n++;
	}
	return n;
}

size_t
mob_keyring_revoke(struct mob_keyring *kr, const char *id)
{
	size_t n = 0;

	for (struct kr_ent *k = kr != NULL && id != NULL ? kr_first(kr, id) :
	    NULL; k != NULL; k = k->same) {
		if (k->e.state == MOB_KS_REVOKED)
			continue;
		k->e.state = MOB_KS_REVOKED;
		k->e.not_after = 0;
		n++;
	}
	return n;
}

int
mob_keyring_retire(struct mob_keyring *kr, const char *id, int64_t not_after)
{
	struct kr_ent *k;

	if (kr == NULL || id == NULL)
		return MOB_EINVAL;
	for (k = kr_first(kr, id); k != NULL; k = k->same)
		if (k->e.state == MOB_KS_ACTIVE)
			break;
	if (k == NULL)
		return MOB_ENOTFOUND;
	if (not_after <= 0) {
		mob_keyring_remove(kr, kr_pos(kr, k));
		return 0;
	}
	k->e.state = MOB_KS_GRACE;
	k->e.not_after = not_after;
	return 0;
}

size_t
mob_keyring_prune(struct mob_keyring *kr, int64_t now)
{
	size_t i = 0, pruned = 0;

	while (kr != NULL && i < kr->n) {
		if (kr->ent[i]->e.state == MOB_KS_GRACE &&
		    kr->ent[i]->e.not_after <= now) {
			mob_keyring_remove(kr, i);
			pruned++;
		} else
			i++;
	}
	return pruned;
}

/*
 * What any keyring entry must satisfy (mob_keyring_add): a valid id, a key
 * of the entry's alg, one active key per id.  Keyrings received from the
 * hub (lib/keys/keydist.c) hold service entries without spid, so the rules of
 * the file format are checked by kr_entry_check_file alone.
 */
static int
kr_entry_check(const struct mob_keyring *kr, const struct mob_kr_entry *e,
    char *msg, size_t len)
{
	if (!mob_id_valid(e->id))
		return mob_errf(msg, len, MOB_EINVAL, "bad id \"%s\": must "
		    "be HID/SID (6 and 3 upper-case hex digits)", e->id);
	if (e->key == NULL || mob_key_alg(e->key) != e->alg)
		return mob_errf(msg, len, MOB_EALGMISMATCH, "key does not "
		    "match alg %s", mob_alg_name(e->alg) ? mob_alg_name(e->alg) :
		    "?");
	if (e->state == MOB_KS_GRACE && e->not_after <= 0)
		return mob_errf(msg, len, MOB_EINVAL, "state=grace needs "
		    "not-after=");
	if (e->state != MOB_KS_ACTIVE)
		return 0;
	for (struct kr_ent *k = kr_first(kr, e->id); k != NULL; k = k->same)
		if (k->e.state == MOB_KS_ACTIVE)
			return mob_errf(msg, len, MOB_EEXIST, "second active "
			    "entry for %s", e->id);
	return 0;
}

/* The file format's rules (docs/keys.md), on top of kr_entry_check. */
static int
kr_entry_check_file(const struct mob_keyring *kr, const struct mob_kr_entry *e,
    char *msg, size_t len)
{
	enum mob_alg want;

	if (e->kind != MOB_ENTRY_SERVICE && e->spid[0] != '\0')
		return mob_errf(msg, len, MOB_EINVAL, "spid= is only for "
		    "service entries");
	switch (e->kind) {
	case MOB_ENTRY_SERVICE:
		if (strncmp(e->id, kr->hid, 6) != 0)
			return mob_errf(msg, len, MOB_EINVAL, "service %s is "
			    "not on this node (hid=%s)", e->id, kr->hid);
		if (strcmp(e->id + 7, "000") == 0)
			return mob_errf(msg, len, MOB_EINVAL, "SID 000 is the "
			    "hub's, not a service's");
		if (!mob_spid_valid(e->spid))
			return mob_errf(msg, len, MOB_EINVAL, "service %s "
			    "needs spid= (4 upper-case hex digits)", e->id);
		want = kr_mode_alg(kr->mode);
		break;
	case MOB_ENTRY_HUB:
		if (strncmp(e->id, kr->hid, 6) != 0 ||
		    strcmp(e->id + 7, "000") != 0)
			return mob_errf(msg, len, MOB_EINVAL, "hub entry must "
			    "be %s/000, not %s", kr->hid, e->id);
		want = kr_mode_alg(kr->mode);
		break;
	case MOB_ENTRY_PEER:
		/* Peering crosses an untrusted broker: never a PSK. */
		want = MOB_ALG_EDDSA;
		break;
	default:
		return mob_errf(msg, len, MOB_EINVAL, "bad entry kind");
	}
	if (e->alg != want)
		return mob_errf(msg, len, MOB_EALGMISMATCH, "alg %s does not "
		    "fit a %s entry in a %s keyring (want %s)",
		    mob_alg_name(e->alg) ? mob_alg_name(e->alg) : "?",
		    mob_kr_kind_name(e->kind), kr->mode == MOB_MODE_COMPAT ?
		    "compat" : "hardened", mob_alg_name(want));
	if (e->state != MOB_KS_GRACE && e->not_after != 0)
		return mob_errf(msg, len, MOB_EINVAL, "not-after= is only "
		    "for state=grace");
	if (e->user[0] != '\0' && !kr_user_valid(e->user))
		return mob_errf(msg, len, MOB_EINVAL, "bad user \"%s\"",
		    e->user);
	return kr_entry_check(kr, e, msg, len);
}

int
mob_keyring_add(struct mob_keyring *kr, const struct mob_kr_entry *e)
{
	struct kr_ent *k, *p, **n;
	int r;

	if (kr == NULL || e == NULL)
		return MOB_EINVAL;
	if ((r = kr_entry_check(kr, e, NULL, 0)) != 0)
		return r;
	if (kr->n >= KR_ENTRIES_MAX)
		return MOB_ETOOLONG;
	if (kr->n == kr->cap) {
		size_t cap = kr->cap == 0 ? 16 : kr->cap * 2;

		if ((n = reallocarray(kr->ent, cap, sizeof(*n))) == NULL)
			return MOB_ENOMEM;
		kr->ent = n;
		kr->cap = cap;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return MOB_ENOMEM;
	k->e = *e;
	if ((p = kr_first(kr, e->id)) == NULL) {
		if ((r = mob_table_put(kr->byid, e->id, k, 0, 0, 0)) != 0) {
			free(k);
			return r;
		}
	} else {
		while (p->same != NULL)
			p = p->same;
		p->same = k;
	}
	kr->ent[kr->n++] = k;
	return 0;
}

const struct mob_kr_entry *
mob_keyring_lookup(const struct mob_keyring *kr, const char *id, size_t idx,
    int64_t now)
{
	size_t n = 0;

	if (kr == NULL || id == NULL)
		return NULL;
	/* Pass 0 yields the active key, pass 1 the keys still in grace. */
	for (int pass = 0; pass < 2; pass++) {
		for (struct kr_ent *k = kr_first(kr, id); k != NULL;
		    k = k->same) {
			const struct mob_kr_entry *e = &k->e;
			int usable;

			usable = pass == 0 ? e->state == MOB_KS_ACTIVE :
			    e->state == MOB_KS_GRACE && now < e->not_after;
			if (usable && n++ == idx)
				return e;
		}
	}
	return NULL;
}

const struct mob_kr_entry *
mob_keyring_find(const struct mob_keyring *kr, const char *id)
{
	const struct mob_kr_entry *best = NULL;

	if (kr == NULL || id == NULL)
		return NULL;
	/* Prefer what is in use: active, then grace, then revoked. */
	for (struct kr_ent *k = kr_first(kr, id); k != NULL; k = k->same)
		if (best == NULL || k->e.state < best->state)
			best = &k->e;
	return best;
}

const struct mob_key *
mob_keyring_lookup_fn(void *ctx, const char *kid, size_t idx)
{
	const struct mob_kr_entry *e;

	e = mob_keyring_lookup(ctx, kid, idx, (int64_t)time(NULL));
	return e != NULL ? e->key : NULL;
}

/* --- parsing ----------------------------------------------------------- */

static int
kr_split(char *line, char **f, size_t max, size_t *nf)
{
	char *s = line, *tok;

	*nf = 0;
	while ((tok = strsep(&s, " \t")) != NULL) {
		if (*tok == '\0')
			continue;
		if (*nf == max)
			return MOB_ETOOLONG;
		f[(*nf)++] = tok;
	}
	return 0;
}

static int
kr_parse_header(struct kr_parser *p, char **f, size_t nf,
    struct mob_keyring **out)
{
	const char *hid = NULL, *mode = NULL;
	enum mob_mode m;

	if (nf < 1 || strcmp(f[0], KR_MAGIC) != 0)
		return kr_perr(p, MOB_EPARSE, "expected header \"" KR_MAGIC
		    " 1 hid=HHHHHH mode=hardened|compat\"");
	if (nf < 2 || strcmp(f[1], KR_VERSION) != 0)
		return kr_perr(p, MOB_EPARSE, "unsupported keyring version "
		    "\"%.40s\" (want " KR_VERSION ")", nf < 2 ? "" : f[1]);
	for (size_t i = 2; i < nf; i++) {
		char *v = strchr(f[i], '=');
		const char **slot;

		if (v == NULL)
			return kr_perr(p, MOB_EPARSE, "expected key=value, "
			    "got \"%.40s\"", f[i]);
		*v++ = '\0';
		if (strcmp(f[i], "hid") == 0)
			slot = &hid;
		else if (strcmp(f[i], "mode") == 0)
			slot = &mode;
		else
			return kr_perr(p, MOB_EPARSE, "unknown header "
			    "attribute \"%.40s\"", f[i]);
		if (*slot != NULL)
			return kr_perr(p, MOB_EPARSE, "duplicate attribute "
			    "\"%s\"", f[i]);
		*slot = v;
	}
	if (hid == NULL)
		return kr_perr(p, MOB_EPARSE, "header lacks hid=");
	if (mode == NULL)
		return kr_perr(p, MOB_EPARSE, "header lacks mode=");
	if (!mob_hid_valid(hid))
		return kr_perr(p, MOB_EPARSE, "bad hid \"%.40s\": must be 6 "
		    "upper-case hex digits", hid);
	if (strcmp(mode, "hardened") == 0)
		m = MOB_MODE_HARDENED;
	else if (strcmp(mode, "compat") == 0)
		m = MOB_MODE_COMPAT;
	else
		return kr_perr(p, MOB_EPARSE, "unknown mode \"%.40s\" (want "
		    "hardened or compat)", mode);
	return mob_keyring_new(hid, m, out);
}

enum { KA_SPID, KA_ALG, KA_STATE, KA_NOTAFTER, KA_USER, KA_PUB, KA_PRIV,
    KA_SECRET, KA_COUNT };
static const char *const kr_attr[KA_COUNT] = {
	"spid", "alg", "state", "not-after", "user", "pub", "priv", "secret"
};

static int
kr_parse_key(struct kr_parser *p, int which, const char *v, enum mob_alg alg,
    struct mob_key **key)
{
	uint8_t raw[MOB_HS256_MAXLEN];
	size_t n = 0;
	int r;

	r = mob_b64url_decode(v, strlen(v), raw, sizeof(raw), &n);
	if (r == MOB_ETOOLONG) {
		r = kr_perr(p, MOB_EPARSE, "%s: key too long", kr_attr[which]);
		goto out;
	}
	if (r != 0) {
		r = kr_perr(p, MOB_EPARSE, "%s: invalid base64url",
		    kr_attr[which]);
		goto out;
	}
	if (which == KA_SECRET) {
		if (alg != MOB_ALG_HS256) {
			r = kr_perr(p, MOB_EPARSE, "secret= needs alg=HS256");
			goto out;
		}
		if (n < MOB_HS256_MINLEN || n > MOB_HS256_MAXLEN) {
			r = kr_perr(p, MOB_EPARSE, "secret: HS256 key must be "
			    "%d to %d bytes, got %zu", MOB_HS256_MINLEN,
			    MOB_HS256_MAXLEN, n);
			goto out;
		}
		r = mob_key_from_secret(raw, n, key);
	} else {
		if (alg != MOB_ALG_EDDSA) {
			r = kr_perr(p, MOB_EPARSE, "%s= needs alg=EdDSA",
			    kr_attr[which]);
			goto out;
		}
		if (n != MOB_ED25519_LEN) {
			r = kr_perr(p, MOB_EPARSE, "%s: Ed25519 key must be "
			    "%d bytes, got %zu", kr_attr[which],
			    MOB_ED25519_LEN, n);
			goto out;
		}
		r = which == KA_PUB ? mob_key_from_ed25519_public(raw, n, key) :
		    mob_key_from_ed25519_private(raw, n, key);
	}
	if (r != 0)
		r = kr_perr(p, r, "%s: %s", kr_attr[which], mob_strerror(r));
 out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

static int
kr_parse_entry(struct kr_parser *p, struct mob_keyring *kr, char **f, size_t nf)
{
	const char *val[KA_COUNT] = { NULL };
	struct mob_kr_entry e;
	char msg[200];
	int r, keyattr = -1;

	memset(&e, 0, sizeof(e));
	if (strcmp(f[0], "service") == 0)
		e.kind = MOB_ENTRY_SERVICE;
	else if (strcmp(f[0], "hub") == 0)
		e.kind = MOB_ENTRY_HUB;
	else if (strcmp(f[0], "peer") == 0)
		e.kind = MOB_ENTRY_PEER;
	else if (strcmp(f[0], KR_MAGIC) == 0)
		return kr_perr(p, MOB_EPARSE, "second header");
	else if (kr_quotable(f[0], KR_KIND_CHARS))
		return kr_perr(p, MOB_EPARSE, "unknown entry kind \"%s\"",
		    f[0]);
	else
		return kr_perr(p, MOB_EPARSE, "unknown entry kind (want "
		    "service, hub or peer)");
	if (nf < 2)
		return kr_perr(p, MOB_EPARSE, "%s entry lacks its HID/SID",
		    f[0]);
	if (!mob_id_valid(f[1]) && kr_quotable(f[1], KR_ID_CHARS))
		return kr_perr(p, MOB_EPARSE, "bad id \"%s\": must be "
		    "HID/SID (6 and 3 upper-case hex digits)", f[1]);
	if (!mob_id_valid(f[1]))
		return kr_perr(p, MOB_EPARSE, "bad id: must be HID/SID (6 and "
		    "3 upper-case hex digits)");
	memcpy(e.id, f[1], 11);

	for (size_t i = 2; i < nf; i++) {
		char *v = strchr(f[i], '=');
		int a;

		/* Not quoted: a key split by a stray blank would be shown. */
		if (v == NULL)
			return kr_perr(p, MOB_EPARSE, "field %zu is not "
			    "key=value", i + 1);
		*v++ = '\0';
		for (a = 0; a < KA_COUNT; a++)
			if (strcmp(f[i], kr_attr[a]) == 0)
				break;
		if (a == KA_COUNT)
			return kr_perr(p, MOB_EPARSE, "unknown attribute "
			    "\"%.40s\"", f[i]);
		if (val[a] != NULL)
			return kr_perr(p, MOB_EPARSE, "duplicate attribute "
			    "\"%s\"", kr_attr[a]);
		val[a] = v;
		if (a == KA_PUB || a == KA_PRIV || a == KA_SECRET) {
			if (keyattr != -1)
				return kr_perr(p, MOB_EPARSE, "more than one "
				    "key (%s= and %s=)", kr_attr[keyattr],
				    kr_attr[a]);
			keyattr = a;
		}
	}

	if (val[KA_SPID] != NULL) {
		if (e.kind != MOB_ENTRY_SERVICE)
			return kr_perr(p, MOB_EPARSE, "spid= is only for "
			    "service entries");
		if (!mob_spid_valid(val[KA_SPID]))
			return kr_perr(p, MOB_EPARSE, "bad spid \"%.40s\": "
			    "must be 4 upper-case hex digits", val[KA_SPID]);
		memcpy(e.spid, val[KA_SPID], 5);
	}
	if (val[KA_ALG] == NULL)
		return kr_perr(p, MOB_EPARSE, "missing alg=");
	if ((r = mob_alg_parse(val[KA_ALG], &e.alg)) != 0) {
		if (r == MOB_EALGNONE)
			return kr_perr(p, MOB_EPARSE, "alg \"none\" is never "
			    "accepted");
		return kr_perr(p, MOB_EPARSE, "unknown alg \"%.40s\"",
		    val[KA_ALG]);
	}
	if (val[KA_STATE] == NULL)
		return kr_perr(p, MOB_EPARSE, "missing state=");
	if (strcmp(val[KA_STATE], "active") == 0)
		e.state = MOB_KS_ACTIVE;
	else if (strcmp(val[KA_STATE], "grace") == 0)
		e.state = MOB_KS_GRACE;
	else if (strcmp(val[KA_STATE], "revoked") == 0)
		e.state = MOB_KS_REVOKED;
	else
		return kr_perr(p, MOB_EPARSE, "unknown state \"%.40s\" (want "
		    "active, grace or revoked)", val[KA_STATE]);
	if (val[KA_NOTAFTER] != NULL &&
	    (mob_time_parse(val[KA_NOTAFTER], &e.not_after) != 0 ||
	    e.not_after <= 0))
		return kr_perr(p, MOB_EPARSE, "bad not-after \"%.40s\": want "
		    "UTC like 2026-11-22T04:00:00Z", val[KA_NOTAFTER]);
	if (val[KA_USER] != NULL) {
		if (!kr_user_valid(val[KA_USER]))
			return kr_perr(p, MOB_EPARSE, "bad user \"%.40s\"",
			    val[KA_USER]);
		snprintf(e.user, sizeof(e.user), "%s", val[KA_USER]);
	}
	if (keyattr == -1)
		return kr_perr(p, MOB_EPARSE, "missing key (pub=, priv= or "
		    "secret=)");
	if ((r = kr_parse_key(p, keyattr, val[keyattr], e.alg, &e.key)) != 0)
		return r;
	if ((r = kr_entry_check_file(kr, &e, msg, sizeof(msg))) != 0 ||
	    (r = mob_keyring_add(kr, &e)) != 0) {
		mob_key_free(e.key);
		if (r == MOB_ENOMEM || r == MOB_ETOOLONG)
			return kr_perr(p, r, "%s", mob_strerror(r));
		return kr_perr(p, MOB_EPARSE, "%s", msg);
	}
	return 0;
}

int
mob_keyring_parse(const char *buf, size_t len, const char *name,
    struct mob_keyring **out, char *err, size_t errlen)
{
	struct kr_parser p = { name != NULL ? name : "keyring", 0, err,
	    errlen };
	struct mob_keyring *kr = NULL;
	char line[MOB_KEYRING_LINE_MAX + 1], *f[KR_FIELDS_MAX];
	size_t pos = 0, nf;
	int r = 0;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > MOB_KEYRING_MAX)
		return kr_perr(&p, MOB_ETOOLONG, "larger than %d bytes",
		    MOB_KEYRING_MAX);
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t ll = (nl != NULL ? (size_t)(nl - buf) : len) - pos;

		p.line++;
		if (ll > MOB_KEYRING_LINE_MAX) {
			r = kr_perr(&p, MOB_EPARSE, "line longer than %d bytes",
			    MOB_KEYRING_LINE_MAX);
			goto out;
		}
		memcpy(line, buf + pos, ll);
		line[ll] = '\0';
		pos += ll + 1;
		for (size_t i = 0; i < ll; i++) {
			if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
				r = kr_perr(&p, MOB_EPARSE, "control character "
				    "0x%02x", (unsigned char)line[i]);
				goto out;
			}
			if ((unsigned char)line[i] >= 0x7f) {
				r = kr_perr(&p, MOB_EPARSE, "non-ASCII byte");
				goto out;
			}
		}
		if (line[strspn(line, " \t")] == '#')
			continue;
		if ((r = kr_split(line, f, KR_FIELDS_MAX, &nf)) != 0) {
			r = kr_perr(&p, MOB_EPARSE, "too many fields");
			goto out;
		}
		if (nf == 0)
			continue;
		if (kr == NULL)
			r = kr_parse_header(&p, f, nf, &kr);
		else
			r = kr_parse_entry(&p, kr, f, nf);
		if (r != 0)
			goto out;
	}
	if (kr == NULL) {
		p.line = 0;
		r = kr_perr(&p, MOB_EPARSE, "no \"" KR_MAGIC "\" header");
		goto out;
	}
	*out = kr;
	kr = NULL;
 out:
	OPENSSL_cleanse(line, sizeof(line));
	mob_keyring_free(kr);
	return r;
}

int
mob_keyring_load(const char *path, struct mob_keyring **out, char *err,
    size_t errlen)
{
	return mob_keyring_load_digest(path, out, NULL, err, errlen);
}

int
mob_keyring_load_digest(const char *path, struct mob_keyring **out,
    char digest[MOB_KR_DIGEST_LEN + 1], char *err, size_t errlen)
{
	uint8_t md[32];
	unsigned int mdlen = sizeof(md);
	char *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/*
	 * Not through a symlink: whoever can plant one next to the keys could
	 * make us read (and quote in errors) any 0600 file we can open.
	 * systemd credentials and our own writes are regular files.  And
	 * refused before a byte is read if group or others can reach it.
	 */
	if ((r = mob_file_read(path, MOB_KEYRING_MAX, MOB_FILE_NOFOLLOW |
	    MOB_FILE_PRIVATE, &buf, &len, err, errlen)) != 0)
		return r;
	if (digest != NULL) {
		if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
			mob_file_free(buf, len);
			return MOB_ECRYPTO;
		}
		for (size_t i = 0; i < sizeof(md); i++)
			snprintf(digest + 2 * i, 3, "%02x", md[i]);
	}
	r = mob_keyring_parse(buf, len, path, out, err, errlen);
	mob_file_free(buf, len);
	return r;
}

int
mob_keyfile_load(const char *path, struct mob_keyring **out,
    const struct mob_kr_entry **own, char *err, size_t errlen)
{
	struct mob_keyring *kr = NULL;
	const struct mob_kr_entry *o = NULL;
	int r;

	*out = NULL;
	*own = NULL;
	if ((r = mob_keyring_load(path, &kr, err, errlen)) != 0)
		return r;
	for (size_t i = 0; i < kr->n; i++) {
		const struct mob_kr_entry *e = &kr->ent[i]->e;

		if (e->state != MOB_KS_ACTIVE || !mob_key_can_sign(e->key))
			continue;
		if (o != NULL) {
			r = mob_errf(err, errlen, MOB_EPARSE, "%s: more than "
			    "one private entry (%s and %s)", path, o->id,
			    e->id);
			goto out;
		}
		o = e;
	}
	if (o == NULL) {
		r = mob_errf(err, errlen, MOB_ENOTFOUND, "%s: no active "
		    "private entry", path);
		goto out;
	}
	*out = kr;
	*own = o;
	kr = NULL;
 out:
	mob_keyring_free(kr);
	return r;
}

int
mob_keyfile_load_own(const char *path, struct mob_kr_entry *out, char *err,
    size_t errlen)
{
	struct mob_keyring *kr;
	const struct mob_kr_entry *own;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = mob_keyfile_load(path, &kr, &own, err, errlen)) != 0)
		return r;
	*out = *own;
	/* The entry is the keyring's: take its key out before freeing it. */
	((struct kr_ent *)own)->e.key = NULL;
	mob_keyring_free(kr);
	return 0;
}

/* --- formatting and saving -------------------------------------------- */

int
mob_keyring_format(const struct mob_keyring *kr, char **out, size_t *outlen)
{
	uint8_t raw[MOB_HS256_MAXLEN];
	char b64[MOB_B64URL_LEN(MOB_HS256_MAXLEN) + 1], na[48];
	char *buf = NULL;
	size_t cap, len = 0;
	int n, r = 0;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (kr == NULL)
		return MOB_EINVAL;
	cap = 256 + kr->n * KR_ENTRY_LINE_MAX;
	if ((buf = malloc(cap)) == NULL)
		return MOB_ENOMEM;
	n = snprintf(buf, cap, "# Mobius keyring (docs/keys.md); keep it mode "
	    "0600.\n" KR_MAGIC " " KR_VERSION " hid=%s mode=%s\n", kr->hid,
	    kr->mode == MOB_MODE_COMPAT ? "compat" : "hardened");
	len = (size_t)n;
	for (size_t i = 0; i < kr->n; i++) {
		const struct mob_kr_entry *e = &kr->ent[i]->e;
		const char *attr;
		int secret = mob_key_can_sign(e->key);
		int rawlen;

		if (e->alg == MOB_ALG_HS256)
			attr = "secret";
		else
			attr = secret ? "priv" : "pub";
		rawlen = mob_key_raw(e->key, secret, raw, sizeof(raw));
		if (rawlen < 0) {
			r = rawlen;
			goto out;
		}
		if ((r = mob_b64url_encode(raw, (size_t)rawlen, b64,
		    sizeof(b64))) < 0)
			goto out;
		r = 0;
		na[0] = '\0';
		if (e->state == MOB_KS_GRACE) {
			char t[24];

			if ((r = mob_time_format(e->not_after, t,
			    sizeof(t))) != 0)
				goto out;
			snprintf(na, sizeof(na), " not-after=%s", t);
		}
		n = snprintf(buf + len, cap - len, "%s %s%s%s alg=%s state=%s"
		    "%s%s%s %s=%s\n", mob_kr_kind_name(e->kind), e->id,
		    e->spid[0] ? " spid=" : "", e->spid, mob_alg_name(e->alg),
		    mob_kr_state_name(e->state), na, e->user[0] ? " user=" : "",
		    e->user, attr, b64);
		if (n < 0 || (size_t)n >= cap - len) {
			r = MOB_ETOOLONG;
			goto out;
		}
		len += (size_t)n;
	}
	*out = buf;
	if (outlen != NULL)
		*outlen = len;
	buf = NULL;
 out:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(b64, sizeof(b64));
	mob_file_free(buf, cap);
	return r;
}

void
mob_keyring_text_free(char *text, size_t len)
{
	mob_file_free(text, len);
}

int
mob_keyring_save_owned(const struct mob_keyring *kr, const char *path,
    uid_t uid, gid_t gid)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = mob_keyring_format(kr, &text, &len)) != 0)
		return r;
	r = mob_file_write_atomic_owned(path, text, len, 0600, uid, gid);
	mob_keyring_text_free(text, len);
	return r;
}

int
mob_keyring_save(const struct mob_keyring *kr, const char *path)
{
	return mob_keyring_save_owned(kr, path, (uid_t)-1, (gid_t)-1);
}

/* --- locks ------------------------------------------------------------ */

int
mob_keyring_lock(const char *dir)
{
	char path[PATH_MAX];
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int fd;

	if (snprintf(path, sizeof(path), "%s/.lock", dir) >= (int)sizeof(path))
		return MOB_ETOOLONG;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return MOB_ESYS;
	for (int i = 0; i < KR_LOCK_TRIES; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		nanosleep(&ts, NULL);
	}
	close(fd);
	return MOB_ELOCK;
}

void
mob_keyring_unlock(int fd)
{
	if (fd < 0)
		return;
	flock(fd, LOCK_UN);
	close(fd);
}
