#!/usr/bin/env bash
# A fulfilment worker: follows the event feeds of one or more orderd nodes
# (GET /api/admin/events, long-polling) and moves each new order to
# `processing` with If-Match, so an order cancelled or changed meanwhile is
# left alone (412). It keeps, per node, the sequence number it has handled
# up to in a state file, written after each event: killed at any point, it
# resumes where it was. An event handled twice (killed between the change
# and the state file) finds the order's version moved on and gets a 412:
# nothing happens twice.
#
#   examples/fulfilment-worker.sh [--state-dir DIR] [--once] URL=TOKEN_FILE...
#
#   URL         a node, e.g. http://127.0.0.1:8080 (one per node: each node
#               has its own feed and its own sequence numbers)
#   TOKEN_FILE  that node's operator token file (DATA-DIR/operator-token)
#   --state-dir where the per-node state files go (default ./fulfilment-state)
#   --once      read every feed to its current end once, then exit (tests,
#               cron); without it each node is followed forever
#
# Needs curl and jq. A feed that no longer holds the kept sequence (410 Gone,
# past --feed-retention) is resynchronised: every pending order in
# GET /api/admin/orders is moved, then the feed is followed from the
# durable sequence the 410 named (docs/feed.md, "Resume recipe").
set -euo pipefail

state_dir=./fulfilment-state
once=0
nodes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --state-dir) state_dir=$2; shift 2 ;;
    --once) once=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *=*) nodes+=("$1"); shift ;;
    *) echo "fulfilment-worker: expected URL=TOKEN_FILE, got '$1'" >&2; exit 2 ;;
  esac
done
[ ${#nodes[@]} -gt 0 ] || { echo "usage: $0 [--state-dir DIR] [--once] URL=TOKEN_FILE..." >&2; exit 2; }
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "fulfilment-worker: $tool is needed" >&2; exit 2; }
done
mkdir -p "$state_dir"

log() { echo "fulfilment-worker: $*" >&2; }

# Keeps sequence $1 in the state file: written aside, then renamed over it,
# so a kill at any moment leaves the old number or the new one, never an
# empty or half-written file.
keep() {
  echo "$1" >"$state.tmp"
  mv -f "$state.tmp" "$state"
}

# Moves order $2 at version $3 on node $1 to processing; 0 when moved or not
# to be moved (412: it changed; 409: no longer pending), 1 to retry later.
process() {
  local url=$1 id=$2 version=$3 code
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/api/orders/$id/status" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -H "If-Match: \"$id-$version\"" -d '{"status":"processing"}') || code=000
  case "$code" in
    200) log "$url: $id -> processing" ;;
    409|412) log "$url: $id changed meanwhile ($code): left as it is" ;;
    *) log "$url: $id: HTTP $code, retried"; return 1 ;;
  esac
}

# The 410 path: every pending order, page by page, then the feed after the
# durable sequence $2 (read before the orders: what changed since is in the feed).
resync() {
  local url=$1 durable=$2 cursor="" page
  log "$url: the kept sequence is past the feed's retention: resynchronising from GET /api/admin/orders"
  while :; do
    page=$(curl -sf "$url/api/admin/orders?status=pending&limit=100${cursor:+&after=$cursor}" \
      -H "Authorization: Bearer $token") || return 1
    while read -r id version; do
      [ -n "$id" ] && { process "$url" "$id" "$version" || return 1; }
    done < <(jq -r '.orders[] | "\(.id) \(.version)"' <<<"$page")
    cursor=$(jq -r 'if (.orders | length) == 100 then .orders[-1].id else empty end' <<<"$page")
    [ -n "$cursor" ] || break
  done
  keep "$durable"
}

# Follows one node's feed.
follow() {
  local url=${1%%=*} token_file=${1#*=} after body code wait=20
  token=$(head -n1 "$token_file")
  state="$state_dir/$(printf '%s' "$url" | tr -c 'A-Za-z0-9' '_').after"
  [ "$once" = 1 ] && wait=0
  while :; do
    after=$(cat "$state" 2>/dev/null || echo 0)
    body=$(mktemp)
    code=$(curl -s -o "$body" -w '%{http_code}' -H "Authorization: Bearer $token" \
      "$url/api/admin/events?after=$after&limit=100&wait=$wait") || code=000
    case "$code" in
      200)
        local ok=1
        while IFS=$'\t' read -r seq type id version status; do
          [ -n "$seq" ] || continue
          if [ "$type" = order.created ] && [ "$status" = pending ]; then
            process "$url" "$id" "$version" || { ok=0; break; }
          fi
          keep "$seq"
        done < <(jq -r '.events[] | [.seq, .type, .order_id, .version, .status] | @tsv' "$body")
        if [ $ok = 1 ]; then
          keep "$(jq -r '.next_after' "$body")"
          [ "$once" = 1 ] && [ "$(jq '.events | length' "$body")" = 0 ] && { rm -f "$body"; return 0; }
        else
          sleep 1
        fi ;;
      410) resync "$url" "$(jq -r '.durable_seq' "$body")" || sleep 1 ;;
      *) log "$url: HTTP $code from the feed, retrying in 1 s"; [ "$once" = 1 ] && { rm -f "$body"; return 1; }; sleep 1 ;;
    esac
    rm -f "$body"
  done
}

pids=()
for n in "${nodes[@]}"; do
  follow "$n" &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' INT TERM
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
