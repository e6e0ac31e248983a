#!/usr/bin/env python3
"""Verified users: --user-auth jwt from outside. Each refused token (a bad
signature, expired, not yet valid, another audience or issuer, alg none,
RS256 switched to HS256 with the public key as the secret, the operator's
token, no JWT at all) is a 401 problem with WWW-Authenticate: Bearer
error="invalid_token"; no token is a 401 with a bare Bearer challenge. With
a good token the API answers exactly as with --user-auth header (create,
get, list, events, cancel, another user's order, the operator), over
HTTP/1.1, h2c and h2c upgrade, and X-User-Id is ignored. SIGHUP rotates the
keys of a JWKS file; a bad file at SIGHUP keeps the old keys, at start-up it
stops the server (exit 1). Flags that do not fit are exit 2.

Tokens are made here with the standard library (base64url, HMAC) and the
openssl command line (RSA and ECDSA signatures, keys), so nothing but
python3 and openssl is needed.

    python3 tests/integration/jwt_test.py --orderd build/orderd

The last line is exactly `N passed, N failed, N skipped` (orderd_harness.py)."""
import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import orderd_harness  # noqa: E402
from openapi_check import OpenAPIChecker  # noqa: E402
from orderd_harness import (  # noqa: E402
    ALL_PROTOCOLS, Client, Runner, Server, TempDir, check_created, ensure, ensure_eq, expect, new_order,
    require_executable)

ISS = "https://id.shop.example"
AUD = "orderd"
OPERATOR_TOKEN = "operator-token-for-the-jwt-test-0123456789"
BARE = 'Bearer realm="orderd"'
INVALID = 'Bearer realm="orderd", error="invalid_token"'


# --------------------------------------------------------------------------
# Keys and tokens
# --------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args, data=None):
    p = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=30)
    ensure(p.returncode == 0, f"openssl {' '.join(args)}: {p.stderr.decode(errors='replace')}")
    return p.stdout


class Key:
    """A key pair made with openssl: `pub` is the PEM public key file, `pem` its text."""

    def __init__(self, directory, name, kind):
        self.kind = kind  # "rsa" or "ec"
        self.priv = os.path.join(directory, f"{name}.key")
        self.pub = os.path.join(directory, f"{name}.pub")
        if kind == "rsa":
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", self.priv)
        else:
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", self.priv)
        openssl("pkey", "-in", self.priv, "-pubout", "-out", self.pub)
        with open(self.pub) as f:
            self.pem = f.read()

    @property
    def alg(self):
        return "RS256" if self.kind == "rsa" else "ES256"

    def sign(self, data: bytes) -> bytes:
        sig = openssl("dgst", "-sha256", "-sign", self.priv, data=data)
        return sig if self.kind == "rsa" else der_to_raw(sig)

    def jwk(self, kid):
        """The public key as a JWK, from its DER SubjectPublicKeyInfo."""
        der = openssl("pkey", "-pubin", "-in", self.pub, "-outform", "DER")
        bits = der_items(der_items(der)[0][1])[1][1][1:]  # SEQ { algorithm, BIT STRING (unused-bits byte first) }
        if self.kind == "ec":
            ensure(len(bits) == 65 and bits[0] == 4, "EC public key: not an uncompressed P-256 point")
            return {"kty": "EC", "crv": "P-256", "kid": kid, "x": b64url(bits[1:33]), "y": b64url(bits[33:])}
        n, e = (v.lstrip(b"\0") for _, v in der_items(der_items(bits)[0][1]))
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64url(n), "e": b64url(e)}


def der_items(der: bytes):
    """The (tag, value) items of a run of DER TLVs."""
    out, i = [], 0
    while i < len(der):
        tag, length = der[i], der[i + 1]
        i += 2
        if length & 0x80:
            k = length & 0x7F
            length = int.from_bytes(der[i:i + k], "big")
            i += k
        out.append((tag, der[i:i + length]))
        i += length
    return out


def der_to_raw(sig: bytes) -> bytes:
    """An ECDSA-Sig-Value (DER SEQ { r, s }) as JWS wants it: r || s, 32 bytes each."""
    r, s = (v.lstrip(b"\0").rjust(32, b"\0") for _, v in der_items(der_items(sig)[0][1]))
    return r + s


def token(claims, key=None, *, alg=None, kid=None, secret=None, header=None):
    """A JWS compact token: signed with `key` (its alg), or HMAC-SHA256 under
    `secret`, or unsigned when alg is "none"."""
    h = header or {"alg": alg or (key.alg if key else "HS256"), "typ": "JWT"}
    if kid is not None:
        h["kid"] = kid
    signing_input = (b64url(json.dumps(h).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    if secret is not None:
        sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
    else:
        sig = key.sign(signing_input) if key is not None else b""
    return signing_input.decode() + "." + b64url(sig)


def claims(sub="alice", **over):
    now = int(time.time())
    c = {"sub": sub, "iss": ISS, "aud": AUD, "iat": now, "exp": now + 600}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def bearer(tok):
    return {"Authorization": f"Bearer {tok}"}


def no_openssl(runner, name):
    """True, with a SKIP recorded, when there is no openssl command to make keys and tokens with."""
    if shutil.which("openssl") is not None:
        return False
    runner.skip(name, "no openssl command to make keys and tokens with")
    return True


# --------------------------------------------------------------------------
# The servers
# --------------------------------------------------------------------------

class Ctx:
    def __init__(self, binary, tmp):
        self.binary, self.tmp = binary, tmp
        self.a = Key(tmp, "a", "rsa")
        self.b = Key(tmp, "b", "rsa")
        self.ec = Key(tmp, "ec", "ec")
        self.token_file = os.path.join(tmp, "operator-token")
        with open(self.token_file, "w") as f:
            f.write(OPERATOR_TOKEN + "\n")
        self.jwt = self.server("jwt", ["--jwt-key-file", self.a.pub])
        self.header = Server(binary, args=["--operator-token-file", self.token_file], workdir=tmp,
                             name="orderd (header)")

    def server(self, name, args):
        return Server(self.binary, args=["--user-auth", "jwt", "--jwt-issuer", ISS, "--jwt-audience", AUD,
                                         "--operator-token-file", self.token_file, *args],
                      workdir=self.tmp, name=f"orderd ({name})")

    def stop(self):
        for s in (self.jwt, self.header):
            if s.proc is not None:
                s.kill9()


def refused(r, challenge, detail_words, what):
    doc = expect(r, 401)
    ensure_eq(r.header("www-authenticate"), challenge, f"{what}: WWW-Authenticate")
    ensure(re.search(detail_words, doc["detail"]), f"{what}: detail {doc['detail']!r} lacks {detail_words!r}")
    ensure("BEGIN" not in r.body.decode() and OPERATOR_TOKEN not in r.body.decode(), f"{what}: key material in {r!r}")
    return doc


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

def test_each_bad_token_is_401(ctx):
    """Must show 3 of issue 12: each refused token is a 401 problem, and says why."""
    now = int(time.time())
    a, b = ctx.a, ctx.b
    good = token(claims(), a)
    cases = [
        ("bad signature", good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"), "signature"),
        ("signed by another key", token(claims(), b), "signature"),
        ("another user in a signed token", good.split(".")[0] + "." + b64url(json.dumps(claims("mallory")).encode())
         + "." + good.split(".")[2], "signature"),
        ("expired", token(claims(exp=now - 120), a), "expired"),
        ("not yet valid", token(claims(nbf=now + 3600), a), "not valid yet"),
        ("another audience", token(claims(aud="billing"), a), "aud"),
        ("another audience in a list", token(claims(aud=["billing", "shipping"]), a), "aud"),
        ("another issuer", token(claims(iss="https://evil.example"), a), "iss"),
        ("no exp", token(claims(exp=None), a), "exp"),
        ("no sub", token(claims(sub=None), a), "user claim"),
        ("a sub X-User-Id would refuse", token(claims(sub="al ice"), a), "user claim"),
        ("alg none", token(claims(), alg="none"), "unsigned"),
        ("alg none with a signature", token(claims(), secret=b"x", header={"alg": "none"}), "unsigned"),
        ("RS256 -> HS256 with the public key as secret", token(claims(), secret=a.pem.encode()), "alg"),
        ("ES256 against the RSA key", token(claims(), ctx.ec), "alg"),
        ("the operator's token", OPERATOR_TOKEN, "not a JWT"),
        ("garbage", "not.a.jwt", "not a JWT"),
    ]
    http = ctx.jwt.http()
    for what, tok, words in cases:
        for method, path in (("GET", "/api/orders"), ("POST", "/api/orders")):
            body = new_order(random.Random(1), "refused")[0] if method == "POST" else None
            r = http.request(method, path, user="alice", body=body, headers=bearer(tok))
            refused(r, INVALID, words, f"{what} ({method})")
    # the signature check is not a formality: the good token passes on the same connection
    expect(http.request("GET", "/api/orders", headers=bearer(good)), 200)
    # none of them made an order
    ensure_eq(http.request("GET", "/api/orders", headers=bearer(good)).json()["total"], 0, "alice's orders")
    return f"({len(cases)} kinds of token, each on a read and a write)"


def test_no_token_is_401(ctx):
    http = ctx.jwt.http()
    # X-User-Id alone is not believed any more
    refused(http.request("GET", "/api/orders", user="alice"), BARE, "Authorization: Bearer", "X-User-Id alone")
    for value in ("", "Basic YWxpY2U6cHc=", "Bearer", "Bearer "):
        r = http.request("GET", "/api/orders", headers={"Authorization": value} if value else None)
        refused(r, BARE, "Authorization: Bearer", f"Authorization {value!r}")
    # two Authorization headers: refused, whichever is good
    good = token(claims(), ctx.a)
    for proto in ("http1.1", "h2c"):
        c = Client(ctx.jwt.base_url, proto, ctx.tmp)
        r = c.request("GET", "/api/orders", headers=(f"Authorization: Bearer {good}", "Authorization: Bearer x"))
        refused(r, BARE, "Authorization: Bearer", f"two Authorization headers over {proto}")
    return ""


ORDER_ID_RE = re.compile(r"\b[0-9a-hjkmnp-tv-z]{13}\b")


def normalized(doc):
    """An answer without what differs between two servers: ids, times, request ids, links."""
    if isinstance(doc, str):
        return ORDER_ID_RE.sub("ID", doc)
    if isinstance(doc, dict):
        return {k: normalized(v) for k, v in doc.items() if k not in ("id", "created_at", "updated_at", "at",
                                                                       "instance", "next", "prev")}
    if isinstance(doc, list):
        return [normalized(v) for v in doc]
    return doc


def flow(srv, proto, tmp, auth):
    """create x2, get, list, events, cancel, get again, another user's get and
    cancel, HEAD, If-None-Match; returns [(step, status, normalized body)].
    auth(user) gives the request headers that name the user."""
    c = Client(srv.base_url, proto, tmp)
    rng = random.Random(42)
    steps = []

    def step(name, r):
        body = None
        if r.body and r.media_type() in ("application/json", "application/problem+json"):
            body = normalized(r.json())
            if r.status >= 400:
                body = {k: body[k] for k in ("type", "status", "detail")}
        steps.append((name, r.status, body))
        return r

    first, exp = new_order(rng, "flow")
    r = step("create", c.request("POST", "/api/orders", body=first, headers=auth("alice")))
    o = r.json()
    oid = o["id"]
    step("create alias", c.request("POST", "/api/orders/create", body=new_order(rng, "flow2")[0],
                                   headers=auth("alice")))
    r = step("get", c.request("GET", f"/api/orders/{oid}", headers=auth("alice")))
    etag = r.header("etag")
    step("HEAD", c.request("HEAD", f"/api/orders/{oid}", headers=auth("alice")))
    step("If-None-Match", c.request("GET", f"/api/orders/{oid}", headers=auth("alice") + [f"If-None-Match: {etag}"],
                                    check=False))
    step("list", c.request("GET", "/api/orders?limit=1", headers=auth("alice")))
    step("list pending", c.request("GET", "/api/orders?status=pending", headers=auth("alice")))
    step("bob's get", c.request("GET", f"/api/orders/{oid}", headers=auth("bob")))
    step("bob's cancel", c.request("POST", f"/api/orders/{oid}/cancel", headers=auth("bob")))
    step("bob's list", c.request("GET", "/api/orders", headers=auth("bob")))
    step("cancel", c.request("POST", f"/api/orders/{oid}/cancel", headers=auth("alice")))
    step("cancel again", c.request("POST", f"/api/orders/{oid}/cancel", headers=auth("alice")))
    step("events", c.request("GET", f"/api/orders/{oid}/events", headers=auth("alice")))
    step("bad body", c.request("POST", "/api/orders", body=b'{"items":[]}', headers=auth("alice")))
    step("not JSON", c.request("POST", "/api/orders", body=b"{", headers=auth("alice")))
    step("unknown order", c.request("GET", "/api/orders/0000000000001", headers=auth("alice")))
    step("wrong method", c.request("DELETE", f"/api/orders/{oid}", headers=auth("alice")))
    return steps, o, exp


def test_flow_as_with_header(ctx, proto):
    """The whole flow, step for step the same answers as --user-auth header
    gives with X-User-Id; the token's user wins over an X-User-Id sent too."""
    keys = {}

    def jwt_auth(user):
        if user not in keys:
            keys[user] = token(claims(user), ctx.a)
        return [f"Authorization: Bearer {keys[user]}", "X-User-Id: mallory"]  # ignored

    with_jwt, o, exp = flow(ctx.jwt, proto, ctx.tmp, jwt_auth)
    with_header, _, _ = flow(ctx.header, proto, ctx.tmp, lambda user: [f"X-User-Id: {user}"])
    ensure_eq([s[0] for s in with_jwt], [s[0] for s in with_header], "steps")
    for (name, status, body), (_, hstatus, hbody) in zip(with_jwt, with_header):
        ensure_eq(status, hstatus, f"{name}: status with jwt vs header")
        ensure_eq(body, hbody, f"{name}: body with jwt vs header")
    orderd_harness.check_order_as_sent(o, "alice", exp, "created with a token")
    got = dict((s[0], s[1]) for s in with_jwt)
    ensure_eq((got["create"], got["get"], got["cancel"], got["bob's get"], got["cancel again"]),
              (201, 200, 200, 404, 200), "the statuses themselves (a repeated cancel is answered as the first)")
    return f"({len(with_jwt)} steps alike)"


def test_operator_unchanged(ctx):
    """Admin endpoints keep the operator's token; a customer's JWT is not it."""
    http = ctx.jwt.http()
    alice = bearer(token(claims(), ctx.a))
    o = check_created(http.request("POST", "/api/orders", body=new_order(random.Random(3), "op")[0], headers=alice),
                      "alice", new_order(random.Random(3), "op")[1])
    op = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    queue = expect(http.request("GET", "/api/admin/orders?status=pending", headers=op), 200)
    ensure(any(x["id"] == o["id"] for x in queue["orders"]), "alice's order is not in the operator's queue")
    r = http.request("POST", f"/api/orders/{o['id']}/status", body={"status": "processing"}, headers=op)
    ensure_eq(expect(r, 200)["status"], "processing", "the operator's status change")
    ensure_eq(expect(http.request("GET", f"/api/orders/{o['id']}", headers=alice), 200)["status"], "processing",
              "alice sees the operator's change")
    expect(http.request("GET", "/api/admin/orders", headers=alice), 403)  # a JWT is not the operator's token
    r = http.request("GET", "/api/admin/orders")
    expect(r, 401)
    ensure_eq(r.header("www-authenticate"), 'Bearer realm="orderd-operator"', "the operator's challenge")
    return ""


def write_jwks(path, *jwks):
    with open(path + ".tmp", "w") as f:
        json.dump({"keys": list(jwks)}, f)
    os.replace(path + ".tmp", path)


def sighup(srv, pattern):
    mark = len(srv.lines)
    os.kill(srv.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for ln in srv.lines[mark:]:
            if re.search(pattern, ln):
                return ln
        time.sleep(0.02)
    raise orderd_harness.TestFailure(f"no {pattern!r} after SIGHUP: {srv.tail()}")


def test_sighup_rotates_jwks(ctx):
    jwks = os.path.join(ctx.tmp, "keys.jwks")
    write_jwks(jwks, ctx.a.jwk("a"))
    srv = ctx.server("jwks", ["--jwt-key-file", jwks, "--jwt-leeway", "0"]).start()
    try:
        ensure(srv.wait_line(r"--user-auth jwt: 1 key from .*: kid a RS256", 5), f"key line: {srv.tail()}")
        old, new = token(claims(), ctx.a, kid="a"), token(claims(), ctx.ec, kid="e")
        keep = srv.http()  # one keep-alive connection across every reload
        expect(keep.request("GET", "/api/orders", headers=bearer(old)), 200)
        refused(keep.request("GET", "/api/orders", headers=bearer(new)), INVALID, "kid", "kid e before rotation")
        # both keys while clients move over, then only the new one
        write_jwks(jwks, ctx.a.jwk("a"), ctx.ec.jwk("e"))
        sighup(srv, r"SIGHUP: reloaded the JWT keys: 2 keys from .*kid a RS256, kid e ES256")
        for tok in (old, new):
            expect(keep.request("GET", "/api/orders", headers=bearer(tok)), 200)
        write_jwks(jwks, ctx.ec.jwk("e"))
        sighup(srv, r"SIGHUP: reloaded the JWT keys: 1 key from")
        # every worker has the new set: several fresh connections (spread over both threads)
        for i in range(8):
            c = srv.http()
            refused(c.request("GET", "/api/orders", headers=bearer(old)), INVALID, "kid", f"old kid, connection {i}")
            expect(c.request("GET", "/api/orders", headers=bearer(new)), 200)
            c.close()
        refused(keep.request("GET", "/api/orders", headers=bearer(old)), INVALID, "kid", "old kid, kept connection")
        # a file that cannot be used: every worker keeps what it has
        with open(jwks, "w") as f:
            f.write("{\"keys\": [")
        line = sighup(srv, r"SIGHUP: the JWT keys stay as they were")
        ensure("not a JWKS" in line, line)
        expect(keep.request("GET", "/api/orders", headers=bearer(new)), 200)
        os.unlink(jwks)
        sighup(srv, r"SIGHUP: the JWT keys stay as they were: --jwt-key-file .*No such file")
        expect(srv.http().request("GET", "/api/orders", headers=bearer(new)), 200)
        ensure(srv.alive(), "the server died on SIGHUP")
        ensure_eq(srv.terminate(), 0, "exit status")
        return ""
    finally:
        srv.kill9()


def test_hs256_secret(ctx):
    secret = b"a shared secret of more than 32 bytes, for HS256"
    path = os.path.join(ctx.tmp, "secret")
    with open(path, "wb") as f:
        f.write(secret + b"\n")
    srv = ctx.server("hs256", ["--jwt-secret-file", path, "--jwt-user-claim", "uid"]).start()
    try:
        ensure(srv.wait_line(r"--user-auth jwt: HS256 secret from", 5), srv.tail())
        ensure(secret.decode() not in srv.stderr_text(), "the secret is in the log")
        http = srv.http()
        good = token(claims(uid="customer-9"), secret=secret)
        r = http.request("POST", "/api/orders", body=new_order(random.Random(9), "hs")[0], headers=bearer(good))
        ensure_eq(expect(r, 201)["user_id"], "customer-9", "the user from --jwt-user-claim uid")
        refused(http.request("GET", "/api/orders", headers=bearer(token(claims(), secret=secret))), INVALID,
                "user claim", "no uid claim")
        refused(http.request("GET", "/api/orders", headers=bearer(token(claims(uid="c"), ctx.a))), INVALID, "alg",
                "an RS256 token against an HS256 secret")
        refused(http.request("GET", "/api/orders", headers=bearer(token(claims(uid="c"), secret=secret + b"!"))),
                INVALID, "signature", "another secret")
        return ""
    finally:
        srv.kill9()


def test_bad_flags_and_files(ctx):
    def run(args, env=None):
        p = subprocess.run([ctx.binary, "--listen", "127.0.0.1:0", "--data-dir", os.path.join(ctx.tmp, "bad"),
                            *args], capture_output=True, timeout=20,
                           env={k: v for k, v in os.environ.items() if not k.startswith("ORDERD_")} | (env or {}))
        return p.returncode, p.stderr.decode(errors="replace").strip().splitlines()

    jwt = ["--user-auth", "jwt", "--jwt-issuer", ISS, "--jwt-audience", AUD]
    junk = os.path.join(ctx.tmp, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a key\n")
    short = os.path.join(ctx.tmp, "short")
    with open(short, "w") as f:
        f.write("too short\n")
    for args, want in ((jwt + ["--jwt-key-file", os.path.join(ctx.tmp, "missing.pem")], "No such file"),
                       (jwt + ["--jwt-key-file", junk], "neither a PEM public key"),
                       (jwt + ["--jwt-secret-file", short], "at least 32 bytes")):
        rc, err = run(args)
        ensure_eq(rc, 1, f"{args[-1]}: exit status")
        ensure(len(err) == 1 and want in err[0] and "ERROR" in err[0], f"{args[-1]}: one ERROR line with {want!r}: {err}")
    for args, env, want in ((["--user-auth", "jwt", "--jwt-key-file", ctx.a.pub, "--jwt-issuer", ISS], None,
                             "needs --jwt-audience"),
                            (["--user-auth", "jwt", "--jwt-issuer", ISS, "--jwt-audience", AUD], None,
                             "one of --jwt-key-file and --jwt-secret-file"),
                            (jwt + ["--jwt-key-file", ctx.a.pub, "--jwt-secret-file", short], None, "only one"),
                            (["--jwt-key-file", ctx.a.pub], None, "--jwt-key-file needs --user-auth jwt"),
                            ([], {"ORDERD_JWT_AUDIENCE": AUD}, "--jwt-audience needs --user-auth jwt"),
                            (["--user-auth", "oauth"], None, "expected header or jwt"),
                            (jwt + ["--jwt-key-file", ctx.a.pub, "--jwt-leeway", "301"], None, "0 to 300")):
        rc, err = run(args, env)
        ensure_eq(rc, 2, f"{args or env}: exit status")
        ensure(len(err) == 1 and want in err[0], f"{args or env}: one line with {want!r}: {err}")
    return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("-k", dest="pattern", default="", help="run only the tests whose name holds this")
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if not require_executable(runner, binary) or no_openssl(runner, "jwt"):
        return runner.finish()
    orderd_harness.CONTRACT = OpenAPIChecker()
    with TempDir("orderd-jwt-") as tmp:
        ctx = Ctx(binary, tmp)
        try:
            if orderd_harness.start_servers(runner, ctx.jwt, ctx.header):
                for name, fn in (("each_bad_token_is_401", test_each_bad_token_is_401),
                                 ("no_token_is_401", test_no_token_is_401)):
                    if args.pattern in name:
                        runner.run(name, fn, ctx)
                for proto in ALL_PROTOCOLS:
                    name = f"flow_as_with_header[{proto}]"
                    if args.pattern in name:
                        runner.run(name, test_flow_as_with_header, ctx, proto)
                for name, fn in (("operator_unchanged", test_operator_unchanged),
                                 ("sighup_rotates_jwks", test_sighup_rotates_jwks),
                                 ("hs256_secret", test_hs256_secret),
                                 ("bad_flags_and_files", test_bad_flags_and_files)):
                    if args.pattern in name:
                        runner.run(name, fn, ctx)
        finally:
            ctx.stop()
    print(f"\n{orderd_harness.CONTRACT.checked} response bodies checked against docs/openapi.yaml")
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
