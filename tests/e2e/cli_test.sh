#!/usr/bin/env bash
# End-to-end tests of the `twinhsm` command: help and version, factory master keys and
# personalization, device info (JSON), the DBK fingerprint, token init and PINs from every source,
# failure counting and lockout, objects list, and that no secret is ever printed.
#
# Usage: cli_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail

CLI="$(realpath -m "$1")"
MODULE="$(realpath -m "$2")"
# shellcheck source=lib.sh
source "$(dirname "$(realpath "$0")")/lib.sh"
e2e_init
e2e_require_built "${CLI}" "${MODULE}"

# Whether this build uses the public development firmware key (set by CMake; default yes).
FK_DEV="${E2E_FIRMWARE_KEY_IS_DEVELOPMENT:-true}"
FAST=(--pbkdf2-iterations 1000)

command -v pkcs11-tool >/dev/null || { fail "pkcs11-tool (package opensc) is needed"; exit 1; }

# expected_dbk MASTER_KEY_HEX DIVERSIFIER: the DBK as PRODUCT.md defines it, computed here
# independently: SP 800-108 counter mode, HMAC-SHA256, [i]_32 || label || 0x00 || context || [256]_32.
expected_dbk() {
  "${PY}" - "$1" "$2" <<'EOF'
import hashlib, hmac, sys
mk = bytes.fromhex(sys.argv[1])
fixed = b"twinhsm diversified backup key" + b"\0" + sys.argv[2].encode() + (256).to_bytes(4, "big")
print(hmac.new(mk, (1).to_bytes(4, "big") + fixed, hashlib.sha256).hexdigest())
EOF
}

# expected_fingerprint DBK_HEX: first 8 bytes of SHA-256("twinhsm dbk fingerprint v1" || DBK).
expected_fingerprint() {
  "${PY}" -c 'import hashlib,sys; print(hashlib.sha256(b"twinhsm dbk fingerprint v1" + bytes.fromhex(sys.argv[1])).hexdigest()[:16])' "$1"
}

se_value() { # DEVICE KEY: a line's value in the device's secure-element file
  sed -n "s/^$2=//p" "$1/secure-element"
}

info_json() { # DEVICE: runs device info --json; $OUT holds the JSON
  run "${CLI}" device info --device "$1" --json
}

# ---------------------------------------------------------------------------------------------
section "version and help"
run "${CLI}" --version
assert_ok "--version"
assert_match '^twinhsm [0-9]+\.[0-9]+\.[0-9]+' "$(head -n1 "${OUT}")" "--version prints the version"

run "${CLI}" --help
assert_ok "--help"
for c in factory device token objects; do
  assert_out_contains "${c}" "--help names the command '${c}'"
done

# Each command's help, and the options the contract promises in it.
declare -A HELP_OPTIONS=(
  ["factory"]="new-master-key personalize"
  ["factory new-master-key"]="-o"
  ["factory personalize"]="--device --master-key --diversifier --serial --pbkdf2-iterations --max-login-failures --button --button-timeout --key-policy"
  ["device"]="info set-key-policy"
  ["device set-key-policy"]="--device --so-pin --so-pin-file --so-pin-env"
  ["device info"]="--device --json"
  ["token"]="init init-pin set-pin"
  ["token init"]="--device --label --so-pin --so-pin-file --so-pin-env --pin --pin-file --pin-env"
  ["token init-pin"]="--device --so-pin --so-pin-file --so-pin-env --pin --pin-file --pin-env"
  ["token set-pin"]="--device --so --pin --pin-file --pin-env --so-pin --so-pin-file --so-pin-env --new-pin --new-pin-file --new-pin-env"
  ["objects"]="list"
  ["objects list"]="--device --json --pin --pin-file --pin-env"
)
for cmd in "${!HELP_OPTIONS[@]}"; do
  # shellcheck disable=SC2086
  run "${CLI}" ${cmd} --help
  assert_ok "twinhsm ${cmd} --help"
  if [[ ! -s "${OUT}" ]]; then fail "twinhsm ${cmd} --help printed nothing on stdout"; fi
  for opt in ${HELP_OPTIONS[${cmd}]}; do
    assert_out_contains "${opt}" "twinhsm ${cmd} --help mentions ${opt}"
  done
done

run "${CLI}"
assert_cli_error "no command"
run "${CLI}" frobnicate
assert_cli_error "unknown command"
run "${CLI}" device info --frobnicate
assert_cli_error "unknown option"
run "${CLI}" factory personalize --device "${WORK}/never"
assert_cli_error "personalize without its required options"
assert_true "a refused personalize creates no directory" test ! -e "${WORK}/never"

# ---------------------------------------------------------------------------------------------
section "factory new-master-key"
MK1="${WORK}/master1.key"
MK2="${WORK}/master2.key"
run "${CLI}" factory new-master-key -o "${MK1}"
assert_ok "new-master-key"
assert_eq 600 "$(file_mode "${MK1}")" "master key file mode"
assert_eq 1 "$(wc -l <"${MK1}")" "master key file is one line"
MK1_HEX="$(head -n1 "${MK1}")"
assert_match '^[0-9a-fA-F]{64}$' "${MK1_HEX}" "master key file holds 64 hex digits"

before="$(sha256sum <"${MK1}")"
run "${CLI}" factory new-master-key -o "${MK1}"
assert_cli_error "new-master-key refuses an existing file"
assert_eq "${before}" "$(sha256sum <"${MK1}")" "the existing master key file is unchanged"
assert_eq 600 "$(file_mode "${MK1}")" "the existing master key file keeps its mode"

# Mode 0600 whatever the umask.
run sh -c 'umask 000; exec "$0" "$@"' "${CLI}" factory new-master-key -o "${MK2}"
assert_ok "new-master-key under umask 000"
assert_eq 600 "$(file_mode "${MK2}")" "master key file mode under umask 000"
MK2_HEX="$(head -n1 "${MK2}")"
assert_ne "${MK1_HEX}" "${MK2_HEX}" "two master keys differ"

run "${CLI}" factory new-master-key -o "${WORK}/no/such/dir/mk"
assert_cli_error "new-master-key into a missing directory"
run "${CLI}" factory new-master-key
assert_cli_error "new-master-key without -o"

# ---------------------------------------------------------------------------------------------
section "factory personalize"
D1="${WORK}/dev1"
run "${CLI}" factory personalize --device "${D1}" --master-key "${MK1}" --diversifier pair-A \
  --serial SER-0001 "${FAST[@]}" --max-login-failures 3 --button socket --button-timeout 30
assert_ok "personalize dev1"
assert_eq 700 "$(file_mode "${D1}")" "device directory mode"
assert_eq 600 "$(file_mode "${D1}/secure-element")" "secure element file mode"
DBK1="$(se_value "${D1}" dbk)"
assert_match '^[0-9a-fA-F]{64}$' "${DBK1}" "the secure element holds a 32-byte DBK"
assert_eq "$(expected_dbk "${MK1_HEX}" pair-A)" "$(echo "${DBK1}" | tr A-F a-f)" \
  "DBK = SP 800-108 KDF(master key, 'twinhsm diversified backup key', diversifier)"

SUM1="$(tree_sum "${D1}")"
run "${CLI}" factory personalize --device "${D1}" --master-key "${MK1}" --diversifier pair-B "${FAST[@]}"
assert_cli_error_matches "personalize over an existing device" "already"
assert_eq "${SUM1}" "$(tree_sum "${D1}")" "a refused personalize leaves the device unchanged"
run "${CLI}" factory personalize --device "${D1}" --master-key "${MK1}" --diversifier pair-A \
  --serial SER-0001 "${FAST[@]}" --max-login-failures 3 --button-timeout 30
assert_cli_error "personalize again with the same arguments"
assert_eq "${SUM1}" "$(tree_sum "${D1}")" "a second identical personalize leaves the device unchanged"

# Invalid arguments: refused with one line, and no device is made.
printf '%s\n' "${MK1_HEX:0:63}" >"${WORK}/short.key"
printf '%s\n' "$(printf 'g%.0s' {1..64})" >"${WORK}/nonhex.key"
LONG65="$(printf 'x%.0s' {1..65})"
n=0
bad_personalize() { # DESCRIPTION ARGS...
  local what="$1"
  shift
  n=$((n + 1))
  local dir="${WORK}/bad-${n}"
  run "${CLI}" factory personalize --device "${dir}" "$@"
  assert_cli_error "personalize with ${what}"
  assert_true "personalize with ${what} makes no device" test ! -e "${dir}/secure-element"
  assert_true "personalize with ${what} leaves no store" test ! -e "${dir}/store.db"
}
bad_personalize "an empty diversifier" --master-key "${MK1}" --diversifier "" "${FAST[@]}"
bad_personalize "a diversifier with a line break" --master-key "${MK1}" \
  --diversifier $'a\ndbk=0000000000000000000000000000000000000000000000000000000000000000' "${FAST[@]}"
bad_personalize "a diversifier with '='" --master-key "${MK1}" --diversifier "a=b" "${FAST[@]}"
bad_personalize "a 65-character diversifier" --master-key "${MK1}" --diversifier "${LONG65}" "${FAST[@]}"
bad_personalize "a 17-character serial" --master-key "${MK1}" --diversifier p --serial 0123456789abcdefX "${FAST[@]}"
bad_personalize "999 PBKDF2 iterations" --master-key "${MK1}" --diversifier p --pbkdf2-iterations 999
bad_personalize "0 PBKDF2 iterations" --master-key "${MK1}" --diversifier p --pbkdf2-iterations 0
bad_personalize "negative PBKDF2 iterations" --master-key "${MK1}" --diversifier p --pbkdf2-iterations -5000
bad_personalize "non-numeric PBKDF2 iterations" --master-key "${MK1}" --diversifier p --pbkdf2-iterations many
bad_personalize "0 max login failures" --master-key "${MK1}" --diversifier p "${FAST[@]}" --max-login-failures 0
bad_personalize "a 0 s button timeout" --master-key "${MK1}" --diversifier p "${FAST[@]}" --button-timeout 0
bad_personalize "an unknown button" --master-key "${MK1}" --diversifier p "${FAST[@]}" --button bogus
bad_personalize "gpio without a line" --master-key "${MK1}" --diversifier p "${FAST[@]}" --button gpio:gpiochip0
bad_personalize "gpio with a bad line" --master-key "${MK1}" --diversifier p "${FAST[@]}" --button gpio:gpiochip0:x
bad_personalize "gpio without a chip" --master-key "${MK1}" --diversifier p "${FAST[@]}" --button gpio::3
bad_personalize "a missing master key file" --master-key "${WORK}/none.key" --diversifier p "${FAST[@]}"
bad_personalize "a 63-digit master key" --master-key "${WORK}/short.key" --diversifier p "${FAST[@]}"
bad_personalize "a non-hex master key" --master-key "${WORK}/nonhex.key" --diversifier p "${FAST[@]}"

# Every valid button backend is accepted.
for b in tty gpio:gpiochip0:17 insecure-auto; do
  dir="${WORK}/button-${b//:/-}"
  run "${CLI}" factory personalize --device "${dir}" --master-key "${MK1}" --diversifier "btn" \
    "${FAST[@]}" --button "${b}"
  assert_ok "personalize with --button ${b}"
  info_json "${dir}"
  assert_eq "${b}" "$(json "${OUT}" 'd["settings"]["button"]')" "device info shows button ${b}"
done

# ---------------------------------------------------------------------------------------------
section "device info"
info_json "${D1}"
assert_ok "device info --json"
cp "${OUT}" "${WORK}/info1.json"
I="${WORK}/info1.json"
for k in serial diversifier dbk_fingerprint firmware_key_is_development token objects settings; do
  assert_eq true "$(json "${I}" "'${k}' in d")" "device info has '${k}'"
done
for k in label initialized user_pin_initialized so_pin_failures user_pin_failures; do
  assert_eq true "$(json "${I}" "'${k}' in d['token']")" "device info has token.${k}"
done
for k in pbkdf2_iterations max_login_failures button button_timeout_seconds key_policy; do
  assert_eq true "$(json "${I}" "'${k}' in d['settings']")" "device info has settings.${k}"
done
assert_eq SER-0001 "$(json "${I}" 'd["serial"]')" "serial"
assert_eq pair-A "$(json "${I}" 'd["diversifier"]')" "diversifier"
FP1="$(json "${I}" 'd["dbk_fingerprint"]')"
assert_match '^[0-9a-f]{16}$' "${FP1}" "dbk_fingerprint is 16 hex digits"
assert_eq "$(expected_fingerprint "${DBK1}")" "${FP1}" "dbk_fingerprint = SHA-256('twinhsm dbk fingerprint v1' || DBK)[0:8]"
assert_eq "${FK_DEV}" "$(json "${I}" 'd["firmware_key_is_development"]')" "firmware_key_is_development"
assert_eq false "$(json "${I}" 'd["token"]["initialized"]')" "token not initialized yet"
assert_eq false "$(json "${I}" 'd["token"]["user_pin_initialized"]')" "user PIN not set yet"
assert_eq 0 "$(json "${I}" 'd["token"]["so_pin_failures"]')" "so_pin_failures"
assert_eq 0 "$(json "${I}" 'd["token"]["user_pin_failures"]')" "user_pin_failures"
assert_eq '{"public": 0, "private": 0}' "$(json "${I}" 'd["objects"]')" "no objects"
assert_eq 1000 "$(json "${I}" 'd["settings"]["pbkdf2_iterations"]')" "settings.pbkdf2_iterations"
assert_eq 3 "$(json "${I}" 'd["settings"]["max_login_failures"]')" "settings.max_login_failures"
assert_eq socket "$(json "${I}" 'd["settings"]["button"]')" "settings.button"
assert_eq 30 "$(json "${I}" 'd["settings"]["button_timeout_seconds"]')" "settings.button_timeout_seconds"
assert_eq strict "$(json "${I}" 'd["settings"]["key_policy"]')" "settings.key_policy is strict by default"

run "${CLI}" device info --device "${D1}"
assert_ok "device info (text)"
assert_out_contains SER-0001 "device info shows the serial"
assert_out_contains pair-A "device info shows the diversifier"
assert_out_contains "${FP1}" "device info shows the DBK fingerprint"

run "${CLI}" device info --device "${WORK}/nothing-here" --json
assert_cli_error_matches "device info on a directory without a device" "no device"

# The defaults: $XDG_DATA_HOME/twinhsm, else ~/.local/share/twinhsm.
run "${CLI}" factory personalize --device "${XDG_DATA_HOME}/twinhsm" --master-key "${MK1}" \
  --diversifier xdg --serial XDG-1 "${FAST[@]}"
assert_ok "personalize the XDG default device"
run "${CLI}" device info --json
assert_ok "device info on the default device"
assert_eq XDG-1 "$(json "${OUT}" 'd["serial"]')" "device info defaults to \$XDG_DATA_HOME/twinhsm"
run env -u XDG_DATA_HOME HOME="${WORK}/home" "${CLI}" factory personalize \
  --device "${WORK}/home/.local/share/twinhsm" --master-key "${MK1}" --diversifier home --serial HOME-1 "${FAST[@]}"
assert_ok "personalize the HOME default device"
run env -u XDG_DATA_HOME HOME="${WORK}/home" "${CLI}" device info --json
assert_eq HOME-1 "$(json "${OUT}" 'd["serial"]')" "device info defaults to ~/.local/share/twinhsm"

# ---------------------------------------------------------------------------------------------
section "DBK fingerprints of twins and strangers"
D2="${WORK}/dev2" # twin of dev1: same master key, same diversifier
D3="${WORK}/dev3" # same master key, another diversifier
D4="${WORK}/dev4" # another master key, same diversifier
must "${CLI}" factory personalize --device "${D2}" --master-key "${MK1}" --diversifier pair-A "${FAST[@]}"
must "${CLI}" factory personalize --device "${D3}" --master-key "${MK1}" --diversifier pair-B "${FAST[@]}" --max-login-failures 3
must "${CLI}" factory personalize --device "${D4}" --master-key "${MK2}" --diversifier pair-A "${FAST[@]}"
info_json "${D2}"
FP2="$(json "${OUT}" 'd["dbk_fingerprint"]')"
SERIAL2="$(json "${OUT}" 'd["serial"]')"
info_json "${D3}"
FP3="$(json "${OUT}" 'd["dbk_fingerprint"]')"
SERIAL3="$(json "${OUT}" 'd["serial"]')"
info_json "${D4}"
FP4="$(json "${OUT}" 'd["dbk_fingerprint"]')"
assert_eq "${FP1}" "${FP2}" "twins (same master key and diversifier) have the same fingerprint"
assert_ne "${FP1}" "${FP3}" "another diversifier gives another fingerprint"
assert_ne "${FP1}" "${FP4}" "another master key gives another fingerprint"
assert_ne "${FP3}" "${FP4}" "fingerprints of unrelated devices differ"
assert_match '^[0-9a-f]{16}$' "${SERIAL2}" "the default serial is 16 random hex digits"
assert_ne "${SERIAL2}" "${SERIAL3}" "default serials differ"
assert_eq "${DBK1}" "$(se_value "${D2}" dbk)" "twins hold the same DBK"

# ---------------------------------------------------------------------------------------------
section "token init, init-pin, set-pin with every PIN source"
run "${CLI}" objects list --device "${D1}" --json
assert_ok "objects list on an uninitialized token"
assert_eq "[]" "$(json "${OUT}" 'd')" "an uninitialized token has no objects"

run "${CLI}" token init --device "${D1}" --label "$(printf 'L%.0s' {1..33})" --so-pin so-pin-1
assert_cli_error "token init with a 33-byte label"
run "${CLI}" token init --device "${D1}" --label tok-one --so-pin abc
assert_cli_error_matches "token init with a 3-byte SO PIN" "4"
info_json "${D1}"
assert_eq false "$(json "${OUT}" 'd["token"]["initialized"]')" "a refused token init initializes nothing"

# SO PIN from --so-pin.
run "${CLI}" token init --device "${D1}" --label tok-one --so-pin so-pin-1
assert_ok "token init --so-pin"
info_json "${D1}"
assert_eq true "$(json "${OUT}" 'd["token"]["initialized"]')" "token initialized"
assert_eq tok-one "$(json "${OUT}" 'd["token"]["label"]')" "token label"
assert_eq false "$(json "${OUT}" 'd["token"]["user_pin_initialized"]')" "no user PIN after token init without one"

run "${CLI}" objects list --device "${D1}" --pin user-pin-1
assert_cli_error "objects list with a user PIN before the user PIN is set"

# SO PIN from --so-pin-file (a file written by echo: its newline is not part of the PIN), user
# PIN from --pin.
echo so-pin-1 >"${WORK}/so1.pin"
run "${CLI}" token init-pin --device "${D1}" --so-pin-file "${WORK}/so1.pin" --pin user-pin-1
assert_ok "token init-pin --so-pin-file --pin"
info_json "${D1}"
assert_eq true "$(json "${OUT}" 'd["token"]["user_pin_initialized"]')" "user PIN set"
run "${CLI}" objects list --device "${D1}" --pin user-pin-1 --json
assert_ok "objects list --pin with the new user PIN"
assert_eq "[]" "$(json "${OUT}" 'd')" "a new token has no objects"

# Current user PIN from --pin-file, new one from --new-pin-env.
echo user-pin-1 >"${WORK}/user1.pin"
run env NEWPIN=user-pin-2 "${CLI}" token set-pin --device "${D1}" --pin-file "${WORK}/user1.pin" --new-pin-env NEWPIN
assert_ok "token set-pin --pin-file --new-pin-env"
run "${CLI}" objects list --device "${D1}" --pin user-pin-1
assert_cli_error "the old user PIN no longer works"
info_json "${D1}"
assert_eq 1 "$(json "${OUT}" 'd["token"]["user_pin_failures"]')" "a wrong user PIN is counted"
run "${CLI}" objects list --device "${D1}" --pin user-pin-2
assert_ok "the new user PIN works"
info_json "${D1}"
assert_eq 0 "$(json "${OUT}" 'd["token"]["user_pin_failures"]')" "a right user PIN clears the count"

# Current SO PIN from --so-pin-env, new one from --new-pin-file.
echo so-pin-2 >"${WORK}/so2.pin"
run env SOPIN=so-pin-1 "${CLI}" token set-pin --device "${D1}" --so --so-pin-env SOPIN --new-pin-file "${WORK}/so2.pin"
assert_ok "token set-pin --so --so-pin-env --new-pin-file"
run "${CLI}" token init-pin --device "${D1}" --so-pin so-pin-1 --pin user-pin-x
assert_cli_error "the old SO PIN no longer works"
info_json "${D1}"
assert_eq 1 "$(json "${OUT}" 'd["token"]["so_pin_failures"]')" "a wrong SO PIN is counted"
# User PIN from --pin-env.
run env SOPIN=so-pin-2 UPIN=user-pin-3 "${CLI}" token init-pin --device "${D1}" --so-pin-env SOPIN --pin-env UPIN
assert_ok "token init-pin --so-pin-env --pin-env"
info_json "${D1}"
assert_eq 0 "$(json "${OUT}" 'd["token"]["so_pin_failures"]')" "a right SO PIN clears the count"
echo user-pin-3 >"${WORK}/user3.pin"
run "${CLI}" objects list --device "${D1}" --pin-file "${WORK}/user3.pin"
assert_ok "objects list --pin-file"
run env UPIN=user-pin-3 "${CLI}" objects list --device "${D1}" --pin-env UPIN
assert_ok "objects list --pin-env"

# New PIN from --new-pin; lengths 4 and 255 are valid, 3 and 256 are not.
PIN255="$(printf 'p%.0s' {1..255})"
run "${CLI}" token set-pin --device "${D1}" --pin user-pin-3 --new-pin abc
assert_cli_error_matches "set-pin to a 3-byte PIN" "4"
run "${CLI}" token set-pin --device "${D1}" --pin user-pin-3 --new-pin "${PIN255}p"
assert_cli_error "set-pin to a 256-byte PIN"
run "${CLI}" token set-pin --device "${D1}" --pin user-pin-3 --new-pin "${PIN255}"
assert_ok "set-pin --new-pin to a 255-byte PIN"
run "${CLI}" token set-pin --device "${D1}" --pin "${PIN255}" --new-pin 1234
assert_ok "set-pin from a 255-byte PIN to a 4-byte PIN"
run "${CLI}" token set-pin --device "${D1}" --pin 1234 --new-pin user-pin-4
assert_ok "set-pin --pin --new-pin"
USER_PIN=user-pin-4
SO_PIN=so-pin-2

# Sources that do not work.
run "${CLI}" objects list --device "${D1}" --pin-env TWINHSM_E2E_UNSET_VAR
assert_cli_error "--pin-env naming an unset variable"
run "${CLI}" objects list --device "${D1}" --pin-file "${WORK}/no-such.pin"
assert_cli_error "--pin-file naming a missing file"
: >"${WORK}/empty.pin"
run "${CLI}" token set-pin --device "${D1}" --pin "${USER_PIN}" --new-pin-file "${WORK}/empty.pin"
assert_cli_error "--new-pin-file naming an empty file"
# No PIN given and no terminal to ask on (setsid: no controlling terminal): fail, never hang.
run setsid -w "${CLI}" token init-pin --device "${D1}" --so-pin "${SO_PIN}"
assert_cli_error "init-pin without a user PIN and without a terminal"
run setsid -w "${CLI}" token set-pin --device "${D1}"
assert_cli_error "set-pin without PINs and without a terminal"
run "${CLI}" objects list --device "${D1}" --pin "${USER_PIN}"
assert_ok "the user PIN is unchanged after the refused commands"

# token init with the user PIN too (SO PIN from the environment, user PIN from a file).
echo two-user-pin >"${WORK}/two.pin"
run env SOV=two-so-pin "${CLI}" token init --device "${D2}" --label two --so-pin-env SOV --pin-file "${WORK}/two.pin"
assert_ok "token init --so-pin-env --pin-file"
info_json "${D2}"
assert_eq true "$(json "${OUT}" 'd["token"]["user_pin_initialized"]')" "token init with a user PIN sets it"
run "${CLI}" objects list --device "${D2}" --pin two-user-pin
assert_ok "the user PIN set by token init works"

# ---------------------------------------------------------------------------------------------
section "wrong PINs: counting and lockout (max 3 failures)"
for i in 1 2 3; do
  run "${CLI}" objects list --device "${D1}" --pin "wrong-pin-${i}"
  assert_cli_error_matches "wrong user PIN #${i}" "PIN"
  info_json "${D1}"
  assert_eq "${i}" "$(json "${OUT}" 'd["token"]["user_pin_failures"]')" "user_pin_failures after ${i} wrong PINs"
done
run "${CLI}" objects list --device "${D1}" --pin "${USER_PIN}"
assert_cli_error_matches "the right user PIN after the limit" "lock"
info_json "${D1}"
assert_eq 3 "$(json "${OUT}" 'd["token"]["user_pin_failures"]')" "the count stays at the limit"
run "${CLI}" token init-pin --device "${D1}" --so-pin "${SO_PIN}" --pin user-pin-5
assert_ok "the SO resets a locked user PIN"
USER_PIN=user-pin-5
info_json "${D1}"
assert_eq 0 "$(json "${OUT}" 'd["token"]["user_pin_failures"]')" "init-pin clears the user count"
run "${CLI}" objects list --device "${D1}" --pin "${USER_PIN}"
assert_ok "the reset user PIN works"

must "${CLI}" token init --device "${D3}" --label three --so-pin three-so --pin three-user
for i in 1 2 3; do
  run "${CLI}" token init-pin --device "${D3}" --so-pin "wrong-so-${i}" --pin three-user-2
  assert_cli_error "wrong SO PIN #${i}"
done
info_json "${D3}"
assert_eq 3 "$(json "${OUT}" 'd["token"]["so_pin_failures"]')" "so_pin_failures at the limit"
run "${CLI}" token init-pin --device "${D3}" --so-pin three-so --pin three-user-2
assert_cli_error_matches "the right SO PIN after the limit" "lock"
run "${CLI}" objects list --device "${D3}" --pin three-user
assert_ok "a locked SO PIN does not lock the user"

# ---------------------------------------------------------------------------------------------
section "the key policy"
KP="${WORK}/kp"
must "${CLI}" factory personalize --device "${KP}" --master-key "${MK1}" --diversifier kp \
  --pbkdf2-iterations 1000 --key-policy compatible
info_json "${KP}"
assert_eq compatible "$(json "${OUT}" 'd["settings"]["key_policy"]')" "personalize --key-policy compatible"
run "${CLI}" factory personalize --device "${WORK}/kp-bad" --master-key "${MK1}" --diversifier kp \
  --key-policy lax
assert_cli_error_matches "personalize --key-policy lax" "strict or compatible"
assert_true "nothing made for a bad --key-policy" test ! -e "${WORK}/kp-bad/secure-element"
must "${CLI}" token init --device "${KP}" --label kp --so-pin kp-so-pin --pin kp-user-pin
run "${CLI}" device set-key-policy strict --device "${KP}" --so-pin wrong-so-pin
assert_cli_error_matches "set-key-policy with a wrong SO PIN" "PIN"
info_json "${KP}"
assert_eq compatible "$(json "${OUT}" 'd["settings"]["key_policy"]')" "a wrong SO PIN changes nothing"
assert_eq 1 "$(json "${OUT}" 'd["token"]["so_pin_failures"]')" "the wrong SO PIN is counted"
run "${CLI}" device set-key-policy lax --device "${KP}" --so-pin kp-so-pin
assert_cli_error_matches "set-key-policy lax" "strict or compatible"
run "${CLI}" device set-key-policy strict --device "${KP}" --so-pin kp-so-pin
assert_ok "set-key-policy strict with the SO PIN"
run "${CLI}" device info --device "${KP}"
assert_out_contains "key policy:          strict" "device info shows the key policy"

# ---------------------------------------------------------------------------------------------
section "objects list"
CONF="${WORK}/dev1.toml"
write_conf "${CONF}" "${D1}"
P11=(env TWINHSM_CONF="${CONF}" pkcs11-tool --module "${MODULE}")
echo "a public note" >"${WORK}/note.txt"
must "${P11[@]}" --login --pin "${USER_PIN}" --keypairgen --key-type EC:prime256v1 --id a1 --label ec-key
must "${P11[@]}" --login --pin "${USER_PIN}" --keygen --key-type AES:32 --id b2 --label aes-key
must "${P11[@]}" --login --pin "${USER_PIN}" --write-object "${WORK}/note.txt" --type data --label note
must "${P11[@]}" --login --pin "${USER_PIN}" --write-object "${WORK}/note.txt" --type data --label secret-note --private

run "${CLI}" objects list --device "${D1}" --json
assert_ok "objects list --json without a PIN"
L="${OUT}"
assert_eq false "$(json "${L}" 'any(o["private"] for o in d)')" "no private object without the PIN"
assert_eq '["data", "public-key", "secret-key"]' "$(json "${L}" 'sorted(o["class"] for o in d)')" "public objects"
assert_eq '["aes-key", "ec-key", "note"]' "$(json "${L}" 'sorted(o["label"] for o in d)')" "public labels"

run "${CLI}" objects list --device "${D1}" --pin "${USER_PIN}" --json
assert_ok "objects list --json --pin"
L="${WORK}/objects.json"
cp "${OUT}" "${L}"
assert_eq 5 "$(json "${L}" 'len(d)')" "every object with the PIN"
assert_eq '["data", "data", "private-key", "public-key", "secret-key"]' "$(json "${L}" 'sorted(o["class"] for o in d)')" "classes"
assert_eq true "$(json "${L}" 'all(set(o) >= {"handle", "class", "key_type", "label", "id", "private"} for o in d)')" "every object has all fields"
assert_eq 5 "$(json "${L}" 'len(set(o["handle"] for o in d))')" "handles are distinct"
assert_eq '{"key_type": "ec", "label": "ec-key", "id": "a1", "private": true}' \
  "$(json "${L}" '[{k: o[k] for k in ("key_type", "label", "id", "private")} for o in d if o["class"] == "private-key"][0]')" "the EC private key"
assert_eq '{"key_type": "ec", "label": "ec-key", "id": "a1", "private": false}' \
  "$(json "${L}" '[{k: o[k] for k in ("key_type", "label", "id", "private")} for o in d if o["class"] == "public-key"][0]')" "the EC public key"
assert_eq '["aes", "b2"]' "$(json "${L}" '[[o["key_type"], o["id"]] for o in d if o["class"] == "secret-key"][0]')" "the AES key"
assert_eq true "$(json "${L}" '[o["private"] for o in d if o["label"] == "secret-note"][0]')" "the private data object"
info_json "${D1}"
assert_eq '{"public": 3, "private": 2}' "$(json "${OUT}" 'd["objects"]')" "device info counts the objects"

run "${CLI}" objects list --device "${D1}" --pin "${USER_PIN}"
assert_ok "objects list (text)"
for label in ec-key aes-key note secret-note; do
  assert_out_contains "${label}" "objects list shows ${label}"
done
run "${CLI}" objects list --device "${D1}" --pin wrong-pin-9 --json
assert_cli_error "objects list with a wrong PIN"
assert_eq 0 "$(wc -c <"${OUT}")" "nothing on stdout when the PIN is wrong"

# An object whose label is not UTF-8 (PKCS#11 labels are bytes to many applications) must not
# break the JSON listing of the others.
must "${P11[@]}" --login --pin "${USER_PIN}" --write-object "${WORK}/note.txt" --type data --label $'latin1-\xe9t\xe9'
run "${CLI}" objects list --device "${D1}" --json
assert_ok "objects list --json with a non-UTF-8 label"
assert_eq 4 "$(json "${OUT}" 'len(d)')" "objects list --json lists the object with a non-UTF-8 label"

# Re-initializing needs the current SO PIN and erases every object.
run "${CLI}" token init --device "${D1}" --label again --so-pin wrong-so-pin
assert_cli_error "token init of an initialized token with a wrong SO PIN"
info_json "${D1}"
assert_eq tok-one "$(json "${OUT}" 'd["token"]["label"]')" "a refused re-init keeps the label"
assert_eq '{"public": 4, "private": 2}' "$(json "${OUT}" 'd["objects"]')" "a refused re-init keeps the objects"
run "${CLI}" token init --device "${D1}" --label again --so-pin "${SO_PIN}"
assert_ok "token init of an initialized token with the SO PIN"
info_json "${D1}"
assert_eq again "$(json "${OUT}" 'd["token"]["label"]')" "re-init sets the new label"
assert_eq '{"public": 0, "private": 0}' "$(json "${OUT}" 'd["objects"]')" "re-init erases every object"
assert_eq false "$(json "${OUT}" 'd["token"]["user_pin_initialized"]')" "re-init clears the user PIN"

# ---------------------------------------------------------------------------------------------
section "a device edited by hand is detected, not trusted"
D5="${WORK}/dev5"
must "${CLI}" factory personalize --device "${D5}" --master-key "${MK1}" --diversifier pair-T "${FAST[@]}" --max-login-failures 3
must "${CLI}" token init --device "${D5}" --label five --so-pin five-so-pin --pin five-user-pin
write_conf "${WORK}/dev5.toml" "${D5}"
P11_5=(env TWINHSM_CONF="${WORK}/dev5.toml" pkcs11-tool --module "${MODULE}" --login --pin five-user-pin)
must "${P11_5[@]}" --keypairgen --key-type EC:prime256v1 --id 51 --label tamper-ec
must "${P11_5[@]}" --write-object "${WORK}/note.txt" --type data --label tamper-note
run "${CLI}" objects list --device "${D5}" --pin five-user-pin --json
assert_eq 3 "$(json "${OUT}" 'len(d)')" "the device to tamper with holds 3 objects"

# tampered NAME: a copy of dev5 to edit ($T).
tampered() {
  T="${WORK}/tampered-$1"
  cp -a "${D5}" "${T}"
}
if command -v sqlite3 >/dev/null; then
  tampered settings
  sqlite3 "${T}/store.db" "UPDATE settings SET value = CAST('1000' AS BLOB) WHERE key = 'device.max_login_failures'"
  run "${CLI}" device info --device "${T}" --json
  assert_cli_error "device info on a store whose max_login_failures was edited"
  assert_ne 1000 "$(json "${OUT}" 'd["settings"]["max_login_failures"]')" "an edited login-failure limit is not trusted"

  tampered failures
  run "${CLI}" objects list --device "${T}" --pin wrong-pin-a
  run "${CLI}" objects list --device "${T}" --pin wrong-pin-b
  sqlite3 "${T}/store.db" "UPDATE roles SET failures = 0"
  run "${CLI}" objects list --device "${T}" --pin wrong-pin-c
  run "${CLI}" objects list --device "${T}" --pin wrong-pin-d
  run "${CLI}" objects list --device "${T}" --pin five-user-pin --json
  assert_cli_error "a login after the failure counter was reset by hand (4 wrong PINs, limit 3)"

  # A setting written at personalization that disappears must not fall back to a laxer default.
  tampered deleted-setting
  sqlite3 "${T}/store.db" "DELETE FROM settings WHERE key = 'device.max_login_failures'"
  for i in 1 2 3; do
    run "${CLI}" objects list --device "${T}" --pin "wrong-pin-${i}"
  done
  run "${CLI}" objects list --device "${T}" --pin five-user-pin --json
  assert_cli_error "a login after 3 wrong PINs on a device whose limit (3) was deleted from the store"
  run "${CLI}" device info --device "${T}" --json
  if [[ ${RC} -eq 0 ]]; then
    assert_eq 3 "$(json "${OUT}" 'd["settings"]["max_login_failures"]')" "device info after the limit was deleted from the store"
  fi

  tampered private-flag
  sqlite3 "${T}/store.db" "UPDATE objects SET is_private = 0 WHERE is_private = 1"
  run "${CLI}" objects list --device "${T}" --json
  assert_cli_error "objects list after a private object was marked public by hand"

  tampered swap
  sqlite3 "${T}/store.db" "UPDATE objects SET body = (SELECT body FROM objects WHERE is_private = 0 ORDER BY id LIMIT 1), mac = (SELECT mac FROM objects WHERE is_private = 0 ORDER BY id LIMIT 1) WHERE id = (SELECT id FROM objects WHERE is_private = 0 ORDER BY id DESC LIMIT 1)"
  run "${CLI}" objects list --device "${T}" --json
  assert_cli_error "objects list after one object's row was copied over another's"
else
  echo "SKIP: sqlite3 is not installed: the store edits are not tested"
fi

tampered secure-element
"${PY}" -c '
import sys
p = sys.argv[1]
s = open(p).read()
i = s.index("\ndbk=") + 5
s = s[:i] + ("1" if s[i] == "0" else "0") + s[i + 1:]
open(p, "w").write(s)' "${T}/secure-element"
assert_ne "$(se_value "${D5}" dbk)" "$(se_value "${T}" dbk)" "the DBK was edited"
run "${CLI}" device info --device "${T}" --json
assert_cli_error_matches "device info with an edited secure element" "damaged"

# ---------------------------------------------------------------------------------------------
section "secrets are never printed"
for dev in "${D1}" "${D3}" "${D4}"; do
  dbk="$(se_value "${dev}" dbk)"
  dbk_b64="$(echo "${dbk}" | xxd -r -p | base64 -w0)"
  assert_file_not_contains "${ALL_OUTPUT}" "${dbk}" "the DBK of $(basename "${dev}") (hex) in the CLI's output"
  assert_file_not_contains "${ALL_OUTPUT}" "${dbk_b64}" "the DBK of $(basename "${dev}") (base64) in the CLI's output"
done
assert_file_not_contains "${ALL_OUTPUT}" "${MK1_HEX}" "the factory master key in the CLI's output"
assert_file_not_contains "${ALL_OUTPUT}" "${MK2_HEX}" "the second factory master key in the CLI's output"
for pin in so-pin-1 so-pin-2 user-pin-1 user-pin-2 user-pin-3 user-pin-4 user-pin-5 two-user-pin two-so-pin three-so; do
  assert_file_not_contains "${ALL_OUTPUT}" "${pin}" "the PIN '${pin}' in any output"
done

e2e_finish
