#!/usr/bin/env bash
# Do snapshots stall the API? The mix (bench/mix.lua: 80 % reads, 20 %
# durable creates) on a table of N seed-sized orders (bench/gen_journal, 1M
# by default), for SECONDS_PER_RUN, once with a snapshot of the whole table
# starting about a second into the run and once with none, alternating for
# ROUNDS rounds; medians. Reports req/s, p99 and the longest wait of each,
# and the ratio of the p99s. Targets (issue 15): p99 with a snapshot <= 3x
# the p99 without, and no request waiting more than 50 ms. One orderd, 1
# worker thread, --fsync always; wrk -t1 -c64, on the same machine.
#
#   bench/snapshot_stall.sh   env: ROUNDS (3) SECONDS_PER_RUN (10) N (1000000) BUILD (build) PORT (18395)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-10}
n=${N:-1000000}
build=${BUILD:-build}
port=${PORT:-18395}
command -v wrk >/dev/null || { echo "bench/snapshot_stall.sh: wrk is not installed" >&2; exit 1; }
[ -x "$build/orderd" ] && [ -x "$build/bench/gen_journal" ] ||
  cmake --build "$build" -j "$(nproc)" --target orderd gen_journal >/dev/null
work=$(mktemp -d /var/tmp/orderd-bench-stall.XXXXXX)
pid=""
cleanup() { [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
url=http://127.0.0.1:$port

echo "bench/snapshot_stall.sh: writing $n orders" >&2
"$build/bench/gen_journal" "$work/base" "$n" >/dev/null
journal_bytes=$(cat "$work/base"/journal-*.wal | wc -c)

# SETUP (snapshot | none): a fresh copy of the table, orderd on it, fixtures for the mix
start() {
  rm -rf "$work/data" && cp -r "$work/base" "$work/data" && sync # no writeback of the copy during the run
  # a snapshot starts once this much journal has been written since the last:
  # what replay found plus about a second of the mix's creates
  local threshold=1099511627776
  [ "$1" = snapshot ] && threshold=$((journal_bytes + 1500000))
  "$build/orderd" --listen "127.0.0.1:$port" --threads 1 --data-dir "$work/data" --snapshot-bytes "$threshold" \
    2>"$work/orderd.log" &
  pid=$!
  for _ in $(seq 3000); do grep -q 'listening on' "$work/orderd.log" && break; sleep 0.01; done
  grep -q 'listening on' "$work/orderd.log" || { cat "$work/orderd.log" >&2; exit 1; }
  rm -f "$work/fixtures" "$work/fixtures.done"
  wrk -t1 -c16 -d600s -s bench/precreate.lua "$url" -- "$work/fixtures" stall- 64 768 >"$work/pre.out" 2>&1 &
  local pre=$!
  until [ -e "$work/fixtures.done" ] || ! kill -0 "$pre" 2>/dev/null; do sleep 0.1; done
  kill -INT "$pre" 2>/dev/null || true
  wait "$pre" || true
}

# -> "rps p99_us max_us snapshots_during_the_run"
measure() {
  local before line
  before=$(grep -c 'INFO snapshot ' "$work/orderd.log" || true)
  wrk -t1 -c64 -d"${secs}s" --timeout 10s -s bench/mix.lua "$url" -- "$work/fixtures" >"$work/wrk.out" 2>&1
  sleep 0.5
  line=$(grep '^BENCH ' "$work/wrk.out") || { cat "$work/wrk.out" >&2; exit 1; }
  grep -q 'non2xx=0 socket_errors=0' <<<"$line" || { echo "bench/snapshot_stall.sh: errors: $line" >&2; exit 1; }
  awk -v l="$line" -v snaps=$(($(grep -c 'INFO snapshot ' "$work/orderd.log" || true) - before)) '
    function field(k) { match(l, k "=[0-9.]*"); return substr(l, RSTART + length(k) + 1, RLENGTH - length(k) - 1) }
    BEGIN { printf "%s %s %s %d\n", field("rps"), field("p99_us"), field("max_us"), snaps }'
}

for r in $(seq "$rounds"); do
  order="none snapshot"
  [ $((r % 2)) -eq 0 ] && order="snapshot none"
  for s in $order; do
    echo "bench/snapshot_stall.sh: round $r of $rounds, $s" >&2
    start "$s"
    echo "$s $(measure)" >>"$work/all.txt"
    echo "bench/snapshot_stall.sh: $(tail -n 1 "$work/all.txt")" >&2
    kill -TERM "$pid"
    wait "$pid" || true
    pid=""
  done
done

pick() { awk -v s="$1" -v col="$2" '$1 == s { print $col }' "$work/all.txt" | median; }
p99_none=$(pick none 3)
echo "| run | req/s | p99 ms | p99 vs no snapshot | longest wait ms | snapshots during the run |"
echo "|---|---|---|---|---|---|"
for s in none snapshot; do
  awk -v s="$s" -v rps="$(pick "$s" 2)" -v p99="$(pick "$s" 3)" -v mx="$(pick "$s" 4)" -v sn="$(pick "$s" 5)" \
      -v base="$p99_none" \
    'BEGIN { printf "| %s | %.0f | %.2f | %.2f x | %.1f | %s |\n", (s == "none" ? "no snapshot" : "a snapshot of the table"),
             rps, p99 / 1000, (base > 0 ? p99 / base : 0), mx / 1000, sn }'
done
echo
echo "medians of $rounds rounds of ${secs} s; $n orders (bench/gen_journal) plus 768 fixtures; machine: $(nproc) cores," \
  "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); 1 worker thread, --fsync always; wrk -t1 -c64 (bench/mix.lua); $(date -u +%F)"
