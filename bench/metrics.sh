#!/usr/bin/env bash
# What counting for /metrics costs: bench/run's create-always and get
# scenarios (HTTP/1.1, 64 connections, no start-up part) against a build
# with the counting filter (-DORDERD_METRICS=ON, the default) and one
# without it (-DORDERD_METRICS=OFF), alternating ROUNDS times (the order
# flips every round); the median req/s and p99 of each, and the cost in
# req/s. Nothing scrapes /metrics meanwhile: the cost measured is counting
# every response, which every build pays whether anyone scrapes or not.
# bench/run also leaves its last run in bench/results/latest.
#
#   bench/metrics.sh   env: ROUNDS (3) SECONDS_PER_RUN (5) THREADS (1)
#                           BUILD_ON (build-metrics-on) BUILD_OFF (build-metrics-off)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-5}
threads=${THREADS:-1}
on=${BUILD_ON:-build-metrics-on}
off=${BUILD_OFF:-build-metrics-off}
work=$(mktemp -d /var/tmp/orderd-bench-metrics.XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake -S . -B "$on" -DCMAKE_BUILD_TYPE=Release -DORDERD_METRICS=ON >/dev/null
cmake -S . -B "$off" -DCMAKE_BUILD_TYPE=Release -DORDERD_METRICS=OFF >/dev/null

for r in $(seq "$rounds"); do
  order="on off"
  [ $((r % 2)) -eq 0 ] && order="off on"
  for b in $order; do
    dir=$on
    [ "$b" = off ] && dir=$off
    echo "bench/metrics.sh: round $r of $rounds, metrics $b" >&2
    bench/run --build "$dir" --scenarios "create-always get" --protocols h1 --connections 64 \
      --threads "$threads" --seconds "$secs" --skip-startup --out "$work/$r-$b" >"$work/$r-$b.log" 2>&1 ||
      { cat "$work/$r-$b.log" >&2; exit 1; }
    # scenario, build, orderd req/s, orderd p99 ms (bench/run's results.csv)
    awk -F, -v b="$b" 'NR > 1 { print $1, b, $4, $6 }' "$work/$r-$b/results.csv" >>"$work/all.txt"
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
pick() { awk -v s="$1" -v b="$2" -v col="$3" '$1 == s && $2 == b { print $col }' "$work/all.txt" | median; }

echo "| scenario | req/s with metrics | req/s without | p99 ms with | p99 ms without | cost of metrics |"
echo "|---|---|---|---|---|---|"
for s in create-always get; do
  won=$(pick "$s" on 3) woff=$(pick "$s" off 3)
  echo "| $s | $won | $woff | $(pick "$s" on 4) | $(pick "$s" off 4) |" \
    "$(awk -v a="$won" -v b="$woff" 'BEGIN { printf "%.1f %%", (b > 0 ? (b - a) / b * 100 : 0) }') |"
done
echo
echo "medians of $rounds rounds of ${secs} s; machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo);" \
  "$threads worker thread(s), wrk -c64; $(date -u +%F)"
