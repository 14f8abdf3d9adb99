#!/usr/bin/python3
"""What an application that has the token open sees when a backup is restored under it.

Device A and its twin B (same factory master key, same diversifier) each hold a token of their
own with an RSA key pair and data objects, made in the same order (so the store ids, which are
the PKCS#11 handles, line up: B's old handles name A's objects of the same kind after the
restore). This process (PyKCS11 over libtwinhsm.so, TWINHSM_CONF naming B only) opens B, logs
in with B's user PIN and signs; then `twinhsm backup restore` of A's backup runs onto B in
another process (socket button, pressed by a third one). Afterwards, in this same process:

  phase 1, the application idle during the restore, then:
    - C_GetTokenInfo shows A's token;
    - C_FindObjects never returns one of B's old objects, and finds A's objects by label;
    - signing with B's old private-key handle gives CKR_USER_NOT_LOGGED_IN or, once the module
      has logged the process out, CKR_KEY_HANDLE_INVALID (the process was
      logged in with B's old storage key SK; the module logs it out), and the session is then a
      public session;
    - C_Logout / C_Login: B's old PIN is refused, A's PIN logs in, the key finds by label and
      its signature verifies (openssl) with A's public key exported before the backup;
  phase 2, the application busy during a restore (it signs in a loop with A's key while a backup
    of B's own token is restored onto B): every signature it got verifies with A's public key,
    the first failure is CKR_USER_NOT_LOGGED_IN, and B's own PIN and key work afterwards.

Operations initialized before a restore and finished after it are recorded as OBSERVED lines
(not judged): PKCS#11 leaves it to the implementation whether they go on after a logout.

Usage: backup_app_test.py PATH/TO/twinhsm PATH/TO/libtwinhsm.so
Exit status 0 when every assertion holds; each prints PASS/FAIL and its name.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import PyKCS11
    from PyKCS11 import LowLevel
    from PyKCS11.LowLevel import (CKA_CLASS, CKA_ID, CKA_LABEL, CKA_TOKEN, CKF_RW_SESSION,
                                  CKF_SERIAL_SESSION, CKM_SHA256_RSA_PKCS, CKO_DATA,
                                  CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKR_OK,
                                  CKR_USER_NOT_LOGGED_IN, CKR_KEY_HANDLE_INVALID, CKR_PIN_INCORRECT,
                                  CKS_RW_PUBLIC_SESSION,
                                  CKS_RW_USER_FUNCTIONS)
except ImportError as e:  # pragma: no cover
    print("FAIL: PyKCS11 is needed (Debian package python3-pykcs11): %s" % e)
    sys.exit(1)

CLI = os.path.realpath(sys.argv[1])
MODULE = os.path.realpath(sys.argv[2])
for f in (CLI, MODULE):
    if not os.path.isfile(f):
        print("FAIL: %s does not exist: build the twinhsm and twinhsm_cli targets first" % f)
        sys.exit(1)

WORK = tempfile.mkdtemp(prefix="twinhsm-e2e-app.")
ENV = dict(os.environ)
ENV["XDG_DATA_HOME"] = os.path.join(WORK, "xdg-default")
for k in ("TWINHSM_CONF", "TWINHSM_LOG", "TWINHSM_LOG_FILE"):
    ENV.pop(k, None)

FAILURES = []
CHECKS = [0]


def check(name, ok, detail=""):
    CHECKS[0] += 1
    if ok:
        print("PASS: %s" % name)
    else:
        FAILURES.append(name)
        print("FAIL: %s%s" % (name, (" -- " + detail) if detail else ""))
    sys.stdout.flush()


def observed(what):
    print("OBSERVED: %s" % what)
    sys.stdout.flush()


def rv_name(rv):
    return PyKCS11.CKR.get(rv, hex(rv)) if isinstance(rv, int) else str(rv)


def run(*args, env=None, check_rc=True):
    p = subprocess.run(list(args), env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=120)
    if check_rc and p.returncode != 0:
        print("FAIL: setup step failed: %s\n  stdout: %s\n  stderr: %s" %
              (" ".join(args), p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
        sys.exit(1)
    return p


def conf_for(dev):
    path = os.path.join(WORK, os.path.basename(dev) + ".toml")
    with open(path, "w") as f:
        f.write('[[slot]]\ndevice = "%s"\n' % dev)
    return path


def p11(dev, *args):
    env = dict(ENV)
    env["TWINHSM_CONF"] = conf_for(dev)
    return run("pkcs11-tool", "--module", MODULE, *args, env=env)


def start_with_press(dev, *args):
    """Starts `twinhsm ARGS` and a presser that presses dev's button once it waits."""
    proc = subprocess.Popen([CLI] + list(args), env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    presser = subprocess.Popen(
        ["bash", "-c",
         'for _ in $(seq 1 600); do if [[ -S "$1/button.sock" ]] && "$2" button press --device "$1"'
         ' >/dev/null 2>&1; then exit 0; fi; sleep 0.05; done; exit 1', "presser", dev, CLI],
        env=ENV)
    return proc, presser


def finish_with_press(proc, presser):
    out, err = proc.communicate(timeout=120)
    try:
        presser.wait(timeout=2)
    except subprocess.TimeoutExpired:
        presser.kill()
        presser.wait()
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def with_press(dev, *args):
    return finish_with_press(*start_with_press(dev, *args))


BULK = 1500
BULK_SCRIPT = r"""
import sys, PyKCS11
from PyKCS11.LowLevel import *
lib = PyKCS11.PyKCS11Lib()
lib.load(sys.argv[1])
s = lib.openSession(lib.getSlotList(tokenPresent=True)[0], CKF_SERIAL_SESSION | CKF_RW_SESSION)
s.login(sys.argv[2])
for i in range(int(sys.argv[3])):
    s.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, True), (CKA_PRIVATE, False),
                    (CKA_LABEL, "b-bulk"), (CKA_VALUE, bytes(500))])
s.logout()
"""


def openssl_verifies(pem, data, sig):
    d = os.path.join(WORK, "verify-data")
    s = os.path.join(WORK, "verify-sig")
    with open(d, "wb") as f:
        f.write(data)
    with open(s, "wb") as f:
        f.write(bytes(sig))
    p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", s, d],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode == 0


def main():
    mk = os.path.join(WORK, "master.key")
    run(CLI, "factory", "new-master-key", "-o", mk)
    a = os.path.join(WORK, "A")
    b = os.path.join(WORK, "B")
    pin_a, so_a = "app-user-pin-A", "app-so-pin-A"
    pin_b, so_b = "app-user-pin-B", "app-so-pin-B"
    for dev, serial in ((a, "APP-A"), (b, "APP-B")):
        run(CLI, "factory", "personalize", "--device", dev, "--master-key", mk, "--diversifier",
            "app-pair", "--serial", serial, "--pbkdf2-iterations", "1000", "--button", "socket",
            "--button-timeout", "20")
    # The same objects, in the same order, on both: RSA pair, private data, public data.
    for dev, name, so, pin in ((a, "a", so_a, pin_a), (b, "b", so_b, pin_b)):
        run(CLI, "token", "init", "--device", dev, "--label", "token-" + name.upper(),
            "--so-pin", so, "--pin", pin)
        p11(dev, "--login", "--pin", pin, "--keypairgen", "--key-type", "rsa:2048",
            "--id", name + "1", "--label", name + "-rsa")
        data = os.path.join(WORK, name + "-data.txt")
        with open(data, "w") as f:
            f.write("data of %s\n" % name)
        p11(dev, "--login", "--pin", pin, "--write-object", data, "--type", "data",
            "--label", name + "-data", "--private")
        p11(dev, "--login", "--pin", pin, "--write-object", data, "--type", "data",
            "--label", name + "-public")
        # The public key exported before any backup.
        der = os.path.join(WORK, name + "-rsa.der")
        p11(dev, "--read-object", "--type", "pubkey", "--id", name + "1", "-o", der)
        run("openssl", "pkey", "-pubin", "-inform", "DER", "-in", der,
            "-out", os.path.join(WORK, name + "-rsa.pem"))
    # Bulk on B (public data objects, one label), so that restoring B's own backup in phase 2
    # takes a while: the application's signing loop then runs during the restore's writes.
    bulk = subprocess.run(
        [sys.executable, "-c", BULK_SCRIPT, MODULE, pin_b, str(BULK)],
        env=dict(ENV, TWINHSM_CONF=conf_for(b)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if bulk.returncode != 0:
        print("FAIL: setup: bulk objects on B: %s" % bulk.stderr.decode(errors="replace"))
        sys.exit(1)
    pem_a = os.path.join(WORK, "a-rsa.pem")
    pem_b = os.path.join(WORK, "b-rsa.pem")
    labels_a = {"a-rsa", "a-data", "a-public"}
    labels_b = {"b-rsa", "b-data", "b-public", "b-bulk"}

    bak_a = os.path.join(WORK, "a.bak")
    bak_b = os.path.join(WORK, "b.bak")
    for dev, bak in ((a, bak_a), (b, bak_b)):
        rc, out, err = with_press(dev, "backup", "create", "--device", dev, "-o", bak)
        if rc != 0:
            print("FAIL: setup: backup create of %s: %s %s" % (dev, out, err))
            sys.exit(1)

    # ------------------------------------------------------------------------------------------
    # The application: this process, on B only.
    os.environ["TWINHSM_CONF"] = conf_for(b)
    os.environ["XDG_DATA_HOME"] = ENV["XDG_DATA_HOME"]
    lib = PyKCS11.PyKCS11Lib()
    lib.load(MODULE)
    slot = lib.getSlotList(tokenPresent=True)[0]
    flags = CKF_SERIAL_SESSION | CKF_RW_SESSION
    session = lib.openSession(slot, flags)
    session.login(pin_b)
    mech = PyKCS11.Mechanism(CKM_SHA256_RSA_PKCS, None)
    message = os.urandom(1000)

    def find(template):
        """(handles, None) or (None, rv) when C_FindObjectsInit/C_FindObjects fails."""
        try:
            return [h.value() for h in session.findObjects(template)], None
        except PyKCS11.PyKCS11Error as e:
            return None, e.value

    def obj(sess, handle):
        h = PyKCS11.CK_OBJECT_HANDLE(sess)
        h.assign(handle)
        return h

    def label_of(sess, handle):
        try:
            v = sess.getAttributeValue(obj(sess, handle), [CKA_LABEL])[0]
            return bytes(v).decode(errors="replace") if not isinstance(v, str) else v
        except PyKCS11.PyKCS11Error as e:
            return "<%s>" % rv_name(e.value)

    def sign(sess, handle):
        """(signature, None) or (None, rv)."""
        try:
            return bytes(sess.sign(obj(sess, handle), message, mech)), None
        except PyKCS11.PyKCS11Error as e:
            return None, e.value

    def state(sess):
        return sess.getSessionInfo().state

    print("=== before the restore: logged in on B with B's user PIN")
    handles_b = {}
    for label in sorted(labels_b):
        hs, rv = find([(CKA_LABEL, label)])
        handles_b[label] = hs or []
    observed("B's handles before the restore: %s" %
             {k: (v if len(v) < 5 else "%d handles %d..%d" % (len(v), v[0], v[-1]))
              for k, v in handles_b.items()})
    h_priv_b, rv = find([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, "b-rsa")])
    check("before: B's private key is found by label", rv is None and len(h_priv_b) == 1,
          "got %s %s" % (h_priv_b, rv_name(rv) if rv else ""))
    h_priv_b = h_priv_b[0]
    h_pub_b = find([(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_LABEL, "b-rsa")])[0][0]
    h_data_b = find([(CKA_CLASS, CKO_DATA), (CKA_LABEL, "b-data")])[0][0]
    sig, rv = sign(session, h_priv_b)
    check("before: B's key signs and openssl verifies with B's public key",
          sig is not None and openssl_verifies(pem_b, message, sig), rv_name(rv) if rv else "")
    all_before, _ = find([])
    check("before: C_FindObjects({}) returns B's %d objects, labels %s" % (4 + BULK, sorted(labels_b)),
          {label_of(session, h) for h in all_before} == labels_b,
          "got %s" % sorted(label_of(session, h) for h in all_before))

    # Operations begun before the restore and finished after it (recorded, not judged).
    pending_sign = lib.openSession(slot, flags)
    rv_init = pending_sign.lib.C_SignInit(pending_sign.session, mech.to_native(),
                                          obj(pending_sign, h_priv_b))
    check("before: C_SignInit with B's key on a second session", rv_init == CKR_OK, rv_name(rv_init))
    pending_find = lib.openSession(slot, flags)
    rv_find = pending_find.lib.C_FindObjectsInit(pending_find.session,
                                                 pending_find._template2ckattrlist([]))
    check("before: C_FindObjectsInit({}) on a third session", rv_find == CKR_OK, rv_name(rv_find))

    print("=== restore of A's backup onto B, by another process, while this one has B open")
    rc, out, err = with_press(b, "backup", "restore", "--device", b, bak_a, "--force")
    check("the restore of A's backup onto B succeeds while the application has B open", rc == 0,
          "exit %d: %s %s" % (rc, out, err))

    print("=== phase 1: the same process, after the restore, before any new login")
    info = lib.getTokenInfo(slot)
    check("after: C_GetTokenInfo shows A's token label", info.label.strip() == "token-A",
          "got %r" % info.label)
    observed("session state right after the restore: %s (the module has not noticed yet)" %
             PyKCS11.CKS.get(state(session), state(session)))

    for label in sorted(labels_b):
        hs, rv = find([(CKA_LABEL, label)])
        check("after: C_FindObjects(label=%s) returns none of B's old objects" % label,
              not hs, "got handles %s" % hs)
        observed("C_FindObjects(label=%s) -> %s" % (label, hs if rv is None else rv_name(rv)))
    for cls, cls_name, label in ((CKO_PUBLIC_KEY, "public key", "a-rsa"),
                                 (CKO_DATA, "data", "a-public")):
        hs, rv = find([(CKA_CLASS, cls), (CKA_LABEL, label)])
        check("after: C_FindObjects finds A's public %s by label %s" % (cls_name, label),
              rv is None and len(hs) == 1 and label_of(session, hs[0]) == label,
              "got %s %s" % (hs, rv_name(rv) if rv else ""))
    # A's private key, with the login made under B's old SK: by id and by class alone (recorded),
    # then by label (judged). None of these touches a private row that fails to decrypt.
    for what, template in (("id=a1", [(CKA_ID, bytes.fromhex("a1"))]),
                           ("class=private key", [(CKA_CLASS, CKO_PRIVATE_KEY)])):
        hs, rv = find(template)
        observed("C_FindObjects(%s) with B's stale login -> %s; session state %s" %
                 (what, hs if rv is None else rv_name(rv),
                  PyKCS11.CKS.get(state(session), state(session))))
    hs, rv = find([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, "a-rsa")])
    observed("C_FindObjects(private key, label=a-rsa) with B's stale login -> %s; session state %s" %
             (hs if rv is None else rv_name(rv), PyKCS11.CKS.get(state(session), state(session))))
    check("after: C_FindObjects(private key, label=a-rsa) with B's stale login returns A's key or "
          "CKR_USER_NOT_LOGGED_IN, never an empty result while the session still says user logged in",
          (rv == CKR_USER_NOT_LOGGED_IN) or (rv is None and len(hs) == 1) or
          (rv is None and not hs and state(session) != CKS_RW_USER_FUNCTIONS),
          "got %s with session state %s" % (hs if rv is None else rv_name(rv),
                                             PyKCS11.CKS.get(state(session), state(session))))

    # The first search that includes private objects, or the first read of a private row, makes
    # the module notice the restore and log the process out (CKR_USER_NOT_LOGGED_IN); after that
    # B's old private handle names nothing this public session may use (CKR_KEY_HANDLE_INVALID).
    sig, rv = sign(session, h_priv_b)
    check("after: signing with B's old private-key handle gives CKR_USER_NOT_LOGGED_IN or, once "
          "logged out, CKR_KEY_HANDLE_INVALID; never a signature",
          sig is None and rv in (CKR_USER_NOT_LOGGED_IN, CKR_KEY_HANDLE_INVALID),
          "got %s" % ("a signature" if sig is not None else rv_name(rv)))
    if sig is not None:
        observed("the signature verifies with B's public key: %s, with A's: %s" %
                 (openssl_verifies(pem_b, message, sig), openssl_verifies(pem_a, message, sig)))
    check("after: the module logged the process out: the session is a public session",
          state(session) == CKS_RW_PUBLIC_SESSION,
          "state %s" % PyKCS11.CKS.get(state(session), state(session)))
    hs, rv = find([(CKA_CLASS, CKO_PRIVATE_KEY)])
    check("after the implicit logout: no private key is found",
          rv is None and not hs, "got %s" % (hs if rv is None else rv_name(rv)))
    lab = label_of(session, h_data_b)
    check("after the implicit logout: B's old private data handle %d gives no object" % h_data_b,
          lab.startswith("<"), "got label %r" % lab)
    all_after, rv = find([])
    labels_now = sorted(label_of(session, h) for h in (all_after or []))
    check("after the implicit logout: C_FindObjects({}) returns exactly A's public objects",
          rv is None and labels_now == ["a-public", "a-rsa"],
          "got %s" % (labels_now if rv is None else rv_name(rv)))

    # The operations begun before the restore.
    sig_len = LowLevel.ckbytelist()
    data1 = LowLevel.ckbytelist(message)
    rv = pending_sign.lib.C_Sign(pending_sign.session, data1, sig_len)
    if rv == CKR_OK:
        rv = pending_sign.lib.C_Sign(pending_sign.session, data1, sig_len)
    if rv == CKR_OK:
        observed("C_Sign of an operation begun (C_SignInit) with B's key before the restore, finished "
                 "after it: returned a signature; verifies with B's old public key: %s, with A's: %s" %
                 (openssl_verifies(pem_b, message, bytes(sig_len)),
                  openssl_verifies(pem_a, message, bytes(sig_len))))
    else:
        observed("C_Sign of an operation begun before the restore, finished after it: %s" % rv_name(rv))
    found = LowLevel.ckobjlist(20)
    rv = pending_find.lib.C_FindObjects(pending_find.session, found)
    if rv == CKR_OK:
        hs = [int(x.value()) for x in found]
        observed("C_FindObjects of a search begun before the restore: (B's) handles %s, now labelled %s" %
                 (hs[:6], [label_of(session, h) for h in hs[:6]]))
        check("a search begun before the restore yields no label of B's old objects",
              not any(label_of(session, h) in labels_b for h in hs))
    else:
        observed("C_FindObjects of a search begun before the restore: %s" % rv_name(rv))
    pending_find.lib.C_FindObjectsFinal(pending_find.session)

    try:
        session.logout()
        observed("C_Logout after the implicit logout: CKR_OK")
    except PyKCS11.PyKCS11Error as e:
        observed("C_Logout after the implicit logout: %s" % rv_name(e.value))
        check("C_Logout after the implicit logout gives CKR_OK or CKR_USER_NOT_LOGGED_IN",
              e.value == CKR_USER_NOT_LOGGED_IN, rv_name(e.value))
    try:
        session.login(pin_b)
        check("C_Login with B's old user PIN is refused", False, "it logged in")
        session.logout()
    except PyKCS11.PyKCS11Error as e:
        check("C_Login with B's old user PIN is refused with CKR_PIN_INCORRECT",
              e.value == CKR_PIN_INCORRECT, rv_name(e.value))
    try:
        session.login(pin_a)
        check("C_Login with A's user PIN (valid when A's backup was made)", True)
    except PyKCS11.PyKCS11Error as e:
        check("C_Login with A's user PIN (valid when A's backup was made)", False, rv_name(e.value))
    hs, rv = find([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, "a-rsa")])
    check("after re-login: A's private key is found by label", rv is None and len(hs) == 1,
          "got %s" % (hs if rv is None else rv_name(rv)))
    h_priv_a = hs[0] if hs else h_priv_b
    sig, rv = sign(session, h_priv_a)
    check("after re-login: A's key signs and openssl verifies with A's public key exported before "
          "the backup", sig is not None and openssl_verifies(pem_a, message, sig),
          rv_name(rv) if rv else "does not verify")
    all_a, rv = find([])
    labels_now = sorted(label_of(session, h) for h in (all_a or []))
    expected = sorted(["a-rsa", "a-rsa", "a-data", "a-public"])  # the RSA public and private key
    check("after re-login: C_FindObjects({}) returns exactly A's 4 objects %s" % expected,
          rv is None and labels_now == expected,
          "got %s" % (labels_now if rv is None else rv_name(rv)))
    check("after re-login: no object of B is left", not (set(labels_now) & labels_b), str(labels_now))
    observed("after re-login, B's old private-key handle %d names %r (handles are store ids)" %
             (h_priv_b, label_of(session, h_priv_b)))

    print("=== phase 2: the application signs in a loop while B's own backup is restored onto B")
    proc, presser = start_with_press(b, "backup", "restore", "--device", b, bak_b, "--force")
    sigs, first_error, errors_after = [], None, 0
    deadline = time.time() + 60
    t0, timings = time.time(), []
    while time.time() < deadline:
        done = proc.poll() is not None
        t = time.time()
        sig, rv = sign(session, h_priv_a)
        timings.append((round(t - t0, 3), round(time.time() - t, 3), "ok" if sig else rv_name(rv)))
        if sig is not None:
            if first_error is None:
                sigs.append(sig)
            else:
                check("phase 2: no signature after the first failure", False, "one more signature")
        else:
            if first_error is None:
                first_error = rv
            errors_after += 1
        if done:
            break
    rc, out, err = finish_with_press(proc, presser)
    observed("phase 2: sign calls (start s, duration s, result): %s%s" %
             (timings[:6], " ... %s" % timings[-3:] if len(timings) > 6 else ""))
    check("phase 2: the restore of B's own backup succeeds while the application signs", rc == 0,
          "exit %d: %s %s" % (rc, out, err))
    observed("phase 2: %d signatures before the first failure (%s), %d failed calls" %
             (len(sigs), rv_name(first_error) if first_error is not None else "none", errors_after))
    bad = [i for i, s in enumerate(sigs) if not openssl_verifies(pem_a, message, s)]
    check("phase 2: every signature the application got during the restore verifies with A's public key",
          not bad, "signatures %s do not verify" % bad)
    check("phase 2: once the restore committed, signing gives CKR_USER_NOT_LOGGED_IN",
          first_error == CKR_USER_NOT_LOGGED_IN, rv_name(first_error) if first_error else "no failure")
    for label in sorted(labels_a):
        hs, rv = find([(CKA_LABEL, label)])
        check("phase 2: C_FindObjects(label=%s) returns none of A's objects after B's restore" % label,
              not hs, "got %s" % hs)
    try:
        session.logout()
    except PyKCS11.PyKCS11Error:
        pass
    try:
        session.login(pin_b)
        check("phase 2: B's own user PIN logs in again", True)
    except PyKCS11.PyKCS11Error as e:
        check("phase 2: B's own user PIN logs in again", False, rv_name(e.value))
    hs, rv = find([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, "b-rsa")])
    sig, rv = sign(session, hs[0]) if hs else (None, rv)
    check("phase 2: B's key is back and its signature verifies with B's public key",
          sig is not None and openssl_verifies(pem_b, message, sig), rv_name(rv) if rv else "")
    session.logout()
    session.closeSession()
    pending_sign.closeSession()
    pending_find.closeSession()


try:
    main()
finally:
    if os.environ.get("E2E_KEEP_WORKDIR"):
        print("e2e: keeping work directory %s" % WORK)
    else:
        shutil.rmtree(WORK, ignore_errors=True)
print("=== %d checks, %d failed%s" % (CHECKS[0], len(FAILURES),
                                      "".join("\n  FAILED: " + f for f in FAILURES)))
sys.exit(1 if FAILURES else 0)
