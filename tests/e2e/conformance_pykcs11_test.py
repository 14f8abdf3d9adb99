#!/usr/bin/python3
"""Conformance run: every mechanism of docs/pkcs11.md through PyKCS11, checked by OpenSSL.

A scripted PKCS#11 session (PyKCS11, Debian python3-pykcs11, under /usr/bin/python3) on a fresh
token covers every mechanism in the mechanism table of docs/pkcs11.md, and checks each result
with an independent implementation, the `openssl` command line (OpenSSL's library through
python3-cryptography only for AES-GCM, which `openssl enc` does not do), in both directions
wherever that applies:

  - C_GetMechanismList / C_GetMechanismInfo against the table (set, key sizes, flags);
  - key generation of each kind (RSA, EC P-256/384/521, Ed25519, AES, generic secret), with the
    public keys exported from CKA_PUBLIC_KEY_INFO and compared to the SubjectPublicKeyInfo
    built from CKA_MODULUS / CKA_PUBLIC_EXPONENT / CKA_EC_POINT;
  - signatures and MACs: twinhsm signs (single- and multi-part) and openssl verifies; openssl
    signs (with its own keys, whose public keys are imported with C_CreateObject) and twinhsm
    verifies (single- and multi-part); a changed signature is refused;
  - ciphers: twinhsm encrypts and openssl decrypts (and for deterministic modes gives the same
    ciphertext); openssl encrypts and twinhsm decrypts; single- and multi-part;
  - digests (and C_DigestKey) against `openssl dgst`;
  - wrapping: twinhsm wraps and openssl unwraps (`openssl enc -id-aesNNN-wrap[-pad]`, `-aes-NNN-cbc`,
    `pkeyutl -decrypt` OAEP) and the value is compared; openssl wraps and twinhsm unwraps, and
    the unwrapped key is used (value read back, or a signature openssl verifies);
  - ECDH: C_DeriveKey against `openssl pkeyutl -derive`;
  - C_GenerateRandom / C_SeedRandom.

Usage: conformance_pykcs11_test.py PATH/TO/twinhsm PATH/TO/libtwinhsm.so
Prints one PASS/FAIL line per check and "N passed, M failed"; exits non-zero on any failure.
Set E2E_KEEP_WORKDIR=1 to keep the work directory.
"""

import atexit
import hashlib
import os
import shutil
import struct
import sys
import tempfile
import time
import traceback

try:
    import PyKCS11
    from PyKCS11 import ckbytelist
    from PyKCS11.LowLevel import *  # noqa: F401,F403 (the CKA_/CKM_/CKR_ constants)
except ImportError as e:  # pragma: no cover
    print("FAIL: PyKCS11 is needed (Debian package python3-pykcs11): %s" % e)
    print("0 passed, 1 failed")
    sys.exit(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from p11check import (FAILED, PASSED, Rv, check, der_int, der_parse, der_seq_items,  # noqa: E402
                      ecdsa_der_to_rs, ecdsa_rs_to_der, ossl, run, rv_name, step, tlv)

CLI = os.path.realpath(sys.argv[1])
MODULE = os.path.realpath(sys.argv[2])
for f in (CLI, MODULE):
    if not os.path.isfile(f):
        print("FAIL: %s does not exist: build the twinhsm and twinhsm_cli targets first" % f)
        print("0 passed, 1 failed")
        sys.exit(1)
if shutil.which("openssl") is None:
    print("FAIL: openssl is needed")
    print("0 passed, 1 failed")
    sys.exit(1)

WORK = tempfile.mkdtemp(prefix="twinhsm-e2e-conf-py.")
if os.environ.get("E2E_KEEP_WORKDIR"):
    atexit.register(lambda: print("work directory kept: %s" % WORK))
else:
    atexit.register(shutil.rmtree, WORK, True)
SO_PIN = "conf-so-pin-1"
USER_PIN = "conf-user-pin-1"


def _crash(kind, value, tb):
    """An exception outside every step (a bug of this script): still a failure and a summary."""
    traceback.print_exception(kind, value, tb, file=sys.stdout)
    print("FAIL: the script stopped: %s: %s" % (kind.__name__, value))
    print("%d passed, %d failed" % (PASSED[0], len(FAILED) + 1))
    sys.stdout.flush()


sys.excepthook = _crash


# ---------------------------------------------------------------------------------------------
# Files, processes and openssl

_seq = [0]


def wfile(data, name="f"):
    _seq[0] += 1
    path = os.path.join(WORK, "%03d-%s" % (_seq[0], name))
    with open(path, "wb") as f:
        f.write(bytes(data))
    return path


def rfile(path):
    with open(path, "rb") as f:
        return f.read()


def tmpname(name="out"):
    _seq[0] += 1
    return os.path.join(WORK, "%03d-%s" % (_seq[0], name))


def must(*args, env=None):
    p = run(*args, env=env)
    if p.returncode != 0:
        print("FAIL: setup step failed: %s\n  stdout: %s\n  stderr: %s" %
              (" ".join(map(str, args)), p.stdout.decode(errors="replace"),
               p.stderr.decode(errors="replace")))
        print("%d passed, %d failed" % (PASSED[0], len(FAILED) + 1))
        sys.exit(1)
    return p


def ossl_out(*args):
    """openssl ARGS -out FILE; returns (ok, the file's bytes or b"", stderr)."""
    out = tmpname("ossl")
    ok, _, err = ossl(args[0], "-out", out, *args[1:])
    data = rfile(out) if ok and os.path.exists(out) else b""
    return ok, data, err


def h(b):
    return bytes(b).hex()


# ---------------------------------------------------------------------------------------------
# DER

OID_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
RSA_ALG = tlv(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00")
CURVES = {  # name: (DER OID, field size in bytes, openssl name)
    "P-256": (bytes.fromhex("06082a8648ce3d030107"), 32, "prime256v1"),
    "P-384": (bytes.fromhex("06052b81040022"), 48, "secp384r1"),
    "P-521": (bytes.fromhex("06052b81040023"), 66, "secp521r1"),
}
ED25519_OID = bytes.fromhex("06032b6570")


def rsa_spki(n, e):
    return tlv(0x30, RSA_ALG + tlv(0x03, b"\0" + tlv(0x30, der_int(n) + der_int(e))))


def ec_spki(params, point):
    return tlv(0x30, tlv(0x30, OID_EC_PUBLIC_KEY + params) + tlv(0x03, b"\0" + point))


def ed_spki(pub):
    return tlv(0x30, tlv(0x30, ED25519_OID) + tlv(0x03, b"\0" + pub))


def unwrap_octet_string(b):
    """CKA_EC_POINT is a DER OCTET STRING; a raw value is returned as it is."""
    b = bytes(b)
    if b and b[0] == 0x04:
        try:
            tag, val, rest = der_parse(b)
            if tag == 0x04 and not rest and len(val) in (32, 65, 97, 133):
                return val
        except Exception:
            pass
    return b


def spki_key_bits(spki):
    """The public-key BIT STRING content (without the unused-bits byte) of a SPKI."""
    _, body, _ = der_parse(spki)
    items = der_seq_items(body)
    return items[1][1][1:], items[0][1]


HASHES = {  # name: (digest mechanism, length, openssl name, MGF1, PKCS#1 DigestInfo prefix)
    "SHA-1": (CKM_SHA_1, 20, "sha1", CKG_MGF1_SHA1, "3021300906052b0e03021a05000414"),
    "SHA-224": (CKM_SHA224, 28, "sha224", CKG_MGF1_SHA224, "302d300d06096086480165030402040500041c"),
    "SHA-256": (CKM_SHA256, 32, "sha256", CKG_MGF1_SHA256, "3031300d060960864801650304020105000420"),
    "SHA-384": (CKM_SHA384, 48, "sha384", CKG_MGF1_SHA384, "3041300d060960864801650304020205000430"),
    "SHA-512": (CKM_SHA512, 64, "sha512", CKG_MGF1_SHA512, "3051300d060960864801650304020305000440"),
}
HASH_NAMES = list(HASHES)


def pyhash(name, data):
    return hashlib.new(HASHES[name][2], data).digest()


# ---------------------------------------------------------------------------------------------
# The token

def setup_token():
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = os.path.join(WORK, "xdg-default")
    for k in ("TWINHSM_CONF", "TWINHSM_LOG", "TWINHSM_LOG_FILE"):
        env.pop(k, None)
    mk = os.path.join(WORK, "master.key")
    dev = os.path.join(WORK, "device")
    must(CLI, "factory", "new-master-key", "-o", mk, env=env)
    must(CLI, "factory", "personalize", "--device", dev, "--master-key", mk, "--diversifier",
         "e2e-conformance-py", "--serial", "CONF-PY", "--pbkdf2-iterations", "1000", env=env)
    must(CLI, "token", "init", "--device", dev, "--label", "conformance", "--so-pin", SO_PIN,
         "--pin", USER_PIN, env=env)
    conf = os.path.join(WORK, "twinhsm.toml")
    with open(conf, "w") as f:
        f.write('[[slot]]\ndevice = "%s"\n' % dev)
    # The module reads these at C_Initialize, in this process.
    os.environ["XDG_DATA_HOME"] = env["XDG_DATA_HOME"]
    os.environ["TWINHSM_CONF"] = conf
    for k in ("TWINHSM_LOG", "TWINHSM_LOG_FILE"):
        os.environ.pop(k, None)


setup_token()
lib = PyKCS11.PyKCS11Lib()
lib.load(MODULE)
SLOT = lib.getSlotList(tokenPresent=True)[0]
S = lib.openSession(SLOT, CKF_SERIAL_SESSION | CKF_RW_SESSION)
# A wrapping key the SO made trusted, of a value this script knows: the only kind of key under
# which a sensitive key may be wrapped when its value is known outside the token (the key policy,
# docs/threat-model.md). The script needs it to get the token's private keys out for openssl. A
# public session object: it outlives the SO's logout.
TRUSTED_KEK = os.urandom(32)
S.login(SO_PIN, CKU_SO)
TRUSTED_KEK_H = S.createObject([
    (CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES), (CKA_TOKEN, False), (CKA_PRIVATE, False),
    (CKA_SENSITIVE, True), (CKA_EXTRACTABLE, False), (CKA_TRUSTED, True), (CKA_WRAP, True),
    (CKA_UNWRAP, True), (CKA_VALUE, TRUSTED_KEK), (CKA_LABEL, "trusted kek")])
S.logout()
S.login(USER_PIN)
LL, SH = S.lib, S.session  # the low-level API, for multi-part operations


def attr(obj, a):
    return S.getAttributeValue(obj, [a])[0]


def battr(obj, a):
    return bytes(attr(obj, a))


def M(mech, param=None):
    return PyKCS11.Mechanism(mech, param)


def chunks(data, sizes=(1, 7, 16, 33, 100, 1000, 4096)):
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        out.append(data[i:i + n])
        i += n
        k += 1
    return out


def ok(call, rv):
    if rv != CKR_OK:
        raise Rv(call, rv)


def buf(n):
    return ckbytelist([0] * max(n, 1))


def sign1(key, mech, data):
    return bytes(S.sign(key, data, mech))


def sign_multi(key, mech, data):
    ok("C_SignInit", LL.C_SignInit(SH, mech.to_native(), key))
    for c in chunks(data):
        ok("C_SignUpdate", LL.C_SignUpdate(SH, ckbytelist(c)))
    out = buf(1024)
    ok("C_SignFinal", LL.C_SignFinal(SH, out))
    return bytes(out)


def verify1(key, mech, data, sig):
    """C_VerifyInit + C_Verify; returns the C_Verify return value."""
    ok("C_VerifyInit", LL.C_VerifyInit(SH, mech.to_native(), key))
    return LL.C_Verify(SH, ckbytelist(data), ckbytelist(sig))


def verify_multi(key, mech, data, sig):
    ok("C_VerifyInit", LL.C_VerifyInit(SH, mech.to_native(), key))
    for c in chunks(data):
        rv = LL.C_VerifyUpdate(SH, ckbytelist(c))
        if rv != CKR_OK:
            return rv
    return LL.C_VerifyFinal(SH, ckbytelist(sig))


def encrypt1(key, mech, data):
    return bytes(S.encrypt(key, data, mech))


def decrypt1(key, mech, data):
    return bytes(S.decrypt(key, data, mech))


def crypt_multi(init, update, final, key, mech, data):
    ok(init.__name__, init(SH, mech.to_native(), key))
    out = b""
    for c in chunks(data):
        o = buf(len(c) + 64)
        ok(update.__name__, update(SH, ckbytelist(c), o))
        out += bytes(o)
    o = buf(len(data) + 64)
    ok(final.__name__, final(SH, o))
    return out + bytes(o)


def encrypt_multi(key, mech, data):
    return crypt_multi(LL.C_EncryptInit, LL.C_EncryptUpdate, LL.C_EncryptFinal, key, mech, data)


def decrypt_multi(key, mech, data):
    return crypt_multi(LL.C_DecryptInit, LL.C_DecryptUpdate, LL.C_DecryptFinal, key, mech, data)


def flip(b, at=None):
    b = bytearray(b)
    b[len(b) // 2 if at is None else at] ^= 0x01
    return bytes(b)


def secret_template(key_type, extra=()):
    t = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_TOKEN, False)]
    if key_type is not None:
        t.append((CKA_KEY_TYPE, key_type))
    return t + list(extra)


READABLE = [(CKA_SENSITIVE, False), (CKA_EXTRACTABLE, True)]
AES_USES = [(CKA_ENCRYPT, True), (CKA_DECRYPT, True), (CKA_SIGN, True), (CKA_VERIFY, True),
            (CKA_WRAP, True), (CKA_UNWRAP, True)]


def import_aes(value, label):
    return S.createObject(secret_template(CKK_AES, READABLE + AES_USES + [(CKA_VALUE, value),
                                                                         (CKA_LABEL, label)]))


DATA = os.urandom(3001)
DATA_F = wfile(DATA, "data")
TAMPERED = DATA[:1500] + bytes([DATA[1500] ^ 1]) + DATA[1501:]
TAMPERED_F = wfile(TAMPERED, "tampered")

# =============================================================================================
print("=== the mechanism list against docs/pkcs11.md")
from mechanism_table import MODERN  # noqa: E402  (the table, written out twice)

EXPECTED_MECHS = MODERN


def mname(m):
    return PyKCS11.CKM.get(m, hex(m))


with step("C_GetMechanismList / C_GetMechanismInfo"):
    raw_list = PyKCS11.LowLevel.ckintlist()  # numbers: PyKCS11 lacks some 3.0 names
    ok("C_GetMechanismList", lib.lib.C_GetMechanismList(SLOT, raw_list))
    listed_ids = list(raw_list)
    missing = sorted(mname(m) for m in EXPECTED_MECHS if m not in listed_ids)
    extra = sorted(mname(m) for m in listed_ids if m not in EXPECTED_MECHS)
    check("C_GetMechanismList lists every mechanism of the table", not missing,
          "missing: %s" % missing)
    check("C_GetMechanismList lists nothing outside the table", not extra, "extra: %s" % extra)
    for m, (lo, hi, flags) in EXPECTED_MECHS.items():
        if m not in listed_ids:
            continue
        info = PyKCS11.LowLevel.CK_MECHANISM_INFO()
        ok("C_GetMechanismInfo", lib.lib.C_GetMechanismInfo(SLOT, m, info))
        got = (info.ulMinKeySize, info.ulMaxKeySize, info.flags)
        want = (lo, hi, flags | CKF_HW)
        check("C_GetMechanismInfo(%s): key sizes %d-%d, flags 0x%x" % (mname(m), lo, hi, want[2]),
              got == want, "got sizes %d-%d flags 0x%x" % got)

# =============================================================================================
print("=== keys made by openssl (the independent side)")
OSSL = {}  # name: dict(pem=private PEM, pub=public PEM, p8=PKCS#8 DER, spki=SPKI DER)


def ossl_key(name, *genargs):
    pem = tmpname(name + ".pem")
    must("openssl", "genpkey", *genargs, "-out", pem)
    pub = tmpname(name + ".pub.pem")
    must("openssl", "pkey", "-in", pem, "-pubout", "-out", pub)
    p8 = tmpname(name + ".p8.der")
    # (`openssl pkey -outform DER` writes RSA and EC keys in their traditional form.)
    must("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER", "-out", p8)
    spki = tmpname(name + ".spki.der")
    must("openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER", "-out", spki)
    OSSL[name] = dict(pem=pem, pub=pub, p8=rfile(p8), spki=rfile(spki))


ossl_key("rsa", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
for cname, (_, _, oname) in CURVES.items():
    ossl_key(cname, "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + oname)
ossl_key("ed25519", "-algorithm", "ED25519")
print("openssl keys: rsa-2048, P-256, P-384, P-521, Ed25519")

# Their public keys in the token (C_CreateObject), for C_Verify / C_Encrypt / C_WrapKey.
IMP = {}
with step("C_CreateObject of openssl's public keys"):
    bits, _ = spki_key_bits(OSSL["rsa"]["spki"])
    _, seq, _ = der_parse(bits)
    (_, n), (_, e) = der_seq_items(seq)
    IMP["rsa"] = S.createObject([
        (CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_RSA), (CKA_TOKEN, False),
        (CKA_MODULUS, n.lstrip(b"\0")), (CKA_PUBLIC_EXPONENT, e), (CKA_VERIFY, True),
        (CKA_ENCRYPT, True), (CKA_WRAP, True), (CKA_LABEL, "imp-rsa")])
    check("C_CreateObject: openssl's RSA public key; CKA_PUBLIC_KEY_INFO is openssl's SPKI",
          battr(IMP["rsa"], CKA_PUBLIC_KEY_INFO) == OSSL["rsa"]["spki"])
    for cname, (oid, size, _) in CURVES.items():
        point, _ = spki_key_bits(OSSL[cname]["spki"])
        IMP[cname] = S.createObject([
            (CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_EC), (CKA_TOKEN, False),
            (CKA_EC_PARAMS, oid), (CKA_EC_POINT, tlv(0x04, point)), (CKA_VERIFY, True),
            (CKA_LABEL, "imp-" + cname)])
        check("C_CreateObject: openssl's %s public key; CKA_PUBLIC_KEY_INFO is openssl's SPKI" % cname,
              battr(IMP[cname], CKA_PUBLIC_KEY_INFO) == OSSL[cname]["spki"])
    pub, _ = spki_key_bits(OSSL["ed25519"]["spki"])
    IMP["ed25519"] = S.createObject([
        (CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_EC_EDWARDS), (CKA_TOKEN, False),
        (CKA_EC_PARAMS, ED25519_OID), (CKA_EC_POINT, tlv(0x04, pub)), (CKA_VERIFY, True),
        (CKA_LABEL, "imp-ed25519")])
    check("C_CreateObject: openssl's Ed25519 public key; CKA_PUBLIC_KEY_INFO is openssl's SPKI",
          battr(IMP["ed25519"], CKA_PUBLIC_KEY_INFO) == OSSL["ed25519"]["spki"])

# =============================================================================================
print("=== key generation")
TOK = {}  # name: (public handle, private handle, public PEM file)


def export_pub(pub, name):
    """CKA_PUBLIC_KEY_INFO → PEM through openssl; returns the PEM file."""
    spki = battr(pub, CKA_PUBLIC_KEY_INFO)
    pem = tmpname(name + ".pem")
    good, _, err = ossl("pkey", "-pubin", "-inform", "DER", "-in", wfile(spki, name + ".der"),
                        "-out", pem)
    check("openssl reads the %s public key from CKA_PUBLIC_KEY_INFO" % name, good, err)
    return pem, spki


def check_generated(obj, name, mech, extra=()):
    local, kgm = attr(obj, CKA_LOCAL), attr(obj, CKA_KEY_GEN_MECHANISM)
    check("%s: CKA_LOCAL true and CKA_KEY_GEN_MECHANISM %s" % (name, mname(mech)),
          local is True and kgm == mech, "CKA_LOCAL %r, CKA_KEY_GEN_MECHANISM %r" % (local, kgm))
    for a, want in extra:
        got = attr(obj, a)
        check("%s: %s is %r" % (name, PyKCS11.CKA.get(a, a), want), got == want, "got %r" % (got,))


PRIV_COMMON = [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False), (CKA_PRIVATE, True),
               (CKA_SENSITIVE, True), (CKA_EXTRACTABLE, True), (CKA_SIGN, True)]
PUB_COMMON = [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_TOKEN, False), (CKA_VERIFY, True)]

with step("CKM_RSA_PKCS_KEY_PAIR_GEN"):
    t0 = time.time()
    pub, priv = S.generateKeyPair(
        PUB_COMMON + [(CKA_KEY_TYPE, CKK_RSA), (CKA_MODULUS_BITS, 2048),
                      (CKA_PUBLIC_EXPONENT, (1, 0, 1)), (CKA_ENCRYPT, True), (CKA_LABEL, "tok-rsa")],
        PRIV_COMMON + [(CKA_KEY_TYPE, CKK_RSA), (CKA_DECRYPT, True), (CKA_LABEL, "tok-rsa")],
        mecha=M(CKM_RSA_PKCS_KEY_PAIR_GEN))
    pem, spki = export_pub(pub, "tok-rsa")
    TOK["rsa"] = (pub, priv, pem)
    n, e = battr(pub, CKA_MODULUS), battr(pub, CKA_PUBLIC_EXPONENT)
    check("RSA-2048 generated in %.1fs: CKA_MODULUS is 256 bytes, CKA_MODULUS_BITS 2048, exponent 65537"
          % (time.time() - t0), len(n) == 256 and attr(pub, CKA_MODULUS_BITS) == 2048
          and int.from_bytes(e, "big") == 65537)
    check("RSA: CKA_PUBLIC_KEY_INFO is the SPKI of CKA_MODULUS/CKA_PUBLIC_EXPONENT",
          spki == rsa_spki(n, e))
    check("RSA: the private key's CKA_MODULUS is the public key's", battr(priv, CKA_MODULUS) == n)
    check_generated(priv, "RSA private key", CKM_RSA_PKCS_KEY_PAIR_GEN,
                    [(CKA_ALWAYS_SENSITIVE, True), (CKA_NEVER_EXTRACTABLE, False)])
    check_generated(pub, "RSA public key", CKM_RSA_PKCS_KEY_PAIR_GEN)

with step("CKM_RSA_PKCS_KEY_PAIR_GEN of a key-transport pair"):
    # Keys that wrap and unwrap do not encrypt or decrypt data (the strict key policy): a second
    # pair for RSA-OAEP wrapping; a pair asking for both is refused.
    expect_mixed = None
    try:
        S.generateKeyPair(
            PUB_COMMON + [(CKA_KEY_TYPE, CKK_RSA), (CKA_MODULUS_BITS, 2048), (CKA_ENCRYPT, True),
                          (CKA_WRAP, True)],
            PRIV_COMMON + [(CKA_KEY_TYPE, CKK_RSA), (CKA_DECRYPT, True), (CKA_UNWRAP, True)],
            mecha=M(CKM_RSA_PKCS_KEY_PAIR_GEN))
    except PyKCS11.PyKCS11Error as e:
        expect_mixed = e.value
    check("a pair that both wraps and decrypts is refused: CKR_TEMPLATE_INCONSISTENT",
          expect_mixed == CKR_TEMPLATE_INCONSISTENT, rv_name(expect_mixed or 0))
    pub, priv = S.generateKeyPair(
        PUB_COMMON + [(CKA_KEY_TYPE, CKK_RSA), (CKA_MODULUS_BITS, 2048), (CKA_WRAP, True),
                      (CKA_LABEL, "tok-rsa-kw")],
        PRIV_COMMON + [(CKA_KEY_TYPE, CKK_RSA), (CKA_UNWRAP, True), (CKA_LABEL, "tok-rsa-kw")],
        mecha=M(CKM_RSA_PKCS_KEY_PAIR_GEN))
    pem, spki = export_pub(pub, "tok-rsa-kw")
    TOK["rsa-kw"] = (pub, priv, pem)
    check("the key-transport pair wraps and unwraps, and neither encrypts nor decrypts",
          attr(pub, CKA_WRAP) is True and attr(priv, CKA_UNWRAP) is True
          and attr(pub, CKA_ENCRYPT) is False and attr(priv, CKA_DECRYPT) is False)

for bits in (3072, 4096):
    name = "CKM_RSA_PKCS_KEY_PAIR_GEN %d" % bits
    with step(name):
        pub, priv = S.generateKeyPair(
            PUB_COMMON + [(CKA_KEY_TYPE, CKK_RSA), (CKA_MODULUS_BITS, bits), (CKA_ENCRYPT, True)],
            PRIV_COMMON + [(CKA_KEY_TYPE, CKK_RSA), (CKA_DECRYPT, True)],
            mecha=M(CKM_RSA_PKCS_KEY_PAIR_GEN))
        pem, spki = export_pub(pub, "tok-rsa%d" % bits)
        check("%s: a %d-byte modulus, exponent 65537 by default" % (name, bits // 8),
              len(battr(pub, CKA_MODULUS)) == bits // 8
              and int.from_bytes(battr(pub, CKA_PUBLIC_EXPONENT), "big") == 65537)
        mech = PyKCS11.RSA_PSS_Mechanism(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64)
        sig = bytes(S.sign(priv, DATA, mech))
        good, out, err = ossl("dgst", "-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt",
                              "rsa_pss_saltlen:64", "-verify", pem, "-signature", wfile(sig, "sig"),
                              DATA_F)
        check("%s: openssl verifies a SHA512-RSA-PKCS-PSS signature of the key" % name,
              good and b"Verified OK" in out and len(sig) == bits // 8, err)
        pt = os.urandom(64)
        good, ct, err = ossl_out("pkeyutl", "-encrypt", "-pubin", "-inkey", pem, "-in", wfile(pt, "pt"),
                                 "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                                 "-pkeyopt", "rsa_mgf1_md:sha256")
        check("%s: twinhsm decrypts openssl's OAEP SHA-256 ciphertext" % name,
              good and bytes(S.decrypt(priv, ct, PyKCS11.RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256)))
              == pt, err)


def expect_rv(name, want, fn):
    try:
        fn()
        check(name, False, "returned CKR_OK")
    except PyKCS11.PyKCS11Error as e:
        check(name, e.value == want, rv_name(e.value))


with step("key generation outside the documented ranges"):
    expect_rv("CKM_RSA_PKCS_KEY_PAIR_GEN with CKA_MODULUS_BITS 1024: CKR_KEY_SIZE_RANGE (documented)",
              CKR_KEY_SIZE_RANGE, lambda: S.generateKeyPair(
                  PUB_COMMON + [(CKA_MODULUS_BITS, 1024)], PRIV_COMMON,
                  mecha=M(CKM_RSA_PKCS_KEY_PAIR_GEN)))
    expect_rv("CKM_EC_KEY_PAIR_GEN on secp256k1: CKR_CURVE_NOT_SUPPORTED (documented)",
              CKR_CURVE_NOT_SUPPORTED, lambda: S.generateKeyPair(
                  PUB_COMMON + [(CKA_EC_PARAMS, bytes.fromhex("06052b8104000a"))], PRIV_COMMON,
                  mecha=M(CKM_EC_KEY_PAIR_GEN)))
    pub, priv = S.generateKeyPair(PUB_COMMON + [(CKA_EC_PARAMS, tlv(0x13, b"prime256v1"))],
                                  PRIV_COMMON, mecha=M(CKM_EC_KEY_PAIR_GEN))
    spki = battr(pub, CKA_PUBLIC_KEY_INFO)
    check("CKM_EC_KEY_PAIR_GEN with CKA_EC_PARAMS the PrintableString prime256v1 makes a P-256 key",
          spki_key_bits(spki)[1] == OID_EC_PUBLIC_KEY + CURVES["P-256"][0])

for cname, (oid, size, _) in CURVES.items():
    with step("CKM_EC_KEY_PAIR_GEN " + cname):
        pub, priv = S.generateKeyPair(
            PUB_COMMON + [(CKA_KEY_TYPE, CKK_EC), (CKA_EC_PARAMS, oid), (CKA_LABEL, "tok-" + cname)],
            PRIV_COMMON + [(CKA_KEY_TYPE, CKK_EC), (CKA_DERIVE, True), (CKA_LABEL, "tok-" + cname)],
            mecha=M(CKM_EC_KEY_PAIR_GEN))
        pem, spki = export_pub(pub, "tok-" + cname)
        TOK[cname] = (pub, priv, pem)
        point = battr(pub, CKA_EC_POINT)
        q = unwrap_octet_string(point)
        check("%s: CKA_EC_POINT is a DER OCTET STRING of an uncompressed point (%d bytes)"
              % (cname, 1 + 2 * size), point[0] == 0x04 and q != point and len(q) == 1 + 2 * size
              and q[0] == 0x04, point.hex()[:20])
        check("%s: CKA_PUBLIC_KEY_INFO is the SPKI of CKA_EC_PARAMS/CKA_EC_POINT" % cname,
              spki == ec_spki(oid, q))
        check_generated(priv, "%s private key" % cname, CKM_EC_KEY_PAIR_GEN)

with step("CKM_EC_EDWARDS_KEY_PAIR_GEN"):
    pub, priv = S.generateKeyPair(
        PUB_COMMON + [(CKA_KEY_TYPE, CKK_EC_EDWARDS), (CKA_EC_PARAMS, ED25519_OID),
                      (CKA_LABEL, "tok-ed25519")],
        PRIV_COMMON + [(CKA_KEY_TYPE, CKK_EC_EDWARDS), (CKA_LABEL, "tok-ed25519")],
        mecha=M(CKM_EC_EDWARDS_KEY_PAIR_GEN))
    pem, spki = export_pub(pub, "tok-ed25519")
    TOK["ed25519"] = (pub, priv, pem)
    q = unwrap_octet_string(battr(pub, CKA_EC_POINT))
    check("Ed25519: CKA_EC_POINT holds 32 bytes", len(q) == 32, battr(pub, CKA_EC_POINT).hex())
    check("Ed25519: CKA_PUBLIC_KEY_INFO is the SPKI of CKA_EC_POINT", spki == ed_spki(q))
    check_generated(priv, "Ed25519 private key", CKM_EC_EDWARDS_KEY_PAIR_GEN)

AES = {}  # bytes: (handle, value)
for n in (16, 24, 32):
    with step("CKM_AES_KEY_GEN %d" % n):
        k = S.generateKey(secret_template(CKK_AES, READABLE + AES_USES +
                                          [(CKA_VALUE_LEN, n), (CKA_LABEL, "aes%d" % n)]),
                          mecha=M(CKM_AES_KEY_GEN))
        v = battr(k, CKA_VALUE)
        AES[n] = (k, v)
        check("CKM_AES_KEY_GEN: an AES-%d key, CKA_VALUE of %d bytes, CKA_VALUE_LEN %d"
              % (n * 8, n, n), len(v) == n and attr(k, CKA_VALUE_LEN) == n)
        check_generated(k, "AES-%d key" % (n * 8), CKM_AES_KEY_GEN)
with step("CKM_AES_KEY_GEN: two keys differ"):
    other = S.generateKey(secret_template(CKK_AES, READABLE + [(CKA_VALUE_LEN, 32)]))
    check("CKM_AES_KEY_GEN: two generated keys differ", AES[32][1] != battr(other, CKA_VALUE))

GEN = {}
for n in (20, 64):
    with step("CKM_GENERIC_SECRET_KEY_GEN %d" % n):
        k = S.generateKey(secret_template(None, READABLE + [(CKA_VALUE_LEN, n), (CKA_SIGN, True),
                                                           (CKA_VERIFY, True)]),
                          mecha=M(CKM_GENERIC_SECRET_KEY_GEN))
        v = battr(k, CKA_VALUE)
        GEN[n] = (k, v)
        check("CKM_GENERIC_SECRET_KEY_GEN: CKK_GENERIC_SECRET of %d bytes" % n,
              attr(k, CKA_KEY_TYPE) == CKK_GENERIC_SECRET and len(v) == n)
        check_generated(k, "generic secret %d" % n, CKM_GENERIC_SECRET_KEY_GEN)

# =============================================================================================
print("=== getting token keys out for openssl (wrapped with CKM_AES_KEY_WRAP_PAD)")
KEK, KEK_H = TRUSTED_KEK, TRUSTED_KEK_H
with step("the wrapping key"):
    untrusted = import_aes(os.urandom(32), "kek")
    expect_rv("a sensitive private key does not leave under a key whose value is known: "
              "CKR_KEY_NOT_WRAPPABLE", CKR_KEY_NOT_WRAPPABLE,
              lambda: S.wrapKey(untrusted, TOK["P-256"][1], M(CKM_AES_KEY_WRAP_PAD)))


def openssl_kwp_unwrap(wrapped, kek):
    return ossl_out("enc", "-d", "-id-aes%d-wrap-pad" % (len(kek) * 8), "-K", h(kek),
                    "-iv", "A65959A6", "-bufsize", "65536", "-in", wfile(wrapped, "kwp"))


TOK_PRIV_PEM = {}
for name in ("rsa", "rsa-kw", "P-256", "P-384", "P-521", "ed25519"):
    with step("C_WrapKey(CKM_AES_KEY_WRAP_PAD) of the token's %s private key" % name):
        pub, priv, _ = TOK[name]
        wrapped = bytes(S.wrapKey(KEK_H, priv, M(CKM_AES_KEY_WRAP_PAD)))
        good, p8, err = openssl_kwp_unwrap(wrapped, KEK)
        check("openssl -id-aes256-wrap-pad unwraps the token's wrapped %s private key" % name, good, err)
        check("the wrapped %s key is ceil(n/8)*8+8 bytes" % name,
              len(wrapped) == (len(p8) + 7) // 8 * 8 + 8, "%d for %d" % (len(wrapped), len(p8)))
        pem = tmpname("tok-%s-priv.pem" % name)
        good, _, err = ossl("pkey", "-inform", "DER", "-in", wfile(p8, "p8"), "-out", pem)
        check("openssl reads the unwrapped %s key as PKCS#8" % name, good, err)
        good, spki, err = ossl_out("pkey", "-in", pem, "-pubout", "-outform", "DER")
        check("the %s private key openssl unwrapped belongs to the token's public key" % name,
              good and spki == battr(pub, CKA_PUBLIC_KEY_INFO), err)
        TOK_PRIV_PEM[name] = pem

# =============================================================================================
print("=== RSA signatures")
RSA_PUB, RSA_PRIV, RSA_PEM = TOK["rsa"]
RSA_OSSL_PRIV = OSSL["rsa"]["pem"]
RSA_OSSL_PUB = OSSL["rsa"]["pub"]
RSA_MECHS = {"SHA-1": CKM_SHA1_RSA_PKCS, "SHA-224": CKM_SHA224_RSA_PKCS,
             "SHA-256": CKM_SHA256_RSA_PKCS, "SHA-384": CKM_SHA384_RSA_PKCS,
             "SHA-512": CKM_SHA512_RSA_PKCS}
PSS_MECHS = {"SHA-1": CKM_SHA1_RSA_PKCS_PSS, "SHA-224": CKM_SHA224_RSA_PKCS_PSS,
             "SHA-256": CKM_SHA256_RSA_PKCS_PSS, "SHA-384": CKM_SHA384_RSA_PKCS_PSS,
             "SHA-512": CKM_SHA512_RSA_PKCS_PSS}


def ossl_dgst_verify(md, pub_pem, data_f, sig, *sigopts):
    good, out, err = ossl("dgst", "-" + md, *sigopts, "-verify", pub_pem, "-signature",
                          wfile(sig, "sig"), data_f)
    return good and b"Verified OK" in out, err


def ossl_dgst_sign(md, priv_pem, data_f, *sigopts):
    good, sig, err = ossl_out("dgst", "-" + md, *sigopts, "-sign", priv_pem, data_f)
    if not good:
        raise RuntimeError("openssl dgst -sign: " + err)
    return sig


def both_verifies(mech_name, key, mech, data, sig):
    """twinhsm verifies an openssl signature, single- and multi-part, and refuses a changed one."""
    rv = verify1(key, mech, data, sig)
    check("%s: twinhsm C_Verify accepts openssl's signature" % mech_name, rv == CKR_OK, rv_name(rv))
    rv = verify_multi(key, mech, data, sig)
    check("%s: twinhsm C_VerifyUpdate/Final accepts openssl's signature" % mech_name,
          rv == CKR_OK, rv_name(rv))
    rv = verify1(key, mech, data, flip(sig))
    check("%s: twinhsm C_Verify refuses a changed signature (CKR_SIGNATURE_INVALID)" % mech_name,
          rv == CKR_SIGNATURE_INVALID, rv_name(rv))
    rv = verify_multi(key, mech, TAMPERED if data == DATA else flip(data), sig)
    check("%s: twinhsm C_VerifyFinal refuses the signature of other data" % mech_name,
          rv == CKR_SIGNATURE_INVALID, rv_name(rv))


for hn, mech_id in RSA_MECHS.items():
    md = HASHES[hn][2]
    name = mname(mech_id)
    with step(name):
        sig = sign1(RSA_PRIV, M(mech_id), DATA)
        good, err = ossl_dgst_verify(md, RSA_PEM, DATA_F, sig)
        check("%s: openssl verifies twinhsm's C_Sign signature" % name, good and len(sig) == 256, err)
        sig2 = sign_multi(RSA_PRIV, M(mech_id), DATA)
        check("%s: C_SignUpdate/Final gives the same (deterministic) signature" % name, sig2 == sig)
        good, err = ossl_dgst_verify(md, RSA_PEM, DATA_F, sig2)
        check("%s: openssl verifies the multi-part signature" % name, good, err)
        good, err = ossl_dgst_verify(md, RSA_PEM, TAMPERED_F, sig)
        check("%s: openssl refuses it for other data" % name, not good)
        both_verifies(name, IMP["rsa"], M(mech_id), DATA, ossl_dgst_sign(md, RSA_OSSL_PRIV, DATA_F))

with step("CKM_RSA_PKCS (raw, a DigestInfo)"):
    name = "CKM_RSA_PKCS"
    # (openssl pkeyutl signs at most 64 bytes without a digest: SHA-256's DigestInfo, 51 bytes.)
    for hn in ("SHA-256", "SHA-1"):
        di = bytes.fromhex(HASHES[hn][4]) + pyhash(hn, DATA)
        sig = sign1(RSA_PRIV, M(CKM_RSA_PKCS), di)
        good, rec, err = ossl_out("pkeyutl", "-verifyrecover", "-pubin", "-inkey", RSA_PEM,
                                  "-in", wfile(sig, "sig"))
        check("%s: openssl -verifyrecover gets back the %s DigestInfo twinhsm signed" % (name, hn),
              good and rec == di, err)
        good, err = ossl_dgst_verify(HASHES[hn][2], RSA_PEM, DATA_F, sig)
        check("%s: a %s DigestInfo signature is a valid %s-RSA-PKCS signature for openssl dgst"
              % (name, hn, hn), good, err)
        good, osig, err = ossl_out("pkeyutl", "-sign", "-inkey", RSA_OSSL_PRIV, "-in", wfile(di, "di"))
        check("%s: openssl signs a DigestInfo" % name, good, err)
        rv = verify1(IMP["rsa"], M(CKM_RSA_PKCS), di, osig)
        check("%s: twinhsm C_Verify accepts openssl's raw PKCS#1 v1.5 signature" % name,
              rv == CKR_OK, rv_name(rv))
        rv = verify1(IMP["rsa"], M(CKM_RSA_PKCS), flip(di), osig)
        check("%s: twinhsm C_Verify refuses it for other data" % name, rv == CKR_SIGNATURE_INVALID,
              rv_name(rv))


def pss_params(mech_id, hn, mgf_hn, slen):
    return PyKCS11.RSA_PSS_Mechanism(mech_id, HASHES[hn][0], HASHES[mgf_hn][3], slen)


def pss_opts(prefix, mgf_hn, slen):
    return [prefix, "rsa_padding_mode:pss", prefix, "rsa_pss_saltlen:%d" % slen,
            prefix, "rsa_mgf1_md:" + HASHES[mgf_hn][2]]


# (hash, MGF1 hash, salt length): the usual ones, plus other MGFs and salt lengths.
PSS_CASES = [(hn, hn, HASHES[hn][1]) for hn in HASH_NAMES] + [
    ("SHA-256", "SHA-1", 0), ("SHA-512", "SHA-256", 20), ("SHA-1", "SHA-512", 50)]

for hn, mgf_hn, slen in PSS_CASES:
    md = HASHES[hn][2]
    name = "%s (MGF1-%s, sLen %d)" % (mname(PSS_MECHS[hn]), mgf_hn, slen)
    with step(name):
        mech = pss_params(PSS_MECHS[hn], hn, mgf_hn, slen)
        for how, sig in (("C_Sign", sign1(RSA_PRIV, mech, DATA)),
                         ("C_SignUpdate/Final", sign_multi(RSA_PRIV, mech, DATA))):
            good, err = ossl_dgst_verify(md, RSA_PEM, DATA_F, sig, *pss_opts("-sigopt", mgf_hn, slen))
            check("%s: openssl verifies twinhsm's %s signature" % (name, how), good, err)
        good, err = ossl_dgst_verify(md, RSA_PEM, DATA_F, sig,
                                     *pss_opts("-sigopt", mgf_hn, slen + 1))
        check("%s: openssl refuses it with another salt length" % name, not good)
        both_verifies(name, IMP["rsa"], mech, DATA,
                      ossl_dgst_sign(md, RSA_OSSL_PRIV, DATA_F, *pss_opts("-sigopt", mgf_hn, slen)))

for hn, mgf_hn, slen in [(hn, hn, HASHES[hn][1]) for hn in HASH_NAMES] + [("SHA-256", "SHA-1", 0)]:
    md = HASHES[hn][2]
    name = "CKM_RSA_PKCS_PSS (raw %s hash, MGF1-%s, sLen %d)" % (hn, mgf_hn, slen)
    with step(name):
        mech = pss_params(CKM_RSA_PKCS_PSS, hn, mgf_hn, slen)
        dg = pyhash(hn, DATA)
        sig = sign1(RSA_PRIV, mech, dg)
        opts = ["-pkeyopt", "digest:" + md] + pss_opts("-pkeyopt", mgf_hn, slen)
        good, _, err = ossl("pkeyutl", "-verify", "-pubin", "-inkey", RSA_PEM, "-in", wfile(dg, "dg"),
                            "-sigfile", wfile(sig, "sig"), *opts)
        check("%s: openssl pkeyutl verifies twinhsm's signature" % name, good, err)
        good, _, err = ossl("dgst", "-" + md, *pss_opts("-sigopt", mgf_hn, slen), "-verify", RSA_PEM,
                            "-signature", wfile(sig, "sig"), DATA_F)
        check("%s: it is a valid signature of the data for openssl dgst" % name, good, err)
        good, osig, err = ossl_out("pkeyutl", "-sign", "-inkey", RSA_OSSL_PRIV, "-in", wfile(dg, "dg"),
                                   *opts)
        check("%s: openssl signs the hash" % name, good, err)
        rv = verify1(IMP["rsa"], mech, dg, osig)
        check("%s: twinhsm C_Verify accepts openssl's signature" % name, rv == CKR_OK, rv_name(rv))
        rv = verify1(IMP["rsa"], mech, dg, flip(osig))
        check("%s: twinhsm C_Verify refuses a changed signature" % name, rv == CKR_SIGNATURE_INVALID,
              rv_name(rv))

# =============================================================================================
print("=== ECDSA and EdDSA signatures")
ECDSA_MECHS = {"SHA-1": CKM_ECDSA_SHA1, "SHA-224": CKM_ECDSA_SHA224, "SHA-256": CKM_ECDSA_SHA256,
               "SHA-384": CKM_ECDSA_SHA384, "SHA-512": CKM_ECDSA_SHA512}
ECDSA_CASES = [("P-256", hn) for hn in HASH_NAMES] + [("P-384", "SHA-384"), ("P-384", "SHA-1"),
                                                      ("P-521", "SHA-512"), ("P-521", "SHA-256")]
for cname, hn in ECDSA_CASES:
    md, size = HASHES[hn][2], CURVES[cname][1]
    pub, priv, pem = TOK[cname]
    name = "%s on %s" % (mname(ECDSA_MECHS[hn]), cname)
    with step(name):
        mech = M(ECDSA_MECHS[hn])
        for how, sig in (("C_Sign", sign1(priv, mech, DATA)), ("C_SignUpdate/Final",
                                                                sign_multi(priv, mech, DATA))):
            check("%s: the %s signature is r||s, %d bytes" % (name, how, 2 * size),
                  len(sig) == 2 * size, "%d bytes" % len(sig))
            good, err = ossl_dgst_verify(md, pem, DATA_F, ecdsa_rs_to_der(sig))
            check("%s: openssl verifies twinhsm's %s signature" % (name, how), good, err)
        good, err = ossl_dgst_verify(md, pem, TAMPERED_F, ecdsa_rs_to_der(sig))
        check("%s: openssl refuses it for other data" % name, not good)
        osig = ecdsa_der_to_rs(ossl_dgst_sign(md, OSSL[cname]["pem"], DATA_F), size)
        both_verifies(name, IMP[cname], mech, DATA, osig)

ECDSA_RAW_CASES = [("P-256", "SHA-256"), ("P-384", "SHA-384"), ("P-521", "SHA-512"),
                   ("P-256", "SHA-512"), ("P-521", "SHA-1")]  # longer and shorter hashes too
for cname, hn in ECDSA_RAW_CASES:
    size = CURVES[cname][1]
    pub, priv, pem = TOK[cname]
    name = "CKM_ECDSA (raw %s hash) on %s" % (hn, cname)
    with step(name):
        dg = pyhash(hn, DATA)
        sig = sign1(priv, M(CKM_ECDSA), dg)
        good, _, err = ossl("pkeyutl", "-verify", "-pubin", "-inkey", pem, "-in", wfile(dg, "dg"),
                            "-sigfile", wfile(ecdsa_rs_to_der(sig), "sig"))
        check("%s: openssl pkeyutl verifies twinhsm's signature" % name,
              good and len(sig) == 2 * size, err)
        good, osig, err = ossl_out("pkeyutl", "-sign", "-inkey", OSSL[cname]["pem"], "-in",
                                   wfile(dg, "dg"))
        check("%s: openssl signs the hash" % name, good, err)
        osig = ecdsa_der_to_rs(osig, size)
        rv = verify1(IMP[cname], M(CKM_ECDSA), dg, osig)
        check("%s: twinhsm C_Verify accepts openssl's signature" % name, rv == CKR_OK, rv_name(rv))
        # (the first byte: ECDSA uses only the leftmost bits of a hash longer than the order)
        rv = verify1(IMP[cname], M(CKM_ECDSA), flip(dg, 0), osig)
        check("%s: twinhsm C_Verify refuses it for another hash" % name,
              rv == CKR_SIGNATURE_INVALID, rv_name(rv))

with step("CKM_EDDSA"):
    name = "CKM_EDDSA"
    pub, priv, pem = TOK["ed25519"]
    sig = sign1(priv, M(CKM_EDDSA), DATA)
    good, _, err = ossl("pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", DATA_F,
                        "-sigfile", wfile(sig, "sig"))
    check("%s: openssl verifies twinhsm's C_Sign signature (64 bytes)" % name,
          good and len(sig) == 64, err)
    sig2 = sign_multi(priv, M(CKM_EDDSA), DATA)
    check("%s: C_SignUpdate/Final gives the same (deterministic) signature" % name, sig2 == sig)
    good, _, err = ossl("pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", TAMPERED_F,
                        "-sigfile", wfile(sig, "sig"))
    check("%s: openssl refuses it for other data" % name, not good)
    good, osig, err = ossl_out("pkeyutl", "-sign", "-inkey", OSSL["ed25519"]["pem"], "-rawin",
                               "-in", DATA_F)
    check("%s: openssl signs" % name, good, err)
    both_verifies(name, IMP["ed25519"], M(CKM_EDDSA), DATA, osig)

# =============================================================================================
print("=== MACs")
HMAC_MECHS = {"SHA-1": CKM_SHA_1_HMAC, "SHA-224": CKM_SHA224_HMAC, "SHA-256": CKM_SHA256_HMAC,
              "SHA-384": CKM_SHA384_HMAC, "SHA-512": CKM_SHA512_HMAC}


def ossl_mac(alg, key, *opts):
    good, out, err = ossl("mac", *opts, "-macopt", "hexkey:" + h(key), "-binary", "-in", DATA_F, alg)
    if not good:
        raise RuntimeError("openssl mac: " + err)
    return out


HMAC_KEYS = [("a generated 20-byte generic secret", GEN[20][0], GEN[20][1]) if 20 in GEN else None,
             ("a generated 64-byte generic secret", GEN[64][0], GEN[64][1]) if 64 in GEN else None]
with step("a CKK_SHA256_HMAC key (C_CreateObject)"):
    v = os.urandom(100)
    k = S.createObject(secret_template(CKK_SHA256_HMAC, [(CKA_VALUE, v), (CKA_SIGN, True),
                                                          (CKA_VERIFY, True)]))
    HMAC_KEYS.append(("an imported 100-byte CKK_SHA256_HMAC", k, v))
for hn, mech_id in HMAC_MECHS.items():
    for entry in HMAC_KEYS:
        if entry is None:
            continue
        kname, k, v = entry
        if attr(k, CKA_KEY_TYPE) == CKK_SHA256_HMAC and hn != "SHA-256":
            continue
        name = "%s with %s key" % (mname(mech_id), kname)
        with step(name):
            want = ossl_mac("HMAC", v, "-digest", HASHES[hn][2])
            got = sign1(k, M(mech_id), DATA)
            check("%s: C_Sign equals openssl mac HMAC" % name, got == want and len(got) == HASHES[hn][1],
                  "%s vs %s" % (got.hex(), want.hex()))
            check("%s: C_SignUpdate/Final equals openssl mac HMAC" % name,
                  sign_multi(k, M(mech_id), DATA) == want)
            both_verifies(name, k, M(mech_id), DATA, want)

for n, (k, v) in AES.items():
    name = "CKM_AES_CMAC with AES-%d" % (n * 8)
    with step(name):
        want = ossl_mac("CMAC", v, "-cipher", "AES-%d-CBC" % (n * 8))
        got = sign1(k, M(CKM_AES_CMAC), DATA)
        check("%s: C_Sign equals openssl mac CMAC" % name, got == want and len(got) == 16,
              "%s vs %s" % (got.hex(), want.hex()))
        check("%s: C_SignUpdate/Final equals openssl mac CMAC" % name,
              sign_multi(k, M(CKM_AES_CMAC), DATA) == want)
        both_verifies(name, k, M(CKM_AES_CMAC), DATA, want)

# =============================================================================================
print("=== AES encryption")


def ossl_enc(cipher, key, iv, data, decrypt=False, nopad=True):
    args = ["enc", "-" + cipher, "-K", h(key), "-in", wfile(data, "pt")]
    if iv is not None:
        args += ["-iv", h(iv)]
    if nopad:
        args.append("-nopad")
    if decrypt:
        args.insert(1, "-d")
    good, out, err = ossl_out(*args)
    if not good:
        raise RuntimeError("openssl %s: %s" % (" ".join(args[:3]), err))
    return out


def cipher_round(name, k, mech, data, ossl_cipher, iv, nopad, expect_len=None):
    """twinhsm encrypts → same bytes as openssl, openssl decrypts; openssl encrypts → twinhsm
    decrypts; both single- and multi-part."""
    want = ossl_enc(ossl_cipher, k[1], iv, data, nopad=nopad)
    ct = encrypt1(k[0], mech, data)
    check("%s: C_Encrypt gives openssl enc's ciphertext" % name, ct == want,
          "%d vs %d bytes" % (len(ct), len(want)))
    if expect_len is not None:
        check("%s: the ciphertext is %d bytes" % (name, expect_len), len(ct) == expect_len)
    check("%s: openssl enc -d decrypts twinhsm's C_Encrypt output" % name,
          ossl_enc(ossl_cipher, k[1], iv, ct, decrypt=True, nopad=nopad) == data)
    ct2 = encrypt_multi(k[0], mech, data)
    check("%s: C_EncryptUpdate/Final gives openssl enc's ciphertext" % name, ct2 == want,
          "%d vs %d bytes" % (len(ct2), len(want)))
    check("%s: twinhsm C_Decrypt decrypts openssl enc's ciphertext" % name,
          decrypt1(k[0], mech, want) == data)
    check("%s: twinhsm C_DecryptUpdate/Final decrypts openssl enc's ciphertext" % name,
          decrypt_multi(k[0], mech, want) == data)


BLOCKS = os.urandom(16 * 67)
ODD = os.urandom(16 * 67 + 5)
for n, k in AES.items():
    bits = n * 8
    iv = os.urandom(16)
    with step("CKM_AES_ECB AES-%d" % bits):
        cipher_round("CKM_AES_ECB AES-%d" % bits, k, M(CKM_AES_ECB), BLOCKS, "aes-%d-ecb" % bits,
                     None, True)
    with step("CKM_AES_CBC AES-%d" % bits):
        cipher_round("CKM_AES_CBC AES-%d" % bits, k, M(CKM_AES_CBC, iv), BLOCKS,
                     "aes-%d-cbc" % bits, iv, True)
    with step("CKM_AES_CBC_PAD AES-%d" % bits):
        for data in (ODD, BLOCKS, b"x"):
            cipher_round("CKM_AES_CBC_PAD AES-%d, %d bytes" % (bits, len(data)), k,
                         M(CKM_AES_CBC_PAD, iv), data, "aes-%d-cbc" % bits, iv, False,
                         (len(data) // 16 + 1) * 16)
    with step("CKM_AES_CTR AES-%d" % bits):
        cb = os.urandom(12) + b"\0\0\0\0"
        for counter_bits in (128, 32):
            # CK_AES_CTR_PARAMS: CK_ULONG ulCounterBits; CK_BYTE cb[16] (native layout).
            mech = M(CKM_AES_CTR, struct.pack("@L", counter_bits) + cb)
            cipher_round("CKM_AES_CTR AES-%d (ulCounterBits %d), %d bytes" % (bits, counter_bits,
                                                                            len(ODD)),
                         k, mech, ODD, "aes-%d-ctr" % bits, cb, True, len(ODD))

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # pragma: no cover
    AESGCM = None
for n, (kh, kv) in AES.items():
    bits = n * 8
    for ivlen, aad, tag_bits in ((12, os.urandom(40), 128), (12, b"", 96), (16, os.urandom(7), 128)):
        name = "CKM_AES_GCM AES-%d (IV %d bytes, AAD %d bytes, tag %d bits)" % (bits, ivlen, len(aad),
                                                                                tag_bits)
        with step(name):
            iv = os.urandom(ivlen)
            mech = PyKCS11.AES_GCM_Mechanism(iv, aad, tag_bits)
            ct = encrypt1(kh, mech, ODD)
            tlen = tag_bits // 8
            check("%s: C_Encrypt gives ciphertext || tag (%d bytes)" % (name, len(ODD) + tlen),
                  len(ct) == len(ODD) + tlen, "%d bytes" % len(ct))
            if ivlen == 12:
                # GCM encrypts with CTR from inc32(IV || 0^31 || 1): openssl's command line checks
                # the ciphertext part.
                body = ossl_enc("aes-%d-ctr" % bits, kv, iv + b"\0\0\0\2", ODD)
                check("%s: the ciphertext part equals openssl enc -aes-%d-ctr from IV||2" % (name, bits),
                      ct[:len(ODD)] == body)
            if AESGCM is None:
                check("%s: python3-cryptography (OpenSSL's library) checks the tag" % name, False,
                      "python3-cryptography is not installed")
                continue
            full = AESGCM(kv).encrypt(iv, ODD, aad or None)
            check("%s: equals OpenSSL's (python3-cryptography) ciphertext and tag" % name,
                  ct == full[:len(ODD) + tlen])
            check("%s: C_EncryptUpdate/Final gives the same" % name,
                  encrypt_multi(kh, mech, ODD) == ct)
            if tag_bits == 128:
                check("%s: OpenSSL (python3-cryptography) decrypts and authenticates it" % name,
                      AESGCM(kv).decrypt(iv, ct, aad or None) == ODD)
            check("%s: twinhsm C_Decrypt decrypts OpenSSL's ciphertext" % name,
                  decrypt1(kh, mech, full[:len(ODD) + tlen]) == ODD)
            check("%s: twinhsm C_DecryptUpdate/Final decrypts OpenSSL's ciphertext" % name,
                  decrypt_multi(kh, mech, full[:len(ODD) + tlen]) == ODD)
            try:
                decrypt1(kh, mech, flip(full[:len(ODD) + tlen]))
                check("%s: a changed ciphertext fails with CKR_ENCRYPTED_DATA_INVALID" % name, False,
                      "C_Decrypt returned CKR_OK")
            except PyKCS11.PyKCS11Error as e:
                check("%s: a changed ciphertext fails with CKR_ENCRYPTED_DATA_INVALID" % name,
                      e.value == CKR_ENCRYPTED_DATA_INVALID, rv_name(e.value))

# =============================================================================================
print("=== RSA encryption")
RSA_PT = os.urandom(100)


def oaep_opts(hn, label):
    o = ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:" + HASHES[hn][2],
         "-pkeyopt", "rsa_mgf1_md:" + HASHES[hn][2]]
    if label:
        o += ["-pkeyopt", "rsa_oaep_label:" + h(label)]
    return o


RSA_ENC_CASES = [("CKM_RSA_PKCS", lambda: M(CKM_RSA_PKCS), []),
                 ("CKM_RSA_PKCS_OAEP SHA-1", lambda: PyKCS11.RSAOAEPMechanism(CKM_SHA_1, CKG_MGF1_SHA1),
                  oaep_opts("SHA-1", None)),
                 ("CKM_RSA_PKCS_OAEP SHA-256",
                  lambda: PyKCS11.RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256), oaep_opts("SHA-256", None)),
                 ("CKM_RSA_PKCS_OAEP SHA-256 with a label",
                  lambda: PyKCS11.RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256, b"conformance label"),
                  oaep_opts("SHA-256", b"conformance label")),
                 ("CKM_RSA_PKCS_OAEP SHA-1 with a label",
                  lambda: PyKCS11.RSAOAEPMechanism(CKM_SHA_1, CKG_MGF1_SHA1, b"L"),
                  oaep_opts("SHA-1", b"L"))]
for name, mk, opts in RSA_ENC_CASES:
    with step(name):
        mech = mk()
        # twinhsm encrypts with its own public key and with openssl's; openssl decrypts.
        for kname, pubk, privpem in (("the token's key", RSA_PUB, TOK_PRIV_PEM.get("rsa")),
                                     ("openssl's key", IMP["rsa"], RSA_OSSL_PRIV)):
            ct = encrypt1(pubk, mech, RSA_PT)
            good, pt, err = ossl_out("pkeyutl", "-decrypt", "-inkey", privpem, "-in", wfile(ct, "ct"),
                                     *opts)
            check("%s: openssl decrypts what twinhsm encrypted with %s" % (name, kname),
                  good and pt == RSA_PT and len(ct) == 256, err)
        good, ct, err = ossl_out("pkeyutl", "-encrypt", "-pubin", "-inkey", RSA_PEM,
                                 "-in", wfile(RSA_PT, "pt"), *opts)
        check("%s: openssl encrypts with the token's public key" % name, good, err)
        check("%s: twinhsm C_Decrypt decrypts openssl's ciphertext" % name,
              decrypt1(RSA_PRIV, mech, ct) == RSA_PT)
        try:
            decrypt1(RSA_PRIV, mech, flip(ct))
            check("%s: a changed ciphertext fails with CKR_ENCRYPTED_DATA_INVALID" % name, False,
                  "C_Decrypt returned CKR_OK")
        except PyKCS11.PyKCS11Error as e:
            check("%s: a changed ciphertext fails with CKR_ENCRYPTED_DATA_INVALID" % name,
                  e.value == CKR_ENCRYPTED_DATA_INVALID, rv_name(e.value))

# =============================================================================================
print("=== digests")
DIGEST_MECHS = {"SHA-1": CKM_SHA_1, "SHA-224": CKM_SHA224, "SHA-256": CKM_SHA256,
                "SHA-384": CKM_SHA384, "SHA-512": CKM_SHA512}
for hn, mech_id in DIGEST_MECHS.items():
    name = mname(mech_id)
    with step(name):
        good, want, err = ossl_out("dgst", "-" + HASHES[hn][2], "-binary", DATA_F)
        check("%s: C_Digest equals openssl dgst" % name,
              good and bytes(S.digest(DATA, M(mech_id))) == want, err)
        ds = S.digestSession(M(mech_id))
        for c in chunks(DATA):
            ds.update(c)
        check("%s: C_DigestUpdate/Final equals openssl dgst" % name, bytes(ds.final()) == want)
        good, want0, err = ossl_out("dgst", "-" + HASHES[hn][2], "-binary", wfile(b"", "empty"))
        ok("C_DigestInit", LL.C_DigestInit(SH, M(mech_id).to_native()))
        o = buf(64)
        ok("C_DigestFinal", LL.C_DigestFinal(SH, o))
        check("%s: the digest of nothing (C_DigestInit + C_DigestFinal) equals openssl dgst" % name,
              bytes(o) == want0)
        k, v = AES[32]
        ds = S.digestSession(M(mech_id))
        ds.update(b"prefix")
        ds.digestKey(k)
        good, want, err = ossl_out("dgst", "-" + HASHES[hn][2], "-binary", wfile(b"prefix" + v, "dk"))
        check("%s: C_DigestKey of an extractable non-sensitive AES key digests its CKA_VALUE" % name,
              bytes(ds.final()) == want)
with step("C_DigestKey of a sensitive key"):
    ok("C_DigestInit", LL.C_DigestInit(SH, M(CKM_SHA256).to_native()))
    k = S.generateKey(secret_template(CKK_AES, [(CKA_VALUE_LEN, 32), (CKA_SENSITIVE, True)]))
    rv = LL.C_DigestKey(SH, k)
    check("C_DigestKey of a sensitive key: CKR_KEY_INDIGESTIBLE (as docs/pkcs11.md says)",
          rv == CKR_KEY_INDIGESTIBLE, rv_name(rv))
    LL.C_DigestFinal(SH, buf(64))

# =============================================================================================
print("=== wrapping and unwrapping")
KW_IV = {CKM_AES_KEY_WRAP: "A6A6A6A6A6A6A6A6", CKM_AES_KEY_WRAP_PAD: "A65959A6"}
KW_CIPHER = {CKM_AES_KEY_WRAP: "id-aes%d-wrap", CKM_AES_KEY_WRAP_PAD: "id-aes%d-wrap-pad"}


def ossl_wrap(mech_id, kek, data, decrypt=False):
    args = ["enc", "-" + KW_CIPHER[mech_id] % (len(kek) * 8), "-K", h(kek), "-iv", KW_IV[mech_id],
            "-bufsize", "65536", "-in", wfile(data, "w")]
    if decrypt:
        args.insert(1, "-d")
    good, out, err = ossl_out(*args)
    if not good:
        raise RuntimeError("openssl %s: %s" % (" ".join(args[:3]), err))
    return out


def ecb_block(handle, value):
    """The same block encrypted by twinhsm with HANDLE and by openssl with VALUE."""
    blk = b"conformance-blk!"
    got = encrypt1(handle, M(CKM_AES_ECB), blk)
    want = ossl_enc("aes-%d-ecb" % (len(value) * 8), value, None, blk)
    return got == want


KEKS = {}
for n in (16, 24, 32):
    with step("wrapping keys AES-%d" % (n * 8)):
        v = os.urandom(n)
        KEKS[n] = (import_aes(v, "kek%d" % n), v)

for mech_id in (CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD):
    mn = mname(mech_id)
    for n, (kek, kekv) in KEKS.items():
        name = "%s with AES-%d" % (mn, n * 8)
        with step(name):
            # twinhsm wraps, openssl unwraps: a readable key (value compared) and a sensitive one
            # (compared through an AES-ECB block).
            target = S.generateKey(secret_template(CKK_AES, READABLE + [(CKA_VALUE_LEN, 32),
                                                                       (CKA_ENCRYPT, True)]))
            tv = battr(target, CKA_VALUE)
            w = bytes(S.wrapKey(kek, target, M(mech_id)))
            check("%s: the wrapped AES-256 key is 40 bytes" % name, len(w) == 40, "%d" % len(w))
            check("%s: twinhsm's wrapping equals openssl's (deterministic)" % name,
                  w == ossl_wrap(mech_id, kekv, tv))
            check("%s: openssl unwraps twinhsm's wrapping to the key's CKA_VALUE" % name,
                  ossl_wrap(mech_id, kekv, w, decrypt=True) == tv)
            sens = S.generateKey(secret_template(CKK_AES, [(CKA_VALUE_LEN, 24), (CKA_SENSITIVE, True),
                                                           (CKA_EXTRACTABLE, True),
                                                           (CKA_ENCRYPT, True)]))
            expect_rv("%s: a sensitive key does not leave under a key whose value is known: "
                      "CKR_KEY_NOT_WRAPPABLE" % name, CKR_KEY_NOT_WRAPPABLE,
                      lambda: S.wrapKey(kek, sens, M(mech_id)))
            sv = ossl_wrap(mech_id, TRUSTED_KEK, bytes(S.wrapKey(TRUSTED_KEK_H, sens, M(mech_id))),
                           decrypt=True)
            check("%s: a sensitive extractable key wraps under the SO's trusted key, and openssl's "
                  "unwrapped value encrypts like it" % name, len(sv) == 24 and ecb_block(sens, sv))
            # openssl wraps, twinhsm unwraps.
            for vlen, ktype in ((32, CKK_AES), (16, CKK_AES), (40, CKK_GENERIC_SECRET)) + (
                    ((21, CKK_GENERIC_SECRET),) if mech_id == CKM_AES_KEY_WRAP_PAD else ()):
                v = os.urandom(vlen)
                ow = ossl_wrap(mech_id, kekv, v)
                u = S.unwrapKey(kek, ow, secret_template(ktype, READABLE + [(CKA_ENCRYPT, True)]),
                                M(mech_id))
                check("%s: twinhsm unwraps openssl's wrapping of a %d-byte key to that value" % (name, vlen),
                      battr(u, CKA_VALUE) == v and attr(u, CKA_VALUE_LEN) == vlen)
                local, kgm = attr(u, CKA_LOCAL), attr(u, CKA_KEY_GEN_MECHANISM)
                # (PyKCS11 reads CK_UNAVAILABLE_INFORMATION, ~0, as -1.)
                check("%s: the unwrapped %d-byte key has CKA_LOCAL false, CKA_KEY_GEN_MECHANISM "
                      "unavailable" % (name, vlen), local is False and kgm in (CK_UNAVAILABLE_INFORMATION, -1),
                      "CKA_LOCAL %r, CKA_KEY_GEN_MECHANISM %r" % (local, kgm))
                if ktype == CKK_AES:
                    check("%s: the unwrapped AES key encrypts like openssl with its value" % name,
                          ecb_block(u, v))
            try:
                S.unwrapKey(kek, flip(ow), secret_template(CKK_GENERIC_SECRET), M(mech_id))
                check("%s: a changed wrapping fails with CKR_WRAPPED_KEY_INVALID" % name, False,
                      "C_UnwrapKey returned CKR_OK")
            except PyKCS11.PyKCS11Error as e:
                check("%s: a changed wrapping fails with CKR_WRAPPED_KEY_INVALID" % name,
                      e.value == CKR_WRAPPED_KEY_INVALID, rv_name(e.value))

# KWP and CBC_PAD carry private keys as PKCS#8: openssl's keys into the token, used there.
UNW = {}
PRIV_TEMPLATES = {
    "rsa": [(CKA_KEY_TYPE, CKK_RSA), (CKA_UNWRAP, True)],
    "P-256": [(CKA_KEY_TYPE, CKK_EC), (CKA_DERIVE, True)],
    "P-384": [(CKA_KEY_TYPE, CKK_EC)],
    "P-521": [(CKA_KEY_TYPE, CKK_EC)],
    "ed25519": [(CKA_KEY_TYPE, CKK_EC_EDWARDS)],
}


def unwrap_private(kname, mech, wrapped, kek):
    return S.unwrapKey(kek, wrapped, [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_TOKEN, False),
                                      (CKA_SIGN, True)] + PRIV_TEMPLATES[kname], mech)


def check_unwrapped_private(name, kname, u):
    check("%s: the unwrapped %s key's CKA_PUBLIC_KEY_INFO is openssl's public key" % (name, kname),
          battr(u, CKA_PUBLIC_KEY_INFO) == OSSL[kname]["spki"])
    check("%s: the unwrapped %s key is sensitive, not extractable, CKA_LOCAL false" % (name, kname),
          attr(u, CKA_SENSITIVE) is True and attr(u, CKA_EXTRACTABLE) is False
          and attr(u, CKA_LOCAL) is False)
    if kname == "rsa":
        sig = sign1(u, M(CKM_SHA256_RSA_PKCS), DATA)
    elif kname == "ed25519":
        sig = sign1(u, M(CKM_EDDSA), DATA)
    else:
        sig = ecdsa_rs_to_der(sign1(u, M(CKM_ECDSA_SHA256), DATA))
    if kname == "ed25519":
        good, _, err = ossl("pkeyutl", "-verify", "-pubin", "-inkey", OSSL[kname]["pub"], "-rawin",
                            "-in", DATA_F, "-sigfile", wfile(sig, "sig"))
    else:
        good, err = ossl_dgst_verify("sha256", OSSL[kname]["pub"], DATA_F, sig)
    check("%s: the unwrapped %s key signs, and openssl verifies with its own public key"
          % (name, kname), good, err)


for kname in ("rsa", "P-256", "P-384", "P-521", "ed25519"):
    name = "CKM_AES_KEY_WRAP_PAD of openssl's %s private key (PKCS#8)" % kname
    with step(name):
        kek, kekv = KEKS[32]
        u = unwrap_private(kname, M(CKM_AES_KEY_WRAP_PAD),
                           ossl_wrap(CKM_AES_KEY_WRAP_PAD, kekv, OSSL[kname]["p8"]), kek)
        UNW[kname] = u
        check_unwrapped_private(name, kname, u)

for n, (kek, kekv) in KEKS.items():
    name = "CKM_AES_CBC_PAD wrapping with AES-%d" % (n * 8)
    with step(name):
        iv = os.urandom(16)
        mech = M(CKM_AES_CBC_PAD, iv)
        cipher = "aes-%d-cbc" % (n * 8)
        # twinhsm wraps a secret key and a private key; openssl decrypts.
        target = S.generateKey(secret_template(CKK_GENERIC_SECRET, READABLE + [(CKA_VALUE_LEN, 33)]),
                               mecha=M(CKM_GENERIC_SECRET_KEY_GEN))
        tv = battr(target, CKA_VALUE)
        w = bytes(S.wrapKey(kek, target, mech))
        check("%s: twinhsm's wrapping of a 33-byte secret is openssl enc's ciphertext (48 bytes)" % name,
              w == ossl_enc(cipher, kekv, iv, tv, nopad=False) and len(w) == 48)
        # Sensitive private keys leave only under the SO's trusted key (AES-256).
        expect_rv("%s: a sensitive private key does not leave under a key whose value is known" % name,
                  CKR_KEY_NOT_WRAPPABLE, lambda: S.wrapKey(kek, TOK["P-256"][1], mech))
        for kname in ("P-256", "ed25519", "rsa"):
            pub, priv, _ = TOK[kname]
            p8 = ossl_enc("aes-256-cbc", TRUSTED_KEK, iv, bytes(S.wrapKey(TRUSTED_KEK_H, priv, mech)),
                          decrypt=True, nopad=False)
            good, spki, err = ossl_out("pkey", "-inform", "DER", "-in", wfile(p8, "p8"), "-pubout",
                                       "-outform", "DER")
            check("%s: openssl decrypts twinhsm's wrapping of its %s private key to a PKCS#8 key of "
                  "the token's public key" % (name, kname),
                  good and spki == battr(pub, CKA_PUBLIC_KEY_INFO), err)
        # openssl encrypts, twinhsm unwraps.
        v = os.urandom(32)
        u = S.unwrapKey(kek, ossl_enc(cipher, kekv, iv, v, nopad=False),
                        secret_template(CKK_AES, READABLE + [(CKA_ENCRYPT, True)]), mech)
        check("%s: twinhsm unwraps openssl's AES-256 key to that value" % name,
              battr(u, CKA_VALUE) == v and ecb_block(u, v))
        for kname in ("P-256", "rsa"):
            u = unwrap_private(kname, mech, ossl_enc(cipher, kekv, iv, OSSL[kname]["p8"], nopad=False), kek)
            check_unwrapped_private(name, kname, u)

for label, mk, opts in RSA_ENC_CASES[1:]:
    name = "%s wrapping" % label
    with step(name):
        mech = mk()
        # twinhsm wraps with openssl's public key, and with its own; openssl decrypts.
        target = S.generateKey(secret_template(CKK_AES, READABLE + [(CKA_VALUE_LEN, 32)]))
        tv = battr(target, CKA_VALUE)
        for kname, pubk, privpem in (("openssl's", IMP["rsa"], RSA_OSSL_PRIV),
                                     ("the token's", TOK["rsa-kw"][0], TOK_PRIV_PEM.get("rsa-kw"))):
            w = bytes(S.wrapKey(pubk, target, mech))
            good, pt, err = ossl_out("pkeyutl", "-decrypt", "-inkey", privpem, "-in", wfile(w, "w"), *opts)
            check("%s: openssl decrypts twinhsm's wrapping (with %s public key) to the key's value"
                  % (name, kname), good and pt == tv and len(w) == 256, err)
        # openssl encrypts a key value, twinhsm unwraps with its private key / openssl's
        # private key unwrapped into the token.
        # (Under a private key whose value is hidden, the unwrapped key is sensitive: its value is
        # checked through what it encrypts.)
        for kname, pubpem, privk in (("the token's", TOK["rsa-kw"][2], TOK["rsa-kw"][1]),
                                     ("openssl's (unwrapped into the token)", RSA_OSSL_PUB,
                                      UNW.get("rsa"))):
            v = os.urandom(24)
            good, ct, err = ossl_out("pkeyutl", "-encrypt", "-pubin", "-inkey", pubpem,
                                     "-in", wfile(v, "v"), *opts)
            expect_rv("%s: with %s private key, an unwrapped key cannot be made readable" % (name, kname),
                      CKR_TEMPLATE_INCONSISTENT,
                      lambda: S.unwrapKey(privk, ct, secret_template(CKK_AES, READABLE), mech))
            u = S.unwrapKey(privk, ct, secret_template(CKK_AES, [(CKA_ENCRYPT, True)]), mech)
            check("%s: twinhsm unwraps, with %s private key, openssl's encryption of an AES-192 key"
                  % (name, kname), good and attr(u, CKA_SENSITIVE) is True and ecb_block(u, v), err)

# =============================================================================================
print("=== ECDH")
for cname, (oid, size, _) in CURVES.items():
    name = "CKM_ECDH1_DERIVE on %s" % cname
    with step(name):
        pub, priv, pem = TOK[cname]
        peer_point, _ = spki_key_bits(OSSL[cname]["spki"])
        good, want, err = ossl_out("pkeyutl", "-derive", "-inkey", OSSL[cname]["pem"], "-peerkey", pem)
        check("%s: openssl derives its side" % name, good and len(want) == size, err)
        for form, pd in (("raw point", peer_point), ("DER OCTET STRING", tlv(0x04, peer_point))):
            k = S.deriveKey(priv, secret_template(CKK_GENERIC_SECRET, READABLE),
                            PyKCS11.ECDH1_DERIVE_Mechanism(pd))
            got = battr(k, CKA_VALUE)
            check("%s (peer point as %s): the derived secret equals openssl pkeyutl -derive"
                  % (name, form), got == want, "%s vs %s" % (got.hex(), want.hex()))
        k = S.deriveKey(priv, secret_template(CKK_AES, READABLE + [(CKA_ENCRYPT, True)]),
                        PyKCS11.ECDH1_DERIVE_Mechanism(peer_point))
        v = battr(k, CKA_VALUE)
        check("%s: an AES key derived without CKA_VALUE_LEN is 32 bytes of the secret (its rightmost,"
              " as docs/pkcs11.md says)" % name, v == want[-32:] and ecb_block(k, v))
        if cname == "P-256" and "P-256" in UNW:
            # The other way round: openssl's private key (unwrapped into the token) with the
            # token's public point gives the same secret.
            q = unwrap_octet_string(battr(pub, CKA_EC_POINT))
            k = S.deriveKey(UNW["P-256"], secret_template(CKK_GENERIC_SECRET, READABLE),
                            PyKCS11.ECDH1_DERIVE_Mechanism(q))
            check("%s: openssl's key unwrapped into the token derives the same secret with the "
                  "token's point" % name, battr(k, CKA_VALUE) == want)
        bad = bytearray(peer_point)
        bad[-1] ^= 1
        try:
            S.deriveKey(priv, secret_template(CKK_GENERIC_SECRET, READABLE),
                        PyKCS11.ECDH1_DERIVE_Mechanism(bytes(bad)))
            check("%s: a point not on the curve fails with CKR_MECHANISM_PARAM_INVALID" % name, False,
                  "C_DeriveKey returned CKR_OK")
        except PyKCS11.PyKCS11Error as e:
            check("%s: a point not on the curve fails with CKR_MECHANISM_PARAM_INVALID" % name,
                  e.value == CKR_MECHANISM_PARAM_INVALID, rv_name(e.value))

# =============================================================================================
print("=== empty messages (C_xxxInit + C_xxxFinal, no update)")
EMPTY_F = wfile(b"", "empty")


def sign_empty(key, mech):
    ok("C_SignInit", LL.C_SignInit(SH, mech.to_native(), key))
    out = buf(1024)
    ok("C_SignFinal", LL.C_SignFinal(SH, out))
    return bytes(out)


with step("empty messages"):
    for hn in ("SHA-256", "SHA-512"):
        k, v = GEN[64]
        good, want, err = ossl("mac", "-digest", HASHES[hn][2], "-macopt", "hexkey:" + h(v),
                               "-binary", "-in", EMPTY_F, "HMAC")
        check("%s of the empty message equals openssl mac" % mname(HMAC_MECHS[hn]),
              good and sign_empty(k, M(HMAC_MECHS[hn])) == want, err)
    k, v = AES[32]
    good, want, err = ossl("mac", "-cipher", "AES-256-CBC", "-macopt", "hexkey:" + h(v), "-binary",
                           "-in", EMPTY_F, "CMAC")
    check("CKM_AES_CMAC of the empty message equals openssl mac",
          good and sign_empty(k, M(CKM_AES_CMAC)) == want, err)
    pub, priv, pem = TOK["P-256"]
    sig = ecdsa_rs_to_der(sign_empty(priv, M(CKM_ECDSA_SHA256)))
    good, err = ossl_dgst_verify("sha256", pem, EMPTY_F, sig)
    check("CKM_ECDSA_SHA256 of the empty message: openssl verifies", good, err)
    sig = sign_empty(RSA_PRIV, M(CKM_SHA256_RSA_PKCS))
    good, err = ossl_dgst_verify("sha256", RSA_PEM, EMPTY_F, sig)
    check("CKM_SHA256_RSA_PKCS of the empty message: openssl verifies", good, err)
    pub, priv, pem = TOK["ed25519"]
    sig = sign_empty(priv, M(CKM_EDDSA))
    # (openssl pkeyutl cannot take an empty -rawin input: OpenSSL's library checks it here.)
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.exceptions import InvalidSignature
        edpub = Ed25519PublicKey.from_public_bytes(unwrap_octet_string(battr(pub, CKA_EC_POINT)))
        try:
            edpub.verify(sig, b"")
            good, err = True, ""
        except InvalidSignature:
            good, err = False, "InvalidSignature"
    except ImportError:
        good, err = False, "python3-cryptography is not installed"
    check("CKM_EDDSA of the empty message: OpenSSL (python3-cryptography) verifies", good, err)
    iv = os.urandom(16)
    mech = M(CKM_AES_CBC_PAD, iv)  # (kept: the native mechanism points into it)
    ok("C_EncryptInit", LL.C_EncryptInit(SH, mech.to_native(), AES[32][0]))
    out = buf(64)
    ok("C_EncryptFinal", LL.C_EncryptFinal(SH, out))
    check("CKM_AES_CBC_PAD of the empty message is openssl enc's one padding block",
          bytes(out) == ossl_enc("aes-256-cbc", AES[32][1], iv, b"", nopad=False))

# =============================================================================================
print("=== empty inputs through the C interface (PyKCS11 passes no NULL, 0 to the module)")
# PyKCS11 refuses an empty input itself (CKR_ARGUMENTS_BAD, without calling the module), so these
# calls go through ctypes, on the same library instance and session.
import ctypes  # noqa: E402

CK_ULONG = ctypes.c_ulong


class CK_MECHANISM(ctypes.Structure):
    _fields_ = [("mechanism", CK_ULONG), ("pParameter", ctypes.c_void_p),
                ("ulParameterLen", CK_ULONG)]


def raw_function(index, *argtypes):
    """The function at INDEX of the PKCS#11 2.40 CK_FUNCTION_LIST (after its CK_VERSION)."""
    dll = ctypes.CDLL(MODULE)  # the library PyKCS11 loaded: same state, same sessions
    fl = ctypes.c_void_p()
    dll.C_GetFunctionList(ctypes.byref(fl))
    table = ctypes.cast(fl, ctypes.POINTER(ctypes.c_void_p))
    return ctypes.CFUNCTYPE(CK_ULONG, *argtypes)(table[1 + index])


P, UL, PUL = ctypes.c_void_p, CK_ULONG, ctypes.POINTER(CK_ULONG)
RAW = {}
with step("the C function list through ctypes"):
    RAW["C_EncryptInit"] = raw_function(29, UL, ctypes.POINTER(CK_MECHANISM), UL)
    RAW["C_Encrypt"] = raw_function(30, UL, P, UL, P, PUL)
    RAW["C_Digest"] = raw_function(38, UL, P, UL, P, PUL)
    RAW["C_SignInit"] = raw_function(42, UL, ctypes.POINTER(CK_MECHANISM), UL)
    RAW["C_Sign"] = raw_function(43, UL, P, UL, P, PUL)
    RAW["C_VerifyInit"] = raw_function(48, UL, ctypes.POINTER(CK_MECHANISM), UL)
    RAW["C_Verify"] = raw_function(49, UL, P, UL, P, UL)
    RAW["C_VerifyFinal"] = raw_function(51, UL, P, UL)
SESSION = SH.value()


def raw_init(name, mech_id, key, param=b""):
    pbuf = ctypes.create_string_buffer(param, len(param)) if param else None
    m = CK_MECHANISM(mech_id, ctypes.cast(pbuf, ctypes.c_void_p) if pbuf else None, len(param))
    return RAW[name](SESSION, ctypes.byref(m), key.value())


def raw_out(name, *inputs, size=512):
    out = ctypes.create_string_buffer(size)
    n = CK_ULONG(size)
    rv = RAW[name](SESSION, *inputs, out, ctypes.byref(n))
    return rv, out.raw[:n.value]


if len(RAW) == 8:
    with step("empty inputs (NULL, 0)"):
        k, v = AES[32]
        rv = raw_init("C_SignInit", CKM_AES_CMAC, k)
        rv2, mac = raw_out("C_Sign", None, 0)
        good, cmac_empty, err = ossl("mac", "-cipher", "AES-256-CBC", "-macopt", "hexkey:" + h(v),
                                     "-binary", "-in", EMPTY_F, "CMAC")
        check("C_Sign(CKM_AES_CMAC, NULL, 0) is openssl's CMAC of the empty message",
              rv == CKR_OK and rv2 == CKR_OK and mac == cmac_empty,
              "%s %s" % (rv_name(rv), rv_name(rv2)))
        gk, gv = GEN[64]
        rv = raw_init("C_SignInit", CKM_SHA256_HMAC, gk)
        rv2, mac = raw_out("C_Sign", None, 0)
        good, want, err = ossl("mac", "-digest", "sha256", "-macopt", "hexkey:" + h(gv), "-binary",
                               "-in", EMPTY_F, "HMAC")
        check("C_Sign(CKM_SHA256_HMAC, NULL, 0) is openssl's HMAC of the empty message",
              rv == CKR_OK and rv2 == CKR_OK and mac == want, "%s %s" % (rv_name(rv), rv_name(rv2)))
        iv = os.urandom(16)
        rv = raw_init("C_EncryptInit", CKM_AES_CBC_PAD, k, iv)
        rv2, ct = raw_out("C_Encrypt", None, 0)
        check("C_Encrypt(CKM_AES_CBC_PAD, NULL, 0) is openssl enc's one padding block",
              rv == CKR_OK and rv2 == CKR_OK and ct == ossl_enc("aes-256-cbc", v, iv, b"", nopad=False),
              "%s %s" % (rv_name(rv), rv_name(rv2)))
        ok("C_DigestInit", LL.C_DigestInit(SH, M(CKM_SHA256).to_native()))
        rv, dg = raw_out("C_Digest", None, 0)
        check("C_Digest(CKM_SHA256, NULL, 0) is the SHA-256 of nothing",
              rv == CKR_OK and dg == hashlib.sha256(b"").digest(), rv_name(rv))
        # PKCS#11 3.0 5.13: "A call to C_Verify always terminates the active verification
        # operation" (docs/pkcs11.md: wrong length → CKR_SIGNATURE_LEN_RANGE).
        rv = raw_init("C_VerifyInit", CKM_AES_CMAC, k)
        rv2 = RAW["C_Verify"](SESSION, DATA, len(DATA), None, 0)
        rv3 = raw_init("C_VerifyInit", CKM_AES_CMAC, k)
        check("C_Verify(data, NULL, 0) gives CKR_SIGNATURE_LEN_RANGE and ends the verification",
              rv == CKR_OK and rv2 == CKR_SIGNATURE_LEN_RANGE and rv3 == CKR_OK,
              "C_Verify %s, then C_VerifyInit %s" % (rv_name(rv2), rv_name(rv3)))
        if rv3 == CKR_OK:
            rv2 = RAW["C_VerifyFinal"](SESSION, None, 0)
            rv3 = raw_init("C_VerifyInit", CKM_AES_CMAC, k)
            check("C_VerifyInit + C_VerifyFinal(NULL, 0) gives CKR_SIGNATURE_LEN_RANGE and ends "
                  "the verification", rv2 == CKR_SIGNATURE_LEN_RANGE and rv3 == CKR_OK,
                  "C_VerifyFinal %s, then C_VerifyInit %s" % (rv_name(rv2), rv_name(rv3)))
            rv2 = RAW["C_Verify"](SESSION, None, 0, cmac_empty, len(cmac_empty))
            check("C_Verify(NULL, 0, the CMAC of nothing) gives CKR_OK", rv2 == CKR_OK, rv_name(rv2))

# =============================================================================================
print("=== random")
with step("C_SeedRandom / C_GenerateRandom"):
    r1, r2 = bytes(S.generateRandom(64)), bytes(S.generateRandom(64))
    check("C_GenerateRandom: 64 bytes, two draws differ", len(r1) == 64 and r1 != r2)
    rv = LL.C_SeedRandom(SH, ckbytelist(os.urandom(32)))
    check("C_SeedRandom: CKR_OK", rv == CKR_OK, rv_name(rv))
    big = bytes(S.generateRandom(4096))
    check("C_GenerateRandom: 4096 bytes that are not constant", len(set(big)) > 200)

S.logout()
S.closeSession()
if FAILED:
    print("=== failed checks:")
    for f in FAILED:
        print("  " + f)
print("%d passed, %d failed" % (PASSED[0], len(FAILED)))
sys.exit(1 if FAILED else 0)
