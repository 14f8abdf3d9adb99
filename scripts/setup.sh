#!/usr/bin/env bash
# Installs what twinhsm needs from Debian's archive (only what is missing; apt needs root) and
# builds it into build/. Sourced by quickstart.sh and test.sh; run alone to just build.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TWINHSM_BUILD_DIR:-$REPO/build}

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config
  # libraries
  libssl-dev libsqlite3-dev libp11-kit-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
  libgpiod-dev libgtest-dev libgmock-dev libbenchmark-dev
  # the TPM secure element (src/tpm: tpm2-tss's ESAPI and TCTI loader) and its tests: the swtpm
  # simulator, and tpm2-tools, which the tests use as another program on the same TPM
  libtss2-dev swtpm swtpm-tools tpm2-tools
  # the tools users judge us with, and the tests run
  openssl opensc sqlite3 python3 softhsm2 gnutls-bin python3-pykcs11 p11-kit
  # the mechanism tests' second opinion (tests/e2e/*_mechanisms_test.py: OpenSSL through Python
  # where the openssl command has no such operation) and where tests/data/vectors came from
  python3-cryptography python3-cryptography-vectors
  # real clients (tests/clients, docs/clients.md)
  openssh-client openssh-server openjdk-17-jdk-headless libengine-pkcs11-openssl
  # fuzzing and sanitizers (scripts/fuzz.sh, scripts/sanitize.sh): clang and its libFuzzer and
  # sanitizer runtimes; llvm for llvm-symbolizer (readable stacks). GCC's runtimes come with gcc.
  clang libclang-rt-14-dev llvm
  # the style checks (scripts/style.sh)
  clang-format-14 clang-tidy-14
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run this script as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${TWINHSM_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
