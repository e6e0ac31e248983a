#!/usr/bin/env python3
"""Hostile clients, the nesting case (issue 12): request bodies of 1 MiB (the
default --max-body) that open arrays and objects and never stop, sent to a
server with --threads 2 while a healthy client GETs an existing order every
20 ms on a connection of its own.

Each attack is a phase of a few seconds: one attacker sending 1 MiB of '['
again and again, two at once, two sending '{"a":' repeated, the operator's
status change, and one over h2c. Every attack must be answered 400
problem+json saying the nesting is too deep, within a second; the server's
resident memory (VmHWM in /proc/PID/status, sampled VmRSS too) must stay
below 256 MiB, the healthy client's p99 below 50 ms in every phase; no order
is created and the server neither crashes nor fails to stop on SIGTERM. The
figures measured are printed per phase (docs/security.md quotes them).

    python3 tests/hostile/nesting_test.py --orderd build/orderd [--sanitized]

--sanitized (a sanitizer build): memory and latency are measured and printed
but not held to the limits, which are for the Release server; the answers,
the crash and the order checks still apply. The last line is exactly `N
passed, N failed, N skipped` (the harness is
tests/integration/orderd_harness.py)."""
import argparse
import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from orderd_harness import (  # noqa: E402
    Client, Http, Runner, Server, TempDir, TestFailure, check_problem, ensure, ensure_eq, expect, new_order,
    require_executable)

MIB = 1024 * 1024
RSS_LIMIT = 256 * MIB
P99_LIMIT_MS = 50.0
ANSWER_LIMIT_S = 1.0
PERIOD_S = 0.020        # the healthy client's pace
ATTACK_PERIOD_S = 0.050  # each attacker's: 20 MiB/s, so the phase measures parsing, not loopback bandwidth
PHASE_S = 3.0
DEPTH_DETAIL = "deeper than 32 levels"


def body_of(unit):
    """`unit` repeated to 1 MiB exactly (cut at the end), as bytes."""
    return (unit * (MIB // len(unit) + 1))[:MIB].encode()


def p99(values):
    """The 99th percentile (nearest rank) of a non-empty list."""
    s = sorted(values)
    return s[max(0, -(-99 * len(s) // 100) - 1)]


class Healthy(threading.Thread):
    """GET /api/orders/ID every 20 ms on one keep-alive HTTP/1.1 connection
    (as `user`, with `headers` besides: a bearer token under --user-auth
    jwt); keeps (start time, milliseconds, status or error) of every request."""

    def __init__(self, port, user, oid, headers=None):
        super().__init__(daemon=True)
        self.port, self.user, self.oid, self.headers = port, user, oid, headers
        self.samples = []
        self.halt = threading.Event()

    def run(self):
        http = Http(self.port, timeout=5.0)
        due = time.monotonic()
        while not self.halt.is_set():
            t0 = time.monotonic()
            try:
                outcome = http.request("GET", f"/api/orders/{self.oid}", self.user, headers=self.headers).status
            except Exception as e:  # noqa: BLE001 - a failed request is a sample too
                outcome = f"{type(e).__name__}: {e}"
            self.samples.append((t0, (time.monotonic() - t0) * 1000.0, outcome))
            due += PERIOD_S
            time.sleep(max(0.0, due - time.monotonic()))
        http.close()

    def between(self, t0, t1):
        return [s for s in list(self.samples) if t0 <= s[0] < t1]


class Memory(threading.Thread):
    """Samples VmRSS of the server every 5 ms; VmHWM (the kernel's own peak) on demand."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.path = f"/proc/{pid}/status"
        self.samples = []  # (time, VmRSS bytes)
        self.halt = threading.Event()

    def field(self, name):
        try:
            with open(self.path) as f:
                for line in f:
                    if line.startswith(name + ":"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def run(self):
        while not self.halt.is_set():
            rss = self.field("VmRSS")
            if rss is not None:
                self.samples.append((time.monotonic(), rss))
            time.sleep(0.005)

    def peak_between(self, t0, t1):
        return max((rss for t, rss in list(self.samples) if t0 <= t < t1), default=0)


class Ctx:
    def __init__(self, binary, workdir, server, sanitized):
        self.binary, self.workdir, self.server, self.sanitized = binary, workdir, server, sanitized
        with open(os.path.join(server.data_dir, "operator-token")) as f:
            self.token = f.read().strip()
        http = server.http()
        body, _ = new_order(random.Random(12), "healthy")
        self.user = "healthy"
        self.oid = expect(http.create(self.user, body), 201)["id"]
        http.close()
        self.healthy = Healthy(server.port, self.user, self.oid)
        self.memory = Memory(server.proc.pid)
        self.figures = []  # one line per phase, for the summary


def check_too_deep(resp, what):
    doc = check_problem(resp, 400)
    ensure(DEPTH_DETAIL in doc["detail"], f"{what}: the detail does not say the nesting is too deep: {doc!r}")


def attacker(ctx, path, body, headers, answers, until):
    """Sends `body` to `path` on one connection every ATTACK_PERIOD_S (or as
    soon as the last one is answered, when that takes longer) until `until`;
    appends (seconds to the answer, None or what was wrong) for each."""
    http = Http(ctx.server.port, timeout=30.0)
    due = time.monotonic()
    try:
        while time.monotonic() < until:
            t0 = time.monotonic()
            try:
                r = http.request("POST", path, "mallory", body, headers)
                check_too_deep(r, f"POST {path}")
                answers.append((time.monotonic() - t0, None))
            except Exception as e:  # noqa: BLE001 - every wrong answer is reported
                answers.append((time.monotonic() - t0, f"{type(e).__name__}: {e}"))
            due += ATTACK_PERIOD_S
            time.sleep(max(0.0, due - time.monotonic()))
    finally:
        http.close()


def phase(ctx, label, attackers, seconds=PHASE_S):
    """Runs the attackers (a list of (path, body, headers)) on threads of
    their own for `seconds`, then checks and reports what the healthy client
    and the memory sampler saw meanwhile."""
    answers = [[] for _ in attackers]
    t0 = time.monotonic()
    until = t0 + seconds
    threads = [threading.Thread(target=attacker, args=(ctx, path, body, headers, answers[i], until), daemon=True)
               for i, (path, body, headers) in enumerate(attackers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    t1 = time.monotonic()
    return report(ctx, label, t0, t1, [a for per in answers for a in per])


def report(ctx, label, t0, t1, answers=None):
    """Checks and reports one phase: the attacks' answers (None: there were
    none), the healthy client's requests and resident memory in [t0, t1)."""
    ensure(ctx.server.alive(), f"{label}: the server is gone (exit {ctx.server.proc.poll()}): {ctx.server.tail()}")
    healthy = ctx.healthy.between(t0, t1)
    rss = ctx.memory.peak_between(t0, t1)
    hwm = ctx.memory.field("VmHWM") or 0
    ms = [s[1] for s in healthy]
    bad = [s for s in healthy if s[2] != 200]
    wrong = [a[1] for a in answers or () if a[1] is not None]
    slowest = max((a[0] for a in answers or ()), default=0.0)
    attacks = f"{len(answers)} attacks, slowest answer {slowest * 1000:.1f} ms; " if answers is not None else ""
    line = (f"{label}: {attacks}healthy: {len(ms)} GETs, "
            f"p50 {sorted(ms)[len(ms) // 2] if ms else 0:.1f} ms, p99 {p99(ms) if ms else 0:.1f} ms, "
            f"max {max(ms, default=0):.1f} ms; VmRSS peak {rss / MIB:.1f} MiB, VmHWM {hwm / MIB:.1f} MiB")
    ctx.figures.append(line)
    ensure(answers is None or answers, f"{label}: no attack was answered")
    if wrong:
        raise TestFailure(f"{label}: {len(wrong)} of {len(answers)} attacks not answered as they should; "
                          f"first: {wrong[0]}")
    ensure(len(ms) >= 0.5 * (t1 - t0) / PERIOD_S, f"{label}: the healthy client made only {len(ms)} requests")
    ensure(not bad, f"{label}: healthy requests failed: {bad[:3]}")
    if not ctx.sanitized:
        ensure(slowest <= ANSWER_LIMIT_S, f"{label}: an attack took {slowest:.2f} s to answer (limit "
               f"{ANSWER_LIMIT_S} s)")
        ensure(p99(ms) < P99_LIMIT_MS, f"{label}: healthy p99 {p99(ms):.1f} ms (limit {P99_LIMIT_MS} ms)")
        ensure(hwm < RSS_LIMIT and rss < RSS_LIMIT, f"{label}: resident memory VmHWM {hwm / MIB:.1f} MiB, "
               f"VmRSS peak {rss / MIB:.1f} MiB (limit {RSS_LIMIT // MIB} MiB)")
    return line


# --------------------------------------------------------------------------
# The phases
# --------------------------------------------------------------------------

BRACKETS = body_of("[")
OBJECTS = body_of('{"a":')


def test_baseline(ctx):
    """The healthy client alone: what the others are compared with."""
    t0 = time.monotonic()
    time.sleep(1.0)
    return report(ctx, "baseline", t0, time.monotonic())


def test_one_bracket_body(ctx):
    return phase(ctx, "1 MiB of [, one at a time", [("/api/orders", BRACKETS, None)])


def test_two_bracket_bodies_at_once(ctx):
    return phase(ctx, "1 MiB of [, two at once", [("/api/orders", BRACKETS, None)] * 2)


def test_two_object_bodies_at_once(ctx):
    return phase(ctx, '1 MiB of {"a":, two at once', [("/api/orders", OBJECTS, None)] * 2)


def test_create_alias_and_status_change(ctx):
    """The other decoder: the operator's status change, beside the create alias."""
    op = {"Authorization": f"Bearer {ctx.token}"}
    return phase(ctx, "1 MiB of [, status change + /create", [(f"/api/orders/{ctx.oid}/status", BRACKETS, op),
                                                              ("/api/orders/create", BRACKETS, None)])


def test_operation_bodies(ctx):
    """The third decoder: the operations after checkout read their bodies into
    a tree (src/internal/json_tree.c), which must stop as early: an edit's and
    a refund's body."""
    op = {"Authorization": f"Bearer {ctx.token}"}
    return phase(ctx, "1 MiB of [ and of {\"a\":, edit + refund", [(f"/api/orders/{ctx.oid}/edit", BRACKETS, None),
                                                                   (f"/api/orders/{ctx.oid}/refunds", OBJECTS, op)])


def test_h2c(ctx):
    """Over HTTP/2 (curl, h2c prior knowledge): the same 400."""
    c = Client(ctx.server.base_url, "h2c", ctx.workdir)
    t0 = time.monotonic()
    answers = []
    for body in (BRACKETS, OBJECTS):
        a0 = time.monotonic()
        r = c.request("POST", "/api/orders", user="mallory", body=body, timeout=30)
        check_too_deep(r, "h2c")
        answers.append((time.monotonic() - a0, None))
    return report(ctx, "1 MiB of [ and {\"a\": over h2c", t0, time.monotonic(), answers)


def test_nothing_created(ctx):
    http = ctx.server.http()
    try:
        ensure_eq(http.total("mallory"), 0, "orders of the attacker")
        ensure_eq(http.total(ctx.user), 1, "orders of the healthy client")
        ensure_eq(expect(http.get(ctx.user, ctx.oid), 200)["status"], "pending", "the order the operator was sent")
    finally:
        http.close()


def print_figures(figures, sanitized, answer_limit_s=None):
    """A hostile suite's closing block: the limits, then one line per phase."""
    limits = f"answer <= {answer_limit_s * 1000:.0f} ms, " if answer_limit_s is not None else ""
    limits += f"healthy p99 < {P99_LIMIT_MS:.0f} ms, resident < {RSS_LIMIT // MIB} MiB"
    print("\nfigures (limits: %s%s):\n  %s"
          % (limits, "; not enforced, sanitizer build" if sanitized else "", "\n  ".join(figures)))


def suite_args(doc):
    """The command line of a hostile suite (--orderd, --sanitized; `doc`'s
    first paragraph is its description): (args, a Runner, the binary's
    absolute path, or None when it is not executable, the failure recorded)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("--sanitized", action="store_true", help="do not hold memory and latency to the limits")
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    return args, runner, binary if require_executable(runner, binary) else None


def main():
    args, runner, binary = suite_args(__doc__)
    if binary is None:
        return runner.finish()
    with TempDir("orderd-hostile-") as workdir:
        server = Server(binary, workdir=workdir, threads=2, name="orderd")
        try:
            server.start()
            ctx = Ctx(binary, workdir, server, args.sanitized)
            ctx.healthy.start()
            ctx.memory.start()
            for fn in (test_baseline, test_one_bracket_body, test_two_bracket_bodies_at_once,
                       test_two_object_bodies_at_once, test_create_alias_and_status_change, test_operation_bodies, test_h2c,
                       test_nothing_created):
                runner.run(fn.__name__[5:], fn, ctx)
            ctx.healthy.halt.set()
            ctx.memory.halt.set()
            ctx.healthy.join(10)
            runner.run("server_sigterm_exit_0", lambda: ensure_eq(server.terminate(10.0), 0, "exit status"))
            print_figures(ctx.figures, args.sanitized, ANSWER_LIMIT_S)
        except Exception as e:  # noqa: BLE001 - a fixture that fails is the suite's failure
            runner.fail("hostile nesting fixture", f"{type(e).__name__}: {e}")
        finally:
            server.kill9()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
