#!/usr/bin/env bash
# The code's style, checked or applied with Debian 12's clang tools (scripts/setup.sh installs
# them). The test suite runs both checks (ctest style_format and style_tidy, label style).
#
#   scripts/style.sh format           clang-format -i over every C++ file in git
#   scripts/style.sh check-format     clang-format --dry-run --Werror over the same files
#   scripts/style.sh tidy BUILD_DIR   clang-tidy (.clang-tidy's checks, warnings are errors) over
#                                     src/, with BUILD_DIR's compile_commands.json
#
# src/common/pkcs11.h is p11-kit's header with the 3.0 names added: kept in its authors' layout.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

sources() {  # every C++ file of the project, from git when this is a checkout
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -- '*.cc' '*.h'
  else
    find src tests bench fuzz -name '*.cc' -o -name '*.h'
  fi | grep -vx 'src/common/pkcs11.h'
}

case ${1:-} in
  format) sources | xargs clang-format-14 -i ;;
  check-format) sources | xargs clang-format-14 --dry-run --Werror ;;
  tidy)
    build=${2:?usage: $0 tidy BUILD_DIR}
    [[ -f $build/compile_commands.json ]] || { echo "style: no $build/compile_commands.json" >&2; exit 2; }
    # -quiet: only the findings; run-clang-tidy exits non-zero when a file has one.
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    rc=0
    run-clang-tidy-14 -p "$build" -j "${TWINHSM_JOBS:-2}" -quiet "$REPO/src/" >"$log" 2>&1 || rc=$?
    grep -v '^Suppressed\|^Use -header-filter\|warnings\? generated\|^clang-tidy-14 ' "$log" || true
    exit "$rc"
    ;;
  *) echo "usage: $0 format | check-format | tidy BUILD_DIR" >&2; exit 2 ;;
esac
