#!/usr/bin/env bash
# What counting for /metrics costs: a build with the counting filter
# (-DORDERD_METRICS=ON, the default) against one without it
# (-DORDERD_METRICS=OFF), same machine, alternating ROUNDS times (the order
# flips every round), on two loads with wrk (HTTP/1.1, 64 connections, one
# worker thread): create (durable, --fsync always) and get (of 1000 orders
# made first). Two figures per build, medians over the rounds:
#   - CPU per request: the server process's user+system time over the run
#     (/proc/PID/stat) divided by the requests wrk completed. It does not
#     depend on what else the machine runs, so it is the cost figure;
#   - req/s, which on a 2-core machine shared with the client (and whatever
#     else runs) swings by more than the cost being measured.
# Nothing scrapes /metrics meanwhile: the cost measured is counting every
# response, which every build pays whether anyone scrapes or not.
#
#   bench/metrics.sh   env: ROUNDS (5) SECONDS_PER_RUN (5)
#                           BUILD_ON (build-metrics-on) BUILD_OFF (build-metrics-off)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${ROUNDS:-5}
secs=${SECONDS_PER_RUN:-5}
on=${BUILD_ON:-build-metrics-on}
off=${BUILD_OFF:-build-metrics-off}
port=${PORT:-18280}
work=$(mktemp -d /var/tmp/orderd-bench-metrics.XXXXXX)
pid=""
cleanup() { [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for b in "$on:ON" "$off:OFF"; do
  cmake -S . -B "${b%%:*}" -DCMAKE_BUILD_TYPE=Release -DORDERD_METRICS="${b##*:}" >/dev/null
  cmake --build "${b%%:*}" -j "$(nproc)" --target orderd >/dev/null
done

ticks=$(getconf CLK_TCK)

start() { # BUILD_DIR
  rm -rf "$work/data"
  "$1/orderd" --listen "127.0.0.1:$port" --threads 1 --data-dir "$work/data" 2>"$work/orderd.log" &
  pid=$!
  for _ in $(seq 100); do grep -q 'listening on' "$work/orderd.log" && return 0; sleep 0.05; done
  cat "$work/orderd.log" >&2
  exit 1
}

stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }

# SCRIPT ARGS... -> "cpu_us_per_request req/s"
measure() {
  local before after line requests
  before=$(cpu_ticks "$pid")
  wrk -t1 -c64 -d"${secs}s" --timeout 5s -s "bench/$1.lua" "http://127.0.0.1:$port" -- "${@:2}" >"$work/wrk.out" 2>&1
  after=$(cpu_ticks "$pid")
  line=$(grep '^BENCH ' "$work/wrk.out") || { cat "$work/wrk.out" >&2; exit 1; }
  grep -q 'non2xx=0 socket_errors=0' <<<"$line" || { echo "bench/metrics.sh: errors: $line" >&2; exit 1; }
  requests=$(grep -o 'requests=[0-9]*' <<<"$line" | cut -d= -f2)
  awk -v t=$((after - before)) -v hz="$ticks" -v n="$requests" -v l="$line" \
    'BEGIN { match(l, /rps=[0-9.]*/); printf "%.2f %s\n", t / hz * 1e6 / n, substr(l, RSTART + 4, RLENGTH - 4) }'
}

for r in $(seq "$rounds"); do
  order="on off"
  [ $((r % 2)) -eq 0 ] && order="off on"
  for b in $order; do
    dir=$on
    [ "$b" = off ] && dir=$off
    echo "bench/metrics.sh: round $r of $rounds, metrics $b" >&2
    start "$dir"
    echo "create $b $(measure create)" >>"$work/all.txt"
    rm -f "$work/fixtures" "$work/fixtures.done"
    wrk -t1 -c16 -d600s -s bench/precreate.lua "http://127.0.0.1:$port" -- "$work/fixtures" fx- 100 1000 \
      >"$work/precreate.out" 2>&1 &
    pre=$!
    until [ -e "$work/fixtures.done" ] || ! kill -0 "$pre" 2>/dev/null; do sleep 0.05; done
    kill -INT "$pre" 2>/dev/null || true
    wait "$pre" || true
    echo "get $b $(measure get "$work/fixtures")" >>"$work/all.txt"
    stop
  done
done

pick() { awk -v s="$1" -v b="$2" -v col="$3" '$1 == s && $2 == b { print $col }' "$work/all.txt" | median; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", (b > 0 ? (a - b) / b * 100 : 0) }'; }

echo "| load | CPU µs/request with metrics | without | cost in CPU | req/s with | req/s without |"
echo "|---|---|---|---|---|---|"
for s in create get; do
  con=$(pick "$s" on 3) coff=$(pick "$s" off 3)
  echo "| $s | $con | $coff | $(pct "$con" "$coff") | $(pick "$s" on 4) | $(pick "$s" off 4) |"
done
echo
echo "medians of $rounds rounds of ${secs} s; machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo);" \
  "1 worker thread, wrk -t1 -c64, client on the same machine; $(date -u +%F)"
