#!/usr/bin/env bash
# Replay rate, start-up time and resident memory with N seed-sized orders.
#
#   bench/startup.sh [BUILD_DIR] [N]      (N default 1000000)
#   env: PORT (18081), OUT (results directory, bench/results)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-1000000}
port=${PORT:-18081}
out=${OUT:-bench/results}
mkdir -p "$out"
work=$(mktemp -d /var/tmp/orderd-startup.XXXXXX)
pid=""
trap '[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

"$build/bench/gen_journal" "$work/data" "$n" >/dev/null
bytes=$(du -sb "$work/data" | cut -f1)
sync
# baseline: the same server with an empty table
mkdir -p "$work/empty"
rss_of() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
start() {
  local dir=$1 t0 t1 pid
  t0=$(date +%s%N)
  "$build/orderd" --listen "127.0.0.1:$port" --threads 2 --data-dir "$dir" >/dev/null 2>"$work/log" &
  pid=$!
  until grep -q listening "$work/log"; do sleep 0.005; done
  t1=$(date +%s%N)
  echo "$pid $(( (t1 - t0) / 1000000 ))"
}
# orderd runs in start's subshell, so it is not this shell's child to wait for
stop() { kill -TERM "$1" 2>/dev/null || true; while kill -0 "$1" 2>/dev/null; do sleep 0.05; done; }
read -r pid _ < <(start "$work/empty"); rss0=$(rss_of "$pid"); stop "$pid"
read -r pid ms < <(start "$work/data")
rss=$(rss_of "$pid")
replay=$(grep -o 'replayed .*' "$work/log")
rate=$(echo "$replay" | grep -o '([0-9]* records/s)' | tr -d '(' | awk '{print $1}')
stop "$pid"; pid=""
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
