#!/usr/bin/python3
"""`twinhsm import softhsm2`, end to end, against a token SoftHSMv2 2.6.1 made.

softhsm2-util makes a token and pkcs11-tool (on libsofthsm2.so) fills it: RSA-2048 and P-256 key
pairs and an AES-256 key, generated sensitive and unextractable; a certificate; a private data
object; and a secp256k1 key pair, which twinhsm cannot hold. Then, against a twinhsm device
(with the compatible key policy, but where said):

  - refused, each with one line on stderr and no object written: an uninitialized token, a wrong
    SoftHSMv2 PIN, a wrong twinhsm PIN, a damaged object file (a copy of the token with one file
    cut short), the token's parent directory, a device with the strict key policy (SoftHSMv2's
    keys both unwrap and decrypt), the token as it is (its secp256k1 keys);
  - --dry-run lists what would be imported and writes nothing;
  - --skip-unsupported --json imports the rest and lists the secp256k1 keys as skipped;
  - through libtwinhsm.so (PyKCS11; the SoftHSMv2 token beside it through libsofthsm2.so): every
    object of SoftHSMv2 but the skipped is there once, with the same attributes, and CKA_LOCAL
    false, CKA_KEY_GEN_MECHANISM unavailable, CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE as
    SoftHSMv2 had them; the imported private keys sign and SoftHSMv2's public keys verify
    (RSA PKCS#1 v1.5 and ECDSA; openssl verifies too); the AES key encrypts a block (ECB, CBC)
    exactly as SoftHSMv2's; its value cannot be read;
  - a second import is refused (the objects are there);
  - SoftHSMv2's token files are byte for byte as they were, modes and names too.

Usage: import_softhsm2_test.py PATH/TO/twinhsm PATH/TO/libtwinhsm.so
Exit status 0 when every assertion holds; each prints PASS/FAIL and its name.
"""

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import PyKCS11
    from PyKCS11.LowLevel import *  # noqa: F401,F403 (the CKA_/CKO_/CKM_ names)
except ImportError as e:  # pragma: no cover
    print("FAIL: PyKCS11 is needed (Debian package python3-pykcs11): %s" % e)
    sys.exit(1)

CLI = os.path.realpath(sys.argv[1])
MODULE = os.path.realpath(sys.argv[2])
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
for f in (CLI, MODULE, SOFTHSM):
    if not os.path.isfile(f):
        print("FAIL: %s does not exist (build twinhsm, twinhsm_cli; Debian softhsm2)" % f)
        sys.exit(1)

WORK = tempfile.mkdtemp(prefix="twinhsm-e2e-import.")
SH_PIN, SH_SO_PIN = "softhsm-user-1", "softhsm-so-1"
PIN, SO_PIN = "twinhsm-user-1", "twinhsm-so-1"
ENV = dict(os.environ, XDG_DATA_HOME=os.path.join(WORK, "xdg"),
           SOFTHSM2_CONF=os.path.join(WORK, "softhsm2.conf"))
for k in ("TWINHSM_CONF", "TWINHSM_LOG", "TWINHSM_LOG_FILE"):
    ENV.pop(k, None)
FAILURES, CHECKS = [], [0]


def check(name, ok, detail=""):
    CHECKS[0] += 1
    note = (" -- " + detail) if detail and not ok else ""
    print("%s: %s%s" % ("PASS" if ok else "FAIL", name, note))
    if not ok:
        FAILURES.append(name)
    sys.stdout.flush()


def run(*args, env=None):
    return subprocess.run([str(a) for a in args], env=env or ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=120, text=True)


def must(*args, env=None):
    p = run(*args, env=env)
    if p.returncode != 0:
        print("FAIL: setup step failed: %s\n  stdout: %s\n  stderr: %s"
              % (" ".join(map(str, args)), p.stdout, p.stderr))
        sys.exit(1)
    return p


def sh_tool(*args):
    return must("pkcs11-tool", "--module", SOFTHSM, "--login", "--pin", SH_PIN, *args)


def tree_sum(d):
    """Names, modes and contents of every file under d."""
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(d)):
        for name in sorted(files):
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                h.update(("%s %o\n" % (os.path.relpath(p, d), os.stat(p).st_mode)).encode())
                h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def make_softhsm_token():
    tokens = os.path.join(WORK, "softhsm-tokens")
    os.mkdir(tokens)
    with open(ENV["SOFTHSM2_CONF"], "w") as f:
        f.write("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
                % tokens)
    must("softhsm2-util", "--init-token", "--free", "--label", "legacy", "--so-pin", SH_SO_PIN,
         "--pin", SH_PIN)
    sh_tool("--keypairgen", "--key-type", "rsa:2048", "--id", "01", "--label", "rsa-key")
    sh_tool("--keypairgen", "--key-type", "EC:prime256v1", "--id", "02", "--label", "ec-key")
    sh_tool("--keygen", "--key-type", "AES:32", "--id", "03", "--label", "aes-key", "--sensitive",
            "--private")
    cert = os.path.join(WORK, "cert")
    must("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", cert + ".key", "-subj", "/CN=imported from SoftHSMv2", "-days", "30",
         "-outform", "DER", "-out", cert + ".der")
    sh_tool("--write-object", cert + ".der", "--type", "cert", "--id", "04", "--label", "a-cert")
    with open(os.path.join(WORK, "notes.bin"), "wb") as f:
        f.write(b"private notes kept in SoftHSMv2\n")
    sh_tool("--write-object", os.path.join(WORK, "notes.bin"), "--type", "data", "--label", "notes",
            "--application-label", "notes-app", "--private")
    sh_tool("--keypairgen", "--key-type", "EC:secp256k1", "--id", "05", "--label", "k1-key")
    dirs = glob.glob(os.path.join(tokens, "*", "token.object"))
    assert len(dirs) == 1, dirs
    return tokens, os.path.dirname(dirs[0])


def make_device(name, init=True, key_policy="compatible"):
    dev = os.path.join(WORK, name)
    mk = os.path.join(WORK, "master.key")
    if not os.path.exists(mk):
        must(CLI, "factory", "new-master-key", "-o", mk)
    must(CLI, "factory", "personalize", "--device", dev, "--master-key", mk, "--diversifier",
         "import-" + name, "--pbkdf2-iterations", "1000", "--key-policy", key_policy)
    if init:
        must(CLI, "token", "init", "--device", dev, "--label", name, "--so-pin", SO_PIN,
             "--pin", PIN)
    return dev


def object_count(dev):
    info = json.loads(must(CLI, "device", "info", "--device", dev, "--json").stdout)
    return info["objects"]["public"] + info["objects"]["private"]


def import_cmd(dev, source, *extra, sh_pin=SH_PIN, pin=PIN):
    return run(CLI, "import", "softhsm2", "--device", dev, "--from", source,
               "--softhsm-pin", sh_pin, "--pin", pin, *extra)


def refused(name, p, pattern, dev):
    lines = p.stderr.splitlines()
    check(name + ": refused with one line", p.returncode != 0 and len(lines) == 1
          and lines[0].startswith("twinhsm: "), "rc %d, stderr %r" % (p.returncode, p.stderr))
    check(name + ": says why", pattern.lower() in p.stderr.lower(),
          "want %r in %r" % (pattern, p.stderr))
    check(name + ": nothing written", object_count(dev) == 0)


def main():
    tokens, token = make_softhsm_token()
    before = tree_sum(tokens)
    # SoftHSMv2 gives its keys every usage (pkcs11-tool's --usage-* options only add): they
    # both unwrap and decrypt, which a device with the strict key policy refuses for a hidden
    # key. The target has the compatible policy; "strict" shows the refusal.
    dev = make_device("target")
    blank = make_device("blank", init=False)
    strict = make_device("strict", key_policy="strict")

    refused("uninitialized target", import_cmd(blank, token), "is not initialized", blank)
    skip = "--skip-unsupported"
    refused("wrong SoftHSMv2 PIN", import_cmd(dev, token, skip, sh_pin="softhsm-user-2"),
            "SoftHSMv2 user PIN is wrong", dev)
    refused("wrong twinhsm PIN", import_cmd(dev, token, skip, pin="twinhsm-user-2"),
            "wrong twinhsm user PIN", dev)
    damaged = os.path.join(WORK, "damaged")
    shutil.copytree(token, damaged)
    victim = sorted(glob.glob(os.path.join(damaged, "*-*.object")))[0]
    with open(victim, "r+b") as f:
        f.truncate(os.path.getsize(victim) - 3)
    refused("damaged object file", import_cmd(dev, damaged, skip),
            "%s is damaged" % os.path.basename(victim), dev)
    refused("the tokens directory", import_cmd(dev, tokens, skip), "give one of them with --from",
            dev)
    refused("the strict key policy", import_cmd(strict, token, skip),
            "twinhsm device set-key-policy compatible", strict)
    p = import_cmd(dev, token)
    refused("unsupported objects", p, "--skip-unsupported", dev)
    check("the secp256k1 keys are named",
          p.stderr.count('"k1-key"') == 2 and "06052b8104000a" in p.stderr, p.stderr)

    p = import_cmd(dev, token, "--dry-run", skip)
    check("dry run succeeds", p.returncode == 0, p.stderr)
    check("dry run lists the objects", p.stdout.count("would import") == 7, p.stdout)
    check("dry run writes nothing", object_count(dev) == 0)

    p = import_cmd(dev, token, skip, "--json")
    check("import succeeds", p.returncode == 0, p.stderr)
    result = json.loads(p.stdout) if p.returncode == 0 else {"imported": [], "skipped": []}
    check("7 objects imported", len(result["imported"]) == 7, p.stdout)
    check("the secp256k1 key pair skipped, with the reason",
          sorted(o["label"] for o in result["skipped"]) == ["k1-key", "k1-key"]
          and all("curve" in o["reason"] for o in result["skipped"]), p.stdout)
    check("the source is named", result.get("source", {}).get("label") == "legacy", p.stdout)
    check("7 objects in the token", object_count(dev) == 7)
    p = import_cmd(dev, token, skip)
    check("a second import is refused", p.returncode != 0 and "already holds" in p.stderr, p.stderr)
    check("a second import writes nothing", object_count(dev) == 7)
    # (SoftHSMv2 itself writes its files when its module logs in: compared before that.)
    check("SoftHSMv2's files are unchanged", tree_sum(tokens) == before)

    compare_through_the_modules(dev)


# Attributes both tokens must give alike, by class (key components only where readable).
COMMON = [CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_LABEL, CKA_COPYABLE,
          CKA_DESTROYABLE]
KEY = [CKA_KEY_TYPE, CKA_ID, CKA_DERIVE, CKA_START_DATE, CKA_END_DATE]
SAME = {
    CKO_PUBLIC_KEY: KEY + [CKA_ENCRYPT, CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_WRAP, CKA_SUBJECT,
                           CKA_TRUSTED],
    CKO_PRIVATE_KEY: KEY + [CKA_DECRYPT, CKA_SIGN, CKA_SIGN_RECOVER, CKA_UNWRAP, CKA_SENSITIVE,
                            CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED, CKA_ALWAYS_AUTHENTICATE,
                            CKA_SUBJECT, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE],
    CKO_SECRET_KEY: KEY + [CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP,
                           CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_VALUE_LEN, CKA_CHECK_VALUE,
                           CKA_TRUSTED, CKA_WRAP_WITH_TRUSTED, CKA_ALWAYS_SENSITIVE,
                           CKA_NEVER_EXTRACTABLE],
    CKO_CERTIFICATE: [CKA_ID, CKA_CERTIFICATE_TYPE, CKA_VALUE, CKA_SUBJECT, CKA_ISSUER,
                      CKA_SERIAL_NUMBER, CKA_TRUSTED, CKA_CERTIFICATE_CATEGORY, CKA_CHECK_VALUE],
    CKO_DATA: [CKA_APPLICATION, CKA_VALUE, CKA_OBJECT_ID],
}
RSA = [CKA_MODULUS, CKA_PUBLIC_EXPONENT]
EC = [CKA_EC_PARAMS]


def attrs(session, obj, types):
    values = session.getAttributeValue(obj, types, allAsBinary=True)
    return {t: (bytes(v) if v is not None else None) for t, v in zip(types, values)}


def open_module(path, pin, conf=None):
    if conf:
        os.environ["TWINHSM_CONF"] = conf
    lib = PyKCS11.PyKCS11Lib()
    lib.load(path)
    slot = [s for s in lib.getSlotList(tokenPresent=True)][0]
    s = lib.openSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    s.login(pin)
    return lib, s


def compare_through_the_modules(dev):
    os.environ.update(SOFTHSM2_CONF=ENV["SOFTHSM2_CONF"], XDG_DATA_HOME=ENV["XDG_DATA_HOME"])
    conf = os.path.join(WORK, "twinhsm.toml")
    with open(conf, "w") as f:
        f.write('[[slot]]\ndevice = "%s"\n' % dev)
    sh_lib, sh = open_module(SOFTHSM, SH_PIN)
    tw_lib, tw = open_module(MODULE, PIN, conf)
    pairs = {}
    for obj in sh.findObjects([]):
        head = attrs(sh, obj, [CKA_CLASS, CKA_LABEL, CKA_ID, CKA_KEY_TYPE])
        cls = int.from_bytes(head[CKA_CLASS], sys.byteorder)
        label = head[CKA_LABEL].decode()
        if label == "k1-key":
            continue
        tmpl = [(CKA_CLASS, cls), (CKA_LABEL, label)]
        if head[CKA_ID] is not None:
            tmpl.append((CKA_ID, head[CKA_ID]))
        found = tw.findObjects(tmpl)
        name = "%s %s" % (PyKCS11.CKO[cls], label)
        check(name + ": in twinhsm once", len(found) == 1, "found %d" % len(found))
        if len(found) != 1:
            continue
        types = COMMON + SAME[cls]
        key_type = int.from_bytes(head[CKA_KEY_TYPE] or b"\0", sys.byteorder)
        if cls in (CKO_PUBLIC_KEY, CKO_PRIVATE_KEY):
            types += RSA if key_type == CKK_RSA else EC
        if cls == CKO_PUBLIC_KEY and key_type == CKK_EC:
            types += [CKA_EC_POINT]
        if cls == CKO_PUBLIC_KEY and key_type == CKK_RSA:
            types += [CKA_MODULUS_BITS]
        a, b = attrs(sh, obj, types), attrs(tw, found[0], types)
        differ = [PyKCS11.CKA.get(t, hex(t)) for t in types if a[t] != b[t]]
        check(name + ": same attributes", not differ,
              "differ: " + ", ".join("%s %r != %r" % (d, a[PyKCS11.CKA[d]], b[PyKCS11.CKA[d]])
                                     for d in differ))
        if cls in (CKO_PRIVATE_KEY, CKO_SECRET_KEY, CKO_PUBLIC_KEY):
            t = attrs(tw, found[0], [CKA_LOCAL, CKA_KEY_GEN_MECHANISM])
            check(name + ": CKA_LOCAL false", t[CKA_LOCAL] == b"\0")
            check(name + ": CKA_KEY_GEN_MECHANISM unavailable",
                  int.from_bytes(t[CKA_KEY_GEN_MECHANISM], sys.byteorder)
                  == CK_UNAVAILABLE_INFORMATION)
        if cls in (CKO_PRIVATE_KEY, CKO_SECRET_KEY):
            s = attrs(sh, obj, [CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_SENSITIVE])
            check(name + ": SoftHSMv2 generated it sensitive and unextractable",
                  s[CKA_ALWAYS_SENSITIVE] == s[CKA_NEVER_EXTRACTABLE] == s[CKA_SENSITIVE] == b"\1")
        pairs[(cls, label)] = (obj, found[0])
    check("every object compared", len(pairs) == 7, str(sorted(pairs)))
    use_the_keys(sh, tw, pairs)
    tw.logout()
    sh.logout()


def openssl_verify_rsa(sh, pub, data, sig):
    a = attrs(sh, pub, [CKA_MODULUS, CKA_PUBLIC_EXPONENT])
    n, e = int.from_bytes(a[CKA_MODULUS], "big"), int.from_bytes(a[CKA_PUBLIC_EXPONENT], "big")
    asn1 = os.path.join(WORK, "rsa.asn1")
    with open(asn1, "w") as f:
        f.write("asn1=SEQUENCE:k\n[k]\nn=INTEGER:%d\ne=INTEGER:%d\n" % (n, e))
    der = os.path.join(WORK, "rsa.der")
    must("openssl", "asn1parse", "-genconf", asn1, "-out", der, "-noout")
    pem = os.path.join(WORK, "rsa.pem")
    must("openssl", "pkey", "-pubin", "-inform", "DER", "-in", der, "-out", pem)
    for name, content in (("data", data), ("sig", sig)):
        with open(os.path.join(WORK, name), "wb") as f:
            f.write(bytes(content))
    return run("openssl", "dgst", "-sha256", "-verify", pem, "-signature",
               os.path.join(WORK, "sig"), os.path.join(WORK, "data")).returncode == 0


def use_the_keys(sh, tw, pairs):
    data = b"signed by a key that SoftHSMv2 generated and twinhsm now holds"
    M = PyKCS11.Mechanism
    rsa_pub, _ = pairs[(CKO_PUBLIC_KEY, "rsa-key")]
    _, rsa_priv = pairs[(CKO_PRIVATE_KEY, "rsa-key")]
    sig = tw.sign(rsa_priv, data, M(CKM_SHA256_RSA_PKCS))
    check("RSA: twinhsm's signature verifies with SoftHSMv2's public key",
          sh.verify(rsa_pub, data, sig, M(CKM_SHA256_RSA_PKCS)))
    check("RSA: and with openssl", openssl_verify_rsa(sh, rsa_pub, data, sig))
    ec_pub, _ = pairs[(CKO_PUBLIC_KEY, "ec-key")]
    _, ec_priv = pairs[(CKO_PRIVATE_KEY, "ec-key")]
    digest = hashlib.sha256(data).digest()
    sig = tw.sign(ec_priv, digest, M(CKM_ECDSA))
    check("ECDSA: twinhsm's signature verifies with SoftHSMv2's public key",
          sh.verify(ec_pub, digest, sig, M(CKM_ECDSA)))
    sh_aes, tw_aes = pairs[(CKO_SECRET_KEY, "aes-key")]
    block = bytes(range(16))
    check("AES: one block, ECB, as SoftHSMv2's key",
          bytes(tw.encrypt(tw_aes, block, M(CKM_AES_ECB)))
          == bytes(sh.encrypt(sh_aes, block, M(CKM_AES_ECB))))
    iv = bytes(16)
    check("AES: CBC with padding, as SoftHSMv2's key",
          bytes(tw.encrypt(tw_aes, data, M(CKM_AES_CBC_PAD, iv)))
          == bytes(sh.encrypt(sh_aes, data, M(CKM_AES_CBC_PAD, iv))))
    value = tw.getAttributeValue(tw_aes, [CKA_VALUE], allAsBinary=True)[0]
    check("AES: the imported key's value cannot be read", value is None)


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    print("=== %d checks, %d failed" % (CHECKS[0], len(FAILURES)))
    sys.exit(1 if FAILURES else 0)
