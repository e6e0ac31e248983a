#!/usr/bin/env python3
"""Black-box tests of the operations after checkout (issue 13) under load,
at random and across crashes: an edit racing a cancel (exactly one wins,
nothing half-applied), exact totals after edits and partial cancels on 500
randomized orders (prices in many JSON number forms, against Python's
decimal), refunds that never exceed what was paid, 100 shipments and 100
refunds with an uncapped trail, every operation surviving kill -9 (journal
replay and a snapshot) with its Idempotency-Key answering the first answer,
and the return window.  The rules one by one are operations_test.py.

The randomized tests use the fast Http client (HTTP/1.1 keep-alive); the
kill -9 test runs over HTTP/1.1 and h2c.

    python3 tests/integration/operations_model_test.py --orderd build/orderd [-k SUBSTRING]

Prints one line per test and finally exactly `N passed, N failed, N skipped`;
exits non-zero on any failure.  The harness is orderd_harness.py.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from decimal import Decimal

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    Client, Http, Registry, Server, SubChecks, TestFailure, ensure, ensure_eq, expect, run_suite, run_threads,
)
from openapi_check import OpenAPIChecker  # noqa: E402  every body against docs/openapi.yaml
from ops_common import (  # noqa: E402
    OPERATIONS, STD_ITEMS, Ctx, Ops, conflict, m, op_request, order_body, raw_post, read_token,
)

PROTOCOLS = ("http1.1", "h2c")
SUITE = Registry()
once = SUITE.once


# --------------------------------------------------------------------------
# Races, randomized money, refunds bounded by what was paid
# --------------------------------------------------------------------------

@once
def test_edit_races_cancel(ctx):
    port, token = ctx.server.port, ctx.token
    user = ctx.user("race")
    h = ctx.server.http()
    body = json.loads(order_body(STD_ITEMS))
    original = [("l1", "sku-a", 3), ("l2", "sku-b", 2)]
    edited = [("l1", "sku-a", 1), ("l2", "sku-b", 2), ("l3", "sku-r", 5)]
    steps = {"operations": [{"op": "add_item", "product_id": "sku-r", "quantity": 5, "price": 1},
                            {"op": "set_quantity", "line_id": "l1", "quantity": 1}]}
    conns = [Http(port), Http(port)]
    tally = {}
    try:
        for rnd in range(60):
            oid = h.request("POST", "/api/orders", user, body).json()["id"]
            conditional = rnd % 2 == 0  # both name version 1, or neither names a version
            hdrs = {"If-Match": f'"{oid}-1"'} if conditional else {}
            by_operator = rnd % 3 == 0

            def go(i):
                if i == 0:
                    return conns[0].request("POST", f"/api/orders/{oid}/edit", user, steps, dict(hdrs))
                if by_operator:
                    return conns[1].request("POST", f"/api/orders/{oid}/cancel", None, None,
                                            dict(hdrs, Authorization=f"Bearer {token}"))
                return conns[1].request("POST", f"/api/orders/{oid}/cancel", user, None, dict(hdrs))
            er, cr = run_threads(2, go)
            final = h.get(user, oid).json()
            lines = [(it["line_id"], it["product_id"], it["quantity"]) for it in final["items"]]
            key = (conditional, er.status, cr.status)
            tally[key] = tally.get(key, 0) + 1
            what = f"round {rnd} (If-Match {conditional}): edit {er!r}, cancel {cr!r}, final {final}"
            ensure(er.status in (200, 409, 412) and cr.status in (200, 412), what)
            if conditional:
                ensure((er.status == 200) != (cr.status == 200) and 412 in (er.status, cr.status) or
                       (er.status == 409 and cr.status == 200), f"exactly one wins: {what}")
            if er.status == 200 and final["status"] == "pending":
                ensure_eq((lines, final["version"]), (edited, 2), what)
            elif er.status == 200:  # the edit came first, an unconditional cancel after it
                ensure_eq((lines, final["version"], final["status"]), (edited, 3, "cancelled"), what)
            else:
                ensure_eq((lines, final["version"], final["status"]), (original, 2, "cancelled"), what)
            ensure_eq(m(final["total"]), sum((m(it["price"]) * it["quantity"] for it in final["items"]), Decimal(0)),
                      f"total: {what}")
    finally:
        for c in conns + [h]:
            c.close()
    return "outcomes (If-Match, edit, cancel): " + ", ".join(f"{k}x{v}" for k, v in sorted(tally.items()))


@once
def test_at_most_100_shipments_and_refunds_and_an_uncapped_trail(ctx):
    user, h = ctx.user("many"), ctx.server.http()
    auth = {"Authorization": f"Bearer {ctx.token}"}
    try:
        oid = raw_post(h, "/api/orders", user, order_body([("sku", 101, "1.00")])).json()["id"]
        ensure_eq(h.request("POST", f"/api/orders/{oid}/status", None, {"status": "processing"}, auth).status, 200,
                  "processing")
        for i in range(100):
            r = h.request("POST", f"/api/orders/{oid}/shipments", None, {"lines": [{"line_id": "l1", "quantity": 1}]},
                          dict(auth))
            ensure(r.status == 201, f"shipment {i + 1}: {r!r}")
        r = h.request("POST", f"/api/orders/{oid}/shipments", None, {}, dict(auth))
        conflict(r, "has 100 shipments")
        for i in range(100):
            r = h.request("POST", f"/api/orders/{oid}/refunds", None, {"amount": 0.01}, dict(auth))
            ensure(r.status == 201, f"refund {i + 1}: {r!r}")
        conflict(h.request("POST", f"/api/orders/{oid}/refunds", None, {"amount": 0.01}, dict(auth)),
                 "has 100 refunds")
        doc = h.get(user, oid).json()
        ensure_eq((doc["status"], len(doc["shipments"]), len(doc["refunds"]), doc["refunded_total_minor"]),
                  ("partially_shipped", 100, 100, 100), "the order")
        ev = h.request("GET", f"/api/orders/{oid}/events", user).json()["events"]
        ensure_eq([e["seq"] for e in ev], list(range(1, 203)), "every one of 202 events")
        ensure_eq(ev[-1]["changes"], [{"op": "refund", "refund_id": "rf100", "amount": ev[-1]["changes"][0]["amount"]}],
                  "the last event")
    finally:
        h.close()
    return "100 shipments, 100 refunds, 202 events"


def price_text(rng, cents):
    """cents / 100 written in one of many JSON number forms."""
    d = Decimal(cents) / 100
    plain = format(d, "f")
    forms = [plain, f"{d:.2f}", f"{d:.4f}", f"{cents}e-2", f"{cents}E-2", f"{Decimal(cents) / 10000}e2",
             f"{Decimal(cents) / 1000}E+1", f"{cents * 10}e-3", f"{d:.2f}0"]
    if cents % 100 == 0:
        forms += [f"{cents // 100}", f"{cents // 100}E0", f"{cents // 100}.0", f"{Decimal(cents // 100) / 10}e1"]
    if cents % 10 == 0:
        forms += [f"{Decimal(cents) / 100:.1f}", f"{cents // 10}e-1"]
    return rng.choice(forms)


def random_totals_worker(srv, seed, n, user):
    """n orders: create, one random edit, random partial cancels; every answer checked
    against a Decimal model.  Returns the number of checked answers."""
    rng = random.Random(seed)
    h = srv.http()
    checked = 0
    try:
        for k in range(n):
            lines = {}  # line_id -> [price Decimal, quantity, cancelled]
            items = []
            for i in range(rng.randint(1, 4)):
                cents, q = rng.randint(0, 99999), rng.randint(1, 9)
                items.append((f"p{i}", q, price_text(rng, cents)))
                lines[f"l{i + 1}"] = [Decimal(cents) / 100, q, 0]
            next_no = len(items)
            resp = raw_post(h, "/api/orders", user, order_body(items))
            ensure(resp.status == 201, f"seed {seed} order {k}: create {items}: {resp!r}")
            order = resp.json()
            model_check(order, lines, f"seed {seed} order {k} created from {items}")
            checked += 1
            steps = []
            for _ in range(rng.randint(1, 4)):
                kind = rng.random()
                if kind < 0.4:
                    cents, q = rng.randint(0, 99999), rng.randint(1, 9)
                    pt = price_text(rng, cents)
                    steps.append('{"op":"add_item","product_id":"n%d","quantity":%d,"price":%s}' % (next_no, q, pt))
                    next_no += 1
                    lines[f"l{next_no}"] = [Decimal(cents) / 100, q, 0]
                elif kind < 0.8:
                    lid = rng.choice(sorted(lines))
                    q = rng.randint(1, 9)
                    steps.append('{"op":"set_quantity","line_id":"%s","quantity":%d}' % (lid, q))
                    lines[lid][1] = q
                elif len(lines) > 1:
                    lid = rng.choice(sorted(lines))
                    steps.append('{"op":"remove_item","line_id":"%s"}' % lid)
                    del lines[lid]
            if steps:
                resp = raw_post(h, f"/api/orders/{order['id']}/edit", user, '{"operations":[%s]}' % ",".join(steps))
                ensure(resp.status == 200, f"seed {seed} order {k}: edit {steps}: {resp!r}")
                model_check(resp.json(), lines, f"seed {seed} order {k} after edit {steps}")
                checked += 1
            for _ in range(rng.randint(0, 2)):
                open_ids = [lid for lid, (p, q, c) in lines.items() if q > c]
                if not open_ids:
                    break
                lid = rng.choice(open_ids)
                take = rng.randint(1, lines[lid][1] - lines[lid][2])
                resp = raw_post(h, f"/api/orders/{order['id']}/cancel", user,
                                '{"lines":[{"line_id":"%s","quantity":%d}]}' % (lid, take))
                ensure(resp.status == 200, f"seed {seed} order {k}: cancel {take} of {lid}: {resp!r}")
                lines[lid][2] += take
                doc = resp.json()
                model_check(doc, lines, f"seed {seed} order {k} after cancelling {take} of {lid}")
                want_status = "cancelled" if all(q == c for p, q, c in lines.values()) else "pending"
                ensure_eq(doc["status"], want_status, f"seed {seed} order {k}: status")
                checked += 1
    finally:
        h.close()
    return checked


def model_check(order, lines, what):
    got = {it["line_id"]: (m(it["price"]), it["quantity"], it["cancelled_quantity"]) for it in order["items"]}
    want = {lid: tuple(v) for lid, v in lines.items()}
    ensure_eq(got, want, f"{what}: lines")
    total = sum((p * (q - c) for p, q, c in lines.values()), Decimal(0))
    ensure_eq(m(order["total"]), total, f"{what}: total")
    if "total_minor" in order:
        ensure_eq(order["total_minor"], int(total * 100), f"{what}: total_minor")


@once
def test_exact_totals_500_randomized_orders(ctx):
    per, workers = 125, 4
    counts = run_threads(workers, lambda i: random_totals_worker(ctx.server, 1300 + i, per, ctx.user(f"rand{i}")))
    return f"{per * workers} orders, {sum(counts)} answers equal to the Decimal model"


def refund_worker(srv, token, seed, n, user):
    rng = random.Random(seed)
    h = srv.http()
    auth = {"Authorization": f"Bearer {token}"}
    accepted = refused = 0
    try:
        for k in range(n):
            items, lines = [], {}
            for i in range(rng.randint(1, 3)):
                cents, q = rng.randint(1, 5000), rng.randint(1, 5)
                items.append((f"p{i}", q, f"{Decimal(cents) / 100:.2f}"))
                lines[f"l{i + 1}"] = {"price": cents, "q": q, "c": 0, "refunded": 0}
            order = raw_post(h, "/api/orders", user, order_body(items)).json()
            oid = order["id"]
            if rng.random() < 0.5:  # a partial cancel first: what was paid drops
                lid = rng.choice(sorted(lines))
                if lines[lid]["q"] > 1:
                    ensure_eq(h.request("POST", f"/api/orders/{oid}/cancel", user,
                                        {"lines": [{"line_id": lid, "quantity": 1}]}).status, 200, "cancel")
                    lines[lid]["c"] = 1
            total = sum(v["price"] * (v["q"] - v["c"]) for v in lines.values())
            refunded = 0
            for a in range(rng.randint(3, 10)):
                if rng.random() < 0.4:
                    amount = rng.randint(1, max(1, total // 2 + 100))
                    body, want_ok = {"amount": float(Decimal(amount) / 100)}, amount <= total - refunded
                    spent = {}
                else:
                    want_ok, spent, req = True, {}, []
                    for lid in rng.sample(sorted(lines), rng.randint(1, len(lines))):
                        v = lines[lid]
                        qty = rng.randint(1, v["q"]) if rng.random() < 0.7 else None
                        req.append({"line_id": lid} if qty is None else {"line_id": lid, "quantity": qty})
                        eff = v["q"] - v["c"] if qty is None else qty
                        if eff > v["q"] - v["c"] or spent.get(lid, 0) + eff > v["q"] - v["c"]:
                            want_ok = False
                        spent[lid] = spent.get(lid, 0) + v["price"] * eff
                        if v["refunded"] + spent[lid] > v["price"] * (v["q"] - v["c"]):
                            want_ok = False
                    amount = sum(spent.values())
                    if refunded + amount > total:
                        want_ok = False
                    body = {"lines": req}
                r = h.request("POST", f"/api/orders/{oid}/refunds", None, body, dict(auth))
                what = f"seed {seed} order {k} attempt {a}: {body} with lines {lines}, refunded {refunded}: {r!r}"
                ensure(r.status in (201, 422), what)
                ensure_eq(r.status == 201, want_ok, f"accepted? {what}")
                if r.status == 201:
                    accepted += 1
                    refunded += amount
                    for lid, amt in spent.items():
                        lines[lid]["refunded"] += amt
                else:
                    refused += 1
                doc = h.get(user, oid).json()
                ensure_eq(doc["refunded_total_minor"], refunded, f"refunded_total_minor: {what}")
                ensure(refunded <= total, f"refunded more than the total: {what}")
                per_line = {}
                for rf in doc["refunds"]:
                    for part in rf["lines"]:
                        per_line[part["line_id"]] = per_line.get(part["line_id"], Decimal(0)) + m(part["amount"])
                for lid, amt in per_line.items():
                    v = lines[lid]
                    ensure(amt * 100 <= v["price"] * (v["q"] - v["c"]), f"{lid} refunded {amt}: {what}")
    finally:
        h.close()
    return accepted, refused


@once
def test_refund_never_exceeds_what_was_paid(ctx):
    res = run_threads(3, lambda i: refund_worker(ctx.server, ctx.token, 700 + i, 20, ctx.user(f"rfr{i}")))
    acc, ref = sum(a for a, _ in res), sum(b for _, b in res)
    ensure(acc > 20 and ref > 20, f"the attempts should mix accepted and refused: {acc} accepted, {ref} refused")
    return f"60 orders, {acc} refunds accepted, {ref} refused, as the model said"


@once
def test_concurrent_refunds_never_exceed_the_total(ctx):
    user, h = ctx.user("rfrace"), ctx.server.http()
    auth = {"Authorization": f"Bearer {ctx.token}"}
    conns = [Http(ctx.server.port) for _ in range(8)]
    try:
        for rnd in range(10):
            oid = raw_post(h, "/api/orders", user, order_body([("a", 3, "1.00"), ("b", 1, "7.00")])).json()["id"]
            # by amount (3.00 each: 3 fit in 10.00) and by lines (l2 can be refunded once) at once
            bodies = [{"amount": 3} if i % 2 == 0 else {"lines": [{"line_id": "l2"}]} for i in range(8)]
            got = run_threads(8, lambda i: conns[i].request("POST", f"/api/orders/{oid}/refunds", None, bodies[i],
                                                            dict(auth)))
            ensure(all(r.status in (201, 422) for r in got), f"round {rnd}: {got}")
            doc = h.get(user, oid).json()
            ok = [bodies[i] for i, r in enumerate(got) if r.status == 201]
            want = sum(300 if "amount" in b else 700 for b in ok)
            ensure_eq((doc["refunded_total_minor"], len(doc["refunds"])), (want, len(ok)), f"round {rnd}: {ok}")
            ensure(want <= 1000, f"round {rnd}: refunded {want} of 1000")
            ensure(sum(1 for b in ok if "lines" in b) <= 1, f"round {rnd}: l2 refunded twice: {ok}")
    finally:
        for c in conns + [h]:
            c.close()


# --------------------------------------------------------------------------
# Durability and the return window
# --------------------------------------------------------------------------

class Killable:
    """One server restarted with kill -9 on the same data directory."""

    def __init__(self, ctx, args=()):
        self.ctx = ctx
        self.srv = Server(ctx.binary, args=list(args), workdir=ctx.workdir, name="orderd-kill").start()
        self.token = read_token(self.srv)

    def restart(self, args=None):
        self.srv.kill9()
        self.srv = Server(self.ctx.binary, self.srv.data_dir, self.srv.extra_args if args is None else args,
                          workdir=self.ctx.workdir, name="orderd-kill").start()

    def ops(self, proto, user):
        return Ops(Client(self.srv.base_url, proto, self.ctx.workdir), self.token, user)


def check_retry(o, oid, op, tag, first, what):
    label, who, suffix, body, want = op
    r = op_request(o, oid, label, who, suffix, body, want, tag)
    ensure_eq((r.status, r.header("idempotent-replayed")), (want, "true"), f"{what}: retry of {label}")
    if first is not None and r.body != first:
        want, got = json.loads(first), json.loads(r.body)
        raise TestFailure(f"{what}: retry of {label} should answer the first answer (version {want.get('version')}, "
                          f"status {want.get('status')}), got version {got.get('version')}, status "
                          f"{got.get('status')}: {r.body[:160]!r}...")


@once
def test_every_operation_survives_kill9_and_replay(ctx):
    k = Killable(ctx)
    try:
        runs = []
        for proto in PROTOCOLS:
            user, tag = f"kill.{proto}", f"k-{proto}"
            o = k.ops(proto, user)
            oid = o.create()["id"]
            answers = []
            for op in OPERATIONS:
                label = op[0]
                r = op_request(o, oid, *op, tag)
                expect(r, op[4])
                answers.append(r.body)
                events = o.events(oid)
                k.restart()  # kill -9 right after the answer: the operation is in the journal
                o = k.ops(proto, user)
                now = o.c.request("GET", f"/api/orders/{oid}", user=user)
                ensure_eq(json.loads(now.body), json.loads(r.body), f"[{proto}] {label}: the order after kill -9")
                ensure_eq(o.events(oid), events, f"[{proto}] {label}: the trail after kill -9")
                if label != "processing":
                    check_retry(o, oid, op, tag, r.body, f"[{proto}] {label} after kill -9")
            runs.append((proto, user, tag, oid, answers, o.get(oid), o.events(oid)))
        # once more from a snapshot, which must carry every operation, trail and key
        k.restart(["--snapshot-bytes", "4096"])
        c = Client(k.srv.base_url, "http1.1", ctx.workdir)
        for _ in range(12):
            expect(c.request("POST", "/api/orders", user="filler", body=order_body(STD_ITEMS * 10)), 201)
        ensure(any("snap" in n for n in os.listdir(k.srv.data_dir)), f"a snapshot: {os.listdir(k.srv.data_dir)}")
        k.restart()
        for proto, user, tag, oid, answers, final, events in runs:
            o = k.ops(proto, user)
            ensure_eq(o.get(oid), final, f"[{proto}] the order after a snapshot and kill -9")
            ensure_eq(o.events(oid), events, f"[{proto}] the trail after a snapshot and kill -9")
            sub = SubChecks()
            for op, first in zip(OPERATIONS, answers):
                if op[0] != "processing":  # the last operation's answer is the order as it is
                    sub.run(op[0], check_retry, o, oid, op, tag, first if op is OPERATIONS[-1] else None,
                            f"[{proto}] after a snapshot")
            sub.done()
            ensure_eq(o.get(oid), final, f"[{proto}] retries change nothing")
    finally:
        k.srv.kill9()
    return f"{len(OPERATIONS)} operations x {len(PROTOCOLS)} protocols, each followed by kill -9; then a snapshot"


@once
def test_retry_after_later_operations_answers_the_first_answer(ctx):
    """The contract (spec: "a retry with the same key and body gets the first
    answer") after later operations changed the order, and after kill -9."""
    k = Killable(ctx)
    try:
        o = k.ops("http1.1", "later")
        oid = o.create()["id"]
        answers = [op_request(o, oid, *op, "l").body for op in OPERATIONS]
        k.restart()
        o = k.ops("http1.1", "later")
        sub = SubChecks()
        for op, first in zip(OPERATIONS, answers):
            if op[0] != "processing":
                sub.run(op[0], check_retry, o, oid, op, "l", first, "after later operations and kill -9")
        sub.done()
    finally:
        k.srv.kill9()


@once
def test_return_window(ctx):
    srv = Server(ctx.binary, args=["--return-window", "0"], workdir=ctx.workdir, name="orderd-window").start()
    try:
        o = Ops(Client(srv.base_url, "http1.1", ctx.workdir), read_token(srv), "window")
        doc = o.delivered_order()
        time.sleep(0.05)
        d = conflict(o.customer(doc["id"], "/returns", {"lines": [{"line_id": "l1"}]}), "delivered",
                     "its return window closed at")
        ensure(str(doc["updated_at"])[:10] in d["detail"], f"the closing time is the delivery's: {d['detail']!r}")
        ensure_eq(o.get(doc["id"])["returns"], [], "no return made")
    finally:
        srv.kill9()
    for bad in ("-1", "3651", "ten"):
        s = Server(ctx.binary, args=["--return-window", bad], workdir=ctx.workdir, name="orderd-badwindow")
        s.start(expect_listen=False)
        rc = s.wait_exit(10)
        if rc is None:
            s.kill9()
        ensure(rc not in (None, 0), f"--return-window {bad}: exit status {rc}, stderr {s.tail(3)}")
    s = Server(ctx.binary, args=["--return-window", "3650"], workdir=ctx.workdir, name="orderd-maxwindow").start()
    s.kill9()


if __name__ == "__main__":
    sys.exit(run_suite(__doc__, SUITE, PROTOCOLS, Ctx, OpenAPIChecker(), prefix="orderd-opsm-"))
