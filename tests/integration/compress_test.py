#!/usr/bin/env python3
"""Response compression (--compress, h2o's gzip filter) on real traffic:

  - a large page (GET /api/orders) asked for with `Accept-Encoding: gzip`
    comes back `Content-Encoding: gzip` with `Vary: accept-encoding` and no
    Content-Length, and gunzips to exactly the bytes the same page has
    without Accept-Encoding (then identity, with Content-Length, as before);
  - an order (it carries an ETag) is never compressed, whatever its size,
    and If-None-Match / If-Match work as before; small bodies, HEAD and
    problem+json answers are never compressed;
  - `curl --compressed`, one keep-alive connection mixing both, /metrics
    and the operator's queue, HTTPS (ALPN h2 and http/1.1), and Vary with
    CORS's Origin;
  - with `--compress off` nothing is compressed.

Per-protocol tests run over HTTP/1.1, h2c with prior knowledge and h2c
upgrade; identity bodies, and gzip bodies once decoded, are validated
against docs/openapi.yaml.

    python3 tests/integration/compress_test.py --orderd build/orderd [-k SUBSTRING]

The last line is exactly `N passed, N failed, N skipped` (the harness is
orderd_harness.py)."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import orderd_harness  # noqa: E402
from openapi_check import OpenAPIChecker  # noqa: E402
from orderd_harness import (  # noqa: E402
    ALL_PROTOCOLS, Client, Runner, Server, SkipTest, TempDir, TestFailure, ensure, ensure_eq, expect, make_cert,
    new_order, require_executable, run_registered, start_servers)

GZIP = "Accept-Encoding: gzip"
MIN_BYTES = 1024  # ORDERD_HTTP_COMPRESS_MIN_BYTES (src/http/compress.h)
PAGE = "/api/orders?limit=20"
SHOP = "https://shop.example"  # the --cors-origin of the server with compression on

class Ctx:
    def __init__(self, workdir, server, off):
        self.workdir, self.server, self.off = workdir, server, off
        with open(os.path.join(server.data_dir, "operator-token")) as f:
            self.token = f.read().strip()
        self._n = 0

    def client(self, proto, server=None):
        return Client((server or self.server).base_url, proto, self.workdir)

    def user_with_orders(self, tag, n=20, server=None):
        """A new user with n varied orders (a page of 20 is about 7 KB)."""
        self._n += 1
        user = f"{tag}.{self._n}"
        http = (server or self.server).http()
        rng = random.Random(self._n)
        try:
            for i in range(n):
                body, _ = new_order(rng, f"{tag}-{i}")
                expect(http.request("POST", "/api/orders", user, body), 201)
        finally:
            http.close()
        return user


# --------------------------------------------------------------------------
# What a compressed and an uncompressed answer look like
# --------------------------------------------------------------------------

def vary_names(resp):
    return [v.strip().lower() for v in (resp.header("vary") or "").split(",") if v.strip()]


def check_identity(resp, what):
    """Not compressed: no Content-Encoding, and (through Client.check_common
    or here) a Content-Length that matches the body."""
    ensure(resp.header("content-encoding") is None,
           f"{what}: Content-Encoding {resp.header('content-encoding')!r} on an answer that must stay identity")
    cl = resp.header("content-length")
    ensure(cl is not None, f"{what}: no Content-Length: {resp!r}")
    if resp.method != "HEAD":
        ensure_eq(int(cl), len(resp.body), f"{what}: Content-Length against the body")


def check_gzipped(resp, identity, what, want_version=None):
    """A gzip answer that decodes to exactly `identity` (bytes); returns the decoded body."""
    ensure(resp.status == 200, f"{what}: expected 200, got {resp!r}")
    if want_version is not None:
        ensure_eq(resp.http_version, want_version, f"{what}: HTTP version")
    ensure_eq(resp.header("content-encoding"), "gzip", f"{what}: Content-Encoding")
    ensure("accept-encoding" in vary_names(resp), f"{what}: Vary {resp.header('vary')!r} lacks accept-encoding")
    ensure(resp.header("content-length") is None,
           f"{what}: Content-Length {resp.header('content-length')!r} on a gzip answer (h2o drops it)")
    if want_version == "1.1":
        ensure_eq((resp.header("transfer-encoding") or "").lower(), "chunked", f"{what}: Transfer-Encoding")
    ensure(resp.header("x-request-id"), f"{what}: no X-Request-Id")
    try:
        plain = gzip.decompress(resp.body)
    except (OSError, EOFError) as e:
        raise TestFailure(f"{what}: the body does not gunzip ({e}): {resp.body[:80]!r}") from None
    ensure(plain == identity, f"{what}: gunzipped body differs from the identity body "
                              f"({len(plain)} against {len(identity)} bytes)")
    ensure(len(resp.body) < len(identity), f"{what}: gzip body of {len(resp.body)} bytes is not smaller "
                                           f"than {len(identity)}")
    if orderd_harness.CONTRACT is not None:
        try:
            path = "/" + resp.url.split("/", 3)[3]  # scheme://host:port/path
            orderd_harness.CONTRACT.check(resp.method, path, resp.status, resp.header("content-type"), plain)
        except AssertionError as e:
            raise TestFailure(f"{what}: contract: {e}") from None
    return plain


def gz(c, method, path, user=None, headers=(), **kw):
    """The request with Accept-Encoding: gzip; the common checks are left to the caller."""
    return c.request(method, path, user=user, headers=[GZIP, *headers], check=False, **kw)


# --------------------------------------------------------------------------
# Per protocol
# --------------------------------------------------------------------------

def test_list_page_gzip(ctx, proto):
    """A page of 20 orders: gzip with Vary when asked, exactly the identity bytes once gunzipped."""
    c = ctx.client(proto)
    user = ctx.user_with_orders("list")
    plain = c.request("GET", PAGE, user=user)  # no Accept-Encoding: Content-Length, as before
    expect(plain, 200)
    check_identity(plain, "page without Accept-Encoding")
    ensure("accept-encoding" not in vary_names(plain), f"Vary on an answer nobody asked to code: {plain.headers}")
    ensure(len(plain.body) >= 4 * MIN_BYTES, f"the page is only {len(plain.body)} bytes")
    check_gzipped(gz(c, "GET", PAGE, user), plain.body, "page with gzip", c.want_version)
    # with --cors-origin, accept-encoding joins CORS's Vary: Origin
    r = gz(c, "GET", PAGE, user, headers=[f"Origin: {SHOP}"])
    check_gzipped(r, plain.body, "page with gzip and a listed Origin", c.want_version)
    ensure_eq(vary_names(r), ["origin", "accept-encoding"], "Vary with a listed Origin")
    for accept in ("gzip, deflate, br", "deflate, GZIP"):
        check_gzipped(c.request("GET", PAGE, user=user, headers=[f"Accept-Encoding: {accept}"], check=False),
                      plain.body, f"page with Accept-Encoding: {accept}", c.want_version)
    # encodings orderd does not code: identity with Content-Length (the
    # library has no brotli; h2o reads no q-values, so gzip;q=0 names no gzip)
    for accept in ("identity", "br", "gzip;q=0"):
        r = c.request("GET", PAGE, user=user, headers=[f"Accept-Encoding: {accept}"])
        expect(r, 200)
        check_identity(r, f"page with Accept-Encoding: {accept}")
        ensure_eq(r.body, plain.body, f"page with Accept-Encoding: {accept}")
    # HEAD: h2o codes no HEAD answer, so it keeps the identity length
    r = c.request("HEAD", PAGE, user=user, headers=[GZIP])
    expect(r, 200)
    check_identity(r, "HEAD with gzip")
    ensure_eq(r.header("content-length"), str(len(plain.body)), "HEAD's Content-Length")


def test_order_with_etag_never_gzipped(ctx, proto):
    """An order over the threshold, created, read, revalidated and cancelled with gzip accepted: always identity."""
    c = ctx.client(proto)
    user = f"etag.{proto}"
    items = [{"product_id": f"a-rather-long-product-identifier-{i:03d}", "quantity": 1 + i % 9, "price": 1.5 + i}
             for i in range(30)]
    body = json.dumps({"items": items, "shipping_address": "1 Main St", "payment_method": "card"})
    made = gz(c, "POST", "/api/orders", user, body=body)
    c.check_common(made)
    doc = expect(made, 201)
    check_identity(made, "201 with gzip accepted")
    ensure(len(made.body) >= MIN_BYTES, f"the order is only {len(made.body)} bytes: too small to show anything")
    etag = made.header("etag")
    ensure(etag, f"no ETag on the 201: {made.headers}")
    path = f"/api/orders/{doc['id']}"
    got = gz(c, "GET", path, user)
    c.check_common(got)
    expect(got, 200)
    check_identity(got, "GET of an order with gzip accepted")
    ensure_eq(got.header("etag"), etag, "ETag of the GET")
    ensure("accept-encoding" not in vary_names(got), f"Vary on an order: {got.headers}")
    r = gz(c, "GET", path, user, headers=[f"If-None-Match: {etag}"])
    ensure_eq(r.status, 304, f"If-None-Match with the ETag the GET sent: {r!r}")
    r = gz(c, "POST", path + "/cancel", user, headers=[f"If-Match: {etag}"])
    c.check_common(r)
    cancelled = expect(r, 200)
    ensure_eq(cancelled["status"], "cancelled", "status after the cancel")
    check_identity(r, "cancel with gzip accepted")
    ensure(r.header("etag") and r.header("etag") != etag, f"ETag after the cancel: {r.header('etag')!r}")


def test_small_bodies_identity(ctx, proto):
    """Under the threshold nothing is compressed: a page of one, the audit trail, /healthz."""
    c = ctx.client(proto)
    user = ctx.user_with_orders("small", n=2)
    page = c.request("GET", "/api/orders?limit=1", user=user, headers=[GZIP])
    doc = expect(page, 200)
    check_identity(page, "page of one")
    ensure(len(page.body) < MIN_BYTES, f"a page of one is {len(page.body)} bytes")
    ensure("accept-encoding" not in vary_names(page), f"Vary on a small page: {page.headers}")
    r = c.request("GET", f"/api/orders/{doc['orders'][0]['id']}/events", user=user, headers=[GZIP])
    expect(r, 200)
    check_identity(r, "audit trail")
    r = c.request("GET", "/healthz", headers=[GZIP])
    expect(r, 200)
    check_identity(r, "/healthz")


def test_problems_stay_identity(ctx, proto):
    """problem+json answers with gzip accepted: the same documents, identity, with Content-Length."""
    c = ctx.client(proto)
    bad = json.dumps({"items": [{"product_id": "", "quantity": -1, "price": -1}] * 40,
                      "shipping_address": "", "payment_method": "cheque"})
    cases = (("GET", "/no/such/path", None, 404), ("GET", "/api/orders/0000000000001", None, 404),
             ("DELETE", "/api/orders", None, 405), ("POST", "/api/orders", "{not json", 400),
             ("POST", "/api/orders", bad, 422), ("GET", "/api/orders?limit=0", None, 400))
    for method, path, body, status in cases:
        r = c.request(method, path, user="problems", body=body, headers=[GZIP])  # check_common: Content-Length
        expect(r, status)
        check_identity(r, f"{method} {path} -> {status}")
        if status == 422:
            ensure(len(r.body) >= MIN_BYTES, f"the 422 is only {len(r.body)} bytes: too small to show anything")


# --------------------------------------------------------------------------
# Once
# --------------------------------------------------------------------------

def test_keep_alive_mixed(ctx):
    """One keep-alive HTTP/1.1 connection: gzip (chunked) and identity answers in turn, each whole."""
    user = ctx.user_with_orders("ka")
    http = ctx.server.http()
    try:
        plain = http.request("GET", PAGE, user)  # http.client sends Accept-Encoding: identity
        expect(plain, 200)
        ensure(plain.header("content-encoding") is None, f"identity asked, got {plain.headers}")
        for i in range(6):
            r = http.request("GET", PAGE, user, headers={"Accept-Encoding": "gzip"} if i % 2 == 0 else None)
            ensure_eq(r.status, 200, f"request {i}: status")
            if i % 2 == 0:
                ensure_eq(r.header("content-encoding"), "gzip", f"request {i}: Content-Encoding")
                ensure_eq(r.header("transfer-encoding"), "chunked", f"request {i}: Transfer-Encoding")
                ensure_eq(gzip.decompress(r.body), plain.body, f"request {i}: gunzipped page")
            else:
                ensure_eq(r.header("content-length"), str(len(plain.body)), f"request {i}: Content-Length")
                ensure_eq(r.body, plain.body, f"request {i}: identity page")
    finally:
        http.close()


def test_curl_compressed(ctx):
    """curl --compressed asks for gzip and decodes it to the identity page."""
    user = ctx.user_with_orders("curl")
    plain = ctx.client("http1.1").request("GET", PAGE, user=user)
    expect(plain, 200)
    hdr, out = os.path.join(ctx.workdir, "compressed.hdr"), os.path.join(ctx.workdir, "compressed.out")
    proc = subprocess.run(["curl", "-q", "-sS", "--noproxy", "*", "--max-time", "10", "--compressed", "-D", hdr,
                           "-o", out, "-H", f"X-User-Id: {user}", ctx.server.base_url + PAGE],
                          capture_output=True, timeout=30)
    ensure(proc.returncode == 0, f"curl --compressed: exit {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    with open(hdr, "rb") as f:
        _, headers = orderd_harness.parse_header_blocks(f.read())
    with open(out, "rb") as f:
        body = f.read()
    ensure_eq(headers.get("content-encoding"), ["gzip"], "Content-Encoding of the answer to curl --compressed")
    ensure(body == plain.body, f"curl --compressed decoded {len(body)} bytes, the identity page is {len(plain.body)}")


def test_metrics_and_queue_gzip(ctx):
    """/metrics and the operator's queue are large answers without an ETag: gzip when asked."""
    ctx.user_with_orders("queue", n=12)
    c = ctx.client("http1.1")
    for path, headers in (("/metrics", []), ("/api/admin/orders?status=pending&limit=50",
                                              [f"Authorization: Bearer {ctx.token}"])):
        # /metrics is not in docs/openapi.yaml's JSON contract: no common checks
        plain = c.request("GET", path, headers=headers, check=path != "/metrics")
        check_identity(plain, f"{path} without Accept-Encoding")
        ensure_eq(plain.status, 200, f"{path} without Accept-Encoding")
        ensure(len(plain.body) >= MIN_BYTES, f"{path} is only {len(plain.body)} bytes")
        r = gz(c, "GET", path, headers=headers)
        ensure_eq(r.header("content-encoding"), "gzip", f"{path}: Content-Encoding")
        text = gzip.decompress(r.body)
        if path == "/metrics":  # counters move between the two scrapes: compare the shape
            ensure(text.startswith(b"# HELP ") and b"orderd_http_requests_total" in text,
                   f"gunzipped /metrics: {text[:200]!r}")
        else:
            ensure_eq(text, plain.body, f"gunzipped {path}")


def test_compress_off(ctx):
    """--compress off: a large page, /metrics and the queue stay identity with gzip asked."""
    user = ctx.user_with_orders("off", server=ctx.off)
    for proto in ALL_PROTOCOLS:
        c = ctx.client(proto, ctx.off)
        plain = c.request("GET", PAGE, user=user)
        expect(plain, 200)
        for path, want in ((PAGE, plain.body), ("/metrics", None)):
            r = c.request("GET", path, user=user, headers=[GZIP], check=want is not None)
            ensure_eq(r.status, 200, f"{proto} {path}")
            check_identity(r, f"--compress off, {proto} {path}")
            ensure("accept-encoding" not in vary_names(r), f"--compress off: Vary on {path}: {r.headers}")
            if want is not None:
                ensure_eq(r.body, want, f"--compress off, {proto}: the page with gzip asked")


HTTPS_RE = re.compile(r"^listening on https://127\.0\.0\.1:(\d+)$")


def test_https_gzip(ctx):
    """Over TLS, ALPN h2 and http/1.1: the same gzip page."""
    if shutil.which("openssl") is None:
        raise SkipTest("openssl is not installed: no certificate to test HTTPS with")
    cert, key = make_cert(ctx.workdir, "compress")
    srv = Server(ctx.server.binary, args=["--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key],
                 workdir=ctx.workdir, name="orderd (https)").start()
    try:
        port = None
        deadline = time.monotonic() + 10
        while port is None and time.monotonic() < deadline:
            found = [HTTPS_RE.match(ln) for ln in list(srv.lines)]
            port = next((int(m.group(1)) for m in found if m), None)
            time.sleep(0.02)
        ensure(port is not None, f"no https listening line; stderr:\n        {srv.tail(10)}")
        user = ctx.user_with_orders("tls", server=srv)
        for flag, version in (("--http2", "2"), ("--http1.1", "1.1")):
            c = Client(f"https://127.0.0.1:{port}", "http1.1", ctx.workdir)
            c.flags, c.want_version = ["--cacert", cert, flag], version
            plain = c.request("GET", PAGE, user=user)
            expect(plain, 200)
            check_gzipped(gz(c, "GET", PAGE, user), plain.body, f"https {flag}", version)
    finally:
        srv.kill9()


# each once per protocol, then each once
PROTOCOL_TESTS = (test_list_page_gzip, test_order_with_etag_never_gzipped, test_small_bodies_identity,
                  test_problems_stay_identity)
GLOBAL_TESTS = (test_keep_alive_mixed, test_curl_compressed, test_metrics_and_queue_gzip, test_compress_off,
                test_https_gzip)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("-k", dest="pattern", default="")
    ap.add_argument("-p", "--protocol", action="append", choices=ALL_PROTOCOLS)
    args = ap.parse_args()
    runner = Runner()
    orderd_harness.CONTRACT = OpenAPIChecker()
    binary = os.path.abspath(args.orderd)
    if not require_executable(runner, binary):
        return runner.finish()
    with TempDir("orderd-compress-") as workdir:
        on = Server(binary, args=["--cors-origin", SHOP], workdir=workdir, name="orderd (compress on)")
        off = Server(binary, args=["--compress", "off"], workdir=workdir, name="orderd (compress off)")
        try:
            if start_servers(runner, on, off):
                run_registered(runner, Ctx(workdir, on, off), PROTOCOL_TESTS, GLOBAL_TESTS,
                               args.protocol or list(ALL_PROTOCOLS), args.pattern)
        finally:
            on.kill9()
            off.kill9()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
