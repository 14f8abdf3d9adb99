#!/usr/bin/env bash
# OpenSSL through the libp11 engine (Debian libengine-pkcs11-openssl, engine id "pkcs11") with
# keys in twinhsm: a CSR and a self-signed certificate made by `openssl req`, a signature made by
# `openssl pkeyutl`, and a TLS 1.3 handshake between `openssl s_server` (the token's EC P-256
# key) and `openssl s_client`, which checks that the server's key is the token's.
# Everything runs twice: with the module loaded in-process (MODULE_PATH = libtwinhsm.so), then
# through `p11-kit server` and p11-kit's client module (what the isolated mode runs).
#
# Usage: openssl_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
client_init "$@"
need openssl pkcs11-tool p11-kit p11tool certtool

ENGINE_SO="/usr/lib/${MULTIARCH}/engines-3/pkcs11.so"
P11KIT_CLIENT="/usr/lib/${MULTIARCH}/pkcs11/p11-kit-client.so"
need_file "${ENGINE_SO}" "${P11KIT_CLIENT}"

client_device web
keypair 01 tls-key EC:prime256v1
keypair 02 rsa-key rsa:2048
export_pubkey 01 "${WORK}/tls-key.pub.pem"
export_pubkey 02 "${WORK}/rsa-key.pub.pem"
head -c 4096 /dev/urandom >"${WORK}/data"
openssl dgst -sha256 -binary "${WORK}/data" >"${WORK}/data.sha256"

# suite NAME MODULE_PATH: every check, with the engine loading MODULE_PATH.
suite() {
  local name="$1" module_path="$2"
  local D="${WORK}/${name}"
  mkdir -p "${D}"

  recipe "${name}: the engine's configuration"
  # The engine is configured in an OpenSSL configuration file; the PIN may also go in the URI
  # (pin-value=...) or be typed at the prompt.
  cat >"${D}/openssl.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
MODULE_PATH = ${module_path}
PIN = ${USER_PIN}
init = 0
[req]
distinguished_name = req_dn
[req_dn]
EOF
  export OPENSSL_CONF="${D}/openssl.cnf"
  local KEY="pkcs11:token=web;object=tls-key;type=private"
  local RSAKEY="pkcs11:token=web;object=rsa-key;type=private"

  recipe "${name}: a CSR and a self-signed certificate"
  run openssl req -new -engine pkcs11 -keyform engine -key "${KEY}" -subj "/CN=twinhsm csr" -out "${D}/csr.pem"
  assert_ok "${name}: openssl req -new makes a CSR with the token's key"
  run openssl req -in "${D}/csr.pem" -verify -noout
  assert_ok "${name}: the CSR's self-signature verifies"
  assert_err_contains "verify OK" "${name}: openssl says the CSR's signature is OK"
  openssl req -in "${D}/csr.pem" -pubkey -noout >"${D}/csr.pub.pem" 2>/dev/null || true
  assert_true "${name}: the CSR holds the token's public key" same_pubkey "${D}/csr.pub.pem" "${WORK}/tls-key.pub.pem"

  run openssl req -new -x509 -days 7 -engine pkcs11 -keyform engine -key "${KEY}" \
    -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1" -out "${D}/cert.pem"
  assert_ok "${name}: openssl req -x509 makes a self-signed certificate with the token's key"
  run openssl verify -CAfile "${D}/cert.pem" "${D}/cert.pem"
  assert_ok "${name}: openssl verify accepts the self-signed certificate"
  openssl x509 -in "${D}/cert.pem" -pubkey -noout >"${D}/cert.pub.pem" 2>/dev/null || true
  assert_true "${name}: the certificate holds the token's public key" same_pubkey "${D}/cert.pub.pem" "${WORK}/tls-key.pub.pem"
  # Its signature, checked with the public key that pkcs11-tool exported.
  if cert_parts "${D}/cert.pem" "${D}/cert"; then
    run openssl dgst -sha256 -verify "${WORK}/tls-key.pub.pem" -signature "${D}/cert.sig" "${D}/cert.tbs"
    assert_ok "${name}: the certificate's signature verifies with the exported public key"
  else
    fail "${name}: no certificate to check"
  fi

  recipe "${name}: openssl pkeyutl signs"
  rm -f "${D}/data.sig"
  run openssl pkeyutl -engine pkcs11 -keyform engine -sign -inkey "${KEY}" \
    -in "${WORK}/data.sha256" -out "${D}/data.sig"
  assert_ok "${name}: openssl pkeyutl -sign with the token's EC key"
  run openssl pkeyutl -verify -pubin -inkey "${WORK}/tls-key.pub.pem" -in "${WORK}/data.sha256" -sigfile "${D}/data.sig"
  assert_out_contains "Signature Verified Successfully" "${name}: the pkeyutl ECDSA signature verifies with the exported public key"
  run openssl pkeyutl -engine pkcs11 -keyform engine -sign -inkey "${RSAKEY}" -pkeyopt digest:sha256 \
    -in "${WORK}/data.sha256" -out "${D}/data.rsa.sig"
  assert_ok "${name}: openssl pkeyutl -sign with the token's RSA key"
  run openssl dgst -sha256 -verify "${WORK}/rsa-key.pub.pem" -signature "${D}/data.rsa.sig" "${WORK}/data"
  assert_out_contains "Verified OK" "${name}: the RSA signature (PKCS#1 v1.5, SHA-256) verifies"

  recipe "${name}: TLS 1.3 with openssl s_server"
  # The server's certificate: the one openssl req made, else (so that the handshake is checked
  # on its own) one that certtool makes for the same key.
  local cert="${D}/cert.pem"
  if [[ ! -s "${cert}" ]]; then
    cert="${D}/certtool-cert.pem"
    printf 'cn = "localhost"\nip_address = "127.0.0.1"\nserial = 9\nexpiration_days = 7\nsigning_key\n' >"${D}/cert.tmpl"
    GNUTLS_PIN="${USER_PIN}" certtool --provider "${module_path}" --generate-self-signed \
      --load-privkey "${KEY}" --template "${D}/cert.tmpl" --outfile "${cert}" >/dev/null 2>&1 ||
      fail "${name}: certtool cannot make the server's certificate either"
  fi
  local port
  port="$(free_port)"
  background "${D}/s_server.log" env TWINHSM_LOG=debug TWINHSM_LOG_FILE="${D}/module.log" \
    openssl s_server -engine pkcs11 -keyform engine -key "${KEY}" -cert "${cert}" \
    -accept "127.0.0.1:${port}" -tls1_3 -naccept 1 -www
  local server=${BG_PID} i
  for i in $(seq 100); do
    grep -q '^ACCEPT' "${D}/s_server.log" 2>/dev/null && break
    kill -0 "${server}" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q '^ACCEPT' "${D}/s_server.log"; then pass; else
    fail "${name}: openssl s_server did not start"
    sed 's/^/    /' "${D}/s_server.log" | head -20 >&2
  fi
  run openssl s_client -connect "127.0.0.1:${port}" -tls1_3 -CAfile "${cert}" \
    -verify_return_error -verify_ip 127.0.0.1
  assert_ok "${name}: openssl s_client completes the handshake"
  assert_out_contains "New, TLSv1.3, Cipher is" "${name}: the handshake is TLS 1.3"
  assert_out_contains "Verify return code: 0 (ok)" "${name}: s_client verifies the server's certificate"
  assert_out_contains "Peer signature type: ECDSA" "${name}: the server signed the handshake with ECDSA"
  openssl x509 -in "${OUT}" -pubkey -noout >"${D}/peer.pub.pem" 2>/dev/null || true
  assert_true "${name}: the server's public key is the token's" same_pubkey "${D}/peer.pub.pem" "${WORK}/tls-key.pub.pem"
  for _ in $(seq 50); do kill -0 "${server}" 2>/dev/null || break; sleep 0.1; done
  if [[ "${name}" == in-process ]]; then
    # The handshake signature was made by the module (CertificateVerify: one C_Sign).
    assert_file_contains "${D}/module.log" "C_Sign(" "${name}: s_server signed through the module"
  fi
  unset OPENSSL_CONF
}

section "in-process: the engine loads libtwinhsm.so"
suite in-process "${MODULE}"

section "through p11-kit server: the engine loads p11-kit-client.so"
background "${WORK}/p11-kit-server.log" p11-kit server --foreground --name "${WORK}/p11kit.sock" \
  --provider "${MODULE}" "pkcs11:token=web"
if wait_for -S "${WORK}/p11kit.sock" 10; then pass; else
  fail "p11-kit server did not create its socket"
  cat "${WORK}/p11-kit-server.log" >&2
fi
export P11_KIT_SERVER_ADDRESS="unix:path=${WORK}/p11kit.sock"
suite p11-kit-server "${P11KIT_CLIENT}"
unset P11_KIT_SERVER_ADDRESS

e2e_finish
