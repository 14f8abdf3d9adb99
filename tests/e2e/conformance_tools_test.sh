#!/usr/bin/env bash
# Conformance run with the tools real users drive the module with, every result checked by openssl:
#   - pkcs11-tool (OpenSC 0.23): --test and --test-ec on a fresh token, --test-threads (with
#     CKF_OS_LOCKING_OK and without), --test again with keys on the token;
#   - a pkcs11-tool session over the mechanisms it drives: signatures (RSA-PKCS, SHA*-RSA-PKCS,
#     RSA-PKCS-PSS and SHA*-RSA-PKCS-PSS with --hash-algorithm/--mgf/--salt-len, ECDSA,
#     ECDSA-SHA*, EDDSA, SHA*-HMAC) that openssl verifies, and openssl's signatures that
#     pkcs11-tool --verify accepts; AES-ECB/CBC/CBC-PAD encryption compared with openssl enc both
#     ways; RSA-PKCS and RSA-PKCS-OAEP decryption of openssl's ciphertexts; --hash; ECDH1-DERIVE
#     against openssl pkeyutl -derive; --wrap/--unwrap (AES-KEY-WRAP, AES-KEY-WRAP-PAD,
#     AES-CBC-PAD) against openssl enc -id-aes256-wrap[-pad] / -aes-256-cbc;
#   - p11tool (GnuTLS): --list-tokens, --list-token-urls, --list-mechanisms, --list-all --login,
#     --generate-privkey ECDSA/RSA, --export-pubkey, --test-sign (RSA, RSA-PSS, ECDSA, EdDSA);
#   - certtool signing certificates with token keys (ECDSA, RSA, RSA-PSS) that openssl verifies.
# What pkcs11-tool 0.23 itself cannot drive is printed as a NOTE line (the mechanism is covered by
# conformance_pykcs11_test.py).
#
# Usage: conformance_tools_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so
set -euo pipefail

CLI="$(realpath -m "$1")"
MODULE="$(realpath -m "$2")"
# shellcheck source=lib.sh
source "$(dirname "$(realpath "$0")")/lib.sh"
e2e_init
e2e_require_built "${CLI}" "${MODULE}"

for tool in pkcs11-tool openssl p11tool certtool; do
  command -v "${tool}" >/dev/null || { fail "${tool} is needed (packages opensc, openssl, gnutls-bin)"; exit 1; }
done

SO_PIN=conf-so-pin-1
USER_PIN=conf-user-pin-1
TOKEN=conformance
DEV="${WORK}/device"
export TWINHSM_CONF="${WORK}/twinhsm.toml"
write_conf "${TWINHSM_CONF}" "${DEV}"
P11=(pkcs11-tool --module "${MODULE}")
LOGIN=(--login --pin "${USER_PIN}")
# p11tool and certtool take the PIN from GNUTLS_PIN with --batch.
export GNUTLS_PIN="${USER_PIN}"
P11TOOL=(p11tool --provider "${MODULE}" --batch)
URL="pkcs11:token=${TOKEN}"

note() { echo "NOTE: $*"; }

must "${CLI}" factory new-master-key -o "${WORK}/master.key"
must "${CLI}" factory personalize --device "${DEV}" --master-key "${WORK}/master.key" \
  --diversifier e2e-conformance-tools --serial CONF-TOOLS --pbkdf2-iterations 1000
must "${CLI}" token init --device "${DEV}" --label "${TOKEN}" --so-pin "${SO_PIN}" --pin "${USER_PIN}"

f() { echo "${WORK}/$1"; }
head -c 10000 /dev/urandom >"$(f data)"
cp "$(f data)" "$(f tampered)"
printf 'x' | dd of="$(f tampered)" bs=1 seek=5000 conv=notrunc status=none

# assert_no_errors DESCRIPTION [EXPECTED-LINE]: the last run's output has no error or warning
# line of pkcs11-tool (but EXPECTED-LINE, a warning the module gives on purpose).
assert_no_errors() {
  local bad
  bad="$(cat "${OUT}" "${ERR}" | grep -iE 'error|warning|ERR:|failed' | grep -vx 'No errors' |
    grep -vxF -- "${2:-}" || true)"
  if [[ -z ${bad} ]]; then pass; else
    fail "$1: error or warning lines in the output"
    echo "${bad}" | head -10 | sed 's/^/    /' >&2
  fi
}

# ---------------------------------------------------------------------------------------------
section "pkcs11-tool --test and --test-ec on a fresh token"
run "${P11[@]}" "${LOGIN[@]}" --test
assert_ok "pkcs11-tool --test on a fresh token"
assert_out_contains "No errors" "pkcs11-tool --test on a fresh token reports No errors"
assert_out_contains "seems to be OK" "pkcs11-tool --test: C_SeedRandom/C_GenerateRandom"
assert_out_contains "all 4 digest functions seem to work" "pkcs11-tool --test: digests"
assert_no_errors "pkcs11-tool --test on a fresh token"

# --test-ec generates a key pair (a token object: it needs a read-write session), changes its
# CKA_ID, signs with ECDSA-SHA1 (two-call convention, CKR_BUFFER_TOO_SMALL), and deletes it.
for curve in prime256v1 secp384r1 secp521r1; do
  run "${P11[@]}" "${LOGIN[@]}" --session-rw --test-ec --id e1 --key-type "EC:${curve}"
  assert_ok "pkcs11-tool --test-ec ${curve}"
  assert_out_contains "==> OK" "pkcs11-tool --test-ec ${curve} ends with ==> OK"
  # After C_Sign's size query (a NULL buffer) and a buffer too small, pkcs11-tool 0.23 calls
  # C_SignFinal to end the operation; PKCS#11 3.0 5.2 keeps that operation single-part, so the
  # module answers CKR_OPERATION_ACTIVE (and the operation ends): pkcs11-tool warns and goes on.
  assert_no_errors "pkcs11-tool --test-ec ${curve}" \
    "warning: PKCS11 function C_SignFinal failed: rv = CKR_OPERATION_ACTIVE (0x90)"
done
run "${P11[@]}" "${LOGIN[@]}" --list-objects
assert_eq 0 "$(grep -cE '^(Private|Public) Key Object' "${OUT}" || true)" "--test-ec deleted the keys it made"

# ---------------------------------------------------------------------------------------------
section "pkcs11-tool --test-threads"
# pkcs11-tool 0.23's thread commands (its source, and `Test thread N Unknown test` for others):
# IN = C_Initialize(NULL), IL = C_Initialize with CKF_OS_LOCKING_OK, GI = C_GetInfo,
# SL = C_GetSlotList, Tn = C_GetTokenInfo of slot index n, Pn = pause n seconds. The main thread
# runs --test meanwhile (and --use-locking makes its C_Initialize use CKF_OS_LOCKING_OK).
for mode in IN IL; do
  extra=()
  [[ ${mode} == IL ]] && extra=(--use-locking)
  run "${P11[@]}" --test-threads "${mode}GISLT0" --test-threads "${mode}SLT0GIT0" \
    --test-threads "${mode}GISLT0SLT0GI" --test-threads "${mode}SLT0T0T0" "${extra[@]}" \
    "${LOGIN[@]}" --test
  # The threads report on stderr, the main thread on stdout: judge both.
  cat "${OUT}" "${ERR}" >"$(f "threads-${mode}.log")"
  OUT="$(f "threads-${mode}.log")"
  assert_ok "pkcs11-tool --test-threads (${mode}), 4 threads"
  assert_out_contains "test_threads all threads have ended with CKR_OK" \
    "--test-threads (${mode}): all threads ended with CKR_OK"
  assert_eq 4 "$(grep -c 'returning rv = 0' "${OUT}" || true)" "--test-threads (${mode}): 4 threads returned 0"
  assert_eq 0 "$(grep -c 'Unknown test' "${OUT}" || true)" "--test-threads (${mode}): every command known"
  assert_eq 4 "$(grep -cE 'C_GetInfo returned CKR_OK' "${OUT}" || true)" "--test-threads (${mode}): C_GetInfo in each thread"
  assert_eq 0 "$(grep -E 'returned CKR_' "${OUT}" | grep -vcE 'CKR_OK|CKR_CRYPTOKI_ALREADY_INITIALIZED' || true)" \
    "--test-threads (${mode}): no call returned an error (C_Initialize may find it done)"
  assert_out_contains "No errors" "--test-threads (${mode}): the main thread's --test reports No errors"
done

# ---------------------------------------------------------------------------------------------
section "keys for the pkcs11-tool session"
must "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type rsa:2048 --id 01 --label rsa --usage-sign --usage-decrypt
must "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type EC:prime256v1 --id 02 --label ec256 --usage-sign --usage-derive
must "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type EC:secp384r1 --id 04 --label ec384 --usage-sign --usage-derive
must "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type EC:secp521r1 --id 05 --label ec521 --usage-sign --usage-derive
# pkcs11-tool 0.23 spells Ed25519 "edwards25519".
must "${P11[@]}" "${LOGIN[@]}" --keypairgen --key-type EC:edwards25519 --id 06 --label ed25519
# An AES key whose value openssl knows (C_CreateObject), extractable so it can also be wrapped.
openssl rand 32 >"$(f aes.key)"
AES_HEX="$(xxd -p -c 64 "$(f aes.key)")"
must "${P11[@]}" "${LOGIN[@]}" --write-object "$(f aes.key)" --type secrkey --key-type AES:32 --id 03 \
  --label aes --extractable --usage-decrypt
# Generated secret keys, extractable (their values are read back for openssl).
must "${P11[@]}" "${LOGIN[@]}" --keygen --key-type GENERIC:32 --id 07 --label hmac --extractable --usage-sign
must "${P11[@]}" "${LOGIN[@]}" --keygen --key-type AES:32 --id 08 --label aes-target --extractable
for id in 03 07 08; do
  run "${P11[@]}" "${LOGIN[@]}" --read-object --type secrkey --id "${id}" -o "$(f "secret-${id}")"
  assert_ok "--read-object of the extractable secret key ${id}"
done
assert_true "the AES key read back is the one written" cmp -s "$(f aes.key)" "$(f secret-03)"
HMAC_HEX="$(xxd -p -c 64 "$(f secret-07)")"
assert_eq 64 "${#HMAC_HEX}" "the generated GENERIC:32 key has 32 bytes"

# Public keys as PEM: p11tool --export-pubkey for every key (pkcs11-tool 0.23 cannot export P-384
# keys), compared with pkcs11-tool --read-object where that works.
for spec in 01:rsa 02:ec256 04:ec384 05:ec521 06:ed25519; do
  id="${spec%%:*}"
  name="${spec#*:}"
  run "${P11TOOL[@]}" --export-pubkey "${URL};id=%${id};type=public" --outfile "$(f "${name}.pem")"
  assert_ok "p11tool --export-pubkey of ${name}"
  run openssl pkey -pubin -in "$(f "${name}.pem")" -noout
  assert_ok "openssl reads the ${name} public key p11tool exported"
done
for spec in 01:rsa 02:ec256; do
  id="${spec%%:*}"
  name="${spec#*:}"
  run "${P11[@]}" --read-object --type pubkey --id "${id}" -o "$(f "${name}.p11.der")"
  run openssl pkey -pubin -inform DER -in "$(f "${name}.p11.der")" -out "$(f "${name}.p11.pem")"
  assert_true "pkcs11-tool and p11tool export the same ${name} public key" \
    cmp -s "$(f "${name}.p11.pem")" "$(f "${name}.pem")"
done

# openssl's own keys, their public keys written to the token (for pkcs11-tool --verify).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$(f o-rsa.pem)" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$(f o-ec256.pem)" 2>/dev/null
for k in o-rsa o-ec256; do
  openssl pkey -in "$(f "${k}.pem")" -pubout -outform DER -out "$(f "${k}.pub.der")"
done
must "${P11[@]}" "${LOGIN[@]}" --write-object "$(f o-rsa.pub.der)" --type pubkey --id 11 --label o-rsa
must "${P11[@]}" "${LOGIN[@]}" --write-object "$(f o-ec256.pub.der)" --type pubkey --id 12 --label o-ec256

# ---------------------------------------------------------------------------------------------
section "pkcs11-tool --sign, openssl verifies"
# p11_sign ID MECH OUT [pkcs11-tool options...] (input: $WORK/data unless -i is given)
p11_sign() {
  local id="$1" mech="$2" out="$3"
  shift 3
  local in=(-i "$(f data)")
  [[ " $* " == *" -i "* ]] && in=()
  run "${P11[@]}" "${LOGIN[@]}" --sign --id "${id}" -m "${mech}" "${in[@]}" "$@" -o "${out}"
  assert_ok "pkcs11-tool --sign -m ${mech} --id ${id} $*"
}

# ossl_verify DESCRIPTION PEM MD SIG [sigopts...]: openssl dgst verifies SIG over data, not over
# the tampered data.
ossl_verify() {
  local what="$1" pem="$2" md="$3" sig="$4"
  shift 4
  run openssl dgst "-${md}" "$@" -verify "${pem}" -signature "${sig}" "$(f data)"
  assert_out_contains "Verified OK" "openssl verifies ${what}"
  run openssl dgst "-${md}" "$@" -verify "${pem}" -signature "${sig}" "$(f tampered)"
  assert_fails "openssl refuses ${what} for other data"
}

for md in sha1 sha224 sha256 sha384 sha512; do
  M="${md^^}-RSA-PKCS"
  p11_sign 01 "${M}" "$(f "sig-${M}")"
  ossl_verify "the ${M} signature" "$(f rsa.pem)" "${md}" "$(f "sig-${M}")"
  M="${md^^}-RSA-PKCS-PSS"
  p11_sign 01 "${M}" "$(f "sig-${M}")"
  ossl_verify "the ${M} signature (default salt: the digest length)" "$(f rsa.pem)" "${md}" \
    "$(f "sig-${M}")" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt "rsa_mgf1_md:${md}"
done
# Other MGFs and salt lengths (--salt-len -2: the largest, 256-64-2 = 190 bytes for SHA-512).
p11_sign 01 SHA256-RSA-PKCS-PSS "$(f sig-pss-a)" --mgf MGF1-SHA1 --salt-len 0
ossl_verify "SHA256-RSA-PKCS-PSS with MGF1-SHA1, salt 0" "$(f rsa.pem)" sha256 "$(f sig-pss-a)" \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:0 -sigopt rsa_mgf1_md:sha1
p11_sign 01 SHA512-RSA-PKCS-PSS "$(f sig-pss-b)" --mgf MGF1-SHA256 --salt-len -2
ossl_verify "SHA512-RSA-PKCS-PSS with MGF1-SHA256, the largest salt (190)" "$(f rsa.pem)" sha512 \
  "$(f sig-pss-b)" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:190 -sigopt rsa_mgf1_md:sha256
p11_sign 01 SHA384-RSA-PKCS-PSS "$(f sig-pss-c)" --salt-len 20
ossl_verify "SHA384-RSA-PKCS-PSS with salt 20" "$(f rsa.pem)" sha384 "$(f sig-pss-c)" \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:20 -sigopt rsa_mgf1_md:sha384

# Raw RSA-PKCS-PSS: the input is a hash of --hash-algorithm's size.
for spec in SHA256:sha256:MGF1-SHA256:32 SHA384:sha384:MGF1-SHA1:0 SHA512:sha512:MGF1-SHA512:64 SHA-1:sha1:MGF1-SHA1:20; do
  IFS=: read -r halg md mgf salt <<<"${spec}"
  openssl dgst "-${md}" -binary "$(f data)" >"$(f "data.${md}")"
  mgfmd="${mgf#MGF1-}"
  mgfmd="${mgfmd,,}"
  p11_sign 01 RSA-PKCS-PSS "$(f "sig-rawpss-${md}")" -i "$(f "data.${md}")" --hash-algorithm "${halg}" \
    --mgf "${mgf}" --salt-len "${salt}"
  run openssl pkeyutl -verify -pubin -inkey "$(f rsa.pem)" -in "$(f "data.${md}")" \
    -sigfile "$(f "sig-rawpss-${md}")" -pkeyopt "digest:${md}" -pkeyopt rsa_padding_mode:pss \
    -pkeyopt "rsa_pss_saltlen:${salt}" -pkeyopt "rsa_mgf1_md:${mgfmd}"
  assert_ok "openssl pkeyutl verifies RSA-PKCS-PSS over a ${md} hash (${mgf}, salt ${salt})"
done

# Raw RSA-PKCS over a DigestInfo: openssl recovers exactly that DigestInfo.
{ printf '3031300d060960864801650304020105000420' | xxd -r -p; cat "$(f data.sha256)"; } >"$(f di.sha256)"
p11_sign 01 RSA-PKCS "$(f sig-rsa-pkcs)" -i "$(f di.sha256)"
run openssl pkeyutl -verifyrecover -pubin -inkey "$(f rsa.pem)" -in "$(f sig-rsa-pkcs)" -out "$(f di.recovered)"
assert_ok "openssl pkeyutl -verifyrecover of the RSA-PKCS signature"
assert_true "openssl recovers the DigestInfo pkcs11-tool signed with RSA-PKCS" cmp -s "$(f di.sha256)" "$(f di.recovered)"
ossl_verify "the RSA-PKCS signature of a SHA-256 DigestInfo, as SHA256-RSA-PKCS" "$(f rsa.pem)" sha256 "$(f sig-rsa-pkcs)"

# ECDSA with a hash, on each curve (--signature-format openssl: DER), and raw ECDSA.
for spec in 02:ec256:sha1 02:ec256:sha224 02:ec256:sha256 02:ec256:sha384 02:ec256:sha512 04:ec384:sha384 \
  04:ec384:sha256 05:ec521:sha512 05:ec521:sha1; do
  IFS=: read -r id name md <<<"${spec}"
  M="ECDSA-${md^^}"
  p11_sign "${id}" "${M}" "$(f "sig-${M}-${name}")" --signature-format openssl
  ossl_verify "the ${M} signature of ${name}" "$(f "${name}.pem")" "${md}" "$(f "sig-${M}-${name}")"
done
for spec in 02:ec256:sha256 04:ec384:sha384 05:ec521:sha512 02:ec256:sha512; do
  IFS=: read -r id name md <<<"${spec}"
  [[ -f "$(f "data.${md}")" ]] || openssl dgst "-${md}" -binary "$(f data)" >"$(f "data.${md}")"
  p11_sign "${id}" ECDSA "$(f "sig-ECDSA-${name}-${md}")" -i "$(f "data.${md}")" --signature-format openssl
  run openssl pkeyutl -verify -pubin -inkey "$(f "${name}.pem")" -in "$(f "data.${md}")" \
    -sigfile "$(f "sig-ECDSA-${name}-${md}")"
  assert_ok "openssl pkeyutl verifies raw ECDSA of ${name} over a ${md} hash"
done
# The default signature format is r||s, each the field size.
p11_sign 05 ECDSA-SHA512 "$(f sig-rs-521)"
assert_eq 132 "$(wc -c <"$(f sig-rs-521)")" "an ECDSA P-521 signature in the default format is r||s, 132 bytes"

p11_sign 06 EDDSA "$(f sig-EDDSA)"
assert_eq 64 "$(wc -c <"$(f sig-EDDSA)")" "an Ed25519 signature is 64 bytes"
run openssl pkeyutl -verify -pubin -inkey "$(f ed25519.pem)" -rawin -in "$(f data)" -sigfile "$(f sig-EDDSA)"
assert_ok "openssl verifies the EDDSA signature"
run openssl pkeyutl -verify -pubin -inkey "$(f ed25519.pem)" -rawin -in "$(f tampered)" -sigfile "$(f sig-EDDSA)"
assert_fails "openssl refuses the EDDSA signature for other data"

# HMACs: compared with openssl mac, and checked back by pkcs11-tool --verify (C_Verify).
for md in sha1 sha224 sha256 sha384 sha512; do
  M="${md^^}-HMAC"
  [[ ${md} == sha1 ]] && M="SHA-1-HMAC"
  p11_sign 07 "${M}" "$(f "mac-${md}")"
  run openssl mac -digest "${md}" -macopt "hexkey:${HMAC_HEX}" -binary -in "$(f data)" -out "$(f "mac-${md}.ossl")" HMAC
  assert_true "${M}: pkcs11-tool's MAC equals openssl mac HMAC" cmp -s "$(f "mac-${md}")" "$(f "mac-${md}.ossl")"
  run "${P11[@]}" "${LOGIN[@]}" --verify --id 07 -m "${M}" -i "$(f data)" --signature-file "$(f "mac-${md}.ossl")"
  assert_out_contains "Signature is valid" "${M}: pkcs11-tool --verify accepts openssl's MAC"
  run "${P11[@]}" "${LOGIN[@]}" --verify --id 07 -m "${M}" -i "$(f tampered)" --signature-file "$(f "mac-${md}.ossl")"
  assert_out_contains "Invalid signature" "${M}: pkcs11-tool --verify refuses the MAC of other data"
done
note "AES-CMAC: pkcs11-tool 0.23 signs only with private keys and HMAC (it looks for a private key); covered by conformance_pykcs11_test.py"

# ---------------------------------------------------------------------------------------------
section "openssl signs, pkcs11-tool --verify (C_Verify) accepts"
# p11_verify DESCRIPTION ID MECH SIG [options]: valid over data, invalid over the tampered data.
p11_verify() {
  local what="$1" id="$2" mech="$3" sig="$4"
  shift 4
  run "${P11[@]}" "${LOGIN[@]}" --verify --id "${id}" -m "${mech}" -i "$(f data)" --signature-file "${sig}" "$@"
  assert_out_contains "Signature is valid" "pkcs11-tool --verify accepts ${what}"
  run "${P11[@]}" "${LOGIN[@]}" --verify --id "${id}" -m "${mech}" -i "$(f tampered)" --signature-file "${sig}" "$@"
  assert_out_contains "Invalid signature" "pkcs11-tool --verify refuses ${what} for other data"
}
for md in sha1 sha224 sha256 sha384 sha512; do
  openssl dgst "-${md}" -sign "$(f o-rsa.pem)" -out "$(f "osig-rsa-${md}")" "$(f data)"
  p11_verify "openssl's ${md^^}-RSA-PKCS signature" 11 "${md^^}-RSA-PKCS" "$(f "osig-rsa-${md}")"
  openssl dgst "-${md}" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sign "$(f o-rsa.pem)" \
    -out "$(f "osig-pss-${md}")" "$(f data)"
  p11_verify "openssl's ${md^^}-RSA-PKCS-PSS signature" 11 "${md^^}-RSA-PKCS-PSS" "$(f "osig-pss-${md}")"
  openssl dgst "-${md}" -sign "$(f o-ec256.pem)" -out "$(f "osig-ec-${md}")" "$(f data)"
  p11_verify "openssl's ECDSA-${md^^} signature" 12 "ECDSA-${md^^}" "$(f "osig-ec-${md}")" --signature-format openssl
done
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:0 -sigopt rsa_mgf1_md:sha1 \
  -sign "$(f o-rsa.pem)" -out "$(f osig-pss-x)" "$(f data)"
p11_verify "openssl's SHA256-RSA-PKCS-PSS signature with MGF1-SHA1, salt 0" 11 SHA256-RSA-PKCS-PSS \
  "$(f osig-pss-x)" --mgf MGF1-SHA1 --salt-len 0
note "EDDSA verification of openssl's signatures: pkcs11-tool 0.23 cannot write an Ed25519 public key (Unsupported key type 0x43F); covered by conformance_pykcs11_test.py"

# ---------------------------------------------------------------------------------------------
section "encryption: pkcs11-tool against openssl enc / pkeyutl"
IV=000102030405060708090a0b0c0d0e0f
head -c 4096 /dev/urandom >"$(f blocks)"
for spec in AES-ECB:aes-256-ecb:nopad:blocks AES-CBC:aes-256-cbc:nopad:blocks AES-CBC-PAD:aes-256-cbc:pad:data; do
  IFS=: read -r M cipher pad input <<<"${spec}"
  ivopt=(--iv "${IV}")
  oiv=(-iv "${IV}")
  [[ ${M} == AES-ECB ]] && ivopt=() && oiv=()
  nopad=()
  [[ ${pad} == nopad ]] && nopad=(-nopad)
  run "${P11[@]}" "${LOGIN[@]}" --encrypt -m "${M}" --id 03 "${ivopt[@]}" -i "$(f "${input}")" -o "$(f "ct-${M}")"
  assert_ok "pkcs11-tool --encrypt -m ${M}"
  openssl enc "-${cipher}" -K "${AES_HEX}" "${oiv[@]}" "${nopad[@]}" -in "$(f "${input}")" -out "$(f "ct-${M}.ossl")"
  assert_true "${M}: pkcs11-tool's ciphertext equals openssl enc's" cmp -s "$(f "ct-${M}")" "$(f "ct-${M}.ossl")"
  run openssl enc -d "-${cipher}" -K "${AES_HEX}" "${oiv[@]}" "${nopad[@]}" -in "$(f "ct-${M}")" -out "$(f "pt-${M}.ossl")"
  assert_true "${M}: openssl decrypts pkcs11-tool's ciphertext" cmp -s "$(f "${input}")" "$(f "pt-${M}.ossl")"
  run "${P11[@]}" "${LOGIN[@]}" --decrypt -m "${M}" --id 03 "${ivopt[@]}" -i "$(f "ct-${M}.ossl")" -o "$(f "pt-${M}")"
  assert_ok "pkcs11-tool --decrypt -m ${M}"
  assert_true "${M}: pkcs11-tool decrypts openssl's ciphertext" cmp -s "$(f "${input}")" "$(f "pt-${M}")"
done
for M in AES-CTR AES-GCM; do
  run "${P11[@]}" "${LOGIN[@]}" --encrypt -m "${M}" --id 03 --iv "${IV}" -i "$(f data)" -o "$(f "ct-${M}")"
  if [[ ${RC} -ne 0 ]] && grep -q "illegal or not supported" "${ERR}"; then
    note "${M}: pkcs11-tool 0.23 refuses it before calling the module (no CTR/GCM parameters); covered by conformance_pykcs11_test.py"
  else
    fail "${M}: this pkcs11-tool drives ${M}: extend this test to check it with openssl"
    show_run
  fi
done

head -c 100 /dev/urandom >"$(f rsa-pt)"
openssl pkeyutl -encrypt -pubin -inkey "$(f rsa.pem)" -in "$(f rsa-pt)" -out "$(f rsa-ct-pkcs)"
run "${P11[@]}" "${LOGIN[@]}" --decrypt -m RSA-PKCS --id 01 -i "$(f rsa-ct-pkcs)" -o "$(f rsa-pt-pkcs)"
assert_ok "pkcs11-tool --decrypt -m RSA-PKCS"
assert_true "RSA-PKCS: pkcs11-tool decrypts openssl's ciphertext" cmp -s "$(f rsa-pt)" "$(f rsa-pt-pkcs)"
for spec in SHA-1:sha1:MGF1-SHA1 SHA256:sha256:MGF1-SHA256; do
  IFS=: read -r halg md mgf <<<"${spec}"
  openssl pkeyutl -encrypt -pubin -inkey "$(f rsa.pem)" -in "$(f rsa-pt)" -out "$(f "rsa-ct-oaep-${md}")" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:${md}" -pkeyopt "rsa_mgf1_md:${md}"
  run "${P11[@]}" "${LOGIN[@]}" --decrypt -m RSA-PKCS-OAEP --hash-algorithm "${halg}" --mgf "${mgf}" --id 01 \
    -i "$(f "rsa-ct-oaep-${md}")" -o "$(f "rsa-pt-oaep-${md}")"
  assert_ok "pkcs11-tool --decrypt -m RSA-PKCS-OAEP --hash-algorithm ${halg}"
  assert_true "RSA-PKCS-OAEP ${halg}: pkcs11-tool decrypts openssl's ciphertext" cmp -s "$(f rsa-pt)" "$(f "rsa-pt-oaep-${md}")"
done
# docs/pkcs11.md: OAEP takes SHA-1 or SHA-256 only; anything else is CKR_MECHANISM_PARAM_INVALID.
run "${P11[@]}" "${LOGIN[@]}" --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA384 --mgf MGF1-SHA384 --id 01 \
  -i "$(f rsa-ct-oaep-sha256)" -o "$(f rsa-pt-oaep-384)"
assert_err_contains "CKR_MECHANISM_PARAM_INVALID" "RSA-PKCS-OAEP with SHA-384: CKR_MECHANISM_PARAM_INVALID, as documented"
note "RSA-PKCS / RSA-PKCS-OAEP encryption: pkcs11-tool 0.23 encrypts with secret keys only (Secret key not found); covered by conformance_pykcs11_test.py"

# ---------------------------------------------------------------------------------------------
section "pkcs11-tool --hash"
for spec in SHA-1:sha1 SHA224:sha224 SHA256:sha256 SHA384:sha384 SHA512:sha512; do
  IFS=: read -r M md <<<"${spec}"
  run "${P11[@]}" --hash -m "${M}" -i "$(f data)" -o "$(f "hash-${md}")"
  assert_ok "pkcs11-tool --hash -m ${M}"
  openssl dgst "-${md}" -binary -out "$(f "hash-${md}.ossl")" "$(f data)"
  assert_true "${M}: pkcs11-tool --hash equals openssl dgst" cmp -s "$(f "hash-${md}")" "$(f "hash-${md}.ossl")"
done

# ---------------------------------------------------------------------------------------------
section "pkcs11-tool --derive ECDH1-DERIVE"
for spec in 02:ec256:prime256v1 04:ec384:secp384r1 05:ec521:secp521r1; do
  IFS=: read -r id name curve <<<"${spec}"
  openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${curve}" -out "$(f "peer-${name}.pem")" 2>/dev/null
  openssl pkey -in "$(f "peer-${name}.pem")" -pubout -outform DER -out "$(f "peer-${name}.der")"
  run "${P11[@]}" "${LOGIN[@]}" --derive -m ECDH1-DERIVE --id "${id}" -i "$(f "peer-${name}.der")" -o "$(f "ecdh-${name}")"
  assert_ok "pkcs11-tool --derive -m ECDH1-DERIVE on ${name}"
  openssl pkeyutl -derive -inkey "$(f "peer-${name}.pem")" -peerkey "$(f "${name}.pem")" -out "$(f "ecdh-${name}.ossl")"
  assert_true "ECDH1-DERIVE on ${name}: the token's secret equals openssl pkeyutl -derive" \
    cmp -s "$(f "ecdh-${name}")" "$(f "ecdh-${name}.ossl")"
done

# ---------------------------------------------------------------------------------------------
section "pkcs11-tool --wrap / --unwrap against openssl"
NEXT_ID=$((0x40))
# --wrap: --id names the wrapping key, --application-id the key to wrap. AES-KEY-WRAP-PAD has no
# name in pkcs11-tool 0.23: its number, 0x210A.
for spec in AES-KEY-WRAP:id-aes256-wrap:A6A6A6A6A6A6A6A6 0x210A:id-aes256-wrap-pad:A65959A6 AES-CBC-PAD:aes-256-cbc:${IV}; do
  IFS=: read -r M cipher iv <<<"${spec}"
  ivopt=()
  [[ ${M} == AES-CBC-PAD ]] && ivopt=(--iv "${IV}")
  for target in 07 08; do
    run "${P11[@]}" "${LOGIN[@]}" --wrap -m "${M}" "${ivopt[@]}" --id 03 --application-id "${target}" -o "$(f "wrapped-${M}-${target}")"
    assert_ok "pkcs11-tool --wrap -m ${M} of key ${target}"
    run openssl enc -d "-${cipher}" -K "${AES_HEX}" -iv "${iv}" -in "$(f "wrapped-${M}-${target}")" -out "$(f "unwrapped-${M}-${target}")"
    assert_ok "openssl enc -d -${cipher} unwraps pkcs11-tool's ${M} wrapping"
    assert_true "${M}: openssl unwraps key ${target} to its CKA_VALUE" \
      cmp -s "$(f "secret-${target}")" "$(f "unwrapped-${M}-${target}")"
  done
  # openssl wraps a 32-byte AES key and a 20-byte generic secret (KW: only multiples of 8).
  openssl rand 32 >"$(f "new-${M}-aes")"
  openssl rand 20 >"$(f "new-${M}-gen")"
  for kind in aes:AES:32 gen:GENERIC:20; do
    IFS=: read -r k kt len <<<"${kind}"
    [[ ${M} == AES-KEY-WRAP && ${k} == gen ]] && continue
    openssl enc "-${cipher}" -K "${AES_HEX}" -iv "${iv}" -in "$(f "new-${M}-${k}")" -out "$(f "new-${M}-${k}.w")"
    NEXT_ID=$((NEXT_ID + 1))
    newid="$(printf '%02x' "${NEXT_ID}")"
    run "${P11[@]}" "${LOGIN[@]}" --unwrap -m "${M}" "${ivopt[@]}" --id 03 -i "$(f "new-${M}-${k}.w")" \
      --application-id "${newid}" --key-type "${kt}:${len}" --extractable
    assert_ok "pkcs11-tool --unwrap -m ${M} of openssl's ${kt}:${len} key"
    run "${P11[@]}" "${LOGIN[@]}" --read-object --type secrkey --id "${newid}" -o "$(f "new-${M}-${k}.read")"
    assert_true "${M}: the key pkcs11-tool unwrapped has the value openssl wrapped (${kt}:${len})" \
      cmp -s "$(f "new-${M}-${k}")" "$(f "new-${M}-${k}.read")"
    must "${P11[@]}" "${LOGIN[@]}" --delete-object --type secrkey --id "${newid}"
  done
done
run "${P11[@]}" "${LOGIN[@]}" --wrap -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 --id 01 \
  --application-id 08 -o "$(f wrapped-oaep)"
if [[ ${RC} -ne 0 ]] && grep -q CKR_MECHANISM_PARAM_INVALID "${ERR}"; then
  # pkcs11-tool 0.23 calls C_WrapKey(CKM_RSA_PKCS_OAEP) with pParameter NULL; PKCS#11 requires
  # CK_RSA_PKCS_OAEP_PARAMS, so the refusal is right.
  note "RSA-PKCS-OAEP wrapping: pkcs11-tool 0.23 passes no CK_RSA_PKCS_OAEP_PARAMS and the module refuses (CKR_MECHANISM_PARAM_INVALID); covered by conformance_pykcs11_test.py"
  pass
else
  assert_ok "pkcs11-tool --wrap -m RSA-PKCS-OAEP"
  run openssl pkeyutl -decrypt -inkey "$(f o-rsa.pem)" -in "$(f wrapped-oaep)" -out "$(f unwrapped-oaep)" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
  fail "this pkcs11-tool wraps with RSA-PKCS-OAEP: extend this test to check it with openssl"
fi

run "${P11[@]}" --generate-random 64 -o "$(f rnd1)"
assert_ok "pkcs11-tool --generate-random"
assert_eq 64 "$(wc -c <"$(f rnd1)")" "64 random bytes"

# ---------------------------------------------------------------------------------------------
section "pkcs11-tool --test with keys on the token"
run "${P11[@]}" "${LOGIN[@]}" --test
assert_ok "pkcs11-tool --test with RSA, EC, Ed25519 and secret keys"
assert_out_contains "No errors" "pkcs11-tool --test with keys reports No errors"
assert_out_contains "SHA256-RSA-PKCS: OK" "pkcs11-tool --test signs with SHA256-RSA-PKCS"
assert_out_contains "RSA-PKCS-OAEP" "pkcs11-tool --test decrypts with RSA-PKCS-OAEP"
assert_eq 0 "$(grep -E 'ERR:|resulting cleartext doesn.t match|errors$' "${OUT}" | grep -vcx 'No errors' || true)" \
  "pkcs11-tool --test with keys: no ERR lines"

# ---------------------------------------------------------------------------------------------
section "p11tool (GnuTLS)"
run "${P11TOOL[@]}" --list-tokens
assert_ok "p11tool --list-tokens"
assert_out_contains "Label: ${TOKEN}" "p11tool --list-tokens shows the token"
assert_out_contains "Manufacturer: twinhsm project" "p11tool --list-tokens: the manufacturer"
run "${P11TOOL[@]}" --list-token-urls
assert_out_contains "token=${TOKEN}" "p11tool --list-token-urls"
run "${P11TOOL[@]}" --list-mechanisms "${URL}"
assert_ok "p11tool --list-mechanisms"
for m in CKM_RSA_PKCS_PSS CKM_ECDSA_SHA256 CKM_AES_GCM CKM_AES_KEY_WRAP CKM_ECDH1_DERIVE CKM_SHA512_HMAC; do
  assert_out_contains "${m}" "p11tool --list-mechanisms lists ${m}"
done

run "${P11TOOL[@]}" --login --generate-privkey ECDSA --curve secp256r1 --label p11-ec --outfile "$(f p11-ec.gen.pem)" "${URL}"
assert_ok "p11tool --generate-privkey ECDSA"
run "${P11TOOL[@]}" --login --generate-privkey ECDSA --curve secp384r1 --label p11-ec384 --outfile "$(f p11-ec384.gen.pem)" "${URL}"
assert_ok "p11tool --generate-privkey ECDSA secp384r1"
run "${P11TOOL[@]}" --login --generate-privkey RSA --bits 2048 --label p11-rsa --outfile "$(f p11-rsa.gen.pem)" "${URL}"
assert_ok "p11tool --generate-privkey RSA"
run "${P11TOOL[@]}" --login --generate-privkey ed25519 --label p11-ed --outfile "$(f p11-ed.gen.pem)" "${URL}"
if [[ ${RC} -ne 0 ]]; then
  # GnuTLS 3.7.9 asks C_GenerateKeyPair for CKM_EDDSA (the signature mechanism) instead of
  # CKM_EC_EDWARDS_KEY_PAIR_GEN; the module's CKR_MECHANISM_INVALID is right.
  note "p11tool --generate-privkey ed25519: GnuTLS passes CKM_EDDSA as the key-pair generation mechanism and the module refuses it ($(tail -n 1 "${ERR}"))"
fi
run "${P11TOOL[@]}" --login --list-all "${URL}"
assert_ok "p11tool --list-all --login"
for label in p11-ec p11-ec384 p11-rsa rsa ec256 ed25519; do
  assert_eq 2 "$(grep -c "object=${label};type=p" "${OUT}" || true)" "p11tool --list-all: the ${label} private and public key"
done
assert_out_contains "Type: Private key (EdDSA (Ed25519))" "p11tool sees the Ed25519 key"
for k in p11-ec p11-ec384 p11-rsa; do
  run "${P11TOOL[@]}" --login --export-pubkey "${URL};object=${k};type=private" --outfile "$(f "${k}.exp.pem")"
  assert_ok "p11tool --export-pubkey of ${k}"
  assert_true "the ${k} public key exported equals the one --generate-privkey printed" \
    cmp -s "$(f "${k}.exp.pem")" "$(f "${k}.gen.pem")"
  run openssl pkey -pubin -in "$(f "${k}.exp.pem")" -noout
  assert_ok "openssl reads p11tool's ${k} public key"
done

# --test-sign signs with the private key and verifies with GnuTLS against the key's parameters and
# against the public key on the token.
test_sign() { # DESCRIPTION URL [options]
  local what="$1" url="$2"
  shift 2
  run "${P11TOOL[@]}" --login --test-sign "$@" "${url}"
  assert_ok "p11tool --test-sign ${what}"
  assert_err_contains "Verifying against public key in the token... ok" "p11tool --test-sign ${what}: verified with the token's public key"
}
test_sign "ECDSA P-256 (p11-ec)" "${URL};object=p11-ec;type=private"
test_sign "ECDSA P-384 SHA-384 (p11-ec384)" "${URL};object=p11-ec384;type=private" --hash SHA384
test_sign "RSA (p11-rsa)" "${URL};object=p11-rsa;type=private"
test_sign "RSA-PSS SHA-512 (p11-rsa)" "${URL};object=p11-rsa;type=private" --sign-params rsa-pss --hash SHA512
test_sign "ECDSA P-521 (pkcs11-tool's ec521)" "${URL};object=ec521;type=private" --hash SHA512
# (GnuTLS signs Ed25519 only with --hash SHA512, the hash of the algorithm.)
test_sign "EdDSA (pkcs11-tool's ed25519)" "${URL};object=ed25519;type=private" --hash SHA512

# ---------------------------------------------------------------------------------------------
section "certtool signs certificates with token keys, openssl verifies them"
cat >"$(f ca.tmpl)" <<'EOF'
cn = "twinhsm conformance CA"
serial = 1
expiration_days = 30
ca
cert_signing_key
EOF
cat >"$(f leaf.tmpl)" <<'EOF'
cn = "leaf.example"
serial = 2
expiration_days = 30
tls_www_server
dns_name = "leaf.example"
EOF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$(f leaf.key)" 2>/dev/null
for spec in ecdsa:p11-ec: rsa:p11-rsa: rsa-pss:p11-rsa:--sign-params=rsa-pss; do
  IFS=: read -r kind label params <<<"${spec}"
  key="${URL};object=${label};type=private"
  extra=()
  [[ -n ${params} ]] && extra=("${params}" --hash SHA384)
  run certtool --provider "${MODULE}" --generate-self-signed --load-privkey "${key}" "${extra[@]}" \
    --template "$(f ca.tmpl)" --outfile "$(f "ca-${kind}.pem")"
  assert_ok "certtool --generate-self-signed with the token's ${kind} key"
  run certtool --provider "${MODULE}" --generate-certificate --load-privkey "$(f leaf.key)" \
    --load-ca-certificate "$(f "ca-${kind}.pem")" --load-ca-privkey "${key}" "${extra[@]}" \
    --template "$(f leaf.tmpl)" --outfile "$(f "leaf-${kind}.pem")"
  assert_ok "certtool --generate-certificate signed by the token's ${kind} key"
  run openssl verify -CAfile "$(f "ca-${kind}.pem")" "$(f "ca-${kind}.pem")" "$(f "leaf-${kind}.pem")"
  assert_ok "openssl verifies the ${kind} CA and the leaf it signed"
  assert_out_contains "leaf-${kind}.pem: OK" "openssl: the leaf signed with the token's ${kind} key is OK"
  openssl x509 -in "$(f "ca-${kind}.pem")" -noout -pubkey >"$(f "ca-${kind}.pub.pem")"
  assert_true "the ${kind} CA certificate holds the token key's public key" \
    cmp -s "$(f "ca-${kind}.pub.pem")" "$(f "${label}.gen.pem")"
done
run openssl x509 -in "$(f ca-rsa-pss.pem)" -noout -text
assert_out_contains "rsassaPss" "the RSA-PSS certificate is signed with RSASSA-PSS"
# A certificate changed after signing (its subject's name) must not verify.
openssl x509 -in "$(f leaf-ecdsa.pem)" -outform DER -out "$(f leaf.der)"
LC_ALL=C sed 's/leaf\.example/leaf.exbmple/g' "$(f leaf.der)" >"$(f leaf-bad.der)"
run openssl x509 -inform DER -in "$(f leaf-bad.der)" -out "$(f leaf-bad.pem)"
assert_ok "openssl reads the changed certificate"
run openssl verify -CAfile "$(f ca-ecdsa.pem)" "$(f leaf-bad.pem)"
assert_fails "openssl refuses a certificate changed after the token signed it"
assert_err_contains "signature failure" "the changed certificate fails on its signature"

e2e_finish
