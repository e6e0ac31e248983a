"""Helpers for the orderd durability suite (durability_test.py): a keep-alive
HTTP client on http.client, a process fixture around the real binary that
keeps a given data directory across restarts, the journal tool, order bodies
with exact money, and a tiny runner with a skipped tally.

Python 3.11 standard library only."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import traceback
from decimal import Decimal

LISTEN_RE = re.compile(r"^orderd: listening on http://127\.0\.0\.1:(\d+)\s*$")
REPLAY_RE = re.compile(r"^orderd: replayed (\d+) records \(snapshot at record (\d+)(?: with \d+ orders)?\), (\d+) orders, "
                       r"(\d+) bytes in ([0-9.]+) ms")
TORN_RE = re.compile(r"^orderd: journal (\S+): torn tail of (\d+) bytes at offset (\d+) dropped")
SNAPSHOT_RE = re.compile(r"^orderd: snapshot (\S+): (\d+) orders")
FAULT_EXIT = 86

REQUEST_TIMEOUT = 10.0


class TestFailure(AssertionError):
    """A failed expectation (the message says what was expected and got)."""


class SkipTest(Exception):
    """The test cannot run here (the message says why)."""


def ensure(cond, msg):
    if not cond:
        raise TestFailure(msg)


def ensure_eq(got, want, what):
    if got != want:
        raise TestFailure(f"{what}: expected {want!r}, got {got!r}")


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

class Resp:
    __slots__ = ("status", "headers", "body", "method", "path")

    def __init__(self, status, headers, body, method, path):
        self.status = status
        self.headers = headers  # lower-case name -> value (last one wins)
        self.body = body
        self.method = method
        self.path = path

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"), parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TestFailure(f"{self.method} {self.path}: body is not JSON ({e}): {self.body[:300]!r}") from None

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

    def request(self, method, path, user=None, body=None):
        self.send(method, path, user, body)
        return self.recv(method, path)

    def send(self, method, path, user=None, body=None):
        """Sends a request without reading the answer (recv reads it): lets a
        caller have requests on several connections in flight at once."""
        headers = {}
        if user is not None:
            headers["X-User-Id"] = user
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
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

    def create(self, user, body):
        return self.request("POST", "/api/orders", user, body)

    def get(self, user, oid):
        return self.request("GET", f"/api/orders/{oid}", user)

    def cancel(self, user, oid):
        return self.request("POST", f"/api/orders/{oid}/cancel", user)

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


def wait_http(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = Http(port, timeout=2).request("GET", "/healthz")
            if r.status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TestFailure(f"/healthz on port {port} does not answer 200")
        time.sleep(0.05)


# --------------------------------------------------------------------------
# Orders: bodies with exact money, checks of what comes back
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


def check_order(order, user, exp, what):
    """The order as sent: user, items, total (exact cents), shipping address."""
    ensure(isinstance(order, dict), f"{what}: order is not an object: {order!r}")
    ensure_eq(order.get("user_id"), user, f"{what}: user_id")
    got_items = [(it.get("product_id"), it.get("quantity"), Decimal(str(it.get("price"))))
                 for it in order.get("items", [])]
    want_items = [(it["product_id"], it["quantity"], it["price"]) for it in exp["items"]]
    ensure_eq(got_items, want_items, f"{what}: items")
    ensure_eq(Decimal(str(order.get("total"))) * 100, Decimal(exp["cents"]), f"{what}: total x 100")
    ensure_eq(order.get("shipping_address"), f"{exp['tag']} Main St", f"{what}: shipping_address")


def check_created(resp, user, exp):
    """A 201 answer to new_order's body: returns the order."""
    ensure(resp.status == 201, f"create: expected 201, got {resp!r}")
    o = resp.json()
    check_order(o, user, exp, "create answer")
    ensure_eq(o.get("status"), "pending", "create answer: status")
    ensure_eq(o.get("version"), 1, "create answer: version")
    ensure_eq(resp.headers.get("location"), f"/api/orders/{o.get('id')}", "create answer: Location")
    return o


def check_unavailable(resp):
    ensure(resp.status == 503, f"expected 503, got {resp!r}")
    ensure((resp.headers.get("content-type") or "").split(";")[0].strip() == "application/problem+json",
           f"503 is not application/problem+json: {resp.headers.get('content-type')!r}")
    ensure(resp.headers.get("retry-after") is not None, f"503 without a Retry-After header: {resp.headers}")
    doc = resp.json()
    ensure_eq(doc.get("status"), 503, "503 problem: status")
    for k in ("type", "title", "detail"):
        ensure(isinstance(doc.get(k), str) and doc[k], f"503 problem lacks {k!r}: {doc!r}")


# --------------------------------------------------------------------------
# The server process on a data directory kept across restarts
# --------------------------------------------------------------------------

class Orderd:
    def __init__(self, binary, data_dir, args=(), env_extra=None, threads=2, name="orderd"):
        self.binary = binary
        self.data_dir = data_dir
        self.argv = [binary, "--listen", "127.0.0.1:0", "--threads", str(threads), "--data-dir", data_dir,
                     *args]
        self.env = dict(os.environ)
        self.env.pop("ORDERD_FAULT_POINT", None)
        if env_extra:
            self.env.update(env_extra)
        self.name = name
        self.proc = None
        self.port = None
        self.term_sent = False  # did this fixture send SIGTERM?
        self.lines = []
        self._q = queue.Queue()
        self._drainer = None

    def start(self, timeout=20.0, expect_listen=True):
        """Starts the binary; with expect_listen, waits for the listening line
        (raises TestFailure if it exits first).  Returns self."""
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=self.env)
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        if not expect_listen:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            m = LISTEN_RE.match(line)
            if m:
                self.port = int(m.group(1))
                return self
        rc = self.proc.poll()
        if rc is None:
            self.kill9()
        else:
            self._drainer.join(2)
        raise TestFailure(f"{self.name} did not start listening (exit status {rc}); "
                          f"stderr:\n        " + "\n        ".join(self.lines[-20:]))

    def _drain(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.lines.append(line)
            self._q.put(line)
        self._q.put(None)

    def stderr(self):
        return "\n".join(self.lines)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
            if self._drainer is not None:
                self._drainer.join(5)
        return self.proc.returncode if self.proc else None

    def terminate(self, timeout=10.0):
        """SIGTERM; returns the exit status (None when it did not exit in time: then it is killed)."""
        if self.proc.poll() is None:
            self.term_sent = True
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None
        self._drainer.join(5)
        return rc

    def wait_exit(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._drainer.join(5)
        return rc

    def wait_line(self, regex, timeout):
        """Waits for a stderr line matching regex (searched in all lines so far)."""
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

    def http(self, timeout=REQUEST_TIMEOUT):
        return Http(self.port, timeout=timeout)

    def replay_line(self):
        for ln in self.lines:
            m = REPLAY_RE.match(ln)
            if m:
                return m
        return None


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


def snapshots(data_dir):
    return sorted(f for f in os.listdir(data_dir) if re.fullmatch(r"snapshot-[0-9a-f]{16}\.snap", f))


# --------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------

class Runner:
    def __init__(self, verbose=False):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failed_names = []
        self.verbose = verbose

    def run(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            note = fn(*args)
        except SkipTest as e:
            self.passed += 1
            self.skipped += 1
            print(f"ok    {name} ({time.monotonic() - t0:.2f}s) SKIP: {e}", flush=True)
        except TestFailure as e:
            self._fail(name, t0, str(e))
        except Exception as e:  # noqa: BLE001 - a crash in a test is a failure
            self._fail(name, t0, f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exc(limit=8)))
        else:
            self.passed += 1
            extra = f" {note}" if note else ""
            print(f"ok    {name} ({time.monotonic() - t0:.2f}s){extra}", flush=True)

    def _fail(self, name, t0, detail):
        self.failed += 1
        self.failed_names.append(name)
        detail = detail.replace("\n", "\n      ")
        print(f"FAIL  {name} ({time.monotonic() - t0:.2f}s)\n      {detail}", flush=True)


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
