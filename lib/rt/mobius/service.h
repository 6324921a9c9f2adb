/*
 * The service runtime (docs/services.md): owns objects (lib/rt/mobius/object.h),
 * publishes them and serves requests over a mob_client.
 *
 * Published, retained, signed:
 *   mob/svc/HID/SID            service description (spid, name, objects)
 *   mob/obj/HID/SID/PID/INS    object description and state
 *   mob/cov/HID/SID/PID/INS/RID  change of value, honouring per-resource
 *                              COV attributes st (deadband), pmin, pmax
 * Served (QoS 1): mob/req/HID/SID with op read, write, clear, discover;
 * answered on mob/rsp/REQHID/REQSID/REQID where REQHID/REQSID is the
 * verified signer (iss) of the request.  Error codes are the short names
 * of lib/sys/mobius/err.h (bad_type, out_of_range, read_only, not_found, ...).
 *
 * A typical daemon:
 *
 *	mob_service_new(&ccfg, &svc);
 *	mob_service_config(svc, cfg, &root, &hooks);	(objects from JSON)
 *	mob_service_add_timer(svc, 1000, poll_device, dev);
 *	mob_service_open(svc);				(connect, read nothing)
 *	... sandbox (lib/rt/mobius/daemon.h) ...
 *	mob_service_start(svc, 10000);			(log in, publish)
 *	mob_service_run(svc);				(until SIGTERM/SIGINT)
 *
 * Device code changes values with mob_res_update() / mob_res_set_status()
 * from its timers and fd callbacks; the runtime notices (object observer)
 * and publishes COV and object state as the attributes allow.  Client
 * writes reach the device through mob_res_set_write_handler().
 *
 * Every message stays below the hub's default size cap (8 KiB signed):
 * long object lists are paged (mob/svc "truncated", discover "next"), and
 * an object whose description cannot fit one message is refused by
 * mob_service_config().
 *
 * Under systemd (NOTIFY_SOCKET set) the runtime sends READY=1 once
 * started, STATUS= lines, and WATCHDOG=1 at half of WATCHDOG_USEC.
 * Nothing here is thread-safe; everything runs in mob_service_run's loop.
 */
#ifndef MOBIUS_SERVICE_H
#define MOBIUS_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "mobius/client.h"
#include "mobius/config.h"
#include "mobius/log.h"
#include "mobius/object.h"

#define MOB_SERVICE_MAX_OBJECTS	4096
#define MOB_SERVICE_MAX_RES	64	/* per object */

struct mob_service;

/* Creates the client (loads the key file) but does not connect. */
int mob_service_new(const struct mob_client_cfg *ccfg, struct mob_service **out);
/* Stops, disconnects and frees objects; accepts NULL. */
void mob_service_free(struct mob_service *svc);
struct mob_client *mob_service_client(struct mob_service *svc);

/* Name and description published in mob/svc (copied; NULL = none). */
int mob_service_set_info(struct mob_service *svc, const char *name,
    const char *description);

/* A new object owned by the service: MOB_EEXIST if PID/INS is taken. */
int mob_service_add_object(struct mob_service *svc, const char *pid,
    const char *ins, const char *name, struct mob_object **out);
struct mob_object *mob_service_object(const struct mob_service *svc,
    const char *pid, const char *ins);
size_t mob_service_nobjects(const struct mob_service *svc);
struct mob_object *mob_service_object_at(const struct mob_service *svc, size_t i);

/* --- configuration ---------------------------------------------------- */

/*
 * Objects from a JSON config node (docs/services.md):
 *   {"name"?, "description"?, "queue"?, "history"?,
 *    "objects":[{"pid","ins","name"?,
 *     "resources":[{"rid","name","type","access"?,"min"?,"max"?,
 *     "precision"?,"units"?,"default"?,"cov"?:{"st","pmin","pmax"}}]}]}
 * Other members of node are left to the caller.  Driver-specific members
 * of object and resource nodes are allowed when listed in the hooks and
 * handed to the hook functions after the object/resource was created.
 * Errors: MOB_ECONFIG with mob_config_error(c) naming file and path.
 */
struct mob_service_hooks {
	const char *const *object_keys;		/* extra members allowed in objects */
	const char *const *res_keys;		/* extra members allowed in resources */
	int (*object)(struct mob_config *c, const struct mob_cnode *n,
	    struct mob_object *o, void *arg);
	int (*res)(struct mob_config *c, const struct mob_cnode *n,
	    struct mob_res *r, void *arg);
	void *arg;
};
int mob_service_config(struct mob_service *svc, struct mob_config *c,
    const struct mob_cnode *node, const struct mob_service_hooks *hooks);

/* --- running ---------------------------------------------------------- */

/*
 * The open phase (lib/rt/mobius/daemon.h): fix the objects, open the hub
 * connection and send the login, reading nothing from the hub.  An
 * unreachable hub is not an error here: mob_service_start retries.
 */
int mob_service_open(struct mob_service *svc);
/*
 * Log in (mob_service_open first if it was not called): put back the
 * slots saved before a restart (mobius/persist.h; the driver's write
 * handlers run, so this is past the sandbox), wait up to timeout_ms for
 * the hub's answer and key bundle, subscribe to requests,
 * publish the description, every object and every resource's COV.  After
 * a lost connection the runtime reconnects and republishes by itself.
 */
int mob_service_start(struct mob_service *svc, int timeout_ms);

/* Extra file descriptors polled by the loop; cb gets revents. */
typedef void (*mob_fd_fn)(struct mob_service *svc, int fd, short revents, void *arg);
int mob_service_add_fd(struct mob_service *svc, int fd, short events,
    mob_fd_fn cb, void *arg);
int mob_service_del_fd(struct mob_service *svc, int fd);

/* Periodic timer (first run one interval from now). */
typedef void (*mob_timer_fn)(struct mob_service *svc, void *arg);
int mob_service_add_timer(struct mob_service *svc, int interval_ms,
    mob_timer_fn cb, void *arg);

/*
 * Run until mob_service_stop() or SIGTERM/SIGINT (handled here: the
 * loop returns 0).  Returns an error only when the loop cannot continue.
 */
int mob_service_run(struct mob_service *svc);
/* One loop iteration waiting at most timeout_ms (tests, benches). */
int mob_service_once(struct mob_service *svc, int timeout_ms);
void mob_service_stop(struct mob_service *svc);

/* sd_notify STATUS= (and a log_debug line); no-op outside systemd. */
void mob_service_status(struct mob_service *svc, const char *fmt, ...)
    MOB_PRINTF(2, 3);

struct mob_service_stats {
	uint64_t requests;	/* requests answered */
	uint64_t errors;	/* requests answered with ok:false */
	uint64_t covs;		/* COV messages published */
};
void mob_service_stats(const struct mob_service *svc, struct mob_service_stats *out);

#endif
