#!/usr/bin/env bash
# Root's twinhsm commands on a device that belongs to another user (the isolated mode's service
# user, whoever takes over its p11-kit server): that user plants symbolic links, hard links,
# FIFOs and sockets at every name root opens, creates, chmods or connects to in the device
# directory (the login lock file, the secure element, the store's -wal and -shm files, the button
# socket). Each command refuses with a clear error, and nothing outside the directory changes:
# no file is created, written, given away or connected to (fs/owned_file.h).
#
# Usage: device_links_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$(realpath "$0")")/lib.sh"
CLI="$(realpath "$1")"
e2e_init
e2e_require_built "${CLI}"
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: planting links in another user's device needs root"
  e2e_finish
fi
OWNER=nobody
OWNER_GROUP="$(id -gn "${OWNER}")"
SO_PIN=so-pin-links
USER_PIN=user-pin-links

chmod 0711 "${WORK}"
DEV="${WORK}/device"
must "${CLI}" factory new-master-key -o "${WORK}/master.key"
must "${CLI}" factory personalize --device "${DEV}" --master-key "${WORK}/master.key" \
  --diversifier links --pbkdf2-iterations 1000 --button-timeout 2
must "${CLI}" token init --device "${DEV}" --label links --so-pin "${SO_PIN}" --pin "${USER_PIN}"
chown -R "${OWNER}:${OWNER_GROUP}" "${DEV}"

# Outside the device: a file of root's, a name nothing may create, a socket that records any
# connection, and a file of the owner's own (for hard links, which the kernel lets the owner make).
OUT_DIR="${WORK}/outside"
mkdir -p "${OUT_DIR}"
echo "root's file" >"${OUT_DIR}/roots-file"
chmod 0600 "${OUT_DIR}/roots-file"
echo "the owner's file" >"${OUT_DIR}/owners-file"
chown "${OWNER}:${OWNER_GROUP}" "${OUT_DIR}/owners-file"
"${PY}" - "${OUT_DIR}/listener.sock" "${OUT_DIR}/connections" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f:
        f.write("connected\n")
    c.close()
EOF
LISTENER=$!
trap 'e2e_rc=$?; kill "${LISTENER}" 2>/dev/null || true; (exit "${e2e_rc}"); e2e_cleanup' EXIT
for _ in $(seq 50); do [[ -S "${OUT_DIR}/listener.sock" ]] && break; sleep 0.1; done
outside_state() {
  (cd "${OUT_DIR}" && for f in *; do
    [[ $f == listener.sock ]] && continue
    printf '%s %s %s ' "$f" "$(stat -c '%U %a' "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
  done; ls -1 | wc -l)
}
BEFORE="$(outside_state)"
expect_untouched() { # DESCRIPTION
  assert_eq "${BEFORE}" "$(outside_state)" "$1: nothing outside the device changed"
  assert_true "$1: nothing connected to the outside socket" test ! -s "${OUT_DIR}/connections"
}
# plant NAME KIND: replace DEV/NAME by a symlink to a missing or existing outside file, a hard
# link to the owner's outside file, a FIFO, or a symlink to the outside socket, made as the owner.
plant() {
  local name="$1" kind="$2" path="${DEV}/$1"
  rm -f "${path}"
  case ${kind} in
    dangling) runuser -u "${OWNER}" -- ln -s "${OUT_DIR}/made-by-root" "${path}" ;;
    symlink) runuser -u "${OWNER}" -- ln -s "${OUT_DIR}/roots-file" "${path}" ;;
    hardlink) runuser -u "${OWNER}" -- ln "${OUT_DIR}/owners-file" "${path}" ;;
    fifo) runuser -u "${OWNER}" -- mkfifo "${path}" ;;
    socket) runuser -u "${OWNER}" -- ln -s "${OUT_DIR}/listener.sock" "${path}" ;;
  esac
}

section "the login lock file (root checks a PIN)"
for kind in dangling symlink hardlink fifo; do
  plant store.db.login-lock "${kind}"
  run timeout 20 "${CLI}" token set-pin --device "${DEV}" --pin "${USER_PIN}" --new-pin "${USER_PIN}"
  assert_fails "a ${kind} at store.db.login-lock: the PIN change is refused"
  assert_err_contains "store.db.login-lock" "a ${kind} at store.db.login-lock: the error names the file"
  expect_untouched "a ${kind} at store.db.login-lock"
done
rm -f "${DEV}/store.db.login-lock"
run "${CLI}" token set-pin --device "${DEV}" --pin "${USER_PIN}" --new-pin "${USER_PIN}"
assert_ok "without the planted file, root changes the PIN"
assert_eq "${OWNER}" "$(stat -c %U "${DEV}/store.db.login-lock")" "the lock file root made belongs to the owner"

section "the writers' lock file (root opens the store)"
for kind in dangling symlink hardlink fifo; do
  plant store.db.write-lock "${kind}"
  run timeout 20 "${CLI}" device info --device "${DEV}"
  assert_fails "a ${kind} at store.db.write-lock: the device does not open"
  assert_ne 124 "${RC}" "a ${kind} at store.db.write-lock: the command does not hang"
  assert_err_contains "store.db.write-lock" "a ${kind} at store.db.write-lock: the error names the file"
  expect_untouched "a ${kind} at store.db.write-lock"
done
rm -f "${DEV}/store.db.write-lock"
run "${CLI}" device info --device "${DEV}"
assert_ok "without the planted file, root opens the device"
assert_eq "${OWNER}" "$(stat -c %U "${DEV}/store.db.write-lock")" "the lock file root made belongs to the owner"

section "the secure element (root opens the device)"
mv "${DEV}/secure-element" "${WORK}/secure-element.real"
for kind in symlink hardlink fifo; do
  plant secure-element "${kind}"
  run timeout 20 "${CLI}" device info --device "${DEV}"
  assert_fails "a ${kind} at secure-element: the device does not open"
  assert_ne 124 "${RC}" "a ${kind} at secure-element: the command does not hang"
  assert_err_contains "secure-element" "a ${kind} at secure-element: the error names the file"
  expect_untouched "a ${kind} at secure-element"
done
rm -f "${DEV}/secure-element"
mv "${WORK}/secure-element.real" "${DEV}/secure-element"

section "the store's -wal and -shm files"
for name in store.db-wal store.db-shm; do
  for kind in dangling symlink hardlink fifo; do
    plant "${name}" "${kind}"
    run timeout 20 "${CLI}" device info --device "${DEV}"
    assert_fails "a ${kind} at ${name}: the store does not open"
    expect_untouched "a ${kind} at ${name}"
  done
  rm -f "${DEV}/${name}"
done
run "${CLI}" device info --device "${DEV}"
assert_ok "without the planted files, root opens the device"
assert_eq "" "$(find "${DEV}" ! -user "${OWNER}")" "every file root's commands made belongs to the owner"

section "the button socket"
plant button.sock socket
run timeout 20 "${CLI}" button press --device "${DEV}"
assert_fails "a link at button.sock: the press is refused"
assert_err_contains "button.sock" "a link at button.sock: the error names the file"
expect_untouched "a link at button.sock (press)"
run timeout 20 "${CLI}" backup create --device "${DEV}" -o "${WORK}/backup.twb"
assert_fails "a link at button.sock: the backup does not wait on it"
assert_err_contains "button.sock" "a link at button.sock (backup): the error names the file"
assert_true "no backup was written" test ! -e "${WORK}/backup.twb"
expect_untouched "a link at button.sock (backup)"
rm -f "${DEV}/button.sock"

e2e_finish
