#!/usr/bin/env python3
"""Black-box tests of what the operator reads (issue 13, "Operators see what
they manage"): GET /api/orders/{id} and /events of any user's order with the
operator's bearer token (the token winning over X-User-Id, a wrong token
leaving the request a user's as before), and GET /api/admin/orders filtered
by user_id, product_id, created_after and created_before (strict bounds),
combined with status, limit, offset, the cursors, total and the Link header;
bad values are 400 problems; with --user-auth jwt the operator's token is
the operator's and any other bearer a user's JWT.

Every per-protocol test runs over HTTP/1.1, h2c with prior knowledge and h2c
upgrade; every checked response body is validated against docs/openapi.yaml.

    python3 tests/integration/operator_test.py --orderd build/orderd [-k SUBSTRING]

Prints one line per test and finally exactly `N passed, N failed, N skipped`;
exits non-zero on any failure.  The harness is orderd_harness.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, quote, urlsplit

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import Client, Server, SubChecks, Suite, ensure, ensure_eq, expect  # noqa: E402

LINK_RE = re.compile(r'<([^>]*)>\s*;\s*rel="(next|prev)"')
FILTERS = ("user_id", "product_id", "created_after", "created_before")

suite = Suite(__doc__)


class Ctx:
    def __init__(self, binary, workdir, server):
        self.binary, self.workdir, self.server = binary, workdir, server
        self._n = 0
        self._lock = threading.Lock()
        with open(os.path.join(server.data_dir, "operator-token")) as f:
            self.token = f.read().strip()

    def client(self, proto):
        return Client(self.server.base_url, proto, self.workdir)

    def name(self, tag, proto):
        """A user or product id no other test uses."""
        with self._lock:
            self._n += 1
            return f"{tag}.{self._n}.{proto}"


def body(*products):
    return json.dumps({"items": [{"product_id": p, "quantity": 1 + i, "price": 2.5} for i, p in enumerate(products)],
                       "shipping_address": "1 Main St", "payment_method": "card"})


def create(c, user, *products):
    return expect(c.request("POST", "/api/orders", user=user, body=body(*(products or ("sku-1",)))), 201)


def op(token):
    return [f"Authorization: Bearer {token}"]


def admin(c, token, **params):
    """GET /api/admin/orders with these query parameters (percent-encoded)."""
    q = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
    return c.request("GET", "/api/admin/orders" + ("?" + q if q else ""), headers=op(token))


def links(resp):
    """rel -> the link's path and query (absolute URLs on the server that answered)."""
    out = {}
    origin = resp.url.split("/api/")[0]
    for url, rel in LINK_RE.findall(resp.header("link") or ""):
        ensure(url.startswith(origin + "/"), f"rel={rel} link {url!r} is not an absolute URL on {origin}")
        out[rel] = url[len(origin):]
    return out


def link_filters(path):
    """The filters a link's query asks for, decoded."""
    q = parse_qs(urlsplit(path).query, keep_blank_values=True)
    return {k: v[0] for k, v in q.items() if k in FILTERS}


def ids(page):
    return [o["id"] for o in page["orders"]]


def walk(c, token, first, want_filters):
    """Follows rel="next" from `first` to the end, then rel="prev" back:
    every page's total the same and every link carrying the filters.
    Returns (ids forward, ids backward, total)."""
    forward, url, total, last = [], first, None, None
    for _ in range(100):
        r = c.request("GET", url, headers=op(token))
        page = expect(r, 200)
        total = page["total"] if total is None else total
        ensure_eq(page["total"], total, f"total on {url}")
        forward += ids(page)
        for rel, path in links(r).items():
            ensure_eq(link_filters(path), want_filters, f"the filters of the {rel} link of {url}")
        last = r
        if "next" not in links(r):
            break
        url = links(r)["next"]
    r = last
    backward = ids(expect(r, 200))
    while "prev" in links(r):
        r = c.request("GET", links(r)["prev"], headers=op(token))
        backward = ids(expect(r, 200)) + backward
    return forward, backward, total


# --------------------------------------------------------------------------
# GET /api/orders/{id} and /events with the operator's token
# --------------------------------------------------------------------------

@suite.per_protocol
def test_operator_reads_any_order(ctx, proto):
    c = ctx.client(proto)
    alice, bob = ctx.name("alice", proto), ctx.name("bob", proto)
    order = create(c, alice, "sku-a", "sku-b")
    oid = order["id"]
    path, events = f"/api/orders/{oid}", f"/api/orders/{oid}/events"
    mine = c.request("GET", path, user=alice)
    theirs = c.request("GET", path, headers=op(ctx.token))
    ensure_eq(expect(theirs, 200), expect(mine, 200), "the operator sees the order as its owner does")
    ensure_eq(theirs.header("etag"), mine.header("etag"), "ETag")
    ensure_eq(expect(c.request("GET", events, headers=op(ctx.token)), 200),
              expect(c.request("GET", events, user=alice), 200), "the audit trail")
    expect(c.request("HEAD", path, headers=op(ctx.token)), 200)
    expect(c.request("HEAD", events, headers=op(ctx.token)), 200)
    r = c.request("GET", path, headers=op(ctx.token) + [f"If-None-Match: {mine.header('etag')}"], check=False)
    ensure_eq((r.status, r.body, r.header("etag")), (304, b"", mine.header("etag")), "If-None-Match for the operator")
    for p in (path, events):
        expect(c.request("GET", p.replace(oid, "0000000000000"), headers=op(ctx.token)), 404)
        expect(c.request("GET", p.replace(oid, "not-an-id"), headers=op(ctx.token)), 404)
    # a status change shows up, actor operator, for both
    expect(c.request("POST", f"/api/orders/{oid}/status", body=json.dumps({"status": "processing"}),
                     headers=op(ctx.token)), 200)
    trail = expect(c.request("GET", events, headers=op(ctx.token)), 200)["events"]
    ensure_eq([(e["status"], e["actor"]) for e in trail], [("pending", f"user:{alice}"), ("processing", "operator")],
              "events read by the operator")


@suite.per_protocol
def test_who_is_asking(ctx, proto):
    """Both sent: a right token wins. No token or a wrong one: the request is
    the user's, exactly as before (404 for another's order, 401 without a
    user)."""
    c = ctx.client(proto)
    alice, bob = ctx.name("alice", proto), ctx.name("bob", proto)
    oid = create(c, alice)["id"]
    wrong = ["Authorization: Bearer " + "0" * 64]
    sub = SubChecks()
    for p in (f"/api/orders/{oid}", f"/api/orders/{oid}/events"):
        for label, user, hdrs, want in [
                ("owner", alice, [], 200),
                ("another user", bob, [], 404),
                ("another user with the token", bob, op(ctx.token), 200),
                ("the owner with the token", alice, op(ctx.token), 200),
                ("the owner with a wrong token", alice, wrong, 200),
                ("another user with a wrong token", bob, wrong, 404),
                ("a bad X-User-Id with the token", "bad id!", op(ctx.token), 200),
                ("a wrong token alone", None, wrong, 401),
                ("a Basic header alone", None, ["Authorization: Basic dXNlcjpwdw=="], 401),
                ("a prefix of the token", None, ["Authorization: Bearer " + ctx.token[:-1]], 401),
                ("nothing", None, [], 401)]:
            sub.run(f"{p} {label}", lambda u=user, h=hdrs, w=want, p=p: expect(c.request("GET", p, user=u, headers=h),
                                                                               w))
    sub.done()
    # the 401 says what it said before: it asks for X-User-Id
    doc = expect(c.request("GET", f"/api/orders/{oid}", headers=wrong), 401)
    ensure("X-User-Id" in doc["detail"], f"the 401 names X-User-Id: {doc}")
    # the token is no user: a user's list still needs X-User-Id
    expect(c.request("GET", "/api/orders", headers=op(ctx.token)), 401)
    ensure_eq(expect(c.request("GET", f"/api/orders/{oid}", user=alice), 200)["status"], "pending", "unchanged")
    # the operator may cancel any user's order (pending or processing), recorded as the operator's
    ensure_eq(expect(c.request("POST", f"/api/orders/{oid}/cancel", headers=op(ctx.token)), 200)["status"],
              "cancelled", "the operator's cancel")
    trail = expect(c.request("GET", f"/api/orders/{oid}/events", user=alice), 200)["events"]
    ensure_eq((trail[-1]["type"], trail[-1]["actor"]), ("status_changed", "operator"), "the cancel's actor")


# --------------------------------------------------------------------------
# GET /api/admin/orders filters
# --------------------------------------------------------------------------

@suite.per_protocol
def test_filter_by_user(ctx, proto):
    c = ctx.client(proto)
    users = [ctx.name("fu", proto) for _ in range(3)]
    made = {u: [] for u in users}
    for i in range(7):
        made[users[i % 3]].append(create(c, users[i % 3])["id"])
    for u in users:
        page = expect(admin(c, ctx.token, user_id=u), 200)
        ensure_eq(ids(page), made[u], f"{u}'s orders, oldest first")
        ensure_eq(page["total"], len(made[u]), "total")
        ensure(all(o["user_id"] == u for o in page["orders"]), "only that user's")
    expect(c.request("POST", f"/api/orders/{made[users[0]][0]}/cancel", user=users[0]), 200)
    page = expect(admin(c, ctx.token, user_id=users[0], status="pending"), 200)
    ensure_eq(ids(page), made[users[0]][1:], "user and status")
    page = expect(admin(c, ctx.token, user_id=users[0], status="cancelled,processing"), 200)
    ensure_eq(ids(page), made[users[0]][:1], "user and a status list")
    page = expect(admin(c, ctx.token, user_id=ctx.name("nobody", proto), offset=3), 200)
    ensure_eq((page["orders"], page["total"], page["offset"]), ([], 0, 3), "a user with no orders")


@suite.per_protocol
def test_filter_by_product(ctx, proto):
    c = ctx.client(proto)
    user = ctx.name("fp", proto)
    odd = ctx.name("sku 1/é&=?", proto)  # a product id that needs encoding
    plain = ctx.name("sku-plain", proto)
    a = create(c, user, odd)["id"]
    b = create(c, user, plain, odd)["id"]
    create(c, user, plain)
    other = create(c, ctx.name("fp-other", proto), odd)["id"]
    page = expect(admin(c, ctx.token, product_id=odd), 200)
    ensure_eq(ids(page), [a, b, other], "every order with a line of the product, oldest first")
    ensure_eq(page["total"], 3, "total")
    ensure(all(any(it["product_id"] == odd for it in o["items"]) for o in page["orders"]), "each has the product")
    ensure_eq(ids(expect(admin(c, ctx.token, product_id=odd, user_id=user), 200)), [a, b], "product and user")
    ensure_eq(expect(admin(c, ctx.token, product_id=odd[:-1]), 200)["total"], 0, "a prefix is another product")
    ensure_eq(expect(admin(c, ctx.token, product_id=ctx.name("none", proto)), 200)["total"], 0, "no such product")


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(t, offset_minutes=0):
    tz = timezone(timedelta(minutes=offset_minutes))
    s = t.astimezone(tz).isoformat(timespec="milliseconds")
    return s.replace("+00:00", "Z") if offset_minutes == 0 else s


@suite.per_protocol
def test_filter_by_creation_time(ctx, proto):
    c = ctx.client(proto)
    user = ctx.name("ft", proto)
    orders = []
    for _ in range(5):
        orders.append(create(c, user))
        time.sleep(0.01)
    times = [parse_time(o["created_at"]) for o in orders]

    def between(after=None, before=None):
        return [o["id"] for o, t in zip(orders, times)
                if (after is None or t > after) and (before is None or t < before)]

    sub = SubChecks()
    for i in range(5):
        t = times[i]
        for label, after, before in [("after", t, None), ("before", None, t), ("after, before", t, times[-1])]:
            params = {"user_id": user}
            if after is not None:
                params["created_after"] = rfc3339(after)
            if before is not None:
                params["created_before"] = rfc3339(before)
            sub.run(f"{label} order {i} (strict)",
                    lambda p=params, a=after, b=before: ensure_eq(ids(expect(admin(c, ctx.token, **p), 200)),
                                                                  between(a, b), f"{p}"))
    # the same instant with offsets, and with a longer fraction
    t = times[2]
    for text in (rfc3339(t, 60), rfc3339(t, -330), rfc3339(t).replace("Z", "000Z")):
        sub.run(f"created_after={text}", lambda s=text: ensure_eq(
            ids(expect(admin(c, ctx.token, user_id=user, created_after=s), 200)), between(t), s))
    # a fraction finer than a millisecond: strictly after .xxx4 is from .xxx+1 on, strictly before it up to .xxx
    fine = rfc3339(t).replace("Z", "4Z")
    sub.run("after a finer time", lambda: ensure_eq(
        ids(expect(admin(c, ctx.token, user_id=user, created_after=fine), 200)), between(t), fine))
    sub.run("before a finer time", lambda: ensure_eq(
        ids(expect(admin(c, ctx.token, user_id=user, created_before=fine), 200)), between(None, t) + [orders[2]["id"]],
        fine))
    sub.run("a reversed range", lambda: ensure_eq(
        expect(admin(c, ctx.token, user_id=user, created_after=rfc3339(times[4]), created_before=rfc3339(times[0])),
               200)["total"], 0, "nothing"))
    # an unencoded '+' reads as a space: taken as the offset's '+'
    plus = rfc3339(t, 60)
    r = c.request("GET", f"/api/admin/orders?user_id={user}&created_after={plus}", headers=op(ctx.token))
    sub.run("an unencoded +", lambda: ensure_eq(ids(expect(r, 200)), between(t), plus))
    sub.done()


@suite.per_protocol
def test_filtered_pages_and_links(ctx, proto):
    """Every filter at once, walked by offset and by cursor through the Link
    header: the same orders, the same total on each page, links that carry
    the filters as given."""
    c = ctx.client(proto)
    user = ctx.name("fl", proto)
    product = ctx.name("sku lk/é", proto)
    made = []
    for i in range(9):
        o = create(c, user, product if i % 4 != 3 else "sku-x", "sku-y")
        made.append(o)
    expect(c.request("POST", f"/api/orders/{made[1]['id']}/cancel", user=user), 200)
    start = rfc3339(parse_time(made[0]["created_at"]) - timedelta(seconds=1), 60)
    end = rfc3339(parse_time(made[-1]["created_at"]) + timedelta(seconds=1))
    want = [o["id"] for i, o in enumerate(made) if i % 4 != 3 and i != 1]
    filters = {"user_id": user, "product_id": product, "created_after": start, "created_before": end}
    params = dict(filters, status="pending", limit=2)
    q = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
    forward, backward, total = walk(c, ctx.token, "/api/admin/orders?" + q, filters)
    ensure_eq(forward, want, "by offset, every matching order once, oldest first")
    ensure_eq(backward, want, "back through rel=prev")
    ensure_eq(total, len(want), "total")
    page = expect(admin(c, ctx.token, **params, offset=2), 200)
    ensure_eq((ids(page), page["offset"], page["total"]), (want[2:4], 2, len(want)), "an offset page")
    # cursors: after the first, and before the last
    first = admin(c, ctx.token, **params, after=want[0])
    ensure_eq(ids(expect(first, 200)), want[1:3], "after a cursor")
    ensure("after=" in links(first)["next"] and "before=" in links(first)["prev"], f"cursor links: {links(first)}")
    forward, backward, _ = walk(c, ctx.token, links(first)["next"], filters)
    ensure_eq(forward, want[3:], "cursor pages forward")
    last = expect(admin(c, ctx.token, **params, before=want[-1]), 200)
    ensure_eq((ids(last), last["offset"]), (want[-3:-1], len(want) - 3), "before a cursor")
    # one page: no Link at all
    r = admin(c, ctx.token, user_id=user, product_id=product, limit=100)
    ensure_eq((len(ids(expect(r, 200))), r.header("link")), (len(want) + 1, None), "a single page has no links")


@suite.per_protocol
def test_bad_filters(ctx, proto):
    c = ctx.client(proto)
    sub = SubChecks()
    for label, query, word in [
            ("empty user", "user_id=", "user_id"),
            ("bad user", "user_id=a%20b", "user_id"),
            ("long user", "user_id=" + "u" * 65, "user_id"),
            ("empty product", "product_id=", "product_id"),
            ("long product", "product_id=" + "p" * 65, "product_id"),
            ("repeated user", "user_id=a&user_id=b", "more than once"),
            ("not a time", "created_after=yesterday", "created_after"),
            ("no offset", "created_after=2026-12-01T10:00:00", "created_after"),
            ("a date only", "created_before=2026-12-01", "created_before"),
            ("no such day", "created_before=2026-02-30T00:00:00Z", "created_before"),
            ("hour 24", "created_after=2026-12-01T24:00:00Z", "created_after"),
            ("before 1970", "created_after=1969-12-31T23:59:59Z", "created_after"),
            ("repeated bound", "created_before=2026-12-01T10:00:00Z&created_before=2026-12-01T10:00:00Z",
             "more than once"),
            ("with a bad status", "user_id=a&status=lost", "status"),
            ("with offset and after", "user_id=a&offset=1&after=0000000000001", "combined")]:
        sub.run(label, lambda q=query, w=word: ensure(
            w in expect(c.request("GET", "/api/admin/orders?" + q, headers=op(ctx.token)), 400)["detail"],
            f"the 400 for {q} names {w}"))
    # the user's own list takes none of them, as before
    for f in FILTERS:
        sub.run(f"user list {f}", lambda f=f: expect(
            c.request("GET", f"/api/orders?{f}=2026-12-01T10:00:00Z", user=ctx.name("bf", proto)), 400))
    # the operator's token comes first: without it, 401 / 403 before the query is read
    sub.run("no token", lambda: expect(c.request("GET", "/api/admin/orders?user_id="), 401))
    sub.run("wrong token", lambda: expect(c.request("GET", "/api/admin/orders?user_id=",
                                                    headers=["Authorization: Bearer nope"]), 403))
    sub.done()


@suite.per_protocol
def test_status_filter_takes_every_status(ctx, proto):
    """The statuses a list takes are order.h's: the 400 names them, and each
    one it names is accepted, on both lists, alone and with the filters."""
    c = ctx.client(proto)
    user = ctx.name("st", proto)
    oid = create(c, user)["id"]
    detail = expect(admin(c, ctx.token, status="lost"), 400)["detail"]
    names = detail.split(" of ", 1)[1].split(", ")
    ensure({"pending", "processing", "shipped", "delivered", "cancelled"} <= set(names), f"every status: {detail}")
    for name in names:
        page = expect(admin(c, ctx.token, status=name, user_id=user), 200)
        ensure_eq(ids(page), [oid] if name == "pending" else [], f"status={name}")
        expect(c.request("GET", f"/api/orders?status={name}", user=user), 200)
    ensure_eq(expect(c.request("GET", "/api/orders?status=lost", user=user), 400)["detail"], detail,
              "the same refusal on the user's list")


# --------------------------------------------------------------------------
# --user-auth jwt: the operator's token against users' JWTs
# --------------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(secret, sub):
    now = int(time.time())
    claims = {"sub": sub, "iss": "https://id.example", "aud": "orderd", "iat": now, "exp": now + 600}
    signing = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64url(json.dumps(claims).encode())
    return signing + "." + b64url(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


@suite.once
def test_jwt_users_and_the_operator(ctx):
    secret = b"a shared secret of more than 32 bytes, for the operator test"
    path = os.path.join(ctx.workdir, "jwt-secret")
    with open(path, "wb") as f:
        f.write(secret)
    srv = Server(ctx.binary, args=["--user-auth", "jwt", "--jwt-issuer", "https://id.example", "--jwt-audience",
                                   "orderd", "--jwt-secret-file", path], workdir=ctx.workdir, name="orderd-jwt").start()
    try:
        with open(os.path.join(srv.data_dir, "operator-token")) as f:
            token = f.read().strip()
        http = srv.http()
        alice = {"Authorization": f"Bearer {hs256(secret, 'alice')}"}
        bob = {"Authorization": f"Bearer {hs256(secret, 'bob')}"}
        oper = {"Authorization": f"Bearer {token}"}
        oid = expect(http.request("POST", "/api/orders", body=body("sku-j"), headers=alice), 201)["id"]
        for p in (f"/api/orders/{oid}", f"/api/orders/{oid}/events"):
            expect(http.request("GET", p, headers=alice), 200)
            expect(http.request("GET", p, headers=bob), 404)
            expect(http.request("GET", p, headers=oper), 200)
            r = http.request("GET", p, headers={"Authorization": "Bearer not.a.jwt"})
            ensure("invalid_token" in (r.header("www-authenticate") or ""), f"a bad bearer is a bad JWT: {r!r}")
            expect(r, 401)
        page = expect(http.request("GET", "/api/admin/orders?user_id=alice", headers=oper), 200)
        ensure_eq(ids(page), [oid], "the operator's list of alice's orders")
        return ""
    finally:
        srv.kill9()


if __name__ == "__main__":
    sys.exit(suite.main(Ctx, "orderd-op-"))
