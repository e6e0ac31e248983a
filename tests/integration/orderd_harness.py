"""The one test harness of the orderd integration suites (api_test.py,
checkout_test.py, operations_test.py, operations_model_test.py,
durability_test.py, fault_test.py, stress_test.py):

  - failures and skips: TestFailure, SkipTest, ensure, ensure_eq, SubChecks;
  - two HTTP clients: Client drives the curl command line over HTTP/1.1, h2c
    with prior knowledge and h2c upgrade; Http is one fast keep-alive
    HTTP/1.1 connection on http.client;
  - shared checks: the problem+json document (check_problem, expect,
    check_unavailable) and orders with exact money (new_order,
    check_order_as_sent, check_created);
  - Server: the real binary on 127.0.0.1:0 with a data directory, its
    stderr drained, started, stopped (SIGTERM, kill -9) and restarted;
  - raw-socket helpers, run_threads, TempDir;
  - Suite: a suite's tests (@suite.per_protocol, @suite.once) and the
    main() that runs them against one Server (operator_test.py);
  - Runner: one line per test, a skip reads `SKIP name: reason` and is never
    counted as passed, the last line is exactly `N passed, N failed, N
    skipped`; the exit status is 1 on any failure, 77 (ctest's skip code)
    when no test passed and none failed, else 0.

Python 3.11 standard library only."""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import traceback
from decimal import Decimal

# --------------------------------------------------------------------------
# Failures and skips
# --------------------------------------------------------------------------

SKIP_EXIT = 77  # exit status of a suite in which every test skipped (ctest SKIP_RETURN_CODE)


class TestFailure(AssertionError):
    """A failed expectation (the message says what was expected and got)."""


class SkipTest(Exception):
    """The test cannot run here (the message says why); reported as SKIP, never as a pass."""


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
# Protocols: curl flags and the %{http_version} each one must report.
# --------------------------------------------------------------------------

PROTOCOLS = {
    "http1.1": (["--http1.1"], "1.1"),
    "h2c": (["--http2-prior-knowledge"], "2"),
    "h2c-upgrade": (["--http2"], "2"),  # http:// URL: sends Upgrade: h2c
}
ALL_PROTOCOLS = tuple(PROTOCOLS)

DEFAULT = object()  # "use the default" sentinel for keyword arguments

# When set (an openapi_check.OpenAPIChecker), every checked response's body is
# validated against its schema in docs/openapi.yaml.
CONTRACT = None


# --------------------------------------------------------------------------
# What the responses of both HTTP clients share
# --------------------------------------------------------------------------

class Answer:
    """A response: status, body, method, url (what was asked for) and header(name) of its own kind."""

    def media_type(self):
        ct = self.header("content-type")
        if ct is None:
            return None
        return ct.split(";")[0].strip().lower()

    def json_exact(self):
        """The body parsed with JSON numbers with a fraction kept as exact Decimals."""
        return self._json(Decimal)

    def _json(self, parse_float=None):
        try:
            return json.loads(self.body.decode("utf-8"), parse_float=parse_float)  # strict UTF-8
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TestFailure(f"response body of {self.method} {self.url} is not valid JSON "
                              f"({e}): {self.body[:300]!r}") from None


# --------------------------------------------------------------------------
# HTTP client on the curl command line
# --------------------------------------------------------------------------

class CurlError(Exception):
    pass


class Response(Answer):
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
        return self._json()

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
# HTTP client on http.client: one keep-alive HTTP/1.1 connection
# --------------------------------------------------------------------------

REQUEST_TIMEOUT = 10.0


class Resp(Answer):
    __slots__ = ("status", "headers", "body", "method", "path")

    def __init__(self, status, headers, body, method, path):
        self.status = status
        self.headers = headers  # lower-case name -> value (last one wins)
        self.body = body
        self.method = method
        self.path = path

    @property
    def url(self):
        return self.path

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        """Numbers with a fraction as exact Decimals (money is checked to the cent)."""
        return self.json_exact()

    def __repr__(self):
        return f"<{self.method} {self.path} -> {self.status} {self.body[:300]!r}>"


class Http:
    """One keep-alive HTTP/1.1 connection (reconnects by itself when the
    server closed it).  Every request has a timeout.  Connection errors are
    raised to the caller: for a change they mean "may or may not have
    happened"."""

    def __init__(self, port, timeout=REQUEST_TIMEOUT):
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def close(self):
        try:
            self.conn.close()
        except OSError:
            pass

    def request(self, method, path, user=None, body=None, headers=None):
        self.send(method, path, user, body, headers)
        return self.recv(method, path)

    def send(self, method, path, user=None, body=None, headers=None):
        """Sends a request without reading the answer (recv reads it): lets a
        caller have requests on several connections in flight at once.  body:
        bytes or str as they are, anything else as JSON."""
        hdrs = dict(headers or {})
        if user is not None:
            hdrs["X-User-Id"] = user
        data = None
        if body is not None:
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode("utf-8")
            else:
                data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=hdrs)
        except Exception:
            self.conn.close()
            raise

    def recv(self, method, path):
        try:
            r = self.conn.getresponse()
            payload = r.read()
        except Exception:
            self.conn.close()
            raise
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if r.will_close:
            self.conn.close()
        return Resp(r.status, hdrs, payload, method, path)

    def create(self, user, body, key=None):
        """POST /api/orders, with an Idempotency-Key when key is not None."""
        return self.request("POST", "/api/orders", user, body,
                            None if key is None else {"Idempotency-Key": key})

    def get(self, user, oid):
        return self.request("GET", f"/api/orders/{oid}", user)

    def cancel(self, user, oid):
        return self.request("POST", f"/api/orders/{oid}/cancel", user)

    def total(self, user):
        """The number of orders of `user` (the list's total)."""
        r = self.request("GET", "/api/orders?limit=1", user)
        ensure(r.status == 200, f"list of {user}: expected 200, got {r!r}")
        return r.json()["total"]

    def list_all(self, user):
        """Every order of `user`, newest first, through pages of 100."""
        out, offset, total = [], 0, None
        while True:
            r = self.request("GET", f"/api/orders?limit=100&offset={offset}", user)
            ensure(r.status == 200, f"list of {user}: expected 200, got {r!r}")
            doc = r.json()
            page = doc["orders"]
            if total is None:
                total = doc["total"]
            out.extend(page)
            offset += len(page)
            if len(page) < 100:
                break
        ensure_eq(len(out), total, f"list of {user}: orders listed vs. total")
        return out


# --------------------------------------------------------------------------
# Shared checks: problem documents (either client's responses)
# --------------------------------------------------------------------------

PROBLEM_SLUGS = {
    400: "malformed-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    403: "forbidden",
    409: "invalid-transition",
    410: "gone",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
    507: "insufficient-storage",
}


def check_problem(resp, status):
    """An RFC 9457 problem document with this status: the media type, the
    members type (urn:orderd:problem:SLUG), title, status and detail.
    Returns the parsed document."""
    ensure(resp.status == status, f"expected status {status}, got {resp!r}")
    ensure(resp.media_type() == "application/problem+json",
           f"expected content-type application/problem+json, got {resp.header('content-type')!r}"
           f" for {resp!r}")
    doc = resp.json()
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


def expect(resp, status):
    """Asserts the status and the contract's content type; for errors the
    RFC 9457 problem document.  Returns the parsed body (None for HEAD)."""
    ensure(resp.status == status, f"expected status {status}, got {resp!r}")
    want_mt = "application/problem+json" if status >= 400 else "application/json"
    ensure(resp.media_type() == want_mt,
           f"expected content-type {want_mt}, got {resp.header('content-type')!r} for {resp!r}")
    if resp.method == "HEAD":
        ensure(resp.body == b"", f"HEAD response carries a body: {resp!r}")
        return None
    if status >= 400:
        return check_problem(resp, status)
    return resp.json()


def check_unavailable(resp):
    """503: a problem document with a Retry-After header."""
    check_problem(resp, 503)
    ensure(resp.header("retry-after") is not None, f"503 without a Retry-After header: {resp.headers}")


# --------------------------------------------------------------------------
# Shared checks: orders with exact money, and what comes back for them
# --------------------------------------------------------------------------

def encode_body(items, tag):
    # Decimals written exactly: json cannot, so build the items by hand.
    parts = []
    for it in items:
        parts.append('{"product_id":%s,"quantity":%d,"price":%s}'
                     % (json.dumps(it["product_id"]), it["quantity"], format(it["price"], "f")))
    return ('{"items":[%s],"shipping_address":%s,"payment_method":"card"}'
            % (",".join(parts), json.dumps(f"{tag} Main St"))).encode()


def new_order(rng, tag):
    """Returns (request body bytes, expectation dict)."""
    items, cents = [], 0
    for i in range(rng.randint(1, 3)):
        q = rng.randint(1, 9)
        p = rng.randint(0, 99999)  # cents
        cents += q * p
        items.append({"product_id": f"{tag}.{i}", "quantity": q, "price": Decimal(p) / 100})
    return encode_body(items, tag), {"tag": tag, "items": items, "cents": cents}


def order_tag(order):
    """The tag of an order made by new_order (None when it has none)."""
    try:
        pid = order["items"][0]["product_id"]
    except (KeyError, IndexError, TypeError):
        return None
    return pid.rsplit(".", 1)[0] if "." in pid else None


def check_order_as_sent(order, user, exp, what):
    """The order as new_order sent it: user, items, total (exact cents), shipping address."""
    ensure(isinstance(order, dict), f"{what}: order is not an object: {order!r}")
    ensure_eq(order.get("user_id"), user, f"{what}: user_id")
    got_items = [(it.get("product_id"), it.get("quantity"), Decimal(str(it.get("price"))))
                 for it in order.get("items", [])]
    want_items = [(it["product_id"], it["quantity"], it["price"]) for it in exp["items"]]
    ensure_eq(got_items, want_items, f"{what}: items")
    ensure_eq(Decimal(str(order.get("total"))) * 100, Decimal(exp["cents"]), f"{what}: total x 100")
    ensure_eq(order.get("shipping_address"), f"{exp['tag']} Main St", f"{what}: shipping_address")


def check_created(resp, user, exp):
    """A 201 answer (of the raw client) to new_order's body: returns the order."""
    ensure(resp.status == 201, f"create: expected 201, got {resp!r}")
    o = resp.json()
    check_order_as_sent(o, user, exp, "create answer")
    ensure_eq(o.get("status"), "pending", "create answer: status")
    ensure_eq(o.get("version"), 1, "create answer: version")
    ensure_eq(resp.header("location"), f"/api/orders/{o.get('id')}", "create answer: Location")
    return o


# --------------------------------------------------------------------------
# Server fixture
# --------------------------------------------------------------------------

def make_cert(directory, name):
    """A self-signed P-256 certificate for 127.0.0.1 with `openssl req`: (cert path, key path)."""
    cert, key = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    proc = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                           "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
                           "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True)
    ensure(proc.returncode == 0, f"openssl req failed: {proc.stderr.decode(errors='replace')}")
    return cert, key


LISTEN_RE = re.compile(r"^listening on http://127\.0\.0\.1:(\d+)\s*$")
# A line of orderd's log on stderr (--log-format text): RFC 3339 UTC time with
# milliseconds, level, message. Server.lines keeps the messages.
LOG_LINE_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (INFO|WARN|ERROR) (.*)$")
# Test hooks of the server; never inherited from the caller's environment, only set through env=.
FAULT_ENV = ("ORDERD_FAULT_POINT", "ORDERD_FAULT_PAUSE")


class Server:
    """The real orderd binary on 127.0.0.1:0 (the kernel picks the port).

    data_dir: kept across restarts (again() makes a fixture for the same
    binary, arguments and directory); None: a fresh one under workdir.
    args: extra command-line arguments; env: extra environment variables.
    Every stderr line is kept (a thread drains the pipe): `raw_lines` as
    written, `lines` with a log line's time and level taken off (a line that
    is not a text-format log line is kept whole in both)."""

    def __init__(self, binary, data_dir=None, args=(), *, workdir=None, env=None, threads=2, name="orderd"):
        self.binary = binary
        self.name = name
        if data_dir is None:
            data_dir = tempfile.mkdtemp(prefix=f"{name}-data-", dir=workdir)
        self.data_dir = data_dir
        self.extra_args = list(args)
        self.threads = threads
        self.env_extra = dict(env or {})
        self.argv = [binary, "--listen", "127.0.0.1:0", "--threads", str(threads), "--data-dir", data_dir,
                     *self.extra_args]
        self.env = {k: v for k, v in os.environ.items() if k not in FAULT_ENV}
        self.env.update(self.env_extra)
        self.proc = None
        self.port = None
        self.term_sent = False         # did this fixture send SIGTERM?
        self.terminate_seconds = None  # how long the last terminate() waited
        self.lines = []
        self.raw_lines = []
        self._drainer = None

    def again(self, name=None):
        """A new (unstarted) fixture: the same binary, arguments, environment and data directory."""
        return Server(self.binary, self.data_dir, self.extra_args, env=self.env_extra, threads=self.threads,
                      name=name or self.name)

    def start(self, timeout=20.0, expect_listen=True):
        """Starts the binary; with expect_listen, waits for the listening line
        (raises TestFailure if it exits or stays silent).  Returns self."""
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=self.env)
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        if not expect_listen:
            return self
        if self.wait_listen(timeout) is None:
            rc = self.proc.poll()
            if rc is None:
                self.kill9()
            else:
                self._drainer.join(2)
            raise TestFailure(f"{self.name} did not log 'listening on http://127.0.0.1:PORT' "
                              f"(exit status {rc}); stderr:\n        {self.tail(20)}")
        return self

    def wait_listen(self, timeout):
        """Waits for the listening line; returns the port (None when the
        process ended or timeout passed first)."""
        line = self.wait_line(LISTEN_RE, timeout)
        if line is None:
            return None
        self.port = int(LISTEN_RE.match(line).group(1))
        return self.port

    def _drain(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            m = LOG_LINE_RE.match(line)
            self.raw_lines.append(line)
            self.lines.append(m.group(3) if m else line)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def http(self, timeout=REQUEST_TIMEOUT):
        return Http(self.port, timeout=timeout)

    def stderr_text(self):
        return "\n".join(self.lines)

    def tail(self, n=15):
        """The last lines of stderr, for failure messages."""
        text = "\n        ".join(self.lines[-n:])
        if not self.term_sent and any("SIGTERM received" in ln for ln in self.lines):
            text += ("\n      NOTE: this test sent that server no SIGTERM: another process on this machine "
                     "signalled it (e.g. a `pkill orderd`); rerun")
        return text

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        """SIGKILL (when still running) and wait; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        if self._drainer is not None:
            self._drainer.join(5)
        return self.proc.returncode

    def terminate(self, timeout=10.0):
        """SIGTERM; returns the exit status (None when it did not exit within
        timeout: then it is killed).  terminate_seconds says how long it took."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.term_sent = True
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        self.terminate_seconds = time.monotonic() - t0
        if rc is None:
            self.kill9()
            return None
        self._drainer.join(5)
        return rc

    def wait_exit(self, timeout):
        """The exit status, or None when it is still running after timeout."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._drainer.join(5)
        return rc

    def wait_line(self, regex, timeout):
        """Waits for a stderr line matching regex (searched in all lines so
        far); None when the process ended or timeout passed first."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            finished = self.proc.poll() is not None and not self._drainer.is_alive()
            for ln in list(self.lines):
                if rx.search(ln):
                    return ln
            if finished or time.monotonic() > deadline:
                return None
            time.sleep(0.02)


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


class TempDir:
    """A directory under /tmp removed on exit (unless keep)."""

    def __init__(self, prefix, keep=False):
        self.path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        self.keep = keep

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)
        return False


# --------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------

class Runner:
    """Runs tests and tallies passed, failed and skipped apart.  A test
    passes when it returns (a returned string is printed after its name),
    fails on TestFailure or any other exception, and skips on SkipTest:
    `SKIP name: reason`, never counted as passed."""

    def __init__(self, verbose=False):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failed_names = []
        self.verbose = verbose
        self._lock = threading.Lock()

    def run(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            note = fn(*args)
        except SkipTest as e:
            self.skip(name, str(e))
        except TestFailure as e:
            self.fail(name, str(e), time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001 - a crash in a test is a failure
            detail = f"{type(e).__name__}: {e}"
            if self.verbose or not isinstance(e, CurlError):
                detail += "\n" + "".join(traceback.format_exc(limit=8))
            self.fail(name, detail, time.monotonic() - t0)
        else:
            extra = f" {note}" if isinstance(note, str) and note else ""
            with self._lock:
                self.passed += 1
                print(f"ok    {name} ({time.monotonic() - t0:.2f}s){extra}", flush=True)

    def fail(self, name, detail, seconds=0.0):
        """Records a failure (also one found outside a test, e.g. a missing binary)."""
        detail = detail.rstrip("\n").replace("\n", "\n      ")
        with self._lock:
            self.failed += 1
            self.failed_names.append(name)
            print(f"FAIL  {name} ({seconds:.2f}s)\n      {detail}", flush=True)

    def skip(self, name, reason):
        with self._lock:
            self.skipped += 1
            print(f"SKIP {name}: {reason}", flush=True)

    def exit_status(self):
        """1 on any failure; 77 when nothing passed (every test skipped, or none ran); else 0."""
        if self.failed:
            return 1
        if self.passed == 0:
            return SKIP_EXIT
        return 0

    def finish(self):
        """Prints the failed tests and the closing line; returns the exit status."""
        if self.failed_names:
            print("\nfailed:\n  " + "\n  ".join(self.failed_names), flush=True)
        print(f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped", flush=True)
        return self.exit_status()


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


def start_servers(runner, *servers):
    """Starts each fixture; False (and a recorded failure) when one does not start."""
    for srv in servers:
        try:
            srv.start()
        except Exception as e:  # noqa: BLE001 - reported as the suite's failure
            runner.fail(f"{srv.name} starts", f"{type(e).__name__}: {e}")
            return False
    return True


def require_executable(runner, path, what="orderd binary"):
    """False (and a recorded failure) unless path is an executable file."""
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return True
    runner.fail(f"{what} is executable", f"{path} is not an executable file")
    return False


def suite_start(doc, sanitized=False):
    """The start of a suite's main(): --orderd BINARY (and, with sanitized,
    --sanitized: the suite measures but does not hold a sanitizer build to
    its limits) parsed with the first paragraph of `doc` as description, and
    a Runner. Returns (args, runner, binary's absolute path), the path None
    (and the failure recorded) when it is not an executable file."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    if sanitized:
        ap.add_argument("--sanitized", action="store_true", help="do not hold memory and latency to the limits")
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    return args, runner, binary if require_executable(runner, binary) else None



class Registry:
    """A suite's tests: `per_protocol` ones run once per protocol (fn(ctx,
    proto)), `once` ones a single time (fn(ctx)); run() runs them through
    run_registered."""

    def __init__(self):
        self.protocol_tests, self.global_tests = [], []

    def per_protocol(self, fn):
        self.protocol_tests.append(fn)
        return fn

    def once(self, fn):
        self.global_tests.append(fn)
        return fn

    def run(self, runner, ctx, protocols, pattern):
        run_registered(runner, ctx, self.protocol_tests, self.global_tests, protocols, pattern)


def run_suite(doc, registry, protocols, make_ctx, contract=None, prefix="orderd-suite-"):
    """The main() of a suite on one shared server: parses --orderd, -k
    SUBSTRING, -p PROTOCOL (repeatable, among `protocols`) and -v; starts the
    server in a TempDir, runs the registry with make_ctx(binary, workdir,
    server), checks that SIGTERM exits 0, prints the contract's count and the
    time. contract: an OpenAPIChecker installed as CONTRACT (its note(), when
    it has one, is a SKIP line naming the checks it could not make). Returns
    the exit status."""
    global CONTRACT
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orderd", required=True)
    ap.add_argument("-k", dest="pattern", default="")
    ap.add_argument("-p", "--protocol", action="append", choices=protocols)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    binary = os.path.abspath(args.orderd)
    runner = Runner(verbose=args.verbose)
    CONTRACT = contract
    if not require_executable(runner, binary):
        return runner.finish()
    t0 = time.monotonic()
    with TempDir(prefix) as workdir:
        server = Server(binary, workdir=workdir, name="orderd")
        try:
            if not start_servers(runner, server):
                return runner.finish()
            registry.run(runner, make_ctx(binary, workdir, server), args.protocol or list(protocols), args.pattern)
            runner.run("server_sigterm_exit_0", lambda: ensure_eq(server.terminate(5.0), 0, "exit status"))
        finally:
            server.kill9()
    if contract is not None:
        note = getattr(contract, "note", lambda: None)()
        if note:
            runner.skip("openapi_schema_checks", f"docs/openapi.yaml cannot check these yet: {note}")
        print(f"\n{contract.checked} response bodies checked against docs/openapi.yaml")
    print(f"suite took {time.monotonic() - t0:.1f} s")
    return runner.finish()


class Suite(Registry):
    """A Registry with its main(): run_suite over every protocol, every
    response body checked against docs/openapi.yaml (operator_test.py)."""

    def __init__(self, doc):
        super().__init__()
        self.doc = doc

    def main(self, make_ctx, tmp_prefix):
        from openapi_check import OpenAPIChecker  # the contract checker sits next to this file

        return run_suite(self.doc, self, list(ALL_PROTOCOLS), make_ctx, OpenAPIChecker(), tmp_prefix)
