/*
 * What the hub itself publishes, always signed with its own key (kid
 * HID/000): presence of every service on mob/state/HID/SID (retained) and
 * the hub's own state with its counters on mob/state/HID/000 (retained,
 * every stats_interval_ms).  Layout in docs/hub.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <systemd/sd-daemon.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "mobius/file.h"

#include "internal.h"

int
hub_state__publish(struct hub *h, const char *client_id, const char *topic,
    const char *dat_json, int retain)
{
	char *msg = NULL;
	size_t len;
	int r;

	if ((r = mob_env_sign(h->signer, topic, dat_json, &msg, &len)) != 0)
		goto out;
	if (len > INT32_MAX) {
		r = MOB_ETOOLONG;
		goto out;
	}
	if (mosquitto_broker_publish_copy(client_id, topic, (int)len, msg, 1,
	    retain, NULL) != MOSQ_ERR_SUCCESS)
		r = MOB_ENOMEM;
 out:
	if (r != 0)
		mosquitto_log_printf(MOSQ_LOG_ERR, "mobius: cannot publish on %s: %s",
		    topic, mob_strerror(r));
	free(msg);
	return r;
}

static void
state_publish(struct hub *h, const char *id, const char *state,
    const char *reason)
{
	char topic[MOB_TOPIC_MAX], *js = NULL;
	cJSON *o;

	snprintf(topic, sizeof(topic), "mob/state/%s", id);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "state", state) == NULL ||
	    (reason != NULL &&
	    cJSON_AddStringToObject(o, "reason", reason) == NULL) ||
	    cJSON_AddNumberToObject(o, "at", (double)mob_clock_wall_ms()) == NULL ||
	    (js = cJSON_PrintUnformatted(o)) == NULL)
		mosquitto_log_printf(MOSQ_LOG_ERR, "mobius: out of memory");
	else
		hub_state__publish(h, NULL, topic, js, 1);
	cJSON_Delete(o);
	free(js);
}

void
hub_state__online(struct hub *h, const char *id)
{
	state_publish(h, id, "online", NULL);
}

void
hub_state__offline(struct hub *h, const char *id, const char *reason)
{
	state_publish(h, id, "offline", reason);
}

/*
 * Nobody is connected yet: overwrite whatever presence a previous run left
 * retained (persistence) so no service looks online after a hub crash.
 */
void
hub_state__hub_start(struct hub *h)
{
	for (size_t i = 0; i < mob_keyring_count(h->kr); i++) {
		const struct mob_kr_entry *e = mob_keyring_entry(h->kr, i);

		/* once per id (rotation keeps two) */
		if (e->kind == MOB_ENTRY_SERVICE &&
		    mob_keyring_next(h->kr, e->id, NULL) == e)
			hub_state__offline(h, e->id, "hub_start");
	}
}

static int
stats_reasons(cJSON *o, const char *name, const uint64_t *v)
{
	cJSON *m;

	if ((m = cJSON_AddObjectToObject(o, name)) == NULL)
		return -1;
	for (int i = 1; i < HUB_NREASONS; i++)
		if (v[i] != 0 && cJSON_AddNumberToObject(m, mob_errname(-i),
		    (double)v[i]) == NULL)
			return -1;
	return 0;
}

void
hub_state__stats(struct hub *h)
{
	const struct hub_stats *s = &h->st;
	char topic[MOB_TOPIC_MAX], *js = NULL;
	cJSON *o, *k;
	int ok;

	snprintf(topic, sizeof(topic), "mob/state/%s/%s", mob_keyring_hid(h->kr),
	    HUB_SID);
	ok = (o = cJSON_CreateObject()) != NULL &&
	    cJSON_AddStringToObject(o, "state", "online") != NULL &&
	    cJSON_AddNumberToObject(o, "at", (double)mob_clock_wall_ms()) != NULL &&
	    (k = cJSON_AddObjectToObject(o, "keyring")) != NULL &&
	    cJSON_AddNumberToObject(k, "generation",
	    (double)h->kr_generation) != NULL &&
	    cJSON_AddStringToObject(k, "digest", h->kr_digest) != NULL &&
	    cJSON_AddNumberToObject(o, "clients",
	    (double)htab_count(h->clients)) != NULL &&
	    cJSON_AddNumberToObject(o, "logins_ok", (double)s->logins_ok) != NULL &&
	    cJSON_AddNumberToObject(o, "logins_failed",
	    (double)s->logins_failed) != NULL &&
	    cJSON_AddNumberToObject(o, "login_cached", (double)s->cached) != NULL &&
	    stats_reasons(o, "login_reasons", s->login_reason) == 0 &&
	    cJSON_AddNumberToObject(o, "verified", (double)s->verified) != NULL &&
	    cJSON_AddNumberToObject(o, "dropped", (double)s->dropped) != NULL &&
	    stats_reasons(o, "drop_reasons", s->drop_reason) == 0 &&
	    cJSON_AddNumberToObject(o, "acl_publish",
	    (double)s->acl_publish) != NULL &&
	    cJSON_AddNumberToObject(o, "acl_subscribe",
	    (double)s->acl_subscribe) != NULL &&
	    cJSON_AddNumberToObject(o, "keys_sent", (double)s->keys_sent) != NULL &&
	    cJSON_AddNumberToObject(o, "kicked", (double)s->kicked) != NULL &&
	    cJSON_AddNumberToObject(o, "pending_requests",
	    (double)htab_count(h->reqs)) != NULL &&
	    cJSON_AddNumberToObject(o, "requests_refused",
	    (double)s->req_refused) != NULL &&
	    (js = cJSON_PrintUnformatted(o)) != NULL;
	if (ok)
		hub_state__publish(h, NULL, topic, js, 1);
	else
		mosquitto_log_printf(MOSQ_LOG_ERR, "mobius: out of memory");
	cJSON_Delete(o);
	free(js);
	/* `systemctl status mobius-hub` shows it; a no-op outside systemd */
	sd_notifyf(0, "STATUS=%zu clients, %llu messages verified, %llu dropped, "
	    "%llu logins refused", htab_count(h->clients),
	    (unsigned long long)s->verified, (unsigned long long)s->dropped,
	    (unsigned long long)s->logins_failed);
}

/*
 * The outcome of the last (re)load, for mobius-keytool reload, which waits
 * for a generation after the one it saw and the digest of the keyring it
 * wrote (docs/hub.md, "Reload").  One JSON line, rewritten atomically.
 */
void
hub_state__status(struct hub *h)
{
	const char *err = h->status_err[0] != '\0' ? h->status_err : NULL;
	char *js = NULL;
	cJSON *o;

	if (h->o.status[0] == '\0')
		return;
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(o, "generation",
	    (double)h->kr_generation) == NULL ||
	    cJSON_AddBoolToObject(o, "ok", err == NULL) == NULL ||
	    (err == NULL && cJSON_AddStringToObject(o, "digest",
	    h->kr_digest) == NULL) ||
	    (err != NULL && cJSON_AddStringToObject(o, "error", err) == NULL) ||
	    (js = cJSON_PrintUnformatted(o)) == NULL ||
	    mob_file_write_atomic(h->o.status, js, strlen(js), 0644) != 0)
		mosquitto_log_printf(MOSQ_LOG_ERR, "mobius: cannot write %s",
		    h->o.status);
	cJSON_Delete(o);
	free(js);
}

int
hub_state__disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct hub *h = userdata;
	const char *cid;
	char id[MOB_ID_MAX];

	(void)event;
	if ((cid = mosquitto_client_id(ed->client)) == NULL)
		return MOSQ_ERR_SUCCESS;
	/*
	 * A login that replaced this session already owns the entry; the
	 * identity stays online while other runs of its key are connected.
	 */
	if (hub_clients__gone(h, cid, ed->client) == HUB_GONE_LAST &&
	    mob_cid_split(cid, id) >= 0)
		hub_state__offline(h, id, "disconnected");
	return MOSQ_ERR_SUCCESS;
}

/*
 * systemd's watchdog (WatchdogSec= in mobius-hub.service): mosquitto sends
 * READY=1 but never pings, so the plugin does, from the broker's own loop
 * at half the interval: a stuck loop stops the pings.  Scheduled on the
 * monotonic clock: on the wall clock a step back (a board without an RTC
 * getting NTP time) stopped them until the clock caught up, and systemd
 * killed the hub.
 */
static void
hub_watchdog(int64_t now)
{
	static int64_t period = -1, next;
	uint64_t usec;

	if (period == -1)
		period = sd_watchdog_enabled(0, &usec) > 0 ?
		    (int64_t)(usec / 2000) : 0;
	if (period == 0 || now < next)
		return;
	next = now + period;
	sd_notify(0, "WATCHDOG=1");
}

int
hub_state__tick(int event, void *event_data, void *userdata)
{
	struct hub *h = userdata;
	int64_t now = mob_clock_mono_ms();	/* a clock step must not stop pings */

	(void)event;
	(void)event_data;
	h->reloading = 0;
	hub_watchdog(now);
	/*
	 * Written here, not in the reload callback: by now mosquitto has
	 * re-checked every session and cleared its reload flag, so a client
	 * that was told the reload is done can ask for the next one without
	 * its SIGHUP being swallowed by this one.
	 */
	if (h->status_due) {
		h->status_due = 0;
		hub_state__status(h);
		hub_state__stats(h);
	}
	if (h->log_suppressed != 0 && now / 1000 != h->log_second)
		hub_log__flush(h);
	if (now < h->next_stats)
		return MOSQ_ERR_SUCCESS;
	h->next_stats = now + h->o.stats_ms;
	htab_purge(h->reqs, now);
	htab_purge(h->bad, now);
	hub_state__stats(h);
	return MOSQ_ERR_SUCCESS;
}
