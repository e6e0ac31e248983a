#!/usr/bin/env python3
"""Hostile clients, the quota case (issue 12): one X-User-Id creating as fast
as h2load can send (100 streams on one h2c connection), and users filling
the table, against servers with --threads 2 and the limits on.

- --rate-limit-per-user 50/s --rate-limit-burst 50: h2load hammers creates
  as mallory for 4 s. At most the burst plus the rate are created, the rest
  are 429 problem+json with Retry-After (checked on requests of our own
  among them), while bob, creating every 50 ms on his own connection, gets
  201 every time and a healthy client GETting every 20 ms keeps its p99
  under 50 ms; resident memory stays under 256 MiB; /metrics counts every
  429; once Retry-After has passed mallory creates again.
- --rate-limit-per-user 1/s --rate-limit-burst 1: a create refused with an
  Idempotency-Key keeps no answer for it: after Retry-After the same key
  creates the order (201, not replayed); its replay takes a token too.
- --max-orders-per-user 5: the 6th create is 507, cancelled orders count,
  reads stay 200, another user has room; a restart (replay) keeps the count;
  restarted with 6, the key refused before creates the order.
- --max-orders 8: the 9th and 10th creates, of new users, are 507.
- --memory-limit: a little above what the heap holds, large orders are
  created until 507, then creates and cancels are 507 while reads, repeats
  and the operator keep working; with 1 byte, every write is 507.

Nothing is half-applied: `orderd journal dump` holds exactly the orders
answered 201 and no Idempotency-Key of a refused request. The figures are
printed (docs/security.md quotes them).

    python3 tests/hostile/quota_test.py --orderd build/orderd [--sanitized]

Without h2load (Debian nghttp2-client), four Python threads hammer instead.
--sanitized (a sanitizer build): latency and memory are printed, not held to
the limits. The last line is exactly `N passed, N failed, N skipped` (the
harness is tests/integration/orderd_harness.py)."""
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
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nesting_test import MIB, P99_LIMIT_MS, PERIOD_S, RSS_LIMIT, Healthy, Memory, p99  # noqa: E402
from orderd_harness import (  # noqa: E402
    Http, Server, TempDir, check_problem, encode_body, ensure, ensure_eq, expect, new_order, suite_start)

RATE, BURST = 50, 50
HAMMER_S = 4.0
BOB_PERIOD_S = 0.050  # 20 creates a second: well under the rate


def body(tag="q"):
    return new_order(random.Random(tag), tag)[0]


def big_body(tag, items=1000):
    """A create body of `items` items with 64-byte product ids: an order of about 90 KB in the table."""
    return encode_body([{"product_id": f"{tag}-{i:05d}".ljust(64, "x"), "quantity": 1, "price": 1}
                        for i in range(items)], tag)


def metrics(http):
    r = http.request("GET", "/metrics")
    ensure_eq(r.status, 200, "GET /metrics")
    return r.body.decode()


def sample(text, name, labels=""):
    """The value of one sample of /metrics text ({labels} as written there)."""
    m = re.search(rf"(?m)^{re.escape(name)}{re.escape('{' + labels + '}') if labels else ''} (\S+)$", text)
    ensure(m is not None, f"/metrics has no {name}{{{labels}}}")
    return float(m.group(1))


def journal(ctx, srv):
    """Every record of srv's journal (orderd journal dump, allowed on a live directory) as dicts."""
    p = subprocess.run([ctx.binary, "journal", "dump", "--data-dir", srv.data_dir], capture_output=True, timeout=30)
    ensure_eq(p.returncode, 0, f"journal dump: {p.stderr.decode(errors='replace')}")
    return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]


def created_by(records, user):
    return sum(1 for r in records if r.get("event") in ("order_created", "snapshot_order") and r["user_id"] == user)


def keys_named(records, key):
    return sum(1 for r in records if r.get("event") in ("idempotency_key", "snapshot_idempotency_key")
               and r["key"] == key)


def check_429(r, what):
    """A 429 problem with a Retry-After of whole seconds, at least 1; returns the seconds."""
    doc = check_problem(r, 429)
    ra = r.header("retry-after")
    ensure(ra is not None and ra.isdigit() and int(ra) >= 1, f"{what}: Retry-After {ra!r}")
    ensure(f"retry in {ra} s" in doc["detail"], f"{what}: the detail does not say the wait: {doc!r}")
    return int(ra)


def check_507(r, what, detail_part):
    doc = check_problem(r, 507)
    ensure(detail_part in doc["detail"], f"{what}: detail {doc['detail']!r} lacks {detail_part!r}")
    ensure(r.header("retry-after") is None, f"{what}: a 507 with Retry-After")


class Ctx:
    def __init__(self, binary, workdir, sanitized):
        self.binary, self.workdir, self.sanitized = binary, workdir, sanitized
        self.figures = []

    def server(self, args, name, data_dir=None):
        return Server(self.binary, data_dir, args, workdir=self.workdir, threads=2, name=name).start()


# --------------------------------------------------------------------------
# The rate: one user hammering
# --------------------------------------------------------------------------

def h2load_hammer(port, body_file, seconds):
    """h2load: one h2c connection, 100 streams, creates as mallory for `seconds`.
    Returns (2xx, 4xx, other answers, requests still in flight when it stopped
    (the server answered them, h2load did not count them), requests a second)."""
    cmd = ["nice", "-n", "10", "h2load", "-c", "1", "-m", "100", "-D", str(int(seconds)), "-d", body_file,
           "-H", "X-User-Id: mallory", "-H", "Content-Type: application/json",
           f"http://127.0.0.1:{port}/api/orders"]
    p = subprocess.run(cmd, capture_output=True, timeout=seconds + 30)
    out = p.stdout.decode(errors="replace")
    ensure_eq(p.returncode, 0, f"h2load exit status: {out[-1500:]}")
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    e = re.search(r"(\d+) errored, (\d+) timeout", out)
    rps = re.search(r"finished in [\d.]+s, ([\d.]+) req/s", out)
    n = re.search(r"requests: \d+ total, (\d+) started, (\d+) done", out)
    ensure(m and e and rps and n, f"h2load output not understood: {out[-1500:]}")
    return int(m.group(1)), int(m.group(3)), int(m.group(2)) + int(m.group(4)) + int(e.group(1)) + int(e.group(2)), \
        int(n.group(1)) - int(n.group(2)), float(rps.group(1))


def python_hammer(port, payload, seconds, threads=4):
    """Without h2load: `threads` keep-alive connections creating as mallory back to back."""
    counts = {"2xx": 0, "4xx": 0, "other": 0, "n": 0}
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def run():
        http = Http(port, timeout=5.0)
        while time.monotonic() < until:
            try:
                status = http.create("mallory", payload).status
            except Exception:  # noqa: BLE001 - counted as a wrong answer
                status = 0
            with lock:
                counts["n"] += 1
                counts["2xx" if status == 201 else "4xx" if status == 429 else "other"] += 1
        http.close()
    ts = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(seconds + 30)
    return counts["2xx"], counts["4xx"], counts["other"], 0, counts["n"] / seconds


class Steady(threading.Thread):
    """bob: a create every BOB_PERIOD_S on his own connection; keeps the statuses."""

    def __init__(self, port, payload):
        super().__init__(daemon=True)
        self.port, self.payload = port, payload
        self.statuses = []
        self.halt = threading.Event()

    def run(self):
        http = Http(self.port, timeout=5.0)
        due = time.monotonic()
        while not self.halt.is_set():
            try:
                self.statuses.append(http.create("bob", self.payload).status)
            except Exception as e:  # noqa: BLE001 - a failed request is an answer too
                self.statuses.append(f"{type(e).__name__}: {e}")
            due += BOB_PERIOD_S
            time.sleep(max(0.0, due - time.monotonic()))
        http.close()


def test_one_user_hammering(ctx):
    srv = ctx.server(["--rate-limit-per-user", f"{RATE}/s", "--rate-limit-burst", str(BURST)], "rate")
    try:
        http = srv.http()
        payload = body("hammer")
        oid = expect(http.create("healthy", payload), 201)["id"]
        body_file = os.path.join(ctx.workdir, "create.json")
        with open(body_file, "wb") as f:
            f.write(payload)
        healthy, memory, bob = Healthy(srv.port, "healthy", oid), Memory(srv.proc.pid), Steady(srv.port, payload)
        for t in (healthy, memory, bob):
            t.start()
        time.sleep(0.5)
        probes = []  # our own creates as mallory amid the hammering

        def probe():
            p = Http(srv.port, timeout=5.0)
            for _ in range(5):
                time.sleep(HAMMER_S / 6)
                probes.append(p.create("mallory", payload))
            p.close()
        prober = threading.Thread(target=probe, daemon=True)
        t0 = time.monotonic()
        prober.start()
        tool = "h2load" if shutil.which("h2load") else "4 Python threads"
        if shutil.which("h2load"):
            ok, limited, other, inflight, rps = h2load_hammer(srv.port, body_file, HAMMER_S)
        else:
            ok, limited, other, inflight, rps = python_hammer(srv.port, payload, HAMMER_S)
        prober.join(10)
        t1 = time.monotonic()
        time.sleep(0.3)
        for t in (healthy, memory, bob):
            t.halt.set()
        bob.join(5)
        healthy.join(5)
        ensure(srv.alive(), f"the server is gone: {srv.tail()}")

        # mallory: the burst and the rate, the rest 429
        probe_ok = sum(1 for r in probes if r.status == 201)
        probe_429 = [r for r in probes if r.status == 429]
        ensure(all(r.status in (201, 429) for r in probes), f"probes: {probes}")
        ensure(probe_429, f"no probe amid the hammering was refused: {probes}")
        waits = [check_429(r, "a probe") for r in probe_429]
        ensure_eq(other, 0, f"{tool}: answers other than 201 and 429")
        # the server answered the streams still open when h2load stopped; h2load did not count them
        created = http.total("mallory")
        ensure(ok + probe_ok <= created <= ok + probe_ok + inflight,
               f"mallory holds {created} orders; 201s counted {ok + probe_ok}, {inflight} answers not counted")
        most = BURST + RATE * (t1 - t0 + 0.5)
        ensure(BURST <= created <= most, f"mallory created {created}; the burst is {BURST}, at most {most:.0f}")
        ensure(limited > 10 * created, f"{tool}: only {limited} refused for {created} created")
        # bob and the healthy client were not held back
        ensure(len(bob.statuses) >= 0.5 * (t1 - t0) / BOB_PERIOD_S, f"bob made only {len(bob.statuses)} creates")
        ensure(all(s == 201 for s in bob.statuses), f"bob: {[s for s in bob.statuses if s != 201][:5]}")
        ms = [s[1] for s in healthy.between(t0, t1)]
        bad = [s for s in healthy.between(t0, t1) if s[2] != 200]
        ensure(len(ms) >= 0.5 * (t1 - t0) / PERIOD_S and not bad, f"healthy: {len(ms)} GETs, failed {bad[:3]}")
        rss, hwm = memory.peak_between(t0, t1), memory.field("VmHWM") or 0
        text = metrics(http)
        refused = sample(text, "orderd_rate_limited_total")
        ensure(limited + len(probe_429) <= refused <= limited + len(probe_429) + inflight,
               f"orderd_rate_limited_total {refused}: 429s counted {limited + len(probe_429)}, {inflight} not")
        ensure_eq(sample(text, "orderd_http_requests_total", 'route="/api/orders",code="429"'), refused,
                  "429s by route")
        ensure(created + refused <= ok + limited + len(probes) + inflight, "more answers than creates sent")
        line = (f"one user hammering creates with {tool} ({rps:.0f} requests/s): {created} created (burst "
                f"{BURST} + {RATE}/s for {t1 - t0:.1f} s), {refused:.0f} refused 429 (Retry-After "
                f"{sorted(set(waits))} s); bob {len(bob.statuses)} creates, all 201; healthy: {len(ms)} GETs, "
                f"p50 {sorted(ms)[len(ms) // 2]:.1f} ms, p99 {p99(ms):.1f} ms, max {max(ms):.1f} ms; VmRSS peak "
                f"{rss / MIB:.1f} MiB, VmHWM {hwm / MIB:.1f} MiB")
        ctx.figures.append(line)
        if not ctx.sanitized:
            ensure(p99(ms) < P99_LIMIT_MS, f"healthy p99 {p99(ms):.1f} ms (limit {P99_LIMIT_MS} ms)")
            ensure(hwm < RSS_LIMIT, f"VmHWM {hwm / MIB:.1f} MiB (limit {RSS_LIMIT // MIB} MiB)")
        # the limit passes: once Retry-After has gone by, mallory creates again
        r = http.create("mallory", payload)
        if r.status == 429:
            time.sleep(check_429(r, "after the hammering"))
            r = http.create("mallory", payload)
        expect(r, 201)
        # nothing half-applied: the journal holds what was answered 201
        records = journal(ctx, srv)
        ensure_eq(created_by(records, "mallory"), created + 1, "mallory's orders in the journal")
        ensure_eq(created_by(records, "bob"), len(bob.statuses), "bob's orders in the journal")
        ensure_eq(srv.terminate(), 0, "exit status")
        return line
    finally:
        srv.kill9()


def test_refused_key_is_not_kept(ctx):
    srv = ctx.server(["--rate-limit-per-user", "1/s", "--rate-limit-burst", "1"], "slow")
    try:
        http = srv.http()
        payload = body("slow")
        expect(http.create("kim", payload), 201)
        # the bucket is empty for a second: a cancel is a write too
        oid = expect(http.create("lee", payload), 201)["id"]
        check_429(http.cancel("lee", oid), "a cancel past the rate")
        ensure_eq(expect(http.get("lee", oid), 200)["status"], "pending", "the order a refused cancel named")
        wait = check_429(http.create("kim", payload, key="kim-1"), "a create with a key past the rate")
        ensure_eq(wait, 1, "Retry-After at 1/s")
        ensure_eq(keys_named(journal(ctx, srv), "kim-1"), 0, "records of the refused key")
        time.sleep(wait)
        r = http.create("kim", payload, key="kim-1")
        first = expect(r, 201)
        ensure(r.header("idempotent-replayed") is None, f"the first answer for kim-1 is marked replayed: {r.headers}")
        check_429(http.create("kim", payload, key="kim-1"), "the key's replay, at once")  # a replay takes a token
        time.sleep(1.0)
        r = http.create("kim", payload, key="kim-1")
        ensure_eq(expect(r, 201)["id"], first["id"], "the replay's order")
        ensure_eq(r.header("idempotent-replayed"), "true", "Idempotent-Replayed")
        ensure_eq(http.total("kim"), 2, "kim's orders")
        records = journal(ctx, srv)
        ensure_eq(keys_named(records, "kim-1"), 1, "records of kim-1")
        ensure_eq(created_by(records, "kim"), 2, "kim's orders in the journal")
        text = metrics(http)
        ensure_eq(sample(text, "orderd_rate_limited_total"), 3.0, "orderd_rate_limited_total")
        return ""
    finally:
        srv.kill9()


# --------------------------------------------------------------------------
# What the table holds
# --------------------------------------------------------------------------

def test_orders_per_user(ctx):
    srv = ctx.server(["--max-orders-per-user", "5"], "per-user")
    try:
        http = srv.http()
        payload = body("per-user")
        ids = [expect(http.create("ann", payload), 201)["id"] for _ in range(5)]
        check_507(http.create("ann", payload), "the 6th create", "most orders this server keeps for one user (5)")
        expect(http.cancel("ann", ids[0]), 200)
        check_507(http.create("ann", payload, key="ann-6"), "a create after a cancel", "for one user (5)")
        check_507(http.create("ann", payload, key="never-kept"), "a create with another key", "for one user")
        for oid in ids:
            expect(http.get("ann", oid), 200)
        expect(http.request("GET", f"/api/orders/{ids[1]}/events", "ann"), 200)
        ensure_eq(http.total("ann"), 5, "ann's orders")
        expect(http.create("bob", payload), 201)
        ensure_eq(sample(metrics(http), "orderd_quota_refused_total", 'limit="orders_per_user"'), 3.0,
                  "refusals counted")
        ensure_eq(srv.terminate(), 0, "exit status")

        # replay rebuilds the count
        again = srv.again("per-user again").start()
        http = again.http()
        ensure_eq(http.total("ann"), 5, "ann's orders after a restart")
        check_507(http.create("ann", payload), "the 6th create after a restart", "for one user (5)")
        ensure_eq(again.terminate(), 0, "exit status")

        # room for one more: the key refused before makes the order
        more = Server(ctx.binary, srv.data_dir, ["--max-orders-per-user", "6"], workdir=ctx.workdir, threads=2,
                      name="per-user 6").start()
        http = more.http()
        r = http.create("ann", payload, key="ann-6")
        expect(r, 201)
        ensure(r.header("idempotent-replayed") is None, "the key refused before was kept as an answer")
        check_507(http.create("ann", payload), "the 7th create", "for one user (6)")
        records = journal(ctx, more)
        ensure_eq(created_by(records, "ann"), 6, "ann's orders in the journal")
        ensure_eq(keys_named(records, "ann-6"), 1, "records of ann-6")
        ensure_eq(keys_named(records, "never-kept"), 0, "records of the refused key")
        ensure_eq(more.terminate(), 0, "exit status")
        return ""
    finally:
        srv.kill9()


def test_orders_in_all(ctx):
    srv = ctx.server(["--max-orders", "8"], "max-orders")
    try:
        http = srv.http()
        payload = body("all")
        ids = [expect(http.create(f"user-{i}", payload), 201)["id"] for i in range(8)]
        for i in (8, 9):
            check_507(http.create(f"user-{i}", payload), f"create {i + 1}", "the most orders it keeps (8)")
        expect(http.cancel("user-0", ids[0]), 200)  # a cancel stores no order
        check_507(http.create("user-0", payload), "a create after a cancel", "(8)")
        ensure_eq(expect(http.get("user-3", ids[3]), 200)["status"], "pending", "a read")
        ensure_eq(http.total("user-9"), 0, "orders of a refused user")
        ensure_eq(sample(metrics(http), "orderd_quota_refused_total", 'limit="orders"'), 3.0, "refusals counted")
        ensure_eq(sum(1 for r in journal(ctx, srv) if r.get("event") == "order_created"), 8, "orders journaled")
        return ""
    finally:
        srv.kill9()


def test_memory_limit(ctx):
    first = ctx.server([], "memory, no limit")
    try:
        http = first.http()
        oid = expect(http.create("ivy", body("ivy")), 201)["id"]
        in_use = sample(metrics(http), "orderd_memory_in_use_bytes")
        ensure(in_use > 0, "orderd_memory_in_use_bytes is 0")
        ensure_eq(first.terminate(), 0, "exit status")
    finally:
        first.kill9()
    limit = int(in_use) + 8 * MIB
    srv = Server(ctx.binary, first.data_dir, ["--memory-limit", str(limit)], workdir=ctx.workdir, threads=2,
                 name="memory").start()
    try:
        http = srv.http()
        token = open(os.path.join(srv.data_dir, "operator-token")).read().strip()
        big, small = big_body("big"), body("small")
        # large orders until the heap is past the limit; a heap that was past
        # it only while a large request was in flight (its body, its pool)
        # comes back under once that is freed, so the limit counts as reached
        # once three small creates in a row, each on a fresh sample, are refused
        made, in_a_row = [], 0
        for _ in range(600):
            r = http.create("ivy", small if in_a_row else big)
            if r.status == 201:
                made.append(r.json()["id"])
                in_a_row = 0
                continue
            check_507(r, "a create at the limit", "memory is at its limit")
            in_a_row += 1
            if in_a_row == 3:
                break
            time.sleep(0.025)  # past the probe's 10 ms sample
        ensure(in_a_row == 3, f"{len(made)} orders and the memory limit still takes more")
        ensure(made, "the first large create was refused already")
        heap = sample(metrics(http), "orderd_memory_in_use_bytes")
        check_507(http.create("ivy", small), "a small create", "memory")
        check_507(http.cancel("ivy", oid), "a cancel", "memory")
        check_507(http.cancel("ivy", made[0]), "another cancel", "memory")
        expect(http.get("ivy", made[-1]), 200)
        ensure_eq(http.total("ivy"), 1 + len(made), "ivy's orders")
        op = {"Authorization": f"Bearer {token}"}
        r = http.request("POST", f"/api/orders/{oid}/status", body={"status": "processing"}, headers=op)
        ensure_eq(expect(r, 200)["status"], "processing", "the operator's step past the memory limit")
        ensure_eq(created_by(journal(ctx, srv), "ivy"), 1 + len(made), "ivy's orders in the journal")
        ensure(sample(metrics(http), "orderd_quota_refused_total", 'limit="memory"') >= 4, "refusals counted")
        ctx.figures.append(f"--memory-limit {limit / MIB:.1f} MiB ({in_use / MIB:.1f} MiB in use at start + 8 MiB): "
                           f"{len(made)} orders of 1000 items created, then 507 with {heap / MIB:.1f} MiB in use")
        ensure_eq(srv.terminate(), 0, "exit status")
    finally:
        srv.kill9()
    tiny = Server(ctx.binary, first.data_dir, ["--memory-limit", "1"], workdir=ctx.workdir, threads=2,
                  name="memory 1").start()
    try:
        http = tiny.http()
        before = len(journal(ctx, tiny))
        check_507(http.create("ivy", body("small")), "a create with 1 byte", "memory")
        check_507(http.create("newcomer", body("small")), "a new user's create with 1 byte", "memory")
        check_507(http.cancel("ivy", made[1]), "a cancel with 1 byte", "memory")
        expect(http.get("ivy", made[1]), 200)
        ensure_eq(http.total("ivy"), 1 + len(made), "ivy's orders")
        ensure_eq(len(journal(ctx, tiny)), before, "journal records after refused writes")
        return f"{len(made)} large orders under the limit"
    finally:
        tiny.kill9()


def main():
    args, runner, binary = suite_start(__doc__, sanitized=True)
    if binary is None:
        return runner.finish()
    with TempDir("orderd-quota-") as workdir:
        ctx = Ctx(binary, workdir, args.sanitized)
        for fn in (test_one_user_hammering, test_refused_key_is_not_kept, test_orders_per_user, test_orders_in_all,
                   test_memory_limit):
            runner.run(fn.__name__[5:], fn, ctx)
        print("\nfigures (limits: healthy p99 < %.0f ms, resident < %d MiB%s):\n  %s"
              % (P99_LIMIT_MS, RSS_LIMIT // MIB, "; not enforced, sanitizer build" if args.sanitized else "",
                 "\n  ".join(ctx.figures)))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
