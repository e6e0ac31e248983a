#!/usr/bin/env python3
"""Browsers and proxies: --cors-origin (CORS headers, preflight OPTIONS
answered 204 for a listed origin only; with the flag off OPTIONS is the 405
of before, header for header) and --trusted-proxy (Link URLs from
X-Forwarded-Proto/-Host or Forwarded, only when the peer is in the block).

    python3 tests/integration/cors_test.py --orderd build/orderd

The last line is exactly `N passed, N failed, N skipped` (the harness is
orderd_harness.py)."""
import argparse
import os
import random
import re
import socket
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    Runner, Server, ensure, ensure_eq, expect, new_order, require_executable)

SHOP = "https://shop.example"
EXPOSE = "ETag, Link, Location, X-Request-Id, Idempotent-Replayed"
ALLOW_HEADERS = "Content-Type, X-User-Id, Authorization, Idempotency-Key, If-Match, If-None-Match, X-Request-Id"
CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers",
                "access-control-max-age", "access-control-expose-headers", "vary")


def raw(port, request):
    """Sends one HTTP/1.1 request as bytes; returns (status line, [(name, value)], body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            ensure(chunk, f"connection closed before the headers: {data!r}")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
        length = int(dict((k.lower(), v) for k, v in headers).get("content-length", "0"))
        while len(body) < length:
            chunk = s.recv(65536)
            ensure(chunk, "connection closed in the body")
            body += chunk
        return lines[0], headers, body


def preflight(port, path, origin, method="POST"):
    return raw(port, f"OPTIONS {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}\r\n"
                     f"Access-Control-Request-Method: {method}\r\n"
                     "Access-Control-Request-Headers: content-type, x-user-id\r\n\r\n")


def no_cors(headers, what):
    got = [k for k, _ in headers if k.lower() in CORS_HEADERS]
    ensure(not got, f"{what}: CORS headers where none belong: {got}")


def test_off_is_unchanged(binary):
    """Without --cors-origin an OPTIONS preflight is the 405 of before, exactly."""
    srv = Server(binary, name="orderd (cors off)").start()
    try:
        status, headers, body = preflight(srv.port, "/api/orders", SHOP)
        ensure_eq(status, "HTTP/1.1 405 Method Not Allowed", "status line")
        names = [k.lower() for k, _ in headers]
        ensure_eq(names, ["date", "connection", "content-length", "server", "allow", "content-type", "x-request-id"],
                  "header names in order")
        h = dict((k.lower(), v) for k, v in headers)
        ensure_eq(h["allow"], "GET, HEAD, POST", "Allow")
        rid = h["x-request-id"]
        ensure_eq(body.decode(), '{"type":"urn:orderd:problem:method-not-allowed","title":"Method Not Allowed",'
                  '"status":405,"detail":"OPTIONS is not allowed here; allowed: GET, HEAD, POST",'
                  f'"instance":"{rid}"}}', "body")
        http = srv.http()
        r = http.request("GET", "/api/orders", "u1", headers={"Origin": SHOP})
        expect(r, 200)
        no_cors(r.headers.items(), "GET with an Origin, CORS off")
    finally:
        srv.kill9()


def test_listed_origins(binary):
    srv = Server(binary, args=["--cors-origin", SHOP, "--cors-origin", "http://localhost:3000"],
                 name="orderd (cors)").start()
    try:
        for path, methods in (("/api/orders", "GET, HEAD, POST"), ("/api/orders/0000000000001/cancel", "POST"),
                              ("/api/orders/0000000000001", "GET, HEAD")):
            for origin in (SHOP, "http://localhost:3000"):
                status, headers, body = preflight(srv.port, path, origin)
                ensure_eq(status, "HTTP/1.1 204 No Content", f"preflight {path} from {origin}")
                h = dict((k.lower(), v) for k, v in headers)
                ensure_eq(h.get("access-control-allow-origin"), origin, "Allow-Origin")
                ensure_eq(h.get("access-control-allow-methods"), methods, f"Allow-Methods of {path}")
                ensure_eq(h.get("access-control-allow-headers"), ALLOW_HEADERS, "Allow-Headers")
                ensure_eq(h.get("access-control-max-age"), "600", "Max-Age")
                ensure_eq(h.get("vary"), "Origin", "Vary")
                ensure("allow" not in h and "content-type" not in h and "content-length" not in h
                       and "transfer-encoding" not in h, f"a 204 with entity headers: {h}")
                ensure_eq(body, b"", "204 body")
        # an origin not listed (or a near miss): the 405 of before, no CORS headers
        for origin in ("https://evil.example", "https://shop.example:443", "http://shop.example", "null"):
            status, headers, _ = preflight(srv.port, "/api/orders", origin)
            ensure_eq(status, "HTTP/1.1 405 Method Not Allowed", f"preflight from {origin}")
            no_cors(headers, f"preflight from {origin}")
        # OPTIONS that is no preflight (no Access-Control-Request-Method) stays 405
        status, _, _ = raw(srv.port, f"OPTIONS /api/orders HTTP/1.1\r\nHost: x\r\nOrigin: {SHOP}\r\n\r\n")
        ensure_eq(status, "HTTP/1.1 405 Method Not Allowed", "OPTIONS without Access-Control-Request-Method")
        # /metrics counts what the client got: the 6 preflights as 204, the 5 refused OPTIONS as 405
        codes = {}
        for line in srv.http().request("GET", "/metrics").body.decode().splitlines():
            m = re.match(r'^orderd_http_requests_total\{route="[^"]*",code="(\d+)"\} (\d+)$', line)
            if m:
                codes[m.group(1)] = codes.get(m.group(1), 0) + int(m.group(2))
        ensure_eq((codes.get("204", 0), codes.get("405", 0)), (6, 5), f"204 and 405 in /metrics ({codes})")

        http = srv.http()
        body, _ = new_order(random.Random(5), "cors")
        r = http.request("POST", "/api/orders", "u1", body, headers={"Origin": SHOP, "Idempotency-Key": "k1"})
        expect(r, 201)
        ensure_eq(r.header("access-control-allow-origin"), SHOP, "Allow-Origin on a create")
        ensure_eq(r.header("access-control-expose-headers"), EXPOSE, "Expose-Headers on a create")
        ensure_eq(r.header("vary"), "Origin", "Vary on a create")
        ensure(r.header("location") and r.header("etag"), "the exposed headers are there")
        r = http.request("GET", "/api/orders", "u1", headers={"Origin": "https://evil.example"})
        expect(r, 200)
        no_cors(r.headers.items(), "GET from an unlisted origin")
        r = http.request("GET", "/api/orders", "u1")
        no_cors(r.headers.items(), "GET without an Origin")
    finally:
        srv.kill9()


def test_any_origin(binary):
    srv = Server(binary, args=["--cors-origin", "*"], name="orderd (cors *)").start()
    try:
        status, headers, _ = preflight(srv.port, "/api/orders/0000000000001/cancel", "https://any.example")
        ensure_eq(status, "HTTP/1.1 204 No Content", "preflight with *")
        h = dict((k.lower(), v) for k, v in headers)
        ensure_eq(h.get("access-control-allow-origin"), "*", "Allow-Origin with *")
        ensure_eq(h.get("access-control-allow-methods"), "POST", "Allow-Methods of cancel")
        r = srv.http().request("GET", "/healthz", headers={"Origin": "https://other.example"})
        expect(r, 200)
        ensure_eq(r.header("access-control-allow-origin"), "*", "Allow-Origin on /healthz")
    finally:
        srv.kill9()


LINK_RE = re.compile(r"<([^>]*)>; rel=\"next\"")


def next_link(srv, headers):
    http = srv.http()
    for i in range(2):
        body, _ = new_order(random.Random(i), f"p{i}")
        expect(http.request("POST", "/api/orders", "u1", body), 201)
    r = http.request("GET", "/api/orders?limit=1", "u1", headers=headers)
    expect(r, 200)
    m = LINK_RE.search(r.header("link") or "")
    ensure(m, f"no rel=next in Link: {r.header('link')!r}")
    return m.group(1)


def test_trusted_proxy(binary):
    xfwd = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example", "X-Forwarded-For": "203.0.113.7"}
    fwd = {"Forwarded": 'for=203.0.113.7;proto=https;host="shop.example:8443"'}
    srv = Server(binary, args=["--trusted-proxy", "127.0.0.1/32"], name="orderd (proxy)").start()
    try:
        ensure_eq(next_link(srv, xfwd), "https://shop.example/api/orders?limit=1&offset=1", "Link via X-Forwarded-*")
        ensure_eq(next_link(srv, fwd), "https://shop.example:8443/api/orders?limit=1&offset=1", "Link via Forwarded")
        ensure_eq(next_link(srv, {"X-Forwarded-Host": "bad host/"}), "/api/orders?limit=1&offset=1",
                  "a malformed forwarded host gives a relative link")
    finally:
        srv.kill9()
    for args in ([], ["--trusted-proxy", "10.0.0.0/8"], ["--trusted-proxy", "::1"]):
        srv = Server(binary, args=args, name="orderd (no proxy)").start()
        try:
            ensure_eq(next_link(srv, xfwd), f"http://127.0.0.1:{srv.port}/api/orders?limit=1&offset=1",
                      f"Link with {args or 'no --trusted-proxy'}: the headers are ignored")
        finally:
            srv.kill9()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if require_executable(runner, binary):
        runner.run("cors_off_options_is_405_as_before", test_off_is_unchanged, binary)
        runner.run("cors_listed_origins_preflight_and_expose", test_listed_origins, binary)
        runner.run("cors_any_origin", test_any_origin, binary)
        runner.run("trusted_proxy_link_urls", test_trusted_proxy, binary)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
