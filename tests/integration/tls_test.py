#!/usr/bin/env python3
"""HTTPS and the listeners: one orderd with four --listen (TLS with HTTP/2,
cleartext with --http2 off, TLS with --http2 off, cleartext with h2c), driven
with curl, Python's ssl, nghttp and h2load; certificates made with `openssl
req` at test time and reloaded on SIGHUP under an open connection; bad
certificate files fail start-up with one line and exit 1.

    python3 tests/integration/tls_test.py --orderd build/orderd

The last line is exactly `N passed, N failed, N skipped` (the harness is
orderd_harness.py)."""
import argparse
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    Client, Runner, Server, TempDir, TestFailure, ensure, ensure_eq, expect, make_cert, require_executable)

URL_RE = re.compile(r"^listening on (https?)://127\.0\.0\.1:(\d+)$")
# the four listeners, in command-line order: (name, scheme, http2)
LISTENERS = (("tls", "https", True), ("clear-h1", "http", False), ("tls-h1", "https", False), ("clear", "http", True))


class TlsClient(Client):
    """The harness's curl client over https://, the certificate checked against `cacert`."""

    def __init__(self, base_url, cacert, http2, workdir):
        super().__init__(base_url, "http1.1", workdir)
        self.flags = ["--cacert", cacert, "--http2" if http2 else "--http1.1"]
        self.want_version = "2" if http2 else "1.1"


def fingerprint(path):
    with open(path, "rb") as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read().decode())).hexdigest()


def tls_probe(port, alpn, version=None, cafile=None):
    """One TLS handshake: (negotiated ALPN or None, TLS version, SHA-256 of the server's certificate)."""
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    ctx.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return s.selected_alpn_protocol(), s.version(), hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def wait_new_line(srv, regex, mark, timeout=10):
    """The first stderr line past the first `mark` lines matching regex (None after timeout)."""
    rx = re.compile(regex)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ln in srv.lines[mark:]:
            if rx.search(ln):
                return ln
        time.sleep(0.02)
    return None


def run_tool(cmd, timeout=30):
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


class Ctx:
    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        self.cert, self.key = make_cert(work, "first")
        self.cert2, self.key2 = make_cert(work, "second")
        # the files the server reads; SIGHUP tests copy others over them
        self.live_cert, self.live_key = os.path.join(work, "live.crt"), os.path.join(work, "live.key")
        shutil.copy(self.cert, self.live_cert)
        shutil.copy(self.key, self.live_key)
        tls = ["--tls-cert", self.live_cert, "--tls-key", self.live_key]
        # the harness gives the first --listen 127.0.0.1:0; the rest follow
        self.srv = Server(binary, args=[*tls, "--listen", "127.0.0.1:0", "--http2", "off",
                                        "--listen", "127.0.0.1:0", *tls, "--http2", "off",
                                        "--listen", "127.0.0.1:0"], workdir=work, name="orderd (4 listeners)")
        self.ports = {}

    def start(self):
        self.srv.start(expect_listen=False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            urls = [URL_RE.match(ln) for ln in list(self.srv.lines)]
            urls = [m for m in urls if m]
            if len(urls) == len(LISTENERS):
                for (name, scheme, _), m in zip(LISTENERS, urls):
                    ensure_eq(m.group(1), scheme, f"scheme of listener {name}")
                    self.ports[name] = int(m.group(2))
                return
            if not self.srv.alive():
                break
            time.sleep(0.05)
        raise TestFailure(f"no {len(LISTENERS)} listening lines; stderr:\n        {self.srv.tail(20)}")

    def url(self, name):
        scheme = dict((n, s) for n, s, _ in LISTENERS)[name]
        return f"{scheme}://127.0.0.1:{self.ports[name]}"


def curl_version(args):
    """curl's %{http_version} and status for one request (None, None when curl fails)."""
    rc, out = run_tool(["curl", "-q", "-sS", "--noproxy", "*", "--max-time", "10", "-o", os.devnull,
                        "-w", "%{http_version} %{http_code}", *args])
    if rc != 0:
        return None, out
    return out.split()[0], out.split()[1]


# --------------------------------------------------------------------------

def test_https_alpn_h2_and_http11(c):
    """curl over HTTPS gets HTTP/2 through ALPN, HTTP/1.1 with --http1.1; the API works over both."""
    for http2 in (True, False):
        cl = TlsClient(c.url("tls"), c.cert, http2, c.work)
        expect(cl.request("GET", "/healthz"), 200)
        body = '{"items":[{"product_id":"p1","quantity":2,"price":1.25}],"shipping_address":"1 Main St",' \
               '"payment_method":"card"}'
        made = expect(cl.request("POST", "/api/orders", user="tls-user", body=body), 201)
        got = expect(cl.request("GET", f"/api/orders/{made['id']}", user="tls-user"), 200)
        ensure_eq(got["id"], made["id"], "order read back over https")
        expect(cl.request("GET", "/api/orders/999999", user="tls-user"), 404)


def test_tls_versions(c):
    """TLS 1.2 and 1.3 are both spoken, with the certificate curl and Python verify for 127.0.0.1."""
    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        alpn, got, _ = tls_probe(c.ports["tls"], ["h2", "http/1.1"], version, cafile=c.cert)
        ensure_eq(got, name, "negotiated TLS version")
        ensure_eq(alpn, "h2", f"ALPN over {name}")
    ensure_eq(curl_version(["--cacert", c.cert, "--tlsv1.2", "--tls-max", "1.2", c.url("tls") + "/healthz"]),
              ("2", "200"), "curl with TLS 1.2 only")


def test_alpn_choices(c):
    """ALPN: h2 first on the HTTP/2 listener, http/1.1 alone with --http2 off (and nothing for h2-only)."""
    ensure_eq(tls_probe(c.ports["tls"], ["http/1.1", "h2"])[0], "h2", "HTTP/2 listener, client prefers http/1.1")
    ensure_eq(tls_probe(c.ports["tls"], ["http/1.1"])[0], "http/1.1", "HTTP/2 listener, http/1.1 only offered")
    ensure_eq(tls_probe(c.ports["tls-h1"], ["h2", "http/1.1"])[0], "http/1.1", "--http2 off listener")
    ensure_eq(tls_probe(c.ports["tls-h1"], ["h2"])[0], None, "--http2 off listener, h2 only offered")


def test_http2_off_refuses_h2c_and_alpn_h2(c):
    """--http2 off: no h2c (prior knowledge gets a 400, Upgrade: h2c is ignored), no ALPN h2 over TLS;
    the cleartext listener beside it in the same process still speaks h2c."""
    ensure_eq(curl_version(["--http2-prior-knowledge", c.url("clear") + "/healthz"]), ("2", "200"),
              "h2c prior knowledge on the HTTP/2 cleartext listener")
    ensure_eq(curl_version(["--http2", c.url("clear") + "/healthz"]), ("2", "200"), "h2c upgrade, HTTP/2 listener")
    ensure_eq(curl_version(["--http2", c.url("clear-h1") + "/healthz"]), ("1.1", "200"), "h2c upgrade, --http2 off")
    version, out = curl_version(["--http2-prior-knowledge", c.url("clear-h1") + "/healthz"])
    ensure(version is None, f"h2c prior knowledge on --http2 off: curl should fail, got HTTP/{version} {out}")
    with socket.create_connection(("127.0.0.1", c.ports["clear-h1"]), timeout=5) as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        answer = s.recv(4096)
    ensure(answer.startswith(b"HTTP/1.1 400 "), f"HTTP/2 preface on --http2 off: {answer[:200]!r}")
    ensure_eq(curl_version(["--cacert", c.cert, "--http2", c.url("tls-h1") + "/healthz"]), ("1.1", "200"),
              "curl --http2 over TLS with --http2 off")
    rc, out = run_tool(["nghttp", c.url("tls-h1") + "/healthz"])  # nghttp exits 0 here too
    ensure("HTTP/2 protocol was not selected" in out and ":status" not in out,
           f"nghttp against --http2 off should find no ALPN h2: exit {rc}: {out}")


def test_nghttp_over_tls(c):
    """nghttp negotiates h2 and gets the API's answers, a POST included."""
    rc, out = run_tool(["nghttp", "-v", c.url("tls") + "/healthz"])
    ensure(rc == 0, f"nghttp exit {rc}: {out[-2000:]}")
    ensure("The negotiated protocol: h2" in out, f"nghttp did not negotiate h2: {out[-2000:]}")
    ensure(":status: 200" in out and '{"status":"ok"}' in out, f"nghttp GET /healthz: {out[-2000:]}")
    body = os.path.join(c.work, "order.json")
    with open(body, "w") as f:
        f.write('{"items":[{"product_id":"n1","quantity":1,"price":3.5}],"shipping_address":"2 Main St",'
                '"payment_method":"card"}')
    rc, out = run_tool(["nghttp", "-v", "-d", body, "-H", "content-type: application/json",
                        "-H", "x-user-id: nghttp-user", c.url("tls") + "/api/orders"])
    ensure(rc == 0 and ":status: 201" in out, f"nghttp POST /api/orders: exit {rc}: {out[-2000:]}")


def test_h2load_over_tls(c):
    """h2load: 400 requests over TLS, as h2 and as http/1.1, every one a 2xx."""
    for extra, proto in (([], "h2"), (["--h1"], "http/1.1")):
        rc, out = run_tool(["h2load", "-n", "400", "-c", "4", "-m", "4", *extra, c.url("tls") + "/healthz"], 60)
        ensure(rc == 0, f"h2load {extra} exit {rc}: {out[-2000:]}")
        ensure(f"Application protocol: {proto}" in out, f"h2load {extra}: protocol not {proto}: {out[-2000:]}")
        ensure("400 succeeded, 0 failed, 0 errored" in out and "status codes: 400 2xx" in out,
               f"h2load {extra}: {out[-2000:]}")


def test_sighup_reloads_certificates(c):
    """SIGHUP: new connections get the new certificate, an open keep-alive connection goes on working;
    files that cannot be used keep the old certificate (logged) and the server serves on."""
    port = c.ports["tls"]
    ensure_eq(tls_probe(port, ["h2"])[2], fingerprint(c.cert), "certificate before SIGHUP")
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5,
                                       context=ssl.create_default_context(cafile=c.cert))
    try:
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        ensure(r.status == 200 and r.read() == b'{"status":"ok"}', f"keep-alive GET before SIGHUP: {r.status}")
        sock = conn.sock

        shutil.copy(c.cert2, c.live_cert)
        shutil.copy(c.key2, c.live_key)
        mark = len(c.srv.lines)
        os.kill(c.srv.proc.pid, signal.SIGHUP)
        ensure(wait_new_line(c.srv, r"SIGHUP: reloaded the certificates of 2 of 2 TLS listener", mark),
               f"no reload line; stderr:\n        {c.srv.tail(5)}")
        ensure(not any("keeps its old" in ln for ln in c.srv.lines[mark:]), f"reload refused: {c.srv.tail(5)}")
        for name in ("tls", "tls-h1"):
            ensure_eq(tls_probe(c.ports[name], ["http/1.1"])[2], fingerprint(c.cert2), f"{name}: after SIGHUP")
        ensure_eq(curl_version(["--cacert", c.cert2, c.url("tls") + "/healthz"]), ("2", "200"),
                  "curl trusting only the new certificate")

        conn.request("GET", "/healthz")
        r = conn.getresponse()
        ensure(r.status == 200 and r.read() == b'{"status":"ok"}', f"keep-alive GET after SIGHUP: {r.status}")
        ensure(conn.sock is sock, "the open connection was dropped and made again by SIGHUP")
        ensure_eq(hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest(), fingerprint(c.cert),
                  "the open connection's certificate")

        for label, cert_text, key_src in (("garbage certificate", "not a certificate\n", c.key2),
                                          ("key of another certificate", None, c.key)):
            if cert_text is not None:
                with open(c.live_cert, "w") as f:
                    f.write(cert_text)
            else:
                shutil.copy(c.cert2, c.live_cert)
            shutil.copy(key_src, c.live_key)
            mark = len(c.srv.lines)
            os.kill(c.srv.proc.pid, signal.SIGHUP)
            line = wait_new_line(c.srv, r"SIGHUP: reloaded the certificates of 0 of 2", mark)
            ensure(line, f"{label}: no reload line; stderr:\n        {c.srv.tail(5)}")
            kept = [ln for ln in c.srv.lines[mark:] if "keeps its old certificate" in ln]
            ensure_eq(len(kept), 2, f"{label}: 'keeps its old certificate' lines ({c.srv.tail(5)})")
            ensure(c.live_cert in kept[0] or c.live_key in kept[0], f"{label}: the line names no file: {kept[0]}")
            ensure_eq(tls_probe(port, ["h2"])[2], fingerprint(c.cert2), f"{label}: certificate kept")
            ensure_eq(curl_version(["--cacert", c.cert2, c.url("tls") + "/healthz"]), ("2", "200"),
                      f"{label}: serving on")
        conn.request("GET", "/healthz")
        ensure_eq(conn.getresponse().status, 200, "keep-alive GET after the refused reloads")
    finally:
        conn.close()


def test_sigterm_exits_0(c):
    ensure_eq(c.srv.terminate(), 0, f"exit status after SIGTERM; stderr:\n        {c.srv.tail(5)}")


def test_bad_certificate_fails_startup(binary, work):
    """A missing, unreadable or mismatched certificate or key: one line naming the file, exit 1;
    a certificate without a key (or flags bound wrongly): one line, exit 2."""
    cert, key = make_cert(work, "startup")
    other_cert, other_key = make_cert(work, "other")
    garbage = os.path.join(work, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    missing = os.path.join(work, "missing.pem")
    cases = [
        ("missing certificate", ["--tls-cert", missing, "--tls-key", key], 1, missing),
        ("missing key", ["--tls-cert", cert, "--tls-key", missing], 1, missing),
        ("garbage certificate", ["--tls-cert", garbage, "--tls-key", key], 1, garbage),
        ("a key as the certificate", ["--tls-cert", key, "--tls-key", key], 1, key),
        ("the key of another certificate", ["--tls-cert", cert, "--tls-key", other_key], 1, other_key),
        ("certificate without key", ["--tls-cert", cert], 2, "--tls-key"),
        ("--http2 twice for one listener", ["--http2", "off", "--http2", "on"], 2, "given twice"),
        ("--http2 maybe", ["--http2", "maybe"], 2, "maybe"),
    ]
    del other_cert
    failures = []
    for label, args, want_rc, needle in cases:
        srv = Server(binary, args=args, workdir=work, name=f"orderd ({label})").start(expect_listen=False)
        rc = srv.wait_exit(20)
        if rc is None:
            srv.kill9()
            failures.append(f"{label}: still running after 20 s")
            continue
        lines = [ln for ln in srv.lines if ln.strip()]
        if rc != want_rc or len(lines) != 1 or needle not in lines[0]:
            failures.append(f"{label}: exit {rc} (want {want_rc}), stderr {lines!r} (want one line with {needle!r})")
    ensure(not failures, "\n      ".join(failures))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("-k", "--filter", default="")
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if not require_executable(runner, binary):
        return runner.finish()
    missing = [t for t in ("openssl", "curl", "nghttp", "h2load") if shutil.which(t) is None]
    with TempDir("orderd-tls-") as work:
        tests = [test_https_alpn_h2_and_http11, test_tls_versions, test_alpn_choices,
                 test_http2_off_refuses_h2c_and_alpn_h2, test_nghttp_over_tls, test_h2load_over_tls,
                 test_sighup_reloads_certificates, test_sigterm_exits_0]
        if missing:
            for t in tests + [test_bad_certificate_fails_startup]:
                runner.skip(t.__name__[5:], f"{', '.join(missing)} not installed (bash .ci/deps installs them)")
            return runner.finish()
        try:
            ctx = Ctx(binary, work)
            ctx.start()
        except Exception as e:  # noqa: BLE001 - reported as the suite's failure
            runner.fail("orderd with four listeners starts", f"{type(e).__name__}: {e}")
        else:
            try:
                for t in tests:
                    if args.filter in t.__name__ or t is test_sigterm_exits_0:
                        runner.run(t.__name__[5:], t, ctx)
            finally:
                if ctx.srv.alive():
                    ctx.srv.kill9()
        if args.filter in "bad_certificate_fails_startup":
            runner.run("bad_certificate_fails_startup", test_bad_certificate_fails_startup, binary, work)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
