/*
 * End to end recovery of COVs across hub crashes and reconnections
 * (lib/rt/mobius/history.h, docs/protocol.md "Hub crashes").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#include "mobius/client.h"
#include "mobius/err.h"
#include "mobius/history.h"
#include "mobius/jws.h"
#include "mobius/log.h"

#define RECOVER_TIMEOUT_MS	10000	/* one since request */
#define RECOVER_TRIES		3	/* timeouts before giving up */
#define RECOVER_HOLD_MAX	8192	/* live COVs held per publisher */
#define RECOVER_PUBS_MAX	4096	/* publishers tracked */

/* --- publisher: the ring ---------------------------------------------- */

struct hent {
	uint64_t seq;
	int64_t iat;
	char *topic;
	char *dat;
	size_t size;
};

struct mob_history {
	struct hent *e;
	size_t max, head, n;		/* ring: e[head] is the oldest */
	size_t bytes, max_bytes;
	uint64_t from;			/* every COV from this seq is kept */
};

int
mob_history_new(size_t max, size_t max_bytes, uint64_t first,
    struct mob_history **out)
{
	struct mob_history *h;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return MOB_ENOMEM;
	if (max > 0 && (h->e = calloc(max, sizeof(*h->e))) == NULL) {
		free(h);
		return MOB_ENOMEM;
	}
	h->max = max;
	h->max_bytes = max_bytes;
	h->from = first;
	*out = h;
	return 0;
}

static void
hist_evict(struct mob_history *h)
{
	struct hent *e = &h->e[h->head];

	h->from = e->seq + 1;
	h->bytes -= e->size;
	free(e->topic);
	free(e->dat);
	memset(e, 0, sizeof(*e));
	h->head = (h->head + 1) % h->max;
	h->n--;
}

void
mob_history_free(struct mob_history *h)
{
	if (h == NULL)
		return;
	while (h->n > 0)
		hist_evict(h);
	free(h->e);
	free(h);
}

size_t
mob_history_count(const struct mob_history *h)
{
	return h->n;
}

int
mob_history_add(struct mob_history *h, uint64_t seq, int64_t iat,
    const char *topic, const char *dat_json)
{
	size_t size = strlen(topic) + strlen(dat_json) + 2;
	struct hent *e;

	if (h->max == 0 || size > h->max_bytes) {
		h->from = seq + 1;
		return 0;
	}
	while (h->n > 0 && (h->n == h->max || h->bytes + size > h->max_bytes))
		hist_evict(h);
	e = &h->e[(h->head + h->n) % h->max];
	if ((e->topic = strdup(topic)) == NULL ||
	    (e->dat = strdup(dat_json)) == NULL) {
		free(e->topic);
		e->topic = NULL;
		/* what cannot be kept makes the ring incomplete before it */
		h->from = seq + 1;
		return MOB_ENOMEM;
	}
	e->seq = seq;
	e->iat = iat;
	e->size = size;
	h->bytes += size;
	h->n++;
	return 0;
}

/* An integer 0..2^53 (in range before the cast). */
static int
seq_valid(const cJSON *j)
{
	return cJSON_IsNumber(j) && j->valuedouble >= 0 &&
	    j->valuedouble <= MOB_REQID_INT_MAX &&
	    j->valuedouble == (double)(uint64_t)j->valuedouble;
}

/* The request's filters (at most MOB_HISTORY_FILTERS valid ones), or none. */
static int
hist_filters(const cJSON *req, const char *f[MOB_HISTORY_FILTERS], size_t *nf)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(req, "filters"), *s;

	*nf = 0;
	if (a == NULL)
		return 0;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > MOB_HISTORY_FILTERS)
		return MOB_EINVAL;
	cJSON_ArrayForEach(s, a) {
		if (!cJSON_IsString(s) || strlen(s->valuestring) >= MOB_TOPIC_MAX ||
		    mosquitto_sub_topic_check(s->valuestring) != MOSQ_ERR_SUCCESS)
			return MOB_EINVAL;
		f[(*nf)++] = s->valuestring;
	}
	return 0;
}

static int
hist_match(const char *topic, const char *const *f, size_t nf)
{
	bool m;

	if (nf == 0)
		return 1;
	for (size_t i = 0; i < nf; i++)
		if (mosquitto_topic_matches_sub(f[i], topic, &m) ==
		    MOSQ_ERR_SUCCESS && m)
			return 1;
	return 0;
}

int
mob_history_answer(const struct mob_history *h, const cJSON *req, cJSON *rsp)
{
	const cJSON *js = cJSON_GetObjectItemCaseSensitive(req, "seq");
	const char *f[MOB_HISTORY_FILTERS];
	cJSON *covs, *a;
	size_t nf, used = 0, i;
	uint64_t since;
	int more = 0;

	if (!seq_valid(js) || hist_filters(req, f, &nf) != 0)
		return MOB_EINVAL;
	since = (uint64_t)js->valuedouble;
	if (cJSON_AddNumberToObject(rsp, "from", (double)h->from) == NULL ||
	    (covs = cJSON_AddArrayToObject(rsp, "covs")) == NULL)
		return MOB_ENOMEM;
	for (i = 0; i < h->n; i++) {
		const struct hent *e = &h->e[(h->head + i) % h->max];

		if (e->seq <= since || !hist_match(e->topic, f, nf))
			continue;
		/* a page: at least one COV, however large */
		if (used > 0 && used + e->size + 48 > MOB_HISTORY_PAGE) {
			more = 1;
			break;
		}
		used += e->size + 48;
		/* dat was checked JSON when it was signed */
		if ((a = cJSON_CreateArray()) == NULL ||
		    !cJSON_AddItemToArray(covs, a) ||
		    !cJSON_AddItemToArray(a, cJSON_CreateNumber((double)e->seq)) ||
		    !cJSON_AddItemToArray(a, cJSON_CreateNumber((double)e->iat)) ||
		    !cJSON_AddItemToArray(a, cJSON_CreateString(e->topic)) ||
		    !cJSON_AddItemToArray(a, cJSON_CreateRaw(e->dat)))
			return MOB_ENOMEM;
	}
	if (cJSON_AddBoolToObject(rsp, "more", more) == NULL)
		return MOB_ENOMEM;
	return 0;
}

/* --- watcher ---------------------------------------------------------- */

enum pstate {
	PS_OK = 0,		/* live COVs are delivered */
	PS_NEED,		/* may have missed some: ask when it is online */
	PS_ASKING,		/* a since request is out */
};

struct held {
	struct held *next;
	char *topic;
	struct mob_env env;
};

struct pub {
	struct pub *next;
	struct mob_recover *r;
	char id[MOB_ID_MAX];
	uint64_t last;		/* highest seq delivered */
	uint64_t asked;		/* the since request's seq */
	enum pstate state;
	int again;		/* came online again while asking */
	int tries;
	int nohistory;		/* answered that it cannot: not asked again */
	struct held *held, **heldtail;
	size_t nheld;
};

struct mob_recover {
	struct mob_client *c;
	mob_recover_fn fn;
	void *arg;
	struct pub *pubs;
	size_t npubs;
	char *filters[MOB_HISTORY_FILTERS];
	size_t nfilters;
	struct mob_recover_stats st;
};

int
mob_recover_new(struct mob_client *c, mob_recover_fn fn, void *arg,
    struct mob_recover **out)
{
	struct mob_recover *r;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return MOB_ENOMEM;
	r->c = c;
	r->fn = fn;
	r->arg = arg;
	*out = r;
	return 0;
}

static void
held_free(struct held *m)
{
	mob_env_clear(&m->env);
	free(m->topic);
	free(m);
}

void
mob_recover_free(struct mob_recover *r)
{
	struct pub *p;
	struct held *m;

	if (r == NULL)
		return;
	while ((p = r->pubs) != NULL) {
		r->pubs = p->next;
		while ((m = p->held) != NULL) {
			p->held = m->next;
			held_free(m);
		}
		free(p);
	}
	for (size_t i = 0; i < r->nfilters; i++)
		free(r->filters[i]);
	free(r);
}

void
mob_recover_stats(const struct mob_recover *r, struct mob_recover_stats *out)
{
	*out = r->st;
}

int
mob_recover_watch(struct mob_recover *r, const char *filter)
{
	for (size_t i = 0; i < r->nfilters; i++)
		if (strcmp(r->filters[i], filter) == 0)
			return 0;
	if (r->nfilters == MOB_HISTORY_FILTERS) {
		log_warnx("more than %d subscriptions: COVs of %s are not "
		    "recovered after a reconnection", MOB_HISTORY_FILTERS, filter);
		return MOB_ERANGE;
	}
	if ((r->filters[r->nfilters] = strdup(filter)) == NULL)
		return MOB_ENOMEM;
	r->nfilters++;
	return 0;
}

void
mob_recover_unwatch(struct mob_recover *r, const char *filter)
{
	for (size_t i = 0; i < r->nfilters; i++) {
		if (strcmp(r->filters[i], filter) == 0) {
			free(r->filters[i]);
			r->filters[i] = r->filters[--r->nfilters];
			return;
		}
	}
}

static struct pub *
pub_find(struct mob_recover *r, const char *id)
{
	for (struct pub *p = r->pubs; p != NULL; p = p->next)
		if (strcmp(p->id, id) == 0)
			return p;
	return NULL;
}

/* Hand one COV over unless it was delivered already. */
static void
pub_deliver(struct mob_recover *r, struct pub *p, const char *topic,
    const struct mob_env *env)
{
	if (env->seq <= p->last) {
		r->st.dups++;
		return;
	}
	p->last = env->seq;
	r->fn(r->arg, topic, env);
}

/* Everything held, in order; back to live delivery. */
static void
pub_release(struct mob_recover *r, struct pub *p)
{
	struct held *m;

	p->state = PS_OK;
	p->again = 0;
	while ((m = p->held) != NULL) {
		p->held = m->next;
		pub_deliver(r, p, m->topic, &m->env);
		held_free(m);
	}
	p->heldtail = &p->held;
	p->nheld = 0;
}

/* The recovery of p ends without closing its gap: say so, go on live. */
static void
pub_give_up(struct mob_recover *r, struct pub *p, const char *why)
{
	r->st.gaps++;
	log_warnx("COVs of %s after seq %llu may be lost: %s", p->id,
	    (unsigned long long)p->last, why);
	pub_release(r, p);
}

static void pub_ask(struct mob_recover *r, struct pub *p);

/*
 * One entry of an answer: [seq, iat, topic, dat], seq rising, a COV topic
 * of the publisher's own that this client subscribed to.
 */
static int
entry_check(struct mob_recover *r, const struct pub *p, const cJSON *a,
    uint64_t after, struct mob_env *env, const char **topic)
{
	const cJSON *s = cJSON_GetArrayItem(a, 0), *i = cJSON_GetArrayItem(a, 1);
	const cJSON *t = cJSON_GetArrayItem(a, 2);
	char owner[MOB_ID_MAX];
	bool m = false;
	size_t k;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 4 ||
	    !seq_valid(s) || !seq_valid(i) || !cJSON_IsString(t) ||
	    (uint64_t)s->valuedouble <= after ||
	    strlen(t->valuestring) >= MOB_TOPIC_MAX ||
	    strncmp(t->valuestring, "mob/cov/", 8) != 0 ||
	    mob_topic_owner(t->valuestring, owner) != 1 ||
	    strcmp(owner, p->id) != 0)
		return MOB_EPROTO;
	for (k = 0; k < r->nfilters && !m; k++)
		if (mosquitto_topic_matches_sub(r->filters[k], t->valuestring,
		    &m) != MOSQ_ERR_SUCCESS)
			m = false;
	if (!m)
		return MOB_EPROTO;
	memset(env, 0, sizeof(*env));
	memcpy(env->iss, p->id, strlen(p->id) + 1);
	env->seq = (uint64_t)s->valuedouble;
	env->iat = (int64_t)i->valuedouble;
	env->dat = cJSON_GetArrayItem(a, 3);
	*topic = t->valuestring;
	return 0;
}

/* A page of the answer: merge it with what is held, in seq order. */
static int
pub_merge(struct mob_recover *r, struct pub *p, const cJSON *covs, int more)
{
	const cJSON *a;
	struct mob_env env;
	struct held *m;
	const char *topic;
	uint64_t after = p->asked, limit;
	int rc;

	/* check the whole page before delivering any of it */
	cJSON_ArrayForEach(a, covs) {
		if ((rc = entry_check(r, p, a, after, &env, &topic)) != 0)
			return rc;
		after = env.seq;
	}
	limit = more ? after : UINT64_MAX;
	cJSON_ArrayForEach(a, covs) {
		entry_check(r, p, a, 0, &env, &topic);
		while ((m = p->held) != NULL && m->env.seq < env.seq) {
			p->held = m->next;
			p->nheld--;
			pub_deliver(r, p, m->topic, &m->env);
			held_free(m);
		}
		if (env.seq > p->last)
			r->st.recovered++;
		pub_deliver(r, p, topic, &env);
	}
	while ((m = p->held) != NULL && m->env.seq <= limit) {
		p->held = m->next;
		p->nheld--;
		pub_deliver(r, p, m->topic, &m->env);
		held_free(m);
	}
	if (p->held == NULL)
		p->heldtail = &p->held;
	return 0;
}

static void
pub_answer(struct mob_client *c, int err, const cJSON *rsp, void *arg)
{
	struct pub *p = arg;
	struct mob_recover *r = p->r;
	const cJSON *from, *covs, *more;
	const char *msg;
	int rc;

	(void)c;
	if (err == MOB_EOFFLINE) {
		/* the hub went away: mob_recover_reconnected asks again */
		p->state = PS_NEED;
		return;
	}
	if (err == MOB_ETIMEOUT) {
		if (++p->tries >= RECOVER_TRIES) {
			pub_give_up(r, p, "it did not answer");
			return;
		}
		p->state = PS_NEED;
		/* what it sent since says it is online: it may be subscribed now */
		if (p->again || p->nheld > 0)
			pub_ask(r, p);
		return;
	}
	if ((rc = mob_client_rsp_error(rsp, &msg)) != 0) {
		if (rc == MOB_ENOTFOUND || rc == MOB_EOFFLINE) {
			p->state = PS_NEED;	/* until it is online */
			return;
		}
		/* a publisher without history (or refusing): stop asking it */
		p->nohistory = 1;
		pub_give_up(r, p, msg);
		return;
	}
	from = cJSON_GetObjectItemCaseSensitive(rsp, "from");
	covs = cJSON_GetObjectItemCaseSensitive(rsp, "covs");
	more = cJSON_GetObjectItemCaseSensitive(rsp, "more");
	if (!cJSON_IsNumber(from) || !cJSON_IsArray(covs) || !cJSON_IsBool(more) ||
	    (cJSON_IsTrue(more) && cJSON_GetArraySize(covs) == 0)) {
		pub_give_up(r, p, "malformed history");
		return;
	}
	if (from->valuedouble > (double)p->asked + 1) {
		r->st.gaps++;
		log_warnx("COVs of %s between seq %llu and %.0f may be lost: its "
		    "history does not reach back so far (it overflowed, or %s "
		    "restarted)", p->id, (unsigned long long)p->asked,
		    from->valuedouble, p->id);
	}
	if (pub_merge(r, p, covs, cJSON_IsTrue(more)) != 0) {
		pub_give_up(r, p, "malformed history");
		return;
	}
	p->tries = 0;
	if (cJSON_IsTrue(more)) {
		pub_ask(r, p);
		return;
	}
	r->st.rounds++;
	if (p->again) {
		/* it reconnected meanwhile: what its last link lost, too */
		p->again = 0;
		pub_ask(r, p);
		return;
	}
	pub_release(r, p);
}

static void
pub_ask(struct mob_recover *r, struct pub *p)
{
	cJSON *req, *f;
	int rc = MOB_ENOMEM;

	p->again = 0;
	p->asked = p->last;
	if ((req = cJSON_CreateObject()) != NULL &&
	    cJSON_AddStringToObject(req, "op", "since") != NULL &&
	    cJSON_AddNumberToObject(req, "seq", (double)p->asked) != NULL &&
	    (f = cJSON_AddArrayToObject(req, "filters")) != NULL) {
		rc = 0;
		for (size_t i = 0; i < r->nfilters && rc == 0; i++)
			if (!cJSON_AddItemToArray(f,
			    cJSON_CreateString(r->filters[i])))
				rc = MOB_ENOMEM;
		if (rc == 0)
			rc = mob_client_request_async(r->c, p->id, req,
			    RECOVER_TIMEOUT_MS, pub_answer, p);
	}
	cJSON_Delete(req);
	if (rc == MOB_EOFFLINE) {
		p->state = PS_NEED;
		return;
	}
	if (rc != 0) {
		pub_give_up(r, p, mob_strerror(rc));
		return;
	}
	p->state = PS_ASKING;
}

void
mob_recover_cov(struct mob_recover *r, const char *topic, struct mob_env *env)
{
	struct pub *p = pub_find(r, env->iss);
	struct held *m;

	if (p == NULL) {
		/* the first COV of a publisher: from here on */
		if (r->npubs >= RECOVER_PUBS_MAX ||
		    (p = calloc(1, sizeof(*p))) == NULL) {
			r->fn(r->arg, topic, env);
			return;
		}
		memcpy(p->id, env->iss, strlen(env->iss) + 1);
		p->r = r;
		p->heldtail = &p->held;
		p->next = r->pubs;
		r->pubs = p;
		r->npubs++;
	}
	if (p->state == PS_OK) {
		pub_deliver(r, p, topic, env);
		return;
	}
	if (env->seq <= p->last) {
		r->st.dups++;
		return;
	}
	if (p->nheld >= RECOVER_HOLD_MAX) {
		pub_give_up(r, p, "too many COVs held while recovering");
		pub_deliver(r, p, topic, env);
		return;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->topic = strdup(topic)) == NULL) {
		free(m);
		pub_give_up(r, p, mob_strerror(MOB_ENOMEM));
		pub_deliver(r, p, topic, env);
		return;
	}
	m->env = *env;			/* takes the claims */
	memset(env, 0, sizeof(*env));
	*p->heldtail = m;
	p->heldtail = &m->next;
	p->nheld++;
	/* a live COV says it is online: ask now if not yet asked */
	if (p->state == PS_NEED)
		pub_ask(r, p);
}

void
mob_recover_state(struct mob_recover *r, const char *id, int online,
    int retained)
{
	struct pub *p = pub_find(r, id);

	if (p == NULL || p->nohistory || !online)
		return;
	if (p->state == PS_ASKING) {
		p->again = 1;
		return;
	}
	/*
	 * Live: it reconnected and its link may have lost COVs.  Ask at its
	 * first COV, sent after it subscribed to its requests; "online" comes
	 * before that.  Retained (this client resubscribed): it has been
	 * online a while, ask now.
	 */
	if (!retained)
		p->state = PS_NEED;
	else if (p->state == PS_NEED)
		pub_ask(r, p);
}

void
mob_recover_reconnected(struct mob_recover *r)
{
	/*
	 * Ask when each publisher is known online (its state, retained, or a
	 * live COV), not now: after a hub restart most are not back yet.
	 */
	for (struct pub *p = r->pubs; p != NULL; p = p->next)
		if (!p->nohistory && p->state == PS_OK)
			p->state = PS_NEED;
}
