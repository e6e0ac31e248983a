#!/usr/bin/env python3
"""--access-log from outside: requests over HTTP/1.1 and h2c prior knowledge
give one line each (the combined log format, then the request id, the
protocol and the seconds taken) with what was sent and answered, h2o's own
413 included; `-` writes to standard output; after the file is renamed,
SIGHUP makes a new file that gets the next lines while the renamed one keeps
the earlier ones (what logrotate does), and docs/deploy/logrotate.conf run by
logrotate does the same; behind --trusted-proxy a line starts with the client
the proxy names (from other peers: the peer); a file that cannot be opened fails start-up with one
line and exit 1; without the flag nothing is logged.

    python3 tests/integration/access_log_test.py --orderd build/orderd

The last line is exactly `N passed, N failed, N skipped` (the harness is
orderd_harness.py)."""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    Client, Runner, Server, SkipTest, TempDir, TestFailure, ensure, ensure_eq, require_executable)

# %h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i" request-id protocol seconds
LINE_RE = re.compile(r'^(\S+) - - \[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+) '
                     r'"([^"]*)" "([^"]*)" (\S+) (\S+) (\d+(?:\.\d{6})?)$')
UA = "access-log-test/1.0"
LOGROTATE_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "deploy",
                              "logrotate.conf")
SHIPPED_LOG = "/var/log/orderd/access.log"


class StdoutServer(Server):
    """The harness's fixture with standard output kept in a file (Server discards it)."""

    def __init__(self, *args, stdout_path, **kwargs):
        super().__init__(*args, **kwargs)
        self.stdout_path = stdout_path

    def start(self, timeout=20.0, expect_listen=True):
        with open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
                                         env=self.env)
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        if self.wait_listen(timeout) is None:
            self.kill9()
            raise TestFailure(f"{self.name} did not start; stderr:\n        {self.tail(20)}")
        return self


def read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def wait_lines(path, n, timeout=10.0):
    """The lines of path once it has at least n (fails when it has fewer after timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = read_lines(path)
        if len(lines) >= n or time.monotonic() > deadline:
            ensure(len(lines) >= n, f"{path}: want {n} lines, got {len(lines)}: {lines}")
            return lines
        time.sleep(0.02)


def reopened_after(srv, action, timeout=10.0):
    """Runs action(), then waits for one more `reopened the access log` line on stderr."""
    marks = sum("reopened the access log" in ln for ln in srv.lines)
    action()
    deadline = time.monotonic() + timeout
    while sum("reopened the access log" in ln for ln in srv.lines) == marks:
        ensure(time.monotonic() < deadline, f"no new 'reopened the access log' line; stderr:\n        {srv.tail()}")
        time.sleep(0.02)


def requests(client, tag):
    """Four requests of different kinds; returns (method, path, response) for each."""
    sent = []
    for method, path, kwargs in (
            ("GET", "/healthz", {}),
            ("GET", "/api/orders?limit=2", {"user": f"u-{tag}", "headers": (f"X-Request-Id: rid-{tag}",)}),
            ("POST", "/api/orders", {"user": f"u-{tag}", "body": "{"}),
            ("GET", f"/no/such/{tag}", {})):
        hdrs = tuple(kwargs.pop("headers", ())) + (f"User-Agent: {UA}", f"Referer: http://example.test/{tag}")
        sent.append((method, path, client.request(method, path, headers=hdrs, **kwargs)))
    return sent


def check_line(line, method, path, resp, protocol, tag):
    m = LINE_RE.match(line)
    ensure(m is not None, f"not an access-log line: {line!r}")
    host, _, l_method, l_path, l_version, status, size, referer, agent, rid, l_proto, seconds = m.groups()
    ensure_eq(host, "127.0.0.1", "client address")
    ensure_eq((l_method, l_path, l_version), (method, path, protocol), f"request line of {line!r}")
    ensure_eq(int(status), resp.status, f"status in {line!r}")
    ensure_eq(int(size), len(resp.body), f"body size in {line!r}")
    ensure_eq(referer, f"http://example.test/{tag}", "referer")
    ensure_eq(agent, UA, "user agent")
    ensure_eq(rid, resp.header("x-request-id"), f"request id in {line!r}")
    ensure_eq(l_proto, protocol, "protocol field")
    ensure(float(seconds) < 10, f"duration {seconds}")


class Ctx:
    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        self.log = os.path.join(work, "access.log")
        self.srv = Server(binary, args=["--access-log", self.log], workdir=work, name="orderd --access-log FILE")

    def client(self, proto):
        return Client(self.srv.base_url, proto, self.work)


def test_one_line_per_request(ctx):
    """HTTP/1.1 and h2c: one line per request, in order, each with what was sent and answered."""
    before = len(read_lines(ctx.log))
    sent = []
    for proto, version in (("http1.1", "HTTP/1.1"), ("h2c", "HTTP/2")):
        sent += [(version, proto, *s) for s in requests(ctx.client(proto), proto)]
    lines = wait_lines(ctx.log, before + len(sent))[before:]
    ensure_eq(len(lines), len(sent), "one line per request")
    for line, (version, tag, method, path, resp) in zip(lines, sent):
        check_line(line, method, path, resp, version, tag)
    ensure(any(r.status == 400 for *_, r in sent) and any(r.status == 404 for *_, r in sent),
           "the 400 and 404 were logged too")
    ensure_eq(sent[1][4].header("x-request-id"), "rid-http1.1", "a sent request id is the one logged")


def test_sighup_reopens_after_rename(ctx):
    """logrotate: rename the file, SIGHUP; the next lines go to a new file, the old one keeps what it had."""
    client = ctx.client("http1.1")
    client.request("GET", "/healthz")
    old_lines = wait_lines(ctx.log, 1)
    time.sleep(0.2)  # nothing else is in flight: the count is final
    old_lines = read_lines(ctx.log)
    rotated = ctx.log + ".1"
    os.rename(ctx.log, rotated)
    reopened_after(ctx.srv, lambda: os.kill(ctx.srv.proc.pid, signal.SIGHUP))
    ensure(os.path.exists(ctx.log), "SIGHUP made a new file under the old name")
    resp = client.request("GET", "/healthz?after=rotate")
    new_lines = wait_lines(ctx.log, 1)
    ensure_eq(len(new_lines), 1, "the new file holds the one request after SIGHUP")
    ensure(new_lines[0].split()[6] == "/healthz?after=rotate" and resp.header("x-request-id") in new_lines[0],
           f"the new file's line: {new_lines[0]!r}")
    ensure_eq(read_lines(rotated), old_lines, "the renamed file keeps exactly the earlier lines")
    ensure(ctx.srv.alive(), "orderd still runs after SIGHUP")


def test_logrotate_config(ctx):
    """docs/deploy/logrotate.conf run by logrotate itself (its path and its postrotate
    pointed at this server): the next lines go to a new file, the rotated one keeps the rest."""
    if shutil.which("logrotate") is None:
        raise SkipTest("logrotate not installed (bash .ci/deps installs it)")
    with open(LOGROTATE_CONF, encoding="utf-8") as f:
        conf = f.read()
    ensure(SHIPPED_LOG in conf and "systemctl kill --signal=HUP" in conf,
           f"{LOGROTATE_CONF} rotates {SHIPPED_LOG} and sends SIGHUP through systemctl")
    conf = conf.replace(SHIPPED_LOG, ctx.log)
    conf = re.sub(r"systemctl kill [^\n]*", f"kill -HUP {ctx.srv.proc.pid}", conf)
    conf_path, state = os.path.join(ctx.work, "logrotate.conf"), os.path.join(ctx.work, "logrotate.state")
    with open(conf_path, "w", encoding="utf-8") as f:
        f.write(conf)
    os.chmod(conf_path, 0o644)  # logrotate ignores a configuration others may write
    client = ctx.client("h2c")
    client.request("GET", "/healthz?before=logrotate")
    wait_lines(ctx.log, 1)
    time.sleep(0.2)  # nothing else is in flight: the count is final
    old_lines = read_lines(ctx.log)

    def rotate():
        proc = subprocess.run(["logrotate", "--force", "--state", state, conf_path], capture_output=True, timeout=30)
        ensure_eq(proc.returncode, 0, f"logrotate exit status ({proc.stderr.decode(errors='replace').strip()})")
    reopened_after(ctx.srv, rotate)
    client.request("GET", "/healthz?after=logrotate")
    new_lines = wait_lines(ctx.log, 1)
    ensure(len(new_lines) == 1 and "/healthz?after=logrotate" in new_lines[0], f"the new file: {new_lines}")
    ensure_eq(read_lines(ctx.log + ".1"), old_lines, "the rotated file (delaycompress: not compressed yet)")


def test_h2o_own_answer_logged(binary, work):
    """A body past h2o's own limit gets h2o's 413 before any path is chosen: it is logged too."""
    log = os.path.join(work, "access-413.log")
    srv = Server(binary, args=["--max-body", "10", "--access-log", log], workdir=work,
                 name="orderd --max-body 10 --access-log FILE").start()
    try:
        big = "[" + "0," * 100000 + "0]"  # past h2o's limit (twice --max-body plus 64 KiB)
        resp = Client(srv.base_url, "http1.1", work).request(
            "POST", "/api/orders", user="u-413", body=big,
            headers=(f"User-Agent: {UA}", "Referer: http://example.test/413"))
        ensure_eq(resp.status, 413, "status of a body past h2o's limit")
        check_line(wait_lines(log, 1)[0], "POST", "/api/orders", resp, "HTTP/1.1", "413")
    finally:
        ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")


def test_client_behind_trusted_proxy(binary, work):
    """--trusted-proxy: the line starts with the client a trusted proxy names (X-Forwarded-For, Forwarded);
    from a peer that is not trusted, with the peer's address whatever the headers say."""
    cases = [(["--trusted-proxy", "127.0.0.1"], ("X-Forwarded-For: 198.51.100.4, 203.0.113.9",), "203.0.113.9"),
             (["--trusted-proxy", "127.0.0.1"], ('Forwarded: for="[2001:db8::7]";proto=https',), "2001:db8::7"),
             (["--trusted-proxy", "127.0.0.1"], (), "127.0.0.1"),
             (["--trusted-proxy", "10.0.0.0/8"], ("X-Forwarded-For: 203.0.113.9",), "127.0.0.1"),
             ([], ("X-Forwarded-For: 203.0.113.9",), "127.0.0.1")]
    for i, (flags, headers, want) in enumerate(cases):
        log = os.path.join(work, f"access-proxy-{i}.log")
        srv = Server(binary, args=["--access-log", log, *flags], workdir=work,
                     name=f"orderd-proxy-{i}").start()
        try:
            for proto in ("http1.1", "h2c"):
                resp = Client(srv.base_url, proto, work).request(
                    "GET", "/healthz", headers=(f"User-Agent: {UA}", "Referer: http://example.test/p", *headers))
                ensure_eq(resp.status, 200, "status")
            lines = wait_lines(log, 2)
            for ln in lines:
                m = LINE_RE.match(ln)
                ensure(m is not None, f"not the log format: {ln!r}")
                ensure_eq(m.group(1), want, f"client of {flags} {headers}")
        finally:
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
    return f"({len(cases)} cases, HTTP/1.1 and h2c)"


def test_stdout(binary, work):
    """--access-log -: the lines go to standard output."""
    out = os.path.join(work, "stdout.txt")
    srv = StdoutServer(binary, args=["--access-log", "-"], workdir=work, name="orderd --access-log -",
                       stdout_path=out).start()
    try:
        client = Client(srv.base_url, "h2c", work)
        resp = client.request("GET", "/healthz", headers=(f"User-Agent: {UA}", "Referer: http://example.test/h2c"))
        line = wait_lines(out, 1)[0]
        check_line(line, "GET", "/healthz", resp, "HTTP/2", "h2c")
    finally:
        ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
    ensure_eq(len(read_lines(out)), 1, "one line on standard output, nothing else")


def test_off_by_default(binary, work):
    """Without --access-log nothing is written to standard output (nor a file)."""
    out = os.path.join(work, "stdout-off.txt")
    srv = StdoutServer(binary, workdir=work, name="orderd without --access-log", stdout_path=out).start()
    try:
        Client(srv.base_url, "http1.1", work).request("GET", "/healthz")
        time.sleep(0.3)
    finally:
        ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
    ensure_eq(read_lines(out), [], "standard output")
    ensure(not any("access log" in ln for ln in srv.lines), f"stderr mentions no access log: {srv.tail()}")


def test_bad_path_fails_startup(binary, work):
    """A file that cannot be opened: one line naming it, exit 1; an empty value: one line, exit 2."""
    cases = [("missing directory", os.path.join(work, "no-such-dir", "access.log"), 1),
             ("a directory", work, 1),
             ("empty", "", 2)]
    for label, path, want_rc in cases:
        srv = Server(binary, args=["--access-log", path], workdir=work, name=f"orderd ({label})")
        srv.start(expect_listen=False)
        rc = srv.wait_exit(20)
        if rc is None:
            srv.kill9()
        ensure_eq(rc, want_rc, f"{label}: exit status")
        ensure_eq(len(srv.lines), 1, f"{label}: one line on stderr: {srv.lines}")
        ensure("--access-log" in srv.lines[0] and path in srv.lines[0], f"{label}: the line names the flag "
               f"and the file: {srv.lines[0]!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("-k", "--filter", default="")
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if not require_executable(runner, binary):
        return runner.finish()
    with TempDir("orderd-access-log-") as work:
        ctx = Ctx(binary, work)
        try:
            ctx.srv.start()
        except Exception as e:  # noqa: BLE001 - reported as the suite's failure
            runner.fail("orderd --access-log FILE starts", f"{type(e).__name__}: {e}")
        else:
            try:
                for t in (test_one_line_per_request, test_sighup_reopens_after_rename, test_logrotate_config):
                    if args.filter in t.__name__:
                        runner.run(t.__name__[5:], t, ctx)
            finally:
                if ctx.srv.terminate() != 0:
                    runner.fail("exit 0 after SIGTERM", ctx.srv.tail())
        for t in (test_h2o_own_answer_logged, test_client_behind_trusted_proxy, test_stdout, test_off_by_default,
                  test_bad_path_fails_startup):
            if args.filter in t.__name__:
                runner.run(t.__name__[5:], t, binary, work)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
