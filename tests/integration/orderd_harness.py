"""Test harness for the orderd black-box suite: a curl-driven HTTP client, a
server fixture around the real binary, raw-socket helpers, assertion helpers
and a tiny test runner.  Python 3.11 standard library only."""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import traceback

# --------------------------------------------------------------------------
# Protocols: curl flags and the %{http_version} each one must report.
# --------------------------------------------------------------------------

PROTOCOLS = {
    "http1.1": (["--http1.1"], "1.1"),
    "h2c": (["--http2-prior-knowledge"], "2"),
    "h2c-upgrade": (["--http2"], "2"),  # http:// URL: sends Upgrade: h2c
}
ALL_PROTOCOLS = tuple(PROTOCOLS)

PROBLEM_SLUGS = {
    400: "malformed-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    403: "forbidden",
    409: "invalid-transition",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    500: "internal-error",
}

DEFAULT = object()  # "use the default" sentinel for keyword arguments

# When set (an openapi_check.OpenAPIChecker), every checked response's body is
# validated against its schema in docs/openapi.yaml.
CONTRACT = None


class TestFailure(AssertionError):
    """A failed expectation (the message says what was expected and got)."""


def ensure(cond, msg):
    if not cond:
        raise TestFailure(msg)


def ensure_eq(got, want, what):
    if got != want:
        raise TestFailure(f"{what}: expected {want!r}, got {got!r}")


class SubChecks:
    """Collects failures of many sub-cases and fails once with all of them."""

    def __init__(self):
        self.failures = []
        self.count = 0

    def run(self, label, fn, *args, **kwargs):
        self.count += 1
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            self.failures.append(f"[{label}] {type(e).__name__}: {e}")
            return None

    def done(self):
        if self.failures:
            raise TestFailure(f"{len(self.failures)} of {self.count} sub-cases failed:\n      "
                              + "\n      ".join(self.failures))


# --------------------------------------------------------------------------
# HTTP client on the curl command line
# --------------------------------------------------------------------------

class CurlError(Exception):
    pass


class Response:
    def __init__(self, *, status, http_version, headers, body, raw_headers, blocks, method, url,
                 num_connects):
        self.status = status
        self.http_version = http_version
        self.headers = headers  # lower-case name -> list of values
        self.body = body
        self.raw_headers = raw_headers
        self.blocks = blocks  # status lines of every header block (101, 100, final)
        self.method = method
        self.url = url
        self.num_connects = num_connects

    def header(self, name):
        values = self.headers.get(name.lower())
        if not values:
            return None
        return ", ".join(values)

    @property
    def text(self):
        return self.body.decode("utf-8")  # strict: invalid UTF-8 raises

    def json(self):
        try:
            return json.loads(self.text)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TestFailure(f"response body of {self.method} {self.url} is not valid JSON "
                              f"({e}): {self.body[:300]!r}") from None

    def media_type(self):
        ct = self.header("content-type")
        if ct is None:
            return None
        return ct.split(";")[0].strip().lower()

    def __repr__(self):
        body = self.body[:400]
        more = "..." if len(self.body) > 400 else ""
        return (f"<{self.method} {self.url} -> HTTP/{self.http_version} {self.status} "
                f"content-type={self.header('content-type')!r} body={body!r}{more}>")


def parse_header_blocks(raw: bytes):
    """Splits curl's -D output into blocks; returns (status lines, last block's headers)."""
    text = raw.decode("latin-1")
    blocks = []
    current = None
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line.startswith("HTTP/"):
            current = {"status_line": line, "headers": []}
            blocks.append(current)
        elif line == "" or current is None:
            continue
        else:
            name, sep, value = line.partition(":")
            if sep:
                current["headers"].append((name.strip().lower(), value.strip()))
    if not blocks:
        return [], {}
    headers = {}
    for name, value in blocks[-1]["headers"]:
        headers.setdefault(name, []).append(value)
    return [b["status_line"] for b in blocks], headers


class Client:
    """One protocol's view of a server.  Every response is checked for what
    the contract demands of all responses (protocol, Content-Length, no
    chunked replies, no 5xx) unless check=False."""

    _seq = itertools.count()

    def __init__(self, base_url, proto, workdir):
        self.base_url = base_url
        self.proto = proto
        self.flags, self.want_version = PROTOCOLS[proto]
        self.workdir = workdir

    def _paths(self):
        n = next(Client._seq)
        return tuple(os.path.join(self.workdir, f"req{n}.{ext}") for ext in ("in", "hdr", "out"))

    # curl 7.88 cannot take more than 32 KiB of HTTP/2 data arriving together
    # with the 101 Switching Protocols (exit 16, "connection buffer size is too
    # small to store data following HTTP Upgrade response header"); requests
    # with large bodies (hence large answers) go over an upgraded connection.
    UPGRADE_BODY_LIMIT = 16 * 1024

    def request(self, method, path, *, user=None, body=None, content_type=DEFAULT, headers=(),
                warmup=None, check=True, timeout=20):
        """method, path: the request line.  user: X-User-Id value (None: no
        header).  body: bytes or str sent with --data-binary (None: no body).
        content_type: DEFAULT gives application/json when there is a body,
        None sends no Content-Type.  warmup: for h2c-upgrade, first upgrade the
        connection with GET /healthz and send this request over the upgraded
        connection (--next reuses it); None: only for bodies over
        UPGRADE_BODY_LIMIT.  Ignored for the other protocols."""
        if self.proto != "h2c-upgrade":
            warmup = False
        elif warmup is None:
            # large bodies, and lists (their answers grow with the user's orders)
            warmup = (body is not None and len(body) > self.UPGRADE_BODY_LIMIT) or \
                (method == "GET" and path.split("?")[0] == "/api/orders")
        in_path, hdr_path, out_path = self._paths()
        url = self.base_url + path
        cmd = ["curl", "-q", "-sS", "-g", "--noproxy", "*", "--max-time", str(timeout)]
        if warmup:
            cmd += self.flags + ["-o", os.devnull, self.base_url + "/healthz", "--next"]
        cmd += self.flags
        cmd += ["-D", hdr_path, "-o", out_path,
                "-w", "\\n%{http_version} %{http_code} %{num_connects}\\n"]
        if method == "HEAD":
            cmd.append("-I")
        if body is not None:
            if isinstance(body, str):
                body = body.encode("utf-8")
            with open(in_path, "wb") as f:
                f.write(body)
            cmd += ["--data-binary", "@" + in_path]
            if method != "POST":
                cmd += ["-X", method]
        elif method not in ("GET", "HEAD"):
            cmd += ["-X", method]
        if content_type is DEFAULT:
            if body is not None:
                cmd += ["-H", "Content-Type: application/json"]
        elif content_type is None:
            cmd += ["-H", "Content-Type:"]  # removes curl's form-urlencoded default
        else:
            cmd += ["-H", f"Content-Type: {content_type}"]
        if user is not None:
            cmd += ["-H", f"X-User-Id: {user}" if user != "" else "X-User-Id;"]
        for h in headers:
            cmd += ["-H", h]
        cmd.append(url)

        proc = subprocess.run(cmd, capture_output=True, timeout=timeout + 10)
        if proc.returncode != 0:
            raise CurlError(f"curl exit {proc.returncode} for {method} {url} over {self.proto}: "
                            f"{proc.stderr.decode(errors='replace').strip()}")
        lines = [ln for ln in proc.stdout.decode().splitlines() if ln.strip()]
        version, code, connects = lines[-1].split()
        with open(hdr_path, "rb") as f:
            raw_headers = f.read()
        blocks, hdrs = parse_header_blocks(raw_headers)
        body_bytes = b""
        if method != "HEAD" and os.path.exists(out_path):
            with open(out_path, "rb") as f:
                body_bytes = f.read()
        for p in (in_path, hdr_path, out_path):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        resp = Response(status=int(code), http_version=version, headers=hdrs, body=body_bytes,
                        raw_headers=raw_headers, blocks=blocks, method=method, url=url,
                        num_connects=int(connects))
        if check:
            self.check_common(resp, warmup=warmup)
        return resp

    def check_common(self, resp, warmup=False):
        ensure(resp.http_version == self.want_version,
               f"{self.proto}: expected HTTP/{self.want_version}, curl reports HTTP/"
               f"{resp.http_version} for {resp!r}")
        if self.proto == "h2c-upgrade":
            if warmup:
                ensure(resp.num_connects == 0,
                       f"h2c-upgrade warm-up: request did not reuse the upgraded connection: {resp!r}")
            else:
                ensure(any(" 101" in b for b in resp.blocks),
                       f"h2c-upgrade: no 101 Switching Protocols before the response: {resp.blocks}")
        ensure(resp.status < 500, f"server error: {resp!r}")
        cl = resp.header("content-length")
        ensure(cl is not None, f"no Content-Length header: {resp!r}\n{resp.raw_headers!r}")
        if resp.method != "HEAD":
            ensure(cl.strip().isdigit() and int(cl) == len(resp.body),
                   f"Content-Length {cl!r} but body has {len(resp.body)} bytes: {resp!r}")
        te = resp.header("transfer-encoding")
        ensure(te is None or "chunked" not in te.lower(),
               f"Transfer-Encoding: {te} (chunked replies are forbidden): {resp!r}")
        ensure(resp.header("x-request-id"), f"no X-Request-Id on the response: {resp!r}")
        if CONTRACT is not None:
            path = resp.url[len(self.base_url):]
            try:
                CONTRACT.check(resp.method, path, resp.status, resp.header("content-type"), resp.body)
            except AssertionError as e:
                raise TestFailure(f"contract: {e}") from None


# --------------------------------------------------------------------------
# Response expectations
# --------------------------------------------------------------------------

def expect(resp, status):
    """Asserts the status and the contract's content type; for errors the
    RFC 9457 problem document.  Returns the parsed body (None for HEAD)."""
    ensure(resp.status == status, f"expected status {status}, got {resp!r}")
    mt = resp.media_type()
    if status >= 400:
        ensure(mt == "application/problem+json",
               f"expected content-type application/problem+json, got {resp.header('content-type')!r}"
               f" for {resp!r}")
    else:
        ensure(mt == "application/json",
               f"expected content-type application/json, got {resp.header('content-type')!r}"
               f" for {resp!r}")
    if resp.method == "HEAD":
        ensure(resp.body == b"", f"HEAD response carries a body: {resp!r}")
        return None
    doc = resp.json()
    if status >= 400:
        ensure(isinstance(doc, dict), f"problem is not a JSON object: {resp!r}")
        for key in ("type", "title", "status", "detail"):
            ensure(key in doc, f"problem lacks {key!r}: {resp!r}")
        ensure(type(doc["status"]) is int and doc["status"] == status,
               f"problem status {doc['status']!r} != HTTP status {status}: {resp!r}")
        want_type = f"urn:orderd:problem:{PROBLEM_SLUGS[status]}"
        ensure(doc["type"] == want_type, f"problem type {doc['type']!r}, expected {want_type!r}")
        ensure(isinstance(doc["title"], str) and doc["title"].strip(),
               f"problem title empty or not a string: {resp!r}")
        ensure(isinstance(doc["detail"], str) and doc["detail"].strip(),
               f"problem detail empty or not a string: {resp!r}")
    return doc


# --------------------------------------------------------------------------
# Server fixture
# --------------------------------------------------------------------------

LISTEN_RE = re.compile(r"^orderd: listening on http://127\.0\.0\.1:(\d+)\s*$")


class Server:
    """The real orderd binary on a kernel-chosen port with a fresh data dir."""

    def __init__(self, binary, workdir, extra_args=(), threads=2, name="orderd"):
        self.binary = binary
        self.name = name
        self.data_dir = tempfile.mkdtemp(prefix=f"{name}-data-", dir=workdir)
        self.args = [binary, "--listen", "127.0.0.1:0", "--threads", str(threads),
                     "--data-dir", self.data_dir, *extra_args]
        self.proc = None
        self.port = None
        self.stderr_lines = []
        self._lines = queue.Queue()

    def start(self, timeout=15):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self._lines.empty():
                    break
                continue
            if line is None:
                break
            m = LISTEN_RE.match(line)
            if m:
                self.port = int(m.group(1))
                return self
        rc = self.proc.poll()
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError(f"{self.name} did not print 'orderd: listening on http://127.0.0.1:PORT' "
                           f"(exit status {rc}); stderr: {self.stderr_text()!r}")

    def _drain(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.stderr_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def stderr_text(self):
        return "\n".join(self.stderr_lines)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout=5.0):
        """SIGTERM; returns (exit status or None when it did not exit, seconds)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        return rc, time.monotonic() - t0

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------
# Raw sockets: idle HTTP/1.1 and HTTP/2 keep-alive connections
# --------------------------------------------------------------------------

def recv_http1_response(sock, timeout=5.0):
    """Reads one HTTP/1.1 response with Content-Length; returns (head, body)."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise TestFailure(f"connection closed before a full response head: {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    ensure(m is not None, f"raw HTTP/1.1 response without Content-Length: {head!r}")
    length = int(m.group(1))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise TestFailure("connection closed inside the response body")
        rest += chunk
    return head, rest[:length]


def open_idle_http1(port, path="/healthz"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    head, body = recv_http1_response(s)
    ensure(head.startswith(b"HTTP/1.1 200"), f"raw HTTP/1.1 GET {path}: {head!r}")
    return s, body


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(ftype, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream_id & 0x7FFFFFFF) + payload


def _hpack_literal_indexed_name(index, value: bytes):
    # Literal header field with incremental indexing, indexed name (RFC 7541 6.2.1).
    ensure(len(value) < 127, "hpack helper: value too long")
    return bytes([0x40 | index, len(value)]) + value


def open_idle_h2(port, path="/healthz"):
    """h2c prior knowledge over a raw socket: one GET, the full response read,
    then the connection is left open and idle.  Returns (socket, DATA bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    authority = f"127.0.0.1:{port}".encode()
    block = (bytes([0x82, 0x86])  # :method GET, :scheme http
             + _hpack_literal_indexed_name(4, path.encode())  # :path
             + _hpack_literal_indexed_name(1, authority))  # :authority
    s.sendall(H2_PREFACE + h2_frame(4, 0, 0) + h2_frame(1, 0x5, 1, block))
    buf = b""
    data = b""
    done = False
    while not done:
        while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
            chunk = s.recv(65536)
            if not chunk:
                raise TestFailure(f"h2 connection closed before the response ended (data {data!r})")
            buf += chunk
        length = int.from_bytes(buf[:3], "big")
        ftype, flags = buf[3], buf[4]
        sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
        payload = buf[9:9 + length]
        buf = buf[9 + length:]
        if ftype == 4 and not flags & 0x1:
            s.sendall(h2_frame(4, 0x1, 0))  # SETTINGS ACK
        elif ftype == 7:
            raise TestFailure(f"h2: GOAWAY before the response: {payload!r}")
        elif ftype == 3 and sid == 1:
            raise TestFailure(f"h2: RST_STREAM on stream 1: {payload!r}")
        elif ftype == 0 and sid == 1:
            if flags & 0x8:  # PADDED
                pad = payload[0]
                payload = payload[1:len(payload) - pad]
            data += payload
            done = bool(flags & 0x1)
        elif ftype == 1 and sid == 1:
            done = bool(flags & 0x1)
    return s, data


def run_threads(n, fn):
    """Runs fn(i) on n threads released together; returns the results in order."""
    results, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def worker(i):
        try:
            barrier.wait(timeout=10)
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001
            errors.append(f"thread {i}: {type(e).__name__}: {e}")
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ensure(not errors, "\n      ".join(errors))
    return results


# --------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------

def run_registered(runner, ctx, protocol_tests, global_tests, protocols, pattern):
    """Runs each per-protocol test once per protocol, then each global test,
    skipping names without `pattern`."""
    for fn in protocol_tests:
        for proto in protocols:
            name = f"{fn.__name__[5:]}[{proto}]"
            if pattern in name:
                runner.run(name, fn, ctx, proto)
    for fn in global_tests:
        if pattern in fn.__name__:
            runner.run(fn.__name__[5:], fn, ctx)


class Runner:
    def __init__(self, verbose=False):
        self.passed = 0
        self.failed = 0
        self.failed_names = []
        self.verbose = verbose
        self._lock = threading.Lock()

    def run(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            fn(*args)
        except TestFailure as e:
            self._record(name, False, f"{e}", time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001 - a crash in a test is a failure
            detail = f"{type(e).__name__}: {e}"
            if self.verbose or not isinstance(e, CurlError):
                detail += "\n" + "".join(traceback.format_exc(limit=6))
            self._record(name, False, detail, time.monotonic() - t0)
        else:
            self._record(name, True, "", time.monotonic() - t0)

    def _record(self, name, ok, detail, seconds):
        with self._lock:
            if ok:
                self.passed += 1
                print(f"ok    {name} ({seconds:.2f}s)", flush=True)
            else:
                self.failed += 1
                self.failed_names.append(name)
                print(f"FAIL  {name} ({seconds:.2f}s)\n      {detail}", flush=True)
