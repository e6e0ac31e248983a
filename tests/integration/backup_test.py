#!/usr/bin/env python3
"""The online backup of docs/deploy/backup.md, run under write load.

python3 tests/integration/backup_test.py --orderd build/orderd [--rounds N] [--seed S]

The script is taken from docs/deploy/backup.md as it stands (the ```sh block that
starts with #!/bin/sh) and run with /bin/sh against a server with
--snapshot-bytes 4096, so segments rotate and snapshots remove them while it
copies (--feed-retention 0), or keep them for the event feed (the default:
the script skips those the newest snapshot covers). Four writer threads create orders, cancel some, edit some
(set_quantity of l1) and cancel part of others (one of l2), and keep every
answer with the time it arrived; they go on while the script runs. Each
round's backup is packed with tar, unpacked into a fresh directory, checked
with `orderd journal verify` (exit 0) and started: every change acknowledged
before that round's script started must be there, at least at the version
acknowledged and exactly as acknowledged at that version; a restored server
takes a new order that survives its restart. Also: a backup taken before any
snapshot, and the refusal of an existing destination.

Python 3.11 standard library only."""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    Runner, Server, TempDir, ensure, ensure_eq, require_executable)

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "deploy", "backup.md")
SNAPSHOT_DONE_RE = re.compile(r"^snapshot \S+: \d+ orders$")
ORDER_BODY = ('{"items":[{"product_id":"p1","quantity":3,"price":1.25},'
              '{"product_id":"p2","quantity":2,"price":4.10}],'
              '"shipping_address":"1 Backup Rd","payment_method":"card"}')
EDIT_BODY = {"operations": [{"op": "set_quantity", "line_id": "l1", "quantity": 2}]}
PARTIAL_BODY = {"lines": [{"line_id": "l2", "quantity": 1}]}
# what must be as acknowledged when the restored order has the acknowledged version
COMPARED = ("id", "user_id", "status", "version", "items", "total", "currency", "shipping_address",
            "created_at", "updated_at")


def backup_script(workdir):
    """docs/deploy/backup.md's script written to workdir; returns its path."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^```sh\n(#!/bin/sh\n.*?)^```$", text, re.S | re.M)
    ensure(m is not None, f"{DOC} has no ```sh block starting with #!/bin/sh")
    path = os.path.join(workdir, "orderd-backup")
    with open(path, "w", encoding="utf-8") as f:
        f.write(m.group(1))
    return path


def slow_cp(workdir):
    """A directory holding a `cp` that sleeps 0.2 s after copying a segment:
    on PATH, the script's segments are copied slowly, so that snapshots
    remove segments it listed before it copies them, and cover the segment
    it copied as the newest before it looks for the snapshot."""
    d = os.path.join(workdir, "slow-cp")
    os.mkdir(d)
    with open(os.path.join(d, "cp"), "w", encoding="utf-8") as f:
        f.write('#!/bin/sh\n/bin/cp "$@"; rc=$?\ncase "$*" in *journal-*) sleep 0.2;; esac\nexit $rc\n')
    os.chmod(os.path.join(d, "cp"), 0o755)
    return d


def run_backup(script, binary, data, dest, path_first=None):
    """Runs the script (path_first: a directory put first on PATH); returns the CompletedProcess."""
    env = dict(os.environ, ORDERD=binary)
    if path_first is not None:
        env["PATH"] = path_first + os.pathsep + env.get("PATH", "")
    return subprocess.run(["/bin/sh", script, data, dest], capture_output=True, text=True, env=env, timeout=60)


class Writers:
    """Threads creating, cancelling, editing and part-cancelling orders, each
    on its own keep-alive connection; every 200/201 answer is kept as
    (monotonic time it arrived, user, order)."""

    def __init__(self, srv, n, seed):
        self.srv = srv
        self.acks = []
        self.errors = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i, random.Random(seed * 100 + i)), daemon=True)
                        for i in range(n)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
        ensure(not self.errors, "writers: " + "; ".join(self.errors[:5]))

    def _call(self, conn, method, path, user, body, want):
        r = conn.request(method, path, user, body)
        if r.status != want:
            raise AssertionError(f"{method} {path}: expected {want}, got {r!r}")
        self.acks.append((time.monotonic(), user, r.json()))
        return r.json()

    def _run(self, i, rng):
        conn = self.srv.http()
        fresh = []  # pending orders nothing but a create touched: (user, id)
        try:
            while not self.stop.is_set():
                user = f"bk-w{i}-{rng.randrange(4)}"
                o = self._call(conn, "POST", "/api/orders", user, ORDER_BODY, 201)
                fresh.append((user, o["id"]))
                if len(fresh) < 3:
                    continue
                u, oid = fresh.pop(rng.randrange(len(fresh)))
                what = rng.randrange(4)
                if what == 0:
                    self._call(conn, "POST", f"/api/orders/{oid}/cancel", u, None, 200)
                elif what == 1:
                    self._call(conn, "POST", f"/api/orders/{oid}/edit", u, EDIT_BODY, 200)
                elif what == 2:
                    self._call(conn, "POST", f"/api/orders/{oid}/cancel", u, PARTIAL_BODY, 200)
                    if rng.randrange(2):
                        self._call(conn, "POST", f"/api/orders/{oid}/cancel", u, None, 200)
                # else: left as created
        except Exception as e:  # noqa: BLE001 - reported by finish()
            self.errors.append(f"writer {i}: {type(e).__name__}: {e}")
        finally:
            conn.close()

    def acknowledged_before(self, t):
        """id -> (user, order) of the newest version acknowledged before monotonic time t."""
        out = {}
        for at, user, o in list(self.acks):
            if at < t and (o["id"] not in out or o["version"] > out[o["id"]][1]["version"]):
                out[o["id"]] = (user, o)
        return out


def restore(backup, workdir, name):
    """The backup packed with tar and unpacked into a fresh directory; returns it."""
    tarball = os.path.join(workdir, f"{name.split()[0]}.tar")
    fresh = os.path.join(workdir, f"{name.split()[0]}-restored")
    os.mkdir(fresh)
    for cmd in (["tar", "-C", backup, "-cf", tarball, "."], ["tar", "-C", fresh, "-xf", tarball]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        ensure_eq(p.returncode, 0, f"{' '.join(cmd)} ({p.stderr.strip()})")
    return fresh


def verify(binary, data):
    p = subprocess.run([binary, "journal", "verify", "--data-dir", data], capture_output=True, text=True)
    ensure(p.returncode == 0, f"orderd journal verify --data-dir {data}: exit {p.returncode}\n"
           f"{p.stdout}{p.stderr}")
    return p.stdout


def check_restored(binary, data, expected, workdir, name):
    """Starts a server on data: every expected order at least as acknowledged;
    then a new order there survives a restart. Returns the number checked."""
    srv = Server(binary, data, workdir=workdir, name=name)
    try:
        srv.start()
        conn = srv.http()
        missing, older, differ = [], [], []
        for oid, (user, want) in expected.items():
            r = conn.get(user, oid)
            if r.status != 200:
                missing.append(f"{oid} ({r.status})")
                continue
            got = r.json()
            if got["version"] < want["version"]:
                older.append(f"{oid} v{got['version']} < acknowledged v{want['version']}")
            elif got["version"] == want["version"]:
                bad = [k for k in COMPARED if got.get(k) != want.get(k)]
                if bad:
                    differ.append(f"{oid} v{got['version']}: {bad}")
            elif want["status"] == "cancelled":
                differ.append(f"{oid}: acknowledged cancelled, restored v{got['version']} {got['status']}")
        ensure(not missing, f"{len(missing)} acknowledged orders missing after restore: {missing[:5]}")
        ensure(not older, f"{len(older)} orders older than acknowledged: {older[:5]}")
        ensure(not differ, f"{len(differ)} orders not as acknowledged: {differ[:5]}")
        r = conn.request("POST", "/api/orders", "bk-after", ORDER_BODY)
        ensure_eq(r.status, 201, f"create on the restored server ({r!r})")
        new_id = r.json()["id"]
        conn.close()
        ensure_eq(srv.terminate(10.0), 0, "restored server's exit status after SIGTERM")
        again = srv.again(name + "-again").start()
        try:
            conn = again.http()
            ensure_eq(conn.get("bk-after", new_id).status, 200, "the restored server's new order after a restart")
            conn.close()
        finally:
            again.kill9()
        return len(expected)
    finally:
        srv.kill9()


def test_backup_under_load(binary, rounds, seed, retention):
    """retention "0": every snapshot removes the segments it covers while the
    script copies them; the default keeps them for the event feed, and the
    script skips those the newest snapshot covers."""
    rng = random.Random(seed)
    with TempDir("orderd-backup-") as tmp:
        script = backup_script(tmp)
        slow = slow_cp(tmp)
        extra = ["--feed-retention", retention] if retention is not None else []
        srv = Server(binary, args=["--snapshot-bytes", "4096", *extra], workdir=tmp, threads=2,
                     name="source").start()
        writers = Writers(srv, 4, seed)
        taken = []  # (name, backup dir, start time, snapshots completed during the script, script output)
        try:
            writers.start()
            for k in range(rounds):
                time.sleep(rng.uniform(0.3, 1.2))
                ensure(not writers.errors, "writers: " + "; ".join(writers.errors[:5]))
                dest = os.path.join(tmp, f"backup{k}")
                lines_before = len(srv.lines)
                t0 = time.monotonic()
                p = run_backup(script, binary, srv.data_dir, dest, slow if k % 2 else None)
                time.sleep(0.05)  # the log lines of the last moments
                during = sum(1 for ln in srv.lines[lines_before:] if SNAPSHOT_DONE_RE.match(ln))
                ensure(p.returncode == 0, f"round {k}: the backup script exited {p.returncode}:\n"
                       f"{p.stdout}{p.stderr}")
                ensure(not os.path.exists(dest + ".partial"), f"round {k}: {dest}.partial left behind")
                taken.append((f"round{k}" + (" (slow cp)" if k % 2 else ""), dest, t0, during, p.stdout.strip()))
            time.sleep(0.2)  # writes after the last backup too
            writers.finish()
        finally:
            writers.stop.set()
            srv.kill9()
        notes = []
        for name, dest, t0, during, out in taken:
            expected = writers.acknowledged_before(t0)
            ensure(len(expected) > 0, f"{name}: nothing was acknowledged before the backup")
            fresh = restore(dest, tmp, name)
            verify(binary, fresh)
            n = check_restored(binary, fresh, expected, tmp, name)
            notes.append(f"{name}: {n} orders, {during} snapshots during the copy ({out.split(': ', 1)[-1]})")
        ensure(sum(t[3] for t in taken) > 0,
               "no snapshot completed while a backup ran: the test did not exercise the race; "
               "notes: " + "; ".join(notes))
        kinds = {o["status"] for _, _, o in writers.acks} | \
            {"edited" for _, _, o in writers.acks if o["items"][0]["quantity"] == 2} | \
            {"part-cancelled" for _, _, o in writers.acks if o["items"][1].get("cancelled_quantity")}
        ensure({"pending", "cancelled", "edited", "part-cancelled"} <= kinds, f"changes made: {sorted(kinds)}")
        print("      " + "\n      ".join(notes), flush=True)
        return f"{len(writers.acks)} changes acknowledged"


def test_backup_before_any_snapshot(binary):
    with TempDir("orderd-backup-first-") as tmp:
        script = backup_script(tmp)
        srv = Server(binary, workdir=tmp, name="source").start()
        try:
            conn = srv.http()
            expected = {}
            for _ in range(5):
                r = conn.request("POST", "/api/orders", "bk-first", ORDER_BODY)
                ensure_eq(r.status, 201, f"create ({r!r})")
                expected[r.json()["id"]] = ("bk-first", r.json())
            conn.close()
            dest = os.path.join(tmp, "b")
            p = run_backup(script, binary, srv.data_dir, dest)
            ensure(p.returncode == 0, f"backup exit {p.returncode}: {p.stdout}{p.stderr}")
            names = sorted(os.listdir(dest))
            ensure_eq(names, ["journal-0000000000000001.wal", "operator-token"], "files in the backup")
            ensure_eq(os.stat(os.path.join(dest, "operator-token")).st_mode & 0o777, 0o600,
                      "operator-token's mode in the backup")
            again = run_backup(script, binary, srv.data_dir, dest)
            ensure_eq(again.returncode, 1, "exit status of a backup into an existing directory")
            ensure("exists" in again.stderr, f"refusal says why: {again.stderr!r}")
            ensure_eq(sorted(os.listdir(dest)), names, "the existing backup after the refusal")
        finally:
            srv.kill9()
        fresh = restore(dest, tmp, "first")
        verify(binary, fresh)
        check_restored(binary, fresh, expected, tmp, "first")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"seed {seed}", flush=True)
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if require_executable(runner, binary):
        runner.run("backup_before_any_snapshot", test_backup_before_any_snapshot, binary)
        runner.run("backup_under_load[--feed-retention 0]", test_backup_under_load, binary, args.rounds, seed, "0")
        runner.run("backup_under_load[segments kept for the feed]", test_backup_under_load, binary, args.rounds, seed,
                   None)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
