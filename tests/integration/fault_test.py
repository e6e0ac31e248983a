#!/usr/bin/env python3
"""Fault injection: the Nth write, fdatasync, fsync, rename or open under the
data directory fails (tests/fault/fault_shim.c, LD_PRELOAD), for N = 1, 2, ...
until a run completes without reaching N. In every run:
  - no request is acknowledged whose record was not durable: after a kill -9
    and a clean restart every 201/200 is there, and nothing answered 503 is;
  - the process keeps serving reads (GET answers 200 while writes get 503
    with Retry-After) and writes resume, or it exits 74 after a failed sync;
  - every create carries an Idempotency-Key: after the restart, each
    acknowledged key replays its order and makes no new one.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BODY = {"items": [{"product_id": "p1", "quantity": 2, "price": 10.99}],
        "shipping_address": "1 Fault Way", "payment_method": "card"}
WORK = 40          # creates per run (every third is followed by a cancel)
SNAPSHOT = "4096"  # small: rotations and snapshots happen inside the run
CASES = [("write", "ENOSPC"), ("write", "EIO"), ("write", "short"), ("fdatasync", "EIO"),
         ("fsync", "EIO"), ("rename", "EIO"), ("open", "ENOSPC")]


def start(orderd, data, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen([orderd, "--listen", "127.0.0.1:0", "--threads", "2", "--data-dir", data,
                          "--snapshot-bytes", SNAPSHOT], stderr=subprocess.PIPE, env=e, text=True)
    lines = []
    deadline = time.time() + 10
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "listening on http://" in line:
            port = int(line.rsplit(":", 1)[1])
            return p, port, lines
    p.wait(5)
    return p, None, lines


def request(conn, method, path, user, body=None, key=None):
    headers = {"X-User-Id": user}
    if key is not None:
        headers["Idempotency-Key"] = key
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    raw = r.read()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), raw


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait(10)
    if p.stderr:
        p.stderr.close()


def run_case(orderd, shim, op, n, err):
    """Returns (injected, problems)."""
    data = tempfile.mkdtemp(prefix="orderd-fault-")
    log = os.path.join(tempfile.gettempdir(), os.path.basename(data) + ".log")
    problems = []
    try:
        p, port, lines = start(orderd, data, {"LD_PRELOAD": shim, "ORDERD_FAULT_DIR": data,
                                              "ORDERD_FAULT": f"{op}:{n}:{err}", "ORDERD_FAULT_LOG": log})
        injected = os.path.exists(log) and " FAIL" in open(log).read()
        if port is None:
            # failed at start-up: fine if it says why and exits 1, having acknowledged nothing
            if p.returncode != 1:
                problems.append(f"start-up ended with {p.returncode}: {''.join(lines)[-300:]}")
            return injected, problems
        acked, cancelled, refused, exited = {}, set(), 0, None
        keys = {}  # (user, key) -> order id, for acknowledged keyed creates
        inflight = None  # the cancel being sent when the process ended: it may or may not have happened
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(WORK):
            user = f"u{i % 3}"
            try:
                st, hd, raw = request(conn, "POST", "/api/orders", user, BODY, key=f"k{i}")
                if st == 201:
                    o = json.loads(raw)
                    acked[o["id"]] = (user, "pending")
                    keys[(user, f"k{i}")] = o["id"]
                    if i % 3 == 0:
                        inflight = o["id"]
                        st2, hd2, raw2 = request(conn, "POST", f"/api/orders/{o['id']}/cancel", user)
                        if st2 == 200:
                            acked[o["id"]] = (user, "cancelled")
                            cancelled.add(o["id"])
                        elif st2 != 503:
                            problems.append(f"cancel answered {st2}")
                        inflight = None
                elif st == 503:
                    refused += 1
                    if "retry-after" not in hd or not hd.get("content-type", "").startswith("application/problem+json"):
                        problems.append(f"503 without Retry-After/problem+json: {hd}")
                    # reads keep working while writes are refused
                    if acked:
                        oid, (u, _) = next(iter(acked.items()))
                        st3, _, _ = request(conn, "GET", f"/api/orders/{oid}", u)
                        if st3 != 200:
                            problems.append(f"GET during refusal answered {st3}")
                else:
                    problems.append(f"create answered {st}: {raw[:200]!r}")
            except (OSError, http.client.HTTPException):
                try:
                    exited = p.wait(5)
                except subprocess.TimeoutExpired:
                    problems.append("connection failed but the server did not exit")
                break
        if exited is None and refused:
            # writes resume once the refusal window has passed
            deadline, ok = time.time() + 5, False
            while time.time() < deadline and not ok:
                time.sleep(0.3)
                st, _, raw = request(conn, "POST", "/api/orders", "u0", BODY)
                if st == 201:
                    acked[json.loads(raw)["id"]] = ("u0", "pending")
                    ok = True
            if not ok:
                problems.append("writes did not resume after the refusal window")
        conn.close()
        injected = os.path.exists(log) and " FAIL" in open(log).read()
        if exited is not None and exited != 74:
            problems.append(f"exited with {exited}, expected 74 after a failed sync")
        stop(p)
        # restart clean and check every acknowledged change, and nothing else
        p2, port2, lines2 = start(orderd, data)
        if port2 is None:
            problems.append("restart failed: " + "".join(lines2)[-400:])
            return injected, problems
        conn = http.client.HTTPConnection("127.0.0.1", port2, timeout=10)
        for oid, (user, status) in acked.items():
            st, _, raw = request(conn, "GET", f"/api/orders/{oid}", user)
            if st != 200:
                problems.append(f"acknowledged order {oid} lost")
            elif json.loads(raw)["status"] != status and not (oid == inflight and exited is not None):
                problems.append(f"order {oid} is {json.loads(raw)['status']}, acknowledged {status}")
        total = 0
        for u in ("u0", "u1", "u2"):
            st, _, raw = request(conn, "GET", "/api/orders?limit=1", u)
            total += json.loads(raw)["total"]
        # one request may have been in flight when a failed sync ended the process
        slack = 1 if exited is not None else 0
        if not len(acked) <= total <= len(acked) + slack:
            problems.append(f"{total} orders after restart, {len(acked)} acknowledged (503s must leave nothing)")
        for (user, key), oid in keys.items():
            st, hd, raw = request(conn, "POST", "/api/orders", user, BODY, key=key)
            if st != 201 or json.loads(raw)["id"] != oid or hd.get("idempotent-replayed") != "true":
                problems.append(f"key {key} of {user} after restart: {st} {raw[:120]!r}, expected a replay of {oid}")
        after = 0
        for u in ("u0", "u1", "u2"):
            st, _, raw = request(conn, "GET", "/api/orders?limit=1", u)
            after += json.loads(raw)["total"]
        if after != total:
            problems.append(f"replaying acknowledged keys changed the order count: {total} -> {after}")
        conn.close()
        p2.send_signal(signal.SIGTERM)
        if p2.wait(10) != 0:
            problems.append("clean restart did not exit 0 on SIGTERM")
        p2.stderr.close()
        return injected, problems
    finally:
        shutil.rmtree(data, ignore_errors=True)
        if os.path.exists(log):
            os.unlink(log)


def walk(orderd, shim, op, err):
    """N = 1, 2, ... until the fault is no longer reached."""
    results, n = [], 1
    while n < 400:
        injected, problems = run_case(orderd, shim, op, n, err)
        results.append((n, injected, problems))
        if not injected:
            break
        n += 1
    return op, err, results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orderd", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--jobs", type=int, default=4)
    args = ap.parse_args()
    passed = failed = 0
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(walk, args.orderd, args.shim, op, err) for op, err in CASES]
        for f in futures:
            op, err, results = f.result()
            bad = [(n, pr) for n, inj, pr in results if pr]
            points = sum(1 for _, inj, _ in results if inj)
            if bad:
                failed += 1
                print(f"FAIL  {op}:{err}: {len(bad)} of {points} fault points broke the promise")
                for n, pr in bad[:5]:
                    print(f"      N={n}: {'; '.join(pr)[:400]}")
            else:
                passed += 1
                print(f"ok    {op}:{err}: {points} fault points, every acknowledged change kept")
    print(f"suite took {time.time() - t0:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
