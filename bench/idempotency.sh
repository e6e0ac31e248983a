#!/usr/bin/env bash
# The cost of Idempotency-Key on durable creates: orderd (--fsync always,
# seed-sized orders, wrk at 64 connections) with bench/create.lua (no key)
# and bench/create_idem.lua (a unique key per request), alternating, ROUNDS
# times, a fresh data directory each round; the median of each is reported
# with their ratio. The target is a cost of at most 10 %. This VM's speed
# swings a lot from minute to minute, so the server's CPU time per request
# (utime + stime from /proc, over wrk's request count) is reported too: it
# moves much less with the machine's mood than req/s does.
#
#   bench/idempotency.sh [BUILD_DIR]   env: ROUNDS (5) SECONDS_PER_RUN (6) THREADS (1) CLIENT_THREADS (1)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
rounds=${ROUNDS:-5}
secs=${SECONDS_PER_RUN:-6}
threads=${THREADS:-1}
cthreads=${CLIENT_THREADS:-1}
out=bench/results
mkdir -p "$out"
work=$(mktemp -d /var/tmp/orderd-bench-idem.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$work"' EXIT


# one round: orderd on a kernel-chosen port, wrk with script $1; prints "rps p50 p99 cpu_us_per_request"
round() {
  rm -rf "$work/d" && mkdir -p "$work/d"
  "$build/orderd" --listen 127.0.0.1:0 --threads "$threads" --data-dir "$work/d" --fsync always >/dev/null \
    2>"$work/log" &
  pid=$!
  local port=
  for _ in $(seq 50); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/log" | sed 's/.*://') && [ -n "$port" ] && break
    sleep 0.1
  done
  local t0 t1 n
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  wrk -t"$cthreads" -c64 -d"${secs}s" --latency -s "$1" "http://127.0.0.1:$port" >"$work/wrk.out"
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill -TERM "$pid"; wait "$pid" || true; pid=
  n=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  if grep -q "Non-2xx" "$work/wrk.out"; then echo "orderd answered non-2xx:" >&2; cat "$work/wrk.out" >&2; exit 1; fi
  echo "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out") $(awk '$1=="50%" {print $2}' "$work/wrk.out") \
$(awk '$1=="99%" {print $2}' "$work/wrk.out") $(awk -v t="$((t1 - t0))" -v n="$n" -v hz="$(getconf CLK_TCK)" \
'BEGIN {printf "%.1f", t / hz * 1e6 / n}')"
}

: >"$work/plain"; : >"$work/keyed"
for i in $(seq "$rounds"); do
  round bench/create.lua | tee -a "$work/plain" >&2
  round bench/create_idem.lua | tee -a "$work/keyed" >&2
done
p=$(awk '{print $1}' "$work/plain" | median); k=$(awk '{print $1}' "$work/keyed" | median)
pp99=$(awk '{print $3}' "$work/plain" | sed 's/ms//' | median); kp99=$(awk '{print $3}' "$work/keyed" | sed 's/ms//' | median)
pcpu=$(awk '{print $4}' "$work/plain" | median); kcpu=$(awk '{print $4}' "$work/keyed" | median)
cpu=$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')
{
  echo "| creates | req/s (median of $rounds) | p99 ms | server CPU µs per request (median) |"
  echo "|---|---|---|---|"
  echo "| without Idempotency-Key | $p | $pp99 | $pcpu |"
  echo "| with a unique Idempotency-Key each | $k | $kp99 | $kcpu |"
  echo
  echo "cost of the key: $(awk -v a="$p" -v b="$k" 'BEGIN {printf "%.1f %%", (a - b) / a * 100}') of req/s, \
$(awk -v a="$pcpu" -v b="$kcpu" 'BEGIN {printf "%.1f %%", (b - a) / a * 100}') more server CPU per request (target: at most 10 %)"
  echo "machine: $(nproc) cores, $cpu; $threads worker thread(s), wrk -t$cthreads -c64; $(date -u +%Y-%m-%d)"
} | tee "$out/idempotency.md"
