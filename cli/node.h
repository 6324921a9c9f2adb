/*
 * mobius CLI: the connection to the hub and what it has learnt of the
 * node (service descriptions and presence).
 */
#ifndef MOBIUS_CLI_NODE_H
#define MOBIUS_CLI_NODE_H

#include <stdint.h>

#include "mobius/uri.h"
#include "internal.h"

struct cJSON;
struct mob_client;
struct mob_env;
struct mob_topic;

struct cli_svc {
	char id[MOB_ID_MAX];		/* HID/SID */
	struct cJSON *desc;		/* last mob/svc dat, owned; NULL if none */
	char state[16];			/* "online", "offline" or "" (unknown) */
	char reason[64];
	struct cJSON *presence;		/* last mob/state dat, owned; NULL if none */
	struct cli_svc *next;
};

struct cli_node;
typedef void (*cli_cov_fn)(struct cli_node *n, const struct mob_topic *t,
    const struct mob_env *env);
/* Presence of a service changed (not called for the first one seen). */
typedef void (*cli_state_fn)(struct cli_node *n, const struct cli_svc *s);
/* up = 0 when the link to the hub is lost, 1 when it is back. */
typedef void (*cli_link_fn)(struct cli_node *n, int up);

struct cli_node {
	struct mob_client *c;
	const struct cli_opts *o;
	const char *cmd;		/* for messages */
	struct cli_svc *svcs;		/* in order of arrival */
	int64_t last_rx_ms;
	size_t nsvc_msgs;
	int connected, ever_connected;
	cli_cov_fn on_cov;		/* set before subscribing to mob/cov */
	cli_link_fn on_link;
	cli_state_fn on_state;
	int recover;			/* COVs lost in a reconnection (watch) */
	void *arg;
};

/*
 * Create the client from o->keyfile and connect within o->timeout_ms.
 * Prints the error; returns a CLI_EXIT_* code.  n must be zeroed first
 * and is closed by cli_node_close() whatever the result.
 */
int cli_node_open(struct cli_node *n, const struct cli_opts *o, const char *cmd);
void cli_node_close(struct cli_node *n);

/* Subscribe to mob/VERB/PATTERN (QoS 0); prints errors.  0 or MOB_E*. */
int cli_node_subscribe(struct cli_node *n, const char *verb, const char *pattern);
/*
 * Run the loop until nothing arrived for quiet_ms (retained messages come
 * right after subscribing) or max_ms passed.
 */
int cli_node_settle(struct cli_node *n, int quiet_ms, int max_ms);

/*
 * A service with many objects publishes a description without resources
 * ("truncated":true); fetch the whole one with paged discover requests.
 * Prints errors; a CLI_EXIT_* code.
 */
int cli_node_complete(struct cli_node *n, struct cli_svc *s);

struct cli_svc *cli_node_svc(struct cli_node *n, const char *id);
/* Description of the resource at u (depth 5) from its service's mob/svc. */
const struct cJSON *cli_node_res(struct cli_node *n, const struct mob_uri *u);
const struct cJSON *cli_desc_object(const struct cJSON *desc, const char *pid,
    const char *ins);
const struct cJSON *cli_desc_res(const struct cJSON *obj, const char *rid);

/*
 * Send req to the service that owns u and wait o->timeout_ms.  On an
 * "ok":true answer *rsp holds it (cJSON_Delete it) and CLI_EXIT_OK is
 * returned; otherwise the error is printed in plain words and the exit
 * code returned (CLI_EXIT_TIMEOUT when the service did not answer).
 */
int cli_node_request(struct cli_node *n, const struct mob_uri *u,
    struct cJSON *req, struct cJSON **rsp);

#endif
