#!/usr/bin/env bash
# Python with keys in twinhsm: pykcs11_client.py (PyKCS11, Debian python3-pykcs11, run by
# /usr/bin/python3) generates EC and RSA key pairs, finds them by label and id and signs; openssl
# verifies the signatures with the public keys the application read from the token.
#
# Usage: python_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
client_init "$@"
need openssl
"${PY}" -c 'import PyKCS11' 2>/dev/null || { fail "PyKCS11 is needed (Debian python3-pykcs11; run scripts/setup.sh)"; exit 1; }

client_device python
head -c 10000 /dev/urandom >"${WORK}/data"

recipe "the application"
run "${PY}" "${CLIENTS_DIR}/pykcs11_client.py" "${MODULE}" "${USER_PIN}" "${WORK}"
assert_ok "pykcs11_client.py runs"
assert_out_contains "library: twinhsm PKCS#11 module" "PyKCS11 loaded twinhsm"
assert_out_contains "token: python" "the token's label"
assert_out_contains "generated: py-ec py-rsa" "the key pairs were generated"
assert_out_contains "found by label py-ec: 2" "by label: the EC public and private key"
assert_out_contains "classes of py-ec: CKO_PUBLIC_KEY CKO_PRIVATE_KEY" "by label: one public and one private key"
assert_out_contains "found by id 43: 2" "by id: the RSA key pair"
assert_out_contains "found private key py-rsa: 1" "by class and label: the RSA private key"
assert_out_contains "same handle: True" "the key found is the one generated"
assert_out_contains "found by label none-such: 0" "an unknown label finds nothing"
assert_out_contains "key type of id 42: CKK_EC" "the key with id 42 is an EC key"
assert_out_contains "C_Verify of the RSA signature: True" "the token verifies its own signature"

section "openssl verifies the application's signatures"
for k in py-ec py-rsa; do
  run openssl pkey -pubin -inform DER -in "${WORK}/${k}.pub.der" -out "${WORK}/${k}.pub.pem"
  assert_ok "openssl reads the ${k} public key the application built from the token's attributes"
  run openssl dgst -sha256 -verify "${WORK}/${k}.pub.pem" -signature "${WORK}/${k}.sig" "${WORK}/data"
  assert_out_contains "Verified OK" "openssl verifies the ${k} signature"
  printf 'x' >>"${WORK}/data"
  run openssl dgst -sha256 -verify "${WORK}/${k}.pub.pem" -signature "${WORK}/${k}.sig" "${WORK}/data"
  assert_fails "the ${k} signature does not verify other data"
  truncate -s 10000 "${WORK}/data"
done

section "the keys are on the token (pkcs11-tool sees them)"
run pkcs11-tool --module "${MODULE}" --login --pin "${USER_PIN}" --list-objects --type privkey
assert_out_contains "py-ec" "pkcs11-tool lists the EC key the application made"
assert_out_contains "py-rsa" "pkcs11-tool lists the RSA key the application made"

e2e_finish
