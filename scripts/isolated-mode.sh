#!/usr/bin/env bash
# The isolated mode: serves one twinhsm device to applications through `p11-kit server`. The
# PKCS#11 module runs as the device's owner; applications load p11-kit's client module
# (p11-kit-client.so) with P11_KIT_SERVER_ADDRESS and use the keys, but can neither read the
# device directory nor press its button.
#
# As root (the normal case), this script:
#   - creates the system user `twinhsm` (or --user) and the group `twinhsm-users` (or --group)
#     if they do not exist yet; members of the group may connect;
#   - gives the device directory to that user (chown -R, mode 0700);
#   - writes the module's configuration (one [[slot]] for the device) into the run directory
#     (default /run/twinhsm, owner USER, group GROUP, mode 0750);
#   - starts `p11-kit server` as USER:GROUP, serving the device's token, with its socket
#     RUNDIR/pkcs11.sock opened to the group (mode 0660).
# As another user, it serves the device as that user (no user or group is created; --group, if
# given, must be one of the user's groups).
#
# A TPM device (personalized with --secure-element tpm:TCTI): the server's user must reach the
# TPM and the applications' users must not. For a TPM behind a device node or a socket (device:
# /dev/tpmrm0, whose group is tss on Debian; swtpm:path=SOCKET) the script adds USER to the group
# that owns it and runs the server with that group too; it refuses when that group is GROUP. A
# TPM reached over TCP (swtpm:host=...) is open to every local user: it says so. tabrmd decides
# by its own D-Bus policy.
#
# It prints the lines to eval, as `p11-kit server` does:
#   P11_KIT_SERVER_ADDRESS=unix:path=/run/twinhsm/pkcs11.sock; export P11_KIT_SERVER_ADDRESS;
#   P11_KIT_SERVER_PID=1234; export P11_KIT_SERVER_PID;
# and an application then runs e.g.
#   pkcs11-tool --module /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so --list-objects
# `--stop` ends the server of a run directory. `--foreground` runs it in the foreground (for a
# service manager; packaging/twinhsm-p11-kit.service is the equivalent systemd unit).
#
# Usage: isolated-mode.sh --device DIR [--token LABEL] [--module PATH] [--cli PATH]
#                         [--user USER] [--group GROUP] [--run-dir DIR] [--foreground]
#        isolated-mode.sh --stop [--run-dir DIR]
set -euo pipefail

die() {
  echo "isolated-mode: $*" >&2
  exit 1
}
say() { echo "isolated-mode: $*" >&2; }

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

REPO=$(cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/.." && pwd)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
P11KIT_MODULE_DIR=$(pkg-config --variable=p11_module_path p11-kit-1 2>/dev/null || echo "/usr/lib/${MULTIARCH}/pkcs11")

DEVICE="" TOKEN="" MODULE="" CLI="" USER_NAME="" GROUP_NAME="" RUN_DIR="" FOREGROUND=0 STOP=0
while (($#)); do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --token) TOKEN=$2; shift 2 ;;
    --module) MODULE=$2; shift 2 ;;
    --cli) CLI=$2; shift 2 ;;
    --user) USER_NAME=$2; shift 2 ;;
    --group) GROUP_NAME=$2; shift 2 ;;
    --run-dir) RUN_DIR=$2; shift 2 ;;
    --foreground) FOREGROUND=1; shift ;;
    --stop) STOP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1
if [[ -z "${RUN_DIR}" ]]; then
  if ((IS_ROOT)); then
    RUN_DIR=/run/twinhsm
  else
    [[ -n "${XDG_RUNTIME_DIR:-}" ]] || die "XDG_RUNTIME_DIR is not set: give --run-dir DIR"
    RUN_DIR="${XDG_RUNTIME_DIR}/twinhsm"
  fi
fi
SOCKET="${RUN_DIR}/pkcs11.sock"
PID_FILE="${RUN_DIR}/p11-kit-server.pid"

if ((STOP)); then
  [[ -f "${PID_FILE}" ]] || die "no server runs for ${RUN_DIR} (no ${PID_FILE})"
  pid=$(cat "${PID_FILE}")
  kill "${pid}" 2>/dev/null || say "the server (pid ${pid}) was not running"
  for _ in $(seq 50); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
  rm -f "${PID_FILE}" "${SOCKET}"
  echo "unset P11_KIT_SERVER_ADDRESS; unset P11_KIT_SERVER_PID;"
  exit 0
fi

[[ -n "${DEVICE}" ]] || die "--device DIR is required (see --help)"
DEVICE=$(realpath -m "${DEVICE}")
[[ -f "${DEVICE}/secure-element" ]] || die "${DEVICE} is not a twinhsm device (no secure-element file)"
command -v p11-kit >/dev/null || die "p11-kit is not installed (Debian package p11-kit)"

if [[ -z "${MODULE}" ]]; then
  for m in "${P11KIT_MODULE_DIR}/libtwinhsm.so" "${REPO}/build/src/pkcs11/libtwinhsm.so"; do
    if [[ -f "$m" ]]; then MODULE=$m; break; fi
  done
  [[ -n "${MODULE}" ]] || die "libtwinhsm.so not found: give --module PATH"
fi
MODULE=$(realpath "${MODULE}")
if [[ -z "${CLI}" ]]; then
  CLI=$(command -v twinhsm || true)
  [[ -n "${CLI}" || ! -x "${REPO}/build/src/cli/twinhsm" ]] || CLI="${REPO}/build/src/cli/twinhsm"
fi

# The token to serve: its label, from the device itself unless given.
if [[ -z "${TOKEN}" ]]; then
  [[ -n "${CLI}" ]] || die "the twinhsm command is not found: give --token LABEL or --cli PATH"
  TOKEN=$("${CLI}" device info --device "${DEVICE}" --json |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"]["label"])') ||
    die "cannot read the token label of ${DEVICE}"
  [[ -n "${TOKEN}" ]] || die "the token of ${DEVICE} is not initialized: run 'twinhsm token init' first"
fi
# RFC 7512 percent-encoding of the label for the pkcs11: URI.
uri_token=$(printf '%s' "${TOKEN}" | /usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')
URI="pkcs11:token=${uri_token}"

# A TPM device's TPM, when a file (a device node or a socket) gives access to it.
TPM_TCTI="" TPM_PATH=""
if [[ $(head -n 1 "${DEVICE}/secure-element") == "twinhsm-tpm-secure-element v1" ]]; then
  TPM_TCTI=$(sed -n 's/^tcti=//p' "${DEVICE}/secure-element")
fi
case "${TPM_TCTI}" in
  "" | tabrmd*) ;;
  device:*) TPM_PATH=${TPM_TCTI#device:} ;;
  *path=*) TPM_PATH=${TPM_TCTI#*path=} && TPM_PATH=${TPM_PATH%%,*} ;;
  *) say "warning: the TPM (${TPM_TCTI}) is reached over TCP: every local user can talk to it" ;;
esac

if ((IS_ROOT)); then
  USER_NAME=${USER_NAME:-twinhsm}
  GROUP_NAME=${GROUP_NAME:-twinhsm-users}
  if ! getent passwd "${USER_NAME}" >/dev/null; then
    say "creating the system user ${USER_NAME}"
    useradd --system --user-group --home-dir /var/lib/twinhsm --no-create-home \
      --shell /usr/sbin/nologin --comment "twinhsm isolated mode" "${USER_NAME}" ||
      getent passwd "${USER_NAME}" >/dev/null || die "cannot create the user ${USER_NAME}"
  fi
  if ! getent group "${GROUP_NAME}" >/dev/null; then
    say "creating the group ${GROUP_NAME} (add the users whose applications may use the keys)"
    groupadd --system "${GROUP_NAME}" || getent group "${GROUP_NAME}" >/dev/null ||
      die "cannot create the group ${GROUP_NAME}"
  fi
  owner_group=$(id -gn "${USER_NAME}")
  chown -R "${USER_NAME}:${owner_group}" "${DEVICE}"
  chmod 0700 "${DEVICE}"
  AS_USER=(runuser -u "${USER_NAME}" -g "${GROUP_NAME}" --)
  if [[ -n "${TPM_PATH}" ]]; then
    [[ -e "${TPM_PATH}" ]] || die "the TPM of ${DEVICE} (${TPM_PATH}) does not exist"
    TPM_GROUP=$(stat -c %G "${TPM_PATH}")
    [[ "${TPM_GROUP}" != "${GROUP_NAME}" ]] ||
      die "the applications' group ${GROUP_NAME} owns the TPM ${TPM_PATH}: give another --group"
    if ! id -nG "${USER_NAME}" | tr ' ' '\n' | grep -qx "${TPM_GROUP}"; then
      say "adding ${USER_NAME} to the group ${TPM_GROUP}, which reaches the TPM (${TPM_PATH})"
      usermod -a -G "${TPM_GROUP}" "${USER_NAME}" || die "cannot add ${USER_NAME} to ${TPM_GROUP}"
    fi
    AS_USER=(runuser -u "${USER_NAME}" -g "${GROUP_NAME}" -G "${TPM_GROUP}" --)
    "${AS_USER[@]}" test -r "${TPM_PATH}" -a -w "${TPM_PATH}" ||
      die "the user ${USER_NAME} cannot reach the TPM ${TPM_PATH} (mode $(stat -c %a "${TPM_PATH}"))"
  fi
  "${AS_USER[@]}" test -r "${DEVICE}/secure-element" ||
    die "the user ${USER_NAME} cannot reach ${DEVICE}: its parent directories must be searchable (chmod o+x)"
  "${AS_USER[@]}" test -r "${MODULE}" || die "the user ${USER_NAME} cannot read ${MODULE}"
  mkdir -p "${RUN_DIR}"
  chown "${USER_NAME}:${GROUP_NAME}" "${RUN_DIR}"
  chmod 0750 "${RUN_DIR}"
else
  USER_NAME=$(id -un)
  [[ -O "${DEVICE}" ]] || die "${DEVICE} belongs to another user: run this as root or as its owner"
  if [[ -n "${TPM_PATH}" && ! ( -r "${TPM_PATH}" && -w "${TPM_PATH}" ) ]]; then
    die "you cannot reach the TPM ${TPM_PATH}: join its group ($(stat -c %G "${TPM_PATH}")) or run this as root"
  fi
  AS_USER=()
  mkdir -p "${RUN_DIR}"
  chmod 0750 "${RUN_DIR}"
  if [[ -n "${GROUP_NAME}" ]]; then chgrp "${GROUP_NAME}" "${RUN_DIR}"; fi
fi

if [[ -f "${PID_FILE}" ]] && kill -0 "$(cat "${PID_FILE}")" 2>/dev/null; then
  die "a server already runs for ${RUN_DIR} (pid $(cat "${PID_FILE}")): --stop it first"
fi
CONF="${RUN_DIR}/twinhsm.toml"
printf '# written by isolated-mode.sh\n[[slot]]\ndevice = "%s"\n' "${DEVICE}" >"${CONF}"
chmod 0644 "${CONF}"
rm -f "${SOCKET}"

# The server's environment: only what the module needs (plus TWINHSM_LOG*, when set, for debugging).
SERVER_ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TWINHSM_CONF="${CONF}")
[[ -n "${TWINHSM_LOG:-}" ]] && SERVER_ENV+=(TWINHSM_LOG="${TWINHSM_LOG}")
[[ -n "${TWINHSM_LOG_FILE:-}" ]] && SERVER_ENV+=(TWINHSM_LOG_FILE="${TWINHSM_LOG_FILE}")
SERVER=(p11-kit server --name "${SOCKET}" --provider "${MODULE}")

# p11-kit creates the socket for its owner only (umask 066); let the group in once it exists.
open_socket() {
  for _ in $(seq 100); do
    if [[ -S "${SOCKET}" ]]; then
      if [[ -n "${GROUP_NAME}" ]]; then chgrp "${GROUP_NAME}" "${SOCKET}"; fi
      chmod 0660 "${SOCKET}"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

say "serving token '${TOKEN}' of ${DEVICE} as ${USER_NAME}${GROUP_NAME:+ to the group ${GROUP_NAME}} on ${SOCKET}"
if ((FOREGROUND)); then
  echo "$$" >"${PID_FILE}"
  (open_socket || say "the socket ${SOCKET} did not appear") &
  exec "${AS_USER[@]}" "${SERVER_ENV[@]}" sh -c 'umask 077; exec "$@"' sh "${SERVER[@]}" --foreground "${URI}"
fi

out=$("${AS_USER[@]}" "${SERVER_ENV[@]}" sh -c 'umask 077; exec "$@"' sh "${SERVER[@]}" --sh "${URI}") ||
  die "p11-kit server failed to start"
pid=$(sed -n 's/^P11_KIT_SERVER_PID=\([0-9]*\);.*/\1/p' <<<"${out}")
[[ -n "${pid}" ]] || die "p11-kit server printed no pid: ${out}"
echo "${pid}" >"${PID_FILE}"
open_socket || die "the socket ${SOCKET} did not appear"
echo "${out}"
