/*
 * MOSQ_EVT_ACL_CHECK: the topic rules (docs/hub.md, "Topic rules").
 *
 * The identity is the client id's HID/SID, which auth.c proved (iss ==
 * that identity): the runs HID/SID/RUN of a CLI key share its rules.
 * A check for a client not in the table of logged-in clients is refused:
 * mosquitto checks a will message only when publishing it, after the
 * client's DISCONNECT event, and wills are never signed fresh, so they are
 * never delivered (presence comes from the hub instead).  One exception:
 * reading for the offline persistent session a logged-in client left,
 * under that client id's rules, so the hub queues what it subscribed to;
 * only a fresh login with that id gets the session back (docs/hub.md).
 *
 * Responses are allowed only to a request the hub saw: message.c notes
 * (requester, reqid) -> target for every verified req, and a rsp on
 * mob/rsp/REQUESTER/REQID is allowed only from that target (or from the
 * router when the target is on another node), until answered or expired.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "internal.h"

/* "mob/VERB/" prefixes of the topics anyone logged in may read. */
static int
acl_public_verb(const char *topic)
{
	return strncmp(topic, "mob/cov/", 8) == 0 ||
	    strncmp(topic, "mob/obj/", 8) == 0 ||
	    strncmp(topic, "mob/svc/", 8) == 0 ||
	    strncmp(topic, "mob/state/", 10) == 0;
}

/* topic == prefix + id exactly, or prefix + id + "/" + rest when sub. */
static const char *
acl_own(const char *topic, const char *prefix, const char *id, int sub)
{
	size_t pl = strlen(prefix), il = strlen(id);

	if (strncmp(topic, prefix, pl) != 0 || strncmp(topic + pl, id, il) != 0)
		return NULL;
	topic += pl + il;
	if (!sub)
		return *topic == '\0' ? topic : NULL;
	return *topic == '/' ? topic + 1 : NULL;
}

/* The HID of a topic "mob/VERB/HID/..." is a literal other than ours. */
static int
acl_remote_hid(const struct hub *h, const char *topic, size_t vlen)
{
	const char *hid = topic + vlen;

	if (strlen(hid) < 7 || hid[6] != '/' || !mob_hex_valid(hid, 6))
		return 0;
	return strncmp(hid, mob_keyring_hid(h->kr), 6) != 0;
}

static int
acl_reqid_filter(const char *s)
{
	if (strcmp(s, "+") == 0 || strcmp(s, "#") == 0)
		return 1;
	return mob_reqid_valid(s, strlen(s));
}

static int
acl_subscribe(struct hub *h, const char *id, const char *filter)
{
	const char *rest;

	if (acl_public_verb(filter))
		return 1;
	if (acl_own(filter, "mob/key/", id, 0) != NULL ||
	    acl_own(filter, "mob/req/", id, 0) != NULL)
		return 1;
	if ((rest = acl_own(filter, "mob/rsp/", id, 1)) != NULL)
		return acl_reqid_filter(rest);
	/*
	 * The router takes requests for other nodes: mob/req/HID/SID or
	 * mob/req/HID/+ for a literal remote HID (router change, issue 12:
	 * a peer's services need not be known in advance).
	 */
	if (hub_ident__is_router(h, id) && strncmp(filter, "mob/req/", 8) == 0 &&
	    acl_remote_hid(h, filter, 8))
		return strchr(filter + 8, '#') == NULL &&
		    (strchr(filter + 8, '+') == NULL ||
		    strcmp(filter + 8 + 6, "/+") == 0);
	return 0;
}

static int
acl_read(struct hub *h, const char *id, const char *topic)
{
	if (acl_public_verb(topic))
		return 1;
	if (acl_own(topic, "mob/key/", id, 0) != NULL ||
	    acl_own(topic, "mob/req/", id, 0) != NULL ||
	    acl_own(topic, "mob/rsp/", id, 1) != NULL)
		return 1;
	return hub_ident__is_router(h, id) && strncmp(topic, "mob/req/", 8) == 0 &&
	    acl_remote_hid(h, topic, 8);
}

static int
acl_write(struct hub *h, const char *id, const char *topic, int retain)
{
	struct mob_topic t;
	char tid[MOB_ID_MAX], err[128];
	const char *target;
	size_t hl, sl;
	int local, router;

	if (mob_topic_parse(topic, 0, &t, err, sizeof(err)) != 0)
		return 0;
	/* "%.6s/%.3s" by hand: snprintf was a third of this per-message check */
	hl = strnlen(t.uri.part[MOB_URI_HID], MOB_HID_LEN);
	sl = strnlen(t.uri.part[MOB_URI_SID], MOB_SID_LEN);
	memcpy(tid, t.uri.part[MOB_URI_HID], hl);
	tid[hl] = '/';
	memcpy(tid + hl + 1, t.uri.part[MOB_URI_SID], sl);
	tid[hl + 1 + sl] = '\0';
	local = strcmp(t.uri.part[MOB_URI_HID], mob_keyring_hid(h->kr)) == 0;
	router = hub_ident__is_router(h, id);

	switch (t.verb) {
	case MOB_VERB_COV:
	case MOB_VERB_OBJ:
	case MOB_VERB_SVC:
		return strcmp(tid, id) == 0 || (router && !local);
	case MOB_VERB_STATE:
		/* presence of other nodes reaches us through the router */
		return router && !local;
	case MOB_VERB_REQ:
		if (retain)
			return 0;
		return local || router || h->o.remote_req;
	case MOB_VERB_RSP:
		if (retain)
			return 0;
		if ((target = hub_reqs__target(h, tid, t.reqid,
		    mob_clock_mono_ms())) == NULL)
			return 0;
		return strcmp(target, id) == 0 ||
		    (router && !hub_ident__is_local(h, target));
	default:
		return 0;
	}
}

int
hub_acl__check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct hub *h = userdata;
	struct hub_client *c;
	char s1[HUB_SAFE_MAX], s2[HUB_SAFE_MAX], id[MOB_ID_MAX];
	const char *cid;

	(void)event;
	cid = mosquitto_client_id(ed->client);
	if (cid == NULL || ed->topic == NULL)
		return MOSQ_ERR_ACL_DENIED;
	if ((c = hub_clients__find(h, cid, ed->client)) == NULL ||
	    mob_cid_split(cid, id) < 0) {
		if (c == NULL && ed->access == MOSQ_ACL_READ &&
		    hub_clients__offline(h, cid, ed->client) &&
		    mob_cid_split(cid, id) >= 0)
			return acl_read(h, id, ed->topic) ? MOSQ_ERR_SUCCESS :
			    MOSQ_ERR_ACL_DENIED;
		if (ed->access == MOSQ_ACL_WRITE)
			hub_log__event(h, "refused publish from %s to %s: not "
			    "logged in (will message?)", hub_log__safe(cid, s1,
			    sizeof(s1)), hub_log__safe(ed->topic, s2, sizeof(s2)));
		return MOSQ_ERR_ACL_DENIED;
	}

	switch (ed->access) {
	case MOSQ_ACL_READ:
		return acl_read(h, id, ed->topic) ? MOSQ_ERR_SUCCESS :
		    MOSQ_ERR_ACL_DENIED;
	case MOSQ_ACL_UNSUBSCRIBE:
		return MOSQ_ERR_SUCCESS;
	case MOSQ_ACL_SUBSCRIBE:
		if (!acl_subscribe(h, id, ed->topic)) {
			h->st.acl_subscribe++;
			hub_log__event(h, "refused subscription of %s to %s", cid,
			    hub_log__safe(ed->topic, s2, sizeof(s2)));
			return MOSQ_ERR_ACL_DENIED;
		}
		/* queued now, delivered after the SUBACK (docs/hub.md) */
		if (acl_own(ed->topic, "mob/key/", id, 0) != NULL) {
			c->keysub = 1;
			hub_keys__send(h, cid);
		}
		return MOSQ_ERR_SUCCESS;
	case MOSQ_ACL_WRITE:
		if (!acl_write(h, id, ed->topic, ed->retain)) {
			h->st.acl_publish++;
			hub_log__event(h, "refused publish from %s to %s", cid,
			    hub_log__safe(ed->topic, s2, sizeof(s2)));
			return MOSQ_ERR_ACL_DENIED;
		}
		return MOSQ_ERR_SUCCESS;
	default:
		return MOSQ_ERR_ACL_DENIED;
	}
}
