#!/usr/bin/env python3
"""Black-box integration tests for orderd.

Starts the real binary on a kernel-chosen port with a fresh data directory and
drives it with the curl command line over HTTP/1.1, h2c with prior knowledge
and h2c upgrade.  Every contract test runs once per protocol.

    python3 tests/integration/api_test.py --orderd build/orderd [-k SUBSTRING] [-v]

Prints one line per test and finally exactly `N passed, N failed, N skipped`;
exits non-zero on any failure.  Python 3.11 standard library only (plus
python3-yaml and python3-jsonschema for openapi_check.py); the harness is
orderd_harness.py.
"""

from __future__ import annotations

import argparse
import decimal
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import orderd_harness  # noqa: E402
from openapi_check import OpenAPIChecker  # noqa: E402
from orderd_harness import (  # noqa: E402
    ALL_PROTOCOLS, Client, Runner, Server, SubChecks, TempDir, TestFailure, ensure, ensure_eq, expect,
    open_idle_h2, open_idle_http1, recv_http1_response, require_executable, run_registered, run_threads,
    start_servers,
)

decimal.getcontext().prec = 100

# --------------------------------------------------------------------------
# Contract constants and request bodies
# --------------------------------------------------------------------------

ORDER_KEYS = {"id", "user_id", "status", "items", "currency", "total", "total_minor", "shipping_address",
              "payment_method", "created_at", "updated_at", "version",
              "shipments", "returns", "refunds", "refunded_total", "refunded_total_minor"}
ITEM_KEYS = {"product_id", "quantity", "price", "line_id", "cancelled_quantity", "shipped_quantity",
             "returned_quantity"}
ID_RE = re.compile(r"^[0-9a-hjkmnp-tv-z]{13}$")  # lower-case Crockford base32, 13 chars
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled", "partially_shipped")
UNKNOWN_ID = "0000000000000"  # well-formed, never issued (ids carry a creation time)
OMIT = object()


def js(value):
    """Python value -> compact JSON text, non-ASCII kept as UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def item(pid=js("p-1"), qty="1", price="1.00"):
    """One order line as raw JSON text; each argument is raw JSON text or OMIT."""
    members = [f'"{k}":{v}' for k, v in (("product_id", pid), ("quantity", qty), ("price", price))
               if v is not OMIT]
    return "{" + ",".join(members) + "}"


def order_doc(items=None, shipping=js("1 Main St, Springfield"), payment=js("credit_card"),
              currency=OMIT, extra=()):
    """A create body as raw JSON text.  items: list of raw item texts, raw text
    for the whole member, or OMIT; the others: raw JSON text or OMIT."""
    if items is None:
        items = [item()]
    members = []
    if items is not OMIT:
        members.append('"items":' + ("[" + ",".join(items) + "]" if isinstance(items, list) else items))
    for key, value in (("shipping_address", shipping), ("payment_method", payment),
                       ("currency", currency)):
        if value is not OMIT:
            members.append(f'"{key}":{value}')
    members.extend(extra)
    return "{" + ",".join(members) + "}"


SEED_BODY = order_doc(
    items=[item(js("123"), "2", "10.99"), item(js("456"), "1", "19.99")],
    shipping=js("123 Main St, Springfield"), payment=js("credit_card"), currency=js("USD"))
SEED_ITEMS = [("123", 2, Decimal("10.99")), ("456", 1, Decimal("19.99"))]


def raw_number_re(key, number_text):
    """Matches "key": number in raw JSON text with exactly that number text."""
    return re.compile(r'"' + re.escape(key) + r'"\s*:\s*' + re.escape(number_text) + r"(?=\s*[,}\]])")


def ensure_raw(resp, key, number_text):
    ensure(raw_number_re(key, number_text).search(resp.text),
           f'raw body lacks "{key}":{number_text}: {resp.text[:500]!r}')


def loads_exact(resp):
    """The body parsed with JSON numbers with a fraction kept as exact Decimals."""
    return resp.json_exact()


def is_money(v):
    return isinstance(v, Decimal) and v.as_tuple().exponent == -2


def check_order(doc, *, user, status="pending", version=1, items=None, currency="USD",
                shipping=None, payment=None):
    """Checks an order object against the contract; returns it."""
    ensure(isinstance(doc, dict), f"order is not a JSON object: {doc!r}")
    ensure_eq(set(doc), ORDER_KEYS, "order keys")
    ensure(isinstance(doc["id"], str) and ID_RE.match(doc["id"]),
           f"id {doc['id']!r} is not 13 lower-case Crockford base32 characters")
    ensure_eq(doc["user_id"], user, "user_id")
    ensure_eq(doc["status"], status, "status")
    ensure(type(doc["version"]) is int, f"version is not an integer: {doc['version']!r}")
    ensure_eq(doc["version"], version, "version")
    ensure_eq(doc["currency"], currency, "currency")
    ensure(isinstance(doc["items"], list) and doc["items"], f"items: {doc['items']!r}")
    total = Decimal(0)
    for i, it in enumerate(doc["items"]):
        ensure(isinstance(it, dict), f"items[{i}] is not an object: {it!r}")
        ensure_eq(set(it), ITEM_KEYS, f"items[{i}] keys")
        ensure_eq(it["line_id"], f"l{i + 1}", f"items[{i}].line_id (an order as created)")
        ensure(isinstance(it["product_id"], str), f"items[{i}].product_id: {it['product_id']!r}")
        ensure(type(it["quantity"]) is int, f"items[{i}].quantity is not an integer: {it['quantity']!r}")
        ensure(is_money(it["price"]),
               f"items[{i}].price {it['price']!r} is not a number with two fraction digits")
        total += it["quantity"] * it["price"]
    ensure(is_money(doc["total"]), f"total {doc['total']!r} is not a number with two fraction digits")
    ensure_eq(doc["total"], total, "total (sum of quantity x price)")
    # these suites order in two-digit currencies (money_test.py has the others)
    ensure(type(doc["total_minor"]) is int, f"total_minor is not an integer: {doc['total_minor']!r}")
    ensure_eq(doc["total_minor"], int(total * 100), "total_minor (total in cents)")
    if items is not None:
        got = [(it["product_id"], it["quantity"], it["price"]) for it in doc["items"]]
        ensure_eq(got, [(p, q, Decimal(pr)) for p, q, pr in items], "items")
    if shipping is not None:
        ensure_eq(doc["shipping_address"], shipping, "shipping_address")
    if payment is not None:
        ensure_eq(doc["payment_method"], payment, "payment_method")
    for key in ("created_at", "updated_at"):
        ensure(isinstance(doc[key], str) and TIME_RE.match(doc[key]),
               f"{key} {doc[key]!r} is not RFC 3339 UTC with milliseconds")
    ensure(doc["updated_at"] >= doc["created_at"],
           f"updated_at {doc['updated_at']} before created_at {doc['created_at']}")
    return doc


# --------------------------------------------------------------------------
# Test context and registration
# --------------------------------------------------------------------------

class Ctx:
    def __init__(self, binary, workdir, server, small_server):
        self.binary = binary
        self.workdir = workdir
        self.server = server
        self.small = small_server  # --max-body 1024
        self._n = 0
        self._lock = threading.Lock()

    def client(self, proto, server=None):
        return Client((server or self.server).base_url, proto, self.workdir)

    def user(self, tag, proto):
        with self._lock:
            self._n += 1
            n = self._n
        return f"{tag}.{n}@{proto}"


PROTOCOL_TESTS = []  # run once per protocol: fn(ctx, proto)
GLOBAL_TESTS = []  # run once: fn(ctx)


def per_protocol(fn):
    PROTOCOL_TESTS.append(fn)
    return fn


def once(fn):
    GLOBAL_TESTS.append(fn)
    return fn


def create(c, user, body=SEED_BODY, path="/api/orders", **kw):
    """POST a create body and insist on 201; returns (response, order)."""
    resp = c.request("POST", path, user=user, body=body, **kw)
    expect(resp, 201)
    doc = loads_exact(resp)
    ensure(isinstance(doc, dict) and "id" in doc, f"created order without id: {resp!r}")
    ensure_eq(resp.header("location"), f"/api/orders/{doc['id']}", "Location header")
    return resp, doc


def cancel(c, user, order_id, **kw):
    return c.request("POST", f"/api/orders/{order_id}/cancel", user=user, **kw)


def get_order(c, user, order_id, **kw):
    return c.request("GET", f"/api/orders/{order_id}", user=user, **kw)


def list_orders(c, user, query=""):
    return c.request("GET", "/api/orders" + (f"?{query}" if query else ""), user=user)


def check_422(c, user, body, fields, path="/api/orders"):
    """POST body; insist on 422 naming exactly `fields` (a set, or a tuple of
    acceptable sets)."""
    resp = c.request("POST", path, user=user, body=body)
    doc = expect(resp, 422)
    errors = doc.get("errors")
    ensure(isinstance(errors, list) and errors, f"422 without a non-empty errors list: {resp!r}")
    got = []
    for e in errors:
        ensure(isinstance(e, dict) and isinstance(e.get("field"), str)
               and isinstance(e.get("message"), str) and e["message"].strip(),
               f"malformed errors entry {e!r}")
        got.append(e["field"])
    ensure(len(got) == len(set(got)), f"a field is named twice in errors: {got}")
    ensure(len(got) <= 1000, f"more than 1000 errors entries: {len(got)}")
    options = fields if isinstance(fields, tuple) else (fields,)
    if set(got) not in [set(o) for o in options]:
        best = min(options, key=lambda o: len(set(o) ^ set(got)))
        missing, extra = sorted(set(best) - set(got)), sorted(set(got) - set(best))
        raise TestFailure(f"errors name {len(got)} fields; expected {len(best)}"
                          + (f" (or one of {len(options)} alternatives)" if len(options) > 1 else "")
                          + f"; missing {missing[:10]}{'...' if len(missing) > 10 else ''}"
                          + f"; unexpected {extra[:10]}{'...' if len(extra) > 10 else ''}"
                          + f"; entries for them: {[e for e in errors if e['field'] in extra][:3]}")
    return doc


# --------------------------------------------------------------------------
# /healthz
# --------------------------------------------------------------------------

@per_protocol
def test_healthz(ctx, proto):
    c = ctx.client(proto)
    resp = c.request("GET", "/healthz")
    ensure_eq(expect(resp, 200), {"status": "ok"}, "GET /healthz body")
    expect(c.request("HEAD", "/healthz"), 200)


# --------------------------------------------------------------------------
# Create, get, money, strings
# --------------------------------------------------------------------------

@per_protocol
def test_create_seed_path(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("seed", proto)
    resp, doc = create(c, user, SEED_BODY, path="/api/orders/create")
    check_order(doc, user=user, items=SEED_ITEMS, shipping="123 Main St, Springfield",
                payment="credit_card")
    ensure_raw(resp, "total", "41.97")
    ensure_raw(resp, "price", "10.99")
    ensure_raw(resp, "price", "19.99")
    ensure_raw(resp, "version", "1")
    got = get_order(c, user, doc["id"])
    expect(got, 200)
    ensure_eq(loads_exact(got), doc, "GET /api/orders/{id} vs the 201 body")


@per_protocol
def test_create_rest_alias_defaults_and_money_format(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("alias", proto)
    body = order_doc(items=[item(js("a"), "2", "10.5"), item(js("b"), "1", "1.5e1")])  # no currency
    resp, doc = create(c, user, body, path="/api/orders")
    check_order(doc, user=user, currency="USD",
                items=[("a", 2, "10.50"), ("b", 1, "15.00")])
    ensure_raw(resp, "price", "10.50")
    ensure_raw(resp, "price", "15.00")
    ensure_raw(resp, "total", "36.00")
    ensure_eq(doc["currency"], "USD", "default currency")
    resp, doc = create(c, user, order_doc(currency=js("EUR")))
    ensure_eq(doc["currency"], "EUR", "given currency")


@per_protocol
def test_price_forms_parsed_exactly(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("price", proto)
    cases = [  # (price text sent, price text expected back)
        ("0", "0.00"), ("0.0", "0.00"), ("0.000", "0.00"), ("10.990", "10.99"), ("1.5e1", "15.00"),
        ("1.5E1", "15.00"), ("1E2", "100.00"), ("0.1e1", "1.00"), ("1e-1", "0.10"),
        ("1.00000", "1.00"), ("2.5e+1", "25.00"), ("12345.6", "12345.60"), ("0.01", "0.01"),
        ("123.45", "123.45"), ("12345e-2", "123.45"), ("0.5E+1", "5.00"),
        ("9999999999999.99", "9999999999999.99"),  # 15 digits, the most (money_test.py)
    ]
    sub = SubChecks()
    for sent, want in cases:
        def one(sent=sent, want=want):
            resp, doc = create(c, user, order_doc(items=[item(price=sent)]))
            ensure_raw(resp, "price", want)
            ensure_raw(resp, "total", want)
            check_order(doc, user=user)
        sub.run(f"price {sent}", one)

    def big_quantity():  # the total at 15 digits, the most
        resp, doc = create(c, user, order_doc(items=[item(qty="1000000", price="9999999.99")]))
        ensure_raw(resp, "total", "9999999990000.00")
        ensure_raw(resp, "quantity", "1000000")
    sub.run("1000000 x 9999999.99", big_quantity)

    def many_lines():
        items = [item(js(f"p{i}"), str(i + 1), f"{i}.{i % 100:02d}") for i in range(40)]
        want = sum(Decimal(i + 1) * Decimal(f"{i}.{i % 100:02d}") for i in range(40))
        resp, doc = create(c, user, order_doc(items=items))
        ensure_eq(doc["total"], want, "total of 40 lines")
        ensure_raw(resp, "total", f"{want:.2f}")
    sub.run("40 lines", many_lines)
    sub.done()


@per_protocol
def test_strings_round_trip(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("utf8", proto)
    # raw JSON text as sent -> the string it denotes
    shipping_text = ('"caf\u00e9 \\u00e9 \U0001F600 \\ud83d\\ude00 \\"quoted\\" back\\\\slash '
                     'line\\nbreak tab\\t ctl\\u0001\\u001f nul\\u0000 \\/ \u4e2d\u6587 end"')
    shipping = ('caf\u00e9 \u00e9 \U0001F600 \U0001F600 "quoted" back\\slash line\nbreak tab\t '
                'ctl\x01\x1f nul\x00 / \u4e2d\u6587 end')
    pid_text, pid = '"\u5546\u54c1-\\u00fc-\U0001F4E6"', "\u5546\u54c1-\u00fc-\U0001F4E6"
    pay_text, pay = '"cr\\u00e9dit \\"card\\""', 'cr\u00e9dit "card"'
    body = order_doc(items=[item(pid_text, "1", "2.50")], shipping=shipping_text, payment=pay_text)
    resp, doc = create(c, user, body)
    check_order(doc, user=user, shipping=shipping, payment=pay)
    ensure_eq(doc["items"][0]["product_id"], pid, "product_id round trip")
    # json.loads (strict) already rejected raw control characters; GET again.
    again = loads_exact(get_order(c, user, doc["id"]))
    ensure_eq(again["shipping_address"], shipping, "shipping_address after GET")
    ensure_eq(again["items"][0]["product_id"], pid, "product_id after GET")
    # Byte limits count UTF-8 bytes, not characters: 512 x "é" is exactly 1024 bytes.
    _, doc = create(c, user, order_doc(items=[item(js("\u00e9" * 32))], shipping=js("\u00e9" * 512),
                                       payment=js("\u00e9" * 16)))
    ensure_eq(doc["shipping_address"], "\u00e9" * 512, "1024-byte non-ASCII shipping_address")
    ensure_eq(doc["items"][0]["product_id"], "\u00e9" * 32, "64-byte non-ASCII product_id")


@per_protocol
def test_create_accepts_content_type_params_unknown_members_whitespace(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("ctype", proto)
    sub = SubChecks()
    for ct in ("application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"):
        sub.run(f"Content-Type {ct}", create, c, user, SEED_BODY, content_type=ct)
    sub.run("unknown members ignored", create, c, user,
            order_doc(extra=['"note":{"nested":[1,"x",true,{"k":false}]}', '"coupon":"X"']))
    sub.run("unknown member inside an item", create, c, user,
            order_doc(items=['{"product_id":"a","quantity":1,"price":1,"color":"red"}']))
    sub.run("surrounding whitespace", create, c, user, " \r\n\t" + SEED_BODY + "\n")
    sub.done()


@per_protocol
def test_get_and_head_order(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("get", proto)
    created, doc = create(c, user)
    resp = get_order(c, user, doc["id"])
    expect(resp, 200)
    ensure_eq(loads_exact(resp), doc, "GET body vs created order")
    head = c.request("HEAD", f"/api/orders/{doc['id']}", user=user)
    expect(head, 200)
    ensure_eq(head.header("content-length"), str(len(resp.body)), "HEAD Content-Length vs GET body")
    head = c.request("HEAD", "/api/orders", user=user)
    expect(head, 200)


# --------------------------------------------------------------------------
# Cancel
# --------------------------------------------------------------------------

@per_protocol
def test_cancel_twice_same_body(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("cancel", proto)
    _, doc = create(c, user)
    time.sleep(0.02)  # so that updated_at (milliseconds) must move
    first = cancel(c, user, doc["id"])
    expect(first, 200)
    cancelled = check_order(loads_exact(first), user=user, status="cancelled", version=2,
                            items=SEED_ITEMS)
    for key in ("id", "user_id", "items", "currency", "total", "shipping_address", "payment_method",
                "created_at"):
        ensure_eq(cancelled[key], doc[key], f"{key} after cancel")
    ensure(cancelled["updated_at"] > doc["updated_at"],
           f"updated_at did not move on cancel: {doc['updated_at']} -> {cancelled['updated_at']}")
    second = cancel(c, user, doc["id"])
    expect(second, 200)
    ensure_eq(loads_exact(second), cancelled, "second cancel body (must be unchanged)")
    # an empty body without Content-Type, and a JSON body (ignored)
    third = cancel(c, user, doc["id"], body=b"", content_type=None)
    expect(third, 200)
    ensure_eq(loads_exact(third), cancelled, "cancel with an empty body")
    fourth = cancel(c, user, doc["id"], body='{"reason":"changed my mind"}')
    expect(fourth, 200)
    ensure_eq(loads_exact(fourth), cancelled, "cancel with a JSON body")
    got = get_order(c, user, doc["id"])
    expect(got, 200)
    ensure_eq(loads_exact(got), cancelled, "GET after cancels")


# --------------------------------------------------------------------------
# 400
# --------------------------------------------------------------------------

def _with_shipping_bytes(raw: bytes) -> bytes:
    return order_doc(shipping='"@@"').encode().replace(b"@@", raw)


BAD_JSON_BODIES = [
    ("not JSON", b"hello"),
    ("syntax error", b'{"items":[}'),
    ("unterminated object", b"{"),
    ("lone brace", b"}"),
    ("truncated literal", b"nul"),
    ("trailing comma", order_doc().encode()[:-1] + b",}"),
    ("single quotes", b"{'items':[]}"),
    ("empty body", b""),
    ("whitespace only", b"  \n"),
    ("trailing bytes", SEED_BODY.encode() + b" x"),
    ("trailing number", SEED_BODY.encode() + b" 1"),
    ("two documents", SEED_BODY.encode() + SEED_BODY.encode()),
    ("trailing NUL", SEED_BODY.encode() + b"\x00"),
    ("invalid UTF-8 0xff", _with_shipping_bytes(b"abc\xffdef")),
    ("invalid UTF-8 lone continuation 0x80", _with_shipping_bytes(b"abc\x80")),
    ("invalid UTF-8 truncated sequence", _with_shipping_bytes(b"abc\xe2\x82")),
    ("invalid UTF-8 overlong 0xc0 0xaf", _with_shipping_bytes(b"\xc0\xaf")),
    ("invalid UTF-8 encoded surrogate", _with_shipping_bytes(b"\xed\xa0\x80")),
    ("invalid UTF-8 above U+10FFFF", _with_shipping_bytes(b"\xf4\x90\x80\x80")),
    ("invalid UTF-8 in an unknown member", order_doc(extra=['"note":"@@"']).encode()
     .replace(b"@@", b"\xfe\xfe")),
    ("invalid UTF-8 in a member name", order_doc(extra=['"@@":1']).encode().replace(b"@@", b"\xff")),
    ("raw newline in a string", _with_shipping_bytes(b"line\nbreak")),
    ("raw control char in a string", _with_shipping_bytes(b"a\x01b")),
    ("raw NUL in a string", _with_shipping_bytes(b"a\x00b")),
    ("bad escape", _with_shipping_bytes(b"a\\xb")),
    ("short unicode escape", _with_shipping_bytes(b"a\\u12")),
    ("comment", b'{"items":/* c */[' + item().encode() + b'],"shipping_address":"a",'
                b'"payment_method":"b"}'),
    ("NaN price", order_doc(items=[item(price="NaN")]).encode()),
    ("Infinity price", order_doc(items=[item(price="Infinity")]).encode()),
    ("leading plus", order_doc(items=[item(qty="+1")]).encode()),
    ("leading zero", order_doc(items=[item(qty="01")]).encode()),
    ("bare fraction", order_doc(items=[item(price=".5")]).encode()),
    ("dangling point", order_doc(items=[item(price="1.")]).encode()),
    ("dangling exponent", order_doc(items=[item(price="1e")]).encode()),
]


@per_protocol
def test_400_body_not_json(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("bad-json", proto)
    sub = SubChecks()
    for label, body in BAD_JSON_BODIES:
        sub.run(label, lambda body=body: expect(c.request("POST", "/api/orders", user=user, body=body), 400))
    sub.run("seed path, syntax error",
            lambda: expect(c.request("POST", "/api/orders/create", user=user, body=b"{]"), 400))
    # empty body without Content-Type: nothing to be 415 about, and not JSON
    sub.run("empty body without Content-Type",
            lambda: expect(c.request("POST", "/api/orders", user=user, body=b"", content_type=None), 400))
    sub.run("empty POST without a body",
            lambda: expect(c.request("POST", "/api/orders", user=user), 400))
    sub.done()
    # nothing was created by any of them
    page = expect(list_orders(c, user), 200)
    ensure_eq(page["total"], 0, "orders created by rejected requests")


BAD_QUERIES = ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1.5", "limit=", "limit=1e1",
               "limit=99999999999999999999999", "limit=10&limit=10", "offset=-1", "offset=abc",
               "offset=", "offset=1.0", "status=bogus", "status=", "status=PENDING", "status=pending&status=pending",
               "foo=1", "limit=10&foo", "limit=10&offset=0&sort=asc", "Limit=10"]


@per_protocol
def test_400_bad_query_params(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("query", proto)
    create(c, user)
    sub = SubChecks()
    for q in BAD_QUERIES:
        sub.run(q, lambda q=q: expect(list_orders(c, user, q), 400))
    for q, limit, offset in [("limit=1", 1, 0), ("limit=100", 100, 0), ("offset=0", 10, 0),
                             ("offset=7&limit=3", 3, 7), ("status=pending", 10, 0),
                             ("status=cancelled&limit=5&offset=0", 5, 0)]:
        def good(q=q, limit=limit, offset=offset):
            page = expect(list_orders(c, user, q), 200)
            ensure_eq((page["limit"], page["offset"]), (limit, offset), f"limit/offset echoed for {q}")
        sub.run(q, good)
    for s in STATUSES:
        sub.run(f"status={s}", lambda s=s: expect(list_orders(c, user, f"status={s}"), 200))
    sub.run("huge offset: 400 or an empty page", lambda: ensure(
        list_orders(c, user, "offset=99999999999999999999999").status in (200, 400), "huge offset"))
    sub.done()


# --------------------------------------------------------------------------
# 401
# --------------------------------------------------------------------------

BAD_USERS = [("empty", ""), ("65 bytes", "a" * 65), ("space", "a b"), ("slash", "a/b"),
             ("non-ASCII", "caf\u00e9"), ("comma", "a,b"), ("semicolon", "a;b"), ("quote", 'a"b'),
             ("plus", "a+b"), ("tilde", "a~b")]


@per_protocol
def test_401_identity(ctx, proto):
    c = ctx.client(proto)
    owner = ctx.user("owner", proto)
    _, doc = create(c, owner)
    oid = doc["id"]
    requests = [("GET /api/orders", "GET", "/api/orders", None),
                ("GET /api/orders?limit=5", "GET", "/api/orders?limit=5", None),
                ("POST /api/orders", "POST", "/api/orders", SEED_BODY),
                ("POST /api/orders/create", "POST", "/api/orders/create", SEED_BODY),
                ("GET /api/orders/{id}", "GET", f"/api/orders/{oid}", None),
                ("HEAD /api/orders/{id}", "HEAD", f"/api/orders/{oid}", None),
                ("POST /api/orders/{id}/cancel", "POST", f"/api/orders/{oid}/cancel", None),
                ("GET unknown id", "GET", f"/api/orders/{UNKNOWN_ID}", None)]
    sub = SubChecks()
    for label, method, path, body in requests:
        sub.run(f"{label} without X-User-Id",
                lambda m=method, p=path, b=body: expect(c.request(m, p, body=b), 401))
        for ulabel, bad in BAD_USERS:
            sub.run(f"{label} X-User-Id {ulabel}",
                    lambda m=method, p=path, b=body, u=bad: expect(c.request(m, p, user=u, body=b), 401))
    # precedence: 401 comes before 400/422
    sub.run("bad query and no identity", lambda: expect(c.request("GET", "/api/orders?limit=0"), 401))
    sub.run("broken body and no identity",
            lambda: expect(c.request("POST", "/api/orders", body=b"{]"), 401))
    sub.done()
    # the owner's order is untouched
    got = get_order(c, owner, oid)
    expect(got, 200)
    ensure_eq(loads_exact(got), doc, "order after rejected requests")


@per_protocol
def test_identity_edges_accepted(ctx, proto):
    c = ctx.client(proto)
    charset = "Az09._:@-"
    long_user = (charset * 8)[:64]  # 64 bytes of every allowed kind of character
    ensure_eq(len(long_user), 64, "test setup")
    _, doc = create(c, long_user)
    check_order(doc, user=long_user)
    expect(get_order(c, long_user, doc["id"]), 200)
    # the header name is case-insensitive (HTTP/1.1 sends it as written)
    resp = c.request("GET", f"/api/orders/{doc['id']}", headers=[f"x-user-id: {long_user}"])
    expect(resp, 200)
    _, doc1 = create(c, "x")  # a 1-byte identity
    ensure_eq(doc1["user_id"], "x", "1-byte user_id")


# --------------------------------------------------------------------------
# 404
# --------------------------------------------------------------------------

def _normalized_problem(resp, order_id):
    # `instance` is the request's own id: it differs from request to request
    doc = json.loads(resp.body)
    doc.pop("instance", None)
    return json.dumps(doc).encode().replace(order_id.encode(), b"<id>")


@per_protocol
def test_404(ctx, proto):
    c = ctx.client(proto)
    alice, bob = ctx.user("alice", proto), ctx.user("bob", proto)
    _, doc = create(c, alice)
    oid = doc["id"]
    sub = SubChecks()
    paths = ["/api/nope", "/nope", "/", "/api", "/api/", "/api/orders/", f"/api/orders/{oid}/nope",
             f"/api/orders/{oid}/cancel/x", "/api/orders/create/x", "/healthz/x", "/api/order",
             f"/api/orders/{UNKNOWN_ID}", f"/api/orders/{oid.upper()}", f"/api/orders/{oid[:-1]}",
             f"/api/orders/{oid}0", "/api/orders/uuuuuuuuuuuuu", "/api/orders/not-an-id",
             "/api/orders/%2e%2e", "/api/orders/" + "a" * 200]
    for p in paths:
        sub.run(f"GET {p}", lambda p=p: expect(c.request("GET", p, user=alice), 404))
    # unknown paths are 404 before identity is looked at
    for p in ("/api/nope", "/nope", "/api/orders/x/y/z"):
        sub.run(f"GET {p} without identity", lambda p=p: expect(c.request("GET", p), 404))
    sub.run("POST /api/nope", lambda: expect(c.request("POST", "/api/nope", user=alice, body=SEED_BODY), 404))
    sub.run("cancel unknown id",
            lambda: expect(cancel(c, alice, UNKNOWN_ID), 404))
    sub.run("cancel malformed id", lambda: expect(cancel(c, alice, "nope"), 404))

    def other_user_same_answer():
        # bob asks for alice's order and for an id that does not exist: the answers
        # must be the same apart from the id itself.
        mine = get_order(c, bob, oid)
        expect(mine, 404)
        unknown = get_order(c, bob, UNKNOWN_ID)
        expect(unknown, 404)
        ensure_eq(_normalized_problem(mine, oid), _normalized_problem(unknown, UNKNOWN_ID),
                  "404 for another user's order vs an unknown id")
        ensure_eq(mine.header("content-type"), unknown.header("content-type"), "content-type")
        c_mine, c_unknown = cancel(c, bob, oid), cancel(c, bob, UNKNOWN_ID)
        expect(c_mine, 404)
        expect(c_unknown, 404)
        ensure_eq(_normalized_problem(c_mine, oid), _normalized_problem(c_unknown, UNKNOWN_ID),
                  "404 on cancel for another user's order vs an unknown id")
    sub.run("another user's order", other_user_same_answer)
    sub.done()


# --------------------------------------------------------------------------
# 405
# --------------------------------------------------------------------------

@per_protocol
def test_405_with_allow(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("m405", proto)
    _, doc = create(c, user)
    oid = doc["id"]
    cases = [("DELETE", f"/api/orders/{oid}", "GET, HEAD", user),
             ("PUT", f"/api/orders/{oid}", "GET, HEAD", user),
             ("POST", f"/api/orders/{oid}", "GET, HEAD", user),
             ("PATCH", f"/api/orders/{UNKNOWN_ID}", "GET, HEAD", user),
             ("DELETE", f"/api/orders/{oid}", "GET, HEAD", None),
             ("PUT", "/api/orders", "GET, HEAD, POST", user),
             ("DELETE", "/api/orders", "GET, HEAD, POST", user),
             ("PATCH", "/api/orders", "GET, HEAD, POST", None),
             ("OPTIONS", "/api/orders", "GET, HEAD, POST", user),
             ("GET", "/api/orders/create", "POST", user),
             ("HEAD", "/api/orders/create", "POST", user),
             ("PUT", "/api/orders/create", "POST", None),
             ("GET", f"/api/orders/{oid}/cancel", "POST", user),
             ("DELETE", f"/api/orders/{oid}/cancel", "POST", None),
             ("POST", "/healthz", "GET, HEAD", None),
             ("DELETE", "/healthz", "GET, HEAD", None)]
    sub = SubChecks()
    for method, path, allow, u in cases:
        def one(method=method, path=path, allow=allow, u=u):
            resp = c.request(method, path, user=u)
            expect(resp, 405)
            ensure_eq(resp.header("allow"), allow, "Allow header")
        sub.run(f"{method} {path}{'' if u else ' (no identity)'}", one)
    sub.done()
    expect(get_order(c, user, oid), 200)  # the order survived DELETE/PUT


# --------------------------------------------------------------------------
# 413 (second server with --max-body 1024)
# --------------------------------------------------------------------------

def body_of_size(n):
    """A valid create body of exactly n bytes (padding in shipping_address)."""
    base = order_doc(shipping=js(""))
    pad = n - len(base.encode())
    ensure(pad >= 1, f"cannot build a {n}-byte body")
    body = order_doc(shipping=js("s" * pad))
    assert len(body.encode()) == n
    return body


@per_protocol
def test_413_body_over_max_body(ctx, proto):
    c = ctx.client(proto, ctx.small)
    user = ctx.user("big", proto)
    warm = proto == "h2c-upgrade"  # send the big bodies over an already upgraded connection
    sub = SubChecks()

    def at_limit():
        resp = c.request("POST", "/api/orders", user=user, body=body_of_size(1024), warmup=warm)
        expect(resp, 201)
    sub.run("exactly 1024 bytes is accepted", at_limit)
    for n in (1025, 1500, 2048):
        sub.run(f"{n} bytes", lambda n=n: expect(
            c.request("POST", "/api/orders", user=user, body=body_of_size(n), warmup=warm), 413))
    sub.run("seed path, 2048 bytes", lambda: expect(
        c.request("POST", "/api/orders/create", user=user, body=body_of_size(2048), warmup=warm), 413))
    sub.run("2048 bytes of garbage", lambda: expect(
        c.request("POST", "/api/orders", user=user, body=b"x" * 2048, warmup=warm), 413))
    sub.run("413 before 415", lambda: expect(
        c.request("POST", "/api/orders", user=user, body=b"x" * 2048, content_type="text/plain",
                  warmup=warm), 413))
    sub.run("401 before 413", lambda: expect(
        c.request("POST", "/api/orders", body=body_of_size(2048), warmup=warm), 401))
    sub.run("cancel with a 2048-byte body", lambda: expect(
        c.request("POST", f"/api/orders/{UNKNOWN_ID}/cancel", user=user, body=body_of_size(2048),
                  warmup=warm), 413))
    if proto == "h2c-upgrade":
        def upgrade_request_itself():
            # the oversized body on the upgrade request itself: a problem+json 413 whichever
            # protocol answers it
            resp = c.request("POST", "/api/orders", user=user, body=body_of_size(2048), check=False)
            ensure(resp.http_version in ("1.1", "2"), f"protocol {resp.http_version}")
            ensure(resp.header("content-length") is not None, f"no Content-Length: {resp!r}")
            expect(resp, 413)
        sub.run("oversized body on the upgrade request", upgrade_request_itself)
    sub.done()
    page = expect(list_orders(c, user), 200)
    ensure_eq(page["total"], 1, "orders stored (only the 1024-byte one)")
    expect(c.request("GET", "/healthz"), 200)


@once
def test_413_http1_closes_connection(ctx):
    """Over HTTP/1.1 the 413 is a problem+json and the connection then closes."""
    port = ctx.small.port
    body = body_of_size(1500).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /api/orders HTTP/1.1\r\nHost: x\r\nX-User-Id: raw413\r\n"
                  b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        head, payload = recv_http1_response(s)
        ensure(head.startswith(b"HTTP/1.1 413"), f"status line: {head[:80]!r}")
        ensure(re.search(rb"(?im)^content-type:\s*application/problem\+json", head),
               f"413 content-type: {head!r}")
        doc = json.loads(payload)
        ensure_eq(doc.get("status"), 413, "problem status")
        s.settimeout(5)
        rest = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except ConnectionResetError:
            pass
        except socket.timeout:
            raise TestFailure("connection still open 5 s after the 413") from None
        ensure_eq(rest, b"", "bytes after the 413 response")


def _read_http1_responses(sock, count, timeout=5.0):
    """Reads `count` pipelined HTTP/1.1 responses (Content-Length framed)."""
    sock.settimeout(timeout)
    buf, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise TestFailure(f"connection closed after {len(out)} of {count} responses")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
        ensure(m is not None, f"raw HTTP/1.1 response without Content-Length: {head!r}")
        while len(rest) < int(m.group(1)):
            chunk = sock.recv(65536)
            if not chunk:
                raise TestFailure("connection closed inside a response body")
            rest += chunk
        out.append((int(head.split(b" ", 2)[1]), rest[:int(m.group(1))]))
        buf = rest[int(m.group(1)):]
    return out


@once
def test_http1_pipelined_and_abandoned_changes(ctx):
    """A change is answered only after its journal sync, in a later loop
    iteration: HTTP/1.1 pipelining still answers in order, requests that arrive
    while a change waits are served after it, and clients that leave while
    their change waits leave the server healthy."""
    port = ctx.server.port

    def post(user):
        body = SEED_BODY.encode()
        return (b"POST /api/orders HTTP/1.1\r\nHost: x\r\nX-User-Id: %s\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (user, len(body)) + body)

    listing = b"GET /api/orders?limit=10 HTTP/1.1\r\nHost: x\r\nX-User-Id: pipe-a\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(post(b"pipe-a") + post(b"pipe-a") + listing)
        got = _read_http1_responses(s, 3)
        ensure_eq([st for st, _ in got], [201, 201, 200], "statuses of two pipelined creates and a list")
        ids = [json.loads(b)["id"] for _, b in got[:2]]
        ensure(ids[0] != ids[1], f"two creates, one id: {ids}")
        ensure_eq(sorted(o["id"] for o in json.loads(got[2][1])["orders"]), sorted(ids),
                  "the list sent behind the creates sees both")
        # the second request arrives while the first waits for the journal
        for _ in range(20):
            s.sendall(post(b"pipe-b"))
            s.sendall(post(b"pipe-b"))
            ensure_eq([st for st, _ in _read_http1_responses(s, 2)], [201, 201], "creates sent back to back")

    for _ in range(32):  # leave while the change waits for the journal
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(post(b"pipe-gone"))
        s.close()
    c = ctx.client("http1.1")
    expect(c.request("GET", "/healthz"), 200)
    page = expect(c.request("GET", "/api/orders?limit=100", user="pipe-gone"), 200)
    ensure(0 <= page["total"] <= 32 and len(page["orders"]) == page["total"],
           f"abandoned creates: total {page['total']}, {len(page['orders'])} listed")
    pb = expect(c.request("GET", "/api/orders?limit=100", user="pipe-b"), 200)
    ensure_eq(pb["total"], 40, "creates by user pipe-b")


# --------------------------------------------------------------------------
# 415
# --------------------------------------------------------------------------

@per_protocol
def test_415_not_application_json(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("m415", proto)
    _, doc = create(c, user)
    sub = SubChecks()
    for ct in ("text/plain", "application/x-www-form-urlencoded", "text/json", "application/jsonx",
               "application/problem+json", "application/json-seq", "multipart/form-data; boundary=x"):
        sub.run(ct, lambda ct=ct: expect(
            c.request("POST", "/api/orders", user=user, body=SEED_BODY, content_type=ct), 415))
    sub.run("no Content-Type", lambda: expect(
        c.request("POST", "/api/orders", user=user, body=SEED_BODY, content_type=None), 415))
    sub.run("seed path text/plain", lambda: expect(
        c.request("POST", "/api/orders/create", user=user, body=SEED_BODY, content_type="text/plain"), 415))
    sub.run("415 before 400", lambda: expect(
        c.request("POST", "/api/orders", user=user, body=b"{]", content_type="text/plain"), 415))
    sub.run("401 before 415", lambda: expect(
        c.request("POST", "/api/orders", body=SEED_BODY, content_type="text/plain"), 401))
    sub.run("cancel with a text/plain body", lambda: expect(
        cancel(c, user, doc["id"], body=b"please", content_type="text/plain"), 415))
    sub.done()
    page = expect(list_orders(c, user), 200)
    ensure_eq(page["total"], 1, "orders after 415s")
    got = expect(get_order(c, user, doc["id"]), 200)
    ensure_eq(got["status"], "pending", "order status after a rejected cancel")


# --------------------------------------------------------------------------
# 422
# --------------------------------------------------------------------------

def run_422_table(ctx, proto, cases, valid=()):
    """cases: (label, body, fields); valid: (label, body) that must be 201."""
    c = ctx.client(proto)
    user = ctx.user("m422", proto)
    sub = SubChecks()
    for label, body, fields in cases:
        sub.run(label, check_422, c, user, body, fields)
    for label, body in valid:
        sub.run(f"valid: {label}", create, c, user, body)
    sub.done()
    page = expect(list_orders(c, user), 200)
    ensure_eq(page["total"], len(valid), "orders stored (only the valid bodies)")


@per_protocol
def test_422_quantity(ctx, proto):
    f = {"items[0].quantity"}
    cases = [(f"quantity {q}", order_doc(items=[item(qty=q)]), f)
             for q in ("1.5", '"2"', "0", "-1", "1000001", "2.0", "2e0", "1E0", "null", "true",
                       "[1]", "99999999999999999999999")]
    cases.append(("quantity missing", order_doc(items=[item(qty=OMIT)]), f))
    cases.append(("second item", order_doc(items=[item(), item(qty="0")]), {"items[1].quantity"}))
    valid = [("quantity 1", order_doc(items=[item(qty="1")])),
             ("quantity 1000000", order_doc(items=[item(qty="1000000")]))]
    run_422_table(ctx, proto, cases, valid)


@per_protocol
def test_422_price(ctx, proto):
    f = {"items[1].price"}
    cases = [(f"price {p}", order_doc(items=[item(), item(price=p)]), f)
             for p in ("10.999", "-1", '"10.99"', "-0.01", "0.001", "1.5e-2", "1e400",
                       "123456789012345678901234567890", "null", "false", "{}")]
    cases.append(("price missing", order_doc(items=[item(), item(price=OMIT)]), f))
    # a price that is fine by itself but cannot be held in int64 minor units
    cases.append(("price 92233720368547758.08", order_doc(items=[item(price="92233720368547758.08")]),
                  ({"items[0].price"}, {"items"})))
    run_422_table(ctx, proto, cases)


@per_protocol
def test_422_product_id(ctx, proto):
    f = {"items[0].product_id"}
    cases = [(f"product_id {label}", order_doc(items=[item(pid=p)]), f)
             for label, p in (("empty", '""'), ("65 bytes", js("x" * 65)), ("number", "123"),
                              ("null", "null"), ("list", '["a"]'), ("33 x 2-byte chars", js("\u00e9" * 33)))]
    cases.append(("product_id missing", order_doc(items=[item(pid=OMIT)]), f))
    valid = [("64 bytes", order_doc(items=[item(pid=js("x" * 64))])),
             ("1 byte", order_doc(items=[item(pid=js("x"))]))]
    run_422_table(ctx, proto, cases, valid)


@per_protocol
def test_422_shipping_payment_currency(ctx, proto):
    cases = []
    for label, v in (("empty", '""'), ("1025 bytes", js("a" * 1025)), ("513 x 2-byte chars", js("\u00e9" * 513)),
                     ("number", "42"), ("null", "null"), ("object", '{"street":"x"}')):
        cases.append((f"shipping_address {label}", order_doc(shipping=v), {"shipping_address"}))
    cases.append(("shipping_address missing", order_doc(shipping=OMIT), {"shipping_address"}))
    for label, v in (("empty", '""'), ("33 bytes", js("p" * 33)), ("17 x 2-byte chars", js("\u00e9" * 17)),
                     ("boolean", "false"), ("null", "null")):
        cases.append((f"payment_method {label}", order_doc(payment=v), {"payment_method"}))
    cases.append(("payment_method missing", order_doc(payment=OMIT), {"payment_method"}))
    for v in ('"usd"', '"US"', "123", '"USDD"', "null", '""', '"U$D"', '"Usd"', '["USD"]'):
        cases.append((f"currency {v}", order_doc(currency=v), {"currency"}))
    valid = [("shipping_address 1024 bytes", order_doc(shipping=js("a" * 1024))),
             ("payment_method 32 bytes", order_doc(payment=js("p" * 32))),
             ("currency EUR", order_doc(currency='"EUR"'))]
    run_422_table(ctx, proto, cases, valid)


@per_protocol
def test_422_items_and_document(ctx, proto):
    cases = [("items empty", order_doc(items="[]"), {"items"}),
             ("items object", order_doc(items="{}"), {"items"}),
             ("items string", order_doc(items='"x"'), {"items"}),
             ("items null", order_doc(items="null"), {"items"}),
             ("items missing", order_doc(items=OMIT), {"items"}),
             ("1001 items", order_doc(items=[item()] * 1001), {"items"}),
             ("everything missing", "{}", {"items", "shipping_address", "payment_method"}),
             ("total overflow 1000000 x 9999999999999.99",
              order_doc(items=[item(qty="1000000", price="9999999999999.99")]), {"items"}),
             ("total overflow 1000000 x 92233720368.55",
              order_doc(items=[item(qty="1000000", price="92233720368.55")]), {"items"}),
             ("total overflow across lines",
              order_doc(items=[item(price="9999999999999.99"), item(price="0.01")]), {"items"}),
             ("member twice", order_doc(extra=['"payment_method":"cash"']),
              ({"payment_method"}, {"body"})),
             ("item member twice", order_doc(items=['{"product_id":"a","quantity":1,"quantity":2,"price":1}']),
              ({"items[0].quantity"}, {"body"}))]
    for doc_text in ("[]", "[1,2]", '"order"', "1", "null", "true"):
        cases.append((f"document {doc_text}", doc_text, {"body"}))
    valid = [("1000 items", order_doc(items=[item()] * 1000))]
    run_422_table(ctx, proto, cases, valid)


@per_protocol
def test_422_every_broken_field_named(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("many", proto)
    items = [
        item(js(""), "1.5", "10.999"),            # 0: product_id, quantity, price
        item(js("x" * 65), '"2"', "-1"),          # 1
        item("123", "0", '"10.99"'),              # 2
        item(js("ok"), "-1", "1"),                # 3: quantity
        item(js("ok"), "1000001", "1"),           # 4: quantity
        item(js("ok"), "2.0", "1"),               # 5: quantity
        item(OMIT, "1", "1"),                     # 6: product_id
        item(js("ok"), OMIT, "1"),                # 7: quantity
        item(js("ok"), "1", OMIT),                # 8: price
        item(js("ok"), "1", "1.00"),              # 9: fine
    ]
    body = order_doc(items=items, shipping=js(""), payment=js("p" * 33), currency=js("usd"))
    want = {"items[0].product_id", "items[0].quantity", "items[0].price",
            "items[1].product_id", "items[1].quantity", "items[1].price",
            "items[2].product_id", "items[2].quantity", "items[2].price",
            "items[3].quantity", "items[4].quantity", "items[5].quantity",
            "items[6].product_id", "items[7].quantity", "items[8].price",
            "shipping_address", "payment_method", "currency"}
    check_422(c, user, body, want)
    # 1000 broken fields fit in the 1000-entry cap: every one must be named
    check_422(c, user, order_doc(items=[item(qty="0")] * 1000),
              {f"items[{i}].quantity" for i in range(1000)})

    def over_the_cap():
        # 1001 items, all broken: too many items, and the list stops at 1000 entries
        resp = c.request("POST", "/api/orders", user=user, body=order_doc(items=[item(qty="0")] * 1001))
        doc = expect(resp, 422)
        fields = [e.get("field") for e in doc.get("errors", [])]
        ensure(0 < len(fields) <= 1000, f"{len(fields)} errors entries for 1001 broken items")
        ensure("items" in fields, f"'items' (1001 entries) not named among {fields[:5]}...")
    over_the_cap()
    check_422(c, user, order_doc(items=[item(js(""))] * 3, shipping=js("a" * 1025), currency="123"),
              {"items[0].product_id", "items[1].product_id", "items[2].product_id",
               "shipping_address", "currency"})


# --------------------------------------------------------------------------
# Isolation, pagination, filters, ids
# --------------------------------------------------------------------------

@per_protocol
def test_user_isolation(ctx, proto):
    c = ctx.client(proto)
    alice, bob = ctx.user("alice", proto), ctx.user("bob", proto)
    _, a1 = create(c, alice)
    _, a2 = create(c, alice)
    expect(get_order(c, bob, a1["id"]), 404)
    expect(c.request("HEAD", f"/api/orders/{a1['id']}", user=bob), 404)
    expect(cancel(c, bob, a1["id"]), 404)
    page = expect(list_orders(c, bob), 200)
    ensure_eq((page["orders"], page["total"]), ([], 0), "bob's list before he orders")
    _, b1 = create(c, bob)
    page = loads_exact(list_orders(c, bob))
    ensure_eq([o["id"] for o in page["orders"]], [b1["id"]], "bob's list")
    ensure_eq(page["total"], 1, "bob's total")
    page = loads_exact(list_orders(c, alice))
    ensure_eq([o["id"] for o in page["orders"]], [a2["id"], a1["id"]], "alice's list")
    got = get_order(c, alice, a1["id"])
    expect(got, 200)
    ensure_eq(loads_exact(got), a1, "alice's order after bob's attempts")
    expect(get_order(c, alice, b1["id"]), 404)


@per_protocol
def test_pagination_newest_first(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("pages", proto)
    created = [create(c, user)[1] for _ in range(25)]
    ids = [o["id"] for o in created]
    by_id = {o["id"]: o for o in created}
    seen = []
    for offset in (0, 10, 20, 30):
        resp = list_orders(c, user, f"limit=10&offset={offset}")
        expect(resp, 200)
        page = loads_exact(resp)
        ensure_eq(set(page), {"orders", "limit", "offset", "total"}, "page keys")
        ensure_eq((page["limit"], page["offset"], page["total"]), (10, offset, 25),
                  f"limit/offset/total at offset {offset}")
        ensure_eq(len(page["orders"]), max(0, min(10, 25 - offset)), f"page size at offset {offset}")
        for o in page["orders"]:
            ensure_eq(o, by_id.get(o["id"]), "listed order vs created order")
        seen += [o["id"] for o in page["orders"]]
    ensure_eq(seen, ids[::-1], "ids over all pages (newest first)")
    page = expect(list_orders(c, user), 200)  # defaults
    ensure_eq((page["limit"], page["offset"], len(page["orders"])), (10, 0, 10), "default page")
    ensure_eq([o["id"] for o in page["orders"]], ids[::-1][:10], "default page ids")
    page = expect(list_orders(c, user, "limit=100"), 200)
    ensure_eq([o["id"] for o in page["orders"]], ids[::-1], "limit=100")
    page = expect(list_orders(c, user, "offset=24&limit=5"), 200)
    ensure_eq([o["id"] for o in page["orders"]], [ids[0]], "last order alone")
    page = expect(list_orders(c, user, "offset=25"), 200)
    ensure_eq((page["orders"], page["total"]), ([], 25), "page exactly past the end")


@per_protocol
def test_status_filter(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("filter", proto)
    ids = [create(c, user)[1]["id"] for _ in range(8)]
    for i in (0, 3, 6):
        expect(cancel(c, user, ids[i]), 200)
    page = expect(list_orders(c, user, "status=cancelled"), 200)
    ensure_eq([o["id"] for o in page["orders"]], [ids[6], ids[3], ids[0]], "cancelled, newest first")
    ensure(all(o["status"] == "cancelled" for o in page["orders"]), "a non-cancelled order listed")
    ensure_eq(page["total"], 3, "cancelled total")
    page = expect(list_orders(c, user, "status=cancelled&limit=2&offset=1"), 200)
    ensure_eq(([o["id"] for o in page["orders"]], page["total"], page["limit"], page["offset"]),
              ([ids[3], ids[0]], 3, 2, 1), "cancelled page 2")
    page = expect(list_orders(c, user, "status=pending&limit=100"), 200)
    want = [ids[i] for i in (7, 5, 4, 2, 1)]
    ensure_eq(([o["id"] for o in page["orders"]], page["total"]), (want, 5), "pending")
    ensure(all(o["status"] == "pending" for o in page["orders"]), "a non-pending order listed")
    for s in ("processing", "shipped", "delivered"):
        page = expect(list_orders(c, user, f"status={s}"), 200)
        ensure_eq((page["orders"], page["total"]), ([], 0), f"status={s}")
    page = expect(list_orders(c, user, "limit=100"), 200)
    ensure_eq(([o["id"] for o in page["orders"]], page["total"]), (ids[::-1], 8), "unfiltered")


@per_protocol
def test_ids_unique_and_time_ordered(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("ids", proto)
    ids = [create(c, user)[1]["id"] for _ in range(12)]
    ensure(all(ID_RE.match(i) for i in ids), f"malformed ids {ids}")
    ensure_eq(len(set(ids)), len(ids), "distinct ids")
    ensure_eq(ids, sorted(ids), "ids sort by creation time")


# --------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------

@per_protocol
def test_concurrent_cancels_of_one_order(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("race", proto)
    _, doc = create(c, user)
    resps = run_threads(16, lambda i: cancel(c, user, doc["id"]))
    bodies = []
    for r in resps:
        expect(r, 200)
        b = loads_exact(r)
        check_order(b, user=user, status="cancelled", version=2)
        bodies.append(b)
    ensure(all(b == bodies[0] for b in bodies), "concurrent cancels returned different orders")
    final = loads_exact(get_order(c, user, doc["id"]))
    ensure_eq((final["status"], final["version"]), ("cancelled", 2), "order after 16 cancels")


@per_protocol
def test_concurrent_creates_one_user(ctx, proto):
    c = ctx.client(proto)
    user = ctx.user("burst", proto)
    docs = run_threads(16, lambda i: create(c, user)[1])
    ids = [d["id"] for d in docs]
    ensure_eq(len(set(ids)), 16, "distinct ids from 16 concurrent creates")
    page = expect(list_orders(c, user, "limit=100"), 200)
    ensure_eq(page["total"], 16, "total after concurrent creates")
    listed = [o["id"] for o in page["orders"]]
    ensure_eq(set(listed), set(ids), "listed ids")
    ensure_eq(listed, sorted(listed, reverse=True), "list newest first (ids sort by time)")


# --------------------------------------------------------------------------
# Command line and shutdown (protocol-independent)
# --------------------------------------------------------------------------

@once
def test_cli_usage_errors(ctx):
    sub = SubChecks()
    data = tempfile.mkdtemp(prefix="cli-", dir=ctx.workdir)
    for args in (["--bogus"], ["--threads", "abc"], ["--threads", "0"], ["--listen", "nope"],
                 ["--listen", "127.0.0.1:99999"], ["--max-body", "abc"], ["--listen"]):
        def one(args=args):
            p = subprocess.run([ctx.binary, "--data-dir", data, *args], capture_output=True, timeout=10)
            ensure_eq(p.returncode, 2, f"exit status for {args}")
            lines = p.stderr.decode(errors="replace").strip().splitlines()
            ensure_eq(len(lines), 1, f"stderr lines for {args} ({lines})")
        sub.run(" ".join(args), one)
    for flag in ("--help", "--version"):
        def ok(flag=flag):
            p = subprocess.run([ctx.binary, flag], capture_output=True, timeout=10)
            ensure_eq(p.returncode, 0, f"exit status for {flag}")
            ensure(p.stdout.strip() or p.stderr.strip(), f"{flag} printed nothing")
        sub.run(flag, ok)
    sub.done()


@once
def test_sigterm_closes_idle_keepalive_connections(ctx):
    srv = Server(ctx.binary, workdir=ctx.workdir, name="orderd-shutdown").start()
    socks = []
    try:
        s1, body1 = open_idle_http1(srv.port)
        socks.append(s1)
        ensure_eq(json.loads(body1), {"status": "ok"}, "raw HTTP/1.1 /healthz")
        s2, body2 = open_idle_h2(srv.port)
        socks.append(s2)
        ensure_eq(json.loads(body2), {"status": "ok"}, "raw h2c /healthz")
        time.sleep(0.2)  # both are now idle keep-alive connections
        rc = srv.terminate(timeout=5.0)
        ensure(rc is not None, f"orderd still running 5 s after SIGTERM with idle connections; "
                               f"stderr: {srv.stderr_text()!r}")
        ensure_eq(rc, 0, "exit status after SIGTERM")
        ensure(srv.terminate_seconds < 5.0, f"shutdown took {srv.terminate_seconds:.2f} s")
    finally:
        for s in socks:
            s.close()
        srv.kill9()


def test_main_server_sigterm(ctx):
    ensure(ctx.server.alive(), f"orderd died during the suite; stderr: {ctx.server.stderr_text()!r}")
    rc = ctx.server.terminate(timeout=5.0)
    ensure(rc is not None, "orderd still running 5 s after SIGTERM")
    ensure_eq(rc, 0, "exit status after SIGTERM")
    ensure(ctx.server.terminate_seconds < 5.0, f"shutdown took {ctx.server.terminate_seconds:.2f} s")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orderd", required=True, help="path to the orderd binary")
    ap.add_argument("-k", dest="pattern", default="", help="run only tests whose name contains this")
    ap.add_argument("-p", "--protocol", action="append", choices=ALL_PROTOCOLS,
                    help="run only these protocols (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    binary = os.path.abspath(args.orderd)
    runner = Runner(verbose=args.verbose)
    orderd_harness.CONTRACT = OpenAPIChecker()
    if not require_executable(runner, binary):
        return runner.finish()
    if shutil.which("curl") is None:
        runner.fail("curl is installed", "curl is not on PATH: every test drives the server with it")
        return runner.finish()

    t0 = time.monotonic()
    with TempDir("orderd-it-") as workdir:
        server = Server(binary, workdir=workdir, name="orderd")
        small = Server(binary, args=["--max-body", "1024"], workdir=workdir, name="orderd-small")
        try:
            if not start_servers(runner, server, small):
                return runner.finish()
            ctx = Ctx(binary, workdir, server, small)
            run_registered(runner, ctx, PROTOCOL_TESTS, GLOBAL_TESTS, args.protocol or list(ALL_PROTOCOLS),
                           args.pattern)
            runner.run("main_server_sigterm_exit_0", test_main_server_sigterm, ctx)
            runner.run("small_server_sigterm_exit_0", lambda: ensure_eq(
                small.terminate(5.0), 0, "exit status of the --max-body 1024 server after SIGTERM"))
        finally:
            server.kill9()
            small.kill9()
    print(f"\n{orderd_harness.CONTRACT.checked} response bodies checked against docs/openapi.yaml")
    print(f"suite took {time.monotonic() - t0:.1f} s")
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
