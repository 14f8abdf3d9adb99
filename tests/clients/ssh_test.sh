#!/usr/bin/env bash
# OpenSSH with keys in twinhsm: `ssh-keygen -D` prints the token's public keys, `ssh-agent` with
# `ssh-add -s` holds them and signs, and a real sshd (openssh-server, started here on 127.0.0.1
# with its own host key, configuration and authorized_keys in the work directory) accepts logins
# by the token's EC key (`ssh -I libtwinhsm.so`) and RSA key (through the agent). The PIN comes
# from an SSH_ASKPASS program.
#
# Usage: ssh_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
client_init "$@"
need ssh ssh-keygen ssh-agent ssh-add pkcs11-tool p11tool openssl

client_device ssh
keypair 01 ssh-ec EC:prime256v1
keypair 02 ssh-rsa rsa:2048
export_pubkey 01 "${WORK}/ssh-ec.pub.pem"
export_pubkey 02 "${WORK}/ssh-rsa.pub.pem"
# The same keys in OpenSSH's format, converted here from what pkcs11-tool exported.
ssh_blob() { ssh-keygen -i -m PKCS8 -f "$1" | cut -d' ' -f1,2; }
EC_SSH="$(ssh_blob "${WORK}/ssh-ec.pub.pem")"
RSA_SSH="$(ssh_blob "${WORK}/ssh-rsa.pub.pem")"
ssh_fp() { ssh-keygen -lf <(echo "$1") | cut -d' ' -f2; }
EC_FP="$(ssh_fp "${EC_SSH}")"
RSA_FP="$(ssh_fp "${RSA_SSH}")"

recipe "ssh-keygen -D prints the token's public keys"
run ssh-keygen -D "${MODULE}"
assert_ok "ssh-keygen -D"
cp "${OUT}" "${WORK}/token-keys.pub"
assert_out_contains "${EC_SSH} ssh-ec" "ssh-keygen -D prints the EC P-256 key, labelled"
assert_out_contains "${RSA_SSH} ssh-rsa" "ssh-keygen -D prints the RSA key, labelled"
assert_match "^ecdsa-sha2-nistp256 " "$(head -n1 "${OUT}")" "the EC key is an ecdsa-sha2-nistp256 key"

recipe "the PIN from an askpass program"
# ssh and ssh-add ask for the PIN through SSH_ASKPASS (this one logs each prompt it answers).
cat >"${WORK}/askpass" <<EOF
#!/bin/sh
echo "\$1" >>"${WORK}/askpass.log"
echo "${USER_PIN}"
EOF
chmod 0700 "${WORK}/askpass"
export SSH_ASKPASS="${WORK}/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0
unset SSH_AUTH_SOCK SSH_AGENT_PID

recipe "ssh-agent holds the token's keys"
# ssh-agent loads only modules that -P allows (by default /usr/lib*/* and /usr/local/lib*/*).
background "${WORK}/agent.log" ssh-agent -D -a "${WORK}/agent.sock" -P "${MODULE}"
wait_for -S "${WORK}/agent.sock" 10 || { fail "ssh-agent did not start"; cat "${WORK}/agent.log" >&2; }
export SSH_AUTH_SOCK="${WORK}/agent.sock"
: >"${WORK}/askpass.log"
run ssh-add -s "${MODULE}"
assert_ok "ssh-add -s libtwinhsm.so"
assert_err_contains "Card added: ${MODULE}" "ssh-add says the token was added"
assert_file_contains "${WORK}/askpass.log" "Enter passphrase for PKCS#11" "ssh-add asked for the PIN through SSH_ASKPASS"
run ssh-add -L
assert_ok "ssh-add -L"
assert_out_contains "${EC_SSH}" "the agent holds the token's EC key"
assert_out_contains "${RSA_SSH}" "the agent holds the token's RSA key"
# The agent signs (ssh-keygen -Y sign finds the private key in the agent) and the signature
# verifies against the token's public key.
echo "signed through ssh-agent by twinhsm" >"${WORK}/message"
echo "${EC_SSH}" >"${WORK}/ec-key.pub"
run ssh-keygen -Y sign -n file -f "${WORK}/ec-key.pub" "${WORK}/message"
assert_ok "ssh-keygen -Y sign through the agent"
echo "tester ${EC_SSH}" >"${WORK}/allowed_signers"
run sh -c "ssh-keygen -Y verify -f '${WORK}/allowed_signers' -I tester -n file -s '${WORK}/message.sig' <'${WORK}/message'"
assert_out_contains 'Good "file" signature for tester with ECDSA key' "the agent's signature verifies"

section "sshd accepts logins by the token's keys"
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: sshd must run as root to accept a login (this test runs as $(id -un))"
  e2e_finish
fi
[[ -x /usr/sbin/sshd ]] || { fail "/usr/sbin/sshd is missing (Debian openssh-server; run scripts/setup.sh)"; e2e_finish; }
recipe "a test sshd"
S="${WORK}/sshd"
start_sshd "${S}"
PORT="${SSHD_PORT}"
echo "${EC_SSH} ssh-ec" >"${S}/authorized_keys"
SSH=(ssh -F none -o UserKnownHostsFile="${S}/known_hosts" -o StrictHostKeyChecking=yes
  -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -p "${PORT}")

recipe "ssh -I libtwinhsm.so"
: >"${WORK}/askpass.log"
run env -u SSH_AUTH_SOCK "${SSH[@]}" -I "${MODULE}" root@127.0.0.1 echo ok
assert_ok "ssh -I libtwinhsm.so logs in"
assert_eq "ok" "$(cat "${OUT}")" "the remote command's output came back"
assert_file_contains "${WORK}/askpass.log" "PIN" "ssh asked for the PIN through SSH_ASKPASS"
sleep 0.2
assert_file_contains "${S}/sshd.log" "Accepted publickey for root from 127.0.0.1" "sshd logged a publickey login"
assert_file_contains "${S}/sshd.log" "ssh2: ECDSA ${EC_FP}" "sshd accepted the token's EC key"

recipe "ssh through the agent"
echo "${RSA_SSH} ssh-rsa" >"${S}/authorized_keys"
run "${SSH[@]}" root@127.0.0.1 echo ok-through-agent
assert_ok "ssh logs in with the agent's key"
assert_eq "ok-through-agent" "$(cat "${OUT}")" "the remote command's output came back"
sleep 0.2
assert_file_contains "${S}/sshd.log" "ssh2: RSA ${RSA_FP}" "sshd accepted the token's RSA key (signed through the agent)"
run ssh-add -e "${MODULE}"
assert_ok "ssh-add -e removes the token's keys"
run "${SSH[@]}" -o BatchMode=yes root@127.0.0.1 echo should-not-run
assert_fails "without the token's keys the login is refused"

e2e_finish
