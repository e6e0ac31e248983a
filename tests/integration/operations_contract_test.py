#!/usr/bin/env python3
"""The operations after checkout against their contract: one order taken
through every operation (edit with dry run, partial cancel, shipments and
deliveries, returns approved, rejected and received, refunds) and every
refusal docs/order-operations.md names (409 naming the state, 422 naming
the field, 404, 400, 401, 403, 412, Idempotency-Key replays), with each
answer checked for what it must say and every response body validated
against docs/openapi.yaml.

Every test runs over HTTP/1.1, h2c with prior knowledge and h2c upgrade.

    python3 tests/integration/operations_contract_test.py --orderd build/orderd

Prints one line per test and finally exactly `N passed, N failed, N skipped`;
exits non-zero on any failure.  The harness is orderd_harness.py.
"""

from __future__ import annotations

import json
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import orderd_harness  # noqa: E402
from openapi_check import OpenAPIChecker  # noqa: E402
from orderd_harness import (  # noqa: E402
    ALL_PROTOCOLS, Client, Server, TempDir, ensure, ensure_eq, expect, run_registered, start_servers, suite_start,
)

# the README's order: l1 2 x 10.99, l2 1 x 19.99
BODY = json.dumps({"items": [{"product_id": "123", "quantity": 2, "price": 10.99},
                             {"product_id": "456", "quantity": 1, "price": 19.99}],
                   "shipping_address": "1 Main St", "payment_method": "card"})

PROTOCOL_TESTS = []


def per_protocol(fn):
    PROTOCOL_TESTS.append(fn)
    return fn


class Ctx:
    def __init__(self, workdir, server):
        self.workdir, self.server = workdir, server
        self._n = 0
        self._lock = threading.Lock()
        with open(os.path.join(server.data_dir, "operator-token")) as f:
            self.token = f.read().strip()

    def user(self, tag, proto):
        with self._lock:
            self._n += 1
            return f"{tag}.{self._n}.{proto}"


class Order:
    """One order and the two roles that act on it over one protocol."""

    def __init__(self, ctx, proto, tag):
        self.c = Client(ctx.server.base_url, proto, ctx.workdir)
        self.user = ctx.user(tag, proto)
        self.op = [f"Authorization: Bearer {ctx.token}"]
        self.id = expect(self.c.request("POST", "/api/orders", user=self.user, body=BODY), 201)["id"]

    def customer(self, path, body=None, want=200, headers=()):
        resp = self.c.request("POST", f"/api/orders/{self.id}{path}", user=self.user,
                              body=None if body is None else json.dumps(body), headers=list(headers))
        return resp, expect(resp, want)

    def operator(self, path, body=None, want=200, headers=()):
        resp = self.c.request("POST", f"/api/orders/{self.id}{path}",
                              body=None if body is None else json.dumps(body), headers=self.op + list(headers))
        return resp, expect(resp, want)

    def get(self):
        return expect(self.c.request("GET", f"/api/orders/{self.id}", user=self.user), 200)


def lines_of(doc):
    return {i["line_id"]: (i["quantity"], i["cancelled_quantity"], i["shipped_quantity"], i["returned_quantity"])
            for i in doc["items"]}


def conflict(resp_doc, *words):
    for w in words:
        ensure(w in resp_doc["detail"], f"409 detail {resp_doc['detail']!r} does not name {w!r}")


def fields(doc):
    return [e["field"] for e in doc.get("errors", [])]


@per_protocol
def test_lifecycle(ctx, proto):
    o = Order(ctx, proto, "life")
    # a dry run answers the edit's result and changes nothing
    step = {"operations": [{"op": "add_item", "product_id": "9", "quantity": 2, "price": 1.5},
                           {"op": "set_quantity", "line_id": "l1", "quantity": 3},
                           {"op": "set_shipping_address", "shipping_address": "2 Side St"}]}
    resp, doc = o.customer("/edit?dry_run=true", step)
    ensure(doc.get("preview") is True and resp.header("etag") is None, f"dry run: {resp!r}")
    ensure_eq((doc["total"], doc["version"]), (55.96, 2), "dry run's total and version")
    now = o.get()
    ensure_eq((now["total"], now["version"], now["shipping_address"]), (41.97, 1, "1 Main St"), "after a dry run")
    _, doc = o.customer("/edit", step, headers=['If-Match: "%s-1"' % o.id])
    ensure_eq((doc["total"], doc["version"], "preview" in doc), (55.96, 2, False), "edit")
    ensure_eq(lines_of(doc), {"l1": (3, 0, 0, 0), "l2": (1, 0, 0, 0), "l3": (2, 0, 0, 0)}, "lines after the edit")
    _, doc = o.customer("/edit", {"operations": [{"remove_item": {"line_id": "l2"}}]})
    ensure_eq((doc["total"], sorted(lines_of(doc))), (35.97, ["l1", "l3"]), "remove_item (one-key form)")
    _, doc = o.customer("/cancel", {"lines": [{"line_id": "l3", "quantity": 1}]})
    ensure_eq((doc["status"], doc["total"], lines_of(doc)["l3"]), ("pending", 34.47, (2, 1, 0, 0)), "partial cancel")
    o.operator("/status", {"status": "processing"})
    resp, doc = o.operator("/shipments", {"lines": [{"line_id": "l1", "quantity": 1}], "carrier": "DHL",
                                          "tracking_number": "123", "tracking_url": "https://t.example/1"}, 201)
    ensure_eq(resp.header("location"), f"/api/orders/{o.id}", "Location of a shipment")
    ensure_eq(doc["status"], "partially_shipped", "status after shipping some")
    ensure_eq({k: doc["shipments"][0][k] for k in ("shipment_id", "status", "carrier", "delivered_at")},
              {"shipment_id": "s1", "status": "shipped", "carrier": "DHL", "delivered_at": None}, "shipment s1")
    _, doc = o.operator("/shipments/s1/delivered")
    ensure_eq((doc["status"], doc["shipments"][0]["status"]), ("partially_shipped", "delivered"), "s1 delivered")
    _, again = o.operator("/shipments/s1/delivered")
    ensure_eq(again["version"], doc["version"], "delivering a delivered shipment changes nothing")
    _, doc = o.operator("/status", {"status": "shipped"})
    ensure_eq((doc["status"], doc["shipments"][1]["lines"], doc["shipments"][1]["tracking_url"]),
              ("shipped", [{"line_id": "l1", "quantity": 2}, {"line_id": "l3", "quantity": 1}], None),
              "status shipped ships the rest as s2")
    _, doc = o.operator("/status", {"status": "delivered"})
    ensure_eq((doc["status"], [s["status"] for s in doc["shipments"]]), ("delivered", ["delivered"] * 2),
              "status delivered")
    _, doc = o.customer("/returns", {"lines": [{"line_id": "l1", "quantity": 2}], "reason": "too big"}, 201)
    ensure_eq((doc["returns"][0]["return_id"], doc["returns"][0]["status"], lines_of(doc)["l1"]),
              ("r1", "requested", (3, 0, 3, 2)), "return r1")
    o.customer("/returns", {"lines": [{"line_id": "l3"}]}, 201)
    o.operator("/returns/r1/approve")
    _, doc = o.operator("/returns/r2/reject")
    ensure_eq(lines_of(doc)["l3"][3], 0, "a rejected return frees its quantity")
    _, doc = o.operator("/returns/r1/received")
    ensure_eq((doc["returns"][0]["refund_id"], doc["refunds"][0]["amount_minor"], doc["refunded_total_minor"]),
              ("rf1", 2198, 2198), "receiving r1 refunds 2 x 10.99 exactly")
    _, doc = o.operator("/refunds", {"amount": 1.25}, 201)
    _, doc = o.operator("/refunds", {"lines": [{"line_id": "l3"}]}, 201)
    ensure_eq((doc["refunds"][2]["lines"], doc["refunded_total"], doc["refunded_total_minor"]),
              ([{"line_id": "l3", "quantity": 1, "amount": 1.5}], 24.73, 2473), "refunds")
    ev = expect(o.c.request("GET", f"/api/orders/{o.id}/events", user=o.user), 200)["events"]
    ensure_eq([e["type"] for e in ev],
              ["created", "edited", "edited", "lines_cancelled", "status_changed", "shipment_created",
               "shipment_delivered",
               # the status endpoint's shipped and delivered read as the status changes they were asked as
               "status_changed", "status_changed",
               "return_requested", "return_requested", "return_approved", "return_rejected", "return_received",
               "refunded", "refunded"], "event types")
    ensure(all("changes" not in e for e in ev if e["type"] in ("created", "status_changed")),
           "status changes carry no changes list")
    ensure_eq([e["seq"] for e in ev], list(range(1, 17)), "event seqs")
    ensure_eq(ev[1]["changes"][-1], {"op": "total", "total": 55.96, "total_minor": 5596}, "an edit's total")
    ensure_eq(ev[13]["changes"][1:], [{"op": "refund", "refund_id": "rf1", "amount": 21.98},
                                      {"op": "refund_line", "line_id": "l1", "quantity": 2, "amount": 21.98}],
              "a received return's changes")
    ensure_eq({e["actor"] for e in ev[5:9]}, {"operator"}, "the operator's actor")


@per_protocol
def test_refusals(ctx, proto):
    o = Order(ctx, proto, "no")
    resp, doc = o.customer("/edit?dry_run=maybe", {"operations": [{"op": "remove_item", "line_id": "l1"}]}, 400)
    _, doc = o.customer("/edit", {"operations": [{"op": "remove_item", "line_id": "l9"},
                                                  {"op": "set_quantity", "line_id": "l1", "quantity": 2}]}, 422)
    ensure_eq(fields(doc), ["operations[0].line_id"], "a line the order does not have")
    _, doc = o.customer("/edit", {"operations": [{"op": "remove_item", "line_id": "l1"},
                                                  {"op": "remove_item", "line_id": "l2"}]}, 422)
    ensure_eq(fields(doc), ["operations"], "an edit that leaves no line")
    _, doc = o.customer("/edit", {"operations": [{"op": "ship"}]}, 422)
    ensure_eq(fields(doc), ["operations[0].op"], "an unknown step")
    o.customer("/edit", {"operations": [{"op": "remove_item", "line_id": "l2"}]}, 412,
               headers=['If-Match: "%s-9"' % o.id])
    _, doc = o.customer("/cancel", {"lines": [{"line_id": "l1", "quantity": 3}]}, 422)
    ensure_eq(fields(doc), ["lines[0].quantity"], "cancelling more than is left")
    _, doc = o.operator("/shipments", None, 409)
    conflict(doc, o.id, "pending")
    ensure_eq(o.c.request("POST", f"/api/orders/{o.id}/shipments").status, 401, "shipments without a token")
    ensure_eq(o.c.request("POST", f"/api/orders/{o.id}/refunds", body="{}",
                          headers=["Authorization: Bearer not-the-token"]).status, 403, "a wrong token")
    o.operator("/status", {"status": "processing"})
    _, doc = o.customer("/edit", {"operations": [{"op": "remove_item", "line_id": "l1"}]}, 409)
    conflict(doc, "processing", "only a pending order can be edited")
    _, doc = o.customer("/cancel", {"lines": [{"line_id": "l1"}]}, 409)
    conflict(doc, "processing")
    key = ["Idempotency-Key: ship-1"]
    r1, first = o.operator("/shipments", {"lines": [{"line_id": "l1", "quantity": 1}]}, 201, key)
    r2, second = o.operator("/shipments", {"lines": [{"line_id": "l1", "quantity": 1}]}, 201, key)
    ensure(r2.header("idempotent-replayed") == "true" and second == first, f"a replay: {r2!r}")
    o.operator("/shipments", {"lines": [{"line_id": "l1"}]}, 422, key)
    _, doc = o.operator("/shipments", {"lines": [{"line_id": "l1", "quantity": 5}]}, 422)
    ensure_eq(fields(doc), ["lines[0].quantity"], "shipping more than is open")
    _, doc = o.operator("/shipments/s7/delivered", None, 404)
    _, doc = o.customer("/returns", {"lines": [{"line_id": "l1"}]}, 409)
    conflict(doc, "only a delivered order can be returned")
    _, doc = o.operator("/returns/r1/approve", None, 404)
    # refunds never exceed what was paid: 41.97 in all
    _, doc = o.operator("/refunds", {"amount": 41.98}, 422)
    ensure_eq(fields(doc), ["amount"], "a refund past the total")
    _, doc = o.operator("/refunds", {"amount": 1, "lines": [{"line_id": "l1"}]}, 422)
    o.operator("/refunds", {"lines": [{"line_id": "l1"}]}, 201)
    _, doc = o.operator("/refunds", {"lines": [{"line_id": "l1", "quantity": 1}]}, 422)
    ensure_eq(fields(doc), ["lines[0].quantity"], "a line refunded twice")
    _, doc = o.operator("/refunds", {"amount": 19.99}, 201)
    ensure_eq(doc["refunded_total_minor"], 4197, "everything paid is refunded")
    _, doc = o.operator("/refunds", {"amount": 0.01}, 422)
    ensure_eq(fields(doc), ["amount"], "a refund when nothing is left")


def main():
    _, runner, binary = suite_start(__doc__)
    if binary is None:
        return runner.finish()
    orderd_harness.CONTRACT = contract = OpenAPIChecker()
    with TempDir("orderd-ops-") as workdir:
        server = Server(binary, workdir=workdir, name="orderd")
        try:
            if start_servers(runner, server):
                run_registered(runner, Ctx(workdir, server), PROTOCOL_TESTS, [], list(ALL_PROTOCOLS), "")
        finally:
            server.kill9()
    print(f"\n{contract.checked} response bodies checked against docs/openapi.yaml")
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
