#!/usr/bin/env python3
"""examples/fulfilment-worker.sh against two orderd nodes.

python3 tests/integration/fulfilment_worker_test.py --orderd build/orderd

Two nodes (--node-id 0 and 1) take orders of several users; the worker
follows both feeds and moves every new pending order to processing with
If-Match. Checked: after `--once` every order created before it ran is
processing, but for one cancelled before the worker saw it (left
cancelled: its If-Match no longer matches); the worker following the feeds
forever is killed with SIGKILL in the middle of a backlog and started again:
it resumes from its state files, every order ends up processing, and none
was moved twice (each order's audit trail holds exactly one change to
processing); against a node whose feed no longer holds its first events
(--feed-retention 0, small snapshots), a new worker gets 410, moves every
pending order from GET /api/admin/orders and then follows the feed from
the 410's durable_seq. Needs curl and jq (visible SKIP without them).

Python 3.11 standard library only."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from orderd_harness import (  # noqa: E402
    Server, SkipTest, TempDir, ensure, ensure_eq, expect, new_order, suite_start)

WORKER = os.path.join(HERE, "..", "..", "examples", "fulfilment-worker.sh")


class Ctx:
    def __init__(self, workdir, binary):
        self.workdir = workdir
        self.nodes = [Server(binary, None, ["--node-id", str(i)], workdir=workdir, threads=1, name=f"node{i}")
                      for i in range(2)]
        self.rng = random.Random(7)
        self.orders = []  # (node index, user, id)
        self.state = os.path.join(workdir, "state")

    def args(self):
        return [f"http://127.0.0.1:{n.port}={os.path.join(n.data_dir, 'operator-token')}" for n in self.nodes]

    def create(self, count):
        for i in range(count):
            node = i % 2
            user = f"fw-user-{self.rng.randrange(6)}"
            http = self.nodes[node].http()
            try:
                body, _ = new_order(self.rng, "fw")
                doc = expect(http.create(user, body), 201)
            finally:
                http.close()
            self.orders.append((node, user, doc["id"]))

    def order(self, node, user, oid):
        http = self.nodes[node].http()
        try:
            doc = expect(http.get(user, oid), 200)
            trail = expect(http.request("GET", f"/api/orders/{oid}/events", user), 200)["events"]
        finally:
            http.close()
        return doc, trail


def need_tools():
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            raise SkipTest(f"{tool} is not installed (the example needs curl and jq; .ci/deps installs them)")


def test_once(ctx):
    need_tools()
    ctx.create(10)
    node, user, cancelled = ctx.orders[3]
    http = ctx.nodes[node].http()
    try:
        expect(http.cancel(user, cancelled), 200)
    finally:
        http.close()
    r = subprocess.run([WORKER, "--state-dir", ctx.state, "--once", *ctx.args()], capture_output=True, text=True,
                       timeout=60)
    ensure_eq(r.returncode, 0, f"the worker's exit status (stderr: {r.stderr[-2000:]})")
    for node, user, oid in ctx.orders:
        doc, _ = ctx.order(node, user, oid)
        ensure_eq(doc["status"], "cancelled" if oid == cancelled else "processing", f"order {oid}")
    ensure(f"{cancelled} changed meanwhile (412)" in r.stderr, f"no 412 logged for the cancelled order: {r.stderr}")
    return f"({len(ctx.orders)} orders)"


def test_killed_and_resumed(ctx):
    need_tools()
    ctx.create(60)
    proc = subprocess.Popen([WORKER, "--state-dir", ctx.state, *ctx.args()], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(0.7)  # part of the backlog done
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    ctx.create(10)  # and more after the kill
    r = subprocess.run([WORKER, "--state-dir", ctx.state, "--once", *ctx.args()], capture_output=True, text=True,
                       timeout=120)
    ensure_eq(r.returncode, 0, f"the resumed worker's exit status (stderr: {r.stderr[-2000:]})")
    moved = 0
    for node, user, oid in ctx.orders:
        doc, trail = ctx.order(node, user, oid)
        if doc["status"] == "cancelled":
            continue
        ensure_eq(doc["status"], "processing", f"order {oid}")
        ensure_eq(sum(1 for e in trail if e["status"] == "processing"), 1, f"order {oid}: changes to processing")
        moved += 1
    return f"({moved} orders processing, each moved once)"


def test_resync_after_gone(ctx):
    need_tools()
    srv = Server(ctx.nodes[0].binary, None, ["--feed-retention", "0", "--snapshot-bytes", "4096"],
                 workdir=ctx.workdir, threads=1, name="gone").start()
    try:
        http = srv.http()
        ids = []
        try:
            for i in range(150):
                body, _ = new_order(ctx.rng, "gone")
                ids.append(expect(http.create(f"gone-{i % 7}", body), 201)["id"])
        finally:
            http.close()
        ensure(not os.path.exists(os.path.join(srv.data_dir, "journal-0000000000000001.wal")),
               "the first segment is still there: no 410 to test")
        arg = f"http://127.0.0.1:{srv.port}={os.path.join(srv.data_dir, 'operator-token')}"
        r = subprocess.run([WORKER, "--state-dir", os.path.join(ctx.workdir, "gone-state"), "--once", arg],
                           capture_output=True, text=True, timeout=120)
        ensure_eq(r.returncode, 0, f"the worker's exit status (stderr: {r.stderr[-2000:]})")
        ensure("resynchronising" in r.stderr, f"no resynchronisation logged: {r.stderr[-500:]}")
        http = srv.http()
        try:
            for i, oid in enumerate(ids):
                ensure_eq(expect(http.get(f"gone-{i % 7}", oid), 200)["status"], "processing", f"order {oid}")
        finally:
            http.close()
        return f"({len(ids)} orders moved after a 410)"
    finally:
        srv.kill9()


def main():
    _, runner, binary = suite_start(__doc__)
    if binary is None:
        return runner.finish()
    with TempDir("orderd-fulfilment-") as workdir:
        ctx = Ctx(workdir, binary)
        try:
            for n in ctx.nodes:
                n.start()
            for fn in (test_once, test_killed_and_resumed, test_resync_after_gone):
                runner.run(fn.__name__[5:], fn, ctx)
        finally:
            for n in ctx.nodes:
                n.kill9()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
