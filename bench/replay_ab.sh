#!/usr/bin/env bash
# Replay time of two orderd binaries on the same journal, alternating (A B,
# then B A, ...), for before/after comparisons of a change: each start waits
# for the "listening" line, is stopped with SIGTERM, and the replay time
# orderd logs is printed. The journal (N seed-sized orders by
# bench/gen_journal, 10,000 users) is made once in DIR if DIR is empty.
#
#   bench/replay_ab.sh BIN_A BIN_B [DIR] [ROUNDS] [N]    (DIR a temporary one, ROUNDS 5, N 1000000)
#   env: BUILD (build: where bench/gen_journal is), PORT (18558)
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
a=$1 b=$2 rounds=${4:-5} n=${5:-1000000} build=${BUILD:-build} port=${PORT:-18558}
dir=${3:-}
if [ -z "$dir" ]; then dir=$(mktemp -d /var/tmp/orderd-replay-ab.XXXXXX); trap 'rm -rf "$dir"' EXIT; fi
[ -e "$dir"/journal-0000000000000001.wal ] || "$build/bench/gen_journal" "$dir" "$n" >/dev/null
log=$(mktemp)
run() {
  rm -f "$dir/LOCK"
  "$1" --listen "127.0.0.1:$port" --threads 1 --data-dir "$dir" --snapshot-bytes 1099511627776 2>"$log" &
  local pid=$!
  for _ in $(seq 3000); do grep -q "listening on" "$log" && break; sleep 0.01; done
  kill -TERM "$pid"
  wait "$pid" || true
  grep -o "in [0-9.]* ms ([0-9]* records/s)" "$log"
}
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then echo "A $(run "$a")"; echo "B $(run "$b")"; else echo "B $(run "$b")"; echo "A $(run "$a")"; fi
done
rm -f "$log"
