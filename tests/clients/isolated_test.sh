#!/usr/bin/env bash
# The isolated mode end to end: scripts/isolated-mode.sh (run as root) gives a device to the
# system user `twinhsm` and serves it with `p11-kit server`; an application running as another
# unprivileged user (nobody) loads p11-kit's client module with P11_KIT_SERVER_ADDRESS, makes
# keys and signs (openssl verifies), but cannot read the device directory nor press its button,
# and a user outside the socket's group cannot even connect. Meanwhile the admin makes a backup
# (pressing the socket button), which `twinhsm backup verify` finds complete; the application
# signs on throughout.
#
# Usage: isolated_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
# shellcheck source=isolatedlib.sh
source "$(dirname "$(realpath "$0")")/isolatedlib.sh"
client_init "$@"
need p11-kit pkcs11-tool p11tool openssl runuser
isolated_init
OTHER_USER=daemon
client_device iso "${WORK}/device"
unset TWINHSM_CONF
mkdir -p "${WORK}/admin"
app_dir 5000

recipe "start the isolated mode"
start_isolated
assert_match "^unix:path=${WORK}/run/pkcs11.sock$" "${P11_KIT_SERVER_ADDRESS:-}" "the script prints P11_KIT_SERVER_ADDRESS"
assert_eq twinhsm "$(ps -o user= -p "${P11_KIT_SERVER_PID:-0}" | tr -d ' ')" "p11-kit server runs as the user twinhsm"
assert_eq "twinhsm 700" "$(stat -c '%U %a' "${DEV}")" "the device directory belongs to twinhsm, mode 0700"
assert_eq "twinhsm ${APP_GROUP} 660" "$(stat -c '%U %G %a' "${WORK}/run/pkcs11.sock")" \
  "the socket is open to the group ${APP_GROUP} only"

recipe "an application uses the keys"
as_app "${CLIENT_TOOL[@]}" --list-token-slots
assert_ok "the application lists the token through p11-kit-client.so"
assert_out_contains "token label        : iso" "the application sees the token"
as_app "${CLIENT_TOOL[@]}" --login --pin "${USER_PIN}" --keypairgen --key-type EC:prime256v1 --id 01 --label app-ec
assert_ok "the application generates an EC key pair"
as_app "${CLIENT_TOOL[@]}" --login --pin "${USER_PIN}" --keypairgen --key-type rsa:2048 --id 02 --label app-rsa
assert_ok "the application generates an RSA key pair"
as_app "${CLIENT_TOOL[@]}" --login --pin "${USER_PIN}" --list-objects --type privkey
assert_out_contains "label:      app-ec" "the application lists its EC key"
assert_out_contains "label:      app-rsa" "the application lists its RSA key"
# p11-kit 0.24's protocol forwards only the mechanisms it knows: ECDSA (over a digest the
# application makes) and SHA256-RSA-PKCS are among them, ECDSA-SHA256 is not.
as_app "${CLIENT_TOOL[@]}" --login --pin "${USER_PIN}" --sign --mechanism ECDSA --signature-format openssl \
  --id 01 -i "${APP}/data.sha256" -o "${APP}/ec.sig"
assert_ok "the application signs with ECDSA"
as_app "${CLIENT_TOOL[@]}" --login --pin "${USER_PIN}" --sign --mechanism SHA256-RSA-PKCS \
  --id 02 -i "${APP}/data" -o "${APP}/rsa.sig"
assert_ok "the application signs with SHA256-RSA-PKCS"
for k in 01:ec 02:rsa; do
  as_app env GNUTLS_PIN="${USER_PIN}" p11tool --provider "${P11KIT_CLIENT}" --login --export-pubkey "pkcs11:token=iso;id=%${k%%:*}" \
    --outfile "${APP}/${k#*:}.pub.pem"
  assert_ok "the application reads the ${k#*:} public key"
  cp "${APP}/${k#*:}.pub.pem" "${WORK}/${k#*:}.pub.pem" 2>/dev/null || true
done
run openssl pkeyutl -verify -pubin -inkey "${WORK}/ec.pub.pem" -in "${APP}/data.sha256" -sigfile "${APP}/ec.sig"
assert_out_contains "Signature Verified Successfully" "openssl verifies the application's ECDSA signature"
run openssl dgst -sha256 -verify "${WORK}/rsa.pub.pem" -signature "${APP}/rsa.sig" "${APP}/data"
assert_out_contains "Verified OK" "openssl verifies the application's RSA signature"

section "the application cannot reach the device"
run runuser -u "${APP_USER}" -- ls "${DEV}"
assert_fails "the application's user cannot list the device directory"
assert_err_contains "Permission denied" "ls says permission denied"
run runuser -u "${APP_USER}" -- cat "${DEV}/secure-element"
assert_fails "the application's user cannot read the secure element file"
run runuser -u "${APP_USER}" -- "${CLI}" button press --device "${DEV}"
assert_cli_error_matches "the application's user cannot press the button" "permission denied|owner"
run runuser -u "${APP_USER}" -- "${CLI}" device info --device "${DEV}"
assert_fails "the application's user cannot read the device's information"
write_conf "${APP}/direct.toml" "${DEV}"
chmod 0644 "${APP}/direct.toml"
run runuser -u "${APP_USER}" -- env TWINHSM_CONF="${APP}/direct.toml" pkcs11-tool --module "${MODULE}" \
  --login --pin "${USER_PIN}" --list-objects
assert_fails "loading libtwinhsm.so itself gives the application's user no access to the token"
run runuser -u "${OTHER_USER}" -- env P11_KIT_SERVER_ADDRESS="${P11_KIT_SERVER_ADDRESS}" \
  "${CLIENT_TOOL[@]}" --list-token-slots
assert_file_not_contains "${OUT}" "token label" "a user outside the group ${APP_GROUP} (${OTHER_USER}) does not reach the token"

recipe "a backup by the admin while the application signs"
# The application signs in a loop until the backup is done.
cat >"${APP}/sign-loop.sh" <<EOF
#!/bin/sh
while [ ! -e "${APP}/stop" ]; do
  if pkcs11-tool --module "${P11KIT_CLIENT}" --login --pin "${USER_PIN}" --sign --mechanism ECDSA \
    --id 01 -i "${APP}/data.sha256" -o "${APP}/loop.sig" >"${APP}/loop.out" 2>&1; then
    echo ok >>"${APP}/loop.log"
  else
    echo failed >>"${APP}/loop.log"
    sed 's/^/  /' "${APP}/loop.out" >>"${APP}/loop.log"
  fi
done
EOF
chmod 0755 "${APP}/sign-loop.sh"
background "${WORK}/sign-loop.out" runuser -u "${APP_USER}" -- \
  env P11_KIT_SERVER_ADDRESS="${P11_KIT_SERVER_ADDRESS}" "${APP}/sign-loop.sh"
LOOP=${BG_PID}
wait_for -s "${APP}/loop.log" 20 || fail "the application's signing loop did not start"
# The admin presses the button (socket backend) from a second command once the backup waits.
(
  for _ in $(seq 600); do
    if [[ -S "${DEV}/button.sock" ]] && "${CLI}" button press --device "${DEV}" >"${WORK}/press.out" 2>&1; then
      echo 0 >"${WORK}/press.rc"
      exit 0
    fi
    sleep 0.05
  done
) &
PRESSER=$!
BG_PIDS+=("${PRESSER}")
run "${CLI}" backup create --device "${DEV}" -o "${WORK}/admin/iso.twb"
assert_ok "twinhsm backup create (the admin)"
wait "${PRESSER}" 2>/dev/null || true
assert_eq 0 "$(cat "${WORK}/press.rc" 2>/dev/null || echo none)" "the admin's button press authorized the backup"
sleep 0.3
touch "${APP}/stop"
wait "${LOOP}" 2>/dev/null || true
assert_true "the application signed while the backup was made" grep -q '^ok' "${APP}/loop.log"
assert_eq 0 "$(grep -c '^failed' "${APP}/loop.log" || true)" "none of the application's signatures failed"
grep -A8 '^failed' "${APP}/loop.log" | head -40 || true

run "${CLI}" backup verify --device "${DEV}" "${WORK}/admin/iso.twb"
assert_ok "twinhsm backup verify"
assert_out_contains "is intact" "the backup is intact"
run "${CLI}" backup inspect --json "${WORK}/admin/iso.twb"
cp "${OUT}" "${WORK}/inspect.json"
run "${CLI}" device info --device "${DEV}" --json
cp "${OUT}" "${WORK}/info.json"
assert_eq "$(json "${WORK}/info.json" 'd["objects"]["public"]')" "$(json "${WORK}/inspect.json" 'd["public_objects"]')" \
  "the backup holds every public object"
assert_eq "$(json "${WORK}/info.json" 'd["objects"]["private"]')" "$(json "${WORK}/inspect.json" 'd["private_objects"]')" \
  "the backup holds every private object"
assert_eq 2 "$(json "${WORK}/inspect.json" 'd["private_objects"]')" "the application's two private keys are in the backup"

section "after the backup"
assert_eq "" "$(find "${DEV}" ! -user twinhsm)" "every file of the device still belongs to twinhsm"
as_app "${CLIENT_TOOL[@]}" --login --pin "${USER_PIN}" --sign --mechanism ECDSA --signature-format openssl \
  --id 01 -i "${APP}/data.sha256" -o "${APP}/after.sig"
assert_ok "the application still signs"
run openssl pkeyutl -verify -pubin -inkey "${WORK}/ec.pub.pem" -in "${APP}/data.sha256" -sigfile "${APP}/after.sig"
assert_out_contains "Signature Verified Successfully" "openssl verifies it"

section "the key-management attacks through p11-kit server"
# tests/pkcs11/attacks_test.cc against the served token, as the application's user: each attack
# fails there too (steps whose mechanism p11-kit's protocol does not carry are skipped).
if [[ -n ${TWINHSM_ATTACKS_TEST:-} ]]; then
  as_app env TWINHSM_ATTACK_MODULE="${P11KIT_CLIENT}" TWINHSM_ATTACK_PIN="${USER_PIN}" \
    TWINHSM_ATTACK_SO_PIN="${SO_PIN}" "${TWINHSM_ATTACKS_TEST}" --gtest_brief=1
  assert_ok "every attack of tests/pkcs11/attacks_test.cc fails through p11-kit server"
  sed -n '/PASSED\|FAILED\|SKIPPED\|Failure/p' "${OUT}" | head -30
else
  fail "TWINHSM_ATTACKS_TEST (the p11_attacks_test binary) is not set"
fi

recipe "stop"
run "${ISO}" --stop --run-dir "${WORK}/run"
assert_ok "isolated-mode.sh --stop"
assert_true "the server is gone" bash -c "! kill -0 ${P11_KIT_SERVER_PID} 2>/dev/null"
as_app "${CLIENT_TOOL[@]}" --list-token-slots
assert_file_not_contains "${OUT}" "token label" "without the server the application sees no token"

e2e_finish
