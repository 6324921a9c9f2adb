#!/usr/bin/python3
"""An independent implementation of docs/protocol.md's handshake, key
schedule, compat key derivation and session MAC (Debian's python3 with
python3-cryptography; nothing of the C library).  Prints NAME=VALUE lines
for the fixed inputs of the test vectors; tests/test_session.c compares
them with the C library's output and with the constants in the document.
"""
import base64
import hashlib
import hmac
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RAW = serialization.Encoding.Raw
PUB = serialization.PublicFormat.Raw


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hkdf(ikm, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                info=info.encode()).derive(ikm)


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def jws(header, claims, sign):
    si = b64(compact(header)) + "." + b64(compact(claims))
    return si + "." + b64(sign(si.encode()))


SVC_SEED = bytes([0x01] * 32)
HUB_SEED = bytes([0x02] * 32)
C_ESK = bytes([0x03] * 32)
H_ESK = bytes([0x04] * 32)
NONCE = bytes([0x05] * 16)
IAT = 1700000000000
SID, USER, HUB = "000001/01F", "001F/01F", "000001/000"

svc = Ed25519PrivateKey.from_private_bytes(SVC_SEED)
hub = Ed25519PrivateKey.from_private_bytes(HUB_SEED)
c_eph = X25519PrivateKey.from_private_bytes(C_ESK)
h_eph = X25519PrivateKey.from_private_bytes(H_ESK)
c_epk = c_eph.public_key().public_bytes(RAW, PUB)
h_epk = h_eph.public_key().public_bytes(RAW, PUB)

login = jws({"alg": "EdDSA", "kid": SID},
            {"iss": SID, "sub": USER, "iat": IAT, "nonce": b64(NONCE),
             "epk": b64(c_epk)}, svc.sign)
answer = jws({"alg": "EdDSA", "kid": HUB},
             {"iss": HUB, "aud": SID, "epk": b64(h_epk),
              "th": b64(hashlib.sha256(login.encode()).digest())}, hub.sign)
dh = c_eph.exchange(X25519PublicKey.from_public_bytes(h_epk))
assert dh == h_eph.exchange(X25519PublicKey.from_public_bytes(c_epk))
th = hashlib.sha256(login.encode() + b"\0" + answer.encode()).digest()
key = hkdf(dh, th, "mobius/1 session c2h")
env = jws({"alg": "HS256", "kid": SID},
          {"iss": SID, "top": "mob/cov/000001/01F/003A/0001/40", "iat": IAT,
           "seq": 1700000000000001, "dat": {"v": 21.5}},
          lambda m: hmac.new(key, m, hashlib.sha256).digest())

psk = bytes(range(32))
print("service_pub=" + svc.public_key().public_bytes(RAW, PUB).hex())
print("hub_pub=" + hub.public_key().public_bytes(RAW, PUB).hex())
print("client_epk=" + c_epk.hex())
print("hub_epk=" + h_epk.hex())
print("login=" + login)
print("answer=" + answer)
print("dh=" + dh.hex())
print("th=" + th.hex())
print("session_key=" + key.hex())
print("envelope=" + env)
print("compat_login_key=" + hkdf(psk, None, "mobius/1 login").hex())
print("compat_message_key=" + hkdf(psk, None, "mobius/1 message").hex())
