#!/usr/bin/env bash
# The production binary carries no fault hooks (src/internal/fault.h):
#
#   tests/fault_hooks_off.sh ORDERD ORDERD_FAULTS
#
# With ORDERD_FAULT_POINT=rotate:after-create, a point every start in an empty
# data directory passes (its first segment is created before it listens),
# orderd-faults must exit 86 there and orderd must start, listen and stop
# cleanly; and only orderd-faults may hold the variable's name at all.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 ORDERD ORDERD_FAULTS" >&2
  exit 2
fi
orderd=$1 faults=$2
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

grep -aq ORDERD_FAULT_POINT "$faults" || fail "$faults does not read ORDERD_FAULT_POINT: this check proves nothing"
if grep -aq 'ORDERD_FAULT_POINT\|ORDERD_FAULT_PAUSE' "$orderd"; then
  fail "$orderd holds the name of a fault hook's variable: the real hooks are linked in"
fi

export ORDERD_FAULT_POINT=rotate:after-create

rc=0
timeout 20 "$faults" --listen 127.0.0.1:0 --data-dir "$tmp/faults" >"$tmp/faults.out" 2>"$tmp/faults.err" || rc=$?
[ "$rc" -eq 86 ] || fail "orderd-faults exited $rc at rotate:after-create, want 86: $(tail -3 "$tmp/faults.err")"

"$orderd" --listen 127.0.0.1:0 --data-dir "$tmp/prod" >"$tmp/prod.out" 2>"$tmp/prod.err" &
pid=$!
for _ in $(seq 200); do
  grep -q 'listening on' "$tmp/prod.err" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
grep -q 'listening on' "$tmp/prod.err" || {
  rc=0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" || rc=$?; pid=; }
  fail "orderd with ORDERD_FAULT_POINT set did not listen (exit status $rc): $(tail -3 "$tmp/prod.err")"
}
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || fail "orderd exited $rc after SIGTERM, want 0: $(tail -3 "$tmp/prod.err")"
echo "ok: orderd-faults stops at rotate:after-create (exit 86); orderd ignores ORDERD_FAULT_POINT"
