#!/usr/bin/env python3
"""Hostile clients, HTTP/2 rapid reset (issue 12, CVE-2023-44487): h2c
connections that send HEADERS + DATA (a valid create) + RST_STREAM again and
again, to orderd with --threads 2 and the default --http2-max-resets (200),
while a healthy client GETs an existing order every 20 ms on an HTTP/1.1
connection of its own.

Before the limit every reset stream was processed (1.99M orders in 20 s on
two connections, healthy p99 2.9 s, no GOAWAY). Now, each connection must
get GOAWAY (ENHANCE_YOUR_CALM) once more than 200 of its streams were reset
while their answer was pending, and be closed; no order is created past
that; the healthy client's p99 stays below 50 ms and resident memory below
256 MiB, also when the attacker reconnects at once, again and again. Below
the limit a connection keeps serving; a connection whose client never takes
an answer is shut down a second after its GOAWAY; --http2-max-streams 1
holds a connection's second request until its first is answered. The
figures are printed (docs/security.md quotes them).

    python3 tests/hostile/rapid_reset_test.py --orderd build/orderd [--sanitized]

--sanitized (a sanitizer build): latency and memory are printed, not held to
the limits. The last line is exactly `N passed, N failed, N skipped`."""
import os
import random
import socket
import ssl
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from orderd_harness import (  # noqa: E402
    Http, Server, TempDir, ensure, ensure_eq, expect, make_cert, new_order)
from nesting_test import Healthy, Memory, print_figures, report, suite_args  # noqa: E402
from h2_flood import (  # noqa: E402
    DATA, END_STREAM, ERROR_NAMES, GOAWAY, HEADERS, END_HEADERS, PREFACE, SETTINGS, Connection, attack_span,
    create_block, frame, get_block, reset_burst, run_apart)

MAX_RESETS = 200   # orderd's default --http2-max-resets
ENHANCE_YOUR_CALM = 11
GOAWAY_TEXT = "too many streams reset before their answer"
RECONNECT_S = 5.0  # the reconnecting attack (issue 12 ran its probe for 20 s)


def metrics(port):
    """GET /metrics as {sample: value}."""
    http = Http(port)
    try:
        text = http.request("GET", "/metrics").body.decode()
    finally:
        http.close()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def resets_counted(port):
    m = metrics(port)
    return int(m["orderd_http2_early_resets_total"]), int(m["orderd_http2_reset_goaways_total"])


class Ctx:
    def __init__(self, server, sanitized):
        self.server, self.sanitized = server, sanitized
        self.port = server.port
        self.authority = f"127.0.0.1:{server.port}"
        rng = random.Random(44487)
        self.body, _ = new_order(rng, "mallory")
        self.block = create_block(self.authority, "mallory", len(self.body))
        http = server.http()
        healthy_body, _ = new_order(rng, "healthy")
        self.oid = expect(http.create("healthy", healthy_body), 201)["id"]
        http.close()
        self.healthy = Healthy(server.port, "healthy", self.oid)
        self.memory = Memory(server.proc.pid)
        self.figures = []

    def stop(self):
        """Ends the healthy client and the memory sampler."""
        self.healthy.halt.set()
        self.memory.halt.set()
        self.healthy.join(10)

    def orders(self):
        http = self.server.http(timeout=30)
        try:
            return http.total("mallory")
        finally:
            http.close()


def check_goaway(conn, what):
    """The connection got GOAWAY (ENHANCE_YOUR_CALM) for its resets and was
    then closed by the server within 2.5 s; returns the GOAWAY's time."""
    ensure(conn.goaways, f"{what}: no GOAWAY (ended by the server: {conn.ended_by}, server resets "
           f"{conn.server_resets}, answers {conn.responses})")
    at, last, code, text = conn.goaways[0]
    ensure_eq(ERROR_NAMES.get(code, code), "ENHANCE_YOUR_CALM", f"{what}: GOAWAY error code")
    ensure_eq(text, GOAWAY_TEXT, f"{what}: GOAWAY debug data")
    ensure(last <= 2 * conn.sent + 1, f"{what}: GOAWAY names stream {last}, only {conn.sent} sent")
    closed = conn.wait_closed(3.0)
    ensure(closed is not None and conn.ended_by is not None, f"{what}: not closed by the server 3 s after its GOAWAY")
    ensure(closed - at < 2.5, f"{what}: closed {closed - at:.2f} s after its GOAWAY")
    return at


def check_ended(conns, what):
    """Each connection was ended by the server: with a GOAWAY the client
    read, or a TCP reset that may have dropped it (h2o closes with the
    attacker's further frames unread). Returns how many saw the GOAWAY."""
    seen = 0
    for i, c in enumerate(conns):
        if c.goaways:
            check_goaway(c, f"{what} {i}")
            seen += 1
        else:
            ensure(c.wait_closed(3.0) is not None and c.ended_by is not None,
                   f"{what} {i}: not ended by the server ({c.sent} streams sent)")
    return seen


def send_until_goaway(ctx, conn, sid, before):
    """Sends resets in bursts that end exactly where the count passes the
    limit (a reset whose answer came first is not counted: the next burst
    tops up), then nothing more. Returns the count of resets taken."""
    for _ in range(5):
        counted = resets_counted(ctx.port)[0] - before
        if conn.goaways or counted > MAX_RESETS:
            break
        conn.send(reset_burst(sid, MAX_RESETS + 1 - counted, ctx.block, ctx.body))
        conn.sent += MAX_RESETS + 1 - counted
        sid += 2 * (MAX_RESETS + 1 - counted)
        conn.wait_closed(1.0)
    return resets_counted(ctx.port)[0] - before


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------

def test_baseline(ctx):
    t0 = time.monotonic()
    time.sleep(1.0)
    return report(ctx, "baseline (no attacker)", t0, time.monotonic())


def test_two_connections(ctx):
    """Issue 12's probe: two h2c connections resetting every create they send."""
    before_orders, (before_resets, before_goaways) = ctx.orders(), resets_counted(ctx.port)
    attackers = run_apart([dict(host="127.0.0.1", port=ctx.port, body=ctx.body, seconds=10.0)] * 2)
    t0, t1 = attack_span(attackers, 1.0)  # and what the healthy client sees for a second after
    time.sleep(max(0.0, t1 - time.monotonic()))
    for i, a in enumerate(attackers):
        ensure(a.error is None, f"attacker {i}: {a.error}")
    seen = check_ended([a.conns[0] for a in attackers], "attacker")
    answered = sum(c.responses for a in attackers for c in a.conns)
    created = ctx.orders() - before_orders
    resets, goaways = resets_counted(ctx.port)
    ensure_eq(goaways - before_goaways, 2, "orderd_http2_reset_goaways_total, more")
    ensure_eq(resets - before_resets, 2 * (MAX_RESETS + 1), "orderd_http2_early_resets_total, more")
    # each counted reset was a create applied; beyond them only creates answered before their reset came
    ensure(2 * (MAX_RESETS + 1) <= created <= 2 * (MAX_RESETS + 1) + answered,
           f"{created} orders created by the attackers ({answered} answered)")
    sent = sum(a.streams for a in attackers)
    took = max(a.conns[0].closed_at - a.started for a in attackers)
    return report(ctx, f"2 h2c connections, no reconnect: {sent} streams sent, {created} orders created, both connections closed within "
                  f"{took * 1000:.0f} ms ({seen} GOAWAY read before the close)", t0, t1)


def test_reconnecting(ctx):
    """Two attackers that open a new connection as soon as one is closed."""
    before = ctx.orders()
    attackers = run_apart([dict(host="127.0.0.1", port=ctx.port, body=ctx.body, seconds=RECONNECT_S,
                                reconnect=True)] * 2)
    t0, t1 = attack_span(attackers)
    for i, a in enumerate(attackers):
        ensure(a.error is None, f"attacker {i}: {a.error}")
    # each attacker's last connection was cut by the end of the phase
    conns = [c for a in attackers for c in a.conns[:-1]]
    seen = check_ended(conns, "connection")
    ensure(seen > 0, f"no GOAWAY read on any of {len(conns)} connections")
    conns += [a.conns[-1] for a in attackers]
    answered = sum(c.responses for c in conns)
    created = ctx.orders() - before
    ensure(created <= len(conns) * (MAX_RESETS + 1) + answered,
           f"{created} orders on {len(conns)} connections: more than {MAX_RESETS + 1} each")
    sent = sum(a.streams for a in attackers)
    return report(ctx, f"2 attackers reconnecting, {RECONNECT_S:.0f} s: {len(conns)} connections ({seen} GOAWAY read before the close), {sent} streams sent, "
                  f"{created} orders created ({created / (t1 - t0):.0f}/s, at most {MAX_RESETS + 1} a connection)",
                  t0, t1)


def test_below_the_limit_keeps_serving(ctx):
    """200 resets are allowed; the connection answers a GET after them; the
    reset that passes the limit gets the GOAWAY, counted to the one."""
    before, _ = resets_counted(ctx.port)
    conn = Connection("127.0.0.1", ctx.port)
    try:
        conn.send(reset_burst(1, 100, ctx.block, ctx.body) + reset_burst(201, 100, ctx.block, ctx.body))
        conn.sent = 200
        sid = 401
        conn.send(frame(HEADERS, END_HEADERS | END_STREAM, sid, get_block(ctx.authority, "/healthz")))
        ensure(conn.wait_answer(sid, 5.0), f"no answer to a GET after 200 resets (GOAWAY: {conn.goaways})")
        ensure(not conn.goaways, f"GOAWAY after 200 resets: {conn.goaways}")
        ensure_eq(send_until_goaway(ctx, conn, sid + 2, before), MAX_RESETS + 1, "resets counted up to the GOAWAY")
        check_goaway(conn, "the connection")
        return f"(GOAWAY at the {MAX_RESETS + 1}st counted reset, last stream {conn.goaways[0][1]})"
    finally:
        conn.close()


def test_shut_down_when_answers_stall(ctx):
    """A client that takes no answer (stream window 0) keeps a stream in
    flight after its GOAWAY, so h2o never closes it by itself: the socket is
    shut down a second later."""
    conn = Connection("127.0.0.1", ctx.port, stream_window=0)
    try:
        conn.send(frame(HEADERS, END_HEADERS, 1, ctx.block) + frame(DATA, END_STREAM, 1, ctx.body))
        ensure(conn.wait_answer(1, 5.0), "the create kept in flight was not answered")
        # nothing after the reset that passes the limit: h2o itself would
        # close on frames for streams past the GOAWAY (PROTOCOL_ERROR)
        send_until_goaway(ctx, conn, 3, resets_counted(ctx.port)[0])
        closed = conn.wait_closed(5.0)
        ensure(conn.goaways and closed is not None, f"no GOAWAY, or not closed within 5 s (GOAWAY: {conn.goaways})")
        waited = closed - conn.goaways[0][0]
        ensure(0.8 <= waited <= 3.0, f"closed {waited:.2f} s after the GOAWAY (want about 1 s: the shutdown)")
        ensure(ctx.server.alive(), f"the server is gone: {ctx.server.tail()}")
        return f"(closed {waited * 1000:.0f} ms after the GOAWAY)"
    finally:
        conn.close()


def held_second_request(port, authority):
    """On a connection that takes no answer: GET /healthz on stream 1 (its
    body held), then on stream 3. True when stream 3 waited (not answered
    within 0.5 s) and was answered once stream 1 could end."""
    conn = Connection("127.0.0.1", port, stream_window=0)
    try:
        block = get_block(authority, "/healthz")
        conn.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
        ensure(conn.wait_answer(1, 5.0), "no answer on stream 1")
        conn.send(frame(HEADERS, END_HEADERS | END_STREAM, 3, block))
        waited = not conn.wait_answer(3, 0.5)
        conn.window_update(1, 65535)
        ensure(conn.wait_answer(3, 5.0), "stream 3 never answered")
        return waited
    finally:
        conn.close()


def test_max_streams(ctx, binary, workdir):
    """--http2-max-streams 1: a connection's second request waits for its
    first answer; with the default (100) it does not."""
    ensure(not held_second_request(ctx.port, ctx.authority), "default --http2-max-streams: stream 3 waited")
    one = Server(binary, workdir=workdir, threads=1, args=["--http2-max-streams", "1"], name="max-streams-1")
    try:
        one.start()
        ensure(held_second_request(one.port, f"127.0.0.1:{one.port}"),
               "--http2-max-streams 1: stream 3 was answered while stream 1 was in process")
        ensure_eq(one.terminate(), 0, "exit status")
        return ""
    finally:
        one.kill9()


def read_frames_until_closed(sock, timeout):
    """Every frame the server sends until it closes the connection: [(type, payload)]."""
    sock.settimeout(timeout)
    buf, frames = b"", []
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                n = int.from_bytes(buf[:3], "big")
                frames.append((buf[3], buf[9:9 + n]))
                buf = buf[9 + n:]
    except (OSError, ssl.SSLError):
        pass  # a TCP reset after the GOAWAY: the frames read so far are what came
    return frames


def test_tls_connection(ctx, binary, workdir):
    """h2 over TLS: the same GOAWAY, and the TLS connection gauge (the
    socket's on_close, which the count chains) goes back to 0 after it."""
    cert, key = make_cert(workdir, "rapid-reset")
    # the harness's cleartext listener (for /metrics), then a TLS one
    srv = Server(binary, workdir=workdir, threads=1,
                 args=["--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key], name="tls")
    try:
        srv.start()
        port = int(srv.wait_line(r"listening on https://127\.0\.0\.1:(\d+)", 5).rsplit(":", 1)[1])
        tls = ssl.create_default_context(cafile=cert)
        tls.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        with tls.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            ensure_eq(sock.selected_alpn_protocol(), "h2", "ALPN")
            block = create_block(f"127.0.0.1:{port}", "mallory", len(ctx.body))
            # one thread, one direction at a time: an SSL socket is not for concurrent reads and writes
            sock.sendall(PREFACE + frame(SETTINGS, 0, 0) + reset_burst(1, MAX_RESETS + 100, block, ctx.body))
            frames = read_frames_until_closed(sock, 10.0)
        goaways = [p for t, p in frames if t == GOAWAY]
        ensure(goaways, f"no GOAWAY over TLS (frames: {[t for t, _ in frames][:20]})")
        code = int.from_bytes(goaways[0][4:8], "big")
        ensure_eq(ERROR_NAMES.get(code, code), "ENHANCE_YOUR_CALM", "GOAWAY error code over TLS")
        ensure_eq(goaways[0][8:].decode(), GOAWAY_TEXT, "GOAWAY debug data over TLS")
        deadline = time.monotonic() + 5
        while metrics(srv.port)['orderd_http_open_connections{protocol="tls"}'] > 0:
            ensure(time.monotonic() < deadline, "the TLS connection gauge did not go back to 0")
            time.sleep(0.05)
        ensure_eq(srv.terminate(), 0, "exit status")
        return ""
    finally:
        srv.kill9()


def test_logged(ctx):
    lines = [ln for ln in ctx.server.lines if "before their answer" in ln]
    ensure(lines, "no log line for the GOAWAYs")
    ensure("reset 201 streams before their answer within 10 s (--http2-max-resets 200)" in lines[0]
           and "GOAWAY (ENHANCE_YOUR_CALM)" in lines[0], f"the line: {lines[0]!r}")
    return f"({len(lines)} lines)"


def main():
    args, runner, binary = suite_args(__doc__)
    if binary is None:
        return runner.finish()
    with TempDir("orderd-rapid-reset-") as workdir:
        server = Server(binary, workdir=workdir, threads=2, name="orderd")
        try:
            server.start()
            ctx = Ctx(server, args.sanitized)
            ctx.healthy.start()
            ctx.memory.start()
            for fn in (test_baseline, test_two_connections, test_reconnecting, test_below_the_limit_keeps_serving,
                       test_shut_down_when_answers_stall, test_logged):
                runner.run(fn.__name__[5:], fn, ctx)
            runner.run("max_streams", test_max_streams, ctx, binary, workdir)
            runner.run("tls_connection", test_tls_connection, ctx, binary, workdir)
            ctx.stop()
            runner.run("server_sigterm_exit_0", lambda: ensure_eq(server.terminate(10.0), 0, "exit status"))
            print_figures(ctx.figures, args.sanitized)
        except Exception as e:  # noqa: BLE001 - a fixture that fails is the suite's failure
            runner.fail("hostile rapid reset fixture", f"{type(e).__name__}: {e}")
        finally:
            server.kill9()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
