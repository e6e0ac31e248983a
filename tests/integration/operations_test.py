#!/usr/bin/env python3
"""Black-box tests of the rules of the operations after checkout (issue 13):
line ids, edits with a dry run, partial cancellation (customer and
operator), shipments with tracking and partially_shipped, delivery per
shipment, the one-step status endpoint, returns (approve, reject, received)
and refunds, every illegal move a 409 naming the state, If-Match and
Idempotency-Key on each operation, and the audit trail.  The randomized,
racing and kill -9 tests are operations_model_test.py.

Every test runs over HTTP/1.1 and h2c with prior knowledge; response bodies
are checked against docs/openapi.yaml.

    python3 tests/integration/operations_test.py --orderd build/orderd [-k SUBSTRING]

Prints one line per test and finally exactly `N passed, N failed, N skipped`;
exits non-zero on any failure.  The harness is orderd_harness.py.
"""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import Registry, SubChecks, ensure, ensure_eq, expect, run_suite  # noqa: E402
from openapi_check import OpenAPIChecker  # noqa: E402  every body against docs/openapi.yaml
from ops_common import (  # noqa: E402
    OPERATIONS, Ctx, Ops, check_total, conflict, data_sizes, invalid, lines_of, m,
)

PROTOCOLS = ("http1.1", "h2c")
SUITE = Registry()
per_protocol = SUITE.per_protocol


# --------------------------------------------------------------------------
# Lines and edits
# --------------------------------------------------------------------------

@per_protocol
def test_new_members_of_an_order(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("members", proto))
    doc = o.create()
    ensure_eq([(it["line_id"], it["cancelled_quantity"], it["shipped_quantity"], it["returned_quantity"])
               for it in doc["items"]], [("l1", 0, 0, 0), ("l2", 0, 0, 0)], "line ids and quantities")
    ensure_eq((doc["shipments"], doc["returns"], doc["refunds"], m(doc["refunded_total"]),
               doc["refunded_total_minor"]), ([], [], [], Decimal(0), 0), "new order members")
    keys = list(doc)
    ensure(keys.index("shipments") > keys.index("version"), f"shipments after version: {keys}")
    ensure_eq(o.get(doc["id"]), doc, "GET shows what create answered")


@per_protocol
def test_edit_every_step(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("edit", proto))
    doc = o.create()
    oid = doc["id"]
    r = o.edit(oid, [{"op": "add_item", "product_id": "sku-c", "quantity": 4, "price": 1.25},
                     {"op": "set_quantity", "line_id": "l1", "quantity": 5},
                     {"op": "remove_item", "line_id": "l2"},
                     {"op": "set_shipping_address", "shipping_address": "2 Elm St"}])
    doc = expect(r, 200)
    ensure_eq(doc["version"], 2, "one edit, one version")
    ensure_eq(r.header("etag"), f'"{oid}-2"', "ETag after an edit")
    ensure_eq([(it["line_id"], it["product_id"], it["quantity"]) for it in doc["items"]],
              [("l1", "sku-a", 5), ("l3", "sku-c", 4)], "lines after the edit")
    ensure_eq((m(doc["total"]), doc["shipping_address"], doc["status"]), (Decimal("17.50"), "2 Elm St", "pending"),
              "total, address, status")
    check_total(doc)
    # the other spellings of a step; a removed id is never reused
    doc = expect(o.edit(oid, [{"type": "add_item", "product_id": "sku-d", "quantity": 1, "price": 3},
                              {"action": "remove_item", "line_id": "l1"},
                              {"add_item": {"product_id": "sku-e", "quantity": 2, "price": 0.5}},
                              {"set_quantity": {"line_id": "l3", "quantity": 1}}]), 200)
    ensure_eq([it["line_id"] for it in doc["items"]], ["l3", "l4", "l5"], "ids continue, l1 and l2 stay unused")
    ensure_eq((doc["version"], m(doc["total"])), (3, Decimal("5.25")), "version and total")
    ensure_eq(o.get(oid), doc, "GET after the edits")


@per_protocol
def test_edit_refusals_change_nothing(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("editbad", proto))
    doc = o.create()
    oid = doc["id"]
    sub = SubChecks()
    cases = [
        ([{"op": "set_quantity", "line_id": "l9", "quantity": 1}], ["operations[0].line_id"]),
        ([{"op": "add_item", "product_id": "p", "quantity": 1, "price": 1},
          {"op": "set_quantity", "line_id": "l1", "quantity": 0},
          {"op": "add_item", "product_id": "p", "quantity": 1, "price": "1.001"}],
         ["operations[1].quantity", "operations[2].price"]),
        ([{"op": "teleport"}], ["operations[0].op"]),
        ([{"op": "remove_item", "line_id": "l1"}, {"op": "remove_item", "line_id": "l2"}], ["operations"]),
        ([{"op": "remove_item", "line_id": "l1"}, {"op": "set_quantity", "line_id": "l1", "quantity": 2}],
         ["operations[1].line_id"]),
        ([], ["operations"]),
        ([{"op": "remove_item", "line_id": "L1"}], ["operations[0].line_id"]),
        ([{"op": "remove_item", "line_id": "l0"}], ["operations[0].line_id"]),
        ([{"op": "add_item", "product_id": "p", "quantity": 1, "price": 1234567890123456}], ["operations[0].price"]),
        ([{"op": "add_item", "product_id": "big", "quantity": 1000000, "price": 99999999999.99}], ["operations"]),
        ([{"op": "set_shipping_address", "shipping_address": ""}], ["operations[0].shipping_address"]),
    ]
    for ops, fields in cases:
        sub.run(json.dumps(ops)[:60], lambda ops=ops, fields=fields: invalid(o.edit(oid, ops), *fields))
    sub.run("101 steps", lambda: invalid(o.edit(oid, [{"op": "set_quantity", "line_id": "l1", "quantity": 1}] * 101),
                                         "operations"))
    sub.run("no operations", lambda: invalid(o.customer(oid, "/edit", {}), "operations"))
    sub.run("not JSON", lambda: expect(o.customer(oid, "/edit", "{"), 400))
    ok_step = [{"op": "set_quantity", "line_id": "l1", "quantity": 1}]
    sub.run("If-Match", lambda: expect(o.edit(oid, ok_step, headers=[f'If-Match: "{oid}-7"']), 412))
    sub.run("another user", lambda: expect(o.customer(oid, "/edit", {"operations": ok_step}, user=o.user + "x"), 404))
    sub.run("no user", lambda: expect(o.c.request("POST", f"/api/orders/{oid}/edit",
                                                  body=json.dumps({"operations": ok_step})), 401))
    sub.run("GET", lambda: expect(o.c.request("GET", f"/api/orders/{oid}/edit", user=o.user), 405))
    sub.done()
    ensure_eq(o.get(oid), doc, "the order after refused edits")
    ensure_eq(len(o.events(oid)), 1, "no event for a refused edit")
    o.processing(oid)
    conflict(o.edit(oid, ok_step), "processing", "only a pending order can be edited")
    cancelled = o.create()["id"]
    expect(o.customer(cancelled, "/cancel"), 200)
    conflict(o.edit(cancelled, ok_step), "cancelled")


@per_protocol
def test_edit_dry_run_changes_nothing(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("dry", proto))
    doc = o.create()
    oid = doc["id"]
    etag = o.c.request("GET", f"/api/orders/{oid}", user=o.user).header("etag")
    events = o.events(oid)
    sizes = data_sizes(ctx.server)
    step = [{"op": "add_item", "product_id": "sku-z", "quantity": 2, "price": 0.99},
            {"op": "set_quantity", "line_id": "l2", "quantity": 1}]
    for q in ("?dry_run=true", "?dry_run=1"):
        r = o.edit(oid, step, query=q)
        prev = expect(r, 200)
        ensure_eq(prev.get("preview"), True, f"{q}: preview")
        ensure(r.header("etag") is None, f"{q}: a preview has no ETag, got {r.header('etag')!r}")
        ensure_eq((prev["version"], [it["line_id"] for it in prev["items"]], m(prev["total"])),
                  (2, ["l1", "l2", "l3"], Decimal("19.48")), f"{q}: the order as it would be")
        now = o.c.request("GET", f"/api/orders/{oid}", user=o.user)
        ensure_eq((expect(now, 200), now.header("etag")), (doc, etag), f"{q}: the order is unchanged")
        ensure_eq(o.events(oid), events, f"{q}: the trail is unchanged")
    ensure_eq(data_sizes(ctx.server), sizes, "the data directory after previews (no journal record)")
    invalid(o.edit(oid, [{"op": "remove_item", "line_id": "l7"}], query="?dry_run=true"), "operations[0].line_id")
    expect(o.edit(oid, step, query="?dry_run=maybe"), 400)
    r = o.edit(oid, step, query="?dry_run=false")
    done = expect(r, 200)
    ensure("preview" not in done, "a real edit is no preview")
    ensure_eq((done["version"], r.header("etag")), (2, f'"{oid}-2"'), "dry_run=false edits")
    prev = expect(o.edit(oid, step, query="?dry_run=0"), 200)
    ensure_eq(prev["version"], 3, "dry_run=0 edits too")


# --------------------------------------------------------------------------
# Cancellation
# --------------------------------------------------------------------------

@per_protocol
def test_partial_cancel(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("pcancel", proto))
    oid = o.create()["id"]
    doc = expect(o.customer(oid, "/cancel", {"lines": [{"line_id": "l1", "quantity": 1}]}), 200)
    ensure_eq((doc["status"], doc["version"], lines_of(doc)["l1"]["cancelled_quantity"], m(doc["total"])),
              ("pending", 2, 1, Decimal("25.00")), "after cancelling 1 of l1")
    check_total(doc)
    invalid(o.customer(oid, "/cancel", {"lines": [{"line_id": "l1", "quantity": 3}]}), "lines[0].quantity")
    invalid(o.customer(oid, "/cancel", {"lines": [{"line_id": "l1", "quantity": 2},
                                                  {"line_id": "l1", "quantity": 1}]}), "lines[1].quantity")
    invalid(o.customer(oid, "/cancel", {"lines": [{"line_id": "l5"}]}), "lines[0].line_id")
    invalid(o.customer(oid, "/cancel", {"lines": [{"line_id": "l1", "quantity": 0}]}), "lines[0].quantity")
    invalid(o.customer(oid, "/cancel", {"lines": []}), "lines")
    invalid(o.customer(oid, "/cancel", "[]"), "body")
    expect(o.customer(oid, "/cancel", '{"lines":['), 400)
    invalid(o.edit(oid, [{"op": "set_quantity", "line_id": "l1", "quantity": 1}]), "operations[0].quantity")
    doc = expect(o.customer(oid, "/cancel", {"lines": [{"line_id": "l1"}]}), 200)  # all that is left
    ensure_eq((lines_of(doc)["l1"]["cancelled_quantity"], m(doc["total"]), doc["status"]),
              (3, Decimal("20.00"), "pending"), "l1 cancelled whole")
    d = invalid(o.customer(oid, "/cancel", {"lines": [{"line_id": "l1"}]}), "lines[0].quantity")
    ensure("nothing of l1 is left" in d["errors"][0]["message"], f"message: {d['errors']}")
    doc = expect(o.customer(oid, "/cancel", {"lines": [{"line_id": "l2", "quantity": 2}]}), 200)
    ensure_eq((doc["status"], m(doc["total"]), doc["version"]), ("cancelled", Decimal(0), 4),
              "cancelling every remaining quantity cancels the order")
    conflict(o.customer(oid, "/cancel", {"lines": [{"line_id": "l2"}]}), "cancelled")
    # the whole-order forms: no body, {} and {"lines": null}
    for body in (None, "{}", '{"lines":null}'):
        x = o.create()["id"]
        got = expect(o.customer(x, "/cancel", body), 200)
        ensure_eq((got["status"], [it["cancelled_quantity"] for it in got["items"]]), ("cancelled", [0, 0]),
                  f"cancel with body {body!r}")


@per_protocol
def test_operator_cancel_while_processing(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("opcancel", proto))
    oid = o.create()["id"]
    o.processing(oid)
    conflict(o.customer(oid, "/cancel", {"lines": [{"line_id": "l1", "quantity": 1}]}), "processing",
             "only a pending order")
    conflict(o.customer(oid, "/cancel"), "processing")
    doc = expect(o.operator(oid, "/cancel", {"lines": [{"line_id": "l2", "quantity": 1}]}), 200)
    ensure_eq((doc["status"], m(doc["total"])), ("processing", Decimal("17.50")), "operator's partial cancel")
    doc = expect(o.operator(oid, "/cancel"), 200)
    ensure_eq(doc["status"], "cancelled", "operator's whole cancel")
    ev = o.events(oid)
    ensure_eq([(e["type"], e["actor"]) for e in ev][-2:], [("lines_cancelled", "operator"),
                                                          ("status_changed", "operator")], "actors")
    again = expect(o.operator(oid, "/cancel"), 200)  # a repeat of a whole cancel changes nothing, as before
    ensure_eq(again["version"], doc["version"], "cancelling a cancelled order again")
    conflict(o.operator(oid, "/cancel", {"lines": [{"line_id": "l1"}]}), "cancelled", "pending or processing")
    shipped = o.create()["id"]
    o.processing(shipped)
    expect(o.status(shipped, "shipped"), 200)
    conflict(o.operator(shipped, "/cancel", {"lines": [{"line_id": "l1"}]}), "shipped", "pending or processing")
    # cancel is either's route: a token that is not the operator's leaves a customer without X-User-Id
    expect(o.c.request("POST", f"/api/orders/{shipped}/cancel", headers=["Authorization: Bearer nope-nope"]), 401)


# --------------------------------------------------------------------------
# Shipments and delivery
# --------------------------------------------------------------------------

@per_protocol
def test_shipments_and_partially_shipped(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("ship", proto))
    oid = o.create()["id"]
    conflict(o.operator(oid, "/shipments", {}), "pending", "only a processing or partially shipped order")
    o.processing(oid)
    invalid(o.operator(oid, "/shipments", {"lines": [{"line_id": "l1", "quantity": 4}]}), "lines[0].quantity")
    invalid(o.operator(oid, "/shipments", {"lines": [{"line_id": "l1"}], "tracking_url": "ftp://x"}), "tracking_url")
    invalid(o.operator(oid, "/shipments", {"tracking_url": "https://" + "x" * 1020}), "tracking_url")
    track = {"carrier": "DHL", "tracking_number": "JD0001", "tracking_url": "https://track.example/JD0001"}
    r = o.operator(oid, "/shipments", dict(track, lines=[{"line_id": "l1", "quantity": 2}]))
    doc = expect(r, 201)
    ensure_eq(doc["status"], "partially_shipped", "some quantity is unshipped")
    s1 = doc["shipments"][0]
    ensure_eq({k: s1[k] for k in ("shipment_id", "status", "lines", "carrier", "tracking_number", "tracking_url",
                                  "delivered_at")},
              dict(track, shipment_id="s1", status="shipped", lines=[{"line_id": "l1", "quantity": 2}],
                   delivered_at=None), "the shipment")
    ensure(isinstance(s1["shipped_at"], str), "shipped_at")
    ensure_eq(lines_of(doc)["l1"]["shipped_quantity"], 2, "shipped_quantity")
    # a delivered shipment of a partially shipped order leaves it partially shipped
    doc = expect(o.operator(oid, "/shipments/s1/delivered"), 200)
    ensure_eq((doc["status"], doc["shipments"][0]["status"]), ("partially_shipped", "delivered"), "s1 delivered")
    ensure(doc["shipments"][0]["delivered_at"] is not None, "delivered_at")
    expect(o.operator(oid, "/shipments/s2/delivered"), 404)
    expect(o.operator(oid, "/shipments/x1/delivered"), 404)
    page = expect(o.c.request("GET", "/api/orders?status=partially_shipped", user=o.user), 200)
    ensure_eq([x["id"] for x in page["orders"]], [oid], "the user's list filtered on partially_shipped")
    r = o.c.request("GET", "/api/admin/orders?status=partially_shipped&limit=100",
                    headers=[f"Authorization: Bearer {o.token}"])
    ensure(oid in [x["id"] for x in expect(r, 200)["orders"]], "the operator's queue filtered on partially_shipped")
    # the operator cannot cancel what is partly shipped, the customer cannot edit it
    conflict(o.operator(oid, "/cancel"), "partially_shipped")
    conflict(o.edit(oid, [{"op": "remove_item", "line_id": "l1"}]), "partially_shipped")
    doc = expect(o.operator(oid, "/shipments", {"carrier": None}), 201)  # every open quantity
    ensure_eq((doc["status"], doc["shipments"][1]["lines"], doc["shipments"][1]["tracking_url"]),
              ("shipped", [{"line_id": "l1", "quantity": 1}, {"line_id": "l2", "quantity": 2}], None), "s2")
    conflict(o.operator(oid, "/shipments", {}), "shipped")
    before = expect(o.operator(oid, "/shipments/s1/delivered"), 200)  # again: no change
    ensure_eq(before["version"], doc["version"], "repeating a delivered shipment changes nothing")
    doc = expect(o.operator(oid, "/shipments/s2/delivered"), 200)
    ensure_eq(doc["status"], "delivered", "every shipment delivered")
    expect(o.c.request("POST", f"/api/orders/{oid}/shipments", user=o.user, body="{}"), 401)


@per_protocol
def test_status_endpoint_still_ships_and_delivers(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("status", proto))
    oid = o.create()["id"]
    o.processing(oid)
    doc = expect(o.status(oid, "shipped"), 200)
    ensure_eq((doc["status"], len(doc["shipments"]), doc["shipments"][0]["lines"], doc["shipments"][0]["carrier"]),
              ("shipped", 1, [{"line_id": "l1", "quantity": 3}, {"line_id": "l2", "quantity": 2}], None),
              "one shipment of every line, no tracking")
    doc = expect(o.status(oid, "delivered"), 200)
    ensure_eq((doc["status"], doc["shipments"][0]["status"]), ("delivered", "delivered"), "delivered")
    conflict(o.status(oid, "shipped"), "delivered")
    # from partially_shipped: the rest in one shipment; partly cancelled lines ship what is left
    oid = o.create()["id"]
    o.processing(oid)
    expect(o.operator(oid, "/cancel", {"lines": [{"line_id": "l2", "quantity": 1}]}), 200)
    expect(o.operator(oid, "/shipments", {"lines": [{"line_id": "l1", "quantity": 1}]}), 201)
    conflict(o.status(oid, "delivered"), "partially_shipped")
    doc = expect(o.status(oid, "shipped"), 200)
    ensure_eq(doc["shipments"][1]["lines"], [{"line_id": "l1", "quantity": 2}, {"line_id": "l2", "quantity": 1}],
              "the rest shipped")
    ensure_eq(doc["status"], "shipped", "status")


# --------------------------------------------------------------------------
# Returns and refunds
# --------------------------------------------------------------------------

@per_protocol
def test_returns(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("ret", proto))
    pending = o.create()["id"]
    conflict(o.customer(pending, "/returns", {"lines": [{"line_id": "l1"}]}), "pending",
             "only a delivered order can be returned")
    doc = o.delivered_order()
    oid = doc["id"]
    invalid(o.customer(oid, "/returns", {}), "lines")
    invalid(o.customer(oid, "/returns", {"lines": [{"line_id": "l1", "quantity": 4}]}), "lines[0].quantity")
    invalid(o.customer(oid, "/returns", {"lines": [{"line_id": "l1"}], "reason": "x" * 1025}), "reason")
    r = o.customer(oid, "/returns", {"lines": [{"line_id": "l1", "quantity": 2}], "reason": "too small"})
    doc = expect(r, 201)
    r1 = doc["returns"][0]
    ensure_eq({k: r1[k] for k in ("return_id", "status", "lines", "reason", "refund_id")},
              {"return_id": "r1", "status": "requested", "lines": [{"line_id": "l1", "quantity": 2}],
               "reason": "too small", "refund_id": None}, "r1")
    ensure_eq(lines_of(doc)["l1"]["returned_quantity"], 2, "returned_quantity")
    invalid(o.customer(oid, "/returns", {"lines": [{"line_id": "l1", "quantity": 2}]}), "lines[0].quantity")
    conflict(o.operator(oid, "/returns/r1/received"), "requested", "only an approved return can be received")
    doc = expect(o.operator(oid, "/returns/r1/approve"), 200)
    ensure_eq(doc["returns"][0]["status"], "approved", "approved")
    again = expect(o.operator(oid, "/returns/r1/approve"), 200)
    ensure_eq(again["version"], doc["version"], "approving twice changes nothing")
    conflict(o.operator(oid, "/returns/r1/reject"), "approved", "only a requested return can be rejected")
    doc = expect(o.operator(oid, "/returns/r1/received"), 200)
    r1 = doc["returns"][0]
    ensure_eq((r1["status"], r1["refund_id"]), ("received", "rf1"), "received with its refund")
    rf = doc["refunds"][0]
    ensure_eq((rf["refund_id"], m(rf["amount"]), rf["amount_minor"], rf["return_id"], rf["lines"][0]["line_id"],
               rf["lines"][0]["quantity"], m(rf["lines"][0]["amount"])),
              ("rf1", Decimal("5.00"), 500, "r1", "l1", 2, Decimal("5.00")), "rf1")
    ensure_eq((m(doc["refunded_total"]), doc["refunded_total_minor"]), (Decimal("5.00"), 500), "refunded_total")
    ensure_eq(expect(o.operator(oid, "/returns/r1/received"), 200)["version"], doc["version"], "received twice")
    conflict(o.operator(oid, "/returns/r1/approve"), "received", "only a requested return can be approved")
    # a rejected return frees its quantity
    doc = expect(o.customer(oid, "/returns", {"lines": [{"line_id": "l2"}]}), 201)
    ensure_eq((doc["returns"][1]["return_id"], doc["returns"][1]["reason"]), ("r2", None), "r2")
    doc = expect(o.operator(oid, "/returns/r2/reject"), 200)
    ensure_eq((doc["returns"][1]["status"], lines_of(doc)["l2"]["returned_quantity"]), ("rejected", 0), "rejected")
    conflict(o.operator(oid, "/returns/r2/approve"), "rejected")
    doc = expect(o.customer(oid, "/returns", {"lines": [{"line_id": "l2", "quantity": 2}]}), 201)
    ensure_eq(doc["returns"][2]["return_id"], "r3", "the freed quantity returned again")
    expect(o.operator(oid, "/returns/r9/approve"), 404)
    expect(o.operator(oid, "/returns/rx/approve"), 404)
    expect(o.customer(oid, "/returns", {"lines": [{"line_id": "l1"}]}, user=o.user + "x"), 404)
    expect(o.c.request("POST", f"/api/orders/{oid}/returns/r3/approve", user=o.user), 401)


@per_protocol
def test_refunds(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("refund", proto))
    oid = o.create()["id"]  # any status: a pending order too
    invalid(o.operator(oid, "/refunds", {}), "lines")
    invalid(o.operator(oid, "/refunds", {"lines": [{"line_id": "l1"}], "amount": 1}), "amount")
    d = invalid(o.operator(oid, "/refunds", {"amount": 27.51}), "amount")
    ensure("27.50" in d["errors"][0]["message"], f"the message names what is left: {d['errors']}")
    invalid(o.operator(oid, "/refunds", {"amount": 0}), "amount")
    invalid(o.operator(oid, "/refunds", {"amount": "1.00"}), "amount")
    invalid(o.operator(oid, "/refunds", {"lines": [{"line_id": "l1", "quantity": 4}]}), "lines[0].quantity")
    doc = expect(o.operator(oid, "/refunds", {"lines": [{"line_id": "l1", "quantity": 2}, {"line_id": "l2"}]}), 201)
    rf = doc["refunds"][0]
    ensure_eq((rf["refund_id"], m(rf["amount"]), rf["return_id"],
               [(x["line_id"], x["quantity"], m(x["amount"])) for x in rf["lines"]]),
              ("rf1", Decimal("25.00"), None, [("l1", 2, Decimal("5.00")), ("l2", 2, Decimal("20.00"))]), "rf1")
    invalid(o.operator(oid, "/refunds", {"lines": [{"line_id": "l2", "quantity": 1}]}), "lines[0].quantity")
    invalid(o.operator(oid, "/refunds", {"amount": 2.51}), "amount")
    doc = expect(o.operator(oid, "/refunds", {"amount": 2.5}), 201)
    ensure_eq((m(doc["refunded_total"]), doc["refunds"][1]["lines"], doc["status"]),
              (Decimal("27.50"), [], "pending"), "everything refunded")
    invalid(o.operator(oid, "/refunds", {"amount": 0.01}), "amount")
    # l1 has 2.50 of its 7.50 left, the order nothing: the order's bound speaks
    d = invalid(o.operator(oid, "/refunds", {"lines": [{"line_id": "l1", "quantity": 1}]}), "lines")
    ensure("0.00 left" in d["errors"][0]["message"], f"message: {d['errors']}")
    expect(o.c.request("POST", f"/api/orders/{oid}/refunds", user=o.user, body='{"amount":1}'), 401)
    expect(o.c.request("POST", f"/api/orders/{oid}/refunds", body='{"amount":1}',
                       headers=["Authorization: Bearer " + "0" * 64]), 403)
    expect(o.operator("0000000000000", "/refunds", {"amount": 1}), 404)


@per_protocol
def test_audit_trail_lists_every_operation(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("trail", proto))
    oid = o.create()["id"]
    expect(o.edit(oid, [{"op": "add_item", "product_id": "sku-c", "quantity": 1, "price": 4},
                        {"op": "set_quantity", "line_id": "l1", "quantity": 4},
                        {"op": "remove_item", "line_id": "l3"},
                        {"op": "set_shipping_address", "shipping_address": "9 Oak"}]), 200)
    expect(o.customer(oid, "/cancel", {"lines": [{"line_id": "l2", "quantity": 1}]}), 200)
    o.processing(oid)
    expect(o.operator(oid, "/shipments", {"lines": [{"line_id": "l1"}], "carrier": "UPS"}), 201)
    expect(o.operator(oid, "/shipments/s1/delivered"), 200)
    expect(o.operator(oid, "/shipments"), 201)
    expect(o.operator(oid, "/shipments/s2/delivered"), 200)
    expect(o.customer(oid, "/returns", {"lines": [{"line_id": "l1", "quantity": 1}], "reason": "torn"}), 201)
    expect(o.operator(oid, "/returns/r1/approve"), 200)
    expect(o.operator(oid, "/returns/r1/received"), 200)
    expect(o.customer(oid, "/returns", {"lines": [{"line_id": "l2"}]}), 201)
    expect(o.operator(oid, "/returns/r2/reject"), 200)
    expect(o.operator(oid, "/refunds", {"amount": 1}), 201)
    ev = o.events(oid)
    user = f"user:{o.user}"
    ensure_eq([(e["seq"], e["type"], e["status"], e["actor"]) for e in ev], [
        (1, "created", "pending", user), (2, "edited", "pending", user), (3, "lines_cancelled", "pending", user),
        (4, "status_changed", "processing", "operator"), (5, "shipment_created", "partially_shipped", "operator"),
        (6, "shipment_delivered", "partially_shipped", "operator"), (7, "shipment_created", "shipped", "operator"),
        (8, "shipment_delivered", "delivered", "operator"), (9, "return_requested", "delivered", user),
        (10, "return_approved", "delivered", "operator"), (11, "return_received", "delivered", "operator"),
        (12, "return_requested", "delivered", user), (13, "return_rejected", "delivered", "operator"),
        (14, "refunded", "delivered", "operator")], "the trail")
    ensure("changes" not in ev[0] and "changes" not in ev[3], "created and status_changed carry no changes")
    ch = {e["seq"]: e["changes"] for e in ev if "changes" in e}
    ensure_eq(ch[2], [
        {"op": "add_item", "line_id": "l3", "product_id": "sku-c", "quantity": 1, "price": ch[2][0].get("price")},
        {"op": "set_quantity", "line_id": "l1", "quantity": 4, "previous_quantity": 3},
        {"op": "remove_item", "line_id": "l3", "quantity": 1},
        {"op": "set_shipping_address", "shipping_address": "9 Oak"},
        {"op": "total", "total": ch[2][4].get("total"), "total_minor": 3000}], "edit changes")
    ensure_eq((m(ch[2][0]["price"]), m(ch[2][4]["total"])), (Decimal(4), Decimal(30)), "edit amounts")
    ensure_eq([(c["op"], c.get("line_id"), c.get("quantity"), c.get("total_minor")) for c in ch[3]],
              [("cancel_line", "l2", 1, None), ("total", None, None, 2000)], "cancel changes")
    ensure_eq([(c["op"], c.get("shipment_id"), c.get("line_id"), c.get("quantity")) for c in ch[5]],
              [("shipment", "s1", None, None), ("ship_line", None, "l1", 4)], "shipment changes")
    ensure_eq(ch[6], [{"op": "delivered", "shipment_id": "s1"}], "delivered changes")
    ensure_eq([(c["op"], c.get("return_id"), c.get("status"), c.get("reason"), c.get("line_id")) for c in ch[9]],
              [("return", "r1", "requested", "torn", None), ("return_line", None, None, None, "l1")], "return")
    ensure_eq(ch[10], [{"op": "return", "return_id": "r1", "status": "approved"}], "approve changes")
    ensure_eq([(c["op"], c.get("refund_id") or c.get("return_id"), c.get("status"), c.get("quantity"),
                m(c["amount"]) if "amount" in c else None) for c in ch[11]],
              [("return", "r1", "received", None, None), ("refund", "rf1", None, None, Decimal("2.50")),
               ("refund_line", None, None, 1, Decimal("2.50"))], "received changes")
    ensure_eq(ch[13], [{"op": "return", "return_id": "r2", "status": "rejected"}], "reject changes")
    ensure_eq([(c["op"], c["refund_id"], m(c["amount"])) for c in ch[14]], [("refund", "rf2", Decimal(1))],
              "refund changes")


@per_protocol
def test_idempotent_operations(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("idemop", proto))
    oid = o.create()["id"]
    steps = [{"op": "set_quantity", "line_id": "l1", "quantity": 2}]
    r1 = o.edit(oid, steps, headers=["Idempotency-Key: e-1"])
    d1 = expect(r1, 200)
    r2 = o.edit(oid, steps, headers=["Idempotency-Key: e-1"])
    ensure_eq((expect(r2, 200), r2.header("idempotent-replayed")), (d1, "true"), "replayed edit")
    expect(o.edit(oid, [{"op": "set_quantity", "line_id": "l1", "quantity": 3}], headers=["Idempotency-Key: e-1"]),
           422)
    ensure_eq(o.get(oid)["version"], 2, "neither the replay nor the mismatch edits")
    r1 = o.customer(oid, "/cancel", {"lines": [{"line_id": "l2", "quantity": 1}]}, headers=["Idempotency-Key: c-1"])
    r2 = o.customer(oid, "/cancel", {"lines": [{"line_id": "l2", "quantity": 1}]}, headers=["Idempotency-Key: c-1"])
    ensure_eq((expect(r2, 200), r2.header("idempotent-replayed")), (expect(r1, 200), "true"), "replayed cancel")
    ensure_eq(lines_of(o.get(oid))["l2"]["cancelled_quantity"], 1, "cancelled once")
    r1 = o.operator(oid, "/refunds", {"amount": 1}, headers=["Idempotency-Key: rf-1"])
    r2 = o.operator(oid, "/refunds", {"amount": 1}, headers=["Idempotency-Key: rf-1"])
    ensure_eq((r2.status, expect(r2, 201), r2.header("idempotent-replayed")), (201, expect(r1, 201), "true"),
              "replayed refund")
    ensure_eq(len(o.get(oid)["refunds"]), 1, "refunded once")
    expect(o.operator(oid, "/refunds", {"amount": 2}, headers=["Idempotency-Key: rf-1"]), 422)


@per_protocol
def test_if_match_on_every_operation(ctx, proto):
    o = Ops(ctx.client(proto), ctx.token, ctx.user("ifmatch", proto))
    oid = o.create()["id"]
    version = 1
    for label, who, suffix, body, want in OPERATIONS:
        send = o.customer if who == "c" else o.operator
        r = send(oid, suffix, body, [f'If-Match: "{oid}-{version + 5}"'])
        cur = expect(r, 412)
        ensure_eq(r.header("etag"), f'"{oid}-{version}"', f"{label}: the 412 names the current version")
        r = send(oid, suffix, body, [f'If-Match: "{oid}-{version}"'])
        doc = expect(r, want)
        version += 1
        ensure_eq((doc["version"], r.header("etag")), (version, f'"{oid}-{version}"'), f"{label} with If-Match")
    ensure(cur is not None, "412s seen")
    ensure_eq(o.get(oid)["version"], len(OPERATIONS) + 1, "one version per operation, none for a 412")


if __name__ == "__main__":
    sys.exit(run_suite(__doc__, SUITE, PROTOCOLS, Ctx, OpenAPIChecker(), prefix="orderd-ops-"))
