/*
 * Requests the hub saw (docs/hub.md, "Requests and responses"): message.c
 * notes (requester, reqid) -> target for every verified req, and acl.c
 * lets a rsp on mob/rsp/REQUESTER/REQID through only from that target,
 * until it is answered or req_ttl_ms passed.  Also the writers_SID policy:
 * who may send a writing request to whom.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int
hub_reqs__init(struct hub *h)
{
	return htab_new(h->o.req_max, free, 0, &h->reqs);
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
	    strcmp(op, "discover") == 0))
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
	char key[MOB_ID_MAX + MOB_REQID_MAX + 2], *val;
	int r;

	reqs_key(requester, reqid, key);
	if ((val = strdup(target)) == NULL)
		return MOB_ENOMEM;
	if ((r = htab_put(h->reqs, key, val, now + h->o.req_ttl_ms, now, 0)) != 0)
		free(val);
	return r;
}

const char *
hub_reqs__target(struct hub *h, const char *requester, const char *reqid,
    int64_t now)
{
	char key[MOB_ID_MAX + MOB_REQID_MAX + 2];

	reqs_key(requester, reqid, key);
	return htab_get(h->reqs, key, now);
}

void
hub_reqs__done(struct hub *h, const char *requester, const char *reqid)
{
	char key[MOB_ID_MAX + MOB_REQID_MAX + 2];

	reqs_key(requester, reqid, key);
	htab_del(h->reqs, key);
}
