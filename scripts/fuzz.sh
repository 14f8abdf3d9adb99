#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, in build-fuzz/ with clang and -DTWINHSM_FUZZ=ON: libFuzzer
# + ASan + UBSan) and runs each for SECONDS (default 60), as many at a time as there are CPUs,
# starting from a copy of its seed corpus in fuzz/corpus/<target>/ (the repository's corpus
# never grows). Exits non-zero if any
# target crashes, leaks, hangs or reports a sanitizer error; the input that did it is kept under
# build-fuzz/findings/<target>/ and the target's log is printed.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 60 s, every target)
# Environment:
#   TWINHSM_FUZZ_BUILD_DIR  the build directory (default build-fuzz/)
#   TWINHSM_FUZZ_OUT        keep the work directory (grown corpora, logs) there instead of a
#                           temporary one that is removed after a clean run
#   TWINHSM_FUZZ_ARGS       more libFuzzer arguments (e.g. -dict=..., -max_len=...)
#   TWINHSM_FUZZ_STRICT=1   the targets also abort on non-canonical accepted input and on
#                           CKR_GENERAL_ERROR / CKR_DEVICE_ERROR (see fuzz/*.cc)
#   TWINHSM_JOBS            build parallelism (default 2)
#   TWINHSM_FUZZ_PARALLEL   targets run at the same time (default: the number of CPUs)
# A crash is reproduced with: build-fuzz/fuzz/<target> build-fuzz/findings/<target>/<file>
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_SECONDS=${1:-60}
shift || true
ALL_TARGETS=(fuzz_backup fuzz_backup_records fuzz_stored_object fuzz_config fuzz_templates
  fuzz_mechanisms fuzz_softhsm2_object)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")
BUILD=${TWINHSM_FUZZ_BUILD_DIR:-$REPO/build-fuzz}
JOBS=${TWINHSM_JOBS:-2}
FINDINGS=$BUILD/findings
if command -v llvm-symbolizer >/dev/null; then
  export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer)}
fi

echo "== fuzz: build ($BUILD, clang)"
# -O1 and line tables, as OSS-Fuzz builds: half the compile time of -O2 -g, symbolized stacks;
# no NDEBUG, so that assert() stays on.
CC=clang CXX=clang++ cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DTWINHSM_FUZZ=ON -DTWINHSM_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target fuzzers

if [[ -n ${TWINHSM_FUZZ_OUT:-} ]]; then
  OUT=$TWINHSM_FUZZ_OUT
  mkdir -p "$OUT"
  keep=1
else
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/twinhsm-fuzz.XXXXXX")
  keep=0
fi

# run_target T: one target's run; its summary line goes to $OUT/T.summary, and a failure also to
# $OUT/T.failed (the runs go on in parallel, so nothing is shared but files).
run_target() {
  local t=$1 work=$OUT/$1 rc=0
  rm -rf "$work/artifacts" "$FINDINGS/$t" "$OUT/$t.summary" "$OUT/$t.failed"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -R "$REPO/fuzz/corpus/$t/." "$work/corpus/"
  echo "== fuzz: $t for ${RUN_SECONDS}s ($(ls "$work/corpus" | wc -l) inputs in the corpus)"
  # -timeout: an input that runs longer is a hang. -rss_limit_mb: more memory is a finding.
  # shellcheck disable=SC2086
  (cd "$work" && "$BUILD/fuzz/$t" -max_total_time="$RUN_SECONDS" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" ${TWINHSM_FUZZ_ARGS:-} corpus \
    >"$work/log" 2>&1) || rc=$?
  local status execs rate cov line artifacts
  status=$(grep -E '^#[0-9]+\s+(DONE|pulse|NEW|REDUCE|INITED)' "$work/log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  cov=$(sed -nE 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/cov \1, ft \2, corpus \3/p' <<<"$status")
  line="$t: ${execs:-?} runs (${rate:-?}/s), ${cov:-no coverage line}"
  artifacts=$(ls -A "$work/artifacts")
  if ((rc != 0)) || [[ -n $artifacts ]]; then
    line+=" -- FAILED (exit $rc)"
    mkdir -p "$FINDINGS/$t"
    if [[ -n $artifacts ]]; then
      cp "$work/artifacts/"* "$FINDINGS/$t/"
    fi
    cp "$work/log" "$FINDINGS/$t/log"
    {
      echo "---- $t: the end of its log (all of it: $FINDINGS/$t/log)"
      tail -n 60 "$work/log"
      echo "----"
    } >"$OUT/$t.failed"
  fi
  echo "$line" >"$OUT/$t.summary"
  echo "   $line"
}

for t in "${TARGETS[@]}"; do
  if [[ ! -x $BUILD/fuzz/$t ]]; then
    echo "fuzz: no target $t (have: ${ALL_TARGETS[*]})" >&2
    exit 2
  fi
done
# TWINHSM_FUZZ_PARALLEL targets at a time (default: the number of CPUs).
PARALLEL=${TWINHSM_FUZZ_PARALLEL:-$(nproc)}
for t in "${TARGETS[@]}"; do
  while (($(jobs -rp | wc -l) >= PARALLEL)); do
    wait -n || true
  done
  run_target "$t" &
done
wait

failed=()
summary=()
for t in "${TARGETS[@]}"; do
  summary+=("$(cat "$OUT/$t.summary" 2>/dev/null || echo "$t: no result")")
  if [[ -f $OUT/$t.failed || ! -f $OUT/$t.summary ]]; then
    failed+=("$t")
    cat "$OUT/$t.failed" 2>/dev/null || true
  fi
done

echo "== fuzz: summary (${RUN_SECONDS}s each)"
printf '   %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "== fuzz: FAILED: ${failed[*]}; inputs and logs in $FINDINGS/ (work directory $OUT)"
  exit 1
fi
if ((keep == 0)); then
  rm -rf "$OUT"
else
  echo "== fuzz: grown corpora and logs in $OUT"
fi
