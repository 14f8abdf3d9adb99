#!/usr/bin/python3
"""Issue 14: on a device whose algorithm policy is modern (the default), PKCS#11 3.0's modern set,
and none of the legacy mechanisms.

The mechanism list and C_GetMechanismInfo against docs/pkcs11.md (the legacy mechanisms unlisted,
those with a legacy use answering just that use); legacy key generation and digests refused;
then each mechanism of the modern set through PyKCS11, its result checked with openssl (the
command line; python3-cryptography, which is OpenSSL, for AES-CCM, AES-XTS and ChaCha20-Poly1305,
which `openssl enc` does not do): SHA-3 digests, HMACs and RSA/ECDSA signatures; the *_GENERAL
MACs; HKDF (extract, expand, both; salt as data or key; from a data object; HKDF keys); SP 800-108
in counter and feedback mode with HMAC and CMAC; X25519 and X448; ECDH with the X9.63 KDF; Ed448;
ChaCha20-Poly1305, AES-CCM, AES-CTS, AES-XTS; the 3.0 key wraps; raw RSA for keys that name it.

Usage: modern_mechanisms_test.py PATH/TO/twinhsm PATH/TO/libtwinhsm.so
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from p11check import *  # noqa: F401,F403,E402
from mechanism_table import LEGACY, LEGACY_USE, MODERN  # noqa: E402

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, ChaCha20Poly1305  # noqa: E402

S = Setup("modern", 300)
CLI, MODULE, WORK, F, T = S.cli, S.module, S.work, S.files, S.token
DATA, DATA_F = S.data, S.data_file
READABLE = [(CKA_TOKEN, False), (CKA_SENSITIVE, False), (CKA_EXTRACTABLE, True)]
SECRET = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_GENERIC_SECRET)] + READABLE
SV = [(CKA_SIGN, True), (CKA_VERIFY, True)]


def hexout(out):
    """openssl mac/kdf print hex, with colons for kdf."""
    return bytes.fromhex(out.decode().strip().replace(":", ""))


def ossl_kdf(name, keylen, *opts):
    args = ["kdf", "-keylen", str(keylen)]
    for o in opts:
        args += ["-kdfopt", o]
    good, out, err = ossl(*(args + [name]))
    return hexout(out) if good else err


# =============================================================================================
print("=== the mechanism list of a modern device")
with step("C_GetMechanismList / C_GetMechanismInfo"):
    listed = T.mechanisms()
    check("C_GetMechanismList is the modern table of docs/pkcs11.md",
          sorted(listed) == sorted(MODERN),
          "extra %s, missing %s" % (sorted(map(hex, set(listed) - set(MODERN))),
                                    sorted(map(hex, set(MODERN) - set(listed)))))
    wrong = [hex(m) for m, (lo, hi, fl) in MODERN.items() if T.info(m) != (CKR_OK, (lo, hi, fl | CKF_HW))]
    check("C_GetMechanismInfo answers the modern table's sizes and flags", not wrong, str(wrong))
    legacy_only = set(LEGACY) - set(MODERN)
    check("no legacy mechanism is listed (%d of them)" % len(legacy_only),
          not legacy_only & set(listed))
    wrong = []
    for m in legacy_only:
        rv, (_, _, flags) = T.info(m)
        want = (CKR_OK, LEGACY_USE[m] | CKF_HW) if m in LEGACY_USE else (CKR_MECHANISM_INVALID,)
        if (rv, flags)[:len(want)] != want:
            wrong.append((hex(m), rv, flags))
    check("C_GetMechanismInfo of a legacy mechanism: its legacy use only, else MECHANISM_INVALID",
          not wrong, str(wrong))

with step("legacy mechanisms make no key and digest nothing"):
    rv = rv_of(T.generate, mech(CKM_DES3_KEY_GEN), [(CKA_CLASS, CKO_SECRET_KEY)])
    check("CKM_DES3_KEY_GEN: CKR_MECHANISM_INVALID", rv == CKR_MECHANISM_INVALID, rv_name(rv))
    rv = rv_of(T.digest, mech(CKM_MD5), DATA)
    check("CKM_MD5: CKR_MECHANISM_INVALID", rv == CKR_MECHANISM_INVALID, rv_name(rv))
    rv = rv_of(T.generate_pair, mech(CKM_RSA_PKCS_KEY_PAIR_GEN),
               [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_MODULUS_BITS, 1024)], [(CKA_CLASS, CKO_PRIVATE_KEY)])
    check("RSA-1024 generation: CKR_KEY_SIZE_RANGE", rv == CKR_KEY_SIZE_RANGE, rv_name(rv))

# =============================================================================================
print("=== SHA-3, HMACs, the *_GENERAL MACs")
SHA3 = {"sha3-224": (CKM_SHA3_224, CKM_SHA3_224_HMAC), "sha3-256": (CKM_SHA3_256, CKM_SHA3_256_HMAC),
        "sha3-384": (CKM_SHA3_384, CKM_SHA3_384_HMAC), "sha3-512": (CKM_SHA3_512, CKM_SHA3_512_HMAC)}
HK = os.urandom(48)
HKEY = T.secret(CKK_GENERIC_SECRET, HK, SV)
for name, (dm, hm) in SHA3.items():
    with step(name):
        good, out, err = ossl("dgst", "-" + name, "-binary", DATA_F)
        check("C_Digest(%s) is openssl's" % name, good and T.digest(mech(dm), DATA) == out, err)
        good, out, err = ossl("mac", "-digest", name.upper(), "-macopt", "hexkey:" + HK.hex(), "-in",
                              DATA_F, "HMAC")
        mac = T.sign(HKEY, mech(hm), DATA)
        check("HMAC-%s is openssl's" % name, good and mac == hexout(out), err)
        general = T.sign(HKEY, mech(hm + 1, ulongs(10)), DATA)
        check("the _HMAC_GENERAL variant of 10 bytes is its first 10 bytes", general == mac[:10])
        rv = T.verify_rv(HKEY, mech(hm + 1, ulongs(10)), DATA, mac)
        check("a full-length MAC is the wrong length for it: CKR_SIGNATURE_LEN_RANGE",
              rv == CKR_SIGNATURE_LEN_RANGE, rv_name(rv))

with step("CKM_SHA256_HMAC_GENERAL, CKM_AES_CMAC_GENERAL"):
    full = T.sign(HKEY, mech(CKM_SHA256_HMAC), DATA)
    check("SHA256_HMAC_GENERAL(16) is SHA256_HMAC's first 16 bytes",
          T.sign(HKEY, mech(CKM_SHA256_HMAC_GENERAL, ulongs(16)), DATA) == full[:16])
    ak = os.urandom(32)
    akey = T.secret(CKK_AES, ak, SV)
    good, out, err = ossl("mac", "-cipher", "AES-256-CBC", "-macopt", "hexkey:" + ak.hex(), "-in",
                          DATA_F, "CMAC")
    check("AES_CMAC_GENERAL(7) is openssl's CMAC's first 7 bytes",
          good and T.sign(akey, mech(CKM_AES_CMAC_GENERAL, ulongs(7)), DATA) == hexout(out)[:7], err)
    rv = rv_of(T.sign, akey, mech(CKM_AES_CMAC_GENERAL, ulongs(17)), DATA)
    check("a length over the MAC's: CKR_MECHANISM_PARAM_INVALID", rv == CKR_MECHANISM_PARAM_INVALID,
          rv_name(rv))

# =============================================================================================
print("=== signatures with SHA-3; Ed448")
with step("RSA PKCS#1 v1.5 and PSS with SHA-3"):
    pub, priv = T.generate_pair(mech(CKM_RSA_PKCS_KEY_PAIR_GEN),
                                [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False),
                                 (CKA_MODULUS_BITS, 2048), (CKA_VERIFY, True)],
                                [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False), (CKA_SIGN, True)])
    pem = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), "rsa")
    for m, name in ((CKM_SHA3_224_RSA_PKCS, "sha3-224"), (CKM_SHA3_256_RSA_PKCS, "sha3-256"),
                    (CKM_SHA3_384_RSA_PKCS, "sha3-384"), (CKM_SHA3_512_RSA_PKCS, "sha3-512")):
        sig = T.sign(priv, mech(m), DATA)
        good, _, err = ossl("dgst", "-" + name, "-verify", pem, "-signature", F.write(sig), DATA_F)
        check("%s with RSA: openssl verifies" % name, good, err)
    pss = PyKCS11.RSA_PSS_Mechanism(CKM_SHA3_256_RSA_PKCS_PSS, CKM_SHA3_256, CKG_MGF1_SHA3_256, 32)
    sig = T.sign(priv, pss, DATA)
    good, _, err = ossl("dgst", "-sha3-256", "-verify", pem, "-signature", F.write(sig), "-sigopt",
                        "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32", "-sigopt",
                        "rsa_mgf1_md:sha3-256", DATA_F)
    check("SHA3-256 RSA-PSS (MGF1 SHA3-256, salt 32): openssl verifies", good, err)

with step("ECDSA with SHA-3"):
    pub, priv = T.generate_pair(mech(CKM_EC_KEY_PAIR_GEN),
                                [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False),
                                 (CKA_EC_PARAMS, bytes.fromhex("06052b81040022")), (CKA_VERIFY, True)],
                                [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False), (CKA_SIGN, True)])
    pem = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), "p384")
    for m, name in ((CKM_ECDSA_SHA3_256, "sha3-256"), (CKM_ECDSA_SHA3_512, "sha3-512")):
        sig = T.sign(priv, mech(m), DATA)
        good, _, err = ossl("dgst", "-" + name, "-verify", pem, "-signature",
                            F.write(ecdsa_rs_to_der(sig)), DATA_F)
        check("ECDSA %s on P-384: openssl verifies" % name, good and len(sig) == 96, err)

with step("CKM_EC_EDWARDS_KEY_PAIR_GEN of Ed448, CKM_EDDSA"):
    pub, priv = T.generate_pair(mech(CKM_EC_EDWARDS_KEY_PAIR_GEN),
                                [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False),
                                 (CKA_EC_PARAMS, bytes.fromhex("06032b6571")), (CKA_VERIFY, True)],
                                [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False), (CKA_SIGN, True)])
    pem = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), "ed448")
    sig = T.sign(priv, mech(CKM_EDDSA), DATA)
    good, _, err = ossl("pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", DATA_F,
                        "-sigfile", F.write(sig))
    check("Ed448: a 114-byte signature openssl verifies", good and len(sig) == 114, err)

# =============================================================================================
print("=== HKDF")
IKM = os.urandom(40)
SALT, INFO = os.urandom(16), os.urandom(20)
IKM_KEY = T.secret(CKK_GENERIC_SECRET, IKM, [(CKA_DERIVE, True)])


def hkdf_params(extract, expand, prf, salt_type, salt=b"", salt_key=0, info=b""):
    """CK_HKDF_PARAMS: two CK_BBOOLs, then CK_ULONG-aligned fields."""
    return (bytes([extract, expand]) + bytes(6) +
            ulongs(prf, salt_type, address(salt) if salt else 0, len(salt), salt_key,
                   address(info) if info else 0, len(info)))


def hkdf_value(base, param, length=None, m=CKM_HKDF_DERIVE):
    t = SECRET + ([(CKA_VALUE_LEN, length)] if length else [])
    return T.value(T.derive(base, mech(m, param), t))


with step("CKM_HKDF_DERIVE"):
    got = hkdf_value(IKM_KEY, hkdf_params(1, 1, CKM_SHA256, CKF_HKDF_SALT_DATA, SALT, 0, INFO), 42)
    ref = ossl_kdf("HKDF", 42, "digest:SHA256", "hexkey:" + IKM.hex(), "hexsalt:" + SALT.hex(),
                   "hexinfo:" + INFO.hex())
    check("extract and expand (SHA-256, salt, info): openssl's HKDF", got == ref)
    prk = hkdf_value(IKM_KEY, hkdf_params(1, 0, CKM_SHA384, CKF_HKDF_SALT_NULL))
    ref = ossl_kdf("HKDF", 48, "digest:SHA384", "hexkey:" + IKM.hex(), "mode:EXTRACT_ONLY")
    check("extract only, no salt (SHA-384): the PRK, openssl's", prk == ref)
    got = hkdf_value(IKM_KEY, hkdf_params(0, 1, CKM_SHA3_256, CKF_HKDF_SALT_NULL, info=INFO), 64)
    ref = ossl_kdf("HKDF", 64, "digest:SHA3-256", "hexkey:" + IKM.hex(), "hexinfo:" + INFO.hex(),
                   "mode:EXPAND_ONLY")
    check("expand only (SHA3-256): openssl's", got == ref)
    salt_key = T.secret(CKK_GENERIC_SECRET, SALT, [(CKA_DERIVE, True)])
    got = hkdf_value(IKM_KEY, hkdf_params(1, 1, CKM_SHA256, CKF_HKDF_SALT_KEY, b"", salt_key.value(),
                                          INFO), 42)
    ref = ossl_kdf("HKDF", 42, "digest:SHA256", "hexkey:" + IKM.hex(), "hexsalt:" + SALT.hex(),
                   "hexinfo:" + INFO.hex())
    check("the salt a key (CKF_HKDF_SALT_KEY): the same as given as data", got == ref)

with step("CKM_HKDF_DATA, CKM_HKDF_KEY_GEN"):
    data_obj = T.create([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, False), (CKA_VALUE, IKM)])
    got = hkdf_value(data_obj, hkdf_params(1, 1, CKM_SHA256, CKF_HKDF_SALT_DATA, SALT, 0, INFO), 42,
                     CKM_HKDF_DATA)
    ref = ossl_kdf("HKDF", 42, "digest:SHA256", "hexkey:" + IKM.hex(), "hexsalt:" + SALT.hex(),
                   "hexinfo:" + INFO.hex())
    check("CKM_HKDF_DATA from a data object's value: openssl's HKDF", got == ref)
    hk = T.generate(mech(CKM_HKDF_KEY_GEN), [(CKA_CLASS, CKO_SECRET_KEY), (CKA_VALUE_LEN, 32),
                                             (CKA_DERIVE, True)] + READABLE)
    check("CKM_HKDF_KEY_GEN: a 32-byte CKK_HKDF key",
          T.attr(hk, CKA_KEY_TYPE) == CKK_HKDF and len(T.value(hk)) == 32)
    got = hkdf_value(hk, hkdf_params(1, 1, CKM_SHA512, CKF_HKDF_SALT_NULL, info=INFO), 100)
    ref = ossl_kdf("HKDF", 100, "digest:SHA512", "hexkey:" + T.value(hk).hex(),
                   "hexinfo:" + INFO.hex())
    check("it derives: openssl's HKDF of its value", got == ref)

# =============================================================================================
print("=== SP 800-108")
KI = os.urandom(32)
KI_KEY = T.secret(CKK_GENERIC_SECRET, KI, [(CKA_DERIVE, True)])
AES_KI = T.secret(CKK_AES, KI, [(CKA_DERIVE, True), (CKA_WRAP, False), (CKA_UNWRAP, False)])
LABEL = os.urandom(24)


def prf_data(*params):
    """An array of CK_PRF_DATA_PARAM {type, pValue, ulValueLen}."""
    return b"".join(ulongs(t, address(v), len(v)) if v else ulongs(t, 0, 0) for t, v in params)


COUNTER32 = bytes([0]) + bytes(7) + ulongs(32)  # CK_SP800_108_COUNTER_FORMAT {big-endian, 32}
DKM32 = ulongs(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS) + bytes([0]) + bytes(7) + ulongs(32)

with step("CKM_SP800_108_COUNTER_KDF with HMAC and CMAC"):
    for prf, base, opts in ((CKM_SHA256_HMAC, KI_KEY, ["mac:HMAC", "digest:SHA256"]),
                            (CKM_SHA3_384_HMAC, KI_KEY, ["mac:HMAC", "digest:SHA3-384"]),
                            (CKM_AES_CMAC, AES_KI, ["mac:CMAC", "cipher:AES-256-CBC"])):
        arr = prf_data((CK_SP800_108_ITERATION_VARIABLE, COUNTER32), (CK_SP800_108_BYTE_ARRAY, LABEL),
                       (CK_SP800_108_DKM_LENGTH, DKM32))
        param = ulongs(prf, 3, address(arr), 0, 0)
        got = T.value(T.derive(base, mech(CKM_SP800_108_COUNTER_KDF, param),
                               SECRET + [(CKA_VALUE_LEN, 40)]))
        ref = ossl_kdf("KBKDF", 40, *opts, "mode:counter", "hexkey:" + KI.hex(),
                       "hexsalt:" + LABEL.hex(), "use-l:1", "use-separator:0")
        check("counter mode, PRF %s: openssl's KBKDF" % hex(prf), got == ref)
    arr = prf_data((CK_SP800_108_BYTE_ARRAY, LABEL), (CK_SP800_108_ITERATION_VARIABLE, COUNTER32))
    rv = rv_of(T.derive, KI_KEY, mech(CKM_SP800_108_COUNTER_KDF,
                                      ulongs(CKM_SHA256_HMAC, 2, address(arr), 0, 0)),
               SECRET + [(CKA_VALUE_LEN, 32)])
    check("a counter after the fixed data: CKR_MECHANISM_PARAM_INVALID",
          rv == CKR_MECHANISM_PARAM_INVALID, rv_name(rv))

with step("CKM_SP800_108_FEEDBACK_KDF"):
    iv = os.urandom(32)
    arr = prf_data((CK_SP800_108_ITERATION_VARIABLE, b""), (CK_SP800_108_COUNTER, COUNTER32),
                   (CK_SP800_108_BYTE_ARRAY, LABEL))
    param = ulongs(CKM_SHA256_HMAC, 3, address(arr), len(iv), address(iv), 0, 0)
    got = T.value(T.derive(KI_KEY, mech(CKM_SP800_108_FEEDBACK_KDF, param),
                           SECRET + [(CKA_VALUE_LEN, 70)]))
    ref = ossl_kdf("KBKDF", 70, "mac:HMAC", "digest:SHA256", "mode:feedback", "hexkey:" + KI.hex(),
                   "hexsalt:" + LABEL.hex(), "hexseed:" + iv.hex(), "use-l:0", "use-separator:0")
    check("feedback mode, HMAC-SHA256, an IV: openssl's KBKDF", got == ref)

# =============================================================================================
print("=== X25519, X448, ECDH with the X9.63 KDF")
for name, oid, size in (("X25519", "06032b656e", 32), ("X448", "06032b656f", 56)):
    with step("CKM_EC_MONTGOMERY_KEY_PAIR_GEN of %s, CKM_ECDH1_DERIVE" % name):
        pub, priv = T.generate_pair(mech(CKM_EC_MONTGOMERY_KEY_PAIR_GEN),
                                    [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False),
                                     (CKA_EC_PARAMS, bytes.fromhex(oid))],
                                    [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False),
                                     (CKA_DERIVE, True)])
        check("CKK_EC_MONTGOMERY keys", T.attr(priv, CKA_KEY_TYPE) == CKK_EC_MONTGOMERY)
        ours = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), name)
        peer = F.path(name + "-peer.pem")
        must("openssl", "genpkey", "-algorithm", name, "-out", peer)
        raw = serialization.load_pem_private_key(F.read(peer), None).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        param = ulongs(CKD_NULL, 0, 0, len(raw), address(raw))
        got = T.value(T.derive(priv, mech(CKM_ECDH1_DERIVE, param), SECRET))
        good, out, err = ossl("pkeyutl", "-derive", "-inkey", peer, "-peerkey", ours)
        check("%s: the %d-byte shared secret is openssl's" % (name, size),
              good and got == out and len(got) == size, err)

with step("CKM_ECDH1_DERIVE on P-256 with CKD_SHA256_KDF and shared data"):
    pub, priv = T.generate_pair(mech(CKM_EC_KEY_PAIR_GEN),
                                [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False),
                                 (CKA_EC_PARAMS, bytes.fromhex("06082a8648ce3d030107"))],
                                [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False),
                                 (CKA_DERIVE, True)])
    ours = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), "p256")
    peer = F.path("p256-peer.pem")
    must("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", peer)
    point = serialization.load_pem_private_key(F.read(peer), None).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    shared = os.urandom(12)
    param = ulongs(CKD_SHA256_KDF, len(shared), address(shared), len(point), address(point))
    got = T.value(T.derive(priv, mech(CKM_ECDH1_DERIVE, param), SECRET + [(CKA_VALUE_LEN, 48)]))
    good, z, err = ossl("pkeyutl", "-derive", "-inkey", peer, "-peerkey", ours)
    ref = ossl_kdf("X963KDF", 48, "digest:SHA256", "hexkey:" + z.hex(), "hexinfo:" + shared.hex())
    check("X9.63 KDF (SHA-256) of openssl's ECDH secret", good and got == ref, err)

# =============================================================================================
print("=== AEADs and AES modes")
with step("CKM_CHACHA20_KEY_GEN, CKM_CHACHA20_POLY1305"):
    ck = T.generate(mech(CKM_CHACHA20_KEY_GEN), [(CKA_CLASS, CKO_SECRET_KEY), (CKA_ENCRYPT, True),
                                                 (CKA_DECRYPT, True)] + READABLE)
    kv = T.value(ck)
    nonce, aad = os.urandom(12), os.urandom(30)
    param = ulongs(address(nonce), 12, address(aad), len(aad))
    ct = T.encrypt(ck, mech(CKM_CHACHA20_POLY1305, param), DATA)
    check("a 32-byte CKK_CHACHA20 key; the ciphertext is OpenSSL's ChaCha20-Poly1305",
          len(kv) == 32 and ct == ChaCha20Poly1305(kv).encrypt(nonce, DATA, aad))
    check("it decrypts", T.decrypt(ck, mech(CKM_CHACHA20_POLY1305, param), ct) == DATA)
    rv = rv_of(T.decrypt, ck, mech(CKM_CHACHA20_POLY1305, param), ct[:-1] + bytes([ct[-1] ^ 1]))
    check("a changed tag: CKR_ENCRYPTED_DATA_INVALID", rv == CKR_ENCRYPTED_DATA_INVALID, rv_name(rv))

with step("CKM_AES_CCM"):
    kv = os.urandom(16)
    key = T.secret(CKK_AES, kv, [(CKA_ENCRYPT, True), (CKA_DECRYPT, True)])
    nonce, aad = os.urandom(11), os.urandom(9)
    param = ulongs(len(DATA), address(nonce), 11, address(aad), len(aad), 12)
    ct = T.encrypt(key, mech(CKM_AES_CCM, param), DATA)
    check("tag 12, nonce 11: OpenSSL's AES-CCM", ct == AESCCM(kv, tag_length=12).encrypt(nonce, DATA, aad))
    check("it decrypts", T.decrypt(key, mech(CKM_AES_CCM, param), ct) == DATA)
    rv = rv_of(T.encrypt, key, mech(CKM_AES_CCM, param), DATA[1:])
    check("data of another length than ulDataLen: CKR_DATA_LEN_RANGE", rv == CKR_DATA_LEN_RANGE,
          rv_name(rv))

with step("CKM_AES_CTS (CS1), CKM_AES_XTS"):
    kv, iv = os.urandom(32), os.urandom(16)
    key = T.secret(CKK_AES, kv, [(CKA_ENCRYPT, True), (CKA_DECRYPT, True)])
    for n in (16, 17, 47, 64):
        data = DATA[:n]
        ct = T.encrypt(key, mech(CKM_AES_CTS, iv), data)
        # CS1: CBC over the zero-padded data, the second-to-last block cut to the last one's size.
        padded = data + bytes(-n % 16)
        good, cbc, _ = ossl("enc", "-aes-256-cbc", "-K", kv.hex(), "-iv", iv.hex(), "-nopad", "-in",
                            F.write(padded))
        tail = n % 16 or 16
        ref = cbc[:len(cbc) - 32] + cbc[len(cbc) - 32:len(cbc) - 32 + tail] + cbc[-16:]
        check("AES-CTS of %d bytes: CS1 made from openssl's CBC" % n, good and ct == ref)
        check("it decrypts", T.decrypt(key, mech(CKM_AES_CTS, iv), ct) == data)
    xk = T.generate(mech(CKM_AES_XTS_KEY_GEN), [(CKA_CLASS, CKO_SECRET_KEY), (CKA_VALUE_LEN, 64),
                                                (CKA_ENCRYPT, True), (CKA_DECRYPT, True)] + READABLE)
    xv = T.value(xk)
    ct = T.encrypt(xk, mech(CKM_AES_XTS, iv), DATA)
    enc = Cipher(algorithms.AES(xv), modes.XTS(iv)).encryptor()
    check("AES-256-XTS (a CKK_AES_XTS key of 64 bytes): OpenSSL's XTS",
          T.attr(xk, CKA_KEY_TYPE) == CKK_AES_XTS and ct == enc.update(DATA) + enc.finalize())

# =============================================================================================
print("=== the 3.0 key wraps; raw RSA")
with step("CKM_AES_KEY_WRAP_KWP and CKM_AES_KEY_WRAP_PKCS7 against openssl"):
    kek_v = os.urandom(32)
    kek = T.secret(CKK_AES, kek_v, [(CKA_WRAP, True), (CKA_UNWRAP, True)])
    target = T.secret(CKK_GENERIC_SECRET, os.urandom(21))
    for m, cipher, iv, expect in (
            (CKM_AES_KEY_WRAP_KWP, "id-aes256-wrap-pad", "a65959a6", T.value(target)),
            (CKM_AES_KEY_WRAP_PKCS7, "id-aes256-wrap", "a6" * 8, T.value(target) + bytes([3]) * 3)):
        wrapped = T.wrap(kek, target, mech(m))
        good, out, err = ossl("enc", "-d", "-" + cipher, "-K", kek_v.hex(), "-iv", iv, "-in",
                              F.write(wrapped))
        check("%s: openssl's %s unwraps it" % (hex(m), cipher), good and out == expect, err)
        back = T.unwrap(kek, wrapped, SECRET, mech(m))
        check("twinhsm unwraps it", T.value(back) == T.value(target))

with step("CKM_RSA_X_509 with a key that names it"):
    pub, priv = T.generate_pair(mech(CKM_RSA_PKCS_KEY_PAIR_GEN),
                                [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False),
                                 (CKA_MODULUS_BITS, 2048), (CKA_VERIFY, True), (CKA_ENCRYPT, True)],
                                [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False), (CKA_SIGN, True),
                                 (CKA_ALLOWED_MECHANISMS, ulongs(CKM_RSA_X_509))])
    pem = spki_pem(F, bytes(T.attr(pub, CKA_PUBLIC_KEY_INFO)), "rsa-raw")
    msg = os.urandom(200)
    sig = T.sign(priv, mech(CKM_RSA_X_509), msg)
    good, out, err = ossl("pkeyutl", "-verifyrecover", "-pubin", "-inkey", pem, "-in", F.write(sig),
                          "-pkeyopt", "rsa_padding_mode:none")
    check("raw signature: openssl recovers the input, left-padded to 256 bytes",
          good and out == bytes(56) + msg, err)

finish()
