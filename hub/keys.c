/*
 * Key distribution on mob/key/HID/SID (docs/keys.md, lib/keys/keydist.c).  A bundle
 * goes to one client, when it subscribes to its own key topic (acl.c), and
 * again to every such client after a reload changed the keyring.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "mobius/keydist.h"

#include "internal.h"

void
hub_keys__send(struct hub *h, const char *client_id)
{
	const struct hub_client *c = htab_get(h->clients, client_id, 0);
	char topic[MOB_TOPIC_MAX], id[MOB_ID_MAX], *msg = NULL;
	size_t len;
	int r;

	/* the bundle of its identity, to this client id alone */
	if (c == NULL || mob_cid_split(client_id, id) < 0)
		return;
	snprintf(topic, sizeof(topic), "mob/key/%s", id);
	if ((r = mob_keydist_seal(h->kr, h->signer, id, c->key,
	    time(NULL), &msg, &len)) != 0 || len > INT32_MAX) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "mobius: cannot build the key "
		    "bundle for %s: %s", client_id, mob_strerror(r));
		goto out;
	}
	if (mosquitto_broker_publish_copy(client_id, topic, (int)len, msg, 1,
	    false, NULL) != MOSQ_ERR_SUCCESS) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "mobius: cannot send keys to %s",
		    client_id);
		goto out;
	}
	h->st.keys_sent++;
	mosquitto_log_printf(MOSQ_LOG_INFO, "mobius: sent %s key bundle to %s",
	    mob_keyring_mode(h->kr) == MOB_MODE_COMPAT ? "compat" : "hardened",
	    client_id);
 out:
	free(msg);
}

static void
keys_resend(const char *id, void *val, void *arg)
{
	const struct hub_client *c = val;

	if (c->keysub)
		hub_keys__send(arg, id);
}

void
hub_keys__resend_all(struct hub *h)
{
	htab_walk(h->clients, keys_resend, h);
}
