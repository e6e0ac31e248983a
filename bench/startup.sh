#!/usr/bin/env bash
# Replay rate, start-up time and resident memory with N seed-sized orders.
#
#   bench/startup.sh [BUILD_DIR] [N]      (N default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-1000000}
out=bench/results
mkdir -p "$out"
work=$(mktemp -d /var/tmp/orderd-startup.XXXXXX)
trap 'pkill -KILL -f "orderd --listen 127.0.0.1:18081" 2>/dev/null || true; rm -rf "$work"' EXIT

"$build/bench/gen_journal" "$work/data" "$n" >/dev/null
bytes=$(du -sb "$work/data" | cut -f1)
sync
# baseline: the same server with an empty table
mkdir -p "$work/empty"
rss_of() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
start() {
  local dir=$1 t0 t1 pid
  t0=$(date +%s%N)
  "$build/orderd" --listen 127.0.0.1:18081 --threads 2 --data-dir "$dir" >/dev/null 2>"$work/log" &
  pid=$!
  until grep -q listening "$work/log"; do sleep 0.005; done
  t1=$(date +%s%N)
  echo "$pid $(( (t1 - t0) / 1000000 ))"
}
read -r pid0 _ < <(start "$work/empty"); rss0=$(rss_of "$pid0"); kill -TERM "$pid0"; wait "$pid0" 2>/dev/null || true
read -r pid ms < <(start "$work/data")
rss=$(rss_of "$pid")
replay=$(grep -o 'replayed .*' "$work/log")
rate=$(echo "$replay" | grep -o '([0-9]* records/s)' | tr -d '(' | awk '{print $1}')
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
per_order=$(( (rss - rss0) * 1024 / n ))
{
  echo "| orders | journal bytes | start-up to listening | replay rate | resident memory per order |"
  echo "|---|---|---|---|---|"
  echo "| $n | $bytes | $ms ms | $rate records/s | $per_order bytes |"
  echo
  echo "log: orderd: $replay"
  echo "machine: $(nproc) cores, $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'); $(date -u +%Y-%m-%d)"
} | tee "$out/startup.md"
echo "orders,journal_bytes,startup_ms,replay_records_per_s,rss_bytes_per_order" >"$out/startup.csv"
echo "$n,$bytes,$ms,$rate,$per_order" >>"$out/startup.csv"
