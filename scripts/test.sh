#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (this is what CI runs: .ci/run).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$REPO/scripts/setup.sh"
ctest --test-dir "${TWINHSM_BUILD_DIR:-$REPO/build}" --output-on-failure -j 2 "$@"
