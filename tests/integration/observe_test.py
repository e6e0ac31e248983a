#!/usr/bin/env python3
"""GET /readyz and GET /metrics from outside: promtool accepts /metrics after
real traffic over HTTP/1.1, h2c prior knowledge and h2c upgrade, and the
counters say what was sent; the same over TLS (HTTP/1.1 and h2, a
certificate made with `openssl req`), /metrics scraped over TLS, and the
tls connection gauge counts a held TLS connection and drops when it closes; /readyz is 503 while a large journal replays
(the API 503 too, /healthz and /metrics answer), 200 once serving, and 503
again on an open HTTP/2 connection right after SIGTERM, under load; the
server exits 0 within 5 s and every create answered 201 is there after a
restart.

    python3 tests/integration/observe_test.py --orderd build/orderd \
        --gen-journal build/bench/gen_journal [--promtool promtool]

A test that needs promtool is a SKIP when it is not installed (.ci/deps
installs the Debian package prometheus). The last line is exactly
`N passed, N failed, N skipped` (the harness is orderd_harness.py)."""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    Runner, Server, SkipTest, TempDir, TestFailure, check_unavailable, ensure, ensure_eq, expect, make_cert,
    new_order, require_executable)

REPLAYING_RE = r"^replaying the journal; meanwhile http://127\.0\.0\.1:(\d+) answers"
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")
HTTPS_RE = re.compile(r"^listening on https://127\.0\.0\.1:(\d+)$")


class H2Conn:
    """One HTTP/2 connection with prior knowledge, by hand: GET requests on
    chosen streams, so a test can send one more request on a connection
    that was opened before SIGTERM (urllib and curl cannot)."""

    def __init__(self, port, timeout=10.0, tls=None):
        """tls: an ssl.SSLContext offering ALPN h2 (None: h2c prior knowledge)."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.scheme = b"\x86"  # :scheme http (static table)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="127.0.0.1")
            ensure_eq(self.sock.selected_alpn_protocol(), "h2", "ALPN")
            self.scheme = b"\x87"  # :scheme https
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + self._frame(4, 0, 0, b""))
        self.next_stream = 1
        self.goaway = False

    @staticmethod
    def _frame(ftype, flags, stream, payload):
        return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise TestFailure("the HTTP/2 connection was closed before the answer came")
            buf += chunk
        return buf

    def get(self, path):
        """GET path on a new stream; returns the response body (bytes)."""
        sid, self.next_stream = self.next_stream, self.next_stream + 2
        authority = b"127.0.0.1"
        # HPACK: :method GET, :scheme (static table), :path and :authority as literals
        block = (b"\x82" + self.scheme + bytes([0x04, len(path)]) + path.encode() + bytes([0x01, len(authority)]) + authority)
        self.sock.sendall(self._frame(1, 0x5, sid, block))  # END_STREAM | END_HEADERS
        body = b""
        while True:
            hdr = self._read(9)
            length = int.from_bytes(hdr[:3], "big")
            ftype, flags, stream = hdr[3], hdr[4], int.from_bytes(hdr[5:9], "big") & 0x7FFFFFFF
            payload = self._read(length)
            if ftype == 4 and not flags & 1:  # SETTINGS: acknowledge
                self.sock.sendall(self._frame(4, 1, 0, b""))
            elif ftype == 7:
                self.goaway = True
            elif ftype == 3 and stream == sid:
                raise TestFailure(f"stream {sid} ({path}) was reset")
            elif stream == sid and ftype == 0:
                body += payload
                if flags & 1:
                    return body
            elif stream == sid and ftype == 1 and flags & 1:
                return body

    def close(self):
        self.sock.close()


def parse_metrics(text):
    """{'name{labels}': value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        ensure(m is not None, f"not a sample line: {line!r}")
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def scrape(srv, promtool):
    """GET /metrics over HTTP/1.1, checked by promtool; returns (text, samples)."""
    r = srv.http().request("GET", "/metrics")
    return check_scrape(r.status, r.header("content-type"), r.body, promtool)


def check_scrape(status, content_type, body, promtool):
    """A /metrics answer, checked by promtool; returns (text, samples)."""
    ensure_eq(status, 200, "GET /metrics status")
    ensure_eq(content_type, "text/plain; version=0.0.4; charset=utf-8", "/metrics content-type")
    text = body.decode()
    p = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    ensure(p.returncode == 0, f"promtool check metrics failed ({p.returncode}): "
                              f"{(p.stdout + p.stderr).decode()[:2000]}\n--- metrics:\n{text[:3000]}")
    return text, parse_metrics(text)


def curl(args):
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", *args],
                       capture_output=True, timeout=30)
    ensure(p.returncode == 0, f"curl {args}: {p.stderr.decode()}")
    return p.stdout.decode().split()


def need_promtool(promtool):
    if shutil.which(promtool) is None:
        raise SkipTest(f"{promtool} not installed (Debian package prometheus; .ci/deps installs it)")


def test_metrics_after_traffic(binary, promtool):
    need_promtool(promtool)
    rng = random.Random(11)
    srv = Server(binary, threads=2, name="orderd (metrics)").start()
    h2 = None
    try:
        c = srv.http()
        ids = []
        for i in range(3):
            body, _ = new_order(rng, f"m{i}")
            r = c.create("alice", body, key="k-1" if i == 0 else None)
            expect(r, 201)
            ids.append(r.json()["id"])
        expect(c.get("alice", ids[0]), 200)
        expect(c.cancel("alice", ids[1]), 200)
        # an operation after checkout: its own route label, the sub-resource's too
        expect(c.request("POST", f"/api/orders/{ids[2]}/edit", "alice",
                         {"operations": [{"op": "set_quantity", "line_id": "l1", "quantity": 2}]}), 200)
        expect(c.request("POST", f"/api/orders/{ids[2]}/returns/r9/approve", None, None,
                         {"Authorization": "Bearer nope"}), 403)
        expect(c.request("GET", "/nowhere"), 404)
        expect(c.request("POST", "/metrics"), 405)
        base = srv.base_url
        ensure_eq(curl(["--http2-prior-knowledge", "-H", "X-User-Id: alice", f"{base}/api/orders/{ids[0]}"]),
                  ["200", "2"], "h2c prior knowledge GET")
        ensure_eq(curl(["--http2", "-H", "X-User-Id: alice", f"{base}/api/orders"]), ["200", "2"], "h2c upgrade list")
        h2 = H2Conn(srv.port)  # held open: the h2 gauge must count it
        ensure(json.loads(h2.get("/healthz")) == {"status": "ok"}, "healthz over h2")

        deadline = time.monotonic() + 5
        while True:
            text, m = scrape(srv, promtool)
            if m.get('orderd_http_open_connections{protocol="h2"}', 0) >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        want = {
            'orderd_http_requests_total{route="/api/orders",code="201"}': 3,
            'orderd_http_requests_total{route="/api/orders/{id}",code="200"}': 2,
            'orderd_http_requests_total{route="/api/orders/{id}/cancel",code="200"}': 1,
            'orderd_http_requests_total{route="/api/orders/{id}/edit",code="200"}': 1,
            'orderd_http_requests_total{route="/api/orders/{id}/returns/{return_id}/approve",code="403"}': 1,
            'orderd_http_requests_total{route="other",code="404"}': 1,
            'orderd_http_requests_total{route="/metrics",code="405"}': 1,
            'orderd_http_requests_total{route="/api/orders",code="200"}': 1,
            'orderd_http_requests_total{route="/healthz",code="200"}': 1,
            'orderd_http_request_duration_seconds_count{route="/api/orders"}': 4,
            'orderd_http_request_duration_seconds_bucket{route="/api/orders",le="+Inf"}': 4,
            'orderd_orders{status="pending"}': 2,
            'orderd_orders{status="cancelled"}': 1,
            'orderd_orders{status="shipped"}': 0,
            'orderd_idempotency_keys': 1,
            'orderd_journal_records_total': 6,  # 3 creates, 1 key, 1 cancel, 1 edit
            'orderd_journal_segments_created_total': 1,
            'orderd_journal_write_failures_total': 0,
            'orderd_snapshots_written_total': 0,
            'orderd_ready': 1,
            'orderd_build_info{version="0.1.0",libh2o="2.2.5"}': 1,
        }
        for key, value in want.items():
            ensure_eq(m.get(key), value, key)
        ensure(m['orderd_http_open_connections{protocol="h2"}'] >= 1, "the held HTTP/2 connection is not counted")
        ensure(m['orderd_http_open_connections{protocol="h1"}'] >= 1, "the scrape's own connection is not counted")
        ensure(m["orderd_journal_fdatasync_duration_seconds_count"] >= 1, "no fdatasync counted with --fsync always")
        ensure_eq(m["orderd_journal_commit_records_count"], m["orderd_journal_commits_total"], "commits counted twice")
        ensure_eq(m["orderd_journal_commit_records_sum"], 6, "records over all group commits")
        ensure(m["orderd_journal_written_bytes_total"] > 0, "no journal bytes counted")
        ensure(m["orderd_replay_duration_seconds"] >= 0, "replay duration missing")
        return f"({len(m)} samples, promtool ok)"
    finally:
        if h2 is not None:
            h2.close()
        srv.kill9()


def test_metrics_over_tls(binary, promtool):
    need_promtool(promtool)
    if shutil.which("openssl") is None:
        raise SkipTest("openssl not installed (.ci/deps installs it)")
    with TempDir("orderd-observe-tls-") as work:
        cert, key = make_cert(work, "observe")
        # the harness's cleartext --listen first, then a TLS one
        srv = Server(binary, args=["--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key],
                     workdir=work, name="orderd (metrics, TLS)").start()
        held = []
        try:
            line = srv.wait_line(HTTPS_RE.pattern, 10)
            ensure(line is not None, f"no https listening line; stderr:\n        {srv.tail()}")
            port = int(HTTPS_RE.match(line).group(1))
            base = f"https://127.0.0.1:{port}"
            body, _ = new_order(random.Random(12), "tls")
            ensure_eq(curl(["--cacert", cert, "--http2", "-H", "X-User-Id: alice", "-H", "Content-Type: application/json",
                            "--data-binary", body.decode(), f"{base}/api/orders"]), ["201", "2"], "create over TLS h2")
            ensure_eq(curl(["--cacert", cert, "--http1.1", "-H", "X-User-Id: alice", f"{base}/api/orders"]),
                      ["200", "1.1"], "list over TLS HTTP/1.1")
            tls = ssl.create_default_context(cafile=cert)
            tls.set_alpn_protocols(["h2"])
            h2 = H2Conn(port, tls=tls)  # held open: counted in both h2 and tls
            held.append(h2)
            ensure(json.loads(h2.get("/healthz")) == {"status": "ok"}, "healthz over TLS h2")

            # scraped over TLS (HTTP/1.1), itself a second open TLS connection
            one = ssl.create_default_context(cafile=cert)
            one.set_alpn_protocols(["http/1.1"])
            deadline = time.monotonic() + 5
            while True:
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=one, timeout=10)
                conn.request("GET", "/metrics")
                r = conn.getresponse()
                text, m = check_scrape(r.status, r.getheader("content-type"), r.read(), promtool)
                conn.close()
                if m.get('orderd_http_open_connections{protocol="h2"}', 0) >= 1 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            ensure('# HELP orderd_http_open_connections ' in text and 'tls' in text.split(
                '# HELP orderd_http_open_connections ')[1].split("\n")[0], "the gauge's HELP does not say what tls counts")
            ensure_eq(m.get('orderd_http_requests_total{route="/api/orders",code="201"}'), 1, "creates over TLS")
            ensure_eq(m.get('orderd_http_requests_total{route="/api/orders",code="200"}'), 1, "lists over TLS")
            ensure_eq(m.get('orderd_http_requests_total{route="/healthz",code="200"}'), 1, "healthz over TLS h2")
            tls_open = m.get('orderd_http_open_connections{protocol="tls"}')
            ensure(tls_open is not None and tls_open >= 2,
                   f"open TLS connections {tls_open} while the h2 one and the scrape's are open")
            ensure(m['orderd_http_open_connections{protocol="h2"}'] >= 1, "the held TLS h2 connection is not in h2")

            # every TLS connection closed: the gauge comes back to 0 (counted at close, not sampled)
            h2.close()
            held.clear()
            deadline = time.monotonic() + 5
            while True:
                _, m = scrape(srv, promtool)  # over cleartext: not a TLS connection itself
                if m['orderd_http_open_connections{protocol="tls"}'] == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            ensure_eq(m['orderd_http_open_connections{protocol="tls"}'], 0, "open TLS connections after closing all")
            ensure(m['orderd_http_open_connections{protocol="h1"}'] >= 1, "the cleartext scrape is not in h1")
            return f"({len(m)} samples over TLS, promtool ok, tls gauge {tls_open:.0f} -> 0)"
        finally:
            for c in held:
                c.close()
            srv.kill9()


def test_readyz_during_replay(binary, gen_journal, promtool, n):
    need_promtool(promtool)
    with TempDir("orderd-replay-") as work:
        data = os.path.join(work, "data")
        subprocess.run([gen_journal, data, str(n)], check=True, stdout=subprocess.DEVNULL, timeout=120)
        srv = Server(binary, data, threads=2, name="orderd (replaying)").start(expect_listen=False)
        try:
            line = srv.wait_line(REPLAYING_RE, 20)
            ensure(line is not None, f"no 'replaying the journal' line; stderr:\n        {srv.tail()}")
            srv.port = int(re.match(REPLAYING_RE, line).group(1))
            c = srv.http()
            r = c.request("GET", "/readyz")
            done = any("replayed" in ln for ln in srv.lines)
            ensure(r.status == 503 or not done,
                   f"replay of {n} orders was over before the first request: make the journal larger ({r!r})")
            check_unavailable(r)
            ensure("replaying" in r.json()["detail"], f"readyz detail: {r!r}")
            # an API request that comes now is held, not refused: it is
            # answered once replay is done, from the whole table (a request
            # let through mid-replay would see a smaller total)
            held = {}

            def held_list():
                hc = srv.http(timeout=90)
                held["resp"] = hc.request("GET", "/api/orders?limit=1", "user-7")
                hc.close()

            th = threading.Thread(target=held_list)
            th.start()
            expect(c.request("GET", "/healthz"), 200)
            _, m = scrape(srv, promtool)
            ensure_eq(m.get("orderd_ready"), 0, "orderd_ready while replaying")
            ensure("orderd_orders{status=\"pending\"}" not in m, "the table was read while it replays")
            ensure(srv.wait_listen(60) is not None, f"never listening; stderr:\n        {srv.tail()}")
            ensure_eq(expect(c.request("GET", "/readyz"), 200), {"status": "ready"}, "readyz once serving")
            th.join(60)
            ensure("resp" in held, "the request held during replay was never answered")
            after = expect(c.request("GET", "/api/orders?limit=1", "user-7"), 200)
            ensure_eq(expect(held["resp"], 200)["total"], after["total"], "total of the held list")
            ensure(after["total"] > 0, "user-7 has no orders after replay")
            _, m = scrape(srv, promtool)
            ensure_eq(m.get('orderd_orders{status="pending"}'), n, "orders after replay")
            ensure(m["orderd_replay_duration_seconds"] > 0, "replay duration not measured")
            return f"(replay {m['orderd_replay_duration_seconds']:.2f} s)"
        finally:
            srv.kill9()


def test_readyz_503_first_on_sigterm(binary):
    srv = Server(binary, threads=2, name="orderd (shutdown)").start()
    stop, statuses, created, lock = threading.Event(), [], [], threading.Lock()
    try:
        h2 = H2Conn(srv.port)
        ensure_eq(json.loads(h2.get("/readyz")), {"status": "ready"}, "readyz before SIGTERM")

        def load(i):
            rng, c = random.Random(i), srv.http()
            while not stop.is_set():
                try:
                    r = c.create(f"load-{i}", new_order(rng, f"l{i}")[0])
                except OSError:
                    return  # the server closed the connection while draining
                with lock:
                    statuses.append(r.status)
                    if r.status == 201:
                        created.append((f"load-{i}", r.json()["id"]))
        threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        srv.term_sent = True
        os.kill(srv.proc.pid, signal.SIGTERM)
        ensure(srv.wait_line(r"SIGTERM received", 5) is not None, "no 'SIGTERM received' line")
        doc = json.loads(h2.get("/readyz"))
        ensure(doc.get("status") == 503 and "shutting down" in doc.get("detail", ""),
               f"readyz right after SIGTERM: {doc!r}")
        t_term = time.monotonic()
        rc = srv.wait_exit(10)
        took = time.monotonic() - t_term
        stop.set()
        for t in threads:
            t.join(5)
        ensure_eq(rc, 0, "exit status after SIGTERM")
        ensure(took < 5.0, f"exit {took:.2f} s after SIGTERM (want < 5 s)")
        ensure(statuses and all(s == 201 for s in statuses),
               f"creates under load: {sorted(set(statuses))} ({len(statuses)} answers)")
        # every create that got its 201 is durable: a restart on the same directory has each
        again = srv.again(name="orderd (after SIGTERM)").start()
        try:
            c = again.http()
            missing = [oid for user, oid in created if c.request("GET", f"/api/orders/{oid}", user=user).status != 200]
            ensure(not missing, f"{len(missing)} of {len(created)} acknowledged orders missing after restart")
            ensure_eq(again.terminate(), 0, "exit status of the restarted server")
        finally:
            again.kill9()
        return f"({len(statuses)} creates answered 201 around SIGTERM, all there after restart; exit in {took:.2f} s)"
    finally:
        stop.set()
        srv.kill9()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("--gen-journal", required=True)
    ap.add_argument("--promtool", default="promtool")
    ap.add_argument("--replay-orders", type=int, default=600000)
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if require_executable(runner, binary) and require_executable(runner, args.gen_journal, "gen_journal"):
        runner.run("metrics_after_traffic_h1_h2c", test_metrics_after_traffic, binary, args.promtool)
        runner.run("metrics_over_tls_and_tls_gauge", test_metrics_over_tls, binary, args.promtool)
        runner.run("readyz_503_while_replaying", test_readyz_during_replay, binary, args.gen_journal,
                   args.promtool, args.replay_orders)
        runner.run("readyz_503_first_on_sigterm_under_load", test_readyz_503_first_on_sigterm, binary)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
