#!/usr/bin/env python3
"""Black-box tests of the checkout-grade API: request ids, ETags and
conditional requests, cursors, Link headers and status lists, the operator's
fulfilment transitions and queue, the audit trail, and idempotency keys
(including 16 concurrent requests with one key and a retry after kill -9).

Every per-protocol test runs over HTTP/1.1, h2c with prior knowledge and h2c
upgrade; every checked response body is validated against docs/openapi.yaml.

    python3 tests/integration/checkout_test.py --orderd build/orderd [-k SUBSTRING]

Prints one line per test and finally exactly `N passed, N failed, N skipped`;
exits non-zero on any failure.  The harness is orderd_harness.py.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from openapi_check import OpenAPIChecker  # noqa: E402
from orderd_harness import (  # noqa: E402
    ALL_PROTOCOLS, Client, Registry, Server, SubChecks, ensure, ensure_eq, expect, run_suite, run_threads,
)

BODY = json.dumps({"items": [{"product_id": "sku-1", "quantity": 2, "price": 10.99}],
                   "shipping_address": "1 Main St", "payment_method": "card"})
OTHER_BODY = json.dumps({"items": [{"product_id": "sku-2", "quantity": 1, "price": 5.00}],
                         "shipping_address": "1 Main St", "payment_method": "card"})
LINK_RE = re.compile(r'<([^>]*)>\s*;\s*rel="(next|prev)"')

PROTOCOL_TESTS, GLOBAL_TESTS = [], []


def per_protocol(fn):
    PROTOCOL_TESTS.append(fn)
    return fn


def once(fn):
    GLOBAL_TESTS.append(fn)
    return fn


class Ctx:
    def __init__(self, binary, workdir, server):
        self.binary, self.workdir, self.server = binary, workdir, server
        self._n = 0
        self._lock = threading.Lock()
        with open(os.path.join(server.data_dir, "operator-token")) as f:
            self.token = f.read().strip()

    def client(self, proto, server=None):
        return Client((server or self.server).base_url, proto, self.workdir)

    def user(self, tag, proto):
        with self._lock:
            self._n += 1
            return f"{tag}.{self._n}.{proto}"


def create(c, user, body=BODY, key=None, headers=(), want=201):
    h = list(headers) + ([f"Idempotency-Key: {key}"] if key is not None else [])
    resp = c.request("POST", "/api/orders", user=user, body=body, headers=h)
    doc = expect(resp, want)
    return resp, doc


def op_headers(token):
    return [f"Authorization: Bearer {token}"]


def set_status(c, token, oid, status, headers=()):
    return c.request("POST", f"/api/orders/{oid}/status", body=json.dumps({"status": status}),
                     headers=op_headers(token) + list(headers))


def links(resp):
    """rel -> the link's path and query; the links must be absolute URLs on
    the server that answered (the request's own scheme and Host)."""
    out = {}
    origin = resp.url.split("/api/")[0]
    for url, rel in LINK_RE.findall(resp.header("link") or ""):
        ensure(url.startswith(origin + "/"), f"rel={rel} link {url!r} is not an absolute URL on {origin}")
        out[rel] = url[len(origin):]
    return out


def count_orders(c, user):
    return expect(c.request("GET", "/api/orders?limit=100", user=user), 200)["total"]


# --------------------------------------------------------------------------
# X-Request-Id
# --------------------------------------------------------------------------

@per_protocol
def test_request_id_echoed_and_in_problems(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("rid", proto)
    resp, _ = create(c, user, headers=["X-Request-Id: abc-123"])
    ensure_eq(resp.header("x-request-id"), "abc-123", "echoed X-Request-Id")
    resp = c.request("GET", "/api/orders/0000000000000", user=user, headers=["X-Request-Id: req-404"])
    doc = expect(resp, 404)
    ensure_eq((resp.header("x-request-id"), doc.get("instance")), ("req-404", "req-404"), "header and instance")
    a = c.request("GET", "/nowhere", user=user)
    b = c.request("GET", "/nowhere", user=user)
    ida, idb = a.header("x-request-id"), b.header("x-request-id")
    ensure(ida and idb and ida != idb, f"made-up request ids {ida!r}, {idb!r} must exist and differ")
    ensure_eq(expect(a, 404)["instance"], ida, "instance of a made-up id")
    resp = c.request("GET", "/healthz", headers=["X-Request-Id: " + "x" * 201])
    ensure(resp.header("x-request-id") not in (None, "x" * 201), "an over-long X-Request-Id is replaced")


# --------------------------------------------------------------------------
# ETag, If-None-Match, If-Match
# --------------------------------------------------------------------------

@per_protocol
def test_etag_and_if_none_match(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("etag", proto)
    resp, doc = create(c, user)
    oid = doc["id"]
    tag = f'"{oid}-1"'
    ensure_eq(resp.header("etag"), tag, "ETag of the created order")
    got = c.request("GET", f"/api/orders/{oid}", user=user)
    expect(got, 200)
    ensure_eq(got.header("etag"), tag, "ETag of GET")
    sub = SubChecks()
    for inm in (tag, "*", f'"x", {tag}', f"W/{tag}"):
        def nm(inm=inm):
            r = c.request("GET", f"/api/orders/{oid}", user=user, headers=[f"If-None-Match: {inm}"], check=False)
            ensure_eq(r.status, 304, f"If-None-Match {inm}")
            ensure_eq(r.body, b"", "304 body")
            ensure_eq(r.header("etag"), tag, "304 ETag")
        sub.run(inm, nm)
    sub.run("other tag", lambda: expect(c.request("GET", f"/api/orders/{oid}", user=user,
                                                  headers=[f'If-None-Match: "{oid}-2"']), 200))
    sub.run("W/* is no star", lambda: expect(c.request("GET", f"/api/orders/{oid}", user=user,
                                                       headers=["If-None-Match: W/*"]), 200))
    sub.done()


@per_protocol
def test_if_match_on_cancel(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("ifm", proto)
    _, doc = create(c, user)
    oid = doc["id"]
    # "-01" is another entity tag than "-1": tags compare as strings (tests/fuzz/conditional_fuzz.c)
    # and W/* is no "*" (RFC 9110 13.1.1)
    for bad in (f'"{oid}-2"', f'W/"{oid}-1"', '"0000000000000-1"', "garbage", f'"{oid}-01"', "W/*"):
        r = c.request("POST", f"/api/orders/{oid}/cancel", user=user, headers=[f"If-Match: {bad}"])
        expect(r, 412)
        ensure_eq(r.header("etag"), f'"{oid}-1"', "412 names the current ETag")
    ensure_eq(expect(c.request("GET", f"/api/orders/{oid}", user=user), 200)["status"], "pending",
              "status after 412s")
    r = c.request("POST", f"/api/orders/{oid}/cancel", user=user, headers=[f'If-Match: "x", "{oid}-1"'])
    ensure_eq(expect(r, 200)["version"], 2, "version after a matching If-Match")
    ensure_eq(r.header("etag"), f'"{oid}-2"', "ETag after cancel")
    r = c.request("POST", f"/api/orders/{oid}/cancel", user=user, headers=["If-Match: *"])
    expect(r, 200)


# --------------------------------------------------------------------------
# Pagination: Link, after/before, status lists
# --------------------------------------------------------------------------

@per_protocol
def test_links_and_cursors(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("page", proto)
    ids = [create(c, user)[1]["id"] for _ in range(5)]  # oldest first
    newest = ids[::-1]
    r = c.request("GET", "/api/orders?limit=2", user=user)
    page = expect(r, 200)
    ensure_eq([o["id"] for o in page["orders"]], newest[:2], "first page")
    ensure_eq(set(links(r)), {"next"}, "links of the first page")
    r2 = c.request("GET", links(r)["next"], user=user)
    ensure_eq([o["id"] for o in expect(r2, 200)["orders"]], newest[2:4], "page via rel=next")
    ensure_eq(set(links(r2)), {"next", "prev"}, "links of a middle page")
    r3 = c.request("GET", links(r2)["next"], user=user)
    ensure_eq([o["id"] for o in expect(r3, 200)["orders"]], newest[4:], "last page")
    ensure_eq(set(links(r3)), {"prev"}, "links of the last page")
    ensure_eq(links(c.request("GET", "/api/orders?limit=10", user=user)), {}, "a single page has no Link")
    # cursors stay put while new orders arrive
    r = c.request("GET", f"/api/orders?limit=2&after={newest[1]}", user=user)
    ensure_eq([o["id"] for o in expect(r, 200)["orders"]], newest[2:4], "after cursor")
    ensure_eq(expect(r, 200)["offset"], 2, "offset of a cursor page")
    create(c, user)
    r = c.request("GET", f"/api/orders?limit=2&after={newest[1]}", user=user)
    ensure_eq([o["id"] for o in expect(r, 200)["orders"]], newest[2:4], "after cursor once a new order arrived")
    ensure("after=" in links(r)["next"] and "before=" in links(r)["prev"], f"cursor links {links(r)}")
    prev = c.request("GET", links(r)["prev"], user=user)
    ensure_eq([o["id"] for o in expect(prev, 200)["orders"]][-1], newest[1], "rel=prev of a cursor page")
    r = c.request("GET", f"/api/orders?limit=2&after={newest[3]}", user=user)
    ensure_eq([o["id"] for o in expect(r, 200)["orders"]], newest[4:], "last cursor page")
    ensure("next" not in links(r), "no rel=next on the last cursor page")
    # links name the host the client asked for; a Host that is not host[:port] gives relative links
    r = c.request("GET", "/api/orders?limit=2", user=user, headers=["Host: shop.example:8443"])
    ensure((r.header("link") or "").startswith("<http://shop.example:8443/api/orders?limit=2&offset=2>"),
           f"Link with another Host: {r.header('link')!r}")
    r = c.request("GET", "/api/orders?limit=2", user=user, headers=["Host: a<b"])
    ensure((r.header("link") or "").startswith("</api/orders?limit=2&offset=2>"),
           f"Link with an odd Host: {r.header('link')!r}")


@per_protocol
def test_status_list_filter(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("stl", proto)
    a, b, d = (create(c, user)[1]["id"] for _ in range(3))
    expect(c.request("POST", f"/api/orders/{b}/cancel", user=user), 200)
    expect(set_status(c, ctx.token, d, "processing"), 200)
    page = expect(c.request("GET", "/api/orders?status=pending,cancelled", user=user), 200)
    ensure_eq([o["id"] for o in page["orders"]], [b, a], "pending,cancelled newest first")
    ensure_eq(page["total"], 2, "total")
    page = expect(c.request("GET", "/api/orders?status=processing", user=user), 200)
    ensure_eq([o["id"] for o in page["orders"]], [d], "processing")
    # a long list is echoed whole in both links (it once ran the Link
    # buffer's offsets past its end: the header carried heap bytes)
    many = ",".join(["pending", "cancelled", "processing"] * 234)
    r = c.request("GET", f"/api/orders?limit=1&offset=1&status={many}", user=user)
    ensure_eq(expect(r, 200)["total"], 3, "total with a status list of 702 names")
    want = {"next": f"/api/orders?limit=1&status={many}&offset=2",
            "prev": f"/api/orders?limit=1&status={many}&offset=0"}
    ensure(links(r) == want and len(r.header("link")) < 2 * len(many) + 200,
           f"Link of a 702-name status list: {r.header('link')[:300]!r}... ({len(r.header('link'))} bytes)")
    sub = SubChecks()
    for q in ("status=pending,", "status=,pending", "status=pending,bogus", "offset=1&after=" + a,
              "after=nothex", "before=" + a + "&after=" + a, "after="):
        sub.run(q, lambda q=q: expect(c.request("GET", "/api/orders?" + q, user=user), 400))
    sub.done()


# --------------------------------------------------------------------------
# The operator
# --------------------------------------------------------------------------

@per_protocol
def test_operator_auth(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("auth", proto)
    oid = create(c, user)[1]["id"]
    path = f"/api/orders/{oid}/status"
    body = json.dumps({"status": "processing"})
    sub = SubChecks()
    for label, hdrs, want in [("none", [f"X-User-Id: {user}"], 401),
                              ("basic", ["Authorization: Basic dXNlcjpwdw=="], 401),
                              ("bare bearer", ["Authorization: Bearer"], 401),
                              ("wrong", ["Authorization: Bearer " + "0" * 64], 403),
                              ("prefix", ["Authorization: Bearer " + ctx.token[:-1]], 403)]:
        sub.run(label, lambda h=hdrs, w=want: expect(c.request("POST", path, body=body, headers=h), w))
    sub.run("admin none", lambda: expect(c.request("GET", "/api/admin/orders"), 401))
    sub.run("admin wrong", lambda: expect(c.request("GET", "/api/admin/orders",
                                                    headers=["Authorization: Bearer nope-nope-nope-nope"]), 403))
    sub.done()
    ensure_eq(expect(c.request("GET", f"/api/orders/{oid}", user=user), 200)["status"], "pending",
              "no change without the operator's token")


@per_protocol
def test_fulfilment_transitions(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("ful", proto)
    oid = create(c, user)[1]["id"]
    # skips and unknown values first, while pending
    r = set_status(c, ctx.token, oid, "shipped")
    ensure("pending" in expect(r, 409)["detail"], f"409 names the current status: {r!r}")
    expect(set_status(c, ctx.token, oid, "pending"), 409)
    expect(set_status(c, ctx.token, oid, "cancelled"), 409)
    doc = expect(set_status(c, ctx.token, oid, "teleported"), 422)
    ensure_eq([e["field"] for e in doc["errors"]], ["status"], "422 names status")
    expect(c.request("POST", f"/api/orders/{oid}/status", body="{", headers=op_headers(ctx.token)), 400)
    expect(c.request("POST", f"/api/orders/{oid}/status", body="{}", headers=op_headers(ctx.token)), 422)
    version = 1
    for step in ("processing", "shipped", "delivered"):
        r = set_status(c, ctx.token, oid, step)
        doc = expect(r, 200)
        version += 1
        ensure_eq((doc["status"], doc["version"]), (step, version), f"after {step}")
        ensure_eq(r.header("etag"), f'"{oid}-{version}"', "ETag of a status change")
        if step == "processing":
            r = c.request("POST", f"/api/orders/{oid}/cancel", user=user)
            ensure("processing" in expect(r, 409)["detail"], "a customer cannot cancel a processing order")
            ensure("processing" in expect(set_status(c, ctx.token, oid, "pending"), 409)["detail"], "going back")
    for step in ("processing", "shipped", "delivered", "pending"):
        ensure("delivered" in expect(set_status(c, ctx.token, oid, step), 409)["detail"], f"delivered -> {step}")
    cancelled = create(c, user)[1]["id"]
    expect(c.request("POST", f"/api/orders/{cancelled}/cancel", user=user), 200)
    ensure("cancelled" in expect(set_status(c, ctx.token, cancelled, "processing"), 409)["detail"],
           "a cancelled order stays cancelled")
    expect(set_status(c, ctx.token, "0000000000000", "processing"), 404)
    r = set_status(c, ctx.token, cancelled, "processing", headers=[f'If-Match: "{cancelled}-1"'])
    expect(r, 412)


@per_protocol
def test_admin_queue_oldest_first(ctx, proto):
    c = ctx.client(proto)
    users = [ctx.user("q", proto) for _ in range(3)]
    mine = [create(c, users[i % 3])[1]["id"] for i in range(6)]
    seen, url = [], "/api/admin/orders?status=pending&limit=3"
    for _ in range(1000):
        r = c.request("GET", url, headers=op_headers(ctx.token))
        page = expect(r, 200)
        ensure(all(o["status"] == "pending" for o in page["orders"]), "only pending orders")
        seen += [o["id"] for o in page["orders"]]
        if "next" not in links(r):
            break
        url = links(r)["next"]
    ensure_eq(seen, sorted(seen), "oldest first")
    got = [i for i in seen if i in mine]
    ensure_eq(got, mine, "every pending order of every user, in creation order")
    r = c.request("GET", f"/api/admin/orders?status=pending&limit=2&after={mine[0]}", headers=op_headers(ctx.token))
    ensure_eq([o["id"] for o in expect(r, 200)["orders"]][0], mine[1] if mine[1] in seen else None,
              "the page after a cursor")
    expect(c.request("POST", "/api/admin/orders", headers=op_headers(ctx.token)), 405)
    expect(c.request("GET", "/api/admin/orders?bogus=1", headers=op_headers(ctx.token)), 400)
    expect(c.request("GET", "/api/admin/other", headers=op_headers(ctx.token)), 404)


# --------------------------------------------------------------------------
# Audit trail
# --------------------------------------------------------------------------

@per_protocol
def test_events(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("ev", proto)
    oid = create(c, user)[1]["id"]
    expect(set_status(c, ctx.token, oid, "processing"), 200)
    expect(set_status(c, ctx.token, oid, "shipped"), 200)
    ev = expect(c.request("GET", f"/api/orders/{oid}/events", user=user), 200)["events"]
    ensure_eq([(e["seq"], e["type"], e["status"], e["actor"]) for e in ev],
              [(1, "created", "pending", f"user:{user}"), (2, "status_changed", "processing", "operator"),
               (3, "status_changed", "shipped", "operator")], "events")
    ensure_eq([e["at"] for e in ev], sorted(e["at"] for e in ev), "times oldest first")
    other = create(c, user)[1]["id"]
    expect(c.request("POST", f"/api/orders/{other}/cancel", user=user), 200)
    ev = expect(c.request("GET", f"/api/orders/{other}/events", user=user), 200)["events"]
    ensure_eq([(e["status"], e["actor"]) for e in ev], [("pending", f"user:{user}"), ("cancelled", f"user:{user}")],
              "a customer's cancel")
    expect(c.request("GET", f"/api/orders/{oid}/events", user=user + "x"), 404)
    expect(c.request("GET", "/api/orders/0000000000000/events", user=user), 404)
    expect(c.request("GET", "/api/orders/short/events", user=user), 404)
    expect(c.request("POST", f"/api/orders/{oid}/events", user=user), 405)
    expect(c.request("GET", f"/api/orders/{oid}/events"), 401)


# --------------------------------------------------------------------------
# Idempotency keys
# --------------------------------------------------------------------------

@per_protocol
def test_idempotent_create(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("idem", proto)
    first, doc = create(c, user, key="k-1")
    ensure(first.header("idempotent-replayed") is None, "a first answer is not marked replayed")
    for path in ("/api/orders", "/api/orders/create"):
        again = c.request("POST", path, user=user, body=BODY, headers=["Idempotency-Key: k-1"])
        doc2 = expect(again, 201)
        ensure_eq(again.header("idempotent-replayed"), "true", "Idempotent-Replayed")
        ensure_eq(doc2, doc, "the replayed body is the first answer's")
        ensure_eq(again.header("location"), first.header("location"), "Location of the replay")
    ensure_eq(count_orders(c, user), 1, "orders after replays")
    r = c.request("POST", "/api/orders", user=user, body=OTHER_BODY, headers=["Idempotency-Key: k-1"])
    expect(r, 422)
    ensure_eq(count_orders(c, user), 1, "orders after a mismatched key")
    # the key is the user's own: another user's same key is a new order
    _, other = create(c, user + "b", key="k-1")
    ensure(other["id"] != doc["id"], "keys are per user")
    # the replay shows the order as the first answer did, even after a change
    expect(c.request("POST", f"/api/orders/{doc['id']}/cancel", user=user), 200)
    again = c.request("POST", "/api/orders", user=user, body=BODY, headers=["Idempotency-Key: k-1"])
    ensure_eq((expect(again, 201)["status"], expect(again, 201)["version"]), ("pending", 1), "replay after cancel")
    sub = SubChecks()
    for bad in ("", "x" * 256, "caf\u00e9"):
        sub.run(repr(bad[:8]), lambda b=bad: expect(c.request("POST", "/api/orders", user=user, body=BODY,
                                                              headers=[f"Idempotency-Key: {b}"
                                                                       if b else "Idempotency-Key;"]), 400))
    sub.run("twice", lambda: expect(c.request("POST", "/api/orders", user=user, body=BODY,
                                              headers=["Idempotency-Key: a", "Idempotency-Key: b"]), 400))
    sub.run("255 bytes ok", lambda: create(c, user, key="k" * 255))
    sub.done()


@per_protocol
def test_idempotent_cancel(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("idc", proto)
    oid = create(c, user)[1]["id"]
    r1 = c.request("POST", f"/api/orders/{oid}/cancel", user=user, headers=["Idempotency-Key: c-1"])
    d1 = expect(r1, 200)
    r2 = c.request("POST", f"/api/orders/{oid}/cancel", user=user, headers=["Idempotency-Key: c-1"])
    ensure_eq((expect(r2, 200), r2.header("idempotent-replayed")), (d1, "true"), "replayed cancel")
    other = create(c, user)[1]["id"]
    expect(c.request("POST", f"/api/orders/{other}/cancel", user=user, headers=["Idempotency-Key: c-1"]), 422)
    ensure_eq(expect(c.request("GET", f"/api/orders/{other}", user=user), 200)["status"], "pending",
              "a mismatched key changes nothing")


@per_protocol
def test_idempotent_concurrent_one_order(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("race", proto)

    def one(i):
        return c.request("POST", "/api/orders", user=user, body=BODY, headers=["Idempotency-Key: race"])
    results = run_threads(16, one)
    ids = set()
    for r in results:
        if r.status == 409:
            expect(r, 409)
            ensure_eq(r.header("retry-after"), "1", "Retry-After of an in-flight key")
        else:
            ids.add(expect(r, 201)["id"])
    ensure_eq(len(ids), 1, f"one order id over 16 answers ({[r.status for r in results]})")
    ensure_eq(count_orders(c, user), 1, "orders after 16 concurrent requests with one key")
    ensure_eq(sum(r.header("idempotent-replayed") == "true" for r in results if r.status == 201),
              sum(r.status == 201 for r in results) - 1, "all but the first answer are replays")


# --------------------------------------------------------------------------
# Restarts: kill -9, snapshots, TTL, the token file
# --------------------------------------------------------------------------

def restart_killed(srv):
    """kill -9, then the same binary and flags on the same data directory."""
    srv.kill9()
    return srv.again().start()


@once
def test_key_and_events_survive_kill9_and_snapshot(ctx):
    srv = Server(ctx.binary, args=["--snapshot-bytes", "4096"], workdir=ctx.workdir, name="orderd-kill").start()
    try:
        with open(os.path.join(srv.data_dir, "operator-token")) as f:
            token = f.read().strip()
        for proto in ("http1.1", "h2c"):
            c = Client(srv.base_url, proto, ctx.workdir)
            user = f"kill.{proto}"
            _, doc = create(c, user, key="after-crash")
            expect(set_status(c, token, doc["id"], "processing"), 200)
            # enough traffic for a snapshot, which must carry keys and history too
            for _ in range(30):
                create(c, user + ".filler")
            srv = restart_killed(srv)
            c = Client(srv.base_url, proto, ctx.workdir)
            again = c.request("POST", "/api/orders", user=user, body=BODY, headers=["Idempotency-Key: after-crash"])
            ensure_eq(expect(again, 201)["id"], doc["id"], "the retried create returns the original order")
            ensure_eq(again.header("idempotent-replayed"), "true", "Idempotent-Replayed after a restart")
            ensure_eq(count_orders(c, user), 1, "still one order")
            ev = expect(c.request("GET", f"/api/orders/{doc['id']}/events", user=user), 200)["events"]
            ensure_eq([(e["status"], e["actor"]) for e in ev], [("pending", f"user:{user}"),
                                                               ("processing", "operator")], "events after restart")
        ensure(any("snapshot" in ln and "orders" in ln for ln in srv.lines) or
               any(n.endswith(".snap") for n in os.listdir(srv.data_dir)), "a snapshot was written")
    finally:
        srv.kill9()


@once
def test_idempotency_ttl_reclaims(ctx):
    srv = Server(ctx.binary, args=["--idempotency-ttl", "1s"], workdir=ctx.workdir, name="orderd-ttl").start()
    try:
        c = Client(srv.base_url, "http1.1", ctx.workdir)
        _, doc = create(c, "ttl", key="short")
        time.sleep(1.5)
        r = c.request("POST", "/api/orders", user="ttl", body=BODY, headers=["Idempotency-Key: short"])
        ensure(expect(r, 201)["id"] != doc["id"] and r.header("idempotent-replayed") is None,
               "an expired key makes a new order")
        srv = restart_killed(srv)
        c = Client(srv.base_url, "http1.1", ctx.workdir)
        time.sleep(1.2)
        r = c.request("POST", "/api/orders", user="ttl", body=BODY, headers=["Idempotency-Key: short"])
        ensure(r.header("idempotent-replayed") is None, "an expired key is not loaded at restart")
        ensure_eq(count_orders(c, "ttl"), 3, "orders")
    finally:
        srv.kill9()


@once
def test_operator_token_file(ctx):
    path = os.path.join(ctx.server.data_dir, "operator-token")
    ensure_eq(stat.S_IMODE(os.stat(path).st_mode), 0o600, "mode of the generated token file")
    ensure(any(path in ln for ln in ctx.server.lines), "the token file's path is logged")
    tok = os.path.join(ctx.workdir, "my-token")
    with open(tok, "w") as f:
        f.write("a-token-of-my-own-choosing\n")
    srv = Server(ctx.binary, args=["--operator-token-file", tok], workdir=ctx.workdir, name="orderd-tok").start()
    try:
        c = Client(srv.base_url, "h2c", ctx.workdir)
        expect(c.request("GET", "/api/admin/orders", headers=["Authorization: Bearer a-token-of-my-own-choosing"]),
               200)
        expect(c.request("GET", "/api/admin/orders", headers=[f"Authorization: Bearer {ctx.token}"]), 403)
        ensure(not os.path.exists(os.path.join(srv.data_dir, "operator-token")), "no token file made")
    finally:
        srv.kill9()


def main():
    suite = Registry()
    suite.protocol_tests, suite.global_tests = PROTOCOL_TESTS, GLOBAL_TESTS
    return run_suite(__doc__, suite, ALL_PROTOCOLS, Ctx, OpenAPIChecker(), prefix="orderd-co-")


if __name__ == "__main__":
    sys.exit(main())
