/*
 * Requests the hub saw (docs/hub.md, "Requests and responses"): message.c
 * notes (requester, reqid) -> target for every verified req, and acl.c
 * lets a rsp on mob/rsp/REQUESTER/REQID through only from that target,
 * until it is answered or req_ttl_ms passed.  Also the writers_SID policy:
 * who may send a writing request to whom.
 *
 * Each requester has its own quota of pending requests (req_quota): one
 * that floods, say to a service that never answers, fills its own share
 * and no one else's.  The table as a whole is bounded too (req_max).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Pending requests of one requester; lives as long as the hub. */
struct reqs_count {
	size_t n;
};

struct reqs_entry {
	struct reqs_count *count;
	char target[MOB_ID_MAX];
};

/* Whatever retires an entry (answer, expiry, replacement) frees its slot. */
static void
reqs_entry_free(void *p)
{
	struct reqs_entry *e = p;

	if (e == NULL)
		return;
	e->count->n--;
	free(e);
}

int
hub_reqs__init(struct hub *h)
{
	int r;

	if ((r = htab_new(h->o.req_max, reqs_entry_free, 0, &h->reqs)) != 0)
		return r;
	return htab_new(64, free, 1, &h->req_counts);
}

void
hub_reqs__free(struct hub *h)
{
	htab_free(h->reqs);	/* first: its entries point into req_counts */
	htab_free(h->req_counts);
}

int
hub_reqs__allowed(const struct hub *h, const char *requester,
    const char *target, const char *op)
{
	/*
	 * Only the ops known to change nothing pass freely; anything else
	 * (write, clear, a misspelt or future op, none at all) is subject to
	 * the policy, so a new writing op cannot slip past it.
	 */
	if (op != NULL && (strcmp(op, "read") == 0 ||
	    strcmp(op, "discover") == 0 || strcmp(op, "since") == 0))
		return 1;
	if (!hub_ident__is_local(h, target))
		return 1;	/* the other node's hub decides */
	for (size_t i = 0; i < h->o.nwriters; i++) {
		const struct hub_writers *w = &h->o.writers[i];

		if (strcmp(w->target, target + 7) != 0)
			continue;
		if (!hub_ident__is_local(h, requester))
			return 0;
		for (size_t j = 0; j < w->n; j++)
			if (strcmp(w->sid[j], requester + 7) == 0)
				return 1;
		return 0;
	}
	return 1;
}

static void
reqs_key(const char *requester, const char *reqid,
    char key[MOB_ID_MAX + MOB_REQID_MAX + 2])
{
	snprintf(key, MOB_ID_MAX + MOB_REQID_MAX + 2, "%s|%s", requester, reqid);
}

int
hub_reqs__note(struct hub *h, const char *requester, const char *reqid,
    const char *target, int64_t now)
{
	char key[MOB_ID_MAX + MOB_REQID_MAX + 2];
	struct reqs_count *count;
	struct reqs_entry *e;
	int r;

	/* requesters are logged-in clients: as many as the keyring has ids */
	if ((count = htab_get(h->req_counts, requester, 0)) == NULL) {
		if ((count = calloc(1, sizeof(*count))) == NULL)
			return MOB_ENOMEM;
		if ((r = htab_put(h->req_counts, requester, count, 0, now,
		    0)) != 0) {
			free(count);
			return r;
		}
	}
	reqs_key(requester, reqid, key);
	if (count->n >= h->o.req_quota && htab_get(h->reqs, key, now) == NULL)
		return MOB_ERANGE;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return MOB_ENOMEM;
	e->count = count;
	snprintf(e->target, sizeof(e->target), "%s", target);
	count->n++;
	if ((r = htab_put(h->reqs, key, e, now + h->o.req_ttl_ms, now, 0)) != 0)
		reqs_entry_free(e);
	return r;
}

const char *
hub_reqs__target(struct hub *h, const char *requester, const char *reqid,
    int64_t now)
{
	char key[MOB_ID_MAX + MOB_REQID_MAX + 2];

	const struct reqs_entry *e;

	reqs_key(requester, reqid, key);
	return (e = htab_get(h->reqs, key, now)) != NULL ? e->target : NULL;
}

void
hub_reqs__done(struct hub *h, const char *requester, const char *reqid)
{
	char key[MOB_ID_MAX + MOB_REQID_MAX + 2];

	reqs_key(requester, reqid, key);
	htab_del(h->reqs, key);
}
