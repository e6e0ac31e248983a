#!/usr/bin/env bash
# Durable creates per second: orderd (--fsync always, seed-sized orders, wrk)
# against Redis 7 (appendonly yes, appendfsync always, SET of 200 bytes,
# redis-benchmark), both at 64 connections, on the same machine and disk, in
# the same run, alternating, ROUNDS times; the median of each is reported.
#
#   bench/durable.sh [BUILD_DIR]      env: ROUNDS (5) SECONDS_PER_RUN (8)
#                                          THREADS (orderd workers, 1) CLIENT_THREADS (1)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
rounds=${ROUNDS:-5}
secs=${SECONDS_PER_RUN:-8}
threads=${THREADS:-1}
cthreads=${CLIENT_THREADS:-1}
out=bench/results
mkdir -p "$out"
work=$(mktemp -d /var/tmp/orderd-bench.XXXXXX)
trap 'pkill -TERM -f "orderd --listen 127.0.0.1:18080" 2>/dev/null || true; redis-cli -p 16379 shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT


orderd_round() {
  rm -rf "$work/orderd" && mkdir -p "$work/orderd"
  "$build/orderd" --listen 127.0.0.1:18080 --threads "$threads" --data-dir "$work/orderd" --fsync always >/dev/null \
    2>"$work/orderd.log" &
  local pid=$!
  for _ in $(seq 50); do grep -q listening "$work/orderd.log" && break; sleep 0.1; done
  wrk -t"$cthreads" -c64 -d"${secs}s" --latency -s bench/create.lua http://127.0.0.1:18080 >"$work/wrk.out"
  kill -TERM "$pid"; wait "$pid" || true
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.out")
  if grep -q "Non-2xx" "$work/wrk.out"; then echo "orderd answered non-2xx:" >&2; cat "$work/wrk.out" >&2; exit 1; fi
  echo "$rps $p50 $p99 $(grep -o '([0-9.]* a batch)' "$work/orderd.log" | tr -d '()' | awk '{print $1}')"
}

redis_round() {
  rm -rf "$work/redis" && mkdir -p "$work/redis"
  redis-server --port 16379 --bind 127.0.0.1 --dir "$work/redis" --appendonly yes --appendfsync always \
    --save '' --daemonize yes --logfile "$work/redis/log" >/dev/null
  for _ in $(seq 50); do redis-cli -p 16379 ping >/dev/null 2>&1 && break; sleep 0.1; done
  # as many requests as orderd handles in the same time, roughly
  redis-benchmark -p 16379 -t set -d 200 -c 64 -n $((secs * 20000)) -r 1000000 --threads "$cthreads" -q --csv \
    | awk -F'"' '$2=="SET" {print $4, $10 "ms", $14 "ms"}'
  redis-cli -p 16379 shutdown nosave >/dev/null 2>&1 || true
  sleep 0.3
}

: >"$work/o" ; : >"$work/r"
for i in $(seq "$rounds"); do
  orderd_round | tee -a "$work/o" >&2
  redis_round | tee -a "$work/r" >&2
done
o_rps=$(awk '{print $1}' "$work/o" | median); r_rps=$(awk '{print $1}' "$work/r" | median)
o_p99=$(awk '{print $3}' "$work/o" | sed 's/ms//' | median); r_p99=$(awk '{print $3}' "$work/r" | sed 's/ms//' | median)
o_p50=$(awk '{print $2}' "$work/o" | sed 's/ms//' | median); r_p50=$(awk '{print $2}' "$work/r" | sed 's/ms//' | median)
batch=$(awk '{print $4}' "$work/o" | median)
cpu=$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')
{
  echo "| system | what | connections | req/s (median of $rounds) | p50 ms | p99 ms |"
  echo "|---|---|---|---|---|---|"
  echo "| orderd (--fsync always, $threads worker thread(s)) | POST /api/orders, seed order | 64 | $o_rps | $o_p50 | $o_p99 |"
  echo "| Redis $(redis-server --version | grep -o 'v=[0-9.]*' | cut -c3-) (appendfsync always) | SET, 200-byte value | 64 | $r_rps | $r_p50 | $r_p99 |"
  echo
  echo "orderd/Redis: $(awk -v a="$o_rps" -v b="$r_rps" 'BEGIN {printf "%.2f", a / b}'); records per fdatasync (median): $batch"
  echo "machine: $(nproc) cores, $cpu; client and server on the same machine; $(date -u +%Y-%m-%d)"
} | tee "$out/durable.md"
echo "system,rps,p50_ms,p99_ms" >"$out/durable.csv"
echo "orderd,$o_rps,$o_p50,$o_p99" >>"$out/durable.csv"
echo "redis,$r_rps,$r_p50,$r_p99" >>"$out/durable.csv"
