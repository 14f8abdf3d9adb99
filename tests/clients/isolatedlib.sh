# shellcheck shell=bash
# What the isolated-mode tests share (isolated_test.sh, isolated_tpm_test.sh), on top of
# clientlib.sh: the application's user and directory, and scripts/isolated-mode.sh started with
# the EXIT trap stopping it.
#
#   isolated_init               # needs root; P11KIT_CLIENT, APP_USER, APP_GROUP; WORK passable
#   app_dir 5000                # APP, the application's directory: data and data.sha256
#   start_isolated              # the server on DEV; P11_KIT_SERVER_ADDRESS/_PID, CLIENT_TOOL
#   as_app CMD...               # CMD as the application's user, with the server's address

isolated_init() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "SKIP: the isolated mode test needs root (it runs the module and the application as other users)"
    e2e_finish
  fi
  P11KIT_CLIENT="/usr/lib/${MULTIARCH}/pkcs11/p11-kit-client.so"
  need_file "${P11KIT_CLIENT}"
  APP_USER=nobody
  APP_GROUP="$(id -gn "${APP_USER}")"
  # The other users must be able to pass through the work directory (not list it).
  chmod 0711 "${WORK}"
}

# app_dir BYTES: APP (owned by the application's user) with BYTES random bytes in data and their
# SHA-256 in data.sha256, both readable by everyone.
app_dir() {
  APP="${WORK}/app"
  mkdir -p "${APP}"
  chown "${APP_USER}:${APP_GROUP}" "${APP}"
  head -c "$1" /dev/urandom >"${APP}/data"
  openssl dgst -sha256 -binary "${APP}/data" >"${APP}/data.sha256"
  chmod 0644 "${APP}/data" "${APP}/data.sha256"
}

# start_isolated: scripts/isolated-mode.sh serves DEV to the group APP_GROUP (run directory
# WORK/run); sets what it prints (P11_KIT_SERVER_ADDRESS, P11_KIT_SERVER_PID) and CLIENT_TOOL.
start_isolated() {
  ISO="${REPO}/scripts/isolated-mode.sh"
  run "${ISO}" --device "${DEV}" --module "${MODULE}" --cli "${CLI}" --group "${APP_GROUP}" --run-dir "${WORK}/run"
  assert_ok "isolated-mode.sh starts the server"
  cat "${ERR}"
  eval "$(cat "${OUT}")"
  at_exit "'${ISO}' --stop --run-dir '${WORK}/run'"
  # shellcheck disable=SC2034 # used by the tests that source this
  CLIENT_TOOL=(pkcs11-tool --module "${P11KIT_CLIENT}")
}

as_app() { run runuser -u "${APP_USER}" -- env P11_KIT_SERVER_ADDRESS="${P11_KIT_SERVER_ADDRESS}" "$@"; }
