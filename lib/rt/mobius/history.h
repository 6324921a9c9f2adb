/*
 * Nothing lost across a hub crash (docs/protocol.md "Hub crashes"): end to
 * end recovery of COVs between a publisher and a watcher, used by the
 * client (lib/rt/client.c); not called by services directly.
 *
 * The publisher keeps the COVs it signed in a bounded ring (mob_history)
 * and answers the request {"op":"since","seq":N,"filters":[...]} with
 * {"from":F,"covs":[[seq,iat,topic,dat],...],"more":bool}: every COV of
 * its own with seq > N matching a filter, oldest first, a page at a time.
 * F is the lowest seq from which the ring is complete (every COV signed
 * with seq >= F is in it); F > N + 1 says that some COVs after N are gone
 * (the ring overflowed, or the publisher restarted).
 *
 * The watcher (mob_recover) delivers each publisher's COVs in seq order
 * and at most once: after its own reconnection, and when a publisher comes
 * online again, it asks that publisher for what came after the last seq
 * it delivered, holds the publisher's live COVs meanwhile, and merges.
 */
#ifndef MOBIUS_HISTORY_H
#define MOBIUS_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "mobius/envelope.h"

struct cJSON;
struct mob_client;

#define MOB_HISTORY_DEFAULT	4096		/* COVs kept by a publisher */
#define MOB_HISTORY_BYTES	(1024 * 1024)	/* and at most this much */
#define MOB_HISTORY_PAGE	(16 * 1024)	/* JSON text per answer, about */
#define MOB_HISTORY_FILTERS	16		/* filters per request */

/* --- publisher -------------------------------------------------------- */

struct mob_history;

/* max COVs (0: keep none, answer only "from"); first = the signer's next seq. */
int mob_history_new(size_t max, size_t max_bytes, uint64_t first,
    struct mob_history **out);
void mob_history_free(struct mob_history *h);
/* A COV just signed (dat_json: its "dat" text, valid JSON). */
int mob_history_add(struct mob_history *h, uint64_t seq, int64_t iat,
    const char *topic, const char *dat_json);
/*
 * Add "from", "covs" and "more" to rsp for the since request req (its
 * "seq" and "filters"); MOB_EINVAL for a malformed request.
 */
int mob_history_answer(const struct mob_history *h, const struct cJSON *req,
    struct cJSON *rsp);
size_t mob_history_count(const struct mob_history *h);

/* --- watcher ---------------------------------------------------------- */

struct mob_recover;

/* Hands a COV to the owner (the client's message handler). */
typedef void (*mob_recover_fn)(void *arg, const char *topic,
    const struct mob_env *env);

struct mob_recover_stats {
	uint64_t dups;		/* COVs already delivered, dropped */
	uint64_t recovered;	/* COVs delivered from a publisher's history */
	uint64_t gaps;		/* recoveries that could not close a gap */
	uint64_t rounds;	/* recoveries completed */
};

int mob_recover_new(struct mob_client *c, mob_recover_fn fn, void *arg,
    struct mob_recover **out);
void mob_recover_free(struct mob_recover *r);
/* A subscription of the client: COVs matching it are recovered. */
int mob_recover_watch(struct mob_recover *r, const char *filter);
void mob_recover_unwatch(struct mob_recover *r, const char *filter);
/*
 * A verified live COV signed by its topic's owner: delivered, held while
 * its publisher is recovering (env's claims are then taken: env is left
 * empty), or dropped as already delivered.
 */
void mob_recover_cov(struct mob_recover *r, const char *topic,
    struct mob_env *env);
/*
 * The hub says publisher id is online (1) or offline (0), live or as the
 * retained state a (re)subscription delivers.
 */
void mob_recover_state(struct mob_recover *r, const char *id, int online,
    int retained);
/* The client is connected again: every publisher may have lost COVs. */
void mob_recover_reconnected(struct mob_recover *r);
void mob_recover_stats(const struct mob_recover *r,
    struct mob_recover_stats *out);

#endif
