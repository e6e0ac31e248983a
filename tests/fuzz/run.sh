#!/usr/bin/env bash
# `make fuzz`: each libFuzzer target of build-fuzz for a bounded time (or a
# number of runs), one after the other, with its seed corpus.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS RUNS TARGET...
#
# RUNS empty: each target runs SECONDS (-max_total_time); else -runs=RUNS.
# New inputs go to BUILD_DIR/corpus/TARGET/ (the seeds in
# tests/fuzz/corpus/TARGET/ are read, never written); a crash is written to
# BUILD_DIR/artifacts/ and stops the run: copy it into
# tests/fuzz/regressions/TARGET/ once fixed, so make test replays it. The last
# lines of each run (executions, execs/s) go to BUILD_DIR/fuzz-TARGET.log.
set -euo pipefail
build=$1 seconds=$2 runs=$3
shift 3
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/artifacts"
for t in "$@"; do
  bin=$build/tests/fuzz/${t}_fuzz
  [ -x "$bin" ] || { echo "fuzz: no $bin (make fuzz builds it)" >&2; exit 2; }
  mkdir -p "$build/corpus/$t"
  limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  dict=()  # money_diff shares money's
  [ -f "$src/dict/${t%_diff}.dict" ] && dict=(-dict="$src/dict/${t%_diff}.dict")
  echo "fuzz: $t (${limit[*]})"
  # -close_fd_mask=2: the journal target's replay logs each torn tail; libFuzzer
  # and the sanitizers still report on their own copy of stderr
  nice -n 10 "$bin" "${limit[@]}" "${dict[@]}" -timeout=10 -print_final_stats=1 -close_fd_mask=2 \
    -artifact_prefix="$build/artifacts/$t-" "$build/corpus/$t" "$src/corpus/$t" 2>&1 | tee "$build/fuzz-$t.log" |
    grep -E '^(#[0-9]+ +(DONE|INITED)|Done|stat::|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' || true
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: $t found a crash: $build/artifacts/$t-*" >&2; exit 1; }
done
