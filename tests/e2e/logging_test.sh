#!/usr/bin/env bash
# End-to-end test of the PKCS#11 module's debug log: with TWINHSM_LOG=debug every call is logged
# to stderr (or TWINHSM_LOG_FILE) with its return code, and no PIN or data ever appears in it;
# without it the module prints nothing at all.
#
# Usage: logging_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail

CLI="$(realpath -m "$1")"
MODULE="$(realpath -m "$2")"
# shellcheck source=lib.sh
source "$(dirname "$(realpath "$0")")/lib.sh"
e2e_init
e2e_require_built "${CLI}" "${MODULE}"

command -v pkcs11-tool >/dev/null || { fail "pkcs11-tool (package opensc) is needed"; exit 1; }

# Distinctive secrets, so that a match in the log can only be a leak.
SO_PIN=SoPin-Z7q1x
USER_PIN=UsrPin-K3m9w
NEW_PIN=NewPin-R5t2v
WRONG_PIN=BadPin-J8h4c
MARKER=DATA-MARKER-4f9c2e7a1b
SECRETS=("${SO_PIN}" "${USER_PIN}" "${NEW_PIN}" "${WRONG_PIN}" "${MARKER}")

DEV="${WORK}/device"
export TWINHSM_CONF="${WORK}/twinhsm.toml"
write_conf "${TWINHSM_CONF}" "${DEV}"
P11=(pkcs11-tool --module "${MODULE}")
must "${CLI}" factory new-master-key -o "${WORK}/master.key"
must "${CLI}" factory personalize --device "${DEV}" --master-key "${WORK}/master.key" \
  --diversifier e2e-logging --pbkdf2-iterations 1000
printf 'some data to sign: %s\n' "${MARKER}" >"${WORK}/data"

LOG_ALL="${WORK}/debug-logs.txt" # every debug log, for the secret checks
: >"${LOG_ALL}"

# logged CMD...: runs CMD with TWINHSM_LOG=debug; its stderr is kept in $LOG_ALL.
logged() {
  run env TWINHSM_LOG=debug "$@"
  cat "${ERR}" "${OUT}" >>"${LOG_ALL}"
}

# assert_logged REGEX DESCRIPTION: the last run's stderr has a line matching REGEX (grep -E).
assert_logged() {
  if grep -qE -- "$1" "${ERR}"; then pass; else
    fail "$2: no line matching /$1/ in the debug log"
    show_run
  fi
}

# ---------------------------------------------------------------------------------------------
section "TWINHSM_LOG=debug"
logged "${P11[@]}" --init-token --so-pin "${SO_PIN}" --label log-token
assert_ok "--init-token with the debug log"
assert_logged '^twinhsm: C_Initialize\(.*\) -> CKR_OK$' "C_Initialize is logged"
assert_logged '^twinhsm: C_InitToken\(.*\) -> CKR_OK$' "C_InitToken is logged with its return code"
assert_logged '^twinhsm: C_Finalize\(.*\) -> CKR_OK$' "C_Finalize is logged"

logged "${P11[@]}" --init-pin --login --so-pin "${SO_PIN}" --pin "${USER_PIN}"
assert_ok "--init-pin with the debug log"
assert_logged '^twinhsm: C_Login\(.*\) -> CKR_OK$' "the SO's C_Login is logged"
assert_logged '^twinhsm: C_InitPIN\(.*\) -> CKR_OK$' "C_InitPIN is logged"

logged "${P11[@]}" --login --pin "${USER_PIN}" --keypairgen --key-type EC:prime256v1 --id 01 --label log-key
assert_ok "--keypairgen with the debug log"
assert_logged '^twinhsm: C_GenerateKeyPair\(.*\) -> CKR_OK$' "C_GenerateKeyPair is logged"

logged "${P11[@]}" --login --pin "${USER_PIN}" --sign --mechanism ECDSA-SHA256 --id 01 \
  -i "${WORK}/data" -o "${WORK}/sig"
assert_ok "--sign with the debug log"
assert_true "a signature was written" test -s "${WORK}/sig"
assert_logged '^twinhsm: C_Login\(.*\) -> CKR_OK$' "C_Login is logged with CKR_OK"
assert_logged '^twinhsm: C_SignInit\(.*\) -> CKR_OK$' "C_SignInit is logged"
assert_logged '^twinhsm: C_Sign\(.*\) -> CKR_OK$' "C_Sign is logged with CKR_OK"
assert_logged '^twinhsm: C_FindObjects(Init)?\(.*\) -> CKR_OK$' "C_FindObjects is logged"
# Every line the module writes is "twinhsm: ..."; pkcs11-tool's own lines are not the module's.
calls="$(grep -cE '^twinhsm: C_[A-Za-z]+\(.*\) -> CKR_[A-Z_()a-z]+$' "${ERR}" || true)"
assert_true "many calls logged (${calls})" test "${calls}" -ge 8
SIGN_LOG="${ERR}"

logged "${P11[@]}" --login --pin "${WRONG_PIN}" --list-objects
assert_fails "a wrong PIN with the debug log"
assert_logged '^twinhsm: C_Login\(.*\) -> CKR_PIN_INCORRECT$' "a failed C_Login is logged with CKR_PIN_INCORRECT"

logged "${P11[@]}" --change-pin --pin "${USER_PIN}" --new-pin "${NEW_PIN}"
assert_ok "--change-pin with the debug log"
assert_logged '^twinhsm: C_SetPIN\(.*\) -> CKR_OK$' "C_SetPIN is logged"

logged "${P11[@]}" --login --pin "${NEW_PIN}" --sign --mechanism ECDSA-SHA256 --id 01 \
  -i "${WORK}/data" -o "${WORK}/sig2"
assert_ok "--sign with the new PIN and the debug log"

# Errors say why, still without secrets.
logged "${P11[@]}" --login --pin "${NEW_PIN}" --sign --mechanism SHA256-RSA-PKCS --id 01 \
  -i "${WORK}/data" -o "${WORK}/sig3"
assert_fails "an RSA mechanism with an EC key"
assert_logged '^twinhsm: C_SignInit\(.*\) -> CKR_(KEY_TYPE_INCONSISTENT|MECHANISM_INVALID|KEY_FUNCTION_NOT_PERMITTED)$' \
  "a refused C_SignInit is logged with its return code"

# ---------------------------------------------------------------------------------------------
section "no secret in the log"
sig_hex="$(xxd -p "${WORK}/sig" | tr -d '\n')"
for s in "${SECRETS[@]}"; do
  assert_file_not_contains "${LOG_ALL}" "${s}" "'${s}' in the debug log"
  assert_file_not_contains "${LOG_ALL}" "$(printf '%s' "${s}" | xxd -p | tr -d '\n')" "'${s}' (hex) in the debug log"
done
assert_file_not_contains "${LOG_ALL}" "$(xxd -p "${WORK}/data" | tr -d '\n' | head -c 32)" "the signed data (hex) in the debug log"
assert_file_not_contains "${SIGN_LOG}" "${sig_hex:0:32}" "the signature (hex) in the debug log"
assert_file_not_contains "${LOG_ALL}" "$(sed -n 's/^dbk=//p' "${DEV}/secure-element")" "the DBK in the debug log"

# ---------------------------------------------------------------------------------------------
section "TWINHSM_LOG_FILE and the configuration file"
run env TWINHSM_LOG=debug TWINHSM_LOG_FILE="${WORK}/module.log" "${P11[@]}" --login --pin "${NEW_PIN}" \
  --sign --mechanism ECDSA-SHA256 --id 01 -i "${WORK}/data" -o "${WORK}/sig4"
assert_ok "--sign with TWINHSM_LOG_FILE"
assert_file_not_contains "${ERR}" "twinhsm:" "stderr when the log goes to a file"
assert_true "TWINHSM_LOG_FILE was written" test -s "${WORK}/module.log"
assert_file_contains "${WORK}/module.log" "C_Sign(" "C_Sign in the log file"
assert_file_not_contains "${WORK}/module.log" "${NEW_PIN}" "the PIN in the log file"

# log = "debug" in the TWINHSM_CONF file, and the environment's TWINHSM_LOG winning over it.
CONF_LOG="${WORK}/logging.toml"
{
  echo 'log = "debug"'
  echo
  printf '[[slot]]\ndevice = "%s"\n' "${DEV}"
} >"${CONF_LOG}"
run env TWINHSM_CONF="${CONF_LOG}" "${P11[@]}" --login --pin "${NEW_PIN}" --list-objects
assert_ok "--list-objects with log = \"debug\" in the configuration"
assert_logged '^twinhsm: C_Login\(.*\) -> CKR_OK$' "log = \"debug\" in TWINHSM_CONF turns the log on"
run env TWINHSM_CONF="${CONF_LOG}" TWINHSM_LOG=off "${P11[@]}" --login --pin "${NEW_PIN}" --list-objects
assert_ok "--list-objects with TWINHSM_LOG=off"
assert_file_not_contains "${ERR}" "twinhsm:" "TWINHSM_LOG=off overrides log = \"debug\""

# ---------------------------------------------------------------------------------------------
section "without TWINHSM_LOG the module prints nothing"
run "${P11[@]}" --login --pin "${NEW_PIN}" --sign --mechanism ECDSA-SHA256 --id 01 -i "${WORK}/data" -o "${WORK}/sig5"
assert_ok "--sign without the log"
assert_file_not_contains "${ERR}" "twinhsm:" "stderr of a signature without TWINHSM_LOG"
assert_file_not_contains "${OUT}" "twinhsm:" "stdout of a signature without TWINHSM_LOG"
run "${P11[@]}" --login --pin "${WRONG_PIN}" --list-objects
assert_fails "a wrong PIN without the log"
assert_file_not_contains "${ERR}" "twinhsm:" "stderr of a failed login without TWINHSM_LOG"
run "${P11[@]}" --login --pin "${NEW_PIN}" --sign --mechanism SHA256-RSA-PKCS --id 01 -i "${WORK}/data" -o "${WORK}/sig6"
assert_fails "a refused signature without the log"
assert_file_not_contains "${ERR}" "twinhsm:" "stderr of a refused C_SignInit without TWINHSM_LOG"
# A slot whose device is missing: the module still prints nothing.
write_conf "${WORK}/missing.toml" "${WORK}/no-device-here"
run env TWINHSM_CONF="${WORK}/missing.toml" "${P11[@]}" --list-slots
assert_file_not_contains "${ERR}" "twinhsm:" "stderr with a missing device and no TWINHSM_LOG"
run env TWINHSM_CONF="${WORK}/missing.toml" TWINHSM_LOG=debug "${P11[@]}" --list-token-slots
assert_logged '^twinhsm: slot 0: .*no-device-here' "with the log, a missing device is explained"

e2e_finish
