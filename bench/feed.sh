#!/usr/bin/env bash
# What following the event feed costs the API: durable create throughput of
# one orderd (1 worker thread, --fsync always, fresh data directory) with
# nothing attached, against the same with a feed consumer long-polling
# GET /api/admin/events (bench/feed_consumer.py: every page parsed), with a
# webhook receiver (--webhook to HAProxy answering 200 itself: the
# cheapest receiver there is, so what is measured is orderd's side), and
# with both (SETUPS picks: none consumer webhook both). Target (issue 14):
# at most 5 % fewer creates/s with both attached. The consumer and the
# receiver run at nice 10: they stand for processes on other machines, and
# on a machine with two cores their own CPU would otherwise be most of what
# is measured; orderd's delivery threads run at nice 10 themselves. The CPU
# per request column is orderd's own cost, whatever the priorities. Load:
# wrk -t1 -c64 bench/create.lua; ROUNDS rounds of SECONDS_PER_RUN, the two
# setups alternating (the first one swapped every round); medians. Also per
# setup: orderd's CPU per request (user + system from /proc), and after the
# attached runs how far the consumer and the webhook had got (events seen,
# the webhook's backlog from GET /api/admin/webhooks) when the load stopped.
#
#   bench/feed.sh   env: ROUNDS (3) SECONDS_PER_RUN (5) SETUPS BUILD (build) PORT (18390: PORT, PORT+1)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-5}
build=${BUILD:-build}
port=${PORT:-18390}
hook_port=$((port + 1))
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$haproxy" ] || { echo "bench/feed.sh: haproxy is not installed (.ci/deps installs it)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench/feed.sh: wrk is not installed" >&2; exit 1; }
[ -x "$build/orderd" ] || cmake --build "$build" -j "$(nproc)" --target orderd >/dev/null
work=$(mktemp -d /var/tmp/orderd-bench-feed.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
ticks=$(getconf CLK_TCK)

cat >"$work/receiver.cfg" <<CFG
global
  maxconn 2000
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
frontend webhook_receiver
  bind 127.0.0.1:$hook_port
  http-request return status 200 content-type application/json string "{}"
CFG
nice -n 10 "$haproxy" -db -f "$work/receiver.cfg" >"$work/receiver.log" 2>&1 &
pids+=($!)

# SETUP (none | consumer | webhook | both): starts orderd (and the consumer)
start() {
  rm -rf "$work/data"
  local extra=()
  case "$1" in webhook|both) extra=(--webhook "http://127.0.0.1:$hook_port/hook") ;; esac
  webhook_on=${#extra[@]}
  "$build/orderd" --listen "127.0.0.1:$port" --threads 1 --data-dir "$work/data" "${extra[@]}" 2>"$work/orderd.log" &
  orderd_pid=$!
  pids+=($!)
  for _ in $(seq 200); do grep -q 'listening on' "$work/orderd.log" && break; sleep 0.05; done
  grep -q 'listening on' "$work/orderd.log" || { cat "$work/orderd.log" >&2; exit 1; }
  consumer_pid=""
  if [ "$1" = consumer ] || [ "$1" = both ]; then
    nice -n 10 python3 bench/feed_consumer.py "$port" "$work/data/operator-token" "$work/consumer.out" &
    consumer_pid=$!
    pids+=($!)
  fi
}

# -> "rps p99_us cpu_us_per_request events_seen webhook_backlog" (- where not attached)
measure() {
  local before after line requests events=- backlog=-
  before=$(cpu_ticks "$orderd_pid")
  wrk -t1 -c64 -d"${secs}s" --timeout 5s -s bench/create.lua "http://127.0.0.1:$port" >"$work/wrk.out" 2>&1
  after=$(cpu_ticks "$orderd_pid")
  line=$(grep '^BENCH ' "$work/wrk.out") || { cat "$work/wrk.out" >&2; exit 1; }
  grep -q 'non2xx=0 socket_errors=0' <<<"$line" || { echo "bench/feed.sh: errors: $line" >&2; exit 1; }
  requests=$(grep -o 'requests=[0-9]*' <<<"$line" | cut -d= -f2)
  if [ "$webhook_on" != 0 ]; then
    backlog=$(curl -s -H "Authorization: Bearer $(head -n1 "$work/data/operator-token")" \
      "http://127.0.0.1:$port/api/admin/webhooks" | python3 -c 'import json,sys; print(json.load(sys.stdin)["webhooks"][0]["backlog"])')
  fi
  if [ -n "$consumer_pid" ]; then
    events=$(grep -o 'events=[0-9]*' "$work/consumer.out" | cut -d= -f2)
    kill -TERM "$consumer_pid"
    wait "$consumer_pid" 2>/dev/null || true
  fi
  awk -v l="$line" -v n="$requests" -v hz="$ticks" -v t=$((after - before)) -v ev="$events" -v bl="$backlog" '
    function field(k) { match(l, k "=[0-9.]*"); return substr(l, RSTART + length(k) + 1, RLENGTH - length(k) - 1) }
    BEGIN { printf "%s %s %.2f %s %s\n", field("rps"), field("p99_us"), t / hz * 1e6 / n, ev, bl }'
}

setups=${SETUPS:-none consumer webhook both}
for r in $(seq "$rounds"); do
  order=$setups
  [ $((r % 2)) -eq 0 ] && order=$(tr ' ' '\n' <<<"$setups" | tac | tr '\n' ' ')
  for s in $order; do
    echo "bench/feed.sh: round $r of $rounds, $s" >&2
    start "$s"
    echo "$s $(measure)" >>"$work/all.txt"
    echo "bench/feed.sh: $(tail -n 1 "$work/all.txt")" >&2
    kill -TERM "$orderd_pid"
    wait "$orderd_pid" || true
  done
done

pick() { awk -v s="$1" -v col="$2" '$1 == s { print $col }' "$work/all.txt" | median; }
none=$(pick none 2)
echo "| setup | creates/s | vs nothing attached | p99 ms | orderd CPU µs/request | events the consumer had | webhook backlog at the end |"
echo "|---|---|---|---|---|---|---|"
for s in $setups; do
  case $s in
    none) name="nothing attached" ;;
    consumer) name="a feed consumer (long poll)" ;;
    webhook) name="a webhook receiver" ;;
    both) name="feed consumer + webhook" ;;
  esac
  pick_any() { # the median of a column that is - where not attached
    local v
    v=$(awk -v s="$1" -v col="$2" '$1 == s && $col != "-" { print $col }' "$work/all.txt")
    [ -n "$v" ] && median <<<"$v" || echo -
  }
  ev=$(pick_any "$s" 5); bl=$(pick_any "$s" 6)
  awk -v name="$name" -v rps="$(pick "$s" 2)" -v none="$none" -v p99="$(pick "$s" 3)" -v cpu="$(pick "$s" 4)" \
      -v ev="${ev:--}" -v bl="${bl:--}" \
    'BEGIN { printf "| %s | %.0f | %s | %.2f | %s | %s | %s |\n", name, rps, (none > 0 ? sprintf("%.3f x", rps / none) : "-"),
             p99 / 1000, cpu, ev, bl }'
done
echo
echo "medians of $rounds rounds of ${secs} s; machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo);" \
  "1 worker thread, --fsync always; wrk -t1 -c64 (bench/create.lua), client, consumer and receiver on the same machine; $(date -u +%F)"
