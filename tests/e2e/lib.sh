# shellcheck shell=bash
# Helpers shared by the end-to-end tests. A test script sources this file after `set -euo pipefail`
# and calls e2e_init; every assertion records its failure (with what was expected and what was
# seen) and lets the script go on, so one run shows every broken behaviour; e2e_finish exits
# non-zero if any assertion failed. `must` is for setup steps the rest of the script depends on:
# it stops the script at once.

E2E_FAILURES=0
E2E_CHECKS=0
E2E_RUNS=0
WORK=""
# The python that has only the standard library; the first python3 on PATH may be another one.
PY=/usr/bin/python3

e2e_cleanup() {
  local rc=$?
  if [[ -n "${WORK}" && -d "${WORK}" ]]; then
    if [[ -n "${E2E_KEEP_WORKDIR:-}" ]]; then
      echo "e2e: keeping work directory ${WORK}" >&2
    else
      rm -rf -- "${WORK}"
    fi
  fi
  exit "${rc}"
}

# e2e_init makes the work directory ($WORK, removed on exit unless E2E_KEEP_WORKDIR is set) and
# the log of everything the commands printed ($ALL_OUTPUT), used to check that secrets are never
# printed.
e2e_init() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/twinhsm-e2e.XXXXXXXX")"
  trap e2e_cleanup EXIT
  ALL_OUTPUT="${WORK}/all-output.log"
  : >"${ALL_OUTPUT}"
  # Never touch the real default device of whoever runs the tests.
  export XDG_DATA_HOME="${WORK}/xdg-default"
  unset TWINHSM_CONF TWINHSM_LOG TWINHSM_LOG_FILE
}

# e2e_require_built CLI MODULE: stops at once, with one clear failure, when the command or the
# module under test is missing (not built yet, or the build failed).
e2e_require_built() {
  local f
  for f in "$@"; do
    if [[ ! -f "${f}" ]]; then
      fail "${f} does not exist: build the twinhsm and twinhsm_cli targets first"
      exit 1
    fi
  done
}

section() { echo "=== $*"; }

fail() {
  E2E_FAILURES=$((E2E_FAILURES + 1))
  echo "FAIL: $*" >&2
}

pass() { E2E_CHECKS=$((E2E_CHECKS + 1)); }

# run CMD... runs a command without stopping the script. Afterwards: $RC is its exit status,
# $OUT and $ERR name files with its stdout and stderr, $CMD is the command line (for messages).
run() {
  E2E_RUNS=$((E2E_RUNS + 1))
  OUT="${WORK}/run-${E2E_RUNS}.out"
  ERR="${WORK}/run-${E2E_RUNS}.err"
  CMD="$*"
  RC=0
  timeout -k 5 "${E2E_CMD_TIMEOUT:-120}" "$@" >"${OUT}" 2>"${ERR}" </dev/null || RC=$?
  # Only what the command printed (not its command line, which may hold a PIN on purpose).
  cat "${OUT}" "${ERR}" >>"${ALL_OUTPUT}"
  printf '%q ' "$@" >>"${WORK}/commands.log"
  echo >>"${WORK}/commands.log"
}

show_run() {
  echo "    command: ${CMD}" >&2
  echo "    exit status: ${RC}" >&2
  echo "    stdout: $(head -c 2000 "${OUT}" | sed 's/^/      /' | sed '1s/^ *//')" >&2
  echo "    stderr: $(head -c 2000 "${ERR}" | sed 's/^/      /' | sed '1s/^ *//')" >&2
}

# must CMD...: a setup step; stops the script if it fails.
must() {
  run "$@"
  if [[ ${RC} -ne 0 ]]; then
    fail "setup step failed, cannot go on"
    show_run
    exit 1
  fi
}

assert_ok() { # DESCRIPTION: the last run exited 0
  if [[ ${RC} -eq 0 ]]; then pass; else
    fail "$1: expected exit status 0"
    show_run
  fi
}

assert_fails() { # DESCRIPTION: the last run exited non-zero
  if [[ ${RC} -ne 0 ]]; then pass; else
    fail "$1: expected a non-zero exit status"
    show_run
  fi
}

# assert_cli_error DESCRIPTION: the last run failed the way every twinhsm failure must: non-zero
# exit and exactly one line on stderr, starting with "twinhsm: ".
assert_cli_error() {
  local lines
  lines="$(wc -l <"${ERR}")"
  if [[ ${RC} -ne 0 && ${lines} -eq 1 && "$(head -c 9 "${ERR}")" == "twinhsm: " ]]; then
    pass
  else
    fail "$1: expected non-zero exit and exactly one stderr line starting with 'twinhsm: ' (got ${lines} lines)"
    show_run
  fi
}

# assert_cli_error_matches DESCRIPTION REGEX: assert_cli_error, and the line matches REGEX
# (grep -E, case-insensitive).
assert_cli_error_matches() {
  assert_cli_error "$1"
  if grep -qiE -- "$2" "${ERR}"; then pass; else
    fail "$1: expected the error to match /$2/"
    show_run
  fi
}

assert_eq() { # EXPECTED ACTUAL DESCRIPTION
  if [[ "$1" == "$2" ]]; then pass; else
    fail "$3: expected '$1', got '$2'"
  fi
}

assert_ne() { # UNEXPECTED ACTUAL DESCRIPTION
  if [[ "$1" != "$2" ]]; then pass; else
    fail "$3: expected something other than '$1'"
  fi
}

assert_match() { # REGEX ACTUAL DESCRIPTION (bash =~)
  if [[ "$2" =~ $1 ]]; then pass; else
    fail "$3: expected to match /$1/, got '$2'"
  fi
}

assert_file_contains() { # FILE FIXED-STRING DESCRIPTION
  if grep -qF -- "$2" "$1"; then pass; else
    fail "$3: expected '$2' in $(basename "$1")"
    echo "    content: $(head -c 3000 "$1")" >&2
  fi
}

assert_file_not_contains() { # FILE FIXED-STRING DESCRIPTION (case-insensitive)
  if grep -qiF -- "$2" "$1"; then
    fail "$3: '$2' must not appear in $(basename "$1")"
    grep -niF -- "$2" "$1" | head -5 | sed 's/^/    /' >&2
  else pass; fi
}

assert_out_contains() { assert_file_contains "${OUT}" "$1" "$2"; }
assert_err_contains() { assert_file_contains "${ERR}" "$1" "$2"; }

assert_true() { # DESCRIPTION CMD...: CMD exits 0
  local d="$1"
  shift
  if "$@"; then pass; else fail "${d}: '$*' is false"; fi
}

# json FILE EXPR: evaluates the Python expression EXPR with `d` bound to the JSON in FILE; prints
# strings as they are and everything else as JSON (true/false/null, numbers, lists). Prints
# "<invalid-json>" or "<error: ...>" when the file or the expression fails, so that assertions
# report it rather than the script stopping.
json() {
  "${PY}" - "$1" "$2" <<'EOF' 2>/dev/null || echo "<invalid-json>"
import json, sys
try:
    with open(sys.argv[1]) as f:
        d = json.load(f)
except Exception:
    print("<invalid-json>")
    sys.exit(0)
try:
    v = eval(sys.argv[2], {"d": d, "len": len, "sorted": sorted, "all": all, "any": any,
                           "isinstance": isinstance, "str": str, "int": int, "bool": bool,
                           "list": list, "dict": dict, "set": set})
except Exception as e:
    print("<error: %s: %s>" % (type(e).__name__, e))
    sys.exit(0)
print(v if isinstance(v, str) else json.dumps(v))
EOF
}

# tree_sum DIR: one checksum over the names, modes and contents of every file under DIR.
tree_sum() {
  (cd "$1" && find . -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' f; do
    if [[ -f "$f" ]]; then
      printf '%s %s %s\n' "$f" "$(stat -c %a "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
    else
      printf '%s %s\n' "$f" "$(stat -c %a "$f")"
    fi
  done) | sha256sum | cut -d' ' -f1
}

file_mode() { stat -c %a "$1"; }

# write_conf FILE DEVICE...: a TWINHSM_CONF file with one [[slot]] per device.
write_conf() {
  local f="$1"
  shift
  : >"$f"
  local d
  for d in "$@"; do
    printf '[[slot]]\ndevice = "%s"\n\n' "$d" >>"$f"
  done
}

e2e_finish() {
  echo "=== ${E2E_CHECKS} checks passed, ${E2E_FAILURES} failed"
  if [[ ${E2E_FAILURES} -ne 0 ]]; then
    exit 1
  fi
  exit 0
}
