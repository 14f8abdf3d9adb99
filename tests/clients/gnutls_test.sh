#!/usr/bin/env bash
# GnuTLS with keys in twinhsm: `p11tool --provider libtwinhsm.so` lists the token and its
# objects, generates EC and RSA keys and exports their public keys; `certtool` makes a
# self-signed CA certificate with the token's EC key and signs a certificate for the token's RSA
# key with it; openssl verifies both signatures with the public keys p11tool exported.
#
# Usage: gnutls_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
client_init "$@"
need p11tool certtool openssl

client_device gnutls

recipe "p11tool lists tokens and objects"
# GnuTLS tools read the user PIN from GNUTLS_PIN when they are not run on a terminal.
export GNUTLS_PIN="${USER_PIN}"
P11TOOL=(p11tool --provider "${MODULE}")
run "${P11TOOL[@]}" --list-tokens
assert_ok "p11tool --list-tokens"
assert_out_contains "Label: gnutls" "the token's label"
assert_out_contains "Model: twinhsm" "the token's model"
assert_out_contains "token=gnutls" "the token's pkcs11: URI"

recipe "p11tool generates keys"
run "${P11TOOL[@]}" --login --generate-privkey ecdsa --curve secp256r1 --label ca-key \
  --outfile "${WORK}/ca-key.generated.pem" "pkcs11:token=gnutls"
assert_ok "p11tool --generate-privkey ecdsa (P-256)"
run "${P11TOOL[@]}" --login --generate-privkey rsa --bits 2048 --label server-key \
  --outfile "${WORK}/server-key.generated.pem" "pkcs11:token=gnutls"
assert_ok "p11tool --generate-privkey rsa (2048)"

run "${P11TOOL[@]}" --login --list-privkeys "pkcs11:token=gnutls"
assert_ok "p11tool --list-privkeys"
assert_out_contains "object=ca-key;type=private" "the EC private key is listed with its URI"
assert_out_contains "object=server-key;type=private" "the RSA private key is listed with its URI"
assert_out_contains "Private key (EC/ECDSA-SECP256R1)" "the EC key's type"
assert_out_contains "Private key (RSA-2048)" "the RSA key's type"
assert_out_contains "CKA_SENSITIVE" "the private keys are sensitive"
run "${P11TOOL[@]}" --list-all "pkcs11:token=gnutls;object=ca-key"
assert_ok "p11tool --list-all with an object URI, without a login"
assert_eq 1 "$(grep -c '^Object ' "${OUT}")" "the URI selects one object (the public key) without a login"
assert_out_contains "Public key (EC/ECDSA-SECP256R1)" "the selected object is the EC public key"

recipe "p11tool exports public keys"
for k in ca-key server-key; do
  run "${P11TOOL[@]}" --export-pubkey "pkcs11:token=gnutls;object=${k}" --outfile "${WORK}/${k}.pub.pem"
  assert_ok "p11tool --export-pubkey ${k}"
  assert_true "the exported ${k} is the one --generate-privkey printed" \
    same_pubkey "${WORK}/${k}.pub.pem" "${WORK}/${k}.generated.pem"
done

recipe "certtool signs certificates"
cat >"${WORK}/ca.tmpl" <<'EOF'
cn = "twinhsm test CA"
serial = 1
expiration_days = 30
ca
cert_signing_key
EOF
run certtool --provider "${MODULE}" --generate-self-signed \
  --load-privkey "pkcs11:token=gnutls;object=ca-key;type=private" \
  --template "${WORK}/ca.tmpl" --outfile "${WORK}/ca.pem"
assert_ok "certtool --generate-self-signed with the token's EC key"
cat >"${WORK}/server.tmpl" <<'EOF'
cn = "server.example"
dns_name = "server.example"
serial = 2
expiration_days = 30
tls_www_server
signing_key
EOF
run certtool --provider "${MODULE}" --generate-certificate \
  --load-privkey "pkcs11:token=gnutls;object=server-key;type=private" \
  --load-ca-privkey "pkcs11:token=gnutls;object=ca-key;type=private" \
  --load-ca-certificate "${WORK}/ca.pem" \
  --template "${WORK}/server.tmpl" --outfile "${WORK}/server.pem"
assert_ok "certtool --generate-certificate: the token's CA key signs for the token's RSA key"

section "openssl checks the certificates"
run openssl x509 -in "${WORK}/ca.pem" -noout -text
assert_out_contains "Signature Algorithm: ecdsa-with-SHA256" "the CA certificate is signed with ECDSA-SHA256"
openssl x509 -in "${WORK}/ca.pem" -pubkey -noout >"${WORK}/ca.cert.pub.pem" 2>/dev/null || true
assert_true "the CA certificate holds the token's EC key" same_pubkey "${WORK}/ca.cert.pub.pem" "${WORK}/ca-key.pub.pem"
openssl x509 -in "${WORK}/server.pem" -pubkey -noout >"${WORK}/server.cert.pub.pem" 2>/dev/null || true
assert_true "the server certificate holds the token's RSA key" same_pubkey "${WORK}/server.cert.pub.pem" "${WORK}/server-key.pub.pem"
for c in ca server; do
  if cert_parts "${WORK}/${c}.pem" "${WORK}/${c}"; then
    run openssl dgst -sha256 -verify "${WORK}/ca-key.pub.pem" -signature "${WORK}/${c}.sig" "${WORK}/${c}.tbs"
    assert_out_contains "Verified OK" "the ${c} certificate's signature verifies with the exported CA public key"
  else
    fail "the ${c} certificate cannot be read"
  fi
done
run openssl verify -CAfile "${WORK}/ca.pem" "${WORK}/server.pem"
assert_ok "openssl verify: the server certificate chains to the CA"
assert_out_contains "server.pem: OK" "openssl verify says OK"

e2e_finish
