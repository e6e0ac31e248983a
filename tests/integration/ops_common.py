"""What the suites of the operations after checkout (operations_test.py,
operations_model_test.py) share: the suite context, a customer's
and the operator's requests (Ops), exact money, the checks of a 409 and a
422, and every operation once (OPERATIONS).  Python 3.11 standard library
and the harness only."""

from __future__ import annotations

import json
import os
import threading
from decimal import Decimal

from orderd_harness import Client, ensure, ensure_eq, expect

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

class Ctx:
    def __init__(self, binary, workdir, server):
        self.binary, self.workdir, self.server = binary, workdir, server
        self._n = 0
        self._lock = threading.Lock()
        self.token = read_token(server)

    def client(self, proto, server=None):
        return Client((server or self.server).base_url, proto, self.workdir)

    def user(self, tag, proto="x"):
        with self._lock:
            self._n += 1
            return f"{tag}.{self._n}.{proto}"


def read_token(server):
    with open(os.path.join(server.data_dir, "operator-token")) as f:
        return f.read().strip()


def order_body(items, address="1 Main St"):
    """items: (product_id, quantity, price text) — the price is sent as written."""
    parts = ",".join('{"product_id":%s,"quantity":%d,"price":%s}' % (json.dumps(p), q, price)
                     for p, q, price in items)
    return '{"items":[%s],"shipping_address":%s,"payment_method":"card"}' % (parts, json.dumps(address))


STD_ITEMS = [("sku-a", 3, "2.50"), ("sku-b", 2, "10.00")]  # 7.50 + 20.00 = 27.50


class Ops:
    """One client's view of one server, as customer `user` and as the operator."""

    def __init__(self, c, token, user):
        self.c, self.token, self.user = c, token, user

    def create(self, items=STD_ITEMS, headers=()):
        return expect(self.c.request("POST", "/api/orders", user=self.user, body=order_body(items),
                                     headers=list(headers)), 201)

    def get(self, oid):
        return expect(self.c.request("GET", f"/api/orders/{oid}", user=self.user), 200)

    def events(self, oid):
        return expect(self.c.request("GET", f"/api/orders/{oid}/events", user=self.user), 200)["events"]

    def customer(self, oid, suffix, body=None, headers=(), user=None):
        raw = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        return self.c.request("POST", f"/api/orders/{oid}{suffix}", user=user or self.user, body=raw,
                              headers=list(headers))

    def operator(self, oid, suffix, body=None, headers=()):
        raw = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        return self.c.request("POST", f"/api/orders/{oid}{suffix}", body=raw,
                              headers=[f"Authorization: Bearer {self.token}"] + list(headers))

    def edit(self, oid, ops, query="", headers=()):
        return self.customer(oid, f"/edit{query}", {"operations": ops}, headers)

    def status(self, oid, status, headers=()):
        return self.operator(oid, "/status", {"status": status}, headers)

    def processing(self, oid):
        return expect(self.status(oid, "processing"), 200)

    def delivered_order(self, items=STD_ITEMS):
        """An order taken to delivered through the status endpoint; returns it."""
        oid = self.create(items)["id"]
        self.processing(oid)
        expect(self.status(oid, "shipped"), 200)
        return expect(self.status(oid, "delivered"), 200)



def m(v):
    """A money value of a response as an exact Decimal."""
    return Decimal(str(v))


def lines_of(order):
    return {it["line_id"]: it for it in order["items"]}


def conflict(resp, *words):
    """A 409 whose detail names every word (the current state, at least)."""
    doc = expect(resp, 409)
    for w in words:
        ensure(w in doc["detail"], f"409 detail should name {w!r}: {doc['detail']!r}")
    return doc


def invalid(resp, *fields):
    """A 422 naming exactly these fields (in any order)."""
    doc = expect(resp, 422)
    got = sorted(e["field"] for e in doc.get("errors", []))
    ensure_eq(got, sorted(fields), f"422 fields of {resp!r}")
    return doc


def data_sizes(server):
    """name -> size of every file in the server's data directory."""
    return {n: os.path.getsize(os.path.join(server.data_dir, n)) for n in sorted(os.listdir(server.data_dir))}


def check_total(order):
    """total = sum of price x (quantity - cancelled_quantity), and total_minor when present."""
    want = sum((m(it["price"]) * (it["quantity"] - it["cancelled_quantity"]) for it in order["items"]), Decimal(0))
    ensure_eq(m(order["total"]), want, f"total of order {order['id']}")
    if "total_minor" in order:
        ensure_eq(order["total_minor"], int(want * 100), "total_minor")




def raw_post(h, path, user, text):
    """POST of a body written by hand (exact number forms) over the fast client."""
    hdrs = {"Content-Type": "application/json"}
    if user is not None:
        hdrs["X-User-Id"] = user
    h.conn.request("POST", path, body=text.encode(), headers=hdrs)
    return h.recv("POST", path)


# Every operation once, in an order that makes each legal: (label, who, path
# suffix, body, status).  "c" is the customer, "o" the operator; the status
# endpoint takes no Idempotency-Key (docs/openapi.yaml: creates and cancels
# and the operations do), so "processing" has none.
OPERATIONS = [
    ("edit", "c", "/edit", {"operations": [{"op": "add_item", "product_id": "x", "quantity": 2, "price": 1.5},
                                           {"op": "set_quantity", "line_id": "l1", "quantity": 4}]}, 200),
    ("cancel", "c", "/cancel", {"lines": [{"line_id": "l3", "quantity": 1}]}, 200),
    ("processing", "o", "/status", {"status": "processing"}, 200),
    ("opcancel", "o", "/cancel", {"lines": [{"line_id": "l1", "quantity": 1}]}, 200),
    ("ship1", "o", "/shipments", {"lines": [{"line_id": "l1"}], "carrier": "DHL", "tracking_number": "T1",
                                  "tracking_url": "http://t.example/1"}, 201),
    ("deliver1", "o", "/shipments/s1/delivered", None, 200),
    ("ship2", "o", "/shipments", {}, 201),
    ("deliver2", "o", "/shipments/s2/delivered", None, 200),
    ("return1", "c", "/returns", {"lines": [{"line_id": "l1", "quantity": 2}], "reason": "r"}, 201),
    ("approve", "o", "/returns/r1/approve", None, 200),
    ("received", "o", "/returns/r1/received", None, 200),
    ("return2", "c", "/returns", {"lines": [{"line_id": "l2"}]}, 201),
    ("reject", "o", "/returns/r2/reject", None, 200),
    ("refund_lines", "o", "/refunds", {"lines": [{"line_id": "l2", "quantity": 1}]}, 201),
    ("refund_amount", "o", "/refunds", {"amount": 0.75}, 201),
]


def op_request(o, oid, label, who, suffix, body, want, tag):
    """One of OPERATIONS (want: its status, checked by the caller) with its key."""
    key = [] if label == "processing" else [f"Idempotency-Key: {tag}-{label}"]
    return (o.customer if who == "c" else o.operator)(oid, suffix, body, key)
