#!/usr/bin/env bash
# End-to-end test of the PKCS#11 module through OpenSC's pkcs11-tool, checked with openssl: token
# and PIN initialization, RSA / EC / Ed25519 / AES key generation, signatures that openssl
# verifies with the exported public keys, wrong PINs, random numbers, and pkcs11-tool's own
# self-tests (--test), whose output is kept in the log.
#
# Usage: pkcs11_tool_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail

CLI="$(realpath -m "$1")"
MODULE="$(realpath -m "$2")"
# shellcheck source=lib.sh
source "$(dirname "$(realpath "$0")")/lib.sh"
e2e_init
e2e_require_built "${CLI}" "${MODULE}"

for tool in pkcs11-tool openssl; do
  command -v "${tool}" >/dev/null || { fail "${tool} is needed"; exit 1; }
done

SO_PIN=so-secret-1
USER_PIN=user-secret-1
DEV="${WORK}/device"
export TWINHSM_CONF="${WORK}/twinhsm.toml"
write_conf "${TWINHSM_CONF}" "${DEV}"
P11=(pkcs11-tool --module "${MODULE}")
LOGIN=(--login --pin "${USER_PIN}")

must "${CLI}" factory new-master-key -o "${WORK}/master.key"
must "${CLI}" factory personalize --device "${DEV}" --master-key "${WORK}/master.key" \
  --diversifier e2e-pkcs11 --serial P11-E2E --pbkdf2-iterations 1000 --max-login-failures 5

# ---------------------------------------------------------------------------------------------
section "slot and token"
run "${P11[@]}" --list-slots
assert_ok "--list-slots"
assert_out_contains "${DEV}" "the slot names its device"
assert_out_contains "uninitialized" "the token starts uninitialized"

# Slots come from TWINHSM_CONF in file order; without it, the default device is the only slot.
DEV2="${WORK}/device2"
must "${CLI}" factory personalize --device "${DEV2}" --master-key "${WORK}/master.key" \
  --diversifier e2e-pkcs11-2 --pbkdf2-iterations 1000
write_conf "${WORK}/two.toml" "${DEV2}" "${DEV}"
run env TWINHSM_CONF="${WORK}/two.toml" "${P11[@]}" --list-slots
assert_ok "--list-slots with two devices"
assert_out_contains "Slot 0 (0x0): twinhsm device ${DEV2}" "slot 0 is the first device in the file"
assert_out_contains "Slot 1 (0x1): twinhsm device ${DEV}" "slot 1 is the second device in the file"
must "${CLI}" factory personalize --device "${XDG_DATA_HOME}/twinhsm" --master-key "${WORK}/master.key" \
  --diversifier e2e-default --pbkdf2-iterations 1000
run env -u TWINHSM_CONF "${P11[@]}" --list-slots
assert_ok "--list-slots without TWINHSM_CONF"
assert_out_contains "Slot 0 (0x0): twinhsm device ${XDG_DATA_HOME}/twinhsm" "the default device is \$XDG_DATA_HOME/twinhsm"
assert_eq 1 "$(grep -c '^Slot ' "${OUT}")" "one slot without TWINHSM_CONF"
run env TWINHSM_CONF="${WORK}/no-such.toml" "${P11[@]}" --list-slots
assert_fails "a TWINHSM_CONF naming a missing file fails C_Initialize"
printf '[[slot]]\ndevice = \n' >"${WORK}/broken.toml"
run env TWINHSM_CONF="${WORK}/broken.toml" "${P11[@]}" --list-slots
assert_fails "an invalid TWINHSM_CONF fails C_Initialize"

run "${P11[@]}" --init-token --so-pin "${SO_PIN}" --label e2e-token
assert_ok "--init-token"
run "${P11[@]}" --init-pin --login --so-pin "${SO_PIN}" --pin "${USER_PIN}"
assert_ok "--init-pin"
run "${P11[@]}" --list-token-slots
assert_ok "--list-token-slots"
assert_out_contains "e2e-token" "the token label"
assert_out_contains "PIN initialized" "the token flags show the user PIN"

run "${P11[@]}" --list-mechanisms
assert_ok "--list-mechanisms"
for m in RSA-PKCS-KEY-PAIR-GEN ECDSA-KEY-PAIR-GEN EC-EDWARDS-KEY-PAIR-GEN AES-KEY-GEN RSA-PKCS \
  SHA1-RSA-PKCS SHA224-RSA-PKCS SHA256-RSA-PKCS SHA384-RSA-PKCS SHA512-RSA-PKCS RSA-PKCS-PSS \
  SHA256-RSA-PKCS-PSS ECDSA ECDSA-SHA256 ECDSA-SHA384 ECDSA-SHA512 EDDSA AES-GCM; do
  if grep -qE "^ *${m}[ ,]" "${OUT}"; then pass; else fail "mechanism ${m} is not listed"; fi
done

# ---------------------------------------------------------------------------------------------
section "key generation"
run "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type rsa:2048 --id 01 --label rsa
assert_ok "RSA 2048 key pair"
run "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type EC:prime256v1 --id 02 --label ec256
assert_ok "EC P-256 key pair"
run "${P11[@]}" "${LOGIN[@]}" --keygen --key-type AES:32 --id 03 --label aes
assert_ok "AES-256 key"
run "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type EC:secp384r1 --id 04 --label ec384
assert_ok "EC P-384 key pair"
run "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type EC:secp521r1 --id 05 --label ec521
assert_ok "EC P-521 key pair"
# pkcs11-tool 0.23 spells Ed25519 "edwards25519" (its help's "ed25519" is not recognized).
run "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type EC:edwards25519 --id 06 --label ed25519
assert_ok "Ed25519 key pair"
run "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type rsa:1024 --id 07 --label too-small
assert_fails "RSA 1024 is refused"
assert_err_contains "CKR_KEY_SIZE_RANGE" "RSA 1024 fails with CKR_KEY_SIZE_RANGE"
run "${P11[@]}" --keypairgen --key-type EC:prime256v1 --id 08 --label no-login
assert_fails "key generation without a login is refused"

run "${P11[@]}" "${LOGIN[@]}" --list-objects
assert_ok "--list-objects"
cp "${OUT}" "${WORK}/objects.txt"
for label in rsa ec256 aes ec384 ec521 ed25519; do
  if grep -qE "label: +${label}\$" "${WORK}/objects.txt"; then pass; else fail "--list-objects shows no object labelled ${label}"; fi
done
assert_eq 2 "$(grep -cE '^Private Key Object|^Public Key Object' <(grep -B1 -E 'label: +rsa$' "${WORK}/objects.txt"))" \
  "an RSA private and public key labelled rsa"
assert_file_contains "${WORK}/objects.txt" "Secret Key Object; AES length 32" "the AES key"
assert_eq 5 "$(grep -c '^Private Key Object' "${WORK}/objects.txt")" "five private keys"
assert_eq 5 "$(grep -c '^Public Key Object' "${WORK}/objects.txt")" "five public keys"
assert_eq 0 "$(grep -c 'too-small\|no-login' "${WORK}/objects.txt")" "refused key generations left nothing"
run "${P11[@]}" --list-objects
assert_ok "--list-objects without login"
assert_eq 0 "$(grep -c '^Private Key Object' "${OUT}")" "private keys are hidden without a login"

# ---------------------------------------------------------------------------------------------
section "signatures verified by openssl"
head -c 10000 /dev/urandom >"${WORK}/data"
cp "${WORK}/data" "${WORK}/tampered"
printf 'x' | dd of="${WORK}/tampered" bs=1 seek=5000 conv=notrunc status=none

# ec_spki ID OUT: builds the SubjectPublicKeyInfo (DER) of EC public key ID from its CKA_EC_PARAMS
# and CKA_EC_POINT as --list-objects prints them.
ec_spki() {
  "${P11[@]}" --list-objects --type pubkey 2>/dev/null | "${PY}" -c '
import re, sys
# pkcs11-tool 0.23 lists every object whatever --id says: take the public key with this ID.
blocks = re.split(r"\n(?=\S)", sys.stdin.read())
text = [b for b in blocks if b.startswith("Public Key Object") and re.search(r"ID: +%s\n" % sys.argv[2], b + "\n")][0]
point = bytes.fromhex(re.search(r"EC_POINT: +([0-9a-f]+)", text).group(1))
params = bytes.fromhex(re.search(r"EC_PARAMS: +([0-9a-f]+)", text).group(1))
def der_len(n):
    return bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82, n >> 8, n & 255])
def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body
# CKA_EC_POINT is the DER OCTET STRING holding the uncompressed point.
assert point[0] == 0x04
n, off = (point[1], 2) if point[1] < 128 else (point[2], 3)
q = point[off:off + n]
assert len(q) == n and q[0] == 0x04
ec_public_key = bytes.fromhex("06072a8648ce3d0201")
spki = tlv(0x30, tlv(0x30, ec_public_key + params) + tlv(0x03, b"\0" + q))
open(sys.argv[1], "wb").write(spki)
' "$2" "$1"
}

# export_pub ID NAME: the public key as PEM in $WORK/NAME.pem. pkcs11-tool writes DER for RSA and
# EC keys and PEM for Ed25519.
export_pub() {
  run "${P11[@]}" --read-object --type pubkey --id "$1" -o "${WORK}/$2.pub"
  if [[ ${RC} -ne 0 ]] && grep -q "cannot create EVP_PKEY" "${ERR}"; then
    # pkcs11-tool 0.23 cannot export P-384 keys (it fails the same way on SoftHSM 2.6.1): build
    # the SubjectPublicKeyInfo from the key's attributes instead.
    echo "note: pkcs11-tool cannot export public key $1 ($(grep error: "${ERR}")); building it from CKA_EC_POINT"
    ec_spki "$1" "${WORK}/$2.pub" && RC=0
  fi
  assert_ok "export public key $1"
  if openssl pkey -pubin -inform DER -in "${WORK}/$2.pub" -out "${WORK}/$2.pem" 2>/dev/null ||
    openssl pkey -pubin -inform PEM -in "${WORK}/$2.pub" -out "${WORK}/$2.pem" 2>/dev/null; then
    pass
  else
    fail "openssl cannot read the public key $1 that pkcs11-tool exported"
  fi
}
export_pub 01 rsa
export_pub 02 ec256
export_pub 04 ec384
export_pub 05 ec521
export_pub 06 ed25519
assert_file_contains <(openssl pkey -pubin -in "${WORK}/rsa.pem" -text -noout 2>&1) "2048 bit" "the RSA key has 2048 bits"
assert_file_contains <(openssl pkey -pubin -in "${WORK}/ec256.pem" -text -noout 2>&1) "prime256v1" "the EC key is on P-256"
assert_file_contains <(openssl pkey -pubin -in "${WORK}/ec384.pem" -text -noout 2>&1) "secp384r1" "the EC key is on P-384"
assert_file_contains <(openssl pkey -pubin -in "${WORK}/ec521.pem" -text -noout 2>&1) "secp521r1" "the EC key is on P-521"
assert_file_contains <(openssl pkey -pubin -in "${WORK}/ed25519.pem" -text -noout 2>&1) "ED25519" "the Ed25519 key"

# The private keys never leave the token: every one is sensitive and was never extractable.
assert_eq 5 "$(grep -A5 '^Private Key Object' "${WORK}/objects.txt" | grep -c 'Access: .*sensitive, always sensitive, never extractable')" \
  "every generated private key is sensitive and never extractable"

# sign_verify ID MECHANISM KEY DIGEST [openssl dgst options...]: pkcs11-tool signs, openssl
# verifies; the tampered file must not verify.
sign_verify() {
  local id="$1" mech="$2" key="$3" dgst="$4"
  shift 4
  local sig="${WORK}/sig-${mech}-${id}"
  local fmt=()
  [[ "${mech}" == ECDSA* ]] && fmt=(--signature-format openssl)
  run "${P11[@]}" "${LOGIN[@]}" --sign --mechanism "${mech}" --id "${id}" "${fmt[@]}" -i "${WORK}/data" -o "${sig}"
  assert_ok "sign with ${mech} (key ${id})"
  run openssl dgst "-${dgst}" "$@" -verify "${WORK}/${key}.pem" -signature "${sig}" "${WORK}/data"
  assert_ok "openssl verifies the ${mech} signature (key ${id})"
  run openssl dgst "-${dgst}" "$@" -verify "${WORK}/${key}.pem" -signature "${sig}" "${WORK}/tampered"
  assert_fails "the ${mech} signature (key ${id}) does not verify other data"
}
sign_verify 01 SHA256-RSA-PKCS rsa sha256
sign_verify 01 SHA1-RSA-PKCS rsa sha1
sign_verify 01 SHA384-RSA-PKCS rsa sha384
sign_verify 01 SHA512-RSA-PKCS rsa sha512
sign_verify 01 SHA256-RSA-PKCS-PSS rsa sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
sign_verify 02 ECDSA-SHA256 ec256 sha256
sign_verify 04 ECDSA-SHA384 ec384 sha384
sign_verify 05 ECDSA-SHA512 ec521 sha512

# The pkeyutl variant for RSA: the SHA256-RSA-PKCS signature over the file's digest.
openssl dgst -sha256 -binary "${WORK}/data" >"${WORK}/data.sha256"
run openssl pkeyutl -verify -pubin -inkey "${WORK}/rsa.pem" -pkeyopt digest:sha256 \
  -in "${WORK}/data.sha256" -sigfile "${WORK}/sig-SHA256-RSA-PKCS-01"
assert_ok "openssl pkeyutl verifies the SHA256-RSA-PKCS signature"

# Raw ECDSA over a digest made here.
run "${P11[@]}" "${LOGIN[@]}" --sign --mechanism ECDSA --id 02 --signature-format openssl \
  -i "${WORK}/data.sha256" -o "${WORK}/sig-ECDSA-02"
assert_ok "sign a SHA-256 digest with raw ECDSA"
run openssl pkeyutl -verify -pubin -inkey "${WORK}/ec256.pem" -in "${WORK}/data.sha256" -sigfile "${WORK}/sig-ECDSA-02"
assert_ok "openssl verifies the raw ECDSA signature"

# EdDSA (pure Ed25519 over the message).
run "${P11[@]}" "${LOGIN[@]}" --sign --mechanism EDDSA --id 06 -i "${WORK}/data" -o "${WORK}/sig-EDDSA-06"
assert_ok "sign with EDDSA"
assert_eq 64 "$(wc -c <"${WORK}/sig-EDDSA-06")" "an Ed25519 signature is 64 bytes"
run openssl pkeyutl -verify -pubin -inkey "${WORK}/ed25519.pem" -rawin -in "${WORK}/data" -sigfile "${WORK}/sig-EDDSA-06"
assert_ok "openssl verifies the EdDSA signature"
run openssl pkeyutl -verify -pubin -inkey "${WORK}/ed25519.pem" -rawin -in "${WORK}/tampered" -sigfile "${WORK}/sig-EDDSA-06"
assert_fails "the EdDSA signature does not verify other data"

# And the module verifies its own signatures.
# (pkcs11-tool exits 0 either way and says which.)
run "${P11[@]}" "${LOGIN[@]}" --verify --mechanism SHA256-RSA-PKCS --id 01 -i "${WORK}/data" \
  --signature-file "${WORK}/sig-SHA256-RSA-PKCS-01"
assert_ok "C_Verify of a good RSA signature"
assert_out_contains "Signature is valid" "C_Verify accepts a good RSA signature"
run "${P11[@]}" "${LOGIN[@]}" --verify --mechanism SHA256-RSA-PKCS --id 01 -i "${WORK}/tampered" \
  --signature-file "${WORK}/sig-SHA256-RSA-PKCS-01"
assert_out_contains "Invalid signature" "C_Verify rejects an RSA signature of other data"
run "${P11[@]}" "${LOGIN[@]}" --verify --mechanism ECDSA-SHA256 --signature-format openssl --id 02 \
  -i "${WORK}/data" --signature-file "${WORK}/sig-ECDSA-SHA256-02"
assert_out_contains "Signature is valid" "C_Verify accepts a good ECDSA signature"

# A key may only do what it is for.
run "${P11[@]}" "${LOGIN[@]}" --sign --mechanism ECDSA-SHA256 --id 01 -i "${WORK}/data" -o "${WORK}/bad.sig"
assert_fails "ECDSA with an RSA key is refused"

# ---------------------------------------------------------------------------------------------
section "AES-GCM"
run "${P11[@]}" "${LOGIN[@]}" --encrypt --mechanism AES-GCM --id 03 -i "${WORK}/data" -o "${WORK}/data.gcm"
if [[ ${RC} -ne 0 ]] && grep -q "illegal or not supported" "${ERR}"; then
  # pkcs11-tool 0.23 encrypts only with AES-ECB/CBC/CBC-PAD (GCM arrived in 0.24, with --aad and
  # --tag-bits-len); it refuses before calling the module.
  echo "SKIP: this pkcs11-tool cannot encrypt with AES-GCM: $(head -n 3 "${ERR}" | tr '\n' ' ')"
else
  assert_ok "AES-GCM encryption"
  run "${P11[@]}" "${LOGIN[@]}" --decrypt --mechanism AES-GCM --id 03 -i "${WORK}/data.gcm" -o "${WORK}/data.plain"
  assert_ok "AES-GCM decryption"
  assert_true "AES-GCM round trip" cmp -s "${WORK}/data" "${WORK}/data.plain"
fi

# ---------------------------------------------------------------------------------------------
section "random numbers"
run "${P11[@]}" --generate-random 64 -o "${WORK}/rnd1"
assert_ok "--generate-random"
assert_eq 64 "$(wc -c <"${WORK}/rnd1")" "64 random bytes"
run "${P11[@]}" --generate-random 64 -o "${WORK}/rnd2"
assert_true "two random draws differ" test "$(xxd -p "${WORK}/rnd1")" != "$(xxd -p "${WORK}/rnd2")"

# ---------------------------------------------------------------------------------------------
section "wrong PINs"
run "${P11[@]}" --login --pin wrong-pin-1 --list-objects
assert_fails "a wrong user PIN"
assert_err_contains "CKR_PIN_INCORRECT" "a wrong user PIN gives CKR_PIN_INCORRECT"
run "${CLI}" device info --device "${DEV}" --json
assert_eq 1 "$(json "${OUT}" 'd["token"]["user_pin_failures"]')" "the CLI sees the module's failed login"
run "${P11[@]}" --list-token-slots
assert_out_contains "user PIN count low" "the token flags show CKF_USER_PIN_COUNT_LOW after a failure"
run "${P11[@]}" --init-pin --login --so-pin wrong-so-1 --pin some-user-pin
assert_fails "a wrong SO PIN"
assert_err_contains "CKR_PIN_INCORRECT" "a wrong SO PIN gives CKR_PIN_INCORRECT"
run "${P11[@]}" "${LOGIN[@]}" --list-objects
assert_ok "the right user PIN still works"
run "${CLI}" device info --device "${DEV}" --json
assert_eq 0 "$(json "${OUT}" 'd["token"]["user_pin_failures"]')" "a right PIN clears the count"
# Lockout after 5 failures (--max-login-failures 5); the 4th failure leaves one try.
for i in 1 2 3 4; do
  run "${P11[@]}" --login --pin "wrong-pin-${i}" --list-objects
done
run "${P11[@]}" --list-token-slots
assert_out_contains "final user PIN try" "CKF_USER_PIN_FINAL_TRY with one try left"
run "${P11[@]}" --login --pin wrong-pin-5 --list-objects
assert_fails "the 5th wrong PIN"
# The attempt that reaches the limit may say CKR_PIN_INCORRECT or already CKR_PIN_LOCKED.
if grep -qE "CKR_PIN_INCORRECT|CKR_PIN_LOCKED" "${ERR}"; then pass; else
  fail "the 5th wrong PIN: expected CKR_PIN_INCORRECT or CKR_PIN_LOCKED"; show_run
fi
run "${P11[@]}" "${LOGIN[@]}" --list-objects
assert_fails "the right PIN after the limit"
assert_err_contains "CKR_PIN_LOCKED" "a locked user PIN gives CKR_PIN_LOCKED"
run "${P11[@]}" --list-token-slots
assert_out_contains "user PIN locked" "CKF_USER_PIN_LOCKED"
run "${P11[@]}" --init-pin --login --so-pin "${SO_PIN}" --pin "${USER_PIN}"
assert_ok "the SO resets the locked user PIN"
run "${P11[@]}" "${LOGIN[@]}" --list-objects
assert_ok "the reset user PIN works"
# Change the user PIN through C_SetPIN.
run "${P11[@]}" --change-pin --pin "${USER_PIN}" --new-pin user-secret-2
assert_ok "--change-pin"
run "${P11[@]}" --login --pin user-secret-2 --list-objects
assert_ok "the changed user PIN works"
run "${P11[@]}" "${LOGIN[@]}" --list-objects
assert_err_contains "CKR_PIN_INCORRECT" "the old user PIN no longer works"
USER_PIN=user-secret-2
LOGIN=(--login --pin "${USER_PIN}")

# ---------------------------------------------------------------------------------------------
section "fork"
# PKCS#11: a child process must call C_Initialize before it uses the library; that call must work.
run "${P11[@]}" --test-fork
assert_ok "pkcs11-tool --test-fork (C_Initialize in a forked child)"

# ---------------------------------------------------------------------------------------------
section "pkcs11-tool --test (recorded, not judged)"
# pkcs11-tool skips the mechanisms without CKF_HW unless --allow-sw, so run both.
for extra in "" "--allow-sw"; do
  # shellcheck disable=SC2086
  run "${P11[@]}" --test "${LOGIN[@]}" ${extra}
  echo "----- pkcs11-tool --test --login --pin *** ${extra} (exit status ${RC}) -----"
  cat "${OUT}" "${ERR}"
  echo "-----"
done

e2e_finish
