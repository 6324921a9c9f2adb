/*
 * Key distribution (docs/keys.md, docs/hub.md "Key distribution"): the message
 * the hub sends on mob/key/HID/SID to that one client.  It is a normal
 * envelope (mobius/envelope.h) signed by the hub's key, kid "HID/000",
 * whose "dat" is
 *
 *   hardened: {"v":1,"mode":"hardened","hid":H,"keys":[K,...]}
 *   compat:   {"v":1,"mode":"compat","hid":H,"enc":"A256GCM",
 *              "iv":B64(12 bytes),"ct":B64(ciphertext || 16-byte tag)}
 *
 * K = {"id":"HID/SID","alg":"EdDSA"|"HS256","key":B64,"state":"active"|
 * "grace","not_after":unix_s}, B64 = base64url without padding.  Hardened
 * bundles carry Ed25519 public keys; compat bundles carry PSKs, encrypted:
 * the plaintext is {"keys":[K,...]}, the AES-256-GCM key is
 * HKDF-SHA256(ikm = the client's PSK, salt = "", info = MOB_KEYDIST_INFO)
 * and the AAD is the topic.  The hub's own key (HID/000) is always in the
 * list, so in compat mode a client learns the hub PSK from the bundle and
 * only then checks the envelope's HMAC with it.
 */
#ifndef MOBIUS_KEYDIST_H
#define MOBIUS_KEYDIST_H

#include <stddef.h>
#include <stdint.h>

#include "mobius/envelope.h"
#include "mobius/keyring.h"

#define MOB_KEYDIST_INFO	"mobius keydist v1"
#define MOB_KEYDIST_MAX		(256 * 1024)	/* cap on a bundle message */

/*
 * Hub side: the envelope for client_id ("HID/SID") on topic
 * mob/key/HID/SID, listing every service and hub entry of kr usable at
 * now_s (active, or grace before not_after; never revoked or peer keys).
 * client_key is the client's own key: its PSK in compat mode (used to
 * encrypt), ignored in hardened mode (may be NULL).  *out is
 * NUL-terminated, free() it.
 */
int mob_keydist_seal(const struct mob_keyring *kr, struct mob_signer *hub,
    const char *client_id, const struct mob_key *client_key, int64_t now_s,
    char **out, size_t *outlen);

/*
 * Client side: check and open a bundle received on mob/key/<client_id>.
 * own_key is the client's key (its PSK in compat mode, to decrypt).
 * hub_key, when not NULL, is the pinned hub key the envelope must verify
 * with; when NULL the envelope must verify with the hub entry carried in
 * the bundle itself (the transport guarantees the origin: only the hub may
 * publish on mob/key/#).  iat must be within window_ms (0 = default) of
 * now_ms.  On success *out is a keyring (mode, hid, entries; keys are
 * public in hardened mode, secrets in compat mode) to free with
 * mob_keyring_free().
 */
int mob_keydist_open(const char *msg, size_t len, const char *client_id,
    const struct mob_key *own_key, const struct mob_key *hub_key,
    int64_t now_ms, int64_t window_ms, struct mob_keyring **out);

#endif
