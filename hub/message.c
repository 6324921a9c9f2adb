/*
 * MOSQ_EVT_MESSAGE: every publish on mob/# is verified before fan-out
 * (docs/protocol.md §3, docs/hub.md): signed by the key of the connection's own identity,
 * kid == client id, iss == its identity (HID/SID/RUN speaks as HID/SID), top == topic, iat in the window, seq not
 * replayed.  Anything else is refused with MOSQ_ERR_ACL_DENIED, which makes
 * mosquitto drop it (a QoS 1 sender gets PUBACK "not authorized"), and is
 * logged and counted by reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "mobius/session.h"

#include "internal.h"

/*
 * A connection with a session key speaks with that key alone (HS256, kid
 * its own id); one without (a plain token login) with its identity keys.
 */
static const struct mob_key *
msg_lookup(void *ctx, const char *kid, size_t idx)
{
	struct hub *h = ctx;

	if (h->sender != NULL && h->sender->session != NULL)
		return idx == 0 ? h->sender->session : NULL;
	return hub_ident__lookup(h, kid, idx);
}

int
hub_message__init(struct hub *h)
{
	struct mob_verifier_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.window_ms = h->o.window_ms;
	cfg.max_len = h->o.max_message;
	return mob_verifier_new(msg_lookup, h, &cfg, &h->verifier);
}

/* The request id of a req: a string of the REQID alphabet or an integer. */
static int
msg_reqid(const cJSON *dat, char *out, size_t len)
{
	char id[MOB_REQID_MAX + 1];

	if (mob_reqid_from_json(cJSON_GetObjectItemCaseSensitive(dat, "id"),
	    id) != 0 || strlen(id) >= len)
		return MOB_ECLAIM;
	memcpy(out, id, strlen(id) + 1);
	return 0;
}

/*
 * Answer a request the hub refuses at once, signed by the hub, so the
 * requester need not wait for a timeout (lib/rt/client.c accepts an error
 * response from its hub).
 */
static void
msg_refuse(struct hub *h, const char *cid, const char *requester,
    const char *reqid, int r, const char *why)
{
	char topic[MOB_TOPIC_MAX], *js = NULL;
	cJSON *o, *e;

	snprintf(topic, sizeof(topic), "mob/rsp/%s/%s", requester, reqid);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "id", reqid) == NULL ||
	    cJSON_AddFalseToObject(o, "ok") == NULL ||
	    (e = cJSON_AddObjectToObject(o, "error")) == NULL ||
	    cJSON_AddStringToObject(e, "code", mob_errname(r)) == NULL ||
	    cJSON_AddStringToObject(e, "message", why) == NULL ||
	    (js = cJSON_PrintUnformatted(o)) == NULL)
		mosquitto_log_printf(MOSQ_LOG_ERR, "mobius: out of memory");
	else
		hub_state__publish(h, cid, topic, js, 0);
	cJSON_Delete(o);
	free(js);
}

/* After the envelope verified: track requests, retire answered ones. */
static int
msg_track(struct hub *h, const char *cid, const char *id, const char *topic,
    const struct mob_env *env)
{
	char reqid[MOB_REQID_MAX + 1], requester[MOB_ID_MAX], why[128];
	const char *target = topic + 8;
	const cJSON *op;
	int r;

	if (strncmp(topic, "mob/req/", 8) == 0) {
		if ((r = msg_reqid(env->dat, reqid, sizeof(reqid))) != 0)
			return r;
		op = cJSON_GetObjectItemCaseSensitive(env->dat, "op");
		if (!hub_reqs__allowed(h, id, topic + 8, cJSON_IsString(op) ?
		    op->valuestring : NULL)) {
			h->st.req_refused++;
			snprintf(why, sizeof(why), "%s may not write to %s "
			    "(the hub's writers_%s policy)", id, target,
			    target + 7);
			hub_log__event(h, "%s", why);
			msg_refuse(h, cid, id, reqid, MOB_EDENIED, why);
			return MOB_EDENIED;
		}
		/* nobody could answer: say so now rather than at a timeout */
		if (hub_ident__is_local(h, target) &&
		    hub_ident__entry(h, target, 0) == NULL) {
			h->st.req_refused++;
			snprintf(why, sizeof(why), "no service %s on this node",
			    target);
			msg_refuse(h, cid, id, reqid, MOB_ENOTFOUND, why);
			return MOB_ENOTFOUND;
		}
		if ((r = hub_reqs__note(h, id, reqid, target,
		    mob_clock_mono_ms())) != 0) {
			h->st.req_refused++;
			if (r == MOB_ERANGE)
				snprintf(why, sizeof(why), "%s has %zu "
				    "requests pending at the hub (req_quota): "
				    "wait for their answers", id,
				    h->o.req_quota);
			else
				snprintf(why, sizeof(why), "the hub's table of "
				    "pending requests is full (req_max %zu)",
				    h->o.req_max);
			hub_log__event(h, "refusing a request from %s: %s", id,
			    why);
			msg_refuse(h, cid, id, reqid, MOB_EBUSY, why);
			return MOB_EBUSY;
		}
	} else if (strncmp(topic, "mob/rsp/", 8) == 0 &&
	    strlen(topic + 8) > MOB_ID_MAX) {
		/* acl.c parsed it: HID/SID/REQID */
		snprintf(requester, sizeof(requester), "%.10s", topic + 8);
		hub_reqs__done(h, requester, topic + 8 + MOB_ID_MAX);
	}
	return 0;
}

int
hub_message__verify(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct hub *h = userdata;
	struct mob_env env;
	char s1[HUB_SAFE_MAX], s2[HUB_SAFE_MAX], id[MOB_ID_MAX];
	const char *cid;
	int64_t now = mob_clock_wall_ms();
	int r;

	(void)event;
	memset(&env, 0, sizeof(env));
	cid = mosquitto_client_id(ed->client);
	h->sender = cid != NULL ? hub_clients__find(h, cid, ed->client) : NULL;
	if (cid == NULL || ed->topic == NULL || mob_cid_split(cid, id) < 0)
		r = MOB_EIDENTITY;
	else if (h->sender != NULL && h->sender->session != NULL &&
	    mob_clock_mono_ms() - h->sender->session_at > MOB_SESSION_MAX_MS +
	    MOB_SESSION_GRACE_MS) {
		/* rekeying is the client's duty; past the bound, make it */
		r = MOB_EEXPIRED;
		mosquitto_kick_client_by_clientid(cid, false);
	} else if ((r = mob_env_verify(h->verifier, ed->topic, cid, ed->payload,
	    ed->payloadlen, now, &env)) == 0)
		r = msg_track(h, cid, id, ed->topic, &env);
	h->sender = NULL;
	mob_env_clear(&env);
	if (r == 0) {
		h->st.verified++;
		return MOSQ_ERR_SUCCESS;
	}
	h->st.dropped++;
	if (r < 0 && r >= MOB_ERR_MIN)
		h->st.drop_reason[-r]++;
	hub_log__event(h, "dropped message from %s on %s: %s",
	    hub_log__safe(cid, s1, sizeof(s1)), hub_log__safe(ed->topic, s2, sizeof(s2)),
	    mob_errname(r));
	return MOSQ_ERR_ACL_DENIED;
}
