#!/usr/bin/env bash
# Runs the PKCS#11 benchmark (docs/performance.md): builds what it needs if it is missing or out
# of date, then runs bench/pkcs11_bench, which prints its table on stdout (progress on stderr).
#
#   bench/run.sh                  # the full run, about 5 minutes: N = 1,000 and 10,000
#   bench/run.sh --quick          # about a minute: N = 1,000, 3 rounds
#   bench/run.sh --sizes 1000,10000,100000   # issue 5's sizes (twinhsm fsyncs every object)
#   bench/run.sh --only objects --sizes 1000,100000   # issue 16's finds, private and public
#   bench/run.sh --only isolated --impls twinhsm   # issue 16's isolated mode (p11-kit server)
#   bench/run.sh --help           # every option
#
# Builds into $TWINHSM_BUILD_DIR (default build/, as scripts/setup.sh does) with the project's
# default RelWithDebInfo; a build of another type is refused, its figures would mean nothing.
# SoftHSMv2 comes from Debian's softhsm2 package (scripts/setup.sh installs it); without it its
# column is n/a.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TWINHSM_BUILD_DIR:-$REPO/build}

if [[ ! -f $BUILD/build.ninja ]]; then
  cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
if [[ $type != RelWithDebInfo && $type != Release ]]; then
  echo "bench/run.sh: $BUILD is a '$type' build; benchmark a RelWithDebInfo or Release build" \
       "(TWINHSM_BUILD_DIR=DIR picks another build directory)" >&2
  exit 1
fi
# Two jobs at most: the machine is shared, and the benchmark measures it right after.
ninja -C "$BUILD" -j 2 pkcs11_bench twinhsm twinhsm_cli >&2

if [[ ! -e /usr/lib/softhsm/libsofthsm2.so ]]; then
  echo "bench/run.sh: SoftHSMv2 is not installed (apt-get install softhsm2): its column will be n/a" >&2
fi
if ! command -v p11-kit >/dev/null; then
  echo "bench/run.sh: p11-kit is not installed (apt-get install p11-kit p11-kit-modules): the isolated rows will be n/a" >&2
fi
rev=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
exec "$BUILD/bench/pkcs11_bench" --note "twinhsm built from $rev in $BUILD" "$@"
