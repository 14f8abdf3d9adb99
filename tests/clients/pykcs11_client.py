#!/usr/bin/python3
"""A Python application using twinhsm through PyKCS11 (Debian python3-pykcs11).

Usage: pykcs11_client.py MODULE PIN OUTDIR

Generates an EC P-256 and an RSA-2048 key pair on the token, finds them by label and by id,
signs OUTDIR/data with each (CKM_ECDSA_SHA256, CKM_SHA256_RSA_PKCS) and writes, for openssl to
check: OUTDIR/py-ec.pub.der and OUTDIR/py-rsa.pub.der (SubjectPublicKeyInfo built from the
public keys' attributes), OUTDIR/py-ec.sig (DER ECDSA-Sig-Value) and OUTDIR/py-rsa.sig. Prints
what it found as "name: value" lines.
"""
import os
import sys

import PyKCS11
from PyKCS11 import (CKA_CLASS, CKA_EC_PARAMS, CKA_EC_POINT, CKA_ID, CKA_KEY_TYPE, CKA_LABEL,
                     CKA_MODULUS, CKA_MODULUS_BITS, CKA_PRIVATE, CKA_PUBLIC_EXPONENT, CKA_SENSITIVE,
                     CKA_SIGN, CKA_TOKEN, CKA_VERIFY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY)

module, pin, outdir = sys.argv[1:4]
P256 = bytes.fromhex("06082a8648ce3d030107")  # the OID of prime256v1, DER


def der_len(n):
    return bytes([n]) if n < 0x80 else (b"\x81" + bytes([n]) if n < 0x100 else b"\x82" + n.to_bytes(2, "big"))


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_int(b):
    b = bytes(b).lstrip(b"\0") or b"\0"
    return tlv(0x02, b"\0" + b if b[0] & 0x80 else b)


lib = PyKCS11.PyKCS11Lib()
lib.load(module)
info = lib.getInfo()
print("library:", info.libraryDescription.strip())
slot = lib.getSlotList(tokenPresent=True)[0]
print("token:", lib.getTokenInfo(slot).label.strip())
session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
session.login(pin)

# Key pairs: EC P-256 (id 42) and RSA 2048 (id 43).
common_pub = [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, True), (CKA_VERIFY, True)]
common_priv = [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, True), (CKA_SIGN, True), (CKA_PRIVATE, True),
               (CKA_SENSITIVE, True)]
ec_pub, ec_priv = session.generateKeyPair(
    common_pub + [(CKA_EC_PARAMS, P256), (CKA_LABEL, "py-ec"), (CKA_ID, (0x42,))],
    common_priv + [(CKA_LABEL, "py-ec"), (CKA_ID, (0x42,))],
    mecha=PyKCS11.MechanismECGENERATEKEYPAIR)
rsa_pub, rsa_priv = session.generateKeyPair(
    common_pub + [(CKA_MODULUS_BITS, 2048), (CKA_PUBLIC_EXPONENT, (1, 0, 1)), (CKA_LABEL, "py-rsa"),
                  (CKA_ID, (0x43,))],
    common_priv + [(CKA_LABEL, "py-rsa"), (CKA_ID, (0x43,))],
    mecha=PyKCS11.MechanismRSAGENERATEKEYPAIR)
print("generated: py-ec py-rsa")

# Finding objects: by label, by id, by class and label.
by_label = session.findObjects([(CKA_LABEL, "py-ec")])
print("found by label py-ec:", len(by_label))
by_id = session.findObjects([(CKA_ID, (0x43,))])
print("found by id 43:", len(by_id))
key = session.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, "py-rsa")])
print("found private key py-rsa:", len(key))
print("found by label none-such:", len(session.findObjects([(CKA_LABEL, "none-such")])))
classes = sorted(session.getAttributeValue(o, [CKA_CLASS])[0] for o in by_label)
print("classes of py-ec:", " ".join(PyKCS11.CKO[c] for c in classes))
print("same handle:", key[0].value() == rsa_priv.value())
ec_priv = session.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_ID, (0x42,))])[0]
print("key type of id 42:", PyKCS11.CKK[session.getAttributeValue(ec_priv, [CKA_KEY_TYPE])[0]])

data = open(os.path.join(outdir, "data"), "rb").read()

# ECDSA: the token returns r || s; openssl wants the DER ECDSA-Sig-Value.
sig = bytes(session.sign(ec_priv, data, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256)))
half = len(sig) // 2
open(os.path.join(outdir, "py-ec.sig"), "wb").write(tlv(0x30, der_int(sig[:half]) + der_int(sig[half:])))
# CKA_EC_POINT is the DER OCTET STRING holding the uncompressed point.
point = bytes(session.getAttributeValue(ec_pub, [CKA_EC_POINT])[0])
q = point[2:] if point[1] < 0x80 else point[3:]
spki = tlv(0x30, tlv(0x30, bytes.fromhex("06072a8648ce3d0201") + P256) + tlv(0x03, b"\0" + q))
open(os.path.join(outdir, "py-ec.pub.der"), "wb").write(spki)

sig = bytes(session.sign(key[0], data, PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS)))
open(os.path.join(outdir, "py-rsa.sig"), "wb").write(sig)
n, e = session.getAttributeValue(rsa_pub, [CKA_MODULUS, CKA_PUBLIC_EXPONENT])
rsa_alg = tlv(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00")
spki = tlv(0x30, rsa_alg + tlv(0x03, b"\0" + tlv(0x30, der_int(n) + der_int(e))))
open(os.path.join(outdir, "py-rsa.pub.der"), "wb").write(spki)
print("signed: py-ec py-rsa")

# The token verifies its own signature too.
ok = session.verify(rsa_pub, data, sig, PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS))
print("C_Verify of the RSA signature:", ok)

session.logout()
session.closeSession()
