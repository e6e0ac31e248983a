#!/usr/bin/env python3
"""The HAProxy deployment of docs/security.md ("HTTP/2 rapid reset"), tested
as shipped: Debian's haproxy runs docs/deploy/haproxy.cfg with only its
ports, its certificate path and (when not root) its chroot/user/group lines
replaced, in front of orderd speaking HTTP/1.1 on loopback (--http2 off
--trusted-proxy 127.0.0.1, as the file's header says).

Checked: the file is valid (haproxy -c); requests go through over HTTP/1.1,
h2c and h2 over TLS, with Link URLs built from what HAProxy forwards; its
health checks ask /readyz; the HTTP/2 rapid reset from another client address
(127.0.0.2), reconnecting at once, leaves the healthy client's p99 below
50 ms and orderd below 256 MiB, and creates at most the 2000 requests per
10 s the file lets one address make; an address past 1000 requests in 10 s
gets HAProxy's 429 problem+json; once orderd is gone HAProxy answers 503.

    python3 tests/hostile/haproxy_test.py --orderd build/orderd [--sanitized]

Every test is a visible SKIP where haproxy is not installed (.ci/deps
installs Debian's). The last line is exactly `N passed, N failed, N skipped`."""
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import types

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from orderd_harness import (  # noqa: E402
    Client, Http, Server, SkipTest, TempDir, TestFailure, ensure, ensure_eq, expect, make_cert, new_order)
from nesting_test import Healthy, Memory, print_figures, report, suite_args  # noqa: E402
from h2_flood import attack_span, run_apart  # noqa: E402

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "deploy", "haproxy.cfg")
ATTACKER = "127.0.0.2"  # another client address to HAProxy's per-address limits
OVER_RATE = "127.0.0.3"
REQ_LIMIT = 2000        # the file's: requests in 10 s past which an address is cut off
DENY_AFTER = 1000       # the file's: requests in 10 s past which an address gets 429
ATTACK_S = 4.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replace_line(lines, old, new):
    """Replaces the one line that is exactly `old` (stripped); fails when it is not there once."""
    hits = [i for i, ln in enumerate(lines) if ln.strip() == old]
    ensure(len(hits) == 1, f"{CONFIG}: expected the line {old!r} once, found it {len(hits)} times")
    indent = lines[hits[0]][:len(lines[hits[0]]) - len(lines[hits[0]].lstrip())]
    if new is None:
        del lines[hits[0]]
    else:
        lines[hits[0]] = indent + new


def drop_root_lines(lines):
    """Takes out the chroot/user/group lines when not root (they need it)."""
    if os.geteuid() != 0 or not os.path.isdir("/var/lib/haproxy"):
        for ln in ("chroot /var/lib/haproxy", "user haproxy", "group haproxy"):
            replace_line(lines, ln, None)


def deploy_config(workdir, plain, tls, pem, orderd_port):
    """docs/deploy/haproxy.cfg with the test's ports and certificate; the path of the copy."""
    with open(CONFIG) as f:
        lines = f.read().split("\n")
    replace_line(lines, "bind :443 ssl crt /etc/haproxy/certs/orderd.pem alpn h2,http/1.1",
                 f"bind 127.0.0.1:{tls} ssl crt {pem} alpn h2,http/1.1")
    replace_line(lines, "bind :80", f"bind 127.0.0.1:{plain}")
    replace_line(lines, "server orderd1 127.0.0.1:8080 maxconn 200", f"server orderd1 127.0.0.1:{orderd_port} maxconn 200")
    replace_line(lines, "server orderd1 127.0.0.1:8080", f"server orderd1 127.0.0.1:{orderd_port}")  # its health
    for n in (2, 3):  # one node here (tests/cluster runs three)
        replace_line(lines, f"server orderd{n} 127.0.0.1:{8079 + n} maxconn 200", None)
        replace_line(lines, f"server orderd{n} 127.0.0.1:{8079 + n}", None)
    drop_root_lines(lines)
    path = os.path.join(workdir, "haproxy.cfg")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def find_haproxy():
    """The haproxy binary's path; None when it is not installed."""
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/sbin/haproxy") if os.access(p, os.X_OK)), None)


class HAProxy:
    """Debian's haproxy in the foreground (-db) on a config file, its output in workdir/haproxy.log."""

    def __init__(self, binary, workdir):
        self.binary, self.workdir = binary, workdir
        self.proc = None

    def start(self, config, port):
        """haproxy -c on `config`, then runs it and waits (15 s at most) for a
        200 from /readyz through its cleartext front end on `port`; returns
        haproxy -c's output. Raises TestFailure when any step fails."""
        check = subprocess.run([self.binary, "-c", "-f", config], capture_output=True, text=True)
        ensure(check.returncode == 0, f"haproxy -c: exit {check.returncode}: {check.stdout}{check.stderr}")
        self.log_path = os.path.join(self.workdir, "haproxy.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.binary, "-db", "-f", config], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            ensure(self.proc.poll() is None, f"haproxy exited {self.proc.returncode}: {self.log_tail()}")
            try:
                if Http(port, timeout=2).request("GET", "/readyz").status == 200:
                    break
            except OSError:
                pass
            ensure(time.monotonic() < deadline, f"no 200 from /readyz through haproxy in 15 s: {self.log_tail()}")
            time.sleep(0.1)
        return check.stdout.strip()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def stop(self):
        if self.running():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()


class Ctx:
    def __init__(self, workdir, binary, sanitized):
        self.workdir, self.sanitized = workdir, sanitized
        self.haproxy = find_haproxy()
        self.orderd = Server(binary, workdir=workdir, threads=2, args=["--http2", "off", "--trusted-proxy", "127.0.0.1"])
        self.proc = None  # the HAProxy, once started
        self.figures = []

    def start(self):
        if self.haproxy is None:
            raise SkipTest("haproxy is not installed (.ci/deps installs Debian's haproxy)")
        self.orderd.start()
        self.plain, self.tls = free_port(), free_port()
        cert, key = make_cert(self.workdir, "haproxy")
        self.cert = cert
        pem = os.path.join(self.workdir, "haproxy.pem")
        with open(pem, "w") as out, open(cert) as c, open(key) as k:
            out.write(c.read() + k.read())
        self.config = deploy_config(self.workdir, self.plain, self.tls, pem, self.orderd.port)
        proxy = HAProxy(self.haproxy, self.workdir)
        try:
            return proxy.start(self.config, self.plain)
        finally:
            self.proc = proxy

    def log_tail(self):
        return self.proc.log_tail()

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
        self.orderd.kill9()


def need_haproxy(ctx):
    if ctx.haproxy is None:
        raise SkipTest("haproxy is not installed (.ci/deps installs Debian's haproxy)")
    if ctx.proc is None or ctx.proc.proc is None:
        raise SkipTest("haproxy did not start (see config_valid_and_started)")


def orderd_metric(ctx, sample):
    http = ctx.orderd.http()
    try:
        for line in http.request("GET", "/metrics").body.decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0
    finally:
        http.close()


def check_through(resp, proto, version):
    """An answer that came through HAProxy: orderd's (X-Request-Id), over `version`."""
    ensure_eq(resp.http_version, version, f"{proto}: HTTP version")
    ensure(resp.header("x-request-id"), f"{proto}: no X-Request-Id, not orderd's answer: {resp!r}")


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------

def test_http1_through(ctx):
    need_haproxy(ctx)
    http = Http(ctx.plain)
    rng = random.Random(1)
    try:
        for _ in range(2):
            body, _ = new_order(rng, "front")
            oid = expect(http.create("front-h1", body), 201)["id"]
        ensure_eq(expect(http.get("front-h1", oid), 200)["id"], oid, "the order read back")
        r = http.request("GET", "/api/orders?limit=1", "front-h1")
        expect(r, 200)
        # Link built from what HAProxy forwards (X-Forwarded-Proto, -Host), believed from 127.0.0.1
        link = r.header("link") or ""
        ensure(f"<http://127.0.0.1:{ctx.plain}/api/orders?" in link, f"Link through HAProxy: {link!r}")
        return ""
    finally:
        http.close()


def test_h2c_through(ctx):
    need_haproxy(ctx)
    c = Client(f"http://127.0.0.1:{ctx.plain}", "h2c", ctx.workdir)
    body, _ = new_order(random.Random(2), "front")
    r = c.request("POST", "/api/orders", user="front-h2c", body=body)
    check_through(r, "h2c", "2")
    oid = expect(r, 201)["id"]
    r = c.request("GET", f"/api/orders/{oid}", user="front-h2c")
    ensure_eq(expect(r, 200)["id"], oid, "h2c: the order read back")
    return ""


def test_h2_tls_through(ctx):
    need_haproxy(ctx)
    os.environ["CURL_CA_BUNDLE"] = ctx.cert  # curl -q reads no .curlrc; this is its CA file
    try:
        c = Client(f"https://127.0.0.1:{ctx.tls}", "h2c", ctx.workdir)  # over TLS curl takes h2 by ALPN
        rng = random.Random(3)
        for _ in range(2):
            body, _ = new_order(rng, "front")
            r = c.request("POST", "/api/orders", user="front-tls", body=body)
            check_through(r, "h2 over TLS", "2")
            expect(r, 201)
        r = c.request("GET", "/api/orders?limit=1", user="front-tls")
        expect(r, 200)
        link = r.header("link") or ""
        ensure(f"<https://127.0.0.1:{ctx.tls}/api/orders?" in link, f"Link through HAProxy over TLS: {link!r}")
        return ""
    finally:
        del os.environ["CURL_CA_BUNDLE"]


def test_health_checks_ask_readyz(ctx):
    need_haproxy(ctx)
    sample = 'orderd_http_requests_total{route="/readyz",code="200"}'
    first = orderd_metric(ctx, sample)
    time.sleep(3.2)  # `inter 1s`
    more = orderd_metric(ctx, sample) - first
    ensure(more >= 2, f"{more:.0f} /readyz requests in 3.2 s: HAProxy's health checks do not reach orderd")
    return f"({more:.0f} checks in 3.2 s)"


def test_rapid_reset_through(ctx):
    """The rapid reset from 127.0.0.2, reconnecting at once, while a healthy
    client on 127.0.0.1 GETs through HAProxy every 20 ms."""
    need_haproxy(ctx)
    http = Http(ctx.plain)
    body, _ = new_order(random.Random(4), "healthy")
    oid = expect(http.create("healthy", body), 201)["id"]
    http.close()
    healthy, memory = Healthy(ctx.plain, "healthy", oid), Memory(ctx.orderd.proc.pid)
    healthy.start()
    memory.start()
    try:
        time.sleep(0.5)
        attackers = run_apart([dict(host="127.0.0.1", port=ctx.plain, body=body, seconds=ATTACK_S, reconnect=True,
                                    source=ATTACKER)] * 2)
    finally:
        healthy.halt.set()
        memory.halt.set()
        healthy.join(10)
    t0, t1 = attack_span(attackers)
    ensure(ctx.orderd.alive(), f"orderd is gone: {ctx.orderd.tail()}")
    ensure(ctx.proc.running(), f"haproxy is gone: {ctx.log_tail()}")
    errors = [a.error for a in attackers if a.error is not None]
    ensure(not errors, f"attackers: {errors}")
    conns = [c for a in attackers for c in a.conns]
    sent = sum(a.streams for a in attackers)
    refused = sum(a.refused for a in attackers)
    ensure(sent > REQ_LIMIT, f"the attackers sent only {sent} streams")
    ensure(refused > 0, "no connection of the attacker's address was refused")
    created = Http(ctx.plain).total("mallory")
    ensure(created <= REQ_LIMIT, f"{created} orders created from one address in {ATTACK_S:.0f} s "
           f"(the file allows {REQ_LIMIT} requests in 10 s)")
    phase = types.SimpleNamespace(server=ctx.orderd, healthy=healthy, memory=memory, figures=ctx.figures,
                                  sanitized=ctx.sanitized)
    return report(phase, f"rapid reset through HAProxy, 2 attackers reconnecting, {ATTACK_S:.0f} s: "
                  f"{len(conns)} connections, {refused} refused, {sent} streams sent, {created} orders created "
                  f"(orderd's memory below)", t0, t1)


def test_over_rate_gets_429(ctx):
    need_haproxy(ctx)
    conn = http.client.HTTPConnection("127.0.0.1", ctx.plain, timeout=10, source_address=(OVER_RATE, 0))
    try:
        for i in range(1, DENY_AFTER + 50):
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            payload = r.read()
            if r.status != 200:
                break
        ensure_eq(r.status, 429, f"request {i} from one address")
        ensure(DENY_AFTER < i <= DENY_AFTER + 2, f"the first 429 came at request {i} (limit {DENY_AFTER} in 10 s)")
        ensure_eq((r.getheader("content-type") or "").split(";")[0], "application/problem+json", "content type")
        ensure_eq(r.getheader("retry-after"), "10", "Retry-After")
        doc = json.loads(payload)
        ensure(doc.get("status") == 429 and doc.get("type") == "about:blank" and doc.get("title"), f"body: {doc}")
        return f"(429 at request {i})"
    finally:
        conn.close()


def test_orderd_gone_503(ctx):
    need_haproxy(ctx)
    ensure_eq(ctx.orderd.terminate(10.0), 0, "orderd's exit status")
    deadline = time.monotonic() + 5
    while True:
        try:
            status = Http(ctx.plain, timeout=3).request("GET", "/healthz").status
        except OSError as e:
            status = f"{type(e).__name__}"
        if status == 503:
            return ""
        ensure(time.monotonic() < deadline, f"through HAProxy with orderd stopped: {status}, not 503")
        time.sleep(0.2)


def main():
    args, runner, binary = suite_args(__doc__)
    if binary is None:
        return runner.finish()
    with TempDir("orderd-haproxy-") as workdir:
        ctx = Ctx(workdir, binary, args.sanitized)
        try:
            runner.run("config_valid_and_started", ctx.start)
            for fn in (test_http1_through, test_h2c_through, test_h2_tls_through, test_health_checks_ask_readyz,
                       test_rapid_reset_through, test_over_rate_gets_429, test_orderd_gone_503):
                runner.run(fn.__name__[5:], fn, ctx)
            if ctx.figures:
                print_figures(ctx.figures, args.sanitized)
        except TestFailure as e:
            runner.fail("haproxy fixture", str(e))
        finally:
            ctx.stop()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
