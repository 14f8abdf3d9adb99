#!/usr/bin/env bash
# End-to-end tests of backups, through the `twinhsm` command, the PKCS#11 module (pkcs11-tool)
# and openssl, asserting what a user looks at:
#   1. backup -> restore on a twin, on the same device (old PINs come back) and on a replacement
#      device personalized from the backup header's diversifier; keys sign there and openssl
#      verifies with the public keys exported before the backup;
#   2. refusals (other pair, other master key, initialized token without --force, existing output
#      file), each leaving the target exactly as it was;
#   3. no button press -> one-line error, no file (not even a temporary one), device unchanged;
#   4. tampered files (byte flips in every header byte and in chunks, truncations at every chunk
#      boundary and by one byte, reordered, dropped, duplicated and spliced chunks) -> verify and
#      restore fail, target unchanged;
#   5. a restore killed with SIGKILL after N records (tests/backup/restore_killed_after) for every N
#      -> device exactly as before;
#   6. a backup made while another process keeps creating objects is one consistent snapshot;
#   7. a backup's bytes hold no key value, PIN or private label in the clear;
#   8. the target's own button still works after a restore (the backup carries the source's
#      button setting).
#
# Usage: backup_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail

CLI="$(realpath -m "$1")"
MODULE="$(realpath -m "$2")"
# shellcheck source=lib.sh
source "$(dirname "$(realpath "$0")")/lib.sh"
e2e_init
e2e_require_built "${CLI}" "${MODULE}" "${RESTORE_KILLED_AFTER:?the e2e_backup test sets it: tests/backup/restore_killed_after}"

for tool in pkcs11-tool openssl sqlite3 xxd; do
  command -v "${tool}" >/dev/null || { fail "${tool} is needed"; exit 1; }
done

FAST=(--pbkdf2-iterations 1000)
MK="${WORK}/master.key"
MK2="${WORK}/other-master.key"
must "${CLI}" factory new-master-key -o "${MK}"
must "${CLI}" factory new-master-key -o "${MK2}"

# ---------------------------------------------------------------------------------------------
# Helpers

# personalize NAME MASTER_KEY DIVERSIFIER [options...]: a device in $WORK/NAME.
personalize() {
  local name="$1" mk="$2" div="$3"
  shift 3
  must "${CLI}" factory personalize --device "${WORK}/${name}" --master-key "${mk}" \
    --diversifier "${div}" "${FAST[@]}" "$@"
}

# p11 DEVICE ARGS...: pkcs11-tool (through run) on a module whose only slot is DEVICE.
p11() {
  local dev="$1"
  shift
  local conf
  conf="${WORK}/conf-$(basename "${dev}").toml"
  [[ -f "${conf}" ]] || write_conf "${conf}" "${dev}"
  run env TWINHSM_CONF="${conf}" pkcs11-tool --module "${MODULE}" "$@"
}

# with_press DEVICE CMD...: runs CMD (through run) while a second process presses DEVICE's
# button as soon as DEVICE/button.sock accepts the press. $PRESS_RC is the press's exit status,
# "none" when nothing ever waited for a press.
with_press() {
  local dev="$1"
  shift
  local pf="${WORK}/press-$((E2E_RUNS + 1))"
  (
    for _ in $(seq 1 600); do
      if [[ -S "${dev}/button.sock" ]]; then
        # The socket file exists a moment before it listens: try again until the press is taken.
        if "${CLI}" button press --device "${dev}" >"${pf}.out" 2>&1; then
          echo 0 >"${pf}.rc"
          exit 0
        fi
      fi
      sleep 0.05
    done
  ) &
  local presser=$!
  run "$@"
  # The command may have its press before `button press` itself has returned (and written its
  # status): give the presser time to finish before stopping it.
  local i
  for ((i = 0; RC == 0 && i < 200; i++)); do
    [[ -f "${pf}.rc" ]] || ! kill -0 "${presser}" 2>/dev/null && break
    sleep 0.05
  done
  kill "${presser}" 2>/dev/null || true
  wait "${presser}" 2>/dev/null || true
  PRESS_RC="$(cat "${pf}.rc" 2>/dev/null || echo none)"
}

# timed CMD...: run, and $ELAPSED_MS is how long it took.
timed() {
  local t0 t1
  t0="$(date +%s%N)"
  run "$@"
  t1="$(date +%s%N)"
  ELAPSED_MS=$(((t1 - t0) / 1000000))
}

# assert_error_line DESCRIPTION REGEX: the last run failed with exactly one error line
# ("twinhsm: ...", the last line of stderr; a "Waiting for the button" line or the insecure-auto
# button's warning may come before it)
# matching REGEX (grep -E, case-insensitive).
assert_error_line() {
  local n last
  # (the insecure-auto button's "twinhsm: warning: ..." line is not an error line)
  n="$(grep '^twinhsm: ' "${ERR}" | grep -vc '^twinhsm: warning: ' || true)"
  last="$(tail -n 1 "${ERR}")"
  if [[ ${RC} -ne 0 && ${n} -eq 1 && "${last}" == "twinhsm: "* ]]; then pass; else
    fail "$1: expected non-zero exit and one 'twinhsm: ' error line, the last on stderr (got ${n})"
    show_run
  fi
  if grep -qiE -- "$2" <<<"${last}"; then pass; else
    fail "$1: expected the error line to match /$2/"
    show_run
  fi
}

# assert_no_button_wait DESCRIPTION: the last run never waited for a button press.
assert_no_button_wait() {
  if grep -q "Waiting for the button" "${ERR}"; then
    fail "$1: it waited for the button before refusing"
    show_run
  else pass; fi
}

# objects_summary FILE: the objects of an `objects list --json`, one sorted line each, without
# the handles: class, key type, id, private, label.
objects_summary() {
  "${PY}" - "$1" <<'EOF'
import json, sys
try:
    objs = json.load(open(sys.argv[1]))
except Exception:
    print("<invalid-json>")
    sys.exit(0)
for o in sorted(objs, key=lambda o: (o["class"], o["key_type"], o["id"], o["private"], o["label"])):
    print("%s %s id=%s %s %r" % (o["class"], o["key_type"], o["id"], "private" if o["private"] else "public", o["label"]))
EOF
}

# snap DEVICE PIN NAME: what a user sees of DEVICE: device info, objects list (with PIN), and
# then (a correct login rewrites nothing) the SHA-256 of store.db and the device dir's files.
snap() {
  local dev="$1" pin="$2" name="$3"
  "${CLI}" device info --device "${dev}" --json >"${WORK}/snap-${name}.info" 2>&1 || true
  "${CLI}" objects list --device "${dev}" --pin "${pin}" --json >"${WORK}/snap-${name}.objects" 2>&1 || true
  sha256sum <"${dev}/store.db" | cut -d' ' -f1 >"${WORK}/snap-${name}.sha"
  ls -A "${dev}" >"${WORK}/snap-${name}.files"
}

# assert_unchanged DEVICE PIN NAME DESCRIPTION: DEVICE is as snap NAME saw it (the store.db hash
# is taken first, before anything opens the store again).
assert_unchanged() {
  local dev="$1" pin="$2" name="$3" what="$4"
  local sha
  sha="$(sha256sum <"${dev}/store.db" | cut -d' ' -f1)"
  assert_eq "$(cat "${WORK}/snap-${name}.sha")" "${sha}" "${what}: store.db is byte for byte unchanged"
  assert_eq "$(cat "${WORK}/snap-${name}.files")" "$(ls -A "${dev}")" "${what}: the device directory holds the same files"
  "${CLI}" device info --device "${dev}" --json >"${WORK}/now.info" 2>&1 || true
  "${CLI}" objects list --device "${dev}" --pin "${pin}" --json >"${WORK}/now.objects" 2>&1 || true
  assert_eq "$(cat "${WORK}/snap-${name}.info")" "$(cat "${WORK}/now.info")" "${what}: device info --json is unchanged"
  assert_eq "$(cat "${WORK}/snap-${name}.objects")" "$(cat "${WORK}/now.objects")" "${what}: objects list --json is unchanged"
}

# export_pub DEVICE ID NAME: the public key ID as PEM in $WORK/NAME.pem.
export_pub() {
  p11 "$1" --read-object --type pubkey --id "$2" -o "${WORK}/$3.der"
  assert_ok "export public key $2 from $(basename "$1")"
  if openssl pkey -pubin -inform DER -in "${WORK}/$3.der" -out "${WORK}/$3.pem" 2>/dev/null; then pass; else
    fail "openssl cannot read the public key $2 exported from $(basename "$1")"
  fi
}

# sign_and_verify DEVICE PIN ID MECHANISM PEM WHAT: pkcs11-tool signs $WORK/message on DEVICE;
# openssl verifies the signature with PEM (SHA-256).
sign_and_verify() {
  local dev="$1" pin="$2" id="$3" mech="$4" pem="$5" what="$6"
  local sig
  sig="${WORK}/sig-$(basename "${dev}")-${id}-$((E2E_RUNS + 1))"
  local fmt=()
  [[ "${mech}" == ECDSA* ]] && fmt=(--signature-format openssl)
  p11 "${dev}" --login --pin "${pin}" --sign --mechanism "${mech}" --id "${id}" "${fmt[@]}" \
    -i "${WORK}/message" -o "${sig}"
  assert_ok "${what}: ${mech} signature with key ${id} on $(basename "${dev}")"
  run openssl dgst -sha256 -verify "${pem}" -signature "${sig}" "${WORK}/message"
  assert_ok "${what}: openssl verifies the ${mech} signature of key ${id} with $(basename "${pem}")"
  assert_out_contains "Verified OK" "${what}: openssl says Verified OK"
}

head -c 4096 /dev/urandom >"${WORK}/message"

# ---------------------------------------------------------------------------------------------
section "1. backup and restore: twin, same device, replacement"
DIV=pair-e2e-1
SO_A=so-pin-A-7781
PIN_A=user-pin-A-4412
A="${WORK}/A"
personalize A "${MK}" "${DIV}" --serial SRC-A-0001 --button socket --button-timeout 20
must "${CLI}" token init --device "${A}" --label token-A --so-pin "${SO_A}" --pin "${PIN_A}"
p11 "${A}" --login --pin "${PIN_A}" --keypairgen --key-type rsa:2048 --id 01 --label rsa-a
assert_ok "RSA-2048 key pair on A"
p11 "${A}" --login --pin "${PIN_A}" --keypairgen --key-type EC:prime256v1 --id 02 --label ec-a
assert_ok "EC P-256 key pair on A"
printf 'data object of device A\n' >"${WORK}/data-a.txt"
p11 "${A}" --login --pin "${PIN_A}" --write-object "${WORK}/data-a.txt" --type data --label data-a --private
assert_ok "private data object on A"
p11 "${A}" --login --pin "${PIN_A}" --write-object "${WORK}/data-a.txt" --type data --label data-a-public
assert_ok "public data object on A"
# The public keys as an application exports them, before any backup.
export_pub "${A}" 01 rsa-a
export_pub "${A}" 02 ec-a
sign_and_verify "${A}" "${PIN_A}" 01 SHA256-RSA-PKCS "${WORK}/rsa-a.pem" "on A before the backup"
sign_and_verify "${A}" "${PIN_A}" 02 ECDSA-SHA256 "${WORK}/ec-a.pem" "on A before the backup"
must "${CLI}" objects list --device "${A}" --pin "${PIN_A}" --json
cp "${OUT}" "${WORK}/objects-A.json"
must "${CLI}" device info --device "${A}" --json
cp "${OUT}" "${WORK}/info-A.json"
SERIAL_A="$(json "${WORK}/info-A.json" 'd["serial"]')"
PUB_A="$(json "${WORK}/info-A.json" 'd["objects"]["public"]')"
PRIV_A="$(json "${WORK}/info-A.json" 'd["objects"]["private"]')"
assert_eq "3 3" "${PUB_A} ${PRIV_A}" "A holds 3 public objects (2 public keys, data) and 3 private (2 private keys, data)"

BK="${WORK}/backups"
mkdir -p "${BK}"
with_press "${A}" "${CLI}" backup create --device "${A}" -o "${BK}/a.bak"
assert_ok "backup create on A with a press"
assert_eq 0 "${PRESS_RC}" "twinhsm button press from a second process was taken"
assert_err_contains "Waiting for the button" "backup create says it waits for the button"
assert_err_contains "twinhsm button press --device ${A}" "backup create says how to press"
assert_out_contains "backup written to ${BK}/a.bak" "backup create names the file it wrote"
assert_out_contains "pair \"${DIV}\"" "backup create names the pair"
assert_true "the backup file exists" test -f "${BK}/a.bak"
assert_eq 600 "$(file_mode "${BK}/a.bak" 2>/dev/null || echo none)" "the backup file is readable by its owner only"
assert_eq "a.bak" "$(ls -A "${BK}")" "no temporary file is left beside the backup"

# A backup create killed before its rename leaves its temporary file (.NAME.tmp-<12 hex>). The
# next backup create of that name removes it when no process holds it (a writer holds an flock on
# its own) and nobody wrote to it for a minute; one held, one written just now, and another
# name's stay.
STALE="${BK}/.a2.bak.tmp-0123456789ab"
RECENT="${BK}/.a2.bak.tmp-abcdef012345"
HELD="${BK}/.a2.bak.tmp-00112233aabb"
OTHER="${BK}/.a3.bak.tmp-0123456789ab"
: >"${STALE}" && : >"${HELD}" && : >"${OTHER}" && : >"${RECENT}"
touch -d '2 hours ago' "${STALE}" "${HELD}" "${OTHER}"
(flock -x 9 && : >"${WORK}/held" && exec sleep 120) 9<"${HELD}" &
HOLDER=$!
for _ in $(seq 1 100); do [[ -e "${WORK}/held" ]] && break; sleep 0.05; done
with_press "${A}" "${CLI}" backup create --device "${A}" -o "${BK}/a2.bak"
assert_ok "backup create beside temporary files of killed writers"
assert_true "the backup a2.bak exists" test -f "${BK}/a2.bak"
assert_true "a stale temporary file of a2.bak is removed" test ! -e "${STALE}"
assert_true "a temporary file of a2.bak that a process holds stays" test -e "${HELD}"
assert_true "a temporary file of a2.bak written in the last minute stays" test -e "${RECENT}"
assert_true "another name's temporary file stays" test -e "${OTHER}"
kill "${HOLDER}" 2>/dev/null || true
wait "${HOLDER}" 2>/dev/null || true
rm -f "${BK}/a2.bak" "${STALE}" "${HELD}" "${RECENT}" "${OTHER}" "${WORK}/held"
assert_eq "a.bak" "$(ls -A "${BK}")" "only a.bak is left in the backup folder"
run "${CLI}" backup inspect "${BK}/a.bak" --json
assert_ok "backup inspect --json"
cp "${OUT}" "${WORK}/inspect-a.json"
I="${WORK}/inspect-a.json"
assert_eq 2 "$(json "${I}" 'd["format_version"]')" "inspect: format version 2"
assert_eq "${DIV}" "$(json "${I}" 'd["diversifier"]')" "inspect: the diversifier is A's"
assert_eq "${SERIAL_A}" "$(json "${I}" 'd["source_serial"]')" "inspect: the source serial is A's"
assert_eq "${PUB_A}" "$(json "${I}" 'd["public_objects"]')" "inspect: public object count"
assert_eq "${PRIV_A}" "$(json "${I}" 'd["private_objects"]')" "inspect: private object count"
assert_eq 2 "$(json "${I}" 'd["roles"]')" "inspect: two roles (SO and user)"
assert_eq 65536 "$(json "${I}" 'd["chunk_size"]')" "inspect: the chunk size is 64 KiB"
assert_eq "$(stat -c %s "${BK}/a.bak")" "$(json "${I}" 'd["size"]')" "inspect: the size is the file's"
assert_match '^[0-9a-f]{32}$' "$(json "${I}" 'd["backup_id"]')" "inspect: a 16-byte backup id"
assert_match '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "$(json "${I}" 'd["created"]')" "inspect: the creation time (UTC)"
# The header's creation time is now (within a minute).
CREATED="$(date -u -d "$(json "${I}" 'd["created"]')" +%s 2>/dev/null || echo 0)"
assert_true "inspect: the creation time is now" test $(( $(date +%s) - CREATED )) -lt 60
run "${CLI}" backup inspect "${BK}/a.bak"
assert_ok "backup inspect (text)"
assert_out_contains "diversifier: ${DIV}" "inspect prints the diversifier"
assert_out_contains "source_serial: ${SERIAL_A}" "inspect prints the source serial"
assert_file_not_contains "${ALL_OUTPUT}" "${PIN_A}" "no command printed A's user PIN"
assert_file_not_contains "${ALL_OUTPUT}" "${SO_A}" "no command printed A's SO PIN"

# Twin B: same master key, same diversifier.
B="${WORK}/B"
personalize B "${MK}" "${DIV}" --serial TWIN-B-0001 --button socket --button-timeout 20
run "${CLI}" backup verify --device "${B}" "${BK}/a.bak"
assert_ok "backup verify on the twin"
assert_out_contains "intact" "verify says the backup is intact"
assert_out_contains "can restore" "verify says the twin can restore it"
run "${CLI}" backup verify --device "${A}" "${BK}/a.bak"
assert_ok "backup verify on A itself"
with_press "${B}" "${CLI}" backup restore --device "${B}" "${BK}/a.bak"
assert_ok "backup restore on the twin with a press"
assert_eq 0 "${PRESS_RC}" "the twin's button press was taken"
assert_err_contains "Waiting for the button" "restore waits for the button"
assert_out_contains "${PUB_A} public and ${PRIV_A} private objects" "restore says how many objects it restored"
assert_out_contains "PIN are now those that were valid when the backup was made" "restore says the PINs are those valid at backup time"
sign_and_verify "${B}" "${PIN_A}" 01 SHA256-RSA-PKCS "${WORK}/rsa-a.pem" "on the twin with A's PIN"
sign_and_verify "${B}" "${PIN_A}" 02 ECDSA-SHA256 "${WORK}/ec-a.pem" "on the twin with A's PIN"
run "${CLI}" objects list --device "${B}" --pin "${PIN_A}" --json
assert_ok "objects list on the twin with A's PIN"
cp "${OUT}" "${WORK}/objects-B.json"
assert_eq "$(objects_summary "${WORK}/objects-A.json")" "$(objects_summary "${WORK}/objects-B.json")" \
  "the twin's objects (class, key type, id, private, label) are A's"
assert_eq "$(json "${WORK}/objects-A.json" '[o["handle"] for o in d]')" "$(json "${WORK}/objects-B.json" '[o["handle"] for o in d]')" \
  "the twin's object handles are A's"
run "${CLI}" device info --device "${B}" --json
cp "${OUT}" "${WORK}/info-B.json"
assert_eq "token-A" "$(json "${WORK}/info-B.json" 'd["token"]["label"]')" "the twin's token label is A's"
assert_eq "TWIN-B-0001" "$(json "${WORK}/info-B.json" 'd["serial"]')" "the twin keeps its own serial"
assert_eq "$(json "${WORK}/info-A.json" 'd["dbk_fingerprint"]')" "$(json "${WORK}/info-B.json" 'd["dbk_fingerprint"]')" "twins share the DBK fingerprint"
assert_eq "$(json "${WORK}/info-A.json" 'd["settings"]')" "$(json "${WORK}/info-B.json" 'd["settings"]')" "the twin's settings are the backup's"
assert_eq true "$(json "${WORK}/info-B.json" 'd["token"]["user_pin_initialized"]')" "the twin has a user PIN"
run "${CLI}" token set-pin --device "${B}" --so --so-pin "${SO_A}" --new-pin "${SO_A}"
assert_ok "A's SO PIN works on the twin"
p11 "${B}" --login --pin "${PIN_A}" --read-object --type data --label data-a -o "${WORK}/data-b.txt"
assert_ok "read the private data object on the twin"
assert_true "the private data object's value came across" cmp -s "${WORK}/data-a.txt" "${WORK}/data-b.txt"

# Same device: change the user PIN, add an object, then restore A's own earlier backup.
PIN_A2=user-pin-A-NEW-9
run "${CLI}" token set-pin --device "${A}" --pin "${PIN_A}" --new-pin "${PIN_A2}"
assert_ok "change A's user PIN after the backup"
p11 "${A}" --login --pin "${PIN_A2}" --write-object "${WORK}/data-a.txt" --type data --label made-after-backup
assert_ok "an object made on A after the backup"
with_press "${A}" "${CLI}" backup restore --device "${A}" "${BK}/a.bak" --force
assert_ok "restore A's own backup onto A with --force"
assert_out_contains "valid when the backup was made" "restore on A says the PINs are those valid at backup time"
run "${CLI}" objects list --device "${A}" --pin "${PIN_A}" --json
assert_ok "A's user PIN of backup time works again"
assert_eq "$(objects_summary "${WORK}/objects-A.json")" "$(objects_summary "${OUT}")" \
  "A's objects are those of backup time (the later one is gone)"
run "${CLI}" objects list --device "${A}" --pin "${PIN_A2}" --json
assert_cli_error_matches "the PIN set after the backup no longer works on A" "PIN"
sign_and_verify "${A}" "${PIN_A}" 01 SHA256-RSA-PKCS "${WORK}/rsa-a.pem" "on A after restoring its own backup"
# (the failed login is counted; a right PIN clears the count)
run "${CLI}" objects list --device "${A}" --pin "${PIN_A}"

# Replacement: a new device personalized with the diversifier read from the backup header.
DIV_FROM_FILE="$(json "${WORK}/inspect-a.json" 'd["diversifier"]')"
C="${WORK}/C"
personalize C "${MK}" "${DIV_FROM_FILE}" --serial REPL-C-0001 --button socket --button-timeout 20
with_press "${C}" "${CLI}" backup restore --device "${C}" "${BK}/a.bak"
assert_ok "restore onto a replacement personalized from the header's diversifier"
sign_and_verify "${C}" "${PIN_A}" 01 SHA256-RSA-PKCS "${WORK}/rsa-a.pem" "on the replacement"
sign_and_verify "${C}" "${PIN_A}" 02 ECDSA-SHA256 "${WORK}/ec-a.pem" "on the replacement"
run "${CLI}" objects list --device "${C}" --pin "${PIN_A}" --json
assert_eq "$(objects_summary "${WORK}/objects-A.json")" "$(objects_summary "${OUT}")" "the replacement's objects are A's"

# ---------------------------------------------------------------------------------------------
section "2. refusals leave the target unchanged"
# N: another pair (same master key, another diversifier), with a token of its own.
N="${WORK}/N"
PIN_N=user-pin-N-1
personalize N "${MK}" pair-e2e-other --button socket --button-timeout 2
must "${CLI}" token init --device "${N}" --label token-N --so-pin so-pin-N-1 --pin "${PIN_N}"
p11 "${N}" --login --pin "${PIN_N}" --keypairgen --key-type EC:prime256v1 --id 0a --label ec-n
snap "${N}" "${PIN_N}" N
timed "${CLI}" backup restore --device "${N}" "${BK}/a.bak" --force
assert_error_line "restore onto a device of another pair" "pair"
assert_err_contains "\"${DIV}\"" "the refusal names the backup's diversifier"
assert_err_contains "\"pair-e2e-other\"" "the refusal names the device's diversifier"
assert_no_button_wait "restore onto a device of another pair"
assert_true "the refusal comes at once (${ELAPSED_MS} ms), before the 2 s button timeout" test "${ELAPSED_MS}" -lt 1500
assert_unchanged "${N}" "${PIN_N}" N "after the refused restore onto another pair"
timed "${CLI}" backup verify --device "${N}" "${BK}/a.bak"
assert_error_line "verify on a device of another pair" "pair-e2e-other"
assert_err_contains "\"${DIV}\"" "verify's refusal names the backup's diversifier"
assert_unchanged "${N}" "${PIN_N}" N "after verify on another pair"

# M: the same diversifier under another factory master key.
M="${WORK}/M"
PIN_M=user-pin-M-1
personalize M "${MK2}" "${DIV}" --button socket --button-timeout 2
must "${CLI}" token init --device "${M}" --label token-M --so-pin so-pin-M-1 --pin "${PIN_M}"
p11 "${M}" --login --pin "${PIN_M}" --write-object "${WORK}/data-a.txt" --type data --label data-m --private
snap "${M}" "${PIN_M}" M
timed "${CLI}" backup restore --device "${M}" "${BK}/a.bak" --force
assert_error_line "restore onto the same diversifier under another master key" "cannot open|backup key"
assert_no_button_wait "restore under another master key"
assert_true "the refusal under another master key comes at once (${ELAPSED_MS} ms)" test "${ELAPSED_MS}" -lt 1500
assert_unchanged "${M}" "${PIN_M}" M "after the refused restore under another master key"
run "${CLI}" backup verify --device "${M}" "${BK}/a.bak"
assert_error_line "verify under another master key" "cannot open|backup key"
assert_unchanged "${M}" "${PIN_M}" M "after verify under another master key"

# B holds an initialized token (A's, restored): no restore over it without --force.
snap "${B}" "${PIN_A}" B
timed "${CLI}" backup restore --device "${B}" "${BK}/a.bak"
assert_error_line "restore onto an initialized token without --force" "--force"
assert_no_button_wait "restore onto an initialized token without --force"
assert_unchanged "${B}" "${PIN_A}" B "after the refused restore without --force"

# backup create over an existing file.
SUM_BAK="$(sha256sum <"${BK}/a.bak")"
MTIME_BAK="$(stat -c %Y.%y "${BK}/a.bak")"
timed "${CLI}" backup create --device "${A}" -o "${BK}/a.bak"
assert_error_line "backup create onto an existing file without --force" "exists.*--force"
assert_no_button_wait "backup create onto an existing file"
assert_eq "${SUM_BAK}" "$(sha256sum <"${BK}/a.bak")" "the existing backup file is unchanged"
assert_eq "${MTIME_BAK}" "$(stat -c %Y.%y "${BK}/a.bak")" "the existing backup file was not touched"
assert_eq "a.bak" "$(ls -A "${BK}")" "no temporary file is left after the refusal"
cp "${BK}/a.bak" "${WORK}/a-copy.bak"
with_press "${A}" "${CLI}" backup create --device "${A}" -o "${WORK}/a-copy.bak" --force
assert_ok "backup create --force replaces an existing file"
run "${CLI}" backup inspect --json "${WORK}/a-copy.bak"
assert_ne "$(json "${I}" 'd["backup_id"]')" "$(json "${OUT}" 'd["backup_id"]')" "the replaced file is a new backup (new backup id)"

# ---------------------------------------------------------------------------------------------
section "3. no press: an error, nothing written"
D3="${WORK}/D3"
PIN_D3=user-pin-D3-1
personalize D3 "${MK}" pair-e2e-3 --button socket --button-timeout 1
must "${CLI}" token init --device "${D3}" --label token-D3 --so-pin so-pin-D3-1 --pin "${PIN_D3}"
p11 "${D3}" --login --pin "${PIN_D3}" --write-object "${WORK}/data-a.txt" --type data --label data-d3
OUT3="${WORK}/out3"
mkdir -p "${OUT3}"
snap "${D3}" "${PIN_D3}" D3
timed "${CLI}" backup create --device "${D3}" -o "${OUT3}/nopress.bak"
assert_error_line "backup create without a press (--button-timeout 1)" "press"
assert_err_contains "Waiting for the button" "backup create waited for the button"
assert_true "backup create waited about the timeout (${ELAPSED_MS} ms)" test "${ELAPSED_MS}" -ge 900 -a "${ELAPSED_MS}" -lt 10000
assert_true "no backup file without a press" test ! -e "${OUT3}/nopress.bak"
assert_eq "" "$(ls -A "${OUT3}")" "no temporary file is left in the output directory"
assert_true "no button socket is left" test ! -e "${D3}/button.sock"
assert_unchanged "${D3}" "${PIN_D3}" D3 "after backup create without a press"

# The same through device set-button on A, and a restore without a press.
run "${CLI}" device set-button --device "${A}" socket --timeout 1
assert_ok "device set-button socket --timeout 1"
run "${CLI}" backup create --device "${A}" -o "${OUT3}/a-nopress.bak"
assert_error_line "backup create without a press after set-button --timeout 1" "press"
assert_err_contains "within 1 s" "the wait says how long it waits"
assert_eq "" "$(ls -A "${OUT3}")" "no file and no temporary file after the timeout"
snap "${A}" "${PIN_A}" A3
run "${CLI}" backup restore --device "${A}" "${BK}/a.bak" --force
assert_error_line "restore without a press" "press"
assert_unchanged "${A}" "${PIN_A}" A3 "after a restore without a press"
run "${CLI}" device set-button --device "${A}" socket --timeout 20
assert_ok "device set-button back to 20 s"

# ---------------------------------------------------------------------------------------------
section "4. tampered backups are rejected, the target unchanged"
# A backup of several 64 KiB chunks: ~320 KB of data objects on A, half of them private.
# pkcs11-tool 0.23 writes at most 5000 bytes of a file (--write-object reads into a 5000-byte
# buffer), so 64 objects of 5000 bytes.
bad=()
for i in $(seq 1 64); do
  head -c 5000 /dev/urandom >"${WORK}/big-${i}.bin"
  priv=()
  [[ $((i % 2)) -eq 0 ]] && priv=(--private)
  p11 "${A}" --login --pin "${PIN_A}" --write-object "${WORK}/big-${i}.bin" --type data --label "big-${i}" "${priv[@]}"
  [[ ${RC} -eq 0 ]] || bad+=("${i}")
done
assert_eq "" "${bad[*]}" "64 data objects of 5000 bytes on A (failed ones listed)"
with_press "${A}" "${CLI}" backup create --device "${A}" -o "${BK}/big.bak"
assert_ok "backup of A with ~320 KB of objects"
with_press "${A}" "${CLI}" backup create --device "${A}" -o "${BK}/big2.bak"
assert_ok "a second backup of A (for splicing)"
run "${CLI}" backup inspect --json "${BK}/big.bak"
cp "${OUT}" "${WORK}/inspect-big.json"
RECORDS="$(json "${WORK}/inspect-big.json" 'd["settings"] + d["roles"] + d["public_objects"] + d["private_objects"] + 1')"

# tamper.py SRC DST ACTION [OTHER]: writes a damaged copy. Actions: info (prints the header
# length and "offset length" of every chunk), flip:OFFSET, flip-<field>, truncate:N,
# truncate-chunks:K (header and first K chunks), swap:I:J, drop:I, dup:I, splice:I (chunk I of
# OTHER), append.
cat >"${WORK}/tamper.py" <<'EOF'
import struct, sys
src, dst, action = sys.argv[1], sys.argv[2], sys.argv[3]
data = bytearray(open(src, "rb").read())
H = struct.unpack(">H", data[10:12])[0]
d = data[28]
s = data[29 + d]

def chunks_of(b):
    out, off = [], H
    while off < len(b):
        n = struct.unpack(">I", b[off:off + 4])[0]
        out.append((off, 4 + n))
        off += 4 + n
    return out

chunks = chunks_of(data)
fields = {
    "magic": 3, "version": 9, "header-length": 11, "backup-id": 12 + 7, "diversifier": 29,
    "serial": 30 + d, "created": 30 + d + s + 7, "settings-count": 38 + d + s + 3,
    "roles-count": 42 + d + s + 3, "public-count": 46 + d + s + 7,
    "private-count": 54 + d + s + 7, "chunk-size": 62 + d + s + 2,
    "wrapped-otk": 66 + d + s + 20,
    "chunk0-length": H + 3, "chunk0-body": H + 4 + 1000, "chunk0-tag": chunks[0][0] + chunks[0][1] - 1,
    "last-length": chunks[-1][0] + 3, "last-body": chunks[-1][0] + 4 + 10,
    "last-tag": len(data) - 1,
}
def piece(b, i):
    off, n = chunks_of(b)[i]
    return b[off:off + n]
if action == "info":
    print(H, len(chunks))
    for off, n in chunks:
        print(off, n)
    sys.exit(0)
if action.startswith("flip:"):
    data[int(action[5:])] ^= 0x01
elif action.startswith("flip-"):
    data[fields[action[5:]]] ^= 0x01
elif action.startswith("truncate:"):
    data = data[:int(action[9:])]
elif action.startswith("truncate-chunks:"):
    k = int(action[16:])
    data = data[:chunks[k][0]] if k < len(chunks) else data
elif action.startswith("swap:"):
    i, j = map(int, action[5:].split(":"))
    p = [bytes(data[o:o + n]) for o, n in chunks]
    p[i], p[j] = p[j], p[i]
    data = data[:H] + b"".join(p)
elif action.startswith("drop:"):
    i = int(action[5:])
    p = [bytes(data[o:o + n]) for o, n in chunks]
    del p[i]
    data = data[:H] + b"".join(p)
elif action.startswith("dup:"):
    i = int(action[4:])
    p = [bytes(data[o:o + n]) for o, n in chunks]
    p.insert(i + 1, p[i])
    data = data[:H] + b"".join(p)
elif action.startswith("splice:"):
    i = int(action[7:])
    other = bytearray(open(sys.argv[4], "rb").read())
    p = [bytes(data[o:o + n]) for o, n in chunks]
    p[i] = bytes(piece(other, i))
    data = data[:H] + b"".join(p)
elif action == "append":
    data += b"\0\0\0\x10" + b"\0" * 16
else:
    sys.exit("unknown action " + action)
open(dst, "wb").write(bytes(data))
EOF
"${PY}" "${WORK}/tamper.py" "${BK}/big.bak" /dev/null info >"${WORK}/big.layout"
HLEN="$(head -n1 "${WORK}/big.layout" | cut -d' ' -f1)"
NCHUNKS="$(head -n1 "${WORK}/big.layout" | cut -d' ' -f2)"
assert_true "the ~320 KB backup has at least 4 chunks (has ${NCHUNKS})" test "${NCHUNKS}" -ge 4
mapfile -t CHUNK_OFFSETS < <(tail -n +2 "${WORK}/big.layout" | cut -d' ' -f1)
FULL_CHUNK=$((65536 + 16 + 4))
assert_eq "${FULL_CHUNK}" "$(sed -n 2p "${WORK}/big.layout" | cut -d' ' -f2)" "a full chunk is 4 + 65536 + 16 bytes"

# T: a twin of A with the insecure-auto button (restores need no press) and a token of its own.
T="${WORK}/T"
PIN_T=user-pin-T-1
personalize T "${MK}" "${DIV}" --button insecure-auto
must "${CLI}" token init --device "${T}" --label token-T --so-pin so-pin-T-1 --pin "${PIN_T}"
p11 "${T}" --login --pin "${PIN_T}" --keypairgen --key-type EC:prime256v1 --id 0b --label ec-t
run "${CLI}" backup verify --device "${T}" "${BK}/big.bak"
assert_ok "the intact multi-chunk backup verifies on the twin T"
assert_out_contains "(${RECORDS} records authenticated)" "verify authenticated every record"
snap "${T}" "${PIN_T}" T

# rejected NAME FILE: verify and restore --force of FILE fail on T; T is unchanged.
rejected() {
  local name="$1" file="$2"
  run "${CLI}" backup verify --device "${T}" "${file}"
  assert_error_line "verify rejects ${name}" "."
  run "${CLI}" backup restore --device "${T}" "${file}" --force
  assert_error_line "restore rejects ${name}" "."
  assert_unchanged "${T}" "${PIN_T}" T "after the restore of ${name}"
}

SIZE="$(stat -c %s "${BK}/big.bak")"
LAST_OFF="${CHUNK_OFFSETS[-1]}"
for what in flip-magic flip-version flip-header-length flip-backup-id flip-diversifier flip-serial \
  flip-created flip-settings-count flip-roles-count flip-public-count flip-private-count \
  flip-chunk-size flip-wrapped-otk flip-chunk0-length flip-chunk0-body flip-chunk0-tag \
  flip-last-length flip-last-body flip-last-tag "truncate:${LAST_OFF}" "truncate:$((SIZE - 1))" \
  "truncate:${HLEN}" swap:1:2 swap:0:1 drop:1 dup:1 splice:1 splice:0 append; do
  "${PY}" "${WORK}/tamper.py" "${BK}/big.bak" "${WORK}/t.bak" "${what}" "${BK}/big2.bak"
  assert_true "${what} changed the file" test "$(sha256sum <"${WORK}/t.bak")" != "$(sha256sum <"${BK}/big.bak")"
  rejected "a backup with ${what}" "${WORK}/t.bak"
done
# inspect reads only the clear header: it names what is wrong with a damaged one.
"${PY}" "${WORK}/tamper.py" "${BK}/big.bak" "${WORK}/t.bak" flip-magic
run "${CLI}" backup inspect "${WORK}/t.bak"
assert_cli_error_matches "inspect of a file with another magic" "not a twinhsm backup"
"${PY}" "${WORK}/tamper.py" "${BK}/big.bak" "${WORK}/t.bak" truncate:40
run "${CLI}" backup inspect "${WORK}/t.bak"
assert_cli_error "inspect of a file cut inside its header"
"${PY}" "${WORK}/tamper.py" "${BK}/big.bak" "${WORK}/t.bak" flip-public-count
run "${CLI}" backup inspect --json "${WORK}/t.bak"
assert_ok "inspect prints an edited header (it authenticates nothing)"
assert_eq "$(($(json "${WORK}/inspect-big.json" 'd["public_objects"]') ^ 1))" "$(json "${OUT}" 'd["public_objects"]')" \
  "inspect shows the edited public object count"
# The reason is named for a few of them.
"${PY}" "${WORK}/tamper.py" "${BK}/big.bak" "${WORK}/t.bak" "truncate:${LAST_OFF}"
run "${CLI}" backup verify --device "${T}" "${WORK}/t.bak"
assert_error_line "a backup truncated at its last chunk boundary" "authentication|truncated"
"${PY}" "${WORK}/tamper.py" "${BK}/big.bak" "${WORK}/t.bak" swap:1:2
run "${CLI}" backup verify --device "${T}" "${WORK}/t.bak"
assert_error_line "reordered chunks" "chunk 1"
"${PY}" "${WORK}/tamper.py" "${BK}/big.bak" "${WORK}/t.bak" flip-created
run "${CLI}" backup verify --device "${T}" "${WORK}/t.bak"
assert_error_line "an edited creation time" "authentication"

# Every single header byte flipped, and the file truncated at every chunk boundary: verify
# fails each time (restore of a sample above).
bad=()
for ((off = 0; off < HLEN; off++)); do
  "${PY}" "${WORK}/tamper.py" "${BK}/big.bak" "${WORK}/t.bak" "flip:${off}"
  run "${CLI}" backup verify --device "${T}" "${WORK}/t.bak"
  [[ ${RC} -ne 0 ]] || bad+=("${off}")
done
assert_eq "" "${bad[*]}" "verify rejects a flip of every one of the ${HLEN} header bytes (accepted offsets listed)"
bad=()
for ((k = 0; k < NCHUNKS; k++)); do
  "${PY}" "${WORK}/tamper.py" "${BK}/big.bak" "${WORK}/t.bak" "truncate-chunks:${k}"
  run "${CLI}" backup verify --device "${T}" "${WORK}/t.bak"
  [[ ${RC} -ne 0 ]] || bad+=("${k}")
done
assert_eq "" "${bad[*]}" "verify rejects the file cut after each of its first chunks (accepted chunk counts listed)"
# One byte flipped in each chunk's length, body start, middle and tag.
bad=()
for ((k = 0; k < NCHUNKS; k++)); do
  off="${CHUNK_OFFSETS[k]}"
  len="$(sed -n "$((k + 2))p" "${WORK}/big.layout" | cut -d' ' -f2)"
  for o in $((off + 3)) $((off + 4)) $((off + len / 2)) $((off + len - 1)); do
    "${PY}" "${WORK}/tamper.py" "${BK}/big.bak" "${WORK}/t.bak" "flip:${o}"
    run "${CLI}" backup verify --device "${T}" "${WORK}/t.bak"
    [[ ${RC} -ne 0 ]] || bad+=("${o}")
  done
done
assert_eq "" "${bad[*]}" "verify rejects flips in every chunk (accepted offsets listed)"
assert_unchanged "${T}" "${PIN_T}" T "after every tampered file"

# And the intact file restores on T.
run "${CLI}" backup restore --device "${T}" "${BK}/big.bak" --force
assert_ok "the intact multi-chunk backup restores on T"
assert_err_contains "insecure-auto" "the insecure-auto button warns"
run "${CLI}" device info --device "${T}" --json
assert_eq "$(json "${WORK}/inspect-big.json" '[d["public_objects"], d["private_objects"]]')" \
  "$(json "${OUT}" '[d["objects"]["public"], d["objects"]["private"]]')" "T holds the backup's object counts"
p11 "${T}" --login --pin "${PIN_A}" --read-object --type data --label big-64 -o "${WORK}/big-64.back"
assert_ok "read a private data object restored on T"
assert_true "the private data object's value came across" cmp -s "${WORK}/big-64.bin" "${WORK}/big-64.back"

# ---------------------------------------------------------------------------------------------
section "5. a restore killed mid-way leaves the device exactly as it was"
K="${WORK}/K"
PIN_K=user-pin-K-1
personalize K "${MK}" "${DIV}" --button insecure-auto
must "${CLI}" token init --device "${K}" --label token-K --so-pin so-pin-K-1 --pin "${PIN_K}"
p11 "${K}" --login --pin "${PIN_K}" --keypairgen --key-type EC:prime256v1 --id 0c --label ec-k
p11 "${K}" --login --pin "${PIN_K}" --write-object "${WORK}/data-a.txt" --type data --label data-k
sqlite3 "${K}/store.db" .dump >"${WORK}/k-before.dump"
sqlite3 "${K}/store.db" .schema | sort >"${WORK}/k-before.schema"
snap "${K}" "${PIN_K}" K
# Kill after 3 records, then after every other count up to the number of records (end included).
for n in 3 $(seq 1 "${RECORDS}"); do
  # (bash reports "Killed" for a command that dies of SIGKILL; that is expected here)
  { run "${RESTORE_KILLED_AFTER}" "${K}" "${BK}/big.bak" "${n}"; } 2>/dev/null
  assert_eq 137 "${RC}" "the restore killed after ${n} of ${RECORDS} records dies of SIGKILL"
  sqlite3 "${K}/store.db" .dump >"${WORK}/k-after.dump"
  if cmp -s "${WORK}/k-before.dump" "${WORK}/k-after.dump"; then pass; else
    fail "after a restore killed after ${n} records, sqlite3 .dump of K's store differs"
    diff "${WORK}/k-before.dump" "${WORK}/k-after.dump" | head -n 10 >&2 || true
  fi
  if [[ ${n} -eq 3 || ${n} -eq ${RECORDS} ]]; then
    assert_unchanged "${K}" "${PIN_K}" K "after a restore killed after ${n} records"
  fi
done
run "${CLI}" objects list --device "${K}" --pin "${PIN_K}" --json
assert_ok "K's own PIN still logs in"
p11 "${K}" --login --pin "${PIN_K}" --sign --mechanism ECDSA-SHA256 --id 0c -i "${WORK}/message" -o "${WORK}/k.sig"
assert_ok "K's own key still signs"
run "${CLI}" backup restore --device "${K}" "${BK}/big.bak" --force
assert_ok "a restore without the kill hook then succeeds"
# A restore drops the objects' tag indexes for its load and makes them again (store.h), after the
# tables made later: the same statements, in another order.
sqlite3 "${K}/store.db" .schema | sort >"${WORK}/k-after.schema"
assert_true "K's schema after the restore, tag indexes included, is the one it had" \
  cmp -s "${WORK}/k-before.schema" "${WORK}/k-after.schema"
assert_eq "ok" "$(sqlite3 "${K}/store.db" 'PRAGMA integrity_check')" "K's store passes SQLite's integrity check"
run "${CLI}" objects list --device "${K}" --pin "${PIN_A}" --json
assert_eq "$(json "${WORK}/inspect-big.json" 'd["public_objects"] + d["private_objects"]')" "$(json "${OUT}" 'len(d)')" \
  "K then holds the backup's objects"

# ---------------------------------------------------------------------------------------------
section "6. a backup made while another process writes is one consistent snapshot"
W="${WORK}/W"
W2="${WORK}/W2"
PIN_W=user-pin-W-1
personalize W "${MK}" pair-e2e-w --button insecure-auto
personalize W2 "${MK}" pair-e2e-w --button insecure-auto
must "${CLI}" token init --device "${W}" --label token-W --so-pin so-pin-W-1 --pin "${PIN_W}"
# Some bulk, so that a backup takes a while.
for i in $(seq 1 30); do
  p11 "${W}" --login --pin "${PIN_W}" --write-object "${WORK}/big-${i}.bin" --type data --label "bulk-${i}" --private
done
write_conf "${WORK}/conf-writer.toml" "${W}"
printf 'small object\n' >"${WORK}/small.bin"
rm -f "${WORK}/stop-writer" "${WORK}/writer.ok" "${WORK}/writer.fail"
(
  i=0
  while [[ ! -e "${WORK}/stop-writer" ]]; do
    i=$((i + 1))
    if [[ $((i % 2)) -eq 0 ]]; then priv=(--private); else priv=(); fi
    if env TWINHSM_CONF="${WORK}/conf-writer.toml" pkcs11-tool --module "${MODULE}" --login \
      --pin "${PIN_W}" --write-object "${WORK}/small.bin" --type data --label "w-${i}" "${priv[@]}" \
      >/dev/null 2>>"${WORK}/writer.err"; then
      echo "${i}" >>"${WORK}/writer.ok"
    else
      echo "${i}" >>"${WORK}/writer.fail"
    fi
  done
) &
WRITER=$!
for b in 1 2 3 4 5; do
  sleep 0.3
  run "${CLI}" backup create --device "${W}" -o "${BK}/w-${b}.bak"
  assert_ok "backup ${b} of W while another process writes"
done
touch "${WORK}/stop-writer"
wait "${WRITER}" || true
touch "${WORK}/writer.ok" "${WORK}/writer.fail" "${WORK}/writer.err"
WROTE="$(wc -l <"${WORK}/writer.ok")"
echo "the writer created ${WROTE} objects during the backups"
assert_true "the writer created objects during the backups (${WROTE})" test "${WROTE}" -ge 5
assert_eq 0 "$(wc -l <"${WORK}/writer.fail")" "no write failed while backups were made"
grep -v '^Using slot' "${WORK}/writer.err" | head -n 5 >&2 || true
for b in 1 2 3 4 5; do
  f="${BK}/w-${b}.bak"
  run "${CLI}" backup verify --device "${W2}" "${f}"
  assert_ok "backup ${b} made during writes verifies on the twin"
  run "${CLI}" backup inspect --json "${f}"
  cp "${OUT}" "${WORK}/inspect-w.json"
  run "${CLI}" backup restore --device "${W2}" "${f}" --force
  assert_ok "backup ${b} made during writes restores on the twin"
  run "${CLI}" device info --device "${W2}" --json
  assert_eq "$(json "${WORK}/inspect-w.json" '[d["public_objects"], d["private_objects"]]')" \
    "$(json "${OUT}" '[d["objects"]["public"], d["objects"]["private"]]')" "backup ${b}: the restored token holds the header's counts"
  run "${CLI}" objects list --device "${W2}" --pin "${PIN_W}" --json
  # The writer made w-1, w-2, ... one after the other: a snapshot holds exactly w-1 .. w-k.
  assert_eq true "$(json "${OUT}" 'sorted(int(o["label"][2:]) for o in d if o["label"].startswith("w-")) == list(range(1, 1 + len([o for o in d if o["label"].startswith("w-")])))')" \
    "backup ${b}: the objects written during the backup form a prefix w-1..w-k (no gap)"
  assert_eq "$(json "${WORK}/inspect-w.json" 'd["public_objects"] + d["private_objects"]')" "$(json "${OUT}" 'len(d)')" \
    "backup ${b}: objects list shows the header's total"
done

# ---------------------------------------------------------------------------------------------
section "7. no key value, PIN or private label in the clear"
S="${WORK}/S"
PIN_S=Us3r-PIN-s7-Qx
SO_S=S0-PIN-s7-Zr
personalize S "${MK}" pair-e2e-7 --button insecure-auto
must "${CLI}" token init --device "${S}" --label token-S --so-pin "${SO_S}" --pin "${PIN_S}"
head -c 32 /dev/urandom >"${WORK}/aes-public.key"
head -c 32 /dev/urandom >"${WORK}/aes-private.key"
p11 "${S}" --login --pin "${PIN_S}" --write-object "${WORK}/aes-public.key" --type secrkey --key-type AES:32 \
  --label aes-nonprivate-label --id 71
assert_ok "a non-private AES key with a known value"
p11 "${S}" --login --pin "${PIN_S}" --write-object "${WORK}/aes-private.key" --type secrkey --key-type AES:32 \
  --label Priv4te-Label-Of-S --id 72 --private
assert_ok "a private AES key with a known value"
run "${CLI}" objects list --device "${S}" --pin "${PIN_S}" --json
assert_eq "false true" "$(json "${OUT}" '" ".join(str(o["private"]).lower() for o in sorted(d, key=lambda o: o["id"]))')" \
  "one non-private and one private AES key"
run "${CLI}" backup create --device "${S}" -o "${BK}/s.bak"
assert_ok "backup of S"
xxd -p "${BK}/s.bak" | tr -d '\n' >"${WORK}/s.hex"
hexof() { printf '%s' "$1" | xxd -p | tr -d '\n'; }
assert_file_contains "${WORK}/s.hex" "$(hexof pair-e2e-7)" "(control) the clear header's diversifier is found by this search"
assert_file_not_contains "${WORK}/s.hex" "$(xxd -p "${WORK}/aes-public.key" | tr -d '\n')" "the non-private AES key value"
assert_file_not_contains "${WORK}/s.hex" "$(xxd -p "${WORK}/aes-private.key" | tr -d '\n')" "the private AES key value"
assert_file_not_contains "${WORK}/s.hex" "$(hexof "${PIN_S}")" "the user PIN"
assert_file_not_contains "${WORK}/s.hex" "$(hexof "${SO_S}")" "the SO PIN"
assert_file_not_contains "${WORK}/s.hex" "$(hexof Priv4te-Label-Of-S)" "the private object's label"
assert_file_not_contains "${WORK}/s.hex" "$(hexof aes-nonprivate-label)" "the non-private object's label (the payload is encrypted)"
assert_file_not_contains "${WORK}/s.hex" "$(hexof token-S)" "the token label (the payload is encrypted)"
# The keys come back on a twin. (Their values cannot be checked through pkcs11-tool 0.23: the
# module does AES only as GCM, which this pkcs11-tool cannot drive; backup_app_test.py can.)
S2="${WORK}/S2"
personalize S2 "${MK}" pair-e2e-7 --button insecure-auto
run "${CLI}" backup restore --device "${S2}" "${BK}/s.bak"
assert_ok "restore of S onto its twin"
run "${CLI}" objects list --device "${S2}" --pin "${PIN_S}" --json
assert_eq "aes-nonprivate-label Priv4te-Label-Of-S" "$(json "${OUT}" '" ".join(o["label"] for o in sorted(d, key=lambda o: o["id"]))')" \
  "both AES keys are on the twin"

assert_file_not_contains "${ALL_OUTPUT}" "${PIN_S}" "no command printed S's user PIN"

# ---------------------------------------------------------------------------------------------
section "8. the target's button still works after a restore"
# A backup carries the source's device settings, the button backend included. A test device with
# the insecure-auto button and its twin personalized with the socket button (insecure-auto is
# not allowed on it): after the restore, the twin must still be able to authorize a backup.
X="${WORK}/X"
Y="${WORK}/Y"
personalize X "${MK}" pair-e2e-8 --button insecure-auto
personalize Y "${MK}" pair-e2e-8 --button socket --button-timeout 20
must "${CLI}" token init --device "${X}" --label token-X --so-pin so-pin-X-1 --pin user-pin-X-1
run "${CLI}" backup create --device "${X}" -o "${BK}/x.bak"
assert_ok "backup of the insecure-auto device"
with_press "${Y}" "${CLI}" backup restore --device "${Y}" "${BK}/x.bak"
assert_ok "restore onto its socket-button twin"
run "${CLI}" device info --device "${Y}" --json
echo "note: after the restore the twin's button setting is '$(json "${OUT}" 'd["settings"]["button"]')'," \
  "timeout $(json "${OUT}" 'd["settings"]["button_timeout_seconds"]') s (personalized: socket, 20 s)"
with_press "${Y}" "${CLI}" backup create --device "${Y}" -o "${BK}/y.bak"
assert_ok "after restoring a backup of an insecure-auto device, the socket-button twin can still make a backup (its own button works)"
run "${CLI}" device set-button --device "${Y}" socket --timeout 20
assert_ok "device set-button socket on the twin"
with_press "${Y}" "${CLI}" backup create --device "${Y}" -o "${BK}/y2.bak"
assert_ok "after device set-button socket, the twin makes a backup"
e2e_finish
