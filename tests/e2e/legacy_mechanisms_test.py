#!/usr/bin/python3
"""Issue 14: on a device whose algorithm policy is legacy, every mechanism SoftHSMv2 2.6.1 has.

`pkcs11-tool -M` lists every name SoftHSMv2 2.6.1 lists (both modules asked in this run), with the
sizes and flags of docs/pkcs11.md; then each legacy mechanism works through PyKCS11 and its result
is checked with openssl (python3-cryptography, itself OpenSSL, only to read key components):
DES, two- and three-key Triple DES key generation, ECB, CBC and CBC_PAD both ways, Triple DES
CMAC; the *_ENCRYPT_DATA derivations of DES, Triple DES and AES; DSA parameter and key generation
and signatures, openssl's DSA signatures verified; DH parameter and key generation and
derivation against an openssl key; MD5, HMAC-MD5, MD5 with RSA; raw RSA both ways; RSA-1024;
ECDSA and ECDH on P-192; EC keys on explicitly given curve parameters.

Usage: legacy_mechanisms_test.py PATH/TO/twinhsm PATH/TO/libtwinhsm.so
"""

import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from p11check import *  # noqa: F401,F403,E402
from mechanism_table import LEGACY  # noqa: E402

from cryptography.hazmat.primitives import serialization  # noqa: E402

S = Setup("legacy", 200)
CLI, MODULE, WORK, F, T = S.cli, S.module, S.work, S.files, S.token
DATA, DATA_F = S.data, S.data_file
LEGACY_PROVIDER = ["-provider", "legacy", "-provider", "default"]

# =============================================================================================
print("=== the mechanism list, against SoftHSMv2's")


def tool_names(module, env):
    p = run("pkcs11-tool", "-M", "--module", module, env=env)
    lines = p.stdout.decode().splitlines()
    return p.returncode, {line.strip().split(",")[0] for line in lines if line.startswith("  ")}


with step("pkcs11-tool -M lists every mechanism of SoftHSMv2 2.6.1"):
    shsm = os.path.join(WORK, "softhsm")
    os.makedirs(os.path.join(shsm, "tokens"))
    with open(os.path.join(shsm, "softhsm2.conf"), "w") as f:
        f.write("directories.tokendir = %s/tokens\nobjectstore.backend = file\n" % shsm)
    env = dict(os.environ, SOFTHSM2_CONF=os.path.join(shsm, "softhsm2.conf"))
    must("softhsm2-util", "--init-token", "--free", "--label", "ref", "--so-pin", "12345678",
         "--pin", "123456", env=env)
    rc_s, softhsm = tool_names("/usr/lib/softhsm/libsofthsm2.so", env)
    rc_t, twinhsm = tool_names(MODULE, dict(os.environ))
    check("pkcs11-tool -M on both modules", rc_s == 0 and rc_t == 0 and len(softhsm) >= 70,
          "SoftHSMv2 lists %d" % len(softhsm))
    missing = sorted(softhsm - twinhsm)
    check("every SoftHSMv2 mechanism name is listed (%d of them)" % len(softhsm), not missing,
          "missing: %s" % missing)

with step("C_GetMechanismInfo of every mechanism of a legacy device"):
    listed = T.mechanisms()
    check("C_GetMechanismList is the legacy table of docs/pkcs11.md",
          sorted(listed) == sorted(LEGACY),
          "extra %s, missing %s" % (sorted(set(listed) - set(LEGACY)),
                                    sorted(set(LEGACY) - set(listed))))
    wrong = []
    for m, (lo, hi, flags) in LEGACY.items():
        rv, got = T.info(m)
        if rv != CKR_OK or got != (lo, hi, flags | CKF_HW):
            wrong.append((hex(m), rv, got))
    check("every C_GetMechanismInfo answers the table's sizes and flags", not wrong, str(wrong))

# =============================================================================================
print("=== DES and Triple DES")
READABLE = [(CKA_TOKEN, False), (CKA_SENSITIVE, False), (CKA_EXTRACTABLE, True),
            (CKA_ENCRYPT, True), (CKA_DECRYPT, True), (CKA_SIGN, True), (CKA_VERIFY, True),
            (CKA_DERIVE, True), (CKA_WRAP, False), (CKA_UNWRAP, False)]
DES_KEYS = {}  # name: (handle, value)
for name, gen, length in (("DES", CKM_DES_KEY_GEN, 8), ("DES2", CKM_DES2_KEY_GEN, 16),
                          ("DES3", CKM_DES3_KEY_GEN, 24)):
    with step("%s key generation" % name):
        h = T.generate(mech(gen), [(CKA_CLASS, CKO_SECRET_KEY)] + READABLE)
        v = T.value(h)
        DES_KEYS[name] = (h, v)
        check("%s: a %d-byte key, odd parity in every byte, CKA_KEY_GEN_MECHANISM" % (name, length),
              len(v) == length and all(bin(b).count("1") % 2 == 1 for b in v)
              and T.attr(h, CKA_KEY_GEN_MECHANISM) == gen, v.hex())

# (mechanism, openssl cipher, IV length, padding) per key type.
DES_MODES = {
    "DES": ((CKM_DES_ECB, "des-ecb", 0, False), (CKM_DES_CBC, "des-cbc", 8, False),
            (CKM_DES_CBC_PAD, "des-cbc", 8, True)),
    "DES2": ((CKM_DES3_ECB, "des-ede", 0, False), (CKM_DES3_CBC, "des-ede-cbc", 8, False),
             (CKM_DES3_CBC_PAD, "des-ede-cbc", 8, True)),
    "DES3": ((CKM_DES3_ECB, "des-ede3", 0, False), (CKM_DES3_CBC, "des-ede3-cbc", 8, False),
             (CKM_DES3_CBC_PAD, "des-ede3-cbc", 8, True)),
}


def openssl_enc(cipher, key, iv, data, decrypt=False, pad=False):
    args = ["enc", "-" + cipher, "-K", key.hex(), "-in", F.write(data)] + LEGACY_PROVIDER
    if iv:
        args += ["-iv", iv.hex()]
    if not pad:
        args.append("-nopad")
    if decrypt:
        args.append("-d")
    good, out, err = ossl(*args)
    return out if good else err


for name, modes in DES_MODES.items():
    for m, cipher, iv_len, pad in modes:
        label = "%s with a %s key" % (PyKCS11.CKM.get(m, hex(m)), name)
        with step(label):
            h, v = DES_KEYS[name]
            iv = os.urandom(iv_len)
            data = DATA[:-3] if pad else DATA[:192]
            ct = T.encrypt(h, mech(m, iv or None), data)
            check(label + ": openssl %s decrypts" % cipher,
                  openssl_enc(cipher, v, iv, ct, decrypt=True, pad=pad) == data)
            theirs = openssl_enc(cipher, v, iv, data, pad=pad)
            check(label + ": twinhsm decrypts openssl's, the same ciphertext",
                  theirs == ct and T.decrypt(h, mech(m, iv or None), theirs) == data)

with step("CKM_DES3_CMAC and CKM_DES3_CMAC_GENERAL"):
    for name in ("DES2", "DES3"):
        h, v = DES_KEYS[name]
        three = v if len(v) == 24 else v + v[:8]
        good, out, err = ossl("mac", "-cipher", "DES-EDE3-CBC", "-macopt", "hexkey:" + three.hex(),
                              "-in", DATA_F, "CMAC")
        ref = bytes.fromhex(out.decode().strip()) if good else b""
        mac = T.sign(h, mech(CKM_DES3_CMAC), DATA)
        check("DES3_CMAC with a %s key is openssl's CMAC" % name, mac == ref and len(mac) == 8,
              err)
        check("it verifies; a changed one does not",
              T.verify_rv(h, mech(CKM_DES3_CMAC), DATA, mac) == CKR_OK and
              T.verify_rv(h, mech(CKM_DES3_CMAC), DATA, bytes([mac[0] ^ 1]) + mac[1:])
              == CKR_SIGNATURE_INVALID)
        general = T.sign(h, mech(CKM_DES3_CMAC_GENERAL, (5).to_bytes(8, sys.byteorder)), DATA)
        check("DES3_CMAC_GENERAL of 5 bytes is its first 5 bytes", general == ref[:5])

# =============================================================================================
print("=== derivation by encryption")


def derive_value(base, m, param, length):
    h = T.derive(base, mech(m, param), [(CKA_CLASS, CKO_SECRET_KEY),
                                       (CKA_KEY_TYPE, CKK_GENERIC_SECRET),
                                       (CKA_VALUE_LEN, length)] + READABLE[:3])
    return T.value(h)


AES_VALUE = os.urandom(32)
AES_KEY = T.secret(CKK_AES, AES_VALUE, [(CKA_DERIVE, True), (CKA_ENCRYPT, True), (CKA_WRAP, False),
                                        (CKA_UNWRAP, False)])
for name, ecb_m, cbc_m, key, value, ecb, cbc, block in (
        ("DES", CKM_DES_ECB_ENCRYPT_DATA, CKM_DES_CBC_ENCRYPT_DATA, DES_KEYS["DES"][0],
         DES_KEYS["DES"][1], "des-ecb", "des-cbc", 8),
        ("DES3", CKM_DES3_ECB_ENCRYPT_DATA, CKM_DES3_CBC_ENCRYPT_DATA, DES_KEYS["DES3"][0],
         DES_KEYS["DES3"][1], "des-ede3", "des-ede3-cbc", 8),
        ("AES", CKM_AES_ECB_ENCRYPT_DATA, CKM_AES_CBC_ENCRYPT_DATA, AES_KEY, AES_VALUE,
         "aes-256-ecb", "aes-256-cbc", 16)):
    with step("%s_ECB_ENCRYPT_DATA and %s_CBC_ENCRYPT_DATA" % (name, name)):
        data = os.urandom(32)
        # CK_KEY_DERIVATION_STRING_DATA {pData, ulLen}; CK_*_CBC_ENCRYPT_DATA_PARAMS {iv, pData,
        # length}.
        got = derive_value(key, ecb_m, ulongs(address(data), len(data)), 32)
        check("%s_ECB_ENCRYPT_DATA: the key is openssl's %s of the data" % (name, ecb),
              got == openssl_enc(ecb, value, b"", data))
        iv = os.urandom(block)
        got = derive_value(key, cbc_m, iv + ulongs(address(data), len(data)), 24)
        check("%s_CBC_ENCRYPT_DATA: the key is the leftmost 24 bytes of openssl's %s" % (name, cbc),
              got == openssl_enc(cbc, value, iv, data)[:24])

# =============================================================================================
print("=== MD5")
with step("CKM_MD5, CKM_MD5_HMAC"):
    check("CKM_MD5 is openssl's MD5", T.digest(mech(CKM_MD5), DATA) == hashlib.md5(DATA).digest()
          and ossl("dgst", "-md5", "-binary", DATA_F)[1] == hashlib.md5(DATA).digest())
    hk = os.urandom(24)
    good, out, _ = ossl("mac", "-digest", "MD5", "-macopt", "hexkey:" + hk.hex(), "-in", DATA_F,
                        "HMAC")
    key = T.secret(CKK_GENERIC_SECRET, hk, [(CKA_SIGN, True), (CKA_VERIFY, True)])
    check("CKM_MD5_HMAC is openssl's HMAC-MD5",
          good and T.sign(key, mech(CKM_MD5_HMAC), DATA) == bytes.fromhex(out.decode().strip()))

# =============================================================================================
print("=== RSA: 1024-bit keys, MD5 with RSA, raw RSA")
RSA_PUB = [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False), (CKA_VERIFY, True),
           (CKA_ENCRYPT, True)]
RSA_PRIV = [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False), (CKA_SIGN, True),
            (CKA_DECRYPT, True)]
with step("CKM_RSA_PKCS_KEY_PAIR_GEN of 1024 bits, SHA256 and MD5 with RSA"):
    pub, priv = T.generate_pair(mech(CKM_RSA_PKCS_KEY_PAIR_GEN),
                                RSA_PUB + [(CKA_MODULUS_BITS, 1024)], RSA_PRIV)
    pem = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), "rsa1024")
    check("a 1024-bit modulus", T.attr(pub, CKA_MODULUS_BITS) == 1024)
    for m, md in ((CKM_SHA256_RSA_PKCS, "sha256"), (CKM_MD5_RSA_PKCS, "md5")):
        sig = T.sign(priv, mech(m), DATA)
        good, _, err = ossl("dgst", "-" + md, "-verify", pem, "-signature", F.write(sig), DATA_F)
        check("%s: openssl verifies" % PyKCS11.CKM[m], good, err)

with step("CKM_RSA_X_509 both ways with an openssl key"):
    kpem = F.path("rsa-ossl.pem")
    must("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", kpem)
    k = serialization.load_pem_private_key(F.read(kpem), None)
    n = k.private_numbers()
    b = lambda i: i.to_bytes((i.bit_length() + 7) // 8, "big")  # noqa: E731
    pub = T.create([(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_RSA), (CKA_TOKEN, False),
                    (CKA_MODULUS, b(n.public_numbers.n)), (CKA_PUBLIC_EXPONENT, b(n.public_numbers.e)),
                    (CKA_ENCRYPT, True), (CKA_VERIFY, True)])
    priv = T.create([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_RSA), (CKA_TOKEN, False),
                     (CKA_MODULUS, b(n.public_numbers.n)), (CKA_PUBLIC_EXPONENT, b(n.public_numbers.e)),
                     (CKA_PRIVATE_EXPONENT, b(n.d)), (CKA_PRIME_1, b(n.p)), (CKA_PRIME_2, b(n.q)),
                     (CKA_EXPONENT_1, b(n.dmp1)), (CKA_EXPONENT_2, b(n.dmq1)),
                     (CKA_COEFFICIENT, b(n.iqmp)), (CKA_SIGN, True), (CKA_DECRYPT, True)])
    msg = b"\0" + os.urandom(127)
    ct = T.encrypt(pub, mech(CKM_RSA_X_509), msg)
    good, out, err = ossl("pkeyutl", "-decrypt", "-inkey", kpem, "-in", F.write(ct), "-pkeyopt",
                          "rsa_padding_mode:none")
    check("raw encryption: openssl decrypts (no padding)", good and out == msg, err)
    good, theirs, err = ossl("pkeyutl", "-encrypt", "-inkey", kpem, "-in", F.write(msg), "-pkeyopt",
                             "rsa_padding_mode:none")
    check("raw decryption of openssl's: all k bytes back",
          good and T.decrypt(priv, mech(CKM_RSA_X_509), theirs) == msg, err)
    sig = T.sign(priv, mech(CKM_RSA_X_509), msg[1:])
    good, out, err = ossl("pkeyutl", "-verifyrecover", "-inkey", kpem, "-in", F.write(sig),
                          "-pkeyopt", "rsa_padding_mode:none")
    check("raw signature: openssl recovers the input", good and out == msg, err)
    check("it verifies", T.verify_rv(pub, mech(CKM_RSA_X_509), msg[1:], sig) == CKR_OK)

# =============================================================================================
print("=== DSA")
with step("CKM_DSA_PARAMETER_GEN, CKM_DSA_KEY_PAIR_GEN, CKM_DSA and CKM_DSA_SHA*"):
    params = T.generate(mech(CKM_DSA_PARAMETER_GEN),
                        [(CKA_CLASS, CKO_DOMAIN_PARAMETERS), (CKA_TOKEN, False),
                         (CKA_PRIME_BITS, 1024)])
    p, q, g = (bytes(T.attr(params, a)) for a in (CKA_PRIME, CKA_SUBPRIME, CKA_BASE))
    check("domain parameters: a 1024-bit p, a 160-bit q, CKA_PRIME_BITS, CKA_LOCAL",
          len(p) == 128 and len(q) == 20
          and int.from_bytes(bytes(T.attr(params, CKA_PRIME_BITS)), sys.byteorder) == 1024
          and T.attr(params, CKA_LOCAL) is True, "CKA_LOCAL %r" % (T.attr(params, CKA_LOCAL),))
    pub, priv = T.generate_pair(mech(CKM_DSA_KEY_PAIR_GEN),
                                [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False), (CKA_PRIME, p),
                                 (CKA_SUBPRIME, q), (CKA_BASE, g), (CKA_VERIFY, True)],
                                [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False),
                                 (CKA_SIGN, True)])
    pem = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), "dsa")
    for m, md in ((CKM_DSA_SHA1, "sha1"), (CKM_DSA_SHA224, "sha224"), (CKM_DSA_SHA256, "sha256"),
                  (CKM_DSA_SHA384, "sha384"), (CKM_DSA_SHA512, "sha512")):
        sig = T.sign(priv, mech(m), DATA)
        good, _, err = ossl("dgst", "-" + md, "-verify", pem, "-signature",
                            F.write(ecdsa_rs_to_der(sig)), DATA_F)
        check("%s: 40 bytes r || s, openssl verifies" % PyKCS11.CKM[m], good and len(sig) == 40,
              err)
    hash_ = hashlib.sha256(DATA).digest()
    sig = T.sign(priv, mech(CKM_DSA), hash_)
    good, _, err = ossl("pkeyutl", "-verify", "-pubin", "-inkey", pem, "-in", F.write(hash_),
                        "-sigfile", F.write(ecdsa_rs_to_der(sig)))
    check("CKM_DSA of a SHA-256 hash: openssl verifies", good, err)

with step("openssl's DSA signature verified by twinhsm"):
    kpem = F.path("dsa-ossl.pem")
    ppem = F.path("dsa-params.pem")
    must("openssl", "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt",
         "dsa_paramgen_bits:2048", "-pkeyopt", "dsa_paramgen_q_bits:256", "-out", ppem)
    must("openssl", "genpkey", "-paramfile", ppem, "-out", kpem)
    k = serialization.load_pem_private_key(F.read(kpem), None).public_key().public_numbers()
    pn = k.parameter_numbers
    b = lambda i: i.to_bytes((i.bit_length() + 7) // 8, "big")  # noqa: E731
    pub = T.create([(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_DSA), (CKA_TOKEN, False),
                    (CKA_PRIME, b(pn.p)), (CKA_SUBPRIME, b(pn.q)), (CKA_BASE, b(pn.g)),
                    (CKA_VALUE, b(k.y)), (CKA_VERIFY, True)])
    good, der, err = ossl("dgst", "-sha256", "-sign", kpem, DATA_F)
    sig = ecdsa_der_to_rs(der, 32)
    check("CKM_DSA_SHA256 verifies openssl's 2048/256 signature",
          good and T.verify_rv(pub, mech(CKM_DSA_SHA256), DATA, sig) == CKR_OK, err)
    check("a changed one does not", T.verify_rv(pub, mech(CKM_DSA_SHA256), DATA[1:], sig)
          == CKR_SIGNATURE_INVALID)

# =============================================================================================
print("=== Diffie-Hellman")
with step("CKM_DH_PKCS_PARAMETER_GEN, CKM_DH_PKCS_KEY_PAIR_GEN, CKM_DH_PKCS_DERIVE"):
    params = T.generate(mech(CKM_DH_PKCS_PARAMETER_GEN),
                        [(CKA_CLASS, CKO_DOMAIN_PARAMETERS), (CKA_TOKEN, False),
                         (CKA_PRIME_BITS, 512)])
    p, g = bytes(T.attr(params, CKA_PRIME)), bytes(T.attr(params, CKA_BASE))
    check("DH parameters: a 512-bit safe prime, g = 2", len(p) == 64 and g == b"\x02")
    pub, priv = T.generate_pair(mech(CKM_DH_PKCS_KEY_PAIR_GEN),
                                [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False), (CKA_PRIME, p),
                                 (CKA_BASE, g)],
                                [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False),
                                 (CKA_DERIVE, True)])
    ours = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), "dh")
    dhparams = F.write(b"-----BEGIN DH PARAMETERS-----\n" +
                       __import__("base64").encodebytes(tlv(0x30, der_int(p) + der_int(g))) +
                       b"-----END DH PARAMETERS-----\n", "dhp.pem")
    peer = F.path("dh-peer.pem")
    must("openssl", "genpkey", "-paramfile", dhparams, "-out", peer)
    y = serialization.load_pem_private_key(F.read(peer), None).public_key().public_numbers().y
    h = T.derive(priv, mech(CKM_DH_PKCS_DERIVE, y.to_bytes(64, "big")),
                 [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_GENERIC_SECRET)] + READABLE[:3])
    good, out, err = ossl("pkeyutl", "-derive", "-inkey", peer, "-peerkey", ours, "-pkeyopt",
                          "dh_pad:1")
    check("the derived secret is openssl's (64 bytes, padded to p)",
          good and T.value(h) == out and len(out) == 64, err)

with step("CKM_DH_PKCS_DERIVE refuses peer values outside the prime-order subgroup"):
    # Small-subgroup attack: a peer value of small order gives a shared secret that reveals the
    # private value modulo that order. Over a safe prime p = 2q + 1 the orders are 2, q and 2q:
    # p - 1 (order 2) and p - y (order 2q: the private value's parity) must be refused.
    P = int.from_bytes(p, "big")
    secret_t = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_GENERIC_SECRET)] + READABLE[:3]
    for name, bad in (("p - 1 (order 2)", P - 1), ("p - y (order 2q)", P - y)):
        check("a peer value of %s is CKR_MECHANISM_PARAM_INVALID" % name,
              rv_of(T.derive, priv, mech(CKM_DH_PKCS_DERIVE, bad.to_bytes(64, "big")), secret_t)
              == CKR_MECHANISM_PARAM_INVALID)
    # A group that is not a safe prime has no subgroup the token can check a peer value against:
    # DH derivation over it is refused. The Mersenne prime 2^521 - 1: (p - 1)/2 = 2^520 - 1 is a
    # multiple of 3, and 2 has order 521 there (a small subgroup).
    R = 2 ** 521 - 1
    weak = T.create([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_DH), (CKA_TOKEN, False),
                     (CKA_PRIME, R.to_bytes(66, "big")), (CKA_BASE, b"\x02"),
                     (CKA_VALUE, (12345678901234567).to_bytes(8, "big")), (CKA_DERIVE, True)])
    check("over a group that is not a safe prime, CKM_DH_PKCS_DERIVE is "
          "CKR_MECHANISM_PARAM_INVALID",
          rv_of(T.derive, weak, mech(CKM_DH_PKCS_DERIVE, pow(2, 99991, R).to_bytes(66, "big")),
                secret_t) == CKR_MECHANISM_PARAM_INVALID)

# =============================================================================================
print("=== EC: P-192 and explicit parameters")
P192 = bytes.fromhex("06082a8648ce3d030101")
with step("CKM_EC_KEY_PAIR_GEN on P-192, ECDSA and ECDH"):
    pub, priv = T.generate_pair(mech(CKM_EC_KEY_PAIR_GEN),
                                [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False),
                                 (CKA_EC_PARAMS, P192), (CKA_VERIFY, True)],
                                [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False),
                                 (CKA_SIGN, True), (CKA_DERIVE, True)])
    pem = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), "p192")
    sig = T.sign(priv, mech(CKM_ECDSA_SHA256), DATA)
    good, _, err = ossl("dgst", "-sha256", "-verify", pem, "-signature", F.write(ecdsa_rs_to_der(sig)),
                        DATA_F)
    check("ECDSA_SHA256 on P-192: 48 bytes, openssl verifies", good and len(sig) == 48, err)
    peer = F.path("p192-peer.pem")
    must("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime192v1",
         "-out", peer)
    point = serialization.load_pem_private_key(F.read(peer), None).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    params = ulongs(CKD_NULL, 0, 0, len(point), address(point))
    h = T.derive(priv, mech(CKM_ECDH1_DERIVE, params),
                 [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_GENERIC_SECRET)] + READABLE[:3])
    good, out, err = ossl("pkeyutl", "-derive", "-inkey", peer, "-peerkey", pem)
    check("ECDH on P-192 is openssl's", good and T.value(h) == out, err)

with step("CKM_EC_KEY_PAIR_GEN on explicit parameters of P-256"):
    good, explicit, err = ossl("ecparam", "-name", "prime256v1", "-param_enc", "explicit",
                               "-outform", "DER")
    pub, priv = T.generate_pair(mech(CKM_EC_KEY_PAIR_GEN),
                                [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False),
                                 (CKA_EC_PARAMS, explicit), (CKA_VERIFY, True)],
                                [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False),
                                 (CKA_SIGN, True)])
    check("CKA_EC_PARAMS is kept as given", bytes(T.attr(priv, CKA_EC_PARAMS)) == explicit)
    pem = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), "explicit")
    sig = T.sign(priv, mech(CKM_ECDSA_SHA256), DATA)
    good, _, err = ossl("dgst", "-sha256", "-verify", pem, "-signature", F.write(ecdsa_rs_to_der(sig)),
                        DATA_F)
    check("ECDSA_SHA256: openssl verifies", good, err)

finish()
