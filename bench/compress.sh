#!/usr/bin/env bash
# What gzip costs and saves on a page of orders: bench/run's list scenario
# (no Accept-Encoding, as wrk sends) and list-gzip (the same requests with
# Accept-Encoding: gzip), HTTP/1.1, 64 connections, no start-up part, against
# orderd with --compress on (the default) and with --compress off,
# alternating ROUNDS times (the order flips every round): the median req/s
# and p99 of each, and the body bytes of one answer (bench/run's
# sizes.txt). bench/run also leaves its last run in bench/results/latest.
#
#   bench/compress.sh   env: ROUNDS (3) SECONDS_PER_RUN (5) THREADS (1) BUILD (build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-5}
threads=${THREADS:-1}
build=${BUILD:-build}
work=$(mktemp -d /var/tmp/orderd-bench-compress.XXXXXX)
trap 'rm -rf "$work"' EXIT

for r in $(seq "$rounds"); do
  order="on off"
  [ $((r % 2)) -eq 0 ] && order="off on"
  for m in $order; do
    echo "bench/compress.sh: round $r of $rounds, --compress $m" >&2
    bench/run --build "$build" --scenarios "list list-gzip" --protocols h1 --connections 64 --threads "$threads" \
      --seconds "$secs" --skip-startup --orderd-args "--compress $m" --out "$work/$r-$m" >"$work/$r-$m.log" 2>&1 ||
      { cat "$work/$r-$m.log" >&2; exit 1; }
    # scenario, setting, orderd req/s, orderd p99 ms, met (invalid: errors in the run)
    awk -F, -v m="$m" 'NR > 1 { print $1, m, $4, $6, $14 }' "$work/$r-$m/results.csv" >>"$work/all.txt"
    cp "$work/$r-$m/sizes.txt" "$work/sizes-$m.txt"
  done
done

pick() { awk -v s="$1" -v m="$2" -v col="$3" '$1 == s && $2 == m { print $col }' "$work/all.txt" | median; }
body() { awk -v s="$1:" '$1 == s { print $6 }' "$work/sizes-$2.txt"; } # SCENARIO SETTING

echo "| scenario | Accept-Encoding | --compress | req/s | p99 ms | body bytes of one answer |"
echo "|---|---|---|---|---|---|"
for m in on off; do
  for s in list list-gzip; do
    ae=-
    [ "$s" = list-gzip ] && ae=gzip
    echo "| $s | $ae | $m | $(pick "$s" "$m" 3) | $(pick "$s" "$m" 4) | $(body "$s" "$m") |"
  done
done
echo
plain=$(pick list on 3) coded=$(pick list-gzip on 3) off=$(pick list off 3)
echo "gzip on the same server: $(awk -v a="$plain" -v b="$coded" 'BEGIN { printf "%.1f %%", (b - a) / a * 100 }') req/s" \
  "(list-gzip against list), body $(body list on) -> $(body list-gzip on) bytes;" \
  "--compress on against off for a client that sends no Accept-Encoding:" \
  "$(awk -v a="$off" -v b="$plain" 'BEGIN { printf "%.1f %%", (b - a) / a * 100 }') req/s"
if grep -q ' invalid$' "$work/all.txt"; then
  echo "WARNING: some runs had errors (met = invalid in bench/run's results.csv); the figures are not to be trusted"
fi
echo "medians of $rounds rounds of ${secs} s; machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo);" \
  "$threads worker thread(s), wrk -c64; $(date -u +%F)"
