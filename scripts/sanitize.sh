#!/usr/bin/env bash
# The test suite under the sanitizers (scripts/test.sh runs it after the normal suite):
#   asan  build-asan/, everything but bench/ (no test runs it) built with
#         -DTWINHSM_SANITIZE=address,undefined; the whole ctest
#         suite runs there, in two passes:
#         1. every test but the end-to-end ones (and the style checks, which run no code of
#            ours): test programs, instrumented, that load the instrumented module with
#            dlopen(); leak detection on;
#            This includes p11_teardown_test, whose application (p11_teardown_app, instrumented
#            too) exits, forks and unloads the module: leaks and use after free at exit show here;
#            and the hostile_providers:/hostile_engine: runs of p11_mechanisms_test.
#         2. the end-to-end tests (label e2e, and quickstart), which load the module into programs
#            that are not instrumented (pkcs11-tool, openssl, python3, ...): the ASan runtime is
#            preloaded (LD_PRELOAD), as the module needs; leak detection off (those programs'
#            own allocations are not ours to check; pass 1 checks the module's).
#            Left out of pass 2, because the preloaded runtime breaks a program they need, not
#            twinhsm (they run in the normal suite):
#              clients_ssh            ssh-agent is setgid: it drops LD_PRELOAD, and its PKCS#11
#                                     helper then cannot load an ASan module
#              clients_gnutls, clients_java, clients_p11kit, clients_isolated,
#              clients_isolated_tpm, clients_remote,
#              e2e_conformance_tools  programs linked with libp11-kit (certtool, p11tool, p11-kit,
#                                     p11-kit server) hang at exit with ASan preloaded: p11-kit's
#                                     destructor blocks in freelocale() on glibc's locale lock
#              clients_package        builds and installs a Debian package of the build
#                                     system-wide; an ASan build is no package to install
#            coreutils' dd calls aligned_alloc(4096, 1), which ASan refuses: the tests' dd runs
#            without the preload (a wrapper first on PATH). OpenSC 0.23's pkcs11-tool reads
#            freed memory in libcrypto when it exports an EC public key (--read-object --type
#            pubkey): reports from interceptors called by libcrypto itself are suppressed.
#   tsan  build-tsan/, -DTWINHSM_SANITIZE=thread; the tests that run threads: the two-thread
#         stress test (TWINHSM_STRESS_SECONDS, default here 20), the module interface and slot
#         tests (ConcurrentSessionsFromManyThreads), parallel signing in many sessions, the
#         two-process store test, the crypto layer's threaded signer test, all button tests, the
#         commit queue's hand-over between two connections (threads) of one store.
# Any report fails the test it happens in (abort_on_error, halt_on_error, UBSan not recoverable)
# and this script. The sanitizer builds use -O1 -g1 (line tables: symbolized stacks) and keep
# assert() on.
#
# Usage: scripts/sanitize.sh [asan|tsan|all] [extra ctest arguments...]   (default: all)
# Environment: TWINHSM_SANITIZE_CC / TWINHSM_SANITIZE_CXX (default gcc / g++; clang works too),
# TWINHSM_ASAN_BUILD_DIR, TWINHSM_TSAN_BUILD_DIR, TWINHSM_JOBS (default 2),
# TWINHSM_STRESS_SECONDS (default 20).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHAT=${1:-all}
shift || true
case $WHAT in asan | tsan | all) ;; *) echo "usage: $0 [asan|tsan|all] [ctest args...]" >&2; exit 2 ;; esac

JOBS=${TWINHSM_JOBS:-2}
CC_=${TWINHSM_SANITIZE_CC:-gcc}
CXX_=${TWINHSM_SANITIZE_CXX:-g++}
ASAN_DIR=${TWINHSM_ASAN_BUILD_DIR:-$REPO/build-asan}
TSAN_DIR=${TWINHSM_TSAN_BUILD_DIR:-$REPO/build-tsan}
export TWINHSM_STRESS_SECONDS=${TWINHSM_STRESS_SECONDS:-20}
# Symbolized stacks in every report.
if command -v llvm-symbolizer >/dev/null; then
  export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer)}
fi

log() { printf '\n== sanitize: %s\n' "$*"; }
elapsed() { printf '%dm%02ds' $((SECONDS / 60)) $((SECONDS % 60)); }

configure_and_build() {  # DIR SANITIZERS [targets...]
  local dir=$1 san=$2
  shift 2
  CC=$CC_ CXX=$CXX_ cmake -S "$REPO" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DTWINHSM_SANITIZE="$san" -DTWINHSM_BUILD_BENCH=OFF >/dev/null
  if (($#)); then
    cmake --build "$dir" -j "$JOBS" --target "$@"
  else
    cmake --build "$dir" -j "$JOBS"
  fi
}

# runtime_of LIB: the path of the compiler's sanitizer runtime (shared), for LD_PRELOAD.
runtime_of() {
  local path
  path=$("$CXX_" -print-file-name="$1")
  if [[ $path != /* || ! -e $path ]]; then
    echo "sanitize: cannot find $1 of $CXX_" >&2
    exit 1
  fi
  readlink -f "$path"
}

failed=()

run_asan() {
  log "ASan+UBSan: build ($ASAN_DIR, $CXX_)"
  configure_and_build "$ASAN_DIR" address,undefined
  # The preload list: the ASan runtime, and libstdc++ so that ASan's __cxa_throw interceptor
  # finds the real one at start-up even in a C program (pkcs11-tool) that gets C++ only when it
  # dlopen()s the module (else: "CHECK failed: ... real___cxa_throw" at the module's first throw).
  local rt
  if "$CXX_" --version | grep -qi clang; then
    rt=$(runtime_of libclang_rt.asan-x86_64.so)
  else
    rt=$(runtime_of libasan.so)
  fi
  rt+=" $(runtime_of libstdc++.so)"
  local common=abort_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1
  common+=:detect_stack_use_after_return=1:print_suppressions=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:report_error_type=1

  log "ASan+UBSan: the instrumented test programs (all but e2e and quickstart)"
  if ! ASAN_OPTIONS=$common ctest --test-dir "$ASAN_DIR" --output-on-failure -j "$JOBS" \
    -LE 'e2e|style' -E '^quickstart$' "$@"; then
    failed+=("asan: test programs")
  fi

  # Pass 2 (see the top of this file for what is left out, and why).
  log "ASan+UBSan: end-to-end tests (label e2e, and quickstart), with $rt preloaded"
  local exclude='^(clients_ssh|clients_gnutls|clients_java|clients_p11kit|clients_isolated'
  exclude+='|clients_isolated_tpm|clients_remote|clients_package|e2e_conformance_tools)$'
  local names
  names=$(ctest --test-dir "$ASAN_DIR" -N -L e2e | sed -nE 's/^ *Test +#[0-9]+: +(.*)$/\1/p' |
    grep -vE "$exclude" | paste -sd'|')
  local bin=$ASAN_DIR/sanitize-path
  mkdir -p "$bin"
  printf '#!/bin/sh\n# ASan refuses its aligned_alloc(4096, 1): run it without the preload.\n%s\n' \
    'unset LD_PRELOAD; exec /usr/bin/dd "$@"' >"$bin/dd"
  chmod +x "$bin/dd"
  printf '%s\n' '# OpenSC 0.23 pkcs11-tool: use after free inside libcrypto (not twinhsm)' \
    'interceptor_via_lib:libcrypto.so.3' >"$ASAN_DIR/sanitize-e2e.supp"
  if ! PATH=$bin:$PATH LD_PRELOAD=$rt \
    ASAN_OPTIONS=$common:detect_leaks=0:suppressions=$ASAN_DIR/sanitize-e2e.supp \
    ctest --test-dir "$ASAN_DIR" --output-on-failure -j "$JOBS" -R "^(${names:+$names|}quickstart)\$" \
    "$@"; then
    failed+=("asan: end-to-end tests")
  fi
  log "ASan+UBSan done at $(elapsed)"
}

run_tsan() {
  log "TSan: build ($TSAN_DIR, $CXX_)"
  configure_and_build "$TSAN_DIR" thread \
    p11_stress_test p11_interface_test p11_crypto_test p11_store_test crypto_test button_test \
    store_unit_test
  local tests='^(StressTest|InterfaceTest|SlotsTest|SocketButton|Press|TtyButton|GpioButton'
  tests+='|GpioDebounce|GpiodLineSource|InsecureAuto|MakeButton|ParseGpioSpec|Button)\.'
  tests+='|^CryptoTest\.ParallelSigningInManySessions$|^StoreTest\.TwoProcessesWriteAtTheSameTime$'
  tests+='|^Signer\.OneKeyOnSeveralThreads$|^HandOverTest\.'
  log "TSan: the threaded tests (stress: ${TWINHSM_STRESS_SECONDS}s)"
  if ! TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:history_size=4 \
    ctest --test-dir "$TSAN_DIR" --output-on-failure -j "$JOBS" -R "$tests" "$@"; then
    failed+=("tsan")
  fi
  log "TSan done at $(elapsed)"
}

case $WHAT in
  asan) run_asan "$@" ;;
  tsan) run_tsan "$@" ;;
  all)
    run_asan "$@"
    run_tsan "$@"
    ;;
esac

if ((${#failed[@]})); then
  log "FAILED: ${failed[*]} ($(elapsed))"
  exit 1
fi
log "clean ($(elapsed))"
