/*
 * The message envelope (docs/protocol.md): a JWS whose claims bind the
 * payload to its sender (iss), its topic (top), a time (iat) and a
 * per-sender sequence number (seq).
 *
 * Verification does the cheap structural checks, then the signature, and
 * only then touches replay state, so a forger cannot move anybody's window.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "internal.h"
#include "mobius/b64.h"
#include "mobius/clock.h"
#include "mobius/envelope.h"
#include "mobius/err.h"
#include "mobius/jws.h"
#include "mobius/table.h"
#include "mobius/uri.h"

/* a sender's kid: its identity (sizeof(struct mob_env.iss)) or a CLI run's client id */
#define ENV_KID_MAX	MOB_CID_MAX


/* --- signing ---------------------------------------------------------- */

struct mob_signer {
	struct mob_key *key;
	char kid[MOB_CID_MAX];		/* HID/SID, or a CLI run's HID/SID/RUN */
	char iss[MOB_ID_MAX];		/* HID/SID */
	uint64_t seq;			/* last used */
	int64_t iat;			/* of the last signed */
	char hdr[MOB_B64URL_LEN(MOB_JWS_HDR_MAX) + 1];	/* encoded, cached */
	size_t hdrlen;
};

int
mob_signer_new(const struct mob_key *key, const char *kid, struct mob_signer **out)
{
	struct mob_signer *s;
	char iss[MOB_ID_MAX];
	int r;

	*out = NULL;
	if (key == NULL || kid == NULL || !mob_key_can_sign(key) ||
	    mob_cid_split(kid, iss) < 0)
		return MOB_EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MOB_ENOMEM;
	/* compat: a PSK signs envelopes with its message key */
	if ((r = mob_key_dup(mob_key_for(key, MOB_USE_MESSAGE), &s->key)) != 0)
		goto fail;
	memcpy(s->kid, kid, strlen(kid) + 1);
	memcpy(s->iss, iss, sizeof(s->iss));
	if ((r = mob_jws_header(s->key, s->kid, s->hdr, sizeof(s->hdr))) < 0)
		goto fail;
	s->hdrlen = (size_t)r;
	/* Rising across restarts without storage (docs/protocol.md §3). */
	s->seq = mob_clock_wall_us();
	*out = s;
	return 0;
 fail:
	mob_signer_free(s);
	return r;
}

int
mob_signer_set_key(struct mob_signer *s, const struct mob_key *key)
{
	char hdr[sizeof(s->hdr)];
	struct mob_key *k = NULL;
	int r;

	if (s == NULL || key == NULL || !mob_key_can_sign(key))
		return MOB_EINVAL;
	if ((r = mob_key_dup(mob_key_for(key, MOB_USE_MESSAGE), &k)) != 0)
		return r;
	if ((r = mob_jws_header(k, s->kid, hdr, sizeof(hdr))) < 0) {
		mob_key_free(k);
		return r;
	}
	memcpy(s->hdr, hdr, (size_t)r + 1);
	s->hdrlen = (size_t)r;
	mob_key_free(s->key);
	s->key = k;
	return 0;
}

void
mob_signer_free(struct mob_signer *s)
{
	if (s == NULL)
		return;
	mob_key_free(s->key);
	free(s);
}

const char *
mob_signer_kid(const struct mob_signer *s)
{
	return s->kid;
}

void
mob_signer_last(const struct mob_signer *s, uint64_t *seq, int64_t *iat)
{
	*seq = s->seq;
	*iat = s->iat;
}

int
mob_env_sign(struct mob_signer *s, const char *topic, const char *dat_json,
    char **out, size_t *outlen)
{
	cJSON *claims = NULL, *dat = NULL;
	char *txt = NULL;
	int64_t iat = mob_clock_wall_ms();
	uint64_t seq;
	int r;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (s == NULL || topic == NULL || strlen(topic) >= MOB_TOPIC_MAX)
		return MOB_EINVAL;
	/* Never repeat a seq, even if the clock stepped back. */
	seq = s->seq + 1;
	if ((double)seq > MOB_CLAIM_INT_MAX)
		return MOB_ERANGE;
	if (dat_json == NULL)
		dat = cJSON_CreateNull();
	else if ((r = mob_json_parse_strict(dat_json, strlen(dat_json),
	    &dat)) != 0)
		return r;
	if (dat == NULL || (claims = cJSON_CreateObject()) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	if (cJSON_AddStringToObject(claims, "iss", s->iss) == NULL ||
	    cJSON_AddStringToObject(claims, "top", topic) == NULL ||
	    cJSON_AddNumberToObject(claims, "iat", (double)iat) == NULL ||
	    cJSON_AddNumberToObject(claims, "seq", (double)seq) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	r = mob_json_add(claims, "dat", dat);
	dat = NULL;
	if (r != 0)
		goto out;
	if ((txt = mob_json_print(claims)) == NULL) {
		r = MOB_ENOMEM;
		goto out;
	}
	if ((r = mob_jws_sign_b64hdr(s->key, s->hdr, s->hdrlen, txt,
	    strlen(txt), out, outlen)) != 0)
		goto out;
	s->seq = seq;
	s->iat = iat;
 out:
	cJSON_free(txt);
	cJSON_Delete(claims);
	cJSON_Delete(dat);
	return r;
}

int
mob_topic_owner(const char *topic, char owner[MOB_ID_MAX])
{
	static const char *const verbs[] = { "cov/", "obj/", "svc/", "state/",
	    "key/" };
	const char *p;
	size_t i;

	owner[0] = '\0';
	if (strncmp(topic, "mob/", 4) != 0)
		return 0;
	for (i = 0; i < 5; i++)
		if (strncmp(topic + 4, verbs[i], strlen(verbs[i])) == 0)
			break;
	if (i == 5)
		return 0;
	p = topic + 4 + strlen(verbs[i]);
	/* HID/SID, then the end or '/' */
	if (strlen(p) < MOB_ID_MAX - 1 || (p[MOB_ID_MAX - 1] != '\0' &&
	    p[MOB_ID_MAX - 1] != '/'))
		return MOB_EFORMAT;
	memcpy(owner, p, MOB_ID_MAX - 1);
	owner[MOB_ID_MAX - 1] = '\0';
	if (!mob_id_valid(owner)) {
		owner[0] = '\0';
		return MOB_EFORMAT;
	}
	if (i >= 3)
		memcpy(owner + 7, "000", 3);
	return 1;
}

/* --- replay ----------------------------------------------------------- */

int
mob_replay_check(struct mob_replay *r, uint64_t seq)
{
	uint64_t d;

	if (seq > r->top) {
		d = seq - r->top;
		r->bitmap = d >= MOB_REPLAY_WINDOW ? 1 : (r->bitmap << d) | 1;
		r->top = seq;
		return 0;
	}
	d = r->top - seq;
	if (d >= MOB_REPLAY_WINDOW || (r->bitmap & ((uint64_t)1 << d)) != 0)
		return MOB_EREPLAY;
	r->bitmap |= (uint64_t)1 << d;
	return 0;
}

/* --- verifying -------------------------------------------------------- */

/* Replay state per sender, the value of the verifier's table by kid. */
struct sender {
	struct mob_replay r;
	int64_t last_iat;
	int64_t last_off;	/* now_ms - boot-clock ms when last accepted */
};

struct mob_verifier {
	mob_key_lookup_fn lookup;
	void *ctx;
	int64_t window_ms;
	size_t max_len;
	size_t max_senders;
	enum mob_alg hub_verified;
	/* kid -> struct sender; an unkeyed hash will do: kids are authentic. */
	struct mob_table *senders;
	/*
	 * Highest last_iat of any sender evicted to stay within max_senders.
	 * A sender without state is accepted only above it, so eviction can
	 * never reopen a replay.
	 */
	int64_t floor_iat;
};

struct sender_oldest {
	const struct sender *s;
	char kid[ENV_KID_MAX];
};

static void
sender_oldest(const char *kid, void *val, void *arg)
{
	struct sender_oldest *o = arg;
	const struct sender *s = val;

	if (o->s == NULL || s->last_iat < o->s->last_iat) {
		o->s = s;
		snprintf(o->kid, sizeof(o->kid), "%s", kid);
	}
}

static int
sender_add(struct mob_verifier *v, const char *kid, struct sender **out)
{
	struct sender_oldest old = { NULL, "" };
	struct sender *e;
	int r;

	if (mob_table_count(v->senders) >= v->max_senders) {
		/* Evict the sender heard from least recently. */
		mob_table_walk(v->senders, sender_oldest, &old);
		if (old.s->last_iat > v->floor_iat)
			v->floor_iat = old.s->last_iat;
		mob_table_del(v->senders, old.kid);
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return MOB_ENOMEM;
	if ((r = mob_table_put(v->senders, kid, e, 0, 0, 0)) != 0) {
		free(e);
		return r;
	}
	*out = e;
	return 0;
}

int
mob_verifier_new(mob_key_lookup_fn lookup, void *ctx,
    const struct mob_verifier_cfg *cfg, struct mob_verifier **out)
{
	struct mob_verifier *v;
	int r;

	*out = NULL;
	if (lookup == NULL)
		return MOB_EINVAL;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return MOB_ENOMEM;
	v->lookup = lookup;
	v->ctx = ctx;
	v->window_ms = MOB_WINDOW_MS_DEFAULT;
	v->max_len = MOB_JWS_MAX_DEFAULT;
	v->max_senders = MOB_REPLAY_SENDERS_DEFAULT;
	if (cfg != NULL) {
		if (cfg->window_ms > 0)
			v->window_ms = cfg->window_ms;
		if (cfg->max_len > 0)
			v->max_len = cfg->max_len;
		if (cfg->max_senders > 0)
			v->max_senders = cfg->max_senders;
		v->hub_verified = cfg->hub_verified;
	}
	if ((r = mob_table_new(v->max_senders, free, 0, &v->senders)) != 0) {
		free(v);
		return r;
	}
	*out = v;
	return 0;
}

void
mob_verifier_free(struct mob_verifier *v)
{
	if (v == NULL)
		return;
	mob_table_free(v->senders);
	free(v);
}

void
mob_verifier_forget(struct mob_verifier *v, const char *kid)
{
	const struct sender *s;

	if (v == NULL)
		return;
	if (kid == NULL) {
		mob_table_clear(v->senders);
		return;
	}
	/* as eviction: without its state, only what it signs later passes */
	if ((s = mob_table_get(v->senders, kid, 0)) != NULL &&
	    s->last_iat > v->floor_iat)
		v->floor_iat = s->last_iat;
	mob_table_del(v->senders, kid);
}

static int
claims_parse(const struct mob_jws *jws, struct mob_env *out)
{
	static const char *const names[] = { "iss", "top", "iat", "seq",
	    "dat" };
	const cJSON *f[5] = { NULL }, *iss, *top, *iat, *seq, *dat;
	double d;
	int r;

	if ((r = mob_claims_open(jws, &out->claims)) != 0 ||
	    (r = mob_claims_pick(out->claims, names, f, 5)) != 0)
		return r;
	iss = f[0];
	top = f[1];
	iat = f[2];
	seq = f[3];
	dat = f[4];
	if (!cJSON_IsString(iss) || !cJSON_IsString(top) || dat == NULL ||
	    strlen(iss->valuestring) >= sizeof(out->iss))
		return MOB_ECLAIM;
	memcpy(out->iss, iss->valuestring, strlen(iss->valuestring) + 1);
	if ((r = mob_claim_int(iat, &d)) != 0)
		return r;
	out->iat = (int64_t)d;
	if ((r = mob_claim_int(seq, &d)) != 0)
		return r;
	out->seq = (uint64_t)d;
	out->dat = dat;
	/* the caller compares top against the arrival topic */
	return 0;
}

/* A CLI run signs with its identity's key: look that up for its kid. */
static const struct mob_key *
env_lookup(void *ctx, const char *kid, size_t idx)
{
	const struct mob_verifier *v = ctx;
	char id[MOB_ID_MAX];

	return v->lookup(v->ctx, mob_cid_split(kid, id) == 1 ? id : kid, idx);
}

int
mob_env_verify(struct mob_verifier *v, const char *topic,
    const char *expect_kid, const char *msg, size_t len, int64_t now_ms,
    struct mob_env *out)
{
	struct mob_jws jws;
	const cJSON *top;
	struct sender *e;
	char id[MOB_ID_MAX];
	int64_t off;
	int r;

	memset(out, 0, sizeof(*out));
	if (v == NULL || topic == NULL || msg == NULL)
		return MOB_EINVAL;
	if (len > v->max_len)
		return MOB_ETOOLONG;
	if ((r = mob_jws_parse_trusted(msg, len, v->max_len, env_lookup,
	    v, MOB_USE_MESSAGE, v->hub_verified, &jws)) != 0)
		goto out;

	/* Authentic from here on. */
	if ((r = claims_parse(&jws, out)) != 0)
		goto out;
	/* iss == kid, or the identity of a CLI run's kid HID/SID/RUN */
	if (strcmp(out->iss, mob_cid_split(jws.kid, id) == 1 ? id :
	    jws.kid) != 0) {
		r = MOB_EISSMISMATCH;
		goto out;
	}
	if (expect_kid != NULL && strcmp(jws.kid, expect_kid) != 0) {
		r = MOB_EIDENTITY;
		goto out;
	}
	top = cJSON_GetObjectItemCaseSensitive(out->claims, "top");
	if (strcmp(top->valuestring, topic) != 0) {
		r = MOB_ETOPICMISMATCH;
		goto out;
	}
	if (now_ms - out->iat > v->window_ms) {
		r = MOB_EEXPIRED;
		goto out;
	}
	if (out->iat - now_ms > v->window_ms) {
		r = MOB_EFUTURE;
		goto out;
	}

	/* replay state per kid: each run of a CLI key counts its own seq */
	if ((e = mob_table_get(v->senders, jws.kid, 0)) == NULL) {
		if (out->iat <= v->floor_iat) {
			r = MOB_EREPLAY;
			goto out;
		}
		if ((r = sender_add(v, jws.kid, &e)) != 0)
			goto out;
	}
	off = now_ms - mob_clock_boot_ms();
	r = mob_replay_check(&e->r, out->seq);
	if (r == MOB_EREPLAY && out->seq + MOB_REPLAY_WINDOW <= e->r.top &&
	    llabs(off - e->last_off) > v->window_ms &&
	    out->iat - off > e->last_iat - e->last_off) {
		/*
		 * Our wall clock was stepped by more than the window since
		 * this sender was last accepted (NTP at boot, an operator):
		 * what it signed before the step is outside the window now,
		 * and a process of it started since counts its seq from the
		 * new time, below the old seqs.  Its window starts again here
		 * (docs/protocol.md "Clock steps"), for a message signed after
		 * the last one accepted, both put on the boot clock (which a
		 * step does not move and a suspend does not stop).  Not iat >
		 * last_iat as such: after a step back that refuses every
		 * restarted sender until the new time passes the old.
		 */
		memset(&e->r, 0, sizeof(e->r));
		e->last_iat = 0;
		r = mob_replay_check(&e->r, out->seq);
	}
	if (r != 0)
		goto out;
	e->last_off = off;
	if (out->iat > e->last_iat)
		e->last_iat = out->iat;
 out:
	mob_jws_clear(&jws);
	if (r != 0)
		mob_env_clear(out);
	return r;
}

void
mob_env_clear(struct mob_env *env)
{
	if (env == NULL)
		return;
	cJSON_Delete(env->claims);
	memset(env, 0, sizeof(*env));
}
