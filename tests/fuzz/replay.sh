#!/usr/bin/env bash
# ctest fuzz_replay: every fuzz target's replay binary over its corpus and
# its regression inputs.
#
#   tests/fuzz/replay.sh FUZZ_SOURCE_DIR NAME_fuzz_replay...
#
# A target without a non-empty corpus/NAME/ fails (a seed corpus is part of
# every target); regressions/NAME/ is optional.
set -euo pipefail
src=$1
shift
fail=0
for bin in "$@"; do
  name=$(basename "$bin")
  name=${name%_fuzz_replay}
  corpus=$src/corpus/$name
  if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
    echo "FAIL: $name: no seed corpus in $corpus"
    fail=1
    continue
  fi
  dirs=("$corpus")
  [ -d "$src/regressions/$name" ] && dirs+=("$src/regressions/$name")
  if ! "$bin" "${dirs[@]}"; then
    echo "FAIL: $name"
    fail=1
  fi
done
exit $fail
