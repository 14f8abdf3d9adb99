#!/usr/bin/env bash
# p11-kit: `cmake --install BUILD --prefix /usr` (into a staging directory, DESTDIR) puts
# libtwinhsm.so in p11-kit's module directory and twinhsm.module ("module: libtwinhsm.so") in
# p11-kit's module configuration directory; that module file, registered for a user (p11-kit reads
# ~/.config/pkcs11/modules/ for users other than root), makes `p11-kit list-modules` show
# twinhsm and its token, and pkcs11: URIs select the token and its objects in applications that
# go through p11-kit (p11tool and certtool without --provider, pkcs11-tool on p11-kit-proxy.so).
# A real system-wide install is checked by package_test.sh (dpkg -i, then dpkg -r).
#
# Usage: p11kit_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so BUILD_DIR
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
client_init "$@"
need cmake p11-kit pkg-config p11tool certtool pkcs11-tool openssl
[[ -n "${BUILD_DIR}" && -f "${BUILD_DIR}/cmake_install.cmake" ]] || { fail "give the build directory as the third argument"; exit 1; }

MODULE_DIR="$(pkg-config --variable=p11_module_path p11-kit-1)"
CONFIGS_DIR="$(pkg-config --variable=p11_module_configs p11-kit-1)"
PROXY="$(pkg-config --variable=proxy_module p11-kit-1)"

recipe "cmake --install"
STAGE="${WORK}/stage"
run env DESTDIR="${STAGE}" cmake --install "${BUILD_DIR}" --prefix /usr
assert_ok "cmake --install --prefix /usr (DESTDIR=stage)"
assert_true "libtwinhsm.so is installed in p11-kit's module directory ${MODULE_DIR}" \
  test -f "${STAGE}${MODULE_DIR}/libtwinhsm.so"
assert_true "twinhsm.module is installed in p11-kit's configuration directory ${CONFIGS_DIR}" \
  test -f "${STAGE}${CONFIGS_DIR}/twinhsm.module"
assert_eq "module: libtwinhsm.so" "$(grep -v '^#' "${STAGE}${CONFIGS_DIR}/twinhsm.module" | grep -v '^$')" \
  "the module file names the module relative to p11-kit's module directory"
assert_true "the command is installed as /usr/bin/twinhsm" test -x "${STAGE}/usr/bin/twinhsm"
run "${STAGE}/usr/bin/twinhsm" --version
assert_match "^twinhsm [0-9]+\.[0-9]+\.[0-9]+$" "$(cat "${OUT}")" "the installed command runs"
assert_true "the man page is installed" test -f "${STAGE}/usr/share/man/man1/twinhsm.1.gz"
assert_true "the client recipes are installed" test -f "${STAGE}/usr/share/doc/twinhsm/clients.md"
assert_eq "$(sha256sum <"${MODULE}")" "$(sha256sum <"${STAGE}${MODULE_DIR}/libtwinhsm.so")" \
  "the installed module is the one built"

section "p11-kit sees the module (user registration, as nobody)"
# A device and keys, handed to the user that runs the clients.
chmod 0711 "${WORK}"
client_device uri "${WORK}/nobody/device"
keypair 01 uri-ec EC:prime256v1
export_pubkey 01 "${WORK}/uri-ec.pub.pem"
chmod 0644 "${TWINHSM_CONF}"
H="${WORK}/nobody/home"
mkdir -p "${H}/.config/pkcs11/modules"
# The staged module file, its module named by its staged path (p11-kit would look for
# libtwinhsm.so in ${MODULE_DIR}, where nothing is installed by this test).
sed "s|^module: libtwinhsm.so|module: ${STAGE}${MODULE_DIR}/libtwinhsm.so|" \
  "${STAGE}${CONFIGS_DIR}/twinhsm.module" >"${H}/.config/pkcs11/modules/twinhsm.module"
chown -R nobody "${WORK}/nobody"
as_nobody() { run runuser -u nobody -- env HOME="${H}" TWINHSM_CONF="${TWINHSM_CONF}" GNUTLS_PIN="${USER_PIN}" "$@"; }

recipe "p11-kit list-modules"
as_nobody p11-kit list-modules
assert_ok "p11-kit list-modules"
assert_true "p11-kit list-modules shows the module twinhsm" grep -q "^twinhsm: " "${OUT}"
assert_out_contains "library-description: twinhsm PKCS#11 module" "with its description"
assert_out_contains "token: uri" "and its token"

recipe "pkcs11: URIs"
as_nobody p11tool --list-tokens
assert_out_contains "token=uri" "p11tool (through p11-kit) lists the twinhsm token with its URI"
as_nobody p11tool --list-all "pkcs11:token=uri;object=uri-ec"
assert_ok "p11tool --list-all with a URI"
assert_eq 1 "$(grep -c '^Object ' "${OUT}")" "the URI selects the public key uri-ec (no login)"
assert_out_contains "object=uri-ec;type=public" "the selected object's URI"
as_nobody p11tool --login --list-privkeys "pkcs11:token=uri;object=uri-ec"
assert_eq 1 "$(grep -c '^Object ' "${OUT}")" "with a login the URI selects the private key uri-ec"
as_nobody p11tool --list-all "pkcs11:token=no-such-token"
assert_eq 0 "$(grep -c '^Object ' "${OUT}")" "a URI naming another token selects nothing"
printf 'cn = "uri test"\nserial = 3\nexpiration_days = 1\n' >"${WORK}/nobody/cert.tmpl"
chown nobody "${WORK}/nobody/cert.tmpl"
as_nobody certtool --generate-self-signed --template "${WORK}/nobody/cert.tmpl" \
  --load-privkey "pkcs11:token=uri;object=uri-ec;type=private" --outfile "${WORK}/nobody/cert.pem"
assert_ok "certtool signs with the key a pkcs11: URI names (module found through p11-kit)"
openssl x509 -in "${WORK}/nobody/cert.pem" -pubkey -noout >"${WORK}/cert.pub.pem" 2>/dev/null || true
assert_true "the certificate holds the token's key" same_pubkey "${WORK}/cert.pub.pem" "${WORK}/uri-ec.pub.pem"
run openssl verify -CAfile "${WORK}/nobody/cert.pem" "${WORK}/nobody/cert.pem"
assert_ok "openssl verifies its signature"
as_nobody pkcs11-tool --module "${PROXY}" --list-token-slots
assert_out_contains "token label        : uri" "pkcs11-tool on p11-kit-proxy.so sees the token"

e2e_finish
