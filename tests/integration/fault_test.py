#!/usr/bin/env python3
"""Fault injection: the Nth write, fdatasync, fsync, rename or open under the
data directory fails (tests/fault/fault_shim.c, LD_PRELOAD), for N = 1, 2, ...
until a run completes without reaching N. In every run:
  - no request is acknowledged whose record was not durable: after a kill -9
    and a clean restart every 201/200 is there, and nothing answered 503 is;
  - the process keeps serving reads (GET answers 200 while writes get 503
    problem+json with Retry-After) and writes resume, or it exits 74 after a
    failed sync;
  - every create carries an Idempotency-Key: after the restart, each
    acknowledged key replays its order and makes no new one.

    python3 tests/integration/fault_test.py --orderd build/orderd --shim build/tests/fault_shim.so [--jobs N]

One test per fault (operation:error); the last line is exactly `N passed,
N failed, N skipped` (the harness is orderd_harness.py).
"""
import argparse
import concurrent.futures
import http.client
import os
import random
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    Runner, Server, TestFailure, check_created, check_unavailable, new_order, require_executable)

BODY, BODY_EXP = new_order(random.Random(7), "fault")  # every create sends this one order
WORK = 40          # creates per run (every third is followed by a cancel)
SNAPSHOT = "4096"  # small: rotations and snapshots happen inside the run
CASES = [("write", "ENOSPC"), ("write", "EIO"), ("write", "short"), ("fdatasync", "EIO"),
         ("fsync", "EIO"), ("rename", "EIO"), ("open", "ENOSPC")]
CONN_ERRORS = (OSError, http.client.HTTPException)


def created(resp, user, problems, what):
    """A 201 to BODY as the harness checks creates; the order, or None (and a problem)."""
    try:
        return check_created(resp, user, BODY_EXP)
    except TestFailure as e:
        problems.append(f"{what}: {e}")
        return None


def unavailable(resp, problems):
    """A 503 problem+json with Retry-After, or a problem."""
    try:
        check_unavailable(resp)
    except TestFailure as e:
        problems.append(str(e))


def injected_in(log):
    if not os.path.exists(log):
        return False
    with open(log) as f:
        return " FAIL" in f.read()


def run_case(orderd, shim, op, n, err):
    """Returns (injected, problems)."""
    data = tempfile.mkdtemp(prefix="orderd-fault-")
    log = os.path.join(tempfile.gettempdir(), os.path.basename(data) + ".log")
    problems = []
    srv = srv2 = None
    try:
        srv = Server(orderd, data, ["--snapshot-bytes", SNAPSHOT], name=f"orderd {op}:{n}:{err}",
                     env={"LD_PRELOAD": shim, "ORDERD_FAULT_DIR": data, "ORDERD_FAULT": f"{op}:{n}:{err}",
                          "ORDERD_FAULT_LOG": log}).start(expect_listen=False)
        port = srv.wait_listen(10)
        injected = injected_in(log)
        if port is None:
            # failed at start-up: fine if it says why and exits 1, having acknowledged nothing
            rc = srv.wait_exit(5)
            if rc != 1:
                problems.append(f"start-up ended with {rc}: {srv.stderr_text()[-300:]}")
            return injected, problems
        acked, refused, exited = {}, 0, None
        keys = {}  # (user, key) -> order id, for acknowledged keyed creates
        inflight = None  # the cancel being sent when the process ended: it may or may not have happened
        conn = srv.http()
        for i in range(WORK):
            user = f"u{i % 3}"
            try:
                r = conn.create(user, BODY, key=f"k{i}")
                if r.status == 201:
                    o = created(r, user, problems, f"create k{i}")
                    if o is None:
                        continue
                    acked[o["id"]] = (user, "pending")
                    keys[(user, f"k{i}")] = o["id"]
                    if i % 3 == 0:
                        inflight = o["id"]
                        r2 = conn.cancel(user, o["id"])
                        if r2.status == 200:
                            acked[o["id"]] = (user, "cancelled")
                        elif r2.status == 503:
                            unavailable(r2, problems)
                        else:
                            problems.append(f"cancel answered {r2.status}")
                        inflight = None
                elif r.status == 503:
                    refused += 1
                    unavailable(r, problems)
                    # reads keep working while writes are refused
                    if acked:
                        oid, (u, _) = next(iter(acked.items()))
                        r3 = conn.get(u, oid)
                        if r3.status != 200:
                            problems.append(f"GET during refusal answered {r3.status}")
                else:
                    problems.append(f"create answered {r.status}: {r.body[:200]!r}")
            except CONN_ERRORS:
                exited = srv.wait_exit(5)
                if exited is None:
                    problems.append("connection failed but the server did not exit")
                break
        if exited is None and refused:
            # writes resume once the refusal window has passed
            deadline, ok = time.time() + 5, False
            while time.time() < deadline and not ok:
                time.sleep(0.3)
                r = conn.create("u0", BODY)
                if r.status == 201:
                    o = created(r, "u0", problems, "create after the refusal window")
                    if o is not None:
                        acked[o["id"]] = ("u0", "pending")
                    ok = True
            if not ok:
                problems.append("writes did not resume after the refusal window")
        conn.close()
        injected = injected_in(log)
        if exited is not None and exited != 74:
            problems.append(f"exited with {exited}, expected 74 after a failed sync")
        srv.kill9()
        # restart clean and check every acknowledged change, and nothing else
        srv2 = Server(orderd, data, ["--snapshot-bytes", SNAPSHOT], name=f"orderd {op}:{n}:{err} (restarted)")
        srv2.start(expect_listen=False)
        if srv2.wait_listen(10) is None:
            problems.append("restart failed: " + srv2.stderr_text()[-400:])
            return injected, problems
        conn = srv2.http()
        for oid, (user, status) in acked.items():
            r = conn.get(user, oid)
            if r.status != 200:
                problems.append(f"acknowledged order {oid} lost")
            elif r.json()["status"] != status and not (oid == inflight and exited is not None):
                problems.append(f"order {oid} is {r.json()['status']}, acknowledged {status}")
        total = sum(conn.total(u) for u in ("u0", "u1", "u2"))
        # one request may have been in flight when a failed sync ended the process
        slack = 1 if exited is not None else 0
        if not len(acked) <= total <= len(acked) + slack:
            problems.append(f"{total} orders after restart, {len(acked)} acknowledged (503s must leave nothing)")
        for (user, key), oid in keys.items():
            r = conn.create(user, BODY, key=key)
            if r.status != 201 or r.json()["id"] != oid or r.header("idempotent-replayed") != "true":
                problems.append(f"key {key} of {user} after restart: {r.status} {r.body[:120]!r}, "
                                f"expected a replay of {oid}")
        after = sum(conn.total(u) for u in ("u0", "u1", "u2"))
        if after != total:
            problems.append(f"replaying acknowledged keys changed the order count: {total} -> {after}")
        conn.close()
        if srv2.terminate() != 0:
            problems.append("clean restart did not exit 0 on SIGTERM")
        return injected, problems
    finally:
        for s in (srv, srv2):
            if s is not None:
                s.kill9()
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
    return results


def check_walk(future):
    """The test of one fault: every point N reached kept the promise."""
    results = future.result()
    bad = [(n, pr) for n, inj, pr in results if pr]
    points = sum(1 for _, inj, _ in results if inj)
    if bad:
        raise TestFailure(f"{len(bad)} of {points} fault points broke the promise\n"
                          + "\n".join(f"N={n}: {'; '.join(pr)[:400]}" for n, pr in bad[:5]))
    return f"[{points} fault points, every acknowledged change kept]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--jobs", type=int, default=4)
    args = ap.parse_args()
    runner = Runner()
    orderd, shim = os.path.abspath(args.orderd), os.path.abspath(args.shim)
    if not require_executable(runner, orderd):
        return runner.finish()
    if not os.path.isfile(shim):
        runner.fail("fault shim exists", f"{shim} is not a file")
        return runner.finish()
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [(f"{op}:{err}", pool.submit(walk, orderd, shim, op, err)) for op, err in CASES]
        for name, f in futures:
            runner.run(name, check_walk, f)
    print(f"suite took {time.time() - t0:.1f} s")
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
