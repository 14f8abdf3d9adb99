#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` (with the build directory's CPack configuration) makes
# twinhsm_VERSION_ARCH.deb; its contents (dpkg-deb -c) are the module in p11-kit's module
# directory, the command, the p11-kit module file, the documentation and the man page; unpacked
# into a scratch root (dpkg -x) the command, the module and the man page work. Then, as root and
# only when no twinhsm package is installed already, the package is really installed (dpkg -i),
# `p11-kit list-modules` shows twinhsm, and the package is purged again (also by the EXIT trap).
#
# Usage: package_test.sh PATH/TO/twinhsm PATH/TO/libtwinhsm.so BUILD_DIR
set -euo pipefail
# shellcheck source=clientlib.sh
source "$(dirname "$(realpath "$0")")/clientlib.sh"
client_init "$@"
need cpack dpkg-deb dpkg p11-kit pkg-config pkcs11-tool
[[ -n "${BUILD_DIR}" && -f "${BUILD_DIR}/CPackConfig.cmake" ]] ||
  { fail "give the build directory (with CPackConfig.cmake) as the third argument"; exit 1; }
MODULE_DIR="$(pkg-config --variable=p11_module_path p11-kit-1)"
CONFIGS_DIR="$(pkg-config --variable=p11_module_configs p11-kit-1)"
VERSION="$("${CLI}" --version | awk '{print $2}')"
ARCH="$(dpkg --print-architecture)"

recipe "cpack -G DEB"
run cpack -G DEB --config "${BUILD_DIR}/CPackConfig.cmake" -B "${WORK}/package"
assert_ok "cpack -G DEB"
DEB="${WORK}/package/twinhsm_${VERSION}_${ARCH}.deb"
assert_true "the package is ${DEB##*/}" test -f "${DEB}"
[[ -f "${DEB}" ]] || e2e_finish

section "what the package holds"
run dpkg-deb -f "${DEB}" Package Version Architecture Depends
assert_out_contains "Package: twinhsm" "the package's name"
assert_out_contains "Version: ${VERSION}" "the package's version is the command's"
assert_out_contains "libssl3" "it depends on OpenSSL's library (dpkg-shlibdeps)"
assert_out_contains "libsqlite3-0" "it depends on SQLite's library"
run dpkg-deb -c "${DEB}"
assert_ok "dpkg-deb -c"
cp "${OUT}" "${WORK}/contents.txt"
for f in "${MODULE_DIR}/libtwinhsm.so" /usr/bin/twinhsm "${CONFIGS_DIR}/twinhsm.module" \
  /usr/share/man/man1/twinhsm.1.gz /usr/share/doc/twinhsm/README.md /usr/share/doc/twinhsm/clients.md \
  /usr/share/doc/twinhsm/pkcs11.md /usr/share/doc/twinhsm/examples/twinhsm-p11-kit.service \
  /usr/libexec/twinhsm/isolated-mode.sh; do
  assert_true "the package installs ${f}" grep -qE " \.${f}\$" "${WORK}/contents.txt"
done
assert_true "the command is executable" grep -qE '^-rwxr-xr-x .* \./usr/bin/twinhsm$' "${WORK}/contents.txt"

recipe "dpkg -x into a scratch root"
R="${WORK}/root"
run dpkg -x "${DEB}" "${R}"
assert_ok "dpkg -x"
assert_eq "module: libtwinhsm.so" "$(grep -v '^#' "${R}${CONFIGS_DIR}/twinhsm.module" | grep -v '^$')" \
  "the module file registers libtwinhsm.so"
run "${R}/usr/bin/twinhsm" --version
assert_eq "twinhsm ${VERSION}" "$(cat "${OUT}")" "the packaged command runs"
client_device pkg
keypair 01 pkg-key EC:prime256v1
run pkcs11-tool --module "${R}${MODULE_DIR}/libtwinhsm.so" --login --pin "${USER_PIN}" --list-objects --type privkey
assert_ok "the packaged module (stripped) loads"
assert_out_contains "pkg-key" "the packaged module lists the token's key"

section "the man page"
MANTXT="${WORK}/twinhsm.1.txt"
if command -v man >/dev/null; then
  run env MANWIDTH=100 LC_ALL=C.UTF-8 man --warnings -l "${R}/usr/share/man/man1/twinhsm.1.gz"
  assert_ok "man renders twinhsm.1"
  cp "${OUT}" "${MANTXT}"
  assert_eq "" "$(grep -v '^$' "${ERR}" | head -5)" "man --warnings has no warning"
else
  # No man-db here: check the page's source, its roff escapes removed.
  echo "note: man is not installed; checking the man page's source"
  zcat "${R}/usr/share/man/man1/twinhsm.1.gz" | sed 's/\\-/-/g; s/\\f[BIRP]//g' >"${MANTXT}"
fi
assert_file_contains "${MANTXT}" "twinhsm - manage twinhsm devices" "the man page's NAME line"
assert_file_contains "${MANTXT}" "twinhsm ${VERSION}" "the man page carries the version"
# Every command and subcommand that --help lists has its section, with its options.
subcommands() { "${R}/usr/bin/twinhsm" "$@" --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF {print $1}'; }
n=0
for c in $(subcommands); do
  subs="$(subcommands "${c}")"
  [[ -n "${subs}" ]] || subs="-"
  for s in ${subs}; do
    path="${c}"
    [[ "${s}" == - ]] || path="${c} ${s}"
    n=$((n + 1))
    if grep -qE "(^ +|^\.SS \")twinhsm ${path}( |\"|$)" "${MANTXT}"; then pass; else fail "the man page has no section 'twinhsm ${path}'"; fi
    # shellcheck disable=SC2086
    for opt in $("${R}/usr/bin/twinhsm" ${path} --help | sed -n '/^Options:/,/^$/p' | grep -oE '^  (-[a-z],)?--[a-z0-9-]+' | grep -v -- '--help' | sed 's/^ *//'); do
      if grep -qF -- "${opt}" "${MANTXT}"; then pass; else fail "the man page does not document 'twinhsm ${path} ${opt}'"; fi
    done
  done
done
assert_true "the man page covers more than 10 commands (${n})" test "${n}" -gt 10

section "a real install (dpkg -i, then dpkg --purge)"
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: installing the package needs root"
  e2e_finish
fi
if dpkg-query -W -f='${Status}' twinhsm 2>/dev/null | grep -q "ok installed"; then
  echo "SKIP: a twinhsm package is already installed here; it is left alone"
  e2e_finish
fi
# One real install at a time (several test runs may share the machine); dpkg itself waits for
# nobody, so a busy dpkg database is retried for a while.
exec 9>"${TMPDIR:-/tmp}/twinhsm-package-test.lock"
flock -w 120 9 || { fail "another package test keeps the lock"; e2e_finish; }
dpkg_retry() {
  for _ in $(seq 30); do
    run "$@"
    [[ ${RC} -ne 0 ]] && grep -qi "lock" "${ERR}" || return 0
    sleep 2
  done
}
at_exit "dpkg --purge twinhsm"
dpkg_retry dpkg -i "${DEB}"
assert_ok "dpkg -i installs the package"
run p11-kit list-modules
assert_true "p11-kit list-modules shows twinhsm" grep -qE "^twinhsm: " "${OUT}"
assert_out_contains "library-description: twinhsm PKCS#11 module" "p11-kit loaded the module"
run env TWINHSM_CONF="${TWINHSM_CONF}" pkcs11-tool --module "$(pkg-config --variable=proxy_module p11-kit-1)" --list-token-slots
assert_out_contains "token label        : pkg" "applications using p11-kit-proxy.so see the token"
run /usr/bin/twinhsm --version
assert_eq "twinhsm ${VERSION}" "$(cat "${OUT}")" "/usr/bin/twinhsm runs"
if command -v man >/dev/null; then
  run man -w twinhsm
  assert_eq "/usr/share/man/man1/twinhsm.1.gz" "$(cat "${OUT}")" "man finds twinhsm(1)"
fi
dpkg_retry dpkg --purge twinhsm
assert_ok "dpkg --purge removes the package"
assert_true "the module is gone" test ! -e "${MODULE_DIR}/libtwinhsm.so"
run p11-kit list-modules
assert_file_not_contains "${OUT}" "twinhsm" "p11-kit no longer lists twinhsm"

e2e_finish
