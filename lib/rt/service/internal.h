/*
 * The service runtime's private header (lib/rt/mobius/service.h is the
 * public one): the state shared by its files, one section a file.
 *   publish.c    objects, COV and the description on the wire
 *   request.c    requests served, the client's handlers
 *   service.c    construction and the objects a service owns
 *   configure.c  objects from a JSON config
 *   run.c        connecting and the event loop
 */
#ifndef MOBIUS_SERVICE_INTERNAL_H
#define MOBIUS_SERVICE_INTERNAL_H

#include <poll.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mobius/service.h"

#define OBJ_MIN_MS	1000		/* mob/obj at most once a second per object */
/*
 * Every message is kept under 8 KiB once signed and base64url-encoded (a
 * dat of at most JSON_MAX bytes), well inside the hub's max_message (64 KiB
 * by default), so a large service never nears the cap on a smaller node.
 * Object lists are cut at LIST_MAX (leaving room for the other members):
 * mob/svc then says "truncated" and discover answers page with "next".
 */
#define JSON_MAX	5600
/*
 * pmin and pmax, in seconds, at most 30 days: config refuses more and
 * svc__cov_ms() bounds what an API caller set, so that no period from
 * input overflows its conversion to milliseconds.
 */
#define COV_PERIOD_MAX	2592000
#define LIST_MAX	4608
#define MAX_TIMERS	32

/* What was last published for one resource. */
struct covst {
	struct mob_value last;
	enum mob_status last_status;
	int published;
	int pending;			/* a change waits for pmin */
	int64_t last_pub;		/* monotonic ms */
};

struct sobj {
	struct mob_service *svc;
	struct mob_object *o;
	struct covst *cov;		/* one per resource, index as in the object */
	size_t ncov;
	int dirty;			/* mob/obj needs republishing */
	int64_t obj_last;
};

struct sfd {
	int fd;
	short events;
	mob_fd_fn cb;
	void *arg;
};

struct stimer {
	int interval;
	int64_t next;
	mob_timer_fn cb;
	void *arg;
};

struct mob_service {
	struct mob_client *c;
	char *name;
	char *description;
	struct sobj *objs;
	size_t nobjs;
	struct sfd *fds;		/* as many as the owner adds */
	size_t nfds, fdcap;
	/* service_iter's own copies, grown before each poll, never inside */
	struct pollfd *pfd;		/* the client's, then fds */
	struct sfd *fdsnap;
	size_t snapcap;
	struct stimer timers[MAX_TIMERS];
	size_t ntimers;
	int64_t next_due;		/* COV / obj work, monotonic ms; 0 = none */
	int64_t wd_interval;		/* watchdog ping period, ms; 0 = off */
	int64_t wd_next;
	int notify;			/* under systemd */
	int started;
	int stop;
	char reqtopic[MOB_TOPIC_MAX];
	char *state;			/* slots file (mobius/persist.h); NULL = none */
	struct mob_service_stats st;
};

/* --- publish.c --------------------------------------------------------- */

void svc__schedule(struct mob_service *svc, int64_t at);
/* A pmin or pmax (seconds) in ms, within 0..COV_PERIOD_MAX s. */
int64_t svc__cov_ms(double s);
/* JSON text of dat (consumed), or NULL; MOB_ETOOLONG above JSON_MAX. */
int svc__to_text(cJSON *dat, char **out);
cJSON *svc__describe(const struct mob_service *svc, int with_res,
    size_t offset, size_t budget, size_t *next);
cJSON *svc__obj_state(const struct mob_object *o, int compact);
int svc__sync(struct sobj *so);
void svc__observer(struct mob_res *r, void *arg);
void svc__tick(struct mob_service *svc);
int svc__publish_all(struct mob_service *svc);

/* --- request.c --------------------------------------------------------- */

struct sobj *svc__find(const struct mob_service *svc, const char *pid,
    const char *ins);
void svc__on_message(struct mob_client *c, const char *topic,
    const struct mob_env *env, void *arg);
void svc__on_conn(struct mob_client *c, int connected, void *arg);


#endif
