#!/usr/bin/env bash
# Java with keys in twinhsm, through the JDK's SunPKCS11 provider: `keytool -list` shows the
# token's keys (those with a certificate on the token: keytool lists keys with certificates
# only), and TwinhsmSign.java, compiled here with javac, signs with each key (SHA256withECDSA,
# SHA256withRSA) through SunPKCS11 and verifies with the JDK's own provider.
#
# Usage: java_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
client_init "$@"
need java javac keytool certtool pkcs11-tool openssl

client_device java
keypair 01 java-ec EC:prime256v1
keypair 02 java-rsa rsa:2048

recipe "a certificate on the token for each key"
# Any certificate will do (here: self-signed by certtool with the token's key), stored with the
# key's CKA_ID; SunPKCS11 pairs them by id and takes the alias from the label.
export GNUTLS_PIN="${USER_PIN}"
printf 'cn = "twinhsm java test"\nserial = 7\nexpiration_days = 30\nsigning_key\n' >"${WORK}/cert.tmpl"
for k in 01:java-ec 02:java-rsa; do
  id=${k%%:*} label=${k#*:}
  run certtool --provider "${MODULE}" --generate-self-signed --template "${WORK}/cert.tmpl" \
    --load-privkey "pkcs11:token=java;object=${label};type=private" --outfile "${WORK}/${label}.pem"
  assert_ok "certtool makes a certificate for ${label}"
  must openssl x509 -in "${WORK}/${label}.pem" -outform DER -out "${WORK}/${label}.der"
  run pkcs11-tool --module "${MODULE}" --login --pin "${USER_PIN}" --write-object "${WORK}/${label}.der" \
    --type cert --id "${id}" --label "${label}"
  assert_ok "pkcs11-tool --write-object stores the certificate of ${label}"
done

recipe "the SunPKCS11 configuration"
cat >"${WORK}/twinhsm-java.cfg" <<EOF
name = twinhsm
library = ${MODULE}
slot = 0
EOF

recipe "keytool lists the keys"
run keytool -list -storetype PKCS11 -providerclass sun.security.pkcs11.SunPKCS11 \
  -providerarg "${WORK}/twinhsm-java.cfg" -storepass "${USER_PIN}"
assert_ok "keytool -list"
assert_out_contains "Keystore provider: SunPKCS11-twinhsm" "keytool uses SunPKCS11 on twinhsm"
assert_out_contains "Your keystore contains 2 entries" "two entries"
assert_out_contains "java-ec, PrivateKeyEntry" "the EC key is a private key entry"
assert_out_contains "java-rsa, PrivateKeyEntry" "the RSA key is a private key entry"
for label in java-ec java-rsa; do
  fp="$(openssl x509 -in "${WORK}/${label}.pem" -noout -fingerprint -sha256 | cut -d= -f2)"
  assert_out_contains "${fp}" "keytool shows the fingerprint of ${label}'s certificate"
done

recipe "a Java program signs through SunPKCS11"
mkdir -p "${WORK}/classes"
run javac -d "${WORK}/classes" "${CLIENTS_DIR}/TwinhsmSign.java"
assert_ok "javac TwinhsmSign.java"
for k in java-ec:SHA256withECDSA:SunEC java-rsa:SHA256withRSA:SunRsaSign; do
  IFS=: read -r label alg jdk_provider <<<"${k}"
  rm -f "${WORK}/module.log"
  run env TWINHSM_LOG=debug TWINHSM_LOG_FILE="${WORK}/module.log" \
    java -cp "${WORK}/classes" TwinhsmSign "${WORK}/twinhsm-java.cfg" "${USER_PIN}" "${label}" "${alg}"
  assert_ok "TwinhsmSign ${label} ${alg}"
  assert_out_contains "signed by: SunPKCS11-twinhsm" "${alg}: the signature was made through SunPKCS11"
  assert_out_contains "verified by: ${jdk_provider}" "${alg}: the JDK's ${jdk_provider} verified it"
  assert_out_contains "signature verified: true" "${alg}: the signature verifies"
  assert_out_contains "other data verified: false" "${alg}: it does not verify other data"
  assert_true "${alg}: the module made the signature (C_Sign in its log)" \
    grep -qE "C_Sign(Final)?\(.*-> CKR_OK" "${WORK}/module.log"
done

e2e_finish
