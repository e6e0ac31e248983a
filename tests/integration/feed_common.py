"""What feed_test.py's tests share: the operator's Feed over HTTP/1.1 (pages,
every event after a record), an SSE reader over HTTP/1.1 (http.client,
chunked) or h2c (curl -N), and the checks of one event. Python 3.11
standard library, the harness and the contract checker only."""

from __future__ import annotations

import http.client
import json
import queue
import re
import socket
import subprocess
import threading
import time
from decimal import Decimal

from openapi_check import OpenAPIChecker
from ops_common import read_token
from orderd_harness import ensure, ensure_eq

EVENTS = "/api/admin/events"
CONTRACT = OpenAPIChecker()
AT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TYPES = {"order.created", "order.status_changed", "order.edited", "order.lines_cancelled",
         "order.shipment_created", "order.shipment_delivered", "order.return_requested",
         "order.return_approved", "order.return_rejected", "order.return_received", "order.refunded"}
# OPERATIONS' labels -> the event each makes
OP_TYPES = {"edit": "order.edited", "cancel": "order.lines_cancelled", "processing": "order.status_changed",
            "opcancel": "order.lines_cancelled", "ship1": "order.shipment_created",
            "deliver1": "order.shipment_delivered", "ship2": "order.shipment_created",
            "deliver2": "order.shipment_delivered", "return1": "order.return_requested",
            "approve": "order.return_approved", "received": "order.return_received",
            "return2": "order.return_requested", "reject": "order.return_rejected",
            "refund_lines": "order.refunded", "refund_amount": "order.refunded"}
CONN_ERRORS = (OSError, http.client.HTTPException)


def exact(body):
    return json.loads(body, parse_float=Decimal)


class Feed:
    """The operator's view of one server's feed over one keep-alive HTTP/1.1 connection."""

    def __init__(self, server, timeout=20):
        self.server = server
        self.token = read_token(server)
        self.h = server.http(timeout=timeout)

    def auth(self, extra=None):
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, query="", headers=None):
        path = EVENTS + (f"?{query}" if query else "")
        r = self.h.request("GET", path, headers=self.auth(headers))
        CONTRACT.check("GET", path, r.status, r.header("content-type"), r.body)
        return r

    def page(self, query=""):
        r = self.get(query)
        ensure(r.status == 200, f"GET {EVENTS}?{query}: expected 200, got {r!r}")
        return exact(r.body)

    def all_after(self, after, limit=1000):
        """Every event after `after` (pages of `limit`), and the last next_after."""
        out = []
        while True:
            doc = self.page(f"after={after}&limit={limit}")
            ensure(doc["next_after"] >= after, f"next_after {doc['next_after']} went back from {after}")
            out += doc["events"]
            after = doc["next_after"]
            if not doc["events"]:
                return out, after

    def head(self):
        """The durable sequence now (where a new consumer starts)."""
        return self.page("limit=1")["durable_seq"]


def check_event(ev, node=None):
    for k in ("id", "seq", "node", "type", "order_id", "user_id", "status", "version", "actor", "at", "order"):
        ensure(k in ev, f"event lacks {k!r}: {ev}")
    ensure_eq(ev["id"], f"{ev['node']}-{ev['seq']}", "event id is node-seq")
    ensure(ev["type"] in TYPES, f"unknown event type {ev['type']!r}")
    ensure(ev["actor"] in ("user", "operator"), f"actor {ev['actor']!r}")
    ensure(AT_RE.match(ev["at"]), f"at {ev['at']!r} is not RFC 3339 UTC with milliseconds")
    o = ev["order"]
    ensure_eq((o["id"], o["user_id"], o["status"], o["version"]),
              (ev["order_id"], ev["user_id"], ev["status"], ev["version"]), "event members vs. its order")
    if node is not None:
        ensure_eq(ev["node"], node, "node")


def check_increasing(events, after=0):
    last = after
    for ev in events:
        ensure(ev["seq"] > last, f"seq {ev['seq']} after {last}: not strictly increasing")
        last = ev["seq"]


# --------------------------------------------------------------------------
# SSE clients: HTTP/1.1 on http.client (chunked), h2c on curl
# --------------------------------------------------------------------------

class SSE:
    """One text/event-stream response; frames() parses it as it arrives."""

    def __init__(self, server, proto, after=None, last_id=None, token=None):
        token = token or read_token(server)
        path = EVENTS + (f"?after={after}" if after is not None else "")
        hdrs = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_id is not None:
            hdrs["Last-Event-ID"] = str(last_id)
        self.q = queue.Queue()
        self.proto = proto
        if proto == "http1.1":
            self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            self.conn.request("GET", path, headers=hdrs)
            self.resp = self.conn.getresponse()
            self.status = self.resp.status
            self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
            self.version = "1.1"
            reader = self.resp.readline
        else:
            cmd = ["curl", "-q", "-sS", "-N", "--http2-prior-knowledge", "-D", "-", "--max-time", "40"]
            for k, v in hdrs.items():
                cmd += ["-H", f"{k}: {v}"]
            self.proc = subprocess.Popen(cmd + [f"{server.base_url}{path}"], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL)
            status = self.proc.stdout.readline().decode()
            self.version, self.status = status.split()[0].split("/")[1], int(status.split()[1])
            self.headers = {}
            while True:
                ln = self.proc.stdout.readline().decode().strip()
                if not ln:
                    break
                k, _, v = ln.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            reader = self.proc.stdout.readline
        self.body_first = b""
        if self.status != 200:
            self.body_first = self.resp.read() if proto == "http1.1" else self.proc.stdout.read()
            self.close()
            return
        threading.Thread(target=self._read, args=(reader,), daemon=True).start()

    def _read(self, readline):
        frame = {}
        try:
            while True:
                ln = readline()
                if not ln:
                    break
                ln = ln.decode().rstrip("\n")
                if ln == "":
                    if frame:
                        self.q.put(frame)
                    frame = {}
                elif ln.startswith(":"):
                    self.q.put({"comment": ln[1:].strip()})
                else:
                    k, _, v = ln.partition(":")
                    frame[k] = v[1:] if v.startswith(" ") else v
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass
        self.q.put(None)  # the end of the stream

    def next(self, timeout):
        """The next frame (a dict), or None at the end of the stream; raises queue.Empty."""
        return self.q.get(timeout=timeout)

    def events(self, n, timeout=10):
        """The next n event frames as (seq, type, parsed data), comments skipped."""
        out, deadline = [], time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            ensure(left > 0, f"{self.proto}: {len(out)} of {n} events came within {timeout} s")
            try:
                f = self.next(left)
            except queue.Empty:
                continue
            ensure(f is not None, f"{self.proto}: the stream ended after {len(out)} of {n} events")
            if "comment" in f:
                continue
            ensure("\n" not in f.get("data", ""), "one data line per event")
            doc = exact(f["data"])
            ensure_eq(f.get("id"), str(doc["seq"]), "id: is the event's seq")
            ensure_eq(f.get("event"), doc["type"], "event: is the event's type")
            out.append(doc)
        return out

    def close(self):
        if self.proto == "http1.1":
            try:
                self.conn.sock and self.conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.conn.close()
        elif self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
