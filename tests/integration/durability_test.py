#!/usr/bin/env python3
"""Black-box durability tests for orderd (issue 3: the write-ahead journal).

    python3 tests/integration/durability_test.py --orderd build/orderd --fault-orderd build/orderd-faults
            [--cycles N] [--seed S] [--only SUBSTRING] [--keep]

1. kill -9 crash cycles under concurrent creates and cancels: every
   acknowledged change survives, ids are never reused, versions only grow,
   nothing appears that was never sent (half of the cycles with a small
   --snapshot-bytes, so rotations and snapshots are killed too).
2. The snapshot/rotation fault points (ORDERD_FAULT_POINT, exit status 86;
   only --fault-orderd, built with the fault hooks, reads it): restart recovers every acknowledged order, `orderd journal verify` passes,
   the server keeps working and snapshots again.
3. A torn tail (garbage, a cut or a flipped byte in the last record) is cut at
   start-up with a log line; damage in the middle is refused with the file,
   the offset and the repair command; verify reports it; repair moves the rest
   to a .broken file without losing a byte and the server starts again.  Also
   with the damage in an older of two segments: one repair must be enough.
4. --fsync everysec and --fsync no: acknowledged creates survive SIGTERM and
   kill -9 restarts; --fsync bogus exits 2 with one line on stderr.
5. ENOSPC on a real (loop-mounted ext4) filesystem when running as root:
   503 problem+json with Retry-After, reads keep working, nothing answered 503
   exists, refused changes are undone in memory, writes resume when space
   returns, no torn tail is left, all survives kill -9; once more with a
   small --snapshot-bytes so that snapshots and rotations meet the full disk.

The fault points are test hooks: those cases run the binary given with
--fault-orderd (a test build of the server that honours ORDERD_FAULT_POINT)
and, without it, are reported as SKIP "no --fault-orderd binary".

Prints one line per test (a test that cannot run here, e.g. ENOSPC without
root, reads `SKIP name: reason`) and finally exactly `N passed, N failed,
N skipped`; a skipped test never counts as passed.  Exits 1 when anything
failed, 77 when every test skipped, else 0.  Python 3.11 standard library only
(the harness is orderd_harness.py).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    Http, Runner, Server, SkipTest, TempDir, TestFailure, check_created, check_order_as_sent, check_unavailable,
    ensure, ensure_eq, new_order, order_tag, require_executable)

ARGS = None  # parsed command line
# Crash cycles list every order after each restart while there are at most
# this many acknowledged ones; past it (long soaks), every 10th cycle and the
# last do, the others GET what was acknowledged since the last check.
FULL_CHECK_ORDERS = 10000

REPLAY_RE = re.compile(r"^replayed (\d+) records \(snapshot at record (\d+)(?: with \d+ orders)?\), (\d+) orders, "
                       r"(\d+) bytes in ([0-9.]+) ms")
TORN_RE = re.compile(r"^journal (\S+): torn tail of (\d+) bytes at offset (\d+) dropped")
SNAPSHOT_RE = re.compile(r"^snapshot (\S+): (\d+) orders")
FAULT_EXIT = 86  # exit status of the server at an ORDERD_FAULT_POINT


def fault_orderd():
    """The --fault-orderd binary (the test build that honours ORDERD_FAULT_POINT); SkipTest without it."""
    if ARGS.fault_orderd is None:
        raise SkipTest("no --fault-orderd binary")
    return ARGS.fault_orderd


def fault_server(data, args, point, name):
    """A fixture that exits at fault point `point`: the --fault-orderd binary
    with ORDERD_FAULT_POINT set."""
    return Server(fault_orderd(), data, args, env={"ORDERD_FAULT_POINT": point}, name=name)


def replay_line(srv):
    """The match of the server's 'replayed N records ...' stderr line (None when it printed none)."""
    for ln in srv.lines:
        m = REPLAY_RE.match(ln)
        if m:
            return m
    return None


# ==========================================================================
# The journal on disk: `orderd journal`, segment files
# ==========================================================================

def journal_tool(binary, cmd, data_dir, timeout=60):
    """`orderd journal CMD --data-dir DIR`: (exit status, stdout, stderr)."""
    p = subprocess.run([binary, "journal", cmd, "--data-dir", data_dir], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def journal_records(binary, data_dir):
    """The records of every journal segment (journal dump), as dicts."""
    rc, out, err = journal_tool(binary, "dump", data_dir)
    ensure(rc == 0, f"orderd journal dump exited {rc}: {err.strip()} {out[-500:]}")
    recs = []
    for ln in out.splitlines():
        ln = ln.strip()
        if ln.startswith("{"):
            recs.append(json.loads(ln))
    return recs


def segments(data_dir):
    return sorted(f for f in os.listdir(data_dir) if re.fullmatch(r"journal-[0-9a-f]{16}\.wal", f))


# ==========================================================================
# A ledger of what was sent and what was acknowledged
# ==========================================================================

class Ledger:
    """Everything sent, everything acknowledged and everything observed after
    restarts.  The checks after a restart:
      - every acknowledged create is there, as sent, under its user;
      - every acknowledged cancel shows cancelled;
      - every order present comes from a create that was sent (acknowledged
        or in flight), once; a cancelled one had a cancel sent;
      - what an earlier restart showed is still there, versions never lower;
      - an acknowledged create never got an id seen before."""

    def __init__(self):
        self.sent = {}            # tag -> (user, expectation)
        self.acked = {}           # id -> {"user", "tag", "cancel_acked"}
        self.cancel_sent = set()  # ids a cancel was sent for
        self.observed = {}        # id -> (user, tag, version, status) after the last restart
        self.id_of_tag = {}       # tag -> id, once seen
        self.known_ids = set()    # every id ever seen
        self.users = set()
        self.pending = {}         # user -> acknowledged pending ids with no cancel sent
        self.acked_creates = 0
        self.acked_cancels = 0
        self.inflight = 0
        self.last_batch = []      # ids acknowledged since the last verification

    def note_sent(self, tag, user, exp):
        self.sent[tag] = (user, exp)
        self.users.add(user)

    def note_acked_create(self, oid, user, tag, problems):
        if oid in self.known_ids:
            problems.append(f"id {oid} acknowledged for {tag} was used before "
                            f"(by {self.acked.get(oid, self.observed.get(oid))})")
        if tag in self.id_of_tag and self.id_of_tag[tag] != oid:
            problems.append(f"{tag} acknowledged as {oid} but seen before as {self.id_of_tag[tag]}")
        self.known_ids.add(oid)
        self.id_of_tag[tag] = oid
        self.acked[oid] = {"user": user, "tag": tag, "cancel_acked": False}
        self.pending.setdefault(user, []).append(oid)
        self.acked_creates += 1
        self.last_batch.append(oid)

    def note_acked_cancel(self, oid):
        self.acked[oid]["cancel_acked"] = True
        self.acked_cancels += 1
        self.last_batch.append(oid)

    def verify_quick(self, srv):
        """The cheap check for long soaks: GET by id everything acknowledged
        since the last check; the replayed order count between what must be
        there and what was sent."""
        problems = []
        conn = srv.http()
        checked = {}
        try:
            for oid in dict.fromkeys(self.last_batch):
                a = self.acked[oid]
                r = conn.get(a["user"], oid)
                if r.status != 200:
                    problems.append(f"LOST acknowledged create {oid} ({a['tag']}): GET gives {r!r}")
                    continue
                o = r.json()
                try:
                    check_order_as_sent(o, a["user"], self.sent[a["tag"]][1], f"order {oid} after restart")
                except TestFailure as e:
                    problems.append(str(e))
                st, ver = o.get("status"), o.get("version")
                if (st, ver) not in (("pending", 1), ("cancelled", 2)):
                    problems.append(f"order {oid}: status {st!r} version {ver!r}")
                if st == "cancelled" and oid not in self.cancel_sent:
                    problems.append(f"order {oid} is cancelled but no cancel was ever sent")
                if a["cancel_acked"] and st != "cancelled":
                    problems.append(f"LOST acknowledged cancel of {oid}: status {st!r}")
                if oid in self.observed and (ver or 0) < self.observed[oid][2]:
                    problems.append(f"order {oid}: version went down from {self.observed[oid][2]} to {ver}")
                checked[oid] = o
        finally:
            conn.close()
        m = replay_line(srv)
        must = len(set(self.acked) | set(self.observed))
        if m is None:
            problems.append("no 'replayed N records (...), N orders, N bytes in N ms' line on stderr")
        elif not must <= int(m.group(3)) <= len(self.sent):
            problems.append(f"replay line says {m.group(3)} orders; at least {must} must be there and only "
                            f"{len(self.sent)} creates were ever sent: {m.group(0)}")
        if problems:
            raise TestFailure(f"{len(problems)} problems after restart:\n        "
                              + "\n        ".join(problems[:40]))
        for oid, o in checked.items():
            self.observed[oid] = (o["user_id"], order_tag(o), o["version"], o["status"])
        self.last_batch = []
        return len(checked)

    def verify(self, srv, rng, get_sample=30, require_replay_count=True):
        """Checks the restarted server against the ledger; returns the number
        of orders it holds.  Raises TestFailure listing every problem."""
        problems = []
        conn = srv.http()
        listed = {}   # id -> order
        try:
            for user in sorted(self.users):
                seen_tags = set()
                for o in conn.list_all(user):
                    oid = o.get("id")
                    tag = order_tag(o)
                    if oid in listed:
                        problems.append(f"order {oid} listed twice")
                    listed[oid] = o
                    if tag not in self.sent or self.sent[tag][0] != user:
                        problems.append(f"order {oid} of {user} was never sent (tag {tag!r}): {o}")
                        continue
                    if tag in seen_tags:
                        problems.append(f"create {tag} applied twice (order {oid})")
                    seen_tags.add(tag)
                    if self.id_of_tag.get(tag, oid) != oid:
                        problems.append(f"create {tag} was {self.id_of_tag[tag]}, now {oid}")
                    try:
                        check_order_as_sent(o, user, self.sent[tag][1], f"order {oid} after restart")
                    except TestFailure as e:
                        problems.append(str(e))
                    st, ver = o.get("status"), o.get("version")
                    if (st, ver) not in (("pending", 1), ("cancelled", 2)):
                        problems.append(f"order {oid}: status {st!r} version {ver!r} (only pending/1 or "
                                        f"cancelled/2 are possible here)")
                    if st == "cancelled" and oid not in self.cancel_sent:
                        problems.append(f"order {oid} is cancelled but no cancel was ever sent")
                    if oid in self.acked and self.acked[oid]["tag"] != tag:
                        problems.append(f"order {oid} holds {tag}, acknowledged for {self.acked[oid]['tag']}")

            # per-user order survives: newest first, i.e. the acknowledged creates of a user (made one
            # after another by one client) come back in reverse order of their acknowledgement
            by_user = {}
            for oid, o in listed.items():
                by_user.setdefault(o.get("user_id"), []).append(oid)
            acked_by_user = {}
            for oid, a in self.acked.items():
                if oid in listed:
                    acked_by_user.setdefault(a["user"], []).append(oid)
            for user, ids in acked_by_user.items():
                shown = [i for i in reversed(by_user.get(user, [])) if i in self.acked]
                if shown != ids:
                    problems.append(f"orders of {user} are not listed newest first in creation order: "
                                    f"oldest first they are {shown[:8]}..., created as {ids[:8]}...")

            lost_creates = lost_cancels = 0
            for oid, a in self.acked.items():
                o = listed.get(oid)
                if o is None:
                    lost_creates += 1
                    if lost_creates <= 10:
                        problems.append(f"LOST acknowledged create {oid} ({a['tag']}) of {a['user']}")
                    continue
                if o.get("user_id") != a["user"]:
                    problems.append(f"order {oid}: user {o.get('user_id')!r}, acknowledged for {a['user']!r}")
                if a["cancel_acked"] and o.get("status") != "cancelled":
                    lost_cancels += 1
                    if lost_cancels <= 10:
                        problems.append(f"LOST acknowledged cancel of {oid}: status {o.get('status')!r}")
            if lost_creates or lost_cancels:
                problems.append(f"{lost_creates} acknowledged creates and {lost_cancels} acknowledged "
                                f"cancels lost")

            for oid, (user, tag, ver, st) in self.observed.items():
                o = listed.get(oid)
                if o is None:
                    problems.append(f"order {oid} ({tag}) shown after an earlier restart is gone")
                elif (o.get("version") or 0) < ver:
                    problems.append(f"order {oid}: version went down from {ver} to {o.get('version')}")

            # GET by id: everything acknowledged since the last check, and a sample of the rest
            ids = list(dict.fromkeys(self.last_batch))
            older = [i for i in self.acked if i not in set(ids)]
            ids += rng.sample(older, min(get_sample, len(older)))
            for oid in ids:
                a = self.acked[oid]
                r = conn.get(a["user"], oid)
                if r.status != 200:
                    problems.append(f"GET acknowledged order {oid}: {r!r}")
                elif r.json() != listed.get(oid):
                    problems.append(f"GET {oid} differs from the list: {r.json()} vs {listed.get(oid)}")
        finally:
            conn.close()

        m = replay_line(srv)
        if m is None:
            problems.append("no 'replayed N records (...), N orders, N bytes in N ms' line on stderr")
        elif require_replay_count and int(m.group(3)) != len(listed):
            problems.append(f"replay line says {m.group(3)} orders, the server lists {len(listed)}: {m.group(0)}")

        if problems:
            raise TestFailure(f"{len(problems)} problems after restart:\n        "
                              + "\n        ".join(problems[:40]))
        for oid, o in listed.items():
            tag = order_tag(o)
            self.observed[oid] = (o["user_id"], tag, o["version"], o["status"])
            self.id_of_tag[tag] = oid
            self.known_ids.add(oid)
            if o["status"] == "cancelled":
                pend = self.pending.get(o["user_id"], [])
                if oid in pend:
                    pend.remove(oid)
        self.last_batch = []
        return len(listed)


class ClientResult:
    def __init__(self):
        self.sent = []            # (tag, user, exp)
        self.acked = []           # (id, user, tag)
        self.cancels_sent = []    # ids
        self.cancels_acked = []   # ids
        self.statuses = {}        # status -> count (non-2xx answers)
        self.unavailable = []     # tags answered 503
        self.errors = []
        self.inflight = 0


def client_loop(port, users, pending, rng, tag_prefix, stop, res, cancel_share=0.3, max_ops=None,
                allow_503=False):
    """Creates orders for `users` and cancels some of their acknowledged
    pending ones (`pending`: user -> list, owned by this thread) until
    `stop` is set, the connection fails (the request then counts as in
    flight and the loop ends) or max_ops requests were made."""
    conn = Http(port, timeout=5)
    conn2 = Http(port, timeout=5)
    cancelled = []  # (user, id) whose cancel this thread saw acknowledged
    n = 0
    try:
        while not stop.is_set() and (max_ops is None or n < max_ops) and len(res.errors) < 20:
            user = rng.choice(users)
            pend = pending.setdefault(user, [])
            n += 1
            if pend and not allow_503 and rng.random() < cancel_share * 0.3:
                # the same cancel on two connections at once: one applies it, the
                # other finds it done; both answers promise it is durable
                oid = pend.pop(rng.randrange(len(pend)))
                res.cancels_sent.append(oid)
                path = f"/api/orders/{oid}/cancel"
                try:
                    conn.send("POST", path, user)
                    conn2.send("POST", path, user)
                    answers = [conn.recv("POST", path), conn2.recv("POST", path)]
                except Exception:  # noqa: BLE001 - in flight
                    res.inflight += 1
                    break
                good = True
                for r in answers:
                    o = r.json() if r.status == 200 else {}
                    if r.status != 200 or o.get("id") != oid or o.get("status") != "cancelled" \
                            or o.get("version") != 2:
                        res.errors.append(f"double cancel {oid} of {user}: {r!r}")
                        good = False
                if good:
                    res.cancels_acked.append(oid)
                    cancelled.append((user, oid))
            elif cancelled and not allow_503 and rng.random() < 0.03:
                # a retried cancel: 200 with the unchanged order
                cu, oid = rng.choice(cancelled)
                try:
                    r = conn.cancel(cu, oid)
                except Exception:  # noqa: BLE001 - in flight (changes nothing either way)
                    res.inflight += 1
                    break
                o = r.json() if r.status == 200 else {}
                if r.status != 200 or o.get("status") != "cancelled" or o.get("version") != 2:
                    res.errors.append(f"repeated cancel of {oid}: expected 200 cancelled version 2, got {r!r}")
            elif pend and rng.random() < cancel_share:
                oid = pend.pop(rng.randrange(len(pend)))
                res.cancels_sent.append(oid)
                try:
                    r = conn.cancel(user, oid)
                except Exception:  # noqa: BLE001 - in flight: may or may not have happened
                    res.inflight += 1
                    break
                if r.status == 503 and allow_503:
                    try:
                        check_unavailable(r)
                    except TestFailure as e:
                        res.errors.append(str(e))
                    res.statuses[503] = res.statuses.get(503, 0) + 1
                    res.cancels_sent.pop()  # refused: it did not happen (a cancelled order is then a bug)
                    continue
                if r.status != 200:
                    res.errors.append(f"cancel {oid} of {user}: expected 200, got {r!r}")
                    continue
                o = r.json()
                if o.get("id") != oid or o.get("status") != "cancelled" or o.get("version") != 2:
                    res.errors.append(f"cancel {oid}: answer {o}")
                    continue
                res.cancels_acked.append(oid)
                cancelled.append((user, oid))
            else:
                tag = f"{tag_prefix}n{n}"
                body, exp = new_order(rng, tag)
                res.sent.append((tag, user, exp))
                try:
                    r = conn.create(user, body)
                except Exception:  # noqa: BLE001 - in flight
                    res.inflight += 1
                    break
                if r.status == 503 and allow_503:
                    try:
                        check_unavailable(r)
                    except TestFailure as e:
                        res.errors.append(str(e))
                    res.statuses[503] = res.statuses.get(503, 0) + 1
                    res.unavailable.append(tag)
                    continue
                try:
                    o = check_created(r, user, exp)
                except TestFailure as e:
                    res.errors.append(f"{user} {tag}: {e}")
                    continue
                res.acked.append((o["id"], user, tag))
                pend.append(o["id"])
    finally:
        conn.close()
        conn2.close()


def merge(ledger, res, problems):
    for tag, user, exp in res.sent:
        ledger.note_sent(tag, user, exp)
    ledger.cancel_sent.update(res.cancels_sent)
    for oid, user, tag in res.acked:
        ledger.note_acked_create(oid, user, tag, problems)
    for oid in res.cancels_acked:
        ledger.note_acked_cancel(oid)
    ledger.inflight += res.inflight
    problems.extend(res.errors)


def run_clients(port, ledger, nthreads, users_per_thread, rng, tag_prefix, stop, max_ops=None,
                cancel_share=0.3, allow_503=False, user_prefix="u"):
    """Starts nthreads client threads; returns (threads, results)."""
    threads, results = [], []
    for t in range(nthreads):
        users = [f"{user_prefix}{t}-{k}" for k in range(users_per_thread)]
        for u in users:
            ledger.users.add(u)
        res = ClientResult()
        th = threading.Thread(target=client_loop, daemon=True,
                              args=(port, users, ledger.pending, random.Random(rng.random()),
                                    f"{tag_prefix}t{t}", stop, res, cancel_share, max_ops, allow_503))
        threads.append(th)
        results.append(res)
        th.start()
    return threads, results


def join_clients(threads, results, ledger, timeout=20):
    problems = []
    deadline = time.monotonic() + timeout
    for th in threads:
        th.join(max(0.1, deadline - time.monotonic()))
        if th.is_alive():
            problems.append("a client thread did not finish (request without timeout?)")
    for res in results:
        merge(ledger, res, problems)
    return problems


# ==========================================================================
# 1. kill -9 crash cycles
# ==========================================================================

def test_crash_cycles(binary, seed, cycles, base_args=()):
    rng = random.Random(seed)
    ledger = Ledger()
    snap_args = ["--snapshot-bytes", "65536"]
    stats = {"snap_cycles": 0, "snapshots": 0, "rotations": 0, "torn": 0, "max_segments": 0}
    with TempDir("orderd-crash-", keep=ARGS.keep) as tmp:
        data = os.path.join(tmp, "data")
        t_start = time.monotonic()
        full_checks = 0
        for cycle in range(cycles + 1):
            args = [*base_args, *(snap_args if cycle % 2 == 1 else [])]
            # the last restart uses 8 threads (128 shards instead of 64): ids and per-user order survive that too
            srv = Server(binary, data, args, threads=8 if cycle == cycles else 2,
                         name=f"orderd cycle {cycle}").start()
            try:
                if cycle > 0:
                    full = len(ledger.acked) <= FULL_CHECK_ORDERS or cycle % 10 == 0 or cycle == cycles
                    full_checks += full
                    try:
                        if full:
                            ledger.verify(srv, rng)
                        else:
                            ledger.verify_quick(srv)
                    except Exception as e:  # noqa: BLE001 - reported with the server's state
                        raise TestFailure(f"cycle {cycle} (seed {seed}), after kill -9: {type(e).__name__}: {e}"
                                          f"\n      server exit status {srv.proc.poll()}; stderr:\n        "
                                          f"{srv.tail()}") from None
                    for ln in srv.lines:
                        if TORN_RE.match(ln):
                            stats["torn"] += 1
                if cycle == cycles:
                    rc = srv.terminate()
                    ensure(rc == 0, f"SIGTERM after the last cycle: exit status {rc}; stderr:\n        {srv.tail()}")
                    break
                if cycle % 2 == 1:
                    stats["snap_cycles"] += 1
                first_seg = segments(data)[-1] if segments(data) else None
                stop = threading.Event()
                threads, results = run_clients(srv.port, ledger, 8, 3, rng, f"c{cycle}", stop)
                time.sleep(rng.uniform(0.010, 0.300))
                srv.kill9()
                stop.set()
                problems = join_clients(threads, results, ledger)
                if problems:
                    raise TestFailure(f"cycle {cycle} (seed {seed}): {len(problems)} problems while running:"
                                      f"\n        " + "\n        ".join(problems[:20])
                                      + f"\n      server stderr:\n        {srv.tail()}")
                stats["snapshots"] += sum(1 for ln in srv.lines if SNAPSHOT_RE.match(ln))
                segs = segments(data)
                stats["max_segments"] = max(stats["max_segments"], len(segs))
                if segs and segs[-1] != first_seg:
                    stats["rotations"] += 1
                rc, out, err = journal_tool(binary, "verify", data)
                ensure(rc == 0, f"cycle {cycle} (seed {seed}): `orderd journal verify` after kill -9 exited {rc}:"
                                f"\n        {out.strip()} {err.strip()}")
            finally:
                srv.kill9()
        rc, out, err = journal_tool(binary, "verify", data)
        ensure(rc == 0, f"`orderd journal verify` after the last SIGTERM exited {rc}: {out.strip()} {err.strip()}")
        elapsed = time.monotonic() - t_start
    ensure(ledger.acked_creates > 0, "no create was ever acknowledged")
    return (f"[{cycles} cycles, acked creates {ledger.acked_creates}, acked cancels {ledger.acked_cancels}, "
            f"in flight at kills {ledger.inflight}, losses 0; cycles with --snapshot-bytes 65536: "
            f"{stats['snap_cycles']}, snapshots completed {stats['snapshots']}, cycles that rotated "
            f"{stats['rotations']}, torn tails cut {stats['torn']}; full checks {full_checks}, quick "
            f"{cycles - full_checks}; {elapsed:.1f}s]")


# ==========================================================================
# 2. Fault points in rotation and snapshots
# ==========================================================================

def simple_verify(srv, ledger, rng):
    ledger.verify(srv, rng, get_sample=10_000)


def create_until_exit(srv, ledger, rng, prefix, limit_s=30):
    """4 clients create orders until the process exits; returns the exit status."""
    stop = threading.Event()
    threads, results = run_clients(srv.port, ledger, 4, 2, rng, prefix, stop, cancel_share=0.2)
    rc = srv.wait_exit(limit_s)
    stop.set()
    problems = join_clients(threads, results, ledger)
    if rc is None:
        srv.kill9()
        raise TestFailure(f"the process did not exit within {limit_s}s of creating orders; stderr:\n        "
                          f"{srv.tail()}")
    ensure(not problems, "problems while creating:\n        " + "\n        ".join(problems[:20]))
    return rc


def create_n(srv, ledger, rng, prefix, n, nthreads=4):
    stop = threading.Event()
    threads, results = run_clients(srv.port, ledger, nthreads, 2, rng, prefix, stop,
                                   max_ops=max(1, n // nthreads), cancel_share=0.2)
    problems = join_clients(threads, results, ledger, timeout=60)
    ensure(not problems, "problems while creating:\n        " + "\n        ".join(problems[:20]))


def test_fault_point(binary, seed, point):
    fault_orderd()  # skip before any work without the test build
    rng = random.Random(f"{seed}-{point}")
    ledger = Ledger()
    snap = ["--snapshot-bytes", "4096"]
    with TempDir("orderd-fault-", keep=ARGS.keep) as tmp:
        data = os.path.join(tmp, "data")
        # some orders and a journal segment first (the first segment is created at start-up)
        srv = Server(binary, data, snap, name="orderd (seed)").start()
        try:
            create_n(srv, ledger, rng, "seed", 20)
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
        finally:
            srv.kill9()

        srv = fault_server(data, snap, point, name=f"orderd ({point})").start()
        try:
            rc = create_until_exit(srv, ledger, rng, "f")
        finally:
            srv.kill9()
        ensure(rc == FAULT_EXIT, f"expected exit status {FAULT_EXIT} at fault point {point}, got {rc}; "
                                 f"stderr:\n        {srv.tail()}")
        ensure(srv.wait_line(rf"fault point {point}: exiting", 1) is not None,
               f"no 'fault point {point}: exiting' line on stderr:\n        {srv.tail()}")
        files_after_crash = sorted(os.listdir(data))
        rc, out, err = journal_tool(binary, "verify", data)
        ensure(rc == 0, f"`orderd journal verify` right after the crash at {point} exited {rc}:\n        "
                        f"{out.strip()} {err.strip()}\n        files: {files_after_crash}")
        acked_at_crash = ledger.acked_creates

        # restart without the fault point: everything acknowledged is there, writes work, snapshots work
        srv = Server(binary, data, snap, name=f"orderd (after {point})").start()
        try:
            try:
                simple_verify(srv, ledger, rng)
            except TestFailure as e:
                raise TestFailure(f"after the crash at {point} (files {files_after_crash}): {e}\n      "
                                  f"stderr:\n        {srv.tail()}") from None
            conn = srv.http()
            body, exp = new_order(rng, "after")
            ledger.note_sent("after", "after-user", exp)
            ledger.users.add("after-user")
            r = conn.create("after-user", body)
            o = check_created(r, "after-user", exp)
            ledger.note_acked_create(o["id"], "after-user", "after", [])
            conn.close()
            # keep going until a snapshot completes after the crashed one
            before = sum(1 for ln in srv.lines if SNAPSHOT_RE.match(ln))
            deadline = time.monotonic() + 20
            while sum(1 for ln in srv.lines if SNAPSHOT_RE.match(ln)) == before:
                ensure(time.monotonic() < deadline, f"no snapshot completed after the crash at {point}; "
                                                    f"stderr:\n        {srv.tail()}")
                ensure(srv.alive(), f"the server exited: stderr:\n        {srv.tail()}")
                create_n(srv, ledger, rng, f"s{int(time.monotonic() * 1000)}", 40)
            create_n(srv, ledger, rng, "more", 20)
            srv.kill9()
        finally:
            srv.kill9()
        rc, out, err = journal_tool(binary, "verify", data)
        ensure(rc == 0, f"`orderd journal verify` after the next snapshot and kill -9 exited {rc}: "
                        f"{out.strip()} {err.strip()}")
        srv = Server(binary, data, snap, name="orderd (final)").start()
        try:
            try:
                simple_verify(srv, ledger, rng)
            except TestFailure as e:
                raise TestFailure(f"after a snapshot following the crash at {point}, and kill -9: {e}\n      "
                                  f"stderr:\n        {srv.tail()}") from None
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
        finally:
            srv.kill9()
        left = sorted(os.listdir(data))
    return (f"[exit {FAULT_EXIT} after {acked_at_crash} acked creates; files then: {files_after_crash}; "
            f"{ledger.acked_creates} acked creates and {ledger.acked_cancels} cancels all present; files now: {left}]")


# ==========================================================================
# 3. Torn tails and damage in the middle
# ==========================================================================

def start_sequential(binary, data, ledger, rng, n, prefix, user="torn-user"):
    """Starts orderd, makes n creates one after another, stops it (SIGTERM)."""
    srv = Server(binary, data, name="orderd").start()
    try:
        conn = srv.http()
        for i in range(n):
            tag = f"{prefix}{i}"
            body, exp = new_order(rng, tag)
            ledger.note_sent(tag, user, exp)
            o = check_created(conn.create(user, body), user, exp)
            ledger.note_acked_create(o["id"], user, tag, [])
        conn.close()
        ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
    finally:
        srv.kill9()
    return srv


def forget(ledger, oid):
    """The order whose record was cut is no longer expected (it was the torn tail)."""
    a = ledger.acked.pop(oid)
    ledger.observed.pop(oid, None)
    ledger.id_of_tag.pop(a["tag"], None)
    ledger.sent.pop(a["tag"], None)
    ledger.acked_creates -= 1
    if oid in ledger.last_batch:
        ledger.last_batch.remove(oid)
    for pend in ledger.pending.values():
        if oid in pend:
            pend.remove(oid)


def restart_expect_torn(binary, data, ledger, rng, seg_path, want_bytes, want_offset, what):
    srv = Server(binary, data, name="orderd").start()
    try:
        line = srv.wait_line(r"torn tail", 1)
        ensure(line is not None, f"{what}: no log line about the torn tail; stderr:\n        {srv.tail()}")
        m = TORN_RE.match(line)
        ensure(m is not None, f"{what}: unexpected torn-tail line {line!r}")
        ensure_eq(os.path.basename(m.group(1)), os.path.basename(seg_path), f"{what}: file in {line!r}")
        ensure_eq((int(m.group(2)), int(m.group(3))), (want_bytes, want_offset),
                  f"{what}: (bytes dropped, offset) in {line!r}")
        ensure_eq(os.path.getsize(seg_path), want_offset, f"{what}: size of {seg_path} after start-up")
        try:
            simple_verify(srv, ledger, rng)
        except TestFailure as e:
            raise TestFailure(f"{what}: {e}\n      stderr:\n        {srv.tail()}") from None
        # appending after the cut works and survives a restart
        conn = srv.http()
        tag = f"after-{what.replace(' ', '-')}"
        body, exp = new_order(rng, tag)
        ledger.note_sent(tag, "torn-user", exp)
        o = check_created(conn.create("torn-user", body), "torn-user", exp)
        ledger.note_acked_create(o["id"], "torn-user", tag, [])
        conn.close()
        ensure_eq(srv.terminate(), 0, f"{what}: exit status after SIGTERM")
    finally:
        srv.kill9()
    rc, out, err = journal_tool(binary, "verify", data)
    ensure(rc == 0, f"{what}: `orderd journal verify` after the cut exited {rc}: {out.strip()}")
    return line


def flip_byte(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x5A]))


def test_torn_tail(binary, seed):
    rng = random.Random(f"{seed}-torn")
    ledger = Ledger()
    notes = []
    with TempDir("orderd-torn-", keep=ARGS.keep) as tmp:
        data = os.path.join(tmp, "data")
        start_sequential(binary, data, ledger, rng, 30, "a")
        seg = os.path.join(data, segments(data)[-1])

        # (a) garbage after the last record
        size = os.path.getsize(seg)
        garbage = bytes(rng.randrange(256) for _ in range(37))
        with open(seg, "ab") as f:
            f.write(garbage)
        notes.append(restart_expect_torn(binary, data, ledger, rng, seg, 37, size, "garbage appended"))

        # (b) the file cut inside the last record
        recs = [r for r in journal_records(binary, data) if r["file"] == os.path.basename(seg)]
        last = recs[-1]
        reclen = 20 + last["length"]
        keep = rng.randrange(1, reclen)
        os.truncate(seg, last["offset"] + keep)
        forget(ledger, last["id"])
        notes.append(restart_expect_torn(binary, data, ledger, rng, seg, keep, last["offset"],
                                         "cut inside the last record"))

        # (c) a flipped byte in the last record (CRC fails, nothing valid after it)
        recs = [r for r in journal_records(binary, data) if r["file"] == os.path.basename(seg)]
        last = recs[-1]
        reclen = 20 + last["length"]
        flip_byte(seg, last["offset"] + 20 + rng.randrange(last["length"]))
        forget(ledger, last["id"])
        notes.append(restart_expect_torn(binary, data, ledger, rng, seg, reclen, last["offset"],
                                         "flipped byte in the last record"))
    return "[" + " | ".join(n.split(": ", 1)[1] for n in notes) + "]"


def test_mid_damage(binary, seed):
    rng = random.Random(f"{seed}-damage")
    ledger = Ledger()
    with TempDir("orderd-damage-", keep=ARGS.keep) as tmp:
        data = os.path.join(tmp, "data")
        start_sequential(binary, data, ledger, rng, 40, "d")
        seg = os.path.join(data, segments(data)[-1])
        recs = [r for r in journal_records(binary, data) if r["file"] == os.path.basename(seg)]
        ensure_eq(len(recs), 40, "records in the journal")
        bad = recs[len(recs) // 2]
        off = bad["offset"]
        flip_byte(seg, off + 20 + rng.randrange(bad["length"]))
        with open(seg, "rb") as f:
            original = f.read()

        # start-up refuses, naming the file, the offset and the repair command
        srv = Server(binary, data, name="orderd (damaged)").start(expect_listen=False)
        rc = srv.wait_exit(15)
        if rc is None:
            srv.kill9()
        text = srv.stderr_text()
        ensure(rc is not None and rc != 0, f"start-up on a journal damaged in the middle: exit status {rc} "
                                           f"(expected a refusal); stderr:\n        {srv.tail()}")
        ensure(not any("listening on" in ln for ln in srv.lines), f"it listened anyway: {text}")
        ensure(seg in text or os.path.basename(seg) in text, f"stderr does not name {seg}: {text!r}")
        ensure(f"offset {off}" in text, f"stderr does not name offset {off}: {text!r}")
        ensure("orderd journal repair" in text, f"stderr does not point to `orderd journal repair`: {text!r}")
        ensure_eq(os.path.getsize(seg), len(original), "segment size after the refused start (nothing cut)")

        # verify: exit 1 and the offset
        rc, out, err = journal_tool(binary, "verify", data)
        ensure_eq(rc, 1, f"`orderd journal verify` exit status (stdout {out.strip()!r})")
        ensure(f"offset {off}" in out + err and os.path.basename(seg) in out + err,
               f"verify does not report {os.path.basename(seg)} at offset {off}: {out!r} {err!r}")

        # repair: the valid prefix stays, the rest goes to .broken byte for byte
        rc, out, err = journal_tool(binary, "repair", data)
        ensure_eq(rc, 0, f"`orderd journal repair` exit status ({out.strip()} {err.strip()})")
        broken = seg + ".broken"
        ensure(os.path.exists(broken), f"no {broken} after repair; files: {sorted(os.listdir(data))}")
        with open(seg, "rb") as f:
            kept = f.read()
        with open(broken, "rb") as f:
            moved = f.read()
        ensure_eq(len(kept), off, "bytes kept in the segment")
        ensure_eq(len(kept) + len(moved), len(original), "kept + moved bytes (nothing deleted)")
        ensure(kept + moved == original, "kept + moved bytes differ from the original file")
        rc, out, err = journal_tool(binary, "verify", data)
        ensure_eq(rc, 0, f"`orderd journal verify` after repair ({out.strip()})")

        # the server starts with the valid prefix
        for r in recs:
            if r["offset"] >= off:
                forget(ledger, r["id"])
        srv = Server(binary, data, name="orderd (repaired)").start()
        try:
            try:
                n = simple_verify_count(srv, ledger, rng)
            except TestFailure as e:
                raise TestFailure(f"after repair: {e}\n      stderr:\n        {srv.tail()}") from None
            ensure_eq(n, len(recs) // 2, "orders after repair (records before the damage)")
            conn = srv.http()
            for r in recs:
                if r["offset"] >= off:
                    g = conn.get("torn-user", r["id"])
                    ensure(g.status == 404, f"order {r['id']} from behind the damage is there: {g!r}")
            body, exp = new_order(rng, "post-repair")
            ledger.note_sent("post-repair", "torn-user", exp)
            o = check_created(conn.create("torn-user", body), "torn-user", exp)
            ledger.note_acked_create(o["id"], "torn-user", "post-repair", [])
            conn.close()
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
        finally:
            srv.kill9()
        srv = Server(binary, data, name="orderd (repaired, restarted)").start()
        try:
            simple_verify(srv, ledger, rng)
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
        finally:
            srv.kill9()
    return f"[record at offset {off} of {len(original)} bytes; {len(moved)} bytes moved to .broken]"


def simple_verify_count(srv, ledger, rng):
    return ledger.verify(srv, rng, get_sample=10_000)


def test_older_segment_damage(binary, seed):
    """Damage in a segment that is not the newest (two segments exist after a
    crash between rotation and snapshot): start-up refuses; one `repair`
    keeps the valid prefix (of the older segment) and moves everything after
    it aside, the newer segment included, and the server starts."""
    fault_orderd()  # the second segment comes from a crash at rotate:after-create
    rng = random.Random(f"{seed}-older")
    ledger = Ledger()
    user = "torn-user"
    with TempDir("orderd-older-", keep=ARGS.keep) as tmp:
        data = os.path.join(tmp, "data")
        start_sequential(binary, data, ledger, rng, 10, "o")
        # rotate into a second segment and crash before any snapshot exists
        srv = fault_server(data, ["--snapshot-bytes", "4096"], "rotate:after-create", name="orderd (rotate)").start()
        try:
            conn = srv.http()
            for i in range(200):
                tag = f"r{i}"
                body, exp = new_order(rng, tag)
                ledger.note_sent(tag, user, exp)
                try:
                    r = conn.create(user, body)
                except OSError:
                    break
                o = check_created(r, user, exp)
                ledger.note_acked_create(o["id"], user, tag, [])
            conn.close()
            ensure_eq(srv.wait_exit(10), FAULT_EXIT, "exit status at rotate:after-create")
        finally:
            srv.kill9()
        # a tag whose create was in flight at the crash may or may not exist: make it certain
        srv = Server(binary, data, name="orderd").start()
        try:
            ledger.verify(srv, rng)
            conn = srv.http()
            for i in range(10):
                tag = f"n{i}"
                body, exp = new_order(rng, tag)
                ledger.note_sent(tag, user, exp)
                o = check_created(conn.create(user, body), user, exp)
                ledger.note_acked_create(o["id"], user, tag, [])
            conn.close()
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
        finally:
            srv.kill9()
        segs = segments(data)
        ensure(len(segs) == 2, f"expected two journal segments, got {segs}")
        old, new = (os.path.join(data, f) for f in segs)
        recs = journal_records(binary, data)
        old_recs = [r for r in recs if r["file"] == segs[0]]
        ensure(len(old_recs) >= 6, f"too few records in {segs[0]}: {len(old_recs)}")
        bad = old_recs[len(old_recs) // 2]
        off = bad["offset"]
        flip_byte(old, off + 20 + rng.randrange(bad["length"]))
        sizes = {p: os.path.getsize(p) for p in (old, new)}
        contents = {}
        for p in (old, new):
            with open(p, "rb") as f:
                contents[p] = f.read()

        srv = Server(binary, data, name="orderd (damaged)").start(expect_listen=False)
        rc = srv.wait_exit(15)
        if rc is None:
            srv.kill9()
        text = srv.stderr_text()
        ensure(rc not in (None, 0), f"start-up on a damaged older segment: exit status {rc}; stderr:\n        "
                                   f"{srv.tail()}")
        ensure(segs[0] in text and f"offset {off}" in text and "orderd journal repair" in text,
               f"stderr does not name {segs[0]}, offset {off} and `orderd journal repair`: {text!r}")
        rc, out, err = journal_tool(binary, "verify", data)
        ensure_eq(rc, 1, f"`orderd journal verify` exit status ({out.strip()})")
        ensure(f"offset {off}" in out, f"verify does not report offset {off}: {out!r}")

        rc, out, err = journal_tool(binary, "repair", data)
        ensure_eq(rc, 0, f"`orderd journal repair` exit status ({out.strip()} {err.strip()})")
        # nothing deleted: every byte is in a segment or a .broken file, in order
        total_after = 0
        for p in (old, new):
            kept = open(p, "rb").read() if os.path.exists(p) else b""
            moved = open(p + ".broken", "rb").read() if os.path.exists(p + ".broken") else b""
            ensure(kept + moved == contents[p], f"{os.path.basename(p)}: kept ({len(kept)}) + .broken "
                                               f"({len(moved)}) bytes differ from the original ({sizes[p]})")
            total_after += len(kept) + len(moved)
        ensure_eq(total_after, sum(sizes.values()), "bytes after repair (kept + moved)")
        ensure_eq(os.path.getsize(old), off, f"bytes kept in {segs[0]}")

        files = sorted(os.listdir(data))
        problems = []
        rc, vout, verr = journal_tool(binary, "verify", data)
        if rc != 0:
            problems.append(f"`orderd journal verify` after one repair exited {rc}:\n          "
                            + vout.strip().replace("\n", "\n          "))
        for r in recs:
            if r["file"] != segs[0] or r["offset"] >= off:
                if r.get("event") == "order_created" and r["id"] in ledger.acked:
                    forget(ledger, r["id"])
                elif r.get("event") == "order_created":
                    # created but never acknowledged (in flight at the crash), seen since: gone with the rest
                    ledger.observed.pop(r["id"], None)
        srv = Server(binary, data, name="orderd (repaired)").start(expect_listen=False)
        try:
            line = srv.wait_line(r"listening on", 15)
            if line is None:
                problems.append(f"orderd does not start after one `orderd journal repair` (exit status "
                                f"{srv.wait_exit(5)}); stderr:\n          " + "\n          ".join(srv.lines[-5:]))
        finally:
            srv.kill9()
        if problems:
            # diagnosis only: does a second repair help?
            rc2, out2, err2 = journal_tool(binary, "repair", data)
            srv = Server(binary, data, name="orderd (repaired twice)").start(expect_listen=False)
            try:
                ok2 = srv.wait_line(r"listening on", 15) is not None
            finally:
                srv.kill9()
            problems.append(f"(a second repair exited {rc2} and left {sorted(os.listdir(data))}; orderd "
                            + ("then starts)" if ok2 else "still does not start: " + " / ".join(srv.lines[-2:]) + ")"))
            said = (out.strip() + "\n" + err.strip()).strip().splitlines()
            raise TestFailure(f"damage at {segs[0]} offset {off}; repair said:\n          "
                              + "\n          ".join(ln.strip() for ln in said)
                              + f"\n        files after repair: {files}\n        " + "\n        ".join(problems))
        srv = Server(binary, data, name="orderd (repaired)").start()
        try:
            n = ledger.verify(srv, rng, get_sample=10_000)
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
        finally:
            srv.kill9()
    return f"[damage at {segs[0]} offset {off}; {n} orders in the valid prefix]"


# ==========================================================================
# 4. --fsync everysec / no
# ==========================================================================

def test_fsync_mode(binary, seed, mode):
    rng = random.Random(f"{seed}-{mode}")
    ledger = Ledger()
    args = ["--fsync", mode]
    with TempDir(f"orderd-fsync-{mode}-", keep=ARGS.keep) as tmp:
        data = os.path.join(tmp, "data")
        srv = Server(binary, data, args, name=f"orderd --fsync {mode}").start()
        try:
            create_n(srv, ledger, rng, "a", 200)
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
        finally:
            srv.kill9()
        srv = Server(binary, data, args, name=f"orderd --fsync {mode}").start()
        try:
            try:
                simple_verify(srv, ledger, rng)
            except TestFailure as e:
                raise TestFailure(f"after SIGTERM: {e}\n      stderr:\n        {srv.tail()}") from None
            create_n(srv, ledger, rng, "b", 200)
            srv.kill9()
        finally:
            srv.kill9()
        srv = Server(binary, data, args, name=f"orderd --fsync {mode}").start()
        try:
            try:
                simple_verify(srv, ledger, rng)
            except TestFailure as e:
                raise TestFailure(f"after kill -9: {e}\n      stderr:\n        {srv.tail()}") from None
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
        finally:
            srv.kill9()
        rc, out, err = journal_tool(binary, "verify", data)
        ensure_eq(rc, 0, f"`orderd journal verify` exit status ({out.strip()})")
    return f"[{ledger.acked_creates} acked creates, {ledger.acked_cancels} acked cancels survived SIGTERM and kill -9]"


def test_fsync_bogus(binary, seed):
    with TempDir("orderd-bogus-", keep=ARGS.keep) as tmp:
        p = subprocess.run([binary, "--listen", "127.0.0.1:0", "--threads", "2", "--data-dir",
                            os.path.join(tmp, "data"), "--fsync", "bogus"], capture_output=True, timeout=10)
        err = p.stderr.decode(errors="replace")
        ensure_eq(p.returncode, 2, f"exit status (stderr {err!r})")
        lines = err.splitlines()
        ensure(len(lines) == 1 and lines[0].strip(), f"expected one line on stderr, got {err!r}")
        ensure("fsync" in lines[0], f"the line does not name --fsync: {lines[0]!r}")
        ensure_eq(p.stdout, b"", "stdout")
    return f"[{lines[0]}]"


# ==========================================================================
# 5. ENOSPC on a real filesystem
# ==========================================================================

def sh(cmd, timeout=30):
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def fill(path, leave):
    """Fills the filesystem of `path` with a file, then frees `leave` bytes of it."""
    chunk = b"\xa5" * 65536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for step in (65536, 4096, 512):
            while True:
                try:
                    n = os.write(fd, chunk[:step])
                    if n < step:
                        break
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
        os.fsync(fd)
        size = os.fstat(fd).st_size
        os.ftruncate(fd, max(0, size - leave))
        os.fsync(fd)
    finally:
        os.close(fd)
    return size


def test_enospc(binary, seed, extra=()):
    if os.geteuid() != 0:
        raise SkipTest("ENOSPC on a loop-mounted ext4 image needs root (not running as root)")
    for tool in ("mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            raise SkipTest(f"{tool} not found")
    rng = random.Random(f"{seed}-enospc")
    ledger = Ledger()
    with TempDir("orderd-enospc-", keep=False) as tmp:
        img = os.path.join(tmp, "fs.img")
        mnt = os.path.join(tmp, "mnt")
        os.mkdir(mnt)
        with open(img, "wb") as f:
            f.truncate(8 << 20)
        p = sh(["mkfs.ext4", "-q", "-F", "-m", "0", img])
        if p.returncode != 0:
            raise SkipTest(f"mkfs.ext4 failed: {p.stderr.decode(errors='replace').strip()}")
        p = sh(["mount", "-o", "loop", img, mnt])
        if p.returncode != 0:
            raise SkipTest(f"mount -o loop failed: {p.stderr.decode(errors='replace').strip()}")
        srv = None
        try:
            data = os.path.join(mnt, "data")
            srv = Server(binary, data, extra, name="orderd (small fs)").start()
            create_n(srv, ledger, rng, "pre", 40)
            filler = os.path.join(mnt, "filler")
            filled = fill(filler, 16 << 10)

            # create until the disk is full: 503 problem+json with Retry-After, nothing else
            stop = threading.Event()
            threads, results = run_clients(srv.port, ledger, 4, 2, rng, "full", stop, cancel_share=0.1,
                                           allow_503=True)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and sum(r.statuses.get(503, 0) for r in results) < 12:
                if any(not th.is_alive() for th in threads):
                    break
                time.sleep(0.02)
            stop.set()
            problems = join_clients(threads, results, ledger)
            refused = [t for r in results for t in r.unavailable]
            n503 = sum(r.statuses.get(503, 0) for r in results)
            ensure(srv.alive(), f"the server died on a full disk (exit status {srv.proc.poll()}); "
                                f"stderr:\n        {srv.tail()}")
            ensure(not problems, "problems while filling the disk:\n        " + "\n        ".join(problems[:20]))
            ensure(n503 > 0, f"no 503 after {ledger.acked_creates} acknowledged creates on a full disk")
            ensure(any("No space left on device" in ln for ln in srv.lines),
                   f"no log line naming ENOSPC:\n        {srv.tail()}")
            first_srv = srv
            acked_when_full = ledger.acked_creates

            # reads keep working; nothing answered 503 exists; a write still refused while full
            conn = srv.http()
            r = conn.request("GET", "/healthz")
            ensure_eq(r.status, 200, "GET /healthz on a full disk")
            # (refused changes were undone in memory: a refused cancel left the order pending, version 1)
            for oid, a in ledger.acked.items():
                r = conn.get(a["user"], oid)
                ensure(r.status == 200, f"GET acknowledged order {oid} on a full disk: {r!r}")
                o = r.json()
                want = ("cancelled", 2) if a["cancel_acked"] else ("pending", 1)
                ensure((o.get("status"), o.get("version")) == want,
                       f"order {oid} on a full disk: status/version {(o.get('status'), o.get('version'))}, "
                       f"expected {want} (cancel {'acknowledged' if a['cancel_acked'] else 'never acknowledged'})")
            refused_set = set(refused)
            for user in sorted(ledger.users):
                orders = conn.list_all(user)
                for o in orders:
                    ensure(order_tag(o) not in refused_set, f"order answered 503 exists: {o}")
                ensure_eq(sorted(o["id"] for o in orders), sorted(i for i, a in ledger.acked.items()
                                                                  if a["user"] == user),
                          f"orders listed for {user} on a full disk vs. acknowledged creates")
                for st in ("pending", "cancelled"):
                    r = conn.request("GET", f"/api/orders?status={st}&limit=100", user)
                    ensure(r.status == 200, f"list ?status={st} on a full disk: {r!r}")
                    doc = r.json()
                    want_ids = [o["id"] for o in orders if o["status"] == st]
                    ensure_eq(doc["total"], len(want_ids), f"{user}: total of ?status={st}")
                    ensure_eq([o["id"] for o in doc["orders"]], want_ids[:100], f"{user}: ids of ?status={st}")
            got503 = 0
            for i in range(30):
                tag = f"stillfull{i}"
                body, exp = new_order(rng, tag)
                ledger.note_sent(tag, "full-user", exp)
                ledger.users.add("full-user")
                r = conn.create("full-user", body)
                if r.status == 503:
                    check_unavailable(r)
                    refused.append(tag)
                    got503 += 1
                    if got503 >= 3:
                        break
                else:
                    o = check_created(r, "full-user", exp)
                    ledger.note_acked_create(o["id"], "full-user", tag, [])
            ensure(got503 > 0, "creates on the still full disk never got 503")

            # space returns: writes resume within a few seconds
            os.unlink(filler)
            resumed = None
            t0 = time.monotonic()
            i = 0
            while time.monotonic() - t0 < 8:
                tag = f"resume{i}"
                i += 1
                body, exp = new_order(rng, tag)
                ledger.note_sent(tag, "full-user", exp)
                r = conn.create("full-user", body)
                if r.status == 503:
                    check_unavailable(r)
                    refused.append(tag)
                    time.sleep(0.2)
                    continue
                o = check_created(r, "full-user", exp)
                ledger.note_acked_create(o["id"], "full-user", tag, [])
                resumed = time.monotonic() - t0
                break
            ensure(resumed is not None, f"creates still refused 8 s after the space came back; "
                                        f"stderr:\n        {srv.tail()}")
            conn.close()
            create_n(srv, ledger, rng, "after", 40)

            # kill -9 and restart: every acknowledged change there, nothing refused exists
            srv.kill9()
            snaps = (f"; snapshots {sum(1 for ln in first_srv.lines if SNAPSHOT_RE.match(ln))} done, "
                     f"{sum(1 for ln in first_srv.lines if 'abandoned' in ln)} abandoned, "
                     f"{sum(1 for ln in first_srv.lines if 'cannot start a new journal segment' in ln)} "
                     f"rotations refused") if extra else ""
            if os.environ.get("DURABILITY_DEBUG"):
                print("\n".join(first_srv.lines))
            rc, out, err = journal_tool(binary, "verify", data)
            ensure_eq(rc, 0, f"`orderd journal verify` after kill -9 ({out.strip()})")
            # failed writes were cut back to the last good offset: no torn tail (the server was idle)
            ensure("torn tail" not in out, f"the journal has a torn tail after the failed writes: {out.strip()}")
            srv = Server(binary, data, extra, name="orderd (small fs, restarted)").start()
            try:
                ledger.verify(srv, rng, get_sample=10_000)
            except TestFailure as e:
                raise TestFailure(f"after kill -9: {e}\n      stderr:\n        {srv.tail()}") from None
            conn = srv.http()
            refused_set = set(refused)
            for user in sorted(ledger.users):
                for o in conn.list_all(user):
                    ensure(order_tag(o) not in refused_set, f"order answered 503 exists after restart: {o}")
            conn.close()
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
        finally:
            if srv is not None:
                srv.kill9()
            p = sh(["umount", mnt])
            if p.returncode != 0:
                sh(["umount", "-l", mnt])
    return (f"[filler {filled >> 10} KiB; {acked_when_full} acked creates before/while full, {n503} + {got503} "
            f"answered 503; writes resumed {resumed:.2f}s after freeing space; {ledger.acked_creates} acked "
            f"creates, {ledger.acked_cancels} cancels all present after kill -9{snaps}]")


# ==========================================================================

def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True, help="path to the orderd binary")
    ap.add_argument("--fault-orderd", default=None,
                    help="path to the test build of orderd that honours ORDERD_FAULT_POINT (without it the "
                         "fault-point cases skip)")
    ap.add_argument("--cycles", type=int, default=20, help="kill -9 crash cycles (default 20)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    ap.add_argument("--only", default=None, help="run only tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directories")
    ARGS = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(ARGS.orderd)
    ok = require_executable(runner, binary)
    if ARGS.fault_orderd is not None:
        ARGS.fault_orderd = os.path.abspath(ARGS.fault_orderd)
        ok = require_executable(runner, ARGS.fault_orderd, "--fault-orderd binary") and ok
    if not ok:
        return runner.finish()
    seed = ARGS.seed if ARGS.seed is not None else int(time.time() * 1000) % 1_000_000_007
    print(f"durability tests: seed {seed} (rerun with --seed {seed}), {ARGS.cycles} crash cycles, "
          f"fault points: {ARGS.fault_orderd or 'skipped (no --fault-orderd binary)'}", flush=True)

    tests = [(f"crash_kill9_cycles_{ARGS.cycles}", test_crash_cycles, (binary, seed, ARGS.cycles))]
    for point in ("rotate:after-create", "snapshot:after-write", "snapshot:after-rename", "snapshot:after-cleanup"):
        tests.append((f"fault_point_{point}", test_fault_point, (binary, seed, point)))
    tests += [
        ("torn_tail_cut_at_startup", test_torn_tail, (binary, seed)),
        ("mid_damage_refused_verify_repair", test_mid_damage, (binary, seed)),
        ("older_segment_damage_one_repair", test_older_segment_damage, (binary, seed)),
        ("fsync_everysec_survives_restarts", test_fsync_mode, (binary, seed, "everysec")),
        ("fsync_no_survives_restarts", test_fsync_mode, (binary, seed, "no")),
        ("fsync_bogus_exits_2", test_fsync_bogus, (binary, seed)),
        ("enospc_real_ext4", test_enospc, (binary, seed)),
        ("enospc_real_ext4_snapshots", test_enospc, (binary, seed, ["--snapshot-bytes", "8192"])),
    ]
    t0 = time.monotonic()
    for name, fn, args in tests:
        if ARGS.only and ARGS.only not in name:
            continue
        runner.run(name, fn, *args)
    print(f"seed {seed}; {time.monotonic() - t0:.1f}s", flush=True)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
