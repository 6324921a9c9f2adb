/*
 * MOSQ_EVT_EXT_AUTH_START: the hardened login with a session key, in one
 * round trip of MQTT 5 enhanced authentication (mobius/session.h,
 * docs/protocol.md "Handshake").
 *
 * The CONNECT's authentication data is a login token carrying the
 * client's ephemeral X25519 key; it is checked exactly as a password token
 * (auth.c: signature, identity, window, nonce, failed-token cache).  The
 * answer, signed with the hub key, goes back as the CONNACK's
 * authentication data (mosquitto 2.0.11 copies the plugin's data_out
 * there and frees it), and the session key stays with the client's record
 * (clients.c) until it disconnects: never written anywhere.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "mobius/session.h"

#include "internal.h"

int
hub_session__start(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_extended_auth *ed = event_data;
	struct hub *h = userdata;
	const struct mob_kr_entry *e = NULL;
	struct mob_key *session = NULL;
	struct mob_token t;
	char tok[HUB_PASSWORD_MAX + 1], hub_id[MOB_ID_MAX], *answer = NULL;
	char who[MOB_ID_MAX];
	uint8_t hash[32], esk[MOB_X25519_LEN], epk[MOB_X25519_LEN];
	unsigned int hn = sizeof(hash);
	const char *id, *user;
	size_t alen = 0;
	int64_t now = mob_clock_wall_ms();
	int r;

	(void)event;
	if (ed->auth_method == NULL || strcmp(ed->auth_method,
	    MOB_AUTH_METHOD) != 0)
		return MOSQ_ERR_PLUGIN_DEFER;
	if ((id = mosquitto_client_id(ed->client)) == NULL)
		return MOSQ_ERR_AUTH;
	user = mosquitto_client_username(ed->client);
	if (hub_ident__alg(h->kr) != MOB_ALG_EDDSA || ed->data_in == NULL ||
	    ed->data_in_len == 0 || ed->data_in_len > HUB_PASSWORD_MAX ||
	    memchr(ed->data_in, '\0', ed->data_in_len) != NULL) {
		hub_auth__refused(h, id, user, MOB_EDENIED);
		return MOSQ_ERR_AUTH;
	}
	memcpy(tok, ed->data_in, ed->data_in_len);
	tok[ed->data_in_len] = '\0';
	if (EVP_Digest(tok, ed->data_in_len, hash, &hn, EVP_sha256(),
	    NULL) != 1)
		return MOSQ_ERR_AUTH;
	if (hub_auth__check(h, id, user, tok, ed->data_in_len, hash, now, &e,
	    &t) != 0)
		return MOSQ_ERR_AUTH;
	snprintf(hub_id, sizeof(hub_id), "%s/%s", mob_keyring_hid(h->kr), HUB_SID);
	/* the identity the token proved (a CLI run's HID/SID: auth.c) */
	mob_cid_split(id, who);
	if (!t.has_epk)
		r = MOB_EPROTO;
	else if ((r = mob_x25519_keypair(esk, epk)) == 0)
		r = mob_session_accept(h->key, hub_id, who, tok, ed->data_in_len,
		    t.epk, esk, &answer, &alen, &session);
	OPENSSL_cleanse(esk, sizeof(esk));
	if (r == 0 && (ed->data_out = mosquitto_malloc(alen)) == NULL)
		r = MOB_ENOMEM;
	if (r != 0) {
		hub_auth__refused(h, id, user, r);
		mob_key_free(session);
		free(answer);
		return MOSQ_ERR_AUTH;
	}
	memcpy(ed->data_out, answer, alen);
	ed->data_out_len = (uint16_t)alen;
	free(answer);
	if (hub_auth__admit(h, ed->client, id, user, e, &t, hash, session) != 0) {
		mosquitto_free(ed->data_out);
		ed->data_out = NULL;
		ed->data_out_len = 0;
		return MOSQ_ERR_AUTH;
	}
	return MOSQ_ERR_SUCCESS;
}
