#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (this is what CI runs: .ci/run).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$REPO/scripts/setup.sh"
ctest --test-dir "${TWINHSM_BUILD_DIR:-$REPO/build}" --output-on-failure -j 2 "$@"
# Then the suite under ASan+UBSan and the threaded tests under TSan, then a one-minute run of
# each fuzz target (TWINHSM_SKIP_SANITIZE=1 / TWINHSM_SKIP_FUZZ=1 leave them out locally).
if [[ -z ${TWINHSM_SKIP_SANITIZE:-} ]]; then
  "$REPO/scripts/sanitize.sh"
fi
if [[ -z ${TWINHSM_SKIP_FUZZ:-} ]]; then
  "$REPO/scripts/fuzz.sh" 60
fi
