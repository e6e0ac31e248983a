#!/usr/bin/env python3
"""Load across several worker threads: 32 keep-alive clients create orders
for a few seconds against --threads 4. Every request must get a 201 with the
order as sent, the server must stay up and exit 0 on SIGTERM, and a restart
must hold every acknowledged order. (With h2o sockets set up on the wrong
thread, workers corrupted each other's buffer free lists within seconds of
such load.)

    python3 tests/integration/stress_test.py --orderd build/orderd [--seconds S]

The last line is exactly `N passed, N failed, N skipped` (the harness is
orderd_harness.py)."""
import argparse
import http.client
import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    Runner, Server, TempDir, TestFailure, check_created, new_order, require_executable)

CLIENTS = 32
THREADS = 4


def test_load_across_workers(binary, seconds):
    problems, acked, lock = [], {}, threading.Lock()
    with TempDir("orderd-stress-") as data:
        srv = Server(binary, data, threads=THREADS, name="orderd (load)").start()
        try:
            stop = time.time() + seconds

            def client(i):
                c = srv.http()
                user = f"load-{i}"
                body, exp = new_order(random.Random(i), f"load{i}")
                while time.time() < stop:
                    try:
                        r = c.create(user, body)
                    except (OSError, http.client.HTTPException) as e:
                        with lock:
                            problems.append(f"client {i}: {e!r}")
                        return
                    try:
                        o = check_created(r, user, exp)
                    except TestFailure as e:
                        with lock:
                            problems.append(f"client {i}: {e}")
                        return
                    with lock:
                        acked[o["id"]] = user

            threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if not srv.alive():
                problems.append(f"orderd died under load with status {srv.proc.poll()}")
            else:
                rc = srv.terminate()
                if rc != 0:
                    problems.append(f"exit status after SIGTERM {rc}")
        finally:
            srv.kill9()
        # every acknowledged order after a restart
        srv = srv.again(name="orderd (restarted)").start()
        try:
            c = srv.http()
            missing = sum(c.get(user, oid).status != 200 for oid, user in acked.items())
            if missing:
                problems.append(f"{missing} of {len(acked)} acknowledged orders missing after a restart")
            rc = srv.terminate()
            if rc != 0:
                problems.append(f"exit status of the restarted server after SIGTERM {rc}")
        finally:
            srv.kill9()
    if problems:
        raise TestFailure("; ".join(problems[:5]))
    return f"({len(acked)} creates over {CLIENTS} connections, {THREADS} workers)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("--seconds", type=float, default=6.0)
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if require_executable(runner, binary):
        runner.run("load_across_workers", test_load_across_workers, binary, args.seconds)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
