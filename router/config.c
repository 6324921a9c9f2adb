/*
 * The router's configuration file (docs/router.md, "Configuration"):
 *
 *   { "broker": "ws://HOST:PORT/PATH" | "wss://...",
 *     "cafile": "/etc/ssl/certs/ca-certificates.crt",   (wss)
 *     "username": "...", "password_file": "...",        (the broker's login)
 *     "keepalive": 5,
 *     "queue": { "max_bytes": 67108864, "ttl": 86400, "full": "refuse" },
 *     "peers": [ { "hid": "000002", "encrypt": true,
 *                  "read": ["000001/#"], "watch": ["000001/#"],
 *                  "write": [] } ] }
 *
 * Export patterns are URI patterns of this node (MOB_URI_WILD); a peer has
 * no right that no pattern grants, and "write" is empty by default.  The
 * peers themselves, with their keys, are those mobius-keytool import-peer
 * wrote into the peer file (rt_peers_load); "peers" here only gives their
 * policy, and an imported peer without an entry gets none of our data.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "mobius/config.h"
#include "mobius/err.h"
#include "mobius/file.h"
#include "mobius/keyring.h"
#include "router.h"

static int
cfg_patterns(struct mob_config *c, const struct mob_cnode *peer,
    const char *key, const char *hid, struct rt_patterns *out)
{
	struct mob_cnode arr, it;
	char err[128];
	int n, r;

	memset(out, 0, sizeof(*out));
	if ((r = mob_cfg_member(c, peer, key, 0, &arr)) <= 0)
		return r;
	if ((n = mob_cfg_array(c, &arr, RT_PATTERNS_MAX)) < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct mob_uri *u = &out->u[out->n];
		const char *s;

		mob_cfg_item(&arr, (size_t)i, &it);
		if (!cJSON_IsString(it.j))
			return mob_cfg_errorf(c, &it, "must be a string");
		s = it.j->valuestring;
		if (mob_uri_parse(s, MOB_URI_WILD, u, err, sizeof(err)) != 0)
			return mob_cfg_errorf(c, &it, "%s", err);
		if (strncmp(s, hid, 6) != 0)
			return mob_cfg_errorf(c, &it, "exports only this node's "
			    "URIs (%s/...)", hid);
		out->n++;
	}
	return 0;
}

/*
 * The peer keys: the file `mobius-keytool import-peer` writes (and
 * remove-peer and rotate imports rewrite), a keyring text of public peer
 * entries.  Public keys, so it may be world-readable; but a file others
 * may write would let them peer with us, so that is refused (as sshd's
 * StrictModes refuses such an authorized_keys).  No file: no peer yet.
 */
int
rt_peers_load(const char *path, const struct rt_own *own,
    struct rt_peerset *out, char *err, size_t errlen)
{
	struct mob_keyring *kr = NULL;
	struct stat st;
	char *buf = NULL, lerr[512];
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return MOB_ESYS;
	}
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	out->size = st.st_size;
	out->mtime = st.st_mtim;
	out->exists = 1;
	if (S_ISREG(st.st_mode) && (st.st_mode & 022) != 0) {
		snprintf(err, errlen, "%s: mode %04o lets group or others write "
		    "it; chmod go-w it", path, (unsigned)(st.st_mode & 07777));
		return MOB_EPERM;
	}
	/* as sshd's StrictModes: written by root (keytool) or by us */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %u, neither root nor "
		    "this router; chown root it", path, (unsigned)st.st_uid);
		return MOB_EPERM;
	}
	if ((r = mob_file_read(path, MOB_KEYRING_MAX, MOB_FILE_NOFOLLOW, &buf,
	    &len, lerr, sizeof(lerr))) != 0) {
		snprintf(err, errlen, "%s", lerr);
		return r;
	}
	if ((r = mob_keyring_parse(buf, len, path, &kr, lerr,
	    sizeof(lerr))) != 0) {
		snprintf(err, errlen, "%s", lerr);
		goto out;
	}
	for (size_t i = 0; i < mob_keyring_count(kr); i++) {
		const struct mob_kr_entry *e = mob_keyring_entry(kr, i);
		struct rt_peer_keys *pk = NULL;
		struct rt_peerkey *k;
		uint8_t pub[32];

		if (e->kind != MOB_ENTRY_PEER || e->state == MOB_KS_REVOKED ||
		    mob_key_alg(e->key) != MOB_ALG_EDDSA ||
		    strncmp(e->id, own->id[0].hid, 6) == 0 ||
		    mob_key_raw(e->key, 0, pub, sizeof(pub)) != 32)
			continue;
		for (size_t j = 0; j < out->n; j++)
			if (strncmp(out->p[j].hid, e->id, 6) == 0)
				pk = &out->p[j];
		if (pk == NULL) {
			if (out->n == RT_PEERS_MAX) {
				snprintf(err, errlen, "%s: more than %d peers",
				    path, RT_PEERS_MAX);
				r = MOB_ETOOLONG;
				goto out;
			}
			pk = &out->p[out->n++];
			snprintf(pk->hid, sizeof(pk->hid), "%.6s", e->id);
		}
		if (pk->nkeys == RT_PEER_KEYS) {
			if (e->state != MOB_KS_ACTIVE)
				continue;
			pk->nkeys--;	/* the active key always has a slot */
		}
		/* the active key first: frames to the peer use it */
		if (e->state == MOB_KS_ACTIVE) {
			memmove(&pk->keys[1], &pk->keys[0],
			    pk->nkeys * sizeof(pk->keys[0]));
			k = pk->keys[0];
		} else
			k = pk->keys[pk->nkeys];
		for (size_t o = 0; o < own->n; o++) {
			memcpy(k[o].pk, pub, sizeof(pub));
			rt_kid(k[o].pk, k[o].kid);
			k[o].not_after = e->state == MOB_KS_GRACE ? e->not_after : 0;
			if (rt_pair_key(&own->id[o], k[o].pk, k[o].pair) != 0) {
				snprintf(err, errlen, "%s: %s: cannot derive the "
				    "pair key", path, e->id);
				r = MOB_ECRYPTO;
				goto out;
			}
		}
		pk->nkeys++;
	}
	r = 0;
 out:
	mob_keyring_free(kr);
	mob_file_free(buf, len);
	return r;
}

static int
cfg_peer(struct mob_config *c, struct rt_cfg *cfg, const struct mob_cnode *n,
    struct rt_peer_cfg *pc, char *err, size_t errlen)
{
	static const char *const keys[] = { "hid", "key", "encrypt", "read",
	    "watch", "write", NULL };
	struct mob_cnode k;
	int r;

	memset(pc, 0, sizeof(*pc));
	pc->encrypt = 1;
	if ((r = mob_cfg_object(c, n, keys)) != 0 ||
	    (r = mob_cfg_hex(c, n, "hid", MOB_CFG_REQUIRED, 6, pc->hid)) < 0 ||
	    (r = mob_cfg_member(c, n, "key", 0, &k)) < 0 ||
	    (r == 1 && (r = mob_cfg_errorf(c, &k, "peer keys are no longer "
	    "named here: mobius-keytool import-peer FILE adds them (docs/"
	    "router.md); drop this member")) < 0) ||
	    (r = mob_cfg_bool(c, n, "encrypt", 0, &pc->encrypt)) < 0 ||
	    (r = cfg_patterns(c, n, "read", cfg->me.hid, &pc->read)) < 0 ||
	    (r = cfg_patterns(c, n, "watch", cfg->me.hid, &pc->watch)) < 0 ||
	    (r = cfg_patterns(c, n, "write", cfg->me.hid, &pc->write)) < 0) {
		snprintf(err, errlen, "%s", mob_config_error(c));
		return MOB_ECONFIG;
	}
	if (strcmp(pc->hid, cfg->me.hid) == 0) {
		snprintf(err, errlen, "%s: %s: peer %s is this node",
		    mob_config_name(c), n->path, pc->hid);
		return MOB_ECONFIG;
	}
	return 0;
}

static int
cfg_password(const char *path, char *out, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot read the broker password", path);
		return MOB_ESYS;
	}
	n = fread(out, 1, len - 1, f);
	fclose(f);
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

int
rt_cfg_load(const char *path, struct rt_cfg *cfg, char *err, size_t errlen)
{
	static const char *const top[] = { "broker", "cafile", "insecure_tls",
	    "username", "password_file", "keepalive", "queue", "peers", NULL };
	static const char *const qkeys[] = { "max_bytes", "ttl", "full", NULL };
	static const char *const fulls[] = { "refuse", "drop-oldest", NULL };
	struct mob_config *c;
	struct mob_cnode root, q, arr, it;
	const char *broker = NULL, *pwfile = NULL, *cafile = NULL,
	    *user = NULL;
	long maxb = 64L * 1024 * 1024, ttl = 86400;
	int full = RT_QFULL_REFUSE, n, r;

	if ((r = mob_config_load(path, &c, err, errlen)) != 0)
		return r;
	mob_config_root(c, &root);
	cfg->keepalive = 5;
	if ((r = mob_cfg_object(c, &root, top)) != 0 ||
	    (r = mob_cfg_string(c, &root, "broker", MOB_CFG_REQUIRED, 250,
	    &broker)) < 0 ||
	    (r = mob_cfg_string(c, &root, "cafile", 0, 250, &cafile)) < 0 ||
	    (r = mob_cfg_bool(c, &root, "insecure_tls", 0, &cfg->insecure)) < 0 ||
	    (r = mob_cfg_string(c, &root, "username", 0, 120, &user)) < 0 ||
	    (r = mob_cfg_string(c, &root, "password_file", 0, 250,
	    &pwfile)) < 0 ||
	    (r = mob_cfg_int_set(c, &root, "keepalive", 0, 5, 60,
	    &cfg->keepalive)) < 0)
		goto cfgerr;
	if ((r = mob_cfg_member(c, &root, "queue", 0, &q)) < 0)
		goto cfgerr;
	if (r == 1 && ((r = mob_cfg_object(c, &q, qkeys)) != 0 ||
	    (r = mob_cfg_int(c, &q, "max_bytes", 0, 65536, 1L << 40,
	    &maxb)) < 0 ||
	    (r = mob_cfg_int(c, &q, "ttl", 0, 1, 30L * 86400, &ttl)) < 0 ||
	    (r = mob_cfg_enum(c, &q, "full", 0, fulls, &full)) < 0))
		goto cfgerr;
	if (rt_broker_parse(broker, &cfg->broker) != 0) {
		snprintf(err, errlen, "%s: broker: \"%s\" is not ws://HOST[:PORT]"
		    "/PATH or wss://...", path, broker);
		r = MOB_ECONFIG;
		goto out;
	}
	if (cafile != NULL)
		snprintf(cfg->cafile, sizeof(cfg->cafile), "%s", cafile);
	cfg->broker.cafile = cafile != NULL ? cfg->cafile : NULL;
	cfg->broker.insecure = cfg->insecure;
	if (user != NULL)
		snprintf(cfg->username, sizeof(cfg->username), "%s", user);
	if (pwfile != NULL && (r = cfg_password(pwfile, cfg->password,
	    sizeof(cfg->password), err, errlen)) != 0)
		goto out;
	cfg->q.max_bytes = (uint64_t)maxb;
	cfg->q.ttl_ms = ttl * 1000;
	cfg->q.seg_bytes = cfg->q.max_bytes / 16 > 1024 * 1024 ? 1024 * 1024 :
	    cfg->q.max_bytes / 16;
	cfg->q.full = full;
	if ((r = mob_cfg_member(c, &root, "peers", 0, &arr)) < 0 ||
	    (n = r == 0 ? 0 : mob_cfg_array(c, &arr, RT_PEERS_MAX)) < 0) {
		r = MOB_ECONFIG;
		goto cfgerr;
	}
	for (int i = 0; i < n; i++) {
		mob_cfg_item(&arr, (size_t)i, &it);
		if ((r = cfg_peer(c, cfg, &it, &cfg->peers[i], err, errlen)) != 0)
			goto out;
		for (int j = 0; j < i; j++)
			if (strcmp(cfg->peers[j].hid, cfg->peers[i].hid) == 0) {
				snprintf(err, errlen, "%s: %s: peer %s twice",
				    path, it.path, cfg->peers[i].hid);
				r = MOB_ECONFIG;
				goto out;
			}
		cfg->npeers++;
	}
	r = 0;
	goto out;
 cfgerr:
	snprintf(err, errlen, "%s", mob_config_error(c));
	r = MOB_ECONFIG;
 out:
	mob_config_free(c);
	return r;
}
