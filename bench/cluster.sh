#!/usr/bin/env bash
# Create throughput of orderd nodes behind HAProxy, partitioned by user
# (docs/deploy/haproxy.cfg's balance hdr(X-User-Id), hash-type consistent):
# one, two and three nodes behind it, and one node directly (no HAProxy),
# which with "1 node behind HAProxy" gives what HAProxy adds to a request.
# Each node: one worker thread, its own --node-id and fresh data directory,
# --fsync always (durable creates). Load: wrk (HTTP/1.1, one thread, 64
# connections, each its own user: bench/create.lua), ROUNDS rounds of
# SECONDS_PER_RUN each, the setups in a different order every round;
# medians. Per setup: req/s, p50 and p99 latency, and the CPU per request of
# the nodes together and of HAProxy (user + system time from /proc over the
# run, divided by the requests wrk completed): CPU is the figure that does
# not depend on what else the machine runs.
#
# The config is the shipped file with its ports filled in, its TLS line and
# (not root) chroot/user/group taken out, its server lines cut to the nodes
# run, and its per-client rate limits taken out: every request here comes
# from one address, which the limits would cut off within a second.
#
#   bench/cluster.sh   env: ROUNDS (3) SECONDS_PER_RUN (5) BUILD (build) PORT (18380: PORT..PORT+3)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-5}
build=${BUILD:-build}
port=${PORT:-18380}
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$haproxy" ] || { echo "bench/cluster.sh: haproxy is not installed (.ci/deps installs it)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench/cluster.sh: wrk is not installed" >&2; exit 1; }
[ -x "$build/orderd" ] || cmake --build "$build" -j "$(nproc)" --target orderd >/dev/null
work=$(mktemp -d /var/tmp/orderd-bench-cluster.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

ticks=$(getconf CLK_TCK)

# NODES -> haproxy.cfg for that many nodes on PORT+1.., the front end on PORT
config() {
  local drop_root=1
  [ "$(id -u)" = 0 ] && [ -d /var/lib/haproxy ] && drop_root=0
  awk -v front="$port" -v n="$1" -v base=$((port + 1)) -v drop_root="$drop_root" '
    /^ *bind :443 / { next }
    /^ *bind :80$/ { sub(/:80$/, "127.0.0.1:" front) }
    /sc_conn_rate|sc_http_req_rate|track-sc0|^ *stick-table/ { next }
    drop_root && /^ *(chroot \/var\/lib\/haproxy|user haproxy|group haproxy)$/ { next }
    /^ *server orderd[0-9]+ 127\.0\.0\.1:808[0-9] / {
      i = substr($2, 7) + 0
      if (i > n) next
      sub(/127\.0\.0\.1:808[0-9]/, "127.0.0.1:" (base + i - 1))
    }
    { print }' docs/deploy/haproxy.cfg >"$work/haproxy.cfg"
  "$haproxy" -c -q -f "$work/haproxy.cfg"
}

wait_line() { # FILE
  for _ in $(seq 200); do grep -q 'listening on' "$1" && return 0; sleep 0.05; done
  cat "$1" >&2
  exit 1
}

node_pids=()
hap_pid=""
# SETUP (direct, 1, 2, 3) -> the URL wrk drives
start() {
  local n=$1 i
  [ "$n" = direct ] && n=1
  node_pids=()
  for i in $(seq 0 $((n - 1))); do
    rm -rf "$work/data$i"
    "$build/orderd" --listen "127.0.0.1:$((port + 1 + i))" --threads 1 --node-id "$i" --data-dir "$work/data$i" \
      --http2 off --trusted-proxy 127.0.0.1 2>"$work/node$i.log" &
    node_pids+=($!)
    pids+=($!)
    wait_line "$work/node$i.log"
  done
  hap_pid=""
  if [ "$1" = direct ]; then
    url="http://127.0.0.1:$((port + 1))"
    return
  fi
  config "$n"
  "$haproxy" -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
  hap_pid=$!
  pids+=($!)
  url="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ] && sleep 1.2 && return 0 # every server's first check
    sleep 0.05
  done
  cat "$work/haproxy.log" >&2
  exit 1
}

stop() {
  local p
  for p in ${hap_pid:+"$hap_pid"} "${node_pids[@]}"; do kill -TERM "$p"; wait "$p" || true; done
}

# -> "rps p50_us p99_us node_cpu_us_per_request haproxy_cpu_us_per_request"
measure() {
  local nb hb na ha line requests
  nb=$(cpu_ticks "${node_pids[@]}")
  hb=0
  [ -z "$hap_pid" ] || hb=$(cpu_ticks "$hap_pid")
  wrk -t1 -c64 -d"${secs}s" --timeout 5s -s bench/create.lua "$url" >"$work/wrk.out" 2>&1
  na=$(cpu_ticks "${node_pids[@]}")
  ha=0
  [ -z "$hap_pid" ] || ha=$(cpu_ticks "$hap_pid")
  line=$(grep '^BENCH ' "$work/wrk.out") || { cat "$work/wrk.out" >&2; exit 1; }
  grep -q 'non2xx=0 socket_errors=0' <<<"$line" || { echo "bench/cluster.sh: errors: $line" >&2; exit 1; }
  requests=$(grep -o 'requests=[0-9]*' <<<"$line" | cut -d= -f2)
  awk -v l="$line" -v n="$requests" -v hz="$ticks" -v nt=$((na - nb)) -v ht=$((ha - hb)) '
    function field(k) { match(l, k "=[0-9.]*"); return substr(l, RSTART + length(k) + 1, RLENGTH - length(k) - 1) }
    BEGIN { printf "%s %s %s %.2f %.2f\n", field("rps"), field("p50_us"), field("p99_us"),
            nt / hz * 1e6 / n, ht / hz * 1e6 / n }'
}

setups="direct 1 2 3"
for r in $(seq "$rounds"); do
  order=$setups
  [ $((r % 2)) -eq 0 ] && order="3 2 1 direct"
  for s in $order; do
    echo "bench/cluster.sh: round $r of $rounds, $s" >&2
    start "$s"
    echo "$s $(measure)" >>"$work/all.txt"
    stop
  done
done

pick() { awk -v s="$1" -v col="$2" '$1 == s { print $col }' "$work/all.txt" | median; }
one=$(pick 1 2)
echo "| setup | req/s | vs 1 node behind HAProxy | p50 ms | p99 ms | nodes' CPU µs/request | HAProxy's CPU µs/request |"
echo "|---|---|---|---|---|---|---|"
for s in $setups; do
  name="$s nodes behind HAProxy"
  [ "$s" = 1 ] && name="1 node behind HAProxy"
  [ "$s" = direct ] && name="1 node, directly"
  rps=$(pick "$s" 2)
  awk -v name="$name" -v rps="$rps" -v one="$one" -v p50="$(pick "$s" 3)" -v p99="$(pick "$s" 4)" \
      -v ncpu="$(pick "$s" 5)" -v hcpu="$(pick "$s" 6)" \
    'BEGIN { printf "| %s | %.0f | %.2f x | %.2f | %.2f | %s | %s |\n", name, rps, (one > 0 ? rps / one : 0),
             p50 / 1000, p99 / 1000, ncpu, hcpu }'
done
echo
echo "medians of $rounds rounds of ${secs} s; machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo);" \
  "each node 1 worker thread, --fsync always; wrk -t1 -c64 (bench/create.lua), client on the same machine; $(date -u +%F)"
