#!/usr/bin/env python3
"""Money in every currency (issue 13): prices and totals follow each
currency's ISO 4217 minor unit (JPY 0, USD 2, KWD 3, CLF 4 decimals),
unknown and unpayable codes are 422, every amount fits in 15 significant
digits so that a client parsing it as a double reads it exactly (RFC 7493),
and each order carries total_minor right after total. Every rule over
HTTP/1.1, h2c and h2c upgrade, then 200 random orders per protocol in many
currencies checked against Python's decimal and read back with json.loads'
float parse too.

    python3 tests/integration/money_test.py --orderd build/orderd

The last line is exactly `N passed, N failed, N skipped` (the harness is
orderd_harness.py); every response body is checked against docs/openapi.yaml."""
import decimal
import json
import os
import random
import re
import sys
from decimal import Decimal

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import orderd_harness  # noqa: E402
from openapi_check import OpenAPIChecker  # noqa: E402
from orderd_harness import (  # noqa: E402
    ALL_PROTOCOLS, Client, Server, SubChecks, TempDir, ensure, ensure_eq, expect, run_registered, start_servers,
    suite_start)

decimal.getcontext().prec = 60

# ISO 4217 minor units, written here from the standard, apart from the table
# in src/currency.c: a sample of every kind.
DIGITS = {"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "INR": 2, "BRL": 2, "CNY": 2, "MXN": 2,
          "JPY": 0, "KRW": 0, "ISK": 0, "VND": 0, "XOF": 0, "CLP": 0, "PYG": 0,
          "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3, "IQD": 3, "LYD": 3,
          "CLF": 4, "UYW": 4}
NOT_PAYABLE = ("XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA")
MAX_MINOR = 999999999999999  # 15 digits
USD_RULE = "must be a number >= 0 with at most 2 decimal places"
FIFTEEN = "15 significant digits"


def body(items, currency=None, currency_first=False):
    """A create body as raw text: items are (product_id, quantity text, price text)."""
    lines = ",".join('{"product_id":%s,"quantity":%s,"price":%s}' % (json.dumps(p), q, pr) for p, q, pr in items)
    cur = f'"currency":{json.dumps(currency)}' if currency is not None else None
    members = [f'"items":[{lines}]', '"shipping_address":"1 Main St"', '"payment_method":"card"']
    if cur:
        members.insert(0 if currency_first else len(members), cur)
    return "{" + ",".join(members) + "}"


def one(price, currency=None, qty="1", **kw):
    return body([("p", qty, price)], currency, **kw)


class Ctx:
    def __init__(self, server, workdir):
        self.server = server
        self.workdir = workdir
        self.n = 0

    def client(self, proto):
        return Client(self.server.base_url, proto, self.workdir)

    def user(self, tag, proto):
        self.n += 1
        return f"{tag}.{self.n}@{proto}"


def created(c, user, text):
    resp = c.request("POST", "/api/orders", user=user, body=text)
    expect(resp, 201)
    return resp


def refused(c, user, text, field, *needles):
    """POST text; a 422 naming exactly `field`, its message containing every needle. Returns the message."""
    resp = c.request("POST", "/api/orders", user=user, body=text)
    doc = expect(resp, 422)
    errs = doc.get("errors") or []
    ensure_eq([e.get("field") for e in errs], [field], f"fields named for {text}")
    msg = errs[0].get("message", "")
    for n in needles:
        ensure(n in msg, f"message {msg!r} for {text} does not say {n!r}")
    return msg


def raw_amounts(resp):
    """(price texts, total text, total_minor text) as written in the raw body."""
    t = resp.body.decode()
    prices = re.findall(r'"price":(-?[0-9][0-9.eE+-]*)', t)
    m = re.search(r'"total":(-?[0-9][0-9.eE+-]*),"total_minor":(-?[0-9]+)[,}]', t)
    ensure(m is not None, f'no "total":...,"total_minor":... side by side in {t[:400]!r}')
    return prices, m.group(1), m.group(2)


def fraction_digits(text):
    return len(text.split(".", 1)[1]) if "." in text else 0


def check_amounts(resp, currency, want_prices, want_total):
    """Raw texts with exactly the currency's digits, equal to the Decimals
    given, total_minor the total in minor units; and the same values through
    json.loads' float parse (what JavaScript and Python clients read)."""
    d = DIGITS[currency]
    prices, total, total_minor = raw_amounts(resp)
    for text in prices + [total]:
        ensure(re.fullmatch(r"(0|[1-9][0-9]*)(\.[0-9]+)?", text), f"{text!r} is not a plain decimal")
        ensure_eq(fraction_digits(text), d, f"fraction digits of {text} in {currency}")
    ensure_eq([Decimal(p) for p in prices], list(want_prices), f"prices in {currency}")
    ensure_eq(Decimal(total), want_total, f"total in {currency}")
    ensure_eq(int(total_minor), int(want_total.scaleb(d)), f"total_minor in {currency}")
    doc = json.loads(resp.body)  # floats, as every double-parsing client sees them
    ensure(type(doc["total_minor"]) is int, f"total_minor {doc['total_minor']!r} is not an integer")
    got = [Decimal(repr(it["price"])) for it in doc["items"]] + [Decimal(repr(doc["total"]))]
    ensure_eq(got, list(want_prices) + [want_total], f"amounts read as doubles in {currency}")
    return doc


PROTOCOL_TESTS = []


def per_protocol(fn):
    PROTOCOL_TESTS.append(fn)
    return fn


@per_protocol
def test_issue_examples(ctx, proto):
    """The four findings of issue 13, each now answered right."""
    c, u = ctx.client(proto), ctx.user("issue", proto)
    refused(c, u, one("10.5", "JPY"), "items[0].price", "no decimal places", "JPY")
    for text, cur, want in ((one("10", "JPY", qty="3"), "JPY", (["10"], "30", "30")),
                            (one("1.234", "KWD", qty="2"), "KWD", (["1.234"], "2.468", "2468")),
                            (one("1.2345", "CLF"), "CLF", (["1.2345"], "1.2345", "12345")),
                            (one("10.5", "USD"), "USD", (["10.50"], "10.50", "1050"))):
        r = created(c, u, text)
        ensure_eq(raw_amounts(r), want, f"{cur}: price, total and total_minor as written")
        check_amounts(r, cur, [Decimal(want[0][0])], Decimal(want[1]))
    refused(c, u, one("1", "XYZ"), "currency", "ISO 4217")
    refused(c, u, one("99999999999999.99"), "items[0].price", FIFTEEN)


@per_protocol
def test_minor_unit_of_each_currency(ctx, proto):
    """Too many decimals for the currency is 422 naming the price and the
    currency's places; as many (trailing zeros aside) is accepted."""
    c, u = ctx.client(proto), ctx.user("units", proto)
    sub = SubChecks()
    for cur, d in (("JPY", 0), ("KRW", 0), ("EUR", 2), ("KWD", 3), ("BHD", 3), ("CLF", 4), ("UYW", 4)):
        fine = "1." + "2" * d + "000" if d else "12.000"
        sub.run(f"{cur} {fine}", lambda cur=cur, fine=fine: created(c, u, one(fine, cur)))
        over = "1." + "2" * (d + 1)
        want = {0: f"no decimal places for {cur}", 2: USD_RULE}.get(d, f"at most {d} decimal places for {cur}")
        sub.run(f"{cur} {over}", refused, c, u, one(over, cur), "items[0].price", want)
    sub.done()


@per_protocol
def test_currency_anywhere_in_the_body(ctx, proto):
    """The currency may come before or after the items; absent is USD."""
    c, u = ctx.client(proto), ctx.user("where", proto)
    for first in (True, False):
        r = created(c, u, one("500", "JPY", qty="2", currency_first=first))
        check_amounts(r, "JPY", [Decimal(500)], Decimal(1000))
        refused(c, u, one("0.5", "JPY", currency_first=first), "items[0].price", "JPY")
    r = created(c, u, one("0.5"))
    ensure_eq(r.json()["currency"], "USD", "default currency")
    check_amounts(r, "USD", [Decimal("0.50")], Decimal("0.50"))


@per_protocol
def test_unknown_and_unpayable_codes(ctx, proto):
    c, u = ctx.client(proto), ctx.user("codes", proto)
    sub = SubChecks()
    for code in ("XYZ", "AAA", "ABC", "DEM", "ZZZ"):
        sub.run(code, refused, c, u, one("1", code), "currency", "ISO 4217")
    for code in NOT_PAYABLE:
        sub.run(code, refused, c, u, one("1", code), "currency", "not a currency orders can be paid in")
    # a bad code does not hide a bad price: prices are then checked as USD
    resp = c.request("POST", "/api/orders", user=u, body=one("10.999", "XYZ"))
    ensure_eq(sorted(e["field"] for e in expect(resp, 422)["errors"]), ["currency", "items[0].price"], "fields")
    sub.done()


@per_protocol
def test_usd_messages_unchanged(ctx, proto):
    c, u = ctx.client(proto), ctx.user("usd", proto)
    for p in ("10.999", "-1", "0.001", "-0.01"):
        ensure_eq(refused(c, u, one(p), "items[0].price"), USD_RULE, f"message for {p}")
        ensure_eq(refused(c, u, one(p, "USD"), "items[0].price"), USD_RULE, f"message for {p} USD")


@per_protocol
def test_fifteen_significant_digits(ctx, proto):
    """The largest price and total in each minor unit is accepted and read
    exactly as a double; one minor unit more is refused, saying why."""
    c, u = ctx.client(proto), ctx.user("fifteen", proto)
    sub = SubChecks()
    for cur in ("JPY", "USD", "KWD", "CLF"):
        d = DIGITS[cur]
        top = Decimal(MAX_MINOR).scaleb(-d)
        over = Decimal(MAX_MINOR + 1).scaleb(-d)

        def at_limit(cur=cur, top=top):
            r = created(c, u, one(str(top), cur))
            check_amounts(r, cur, [top], top)
        sub.run(f"{cur} {top}", at_limit)
        sub.run(f"{cur} {over}", refused, c, u, one(str(over), cur), "items[0].price", FIFTEEN, f"{top}")
        # the total: each line fine, their sum one minor unit past the limit
        half = Decimal(MAX_MINOR // 2 + 1).scaleb(-d)
        sub.run(f"{cur} total", refused, c, u, body([("a", "1", str(half)), ("b", "1", str(half))], cur),
                "items", FIFTEEN, "total")
        # quantity x price past it
        sub.run(f"{cur} 1000000 x", refused, c, u, one(str(Decimal(10 ** 10).scaleb(-d)), cur, qty="1000000"),
                "items", FIFTEEN)
        exact = Decimal(MAX_MINOR // 3).scaleb(-d)

        def three(cur=cur, exact=exact):
            r = created(c, u, one(str(exact), cur, qty="3"))
            check_amounts(r, cur, [exact], exact * 3)
        sub.run(f"{cur} 3 x {exact}", three)
    sub.run("1e400", refused, c, u, one("1e400"), "items[0].price", FIFTEEN)
    sub.done()


@per_protocol
def test_total_minor_everywhere(ctx, proto):
    """total_minor right after total in the create answer, GET and lists."""
    c, u = ctx.client(proto), ctx.user("minor", proto)
    r = created(c, u, one("1.234", "KWD", qty="3"))
    oid = r.json()["id"]
    for resp in (c.request("GET", f"/api/orders/{oid}", user=u), c.request("GET", "/api/orders", user=u)):
        expect(resp, 200)
        ensure('"total":3.702,"total_minor":3702,' in resp.text, f"{resp.url}: {resp.text[:300]}")


def random_price(rng, d, top_minor):
    """(text sent, exact value, minor units) for a price in a currency of d digits."""
    minor = rng.choice((0, 1, rng.randint(0, 999), rng.randint(0, top_minor), top_minor))
    v = Decimal(minor).scaleb(-d)
    form = rng.randrange(6)
    if form == 0:
        text = f"{v:f}"
    elif form == 1:
        text = f"{v:f}" + ("" if d else ".") + "0" * rng.randint(1, 3)  # trailing zeros
    elif form == 2:
        text = f"{minor}e-{d}" if d else f"{minor}"
    elif form == 3:
        text = f"{v:E}" if minor else "0"  # 1.050E+1
    elif form == 4:
        text = f"{minor}0E-{d + 1}" if minor else "0E-7"  # one digit more, zero
    else:
        text = f"{v:e}".replace("e+", "e") if minor else "0.0"
    return text, v, minor


@per_protocol
def test_random_orders_exact(ctx, proto):
    """200 orders in many currencies, prices in many textual forms, some
    broken: every answer agrees with Python's decimal, every amount reads
    back exactly through a double, and GET answers the same bytes."""
    c, u = ctx.client(proto), ctx.user("random", proto)
    rng = random.Random(f"money-{proto}")
    curs = sorted(DIGITS)
    counts = {"created": 0, "price": 0, "total": 0}
    for n in range(200):
        cur = rng.choice(curs)
        d = DIGITS[cur]
        lines, values, total_minor = [], [], 0
        # mostly small orders; now and then amounts near the limit
        top = MAX_MINOR if n % 10 == 0 else rng.choice((10 ** 6, 10 ** 9, 10 ** 12))
        bad_price = None
        for i in range(rng.randint(1, 5)):
            q = rng.choice((1, 2, rng.randint(1, 1000), rng.randint(1, 1000000) if top < 10 ** 9 else 1))
            text, v, minor = random_price(rng, d, top // q)
            if rng.random() < 0.04 and bad_price is None:
                # one non-zero decimal more than the currency has
                text, bad_price = (f"{v:f}5" if d else f"{minor}.5"), i
            lines.append((f"p{i}", str(q), text))
            values.append(v)
            total_minor += q * minor
        text = body(lines, cur, currency_first=rng.random() < 0.5)
        what = f"order {n} in {cur}: {text}"
        if bad_price is not None:
            refused(c, u, text, f"items[{bad_price}].price", *(("2 decimal places",) if d == 2 else (cur,)))
            counts["price"] += 1
        elif total_minor > MAX_MINOR:
            refused(c, u, text, "items", FIFTEEN)
            counts["total"] += 1
        else:
            r = created(c, u, text)
            want_total = sum((Decimal(q) * v for (_, q, _), v in zip(lines, values)), Decimal(0))
            doc = check_amounts(r, cur, values, want_total)
            ensure_eq(doc["total_minor"], total_minor, f"{what}: total_minor")
            if n % 4 == 0:
                g = c.request("GET", f"/api/orders/{doc['id']}", user=u)
                expect(g, 200)
                ensure_eq(g.body, r.body, f"{what}: GET vs create answer")
            counts["created"] += 1
    ensure(counts["created"] >= 150 and counts["price"] >= 1,
           f"the random orders did not cover the cases: {counts}")
    return f"{counts['created']} created, {counts['price']} bad prices, {counts['total']} totals past 15 digits"


def main():
    args, runner, binary = suite_start(__doc__)
    if binary is None:
        return runner.finish()
    orderd_harness.CONTRACT = OpenAPIChecker()
    with TempDir("orderd-money-") as workdir:
        server = Server(binary, workdir=workdir, name="orderd")
        try:
            if not start_servers(runner, server):
                return runner.finish()
            ctx = Ctx(server, workdir)
            run_registered(runner, ctx, PROTOCOL_TESTS, [], ALL_PROTOCOLS, "")
            runner.run("sigterm_exit_0", lambda: ensure_eq(server.terminate(5.0), 0, "exit status after SIGTERM"))
        finally:
            server.kill9()
    print(f"\n{orderd_harness.CONTRACT.checked} response bodies checked against docs/openapi.yaml")
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
