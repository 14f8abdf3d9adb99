#!/usr/bin/env bash
# The isolated mode with a TPM device: the TPM (swtpm here) is reached through a socket that
# only the group tss may open, as Debian's /dev/tpmrm0 is. scripts/isolated-mode.sh adds the
# server's user to that group and serves the device; the application (nobody) signs through
# p11-kit's client module but cannot talk to the TPM itself, nor read the device directory. The
# admin's twinhsm, as root, uses the same TPM meanwhile.
#
# Usage: isolated_tpm_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
# shellcheck source=isolatedlib.sh
source "$(dirname "$(realpath "$0")")/isolatedlib.sh"
client_init "$@"
need p11-kit pkcs11-tool openssl runuser swtpm tpm2_getrandom setpriv
isolated_init
getent group tss >/dev/null || { fail "the group tss is missing (Debian tpm-udev makes it)"; exit 1; }

section "a TPM that only the group tss reaches"
TPM_DIR="${WORK}/tpm"
mkdir -m 0711 "${TPM_DIR}"
SOCK="${TPM_DIR}/tpm.sock"
TSS_GID=$(getent group tss | cut -d: -f3)
background "${TPM_DIR}/swtpm.log" setpriv --pdeathsig KILL swtpm socket --tpm2 --tpmstate dir="${TPM_DIR}" \
  --flags not-need-init,startup-clear \
  --server "type=unixio,path=${SOCK},mode=0660,gid=${TSS_GID}" \
  --ctrl "type=unixio,path=${SOCK}.ctrl,mode=0660,gid=${TSS_GID}"
wait_for -S "${SOCK}" 20 || { fail "swtpm did not start"; exit 1; }
TCTI="swtpm:path=${SOCK}"

must "${CLI}" factory new-master-key -o "${WORK}/master.key"
DEV="${WORK}/device"
must "${CLI}" factory personalize --device "${DEV}" --master-key "${WORK}/master.key" --diversifier iso-tpm \
  --pbkdf2-iterations 1000 --secure-element "tpm:${TCTI}"
must "${CLI}" token init --device "${DEV}" --label iso-tpm --so-pin "${SO_PIN}" --pin "${USER_PIN}"
unset TWINHSM_CONF
app_dir 3000

recipe "start the isolated mode on a TPM device"
start_isolated
assert_true "the server's user twinhsm is in the group tss" bash -c "id -nG twinhsm | tr ' ' '\n' | grep -qx tss"
assert_true "the server runs with the group tss" \
  bash -c "grep '^Groups:' /proc/${P11_KIT_SERVER_PID}/status | tr ' \t' '\n\n' | grep -qx ${TSS_GID}"

recipe "the application makes a key and signs"
as_app "${CLIENT_TOOL[@]}" --login --pin "${USER_PIN}" --keypairgen --key-type EC:prime256v1 --id 01 --label app-ec
assert_ok "the application generates an EC key pair (the TPM judged its PIN)"
as_app "${CLIENT_TOOL[@]}" --login --pin "${USER_PIN}" --sign --mechanism ECDSA --signature-format openssl \
  --id 01 -i "${APP}/data.sha256" -o "${APP}/ec.sig"
assert_ok "the application signs"
as_app "${CLIENT_TOOL[@]}" --read-object --type pubkey --id 01 -o "${APP}/ec.pub.der"
assert_ok "the application reads the public key"
run openssl pkeyutl -verify -pubin -keyform DER -inkey "${APP}/ec.pub.der" -in "${APP}/data.sha256" \
  -sigfile "${APP}/ec.sig"
assert_out_contains "Signature Verified Successfully" "openssl verifies the signature"

section "the application cannot reach the TPM or the device"
run runuser -u "${APP_USER}" -- env TPM2TOOLS_TCTI="${TCTI}" tpm2_getrandom 4
assert_fails "the application's user cannot talk to the TPM"
run runuser -u "${APP_USER}" -- cat "${DEV}/secure-element"
assert_fails "the application's user cannot read the secure element file"
write_conf "${APP}/direct.toml" "${DEV}"
chmod 0644 "${APP}/direct.toml"
run runuser -u "${APP_USER}" -- env TWINHSM_CONF="${APP}/direct.toml" pkcs11-tool --module "${MODULE}" \
  --login --pin "${USER_PIN}" --list-objects
assert_fails "loading libtwinhsm.so itself gives the application's user no access to the token"

section "the admin uses the same TPM meanwhile"
run "${CLI}" device info --device "${DEV}" --json
assert_ok "twinhsm device info (root)"
assert_out_contains '"backend": "tpm"' "the device is a TPM device"
as_app "${CLIENT_TOOL[@]}" --login --pin "${USER_PIN}" --list-objects --type privkey
assert_out_contains "label:      app-ec" "the application still sees its key"

e2e_finish
