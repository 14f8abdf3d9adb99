#!/usr/bin/env bash
# Remote use over ssh: an application host that has nothing but an ssh key for the HSM host uses
# the HSM host's twinhsm token through p11-kit's RPC, in the two ways docs/clients.md gives:
#   1. a p11-kit module configuration `remote: |ssh ...` on the application host: p11-kit starts
#      `p11-kit remote libtwinhsm.so` on the HSM host through ssh (here the key may run only that
#      command: authorized_keys' command= and restrict);
#   2. `p11-kit server` on the HSM host, its socket forwarded by `ssh -N -L` (a key that may only
#      forward), and p11-kit's client module on the application host.
# The HSM host is root on this machine with an sshd on 127.0.0.1 started here; the application
# host is the user nobody, whose home (in the work directory) holds its ssh keys and module
# configuration and who cannot read the device. Each way signs on the HSM side (ECDSA over a
# SHA-256 digest; SHA256-RSA-PKCS) and openssl verifies with the public keys exported on the HSM
# side. The test also pins what p11-kit 0.24's RPC does not carry (docs/clients.md lists it):
# ECDSA-SHA256, AES-CBC-PAD, AES key wrap and ECDH, which the module itself does, fail with
# CKR_MECHANISM_INVALID through it.
#
# Usage: remote_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
client_init "$@"
need ssh ssh-keygen p11-kit pkcs11-tool p11tool openssl runuser

if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: the remote test needs root (sshd, and the application as another user)"
  e2e_finish
fi
[[ -x /usr/sbin/sshd ]] || { fail "/usr/sbin/sshd is missing (Debian openssh-server)"; exit 1; }
PROXY="/usr/lib/${MULTIARCH}/p11-kit-proxy.so"
P11KIT_CLIENT="/usr/lib/${MULTIARCH}/pkcs11/p11-kit-client.so"
need_file "${PROXY}" "${P11KIT_CLIENT}"
APP_USER=nobody
APP_GROUP="$(id -gn "${APP_USER}")"

section "the HSM host: a device, its keys, an sshd"
chmod 0711 "${WORK}"  # the application's home is below it; the device is not readable
client_device hsm "${WORK}/device"
keypair 01 remote-ec EC:prime256v1
keypair 02 remote-rsa rsa:2048
must pkcs11-tool --module "${MODULE}" --login --pin "${USER_PIN}" --keygen --key-type AES:32 \
  --id 03 --label remote-aes
must pkcs11-tool --module "${MODULE}" --login --pin "${USER_PIN}" --keygen --key-type AES:16 \
  --id 04 --label remote-wrappable --extractable
# (a key that wraps keys does not also encrypt data: the device's strict key policy)
must pkcs11-tool --module "${MODULE}" --login --pin "${USER_PIN}" --keygen --key-type AES:32 \
  --id 05 --label remote-wrapper --usage-wrap
export_pubkey 01 "${WORK}/remote-ec.pub.pem"
export_pubkey 02 "${WORK}/remote-rsa.pub.pem"
S="${WORK}/sshd"
start_sshd "${S}"

section "the application host: ssh keys and nothing else"
APP="${WORK}/app-host"
mkdir -p "${APP}/.config/pkcs11/modules"
ssh-keygen -q -t ed25519 -N '' -C app@remote -f "${APP}/remote_id"
ssh-keygen -q -t ed25519 -N '' -C app@forward -f "${APP}/forward_id"
cp "${S}/known_hosts" "${APP}/known_hosts"
head -c 3000 /dev/urandom >"${APP}/data"
openssl dgst -sha256 -binary "${APP}/data" >"${APP}/data.sha256"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${WORK}/peer.key" 2>/dev/null
openssl pkey -in "${WORK}/peer.key" -pubout -outform DER -out "${APP}/peer.der"
SSH_OPTS=(-F none -T -o "UserKnownHostsFile=${APP}/known_hosts" -o StrictHostKeyChecking=yes
  -o BatchMode=yes -p "${SSHD_PORT}")

recipe "the HSM host lets each key do one thing"
{
  printf 'command="TWINHSM_CONF=%s exec p11-kit remote %s",restrict %s\n' "${TWINHSM_CONF}" \
    "${MODULE}" "$(cut -d' ' -f1,2 "${APP}/remote_id.pub")"
  printf 'command="/bin/false",restrict,port-forwarding %s\n' \
    "$(cut -d' ' -f1,2 "${APP}/forward_id.pub")"
} >"${S}/authorized_keys"

recipe "a p11-kit module that is a remote token"
cat >"${APP}/.config/pkcs11/modules/hsm.module" <<EOF
remote: |ssh ${SSH_OPTS[*]} -i ${APP}/remote_id root@127.0.0.1
EOF
chown -R "${APP_USER}:${APP_GROUP}" "${APP}"
chmod 0700 "${APP}"

# as_app CMD...: CMD as the application host's user, in its home, with no other environment.
as_app() { run runuser -u "${APP_USER}" -- env -i PATH=/usr/bin:/bin HOME="${APP}" "$@"; }
as_app ls "${DEV}"
assert_fails "the application host cannot read the device"
as_app p11-kit list-modules
assert_ok "p11-kit list-modules"
assert_out_contains "token: hsm" "p11-kit lists the remote twinhsm token"
REMOTE=(pkcs11-tool --module "${PROXY}" --token-label hsm)

section "1. signing through p11-kit remote over ssh"
as_app "${REMOTE[@]}" --login --pin "${USER_PIN}" --sign --mechanism ECDSA \
  --signature-format openssl --id 01 -i "${APP}/data.sha256" -o "${APP}/remote-ec.sig"
assert_ok "ECDSA over a SHA-256 digest, signed on the HSM host"
# verify PUB.pem SIG: openssl checks SIG, a signature of the application's data.
verify() { run openssl dgst -sha256 -verify "${WORK}/$1" -signature "${APP}/$2" "${APP}/data"; }
verify remote-ec.pub.pem remote-ec.sig
assert_out_contains "Verified OK" "openssl verifies the remote ECDSA signature"
as_app "${REMOTE[@]}" --login --pin "${USER_PIN}" --sign --mechanism SHA256-RSA-PKCS --id 02 \
  -i "${APP}/data" -o "${APP}/remote-rsa.sig"
assert_ok "SHA256-RSA-PKCS, signed on the HSM host"
verify remote-rsa.pub.pem remote-rsa.sig
assert_out_contains "Verified OK" "openssl verifies the remote RSA signature"
sleep 0.2
assert_file_contains "${S}/sshd.log" "Accepted publickey for root from 127.0.0.1" \
  "the application came in through sshd"

section "what p11-kit 0.24's RPC does not carry"
as_app "${REMOTE[@]}" --list-mechanisms
assert_ok "the remote token's mechanisms"
assert_out_contains "  ECDSA, " "ECDSA goes through"
assert_out_contains "  SHA256-RSA-PKCS, " "SHA256-RSA-PKCS goes through"
for m in ECDSA-SHA256 AES-CBC-PAD AES-KEY-WRAP ECDH1-DERIVE AES-GCM EDDSA; do
  assert_file_not_contains "${OUT}" "  ${m}, " "${m} is not in the list through p11-kit"
done
# expect_not_carried DESCRIPTION ARGS...: pkcs11-tool ARGS works on the module itself and fails
# with CKR_MECHANISM_INVALID through the remote token.
expect_not_carried() {
  local what="$1"
  shift
  must pkcs11-tool --module "${MODULE}" --login --pin "${USER_PIN}" "$@" -o "${WORK}/direct.out"
  as_app "${REMOTE[@]}" --login --pin "${USER_PIN}" "$@" -o "${APP}/remote.out"
  assert_fails "${what} through p11-kit"
  assert_err_contains "CKR_MECHANISM_INVALID" "${what}: the RPC refuses the mechanism"
}
expect_not_carried "ECDSA-SHA256" --sign --mechanism ECDSA-SHA256 --id 01 -i "${APP}/data"
expect_not_carried "AES-CBC-PAD" --encrypt --mechanism AES-CBC-PAD \
  --iv 000102030405060708090a0b0c0d0e0f --id 03 -i "${APP}/data"
expect_not_carried "AES key wrap" --wrap --mechanism AES-KEY-WRAP --id 05 --application-id 04
expect_not_carried "ECDH" --derive --mechanism ECDH1-DERIVE --id 01 --input-file "${APP}/peer.der"

section "2. signing through p11-kit server, its socket forwarded by ssh"
recipe "p11-kit server on the HSM host"
mkdir -p "${WORK}/run"
background "${WORK}/server.log" p11-kit server -f --name "${WORK}/run/pkcs11.sock" \
  --provider "${MODULE}" "pkcs11:token=hsm"
wait_for -S "${WORK}/run/pkcs11.sock" 10 ||
  { fail "p11-kit server did not start"; cat "${WORK}/server.log" >&2; }
recipe "the application host forwards the socket"
background "${WORK}/forward.log" runuser -u "${APP_USER}" -- \
  env -i PATH=/usr/bin:/bin HOME="${APP}" ssh "${SSH_OPTS[@]}" -i "${APP}/forward_id" -N \
  -o ExitOnForwardFailure=yes -L "${APP}/hsm.sock:${WORK}/run/pkcs11.sock" root@127.0.0.1
wait_for -S "${APP}/hsm.sock" 10 ||
  { fail "ssh did not forward the socket"; cat "${WORK}/forward.log" >&2; }
as_app P11_KIT_SERVER_ADDRESS="unix:path=${APP}/hsm.sock" pkcs11-tool --module "${P11KIT_CLIENT}" \
  --login --pin "${USER_PIN}" --sign --mechanism ECDSA --signature-format openssl --id 01 \
  -i "${APP}/data.sha256" -o "${APP}/forwarded-ec.sig"
assert_ok "ECDSA through the forwarded socket"
verify remote-ec.pub.pem forwarded-ec.sig
assert_out_contains "Verified OK" "openssl verifies the signature made through the forwarded socket"
run runuser -u "${APP_USER}" -- env -i PATH=/usr/bin:/bin HOME="${APP}" \
  ssh "${SSH_OPTS[@]}" -i "${APP}/forward_id" root@127.0.0.1 id
assert_fails "the forwarding key runs no command"

e2e_finish
