#!/usr/bin/env python3
"""Load across several worker threads: 32 keep-alive clients create orders
for a few seconds against --threads 4. Every request must get a 201, the
server must stay up and exit 0 on SIGTERM, and a restart must hold every
acknowledged order. (With h2o sockets set up on the wrong thread, workers
corrupted each other's buffer free lists within seconds of such load.)"""
import argparse
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time

BODY = json.dumps({"items": [{"product_id": "p", "quantity": 1, "price": 1.25}],
                   "shipping_address": "1 Load St", "payment_method": "card"})


def start(binary, data):
    p = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--threads", "4", "--data-dir", data],
                         stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if "listening on" in line:
            return p, int(line.rsplit(":", 1)[1])
    raise RuntimeError("orderd did not start: exit %s" % p.wait())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orderd", required=True)
    ap.add_argument("--seconds", type=float, default=6.0)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="orderd-stress-")
    problems, acked, lock = [], {}, threading.Lock()
    try:
        p, port = start(args.orderd, data)
        stop = time.time() + args.seconds

        def client(i):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            user = f"load-{i}"
            while time.time() < stop:
                try:
                    c.request("POST", "/api/orders", BODY, {"X-User-Id": user, "Content-Type": "application/json"})
                    r = c.getresponse()
                    raw = r.read()
                except (OSError, http.client.HTTPException) as e:
                    with lock:
                        problems.append(f"client {i}: {e!r}")
                    return
                if r.status != 201:
                    with lock:
                        problems.append(f"client {i}: {r.status} {raw[:120]!r}")
                    return
                with lock:
                    acked[json.loads(raw)["id"]] = user

        threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if p.poll() is not None:
            problems.append(f"orderd died under load with status {p.returncode}")
        else:
            p.terminate()
            rc = p.wait(10)
            if rc != 0:
                problems.append(f"exit status after SIGTERM {rc}")
        # every acknowledged order after a restart
        p, port = start(args.orderd, data)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        missing = 0
        for oid, user in acked.items():
            c.request("GET", f"/api/orders/{oid}", headers={"X-User-Id": user})
            r = c.getresponse()
            r.read()
            missing += r.status != 200
        if missing:
            problems.append(f"{missing} of {len(acked)} acknowledged orders missing after a restart")
        p.terminate()
        p.wait(10)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    if problems:
        print("FAIL  load_across_workers: " + "; ".join(problems[:5]))
        print("0 passed, 1 failed")
        return 1
    print(f"ok    load_across_workers ({len(acked)} creates over 32 connections, 4 workers)")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
