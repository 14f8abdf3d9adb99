#!/usr/bin/env bash
# Issue 13.5: an RSA key allowed only RSA-PSS mechanisms, seen by real clients. pkcs11-tool makes
# it (--allowed-mechanisms), PyKCS11 reads its CKA_PUBLIC_KEY_INFO, `openssl pkey` reads that as
# an RSASSA-PSS key, openssl verifies pkcs11-tool's PSS signature with it, and keys with a mixed
# list or none stay rsaEncryption. Then TLS 1.3: a certificate carrying the token's RSASSA-PSS
# key, `gnutls-serv` signing the handshake with the token's key, `openssl s_client` checking it.
# (openssl s_server through the libp11 engine cannot serve that certificate: see the note at the
# end and docs/pkcs11.md.)
#
# Usage: rsa_pss_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
client_init "$@"
need openssl pkcs11-tool p11tool gnutls-serv

client_device pss
P11=(pkcs11-tool --module "${MODULE}" --login --pin "${USER_PIN}")
PSS_ONLY=RSA-PKCS-PSS,SHA1-RSA-PKCS-PSS,SHA256-RSA-PKCS-PSS,SHA384-RSA-PKCS-PSS,SHA512-RSA-PKCS-PSS

section "keys"
must "${P11[@]}" --keypairgen --key-type rsa:2048 --id 01 --label pss-key \
  --allowed-mechanisms "${PSS_ONLY}"
must "${P11[@]}" --keypairgen --key-type rsa:2048 --id 02 --label mixed-key \
  --allowed-mechanisms SHA256-RSA-PKCS-PSS,SHA256-RSA-PKCS
must "${P11[@]}" --keypairgen --key-type rsa:2048 --id 03 --label plain-key

section "CKA_PUBLIC_KEY_INFO, read through PyKCS11, seen by openssl"
# pkcs11-tool 0.23 (--read-object) and p11tool 3.7 (--export-pubkey) rebuild an RSA public key
# from CKA_MODULUS and CKA_PUBLIC_EXPONENT and always write rsaEncryption: the attribute itself
# is read here with PyKCS11 (Debian python3-pykcs11), from both halves of each pair.
cat >"${WORK}/spki.py" <<'EOF_PY'
"""spki.py MODULE PIN LABEL OUT: OUT.pub.der and OUT.priv.der, CKA_PUBLIC_KEY_INFO of the public
and the private key labelled LABEL."""
import sys
import PyKCS11
from PyKCS11 import CKA_CLASS, CKA_LABEL, CKA_PUBLIC_KEY_INFO, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY
module, pin, label, out = sys.argv[1:5]
lib = PyKCS11.PyKCS11Lib()
lib.load(module)
session = lib.openSession(lib.getSlotList(tokenPresent=True)[0])
session.login(pin)
for cls, half in ((CKO_PUBLIC_KEY, "pub"), (CKO_PRIVATE_KEY, "priv")):
    (key,) = session.findObjects([(CKA_CLASS, cls), (CKA_LABEL, label)])
    (value,) = session.getAttributeValue(key, [CKA_PUBLIC_KEY_INFO])
    with open("%s.%s.der" % (out, half), "wb") as f:
        f.write(bytes(value))
session.logout()
session.closeSession()
EOF_PY
# spki LABEL: WORK/LABEL.pub.der and WORK/LABEL.priv.der, the halves' CKA_PUBLIC_KEY_INFO.
spki() {
  run "${PY}" "${WORK}/spki.py" "${MODULE}" "${USER_PIN}" "$1" "${WORK}/$1"
  assert_ok "PyKCS11 reads CKA_PUBLIC_KEY_INFO of both halves of $1"
}
for k in pss-key mixed-key plain-key; do spki "${k}"; done
for half in pub priv; do
  run openssl asn1parse -inform DER -in "${WORK}/pss-key.${half}.der"
  assert_ok "openssl asn1parse reads the PSS-only key's SubjectPublicKeyInfo (${half})"
  assert_out_contains ":rsassaPss" "its algorithm is id-RSASSA-PSS (${half})"
  assert_file_not_contains "${OUT}" ":rsaEncryption" "and not rsaEncryption (${half})"
  run openssl pkey -pubin -inform DER -in "${WORK}/pss-key.${half}.der" -text -noout
  assert_ok "openssl pkey -pubin reads it (${half})"
  assert_out_contains "Public-Key: (2048 bit)" "openssl reads the RSA key (${half})"
  # What OpenSSL prints for an RSA-PSS key without parameters only.
  assert_out_contains "No PSS parameter restrictions" "as an RSA-PSS key without parameters: no restriction beyond PSS (${half})"
  for k in mixed-key plain-key; do
    run openssl asn1parse -inform DER -in "${WORK}/${k}.${half}.der"
    assert_out_contains ":rsaEncryption" "the ${k}'s SubjectPublicKeyInfo is rsaEncryption (${half})"
    run openssl pkey -pubin -inform DER -in "${WORK}/${k}.${half}.der" -text -noout
    assert_out_contains "Public-Key: (2048 bit)" "openssl reads the ${k} (${half})"
    assert_file_not_contains "${OUT}" "PSS parameter" "as an RSA key, not an RSA-PSS one (${k}, ${half})"
  done
done
must openssl pkey -pubin -inform DER -in "${WORK}/pss-key.pub.der" -out "${WORK}/pss.pub.pem"
# p11tool's export (rsaEncryption, from the modulus) is the same key.
export_pubkey 01 "${WORK}/pss.p11tool.pem"
run openssl pkey -pubin -in "${WORK}/pss.p11tool.pem" -noout -modulus
modulus_tool="$(cat "${OUT}")"
run openssl pkey -pubin -in "${WORK}/pss.pub.pem" -noout -modulus
assert_eq "${modulus_tool}" "$(cat "${OUT}")" "p11tool's export and CKA_PUBLIC_KEY_INFO hold one modulus"

section "a PSS signature by pkcs11-tool, verified by openssl with the RSASSA-PSS key"
head -c 3000 /dev/urandom >"${WORK}/data"
run "${P11[@]}" --sign --id 01 --mechanism SHA256-RSA-PKCS-PSS -i "${WORK}/data" -o "${WORK}/data.sig"
assert_ok "pkcs11-tool --sign --mechanism SHA256-RSA-PKCS-PSS"
run openssl dgst -sha256 -verify "${WORK}/pss.pub.pem" -sigopt rsa_padding_mode:pss \
  -sigopt rsa_pss_saltlen:32 -signature "${WORK}/data.sig" "${WORK}/data"
assert_out_contains "Verified OK" "openssl verifies the signature with the token's RSASSA-PSS key"
printf 'x' >>"${WORK}/data"
run openssl dgst -sha256 -verify "${WORK}/pss.pub.pem" -sigopt rsa_padding_mode:pss \
  -sigopt rsa_pss_saltlen:32 -signature "${WORK}/data.sig" "${WORK}/data"
assert_fails "and not over other data"
run "${P11[@]}" --sign --id 01 --mechanism SHA256-RSA-PKCS -i "${WORK}/data" -o "${WORK}/data.v15"
assert_fails "the PSS-only key makes no PKCS#1 v1.5 signature"

section "TLS 1.3: gnutls-serv with the token's key and a certificate of its RSASSA-PSS key"
# A certificate for the SubjectPublicKeyInfo p11tool exported, issued by a CA of the test (the
# request only carries the name: -force_pubkey puts the token's key in the certificate).
D="${WORK}/tls"
mkdir -p "${D}"
must openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "${D}/ca.key" \
  -subj "/CN=twinhsm test CA" -days 7 -out "${D}/ca.pem"
must openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "${D}/name.key" \
  -subj "/CN=localhost" -out "${D}/name.csr"
printf 'subjectAltName=IP:127.0.0.1\nkeyUsage=critical,digitalSignature\n' >"${D}/ext.cnf"
must openssl x509 -req -in "${D}/name.csr" -CA "${D}/ca.pem" -CAkey "${D}/ca.key" \
  -CAcreateserial -force_pubkey "${WORK}/pss.pub.pem" -extfile "${D}/ext.cnf" -days 7 \
  -out "${D}/server.pem"
run openssl x509 -in "${D}/server.pem" -noout -text
assert_out_contains "Public Key Algorithm: rsassaPss" "the server's certificate carries the RSASSA-PSS key"
port="$(free_port)"
background "${D}/gnutls-serv.log" env TWINHSM_LOG=debug TWINHSM_LOG_FILE="${D}/module.log" \
  gnutls-serv --provider "${MODULE}" -p "${port}" --echo \
  --priority "NORMAL:-VERS-ALL:+VERS-TLS1.3" \
  --x509certfile "${D}/server.pem" \
  --x509keyfile "pkcs11:token=pss;object=pss-key;type=private;pin-value=${USER_PIN}"
server=${BG_PID}
if wait_for_port "${port}" 20; then pass; else
  fail "gnutls-serv did not start"
  sed 's/^/    /' "${D}/gnutls-serv.log" | head -20 >&2
fi
run openssl s_client -connect "127.0.0.1:${port}" -tls1_3 -CAfile "${D}/ca.pem" \
  -verify_return_error -verify_ip 127.0.0.1
assert_ok "openssl s_client completes the handshake"
assert_out_contains "New, TLSv1.3, Cipher is" "the handshake is TLS 1.3"
assert_out_contains "Verify return code: 0 (ok)" "s_client verifies the server's certificate"
assert_out_contains "Peer signature type: RSA-PSS" "the server signed the handshake with RSA-PSS"
openssl x509 -in "${OUT}" -pubkey -noout >"${D}/peer.pub.pem" 2>/dev/null || true
assert_true "the server's public key is the token's" same_pubkey "${D}/peer.pub.pem" "${WORK}/pss.pub.pem"
kill "${server}" 2>/dev/null || true
wait "${server}" 2>/dev/null || true
# The handshake signature (CertificateVerify) was made by the module with CKM_RSA_PKCS_PSS.
assert_file_contains "${D}/module.log" "C_Sign(" "gnutls-serv signed through the module"

# Note: `openssl s_server -engine pkcs11 -key pkcs11:...` cannot serve this certificate with
# Debian 12's libp11 0.4.12: the engine gives OpenSSL every RSA token key as an EVP_PKEY of type
# RSA, while the certificate's key is of type RSA-PSS; OpenSSL 3.0 compares keys of different
# types as different (EVP_PKEY_eq), puts them in different slots of the server's certificate
# table (SSL_PKEY_RSA and SSL_PKEY_RSA_PSS_SIGN) and s_server stops with "Private key does not
# match the certificate public key". The pkcs11-provider, which would type the key RSA-PSS, is not
# in Debian 12.

e2e_finish
