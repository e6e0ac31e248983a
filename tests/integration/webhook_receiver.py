"""A webhook receiver for the suites (tests/integration/webhook_test.py):
python http.server on 127.0.0.1, threaded, checking every request's
orderd-signature (docs/webhooks.md) with the secret and its
orderd-event-id against the body, and answering as the test says."""
import hashlib
import hmac
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from orderd_harness import ensure

# The secret the suites give orderd with --webhook-secret-file.
DEFAULT_SECRET = "test-webhook-secret-0123456789abcdef"


class Receiver:
    """A webhook endpoint on 127.0.0.1. behave(event, attempt) says what to
    do with an event's attempt number `attempt` (1, 2, ...): an HTTP status,
    or ("sleep", seconds, status). Every request is checked; problems go to
    `bad`. `log` has (event, attempt, status) for every attempt, in arrival
    order (orderd sends one at a time per endpoint)."""

    def __init__(self, secret=DEFAULT_SECRET, port=0, behave=None):
        self.secret = secret.encode()
        self.lock = threading.Lock()
        self.log = []
        self.attempts = {}
        self.bad = []
        self.behave = behave or (lambda ev, n: 200)
        recv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: orderd reuses its connection

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                status = recv._take(self.headers, body)
                delay = 0
                if isinstance(status, tuple):
                    _, delay, status = status
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # orderd gave up waiting

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def _check(self, headers, body):
        """The request's problems, as text (empty: none)."""
        probs = []
        if headers.get("Content-Type") != "application/json":
            probs.append(f"Content-Type {headers.get('Content-Type')!r}")
        if not (headers.get("User-Agent") or "").startswith("orderd/"):
            probs.append(f"User-Agent {headers.get('User-Agent')!r}")
        sig = headers.get("orderd-signature") or ""
        parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
        try:
            t = int(parts.get("t", ""))
        except ValueError:
            t = None
        want = hmac.new(self.secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        if t is None or not hmac.compare_digest(parts.get("v1", ""), want):
            probs.append(f"bad signature {sig!r}")
        elif abs(time.time() - t) > 300:
            probs.append(f"signature time {t} is far from now")
        return probs

    def _take(self, headers, body):
        try:
            ev = json.loads(body, parse_float=Decimal)  # amounts exactly, as the API's answers read
        except ValueError:
            with self.lock:
                self.bad.append(f"not JSON: {body[:200]!r}")
            return 400
        probs = self._check(headers, body)
        if headers.get("orderd-event-id") != ev.get("id") or ev.get("id") != f"{ev.get('node')}-{ev.get('seq')}":
            probs.append(f"orderd-event-id {headers.get('orderd-event-id')!r} for event id {ev.get('id')!r}")
        with self.lock:
            if probs:
                self.bad.append(f"event {ev.get('id')}: " + "; ".join(probs))
            n = self.attempts[ev["id"]] = self.attempts.get(ev["id"], 0) + 1
        status = self.behave(ev, n)
        final = status[2] if isinstance(status, tuple) else status
        with self.lock:
            self.log.append((ev, n, final))
        return status

    def delivered(self):
        """The events answered 2xx, in arrival order."""
        with self.lock:
            return [ev for ev, _, st in self.log if 200 <= st < 300]

    def attempts_of(self, eid):
        with self.lock:
            return self.attempts.get(eid, 0)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def ensure_clean(self):
        with self.lock:
            ensure(not self.bad, "the receiver saw bad requests:\n        " + "\n        ".join(self.bad[:10]))
