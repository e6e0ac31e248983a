#!/usr/bin/env python3
"""Hostile clients, the X-User-Id case (issue 12): with the default
--user-auth header anyone who reaches the port reads any user's orders by
naming them; with --user-auth jwt they cannot, and forging tokens costs the
server no more than it can bear. A server with --threads 2 and
--user-auth jwt (an RS256 key) while a healthy client, with its own token,
GETs its order every 20 ms on a connection of its own:

  - the header case itself, on a --user-auth header server: naming the
    victim in X-User-Id reads the victim's order (200), which is why that
    mode needs a gateway in front;
  - impersonation: X-User-Id naming the victim, without a token, is 401;
    the attacker's own good token with X-User-Id naming the victim reads
    only the attacker's orders (the victim's order is 404);
  - forged signatures: h2load sends RS256 tokens whose signature does not
    verify over 2 h2c connections, 8 streams each, 1500 a second on each
    (FLOOD_RPS): every answer a 4xx (a sample says 401 and why). Paced, so
    the phase measures what a refused token costs the server rather than
    how much of the 2 cores h2load itself takes; 3000 RS256 checks a second
    through libjwt alone (600 us each) would take more than both cores;
  - the largest tokens: the same with 8 KiB tokens (the most orderd reads)
    whose payload is a 6 KiB JSON object.

The healthy client's p99 must stay below 50 ms and resident memory below
256 MiB in each phase; the figures (and h2load's requests per second: the
tokens the server refused per second) are printed for docs/security.md.

    python3 tests/hostile/user_id_test.py --orderd build/orderd [--sanitized]

--sanitized: latency and memory are printed, not held to the limits. A phase
that needs h2load is a SKIP without it. The last line is exactly `N passed,
N failed, N skipped` (tests/integration/orderd_harness.py)."""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from jwt_test import AUD, ISS, Key, b64url, bearer, claims, no_openssl, token  # noqa: E402
from nesting_test import MIB, P99_LIMIT_MS, RSS_LIMIT, Healthy, Memory, report  # noqa: E402
from orderd_harness import (  # noqa: E402
    Runner, Server, SkipTest, TempDir, check_problem, ensure, ensure_eq, expect, new_order, require_executable)

PHASE_S = 3.0
ATTACK_PERIOD_S = 0.020
FLOOD_RPS = 1500  # per h2load client (connection)


class Ctx:
    def __init__(self, binary, workdir, sanitized):
        self.binary, self.workdir, self.sanitized = binary, workdir, sanitized
        self.key = Key(workdir, "idp", "rsa")
        self.server = Server(binary, workdir=workdir, threads=2, name="orderd (jwt)",
                             args=["--user-auth", "jwt", "--jwt-key-file", self.key.pub, "--jwt-issuer", ISS,
                                   "--jwt-audience", AUD])
        self.figures = []

    def start(self):
        self.server.start()
        self.victim = bearer(token(claims("victim", exp=int(time.time()) + 3600), self.key))
        self.mallory = bearer(token(claims("mallory", exp=int(time.time()) + 3600), self.key))
        http = self.server.http()
        self.oid = expect(http.request("POST", "/api/orders", body=new_order(random.Random(1), "v")[0],
                                       headers=self.victim), 201)["id"]
        http.close()
        self.healthy = Healthy(self.server.port, None, self.oid, headers=self.victim)
        self.memory = Memory(self.server.proc.pid)
        self.healthy.start()
        self.memory.start()


def test_header_mode_is_open(ctx):
    """Why --user-auth jwt exists: on a header server, naming a user is being them."""
    srv = Server(ctx.binary, workdir=ctx.workdir, threads=2, name="orderd (header)").start()
    try:
        http = srv.http()
        oid = expect(http.create("victim", new_order(random.Random(2), "h")[0]), 201)["id"]
        ensure_eq(expect(http.get("victim", oid), 200)["user_id"], "victim", "anyone naming the victim")
        return "(X-User-Id: victim reads the victim's order: 200)"
    finally:
        srv.kill9()


def test_baseline(ctx):
    t0 = time.monotonic()
    time.sleep(1.0)
    return report(ctx, "baseline", t0, time.monotonic())


def test_impersonation(ctx):
    """X-User-Id naming the victim: 401 without a token; with the attacker's
    own token, the attacker's view (the victim's order is 404)."""
    victim_order = f"/api/orders/{ctx.oid}"
    attempts = [(victim_order, None, 401), ("/api/orders", None, 401), (victim_order, ctx.mallory, 404),
                ("/api/orders", ctx.mallory, 200)]
    answers = []
    http = ctx.server.http()
    t0 = time.monotonic()
    due = t0
    try:
        while time.monotonic() < t0 + PHASE_S:
            path, auth, want = attempts[len(answers) % len(attempts)]
            a0 = time.monotonic()
            try:
                r = http.request("GET", path, "victim", headers=auth)
                doc = expect(r, want)
                ensure(want != 200 or doc["total"] == 0, f"the attacker's list shows orders: {doc}")
                answers.append((time.monotonic() - a0, None))
            except Exception as e:  # noqa: BLE001 - every wrong answer is reported
                answers.append((time.monotonic() - a0, f"{type(e).__name__}: {e}"))
            due += ATTACK_PERIOD_S
            time.sleep(max(0.0, due - time.monotonic()))
    finally:
        http.close()
    return report(ctx, "X-User-Id naming the victim, with and without a token", t0, time.monotonic(), answers)


def forged_rs256(payload):
    """An RS256 token whose signature is 256 bytes that sign nothing."""
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(payload).encode())}.{b64url(random.Random(7).randbytes(256))}"


def flood(ctx, label, tok):
    """h2load for PHASE_S over 2 h2c connections of 8 streams, FLOOD_RPS
    requests a second each, every one carrying `tok`; every answer must be a
    4xx, and a sample is a 401."""
    if shutil.which("h2load") is None:
        raise SkipTest("no h2load (Debian nghttp2-client)")
    sample = ctx.server.http().request("GET", "/api/orders", headers=bearer(tok))
    doc = check_problem(sample, 401)
    ensure("signature" in doc["detail"], f"{label}: the sample is not refused for its signature: {doc}")
    t0 = time.monotonic()
    p = subprocess.run(["h2load", "-D", str(int(PHASE_S)), "-c", "2", "-m", "8", "-t", "1", f"--rps={FLOOD_RPS}",
                        "-H", f"Authorization: Bearer {tok}", f"{ctx.server.base_url}/api/orders"],
                       capture_output=True, timeout=PHASE_S + 60)
    t1 = time.monotonic()
    out = p.stdout.decode(errors="replace")
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    rps = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    slowest = re.search(r"time for request:\s+\S+\s+(\S+)", out)
    ensure(p.returncode == 0 and m and codes and rps and slowest, f"h2load: exit {p.returncode}: {out[-800:]}")
    done = int(m.group(2))
    two, three, four, five = (int(codes.group(i)) for i in range(1, 5))
    ensure(done > 0 and (two, three, five) == (0, 0, 0) and four == done,
           f"{label}: {done} answers: {two} 2xx, {three} 3xx, {four} 4xx, {five} 5xx")
    worst = float(re.match(r"[\d.]+", slowest.group(1)).group()) / (1000.0 if slowest.group(1).endswith("ms")
                                                                    else 1e6 if slowest.group(1).endswith("us")
                                                                    else 1.0)
    # report() counts the attacks and takes the slowest: h2load gives the count and the maximum
    line = report(ctx, label, t0, t1, [(worst, None)] + [(0.0, None)] * (done - 1))
    return f"{line}; {float(rps.group(1)):.0f} refused tokens/s"


def test_forged_signatures(ctx):
    return flood(ctx, f"forged RS256 signatures, h2load 2x8 streams at 2x{FLOOD_RPS}/s", forged_rs256(claims("victim")))


def test_largest_tokens(ctx):
    c = claims("victim")
    c["pad"] = "x"
    while len(forged_rs256(c)) < 8192:  # grow the payload to the token limit
        c["pad"] += "x" * 64
    while len(forged_rs256(c)) > 8192:
        c["pad"] = c["pad"][:-1]
    tok = forged_rs256(c)
    ensure_eq(len(tok), 8192, "token length")
    return flood(ctx, f"8 KiB forged tokens, h2load 2x8 streams at 2x{FLOOD_RPS}/s", tok)


def test_victim_untouched(ctx):
    http = ctx.server.http()
    r = expect(http.request("GET", f"/api/orders/{ctx.oid}", headers=ctx.victim), 200)
    ensure_eq((r["user_id"], r["status"]), ("victim", "pending"), "the victim's order")
    ensure_eq(expect(http.request("GET", "/api/orders", headers=ctx.victim), 200)["total"], 1, "the victim's orders")
    ensure_eq(expect(http.request("GET", "/api/orders", headers=ctx.mallory), 200)["total"], 0, "mallory's orders")
    http.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("--sanitized", action="store_true", help="do not hold memory and latency to the limits")
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if not require_executable(runner, binary) or no_openssl(runner, "hostile user id"):
        return runner.finish()
    with TempDir("orderd-hostile-user-") as workdir:
        ctx = Ctx(binary, workdir, args.sanitized)
        try:
            runner.run("header_mode_is_open", test_header_mode_is_open, ctx)
            ctx.start()
            for fn in (test_baseline, test_impersonation, test_forged_signatures, test_largest_tokens,
                       test_victim_untouched):
                runner.run(fn.__name__[5:], fn, ctx)
            ctx.healthy.halt.set()
            ctx.memory.halt.set()
            ctx.healthy.join(10)
            runner.run("server_sigterm_exit_0", lambda: ensure_eq(ctx.server.terminate(10.0), 0, "exit status"))
            print("\nfigures (limits: healthy p99 < %.0f ms, resident < %d MiB%s):\n  %s"
                  % (P99_LIMIT_MS, RSS_LIMIT // MIB, "; not enforced, sanitizer build" if args.sanitized else "",
                     "\n  ".join(ctx.figures)))
        except Exception as e:  # noqa: BLE001 - a fixture that fails is the suite's failure
            runner.fail("hostile user id fixture", f"{type(e).__name__}: {e}")
        finally:
            ctx.server.kill9()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
