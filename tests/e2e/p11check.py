"""Plumbing shared by the PyKCS11 client tests of the mechanisms (legacy_mechanisms_test.py,
modern_mechanisms_test.py): PASS/FAIL lines and their summary, steps that turn an exception into a
failure, a throw-away device and token, openssl runs, and the low-level PKCS#11 calls PyKCS11's
high-level API does not make (numbers instead of the 3.0 names it lacks).
"""

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

import PyKCS11
from PyKCS11 import ckbytelist
from PyKCS11.LowLevel import *  # noqa: F401,F403

# PKCS#11 3.0 names PyKCS11 1.5 lacks (values from the OASIS pkcs11t.h 3.0).
CKG_MGF1_SHA3_224, CKG_MGF1_SHA3_256, CKG_MGF1_SHA3_384, CKG_MGF1_SHA3_512 = 6, 7, 8, 9
CKF_HKDF_SALT_NULL, CKF_HKDF_SALT_DATA, CKF_HKDF_SALT_KEY = 1, 2, 4
CK_SP800_108_ITERATION_VARIABLE, CK_SP800_108_COUNTER = 1, 2
CK_SP800_108_DKM_LENGTH, CK_SP800_108_BYTE_ARRAY = 3, 4
CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS = 1, 2
CKM_AES_KEY_WRAP_PKCS7 = 0x210C

PASSED = [0]
FAILED = []
SO_PIN = "e2e-so-pin-1"
USER_PIN = "e2e-user-pin-1"


def check(name, ok, detail=""):
    if ok:
        PASSED[0] += 1
        print("PASS: %s" % name)
    else:
        FAILED.append(name)
        print("FAIL: %s%s" % (name, (" -- " + detail) if detail else ""))
    sys.stdout.flush()


def rv_name(rv):
    return PyKCS11.CKR.get(rv, hex(rv)) if isinstance(rv, int) else str(rv)


class Rv(Exception):
    def __init__(self, call, rv):
        super().__init__("%s returned %s" % (call, rv_name(rv)))
        self.rv = rv


def ok(call, rv):
    if rv != CKR_OK:
        raise Rv(call, rv)


@contextlib.contextmanager
def step(name):
    """Runs a group of checks; an exception fails `name` and the script goes on."""
    try:
        yield
    except Rv as e:
        check(name, False, str(e))
    except PyKCS11.PyKCS11Error as e:
        check(name, False, "PyKCS11Error %s" % rv_name(e.value))
    except Exception as e:  # a bug of the script or of a tool: still a failure, with its cause
        check(name, False, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc(limit=3)))


def finish():
    print("%d passed, %d failed" % (PASSED[0], len(FAILED)))
    sys.exit(1 if FAILED else 0)


def args_or_fail():
    if len(sys.argv) != 3:
        print("usage: %s PATH/TO/twinhsm PATH/TO/libtwinhsm.so" % sys.argv[0])
        sys.exit(2)
    cli, module = os.path.realpath(sys.argv[1]), os.path.realpath(sys.argv[2])
    for f in (cli, module):
        if not os.path.isfile(f):
            print("FAIL: %s does not exist: build the twinhsm and twinhsm_cli targets first" % f)
            finish()
    return cli, module


def workdir(prefix):
    work = tempfile.mkdtemp(prefix=prefix)
    if os.environ.get("E2E_KEEP_WORKDIR"):
        atexit.register(lambda: print("work directory kept: %s" % work))
    else:
        atexit.register(shutil.rmtree, work, True)
    return work


class Files:
    """Numbered files in the work directory."""

    def __init__(self, work):
        self.work, self.seq = work, 0

    def path(self, name="f"):
        self.seq += 1
        return os.path.join(self.work, "%03d-%s" % (self.seq, name))

    def write(self, data, name="f"):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(bytes(data))
        return p

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            return f.read()


def run(*args, env=None, inp=None):
    return subprocess.run([str(a) for a in args], env=env, input=inp, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=300)


def must(*args, env=None):
    p = run(*args, env=env)
    if p.returncode != 0:
        check("setup: " + " ".join(map(str, args[:4])), False,
              p.stderr.decode(errors="replace") + p.stdout.decode(errors="replace"))
        finish()
    return p


def ossl(*args, inp=None):
    """openssl ARGS; returns (ok, stdout bytes, stderr text)."""
    p = run("openssl", *args, inp=inp)
    return p.returncode == 0, p.stdout, p.stderr.decode(errors="replace").strip()


def make_device(cli, work, algorithms, name="device"):
    """A personalized device with an initialized token; TWINHSM_CONF names it (slot 0)."""
    env = dict(os.environ)
    for k in ("TWINHSM_CONF", "TWINHSM_LOG", "TWINHSM_LOG_FILE"):
        env.pop(k, None)
    mk, dev = os.path.join(work, name + ".master"), os.path.join(work, name)
    must(cli, "factory", "new-master-key", "-o", mk, env=env)
    must(cli, "factory", "personalize", "--device", dev, "--master-key", mk, "--diversifier",
         name, "--pbkdf2-iterations", "1000", "--algorithms", algorithms, env=env)
    must(cli, "token", "init", "--device", dev, "--label", name, "--so-pin", SO_PIN, "--pin",
         USER_PIN, env=env)
    conf = os.path.join(work, name + ".toml")
    with open(conf, "w") as f:
        f.write('[[slot]]\ndevice = "%s"\n' % dev)
    os.environ["TWINHSM_CONF"] = conf
    return dev, conf


def _template(template):
    """PyKCS11 takes byte strings as lists of ints, and a CK_ULONG of an attribute it does not
    know as one (CKA_PRIME_BITS) in its native bytes."""
    out = []
    for a, v in template:
        if isinstance(v, (bytes, bytearray)):
            v = list(v)
        elif isinstance(v, int) and not isinstance(v, bool) and a in (
                CKA_PRIME_BITS, CKA_SUB_PRIME_BITS, CKA_VALUE_BITS):
            v = list(v.to_bytes(8 if sys.maxsize > 2**32 else 4, sys.byteorder))
        out.append((a, v))
    return out


class Token:
    """A logged-in read-write session on slot 0 of a module, and the calls the tests make."""

    def __init__(self, module):
        self.lib = PyKCS11.PyKCS11Lib()
        self.lib.load(module)
        self.slot = self.lib.getSlotList(tokenPresent=True)[0]
        self.s = self.lib.openSession(self.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        self.s.login(USER_PIN)
        self.ll, self.h = self.s.lib, self.s.session

    def mechanisms(self):
        raw = PyKCS11.LowLevel.ckintlist()
        ok("C_GetMechanismList", self.lib.lib.C_GetMechanismList(self.slot, raw))
        return list(raw)

    def info(self, m):
        """(rv, (min, max, flags))"""
        i = PyKCS11.LowLevel.CK_MECHANISM_INFO()
        rv = self.lib.lib.C_GetMechanismInfo(self.slot, m, i)
        return rv, (i.ulMinKeySize, i.ulMaxKeySize, i.flags)

    def attr(self, obj, a):
        return self.s.getAttributeValue(obj, [a])[0]

    def value(self, obj):
        return bytes(self.attr(obj, CKA_VALUE))

    def create(self, template):
        return self.s.createObject(_template(template))

    def secret(self, key_type, value, extra=()):
        """A readable session secret key of a known value, for every use."""
        return self.create([(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, key_type),
                            (CKA_TOKEN, False), (CKA_VALUE, bytes(value)), (CKA_SENSITIVE, False),
                            (CKA_EXTRACTABLE, True)] + list(extra))

    def generate(self, mech, template):
        return self.s.generateKey(_template(template), mecha=mech)

    def generate_pair(self, mech, pub, priv):
        return self.s.generateKeyPair(_template(pub), _template(priv), mecha=mech)

    def encrypt(self, key, mech, data):
        return bytes(self.s.encrypt(key, bytes(data), mech))

    def decrypt(self, key, mech, data):
        return bytes(self.s.decrypt(key, bytes(data), mech))

    def sign(self, key, mech, data):
        return bytes(self.s.sign(key, bytes(data), mech))

    def verify_rv(self, key, mech, data, sig):
        ok("C_VerifyInit", self.ll.C_VerifyInit(self.h, mech.to_native(), key))
        return self.ll.C_Verify(self.h, ckbytelist(bytes(data)), ckbytelist(bytes(sig)))

    def digest(self, mech, data):
        return bytes(self.s.digest(bytes(data), mech))

    def derive(self, base, mech, template):
        return self.s.deriveKey(base, _template(template), mech)

    def wrap(self, kek, key, mech):
        return bytes(self.s.wrapKey(kek, key, mech))

    def unwrap(self, kek, wrapped, template, mech):
        return self.s.unwrapKey(kek, bytes(wrapped), _template(template), mech)


class Setup:
    """A test's start: the command line's paths, a work directory, a device of the algorithm
    policy with its token logged in (T), and data to process (DATA, in the file DATA_F)."""

    def __init__(self, algorithms, data_len):
        self.cli, self.module = args_or_fail()
        self.work = workdir("twinhsm-e2e-%s." % algorithms)
        self.files = Files(self.work)
        make_device(self.cli, self.work, algorithms)
        self.token = Token(self.module)
        self.data = os.urandom(data_len)
        self.data_file = self.files.write(self.data, "data")


def mech(m, param=None):
    """A PyKCS11 mechanism by number; param: bytes (copied as is) or None."""
    return PyKCS11.Mechanism(m, param)


def rv_of(fn, *args):
    """The CK_RV a PyKCS11 call fails with, or CKR_OK."""
    try:
        fn(*args)
        return CKR_OK
    except PyKCS11.PyKCS11Error as e:
        return e.value


_KEEP = []  # buffers whose address a mechanism parameter holds: alive until the process ends


def address(data):
    """The address of a copy of data that stays alive: a pointer field of a parameter."""
    import ctypes
    buf = ctypes.create_string_buffer(bytes(data), max(len(data), 1))
    _KEEP.append(buf)
    return ctypes.addressof(buf)


def ulongs(*values):
    """CK_ULONG (and pointer) fields, packed as the C structure holds them."""
    import ctypes
    return bytes((ctypes.c_ulong * len(values))(*values))


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_int(b):
    b = bytes(b).lstrip(b"\0") or b"\0"
    return tlv(0x02, b"\0" + b if b[0] & 0x80 else b)


def der_parse(b):
    """One TLV: (tag, value, rest)."""
    tag, n = b[0], b[1]
    off = 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[2:2 + k], "big")
        off = 2 + k
    return tag, b[off:off + n], b[off + n:]


def der_seq_items(b):
    items = []
    while b:
        tag, val, b = der_parse(b)
        items.append((tag, val))
    return items


def ecdsa_rs_to_der(sig):
    """A PKCS#11 signature r || s (ECDSA, DSA) as the DER SEQUENCE openssl reads."""
    half = len(sig) // 2
    return tlv(0x30, der_int(sig[:half]) + der_int(sig[half:]))


def ecdsa_der_to_rs(der, size):
    """r || s, each size bytes, of a DER SEQUENCE { INTEGER r, INTEGER s }."""
    _, body, _ = der_parse(der)
    (_, r), (_, s) = der_seq_items(body)
    r, s = r.lstrip(b"\0"), s.lstrip(b"\0")
    return r.rjust(size, b"\0") + s.rjust(size, b"\0")


def spki_pem(files, spki, name):
    """CKA_PUBLIC_KEY_INFO → a PEM file, through openssl (which must read it)."""
    pem = files.path(name + ".pem")
    good, _, err = ossl("pkey", "-pubin", "-inform", "DER", "-in", files.write(spki, name + ".der"),
                        "-out", pem)
    check("openssl reads the %s public key from CKA_PUBLIC_KEY_INFO" % name, good, err)
    return pem
