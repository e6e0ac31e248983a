#!/usr/bin/env python3
"""One server per address and per data directory, from outside: a second
orderd on an address another orderd serves exits 1 with one line, whatever
its data directory (it must not join the first one's SO_REUSEPORT group and
split the traffic: every GET of the first one's order still answers 200);
a second orderd on the same data directory exits 1; `orderd journal verify`
and `repair` refuse the running server's directory, `dump` reads it.

    python3 tests/hostile/second_server_test.py --orderd build/orderd

The last line is exactly `N passed, N failed, N skipped` (orderd_harness.py)."""
import argparse
import os
import random
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from orderd_harness import (  # noqa: E402
    Runner, Server, TempDir, ensure, ensure_eq, expect, new_order, require_executable)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_port(binary, port, data_dir, workdir, name):
    srv = Server(binary, data_dir, workdir=workdir, threads=2, name=name)
    srv.argv = [binary, "--listen", f"127.0.0.1:{port}", "--threads", "2", "--data-dir", srv.data_dir]
    return srv


def refused(srv, what):
    srv.start(expect_listen=False)
    rc = srv.wait_exit(15)
    if rc is None:
        srv.kill9()
    ensure_eq(rc, 1, f"{what}: exit status")
    ensure(len(srv.lines) == 1, f"{what}: one line on stderr: {srv.lines}")
    ensure(not any("listening on" in ln for ln in srv.lines), f"{what}: it listened")
    return srv.lines[0]


def test_second_server_same_address(binary, work):
    port = free_port()
    first = on_port(binary, port, None, work, "first").start()
    try:
        c = first.http()
        order, _ = new_order(random.Random(1), "one")
        oid = expect(c.create("alice", order), 201)["id"]
        line = refused(on_port(binary, port, None, work, "second"), "second orderd, another data directory")
        ensure(f"127.0.0.1:{port}" in line and "another process" in line, f"the line: {line!r}")
        statuses = []
        for _ in range(40):  # new connections: the kernel would spread them over both groups
            statuses.append(first.http().request("GET", f"/api/orders/{oid}", user="alice").status)
        ensure_eq(sorted(set(statuses)), [200], "GETs of the first server's order after the refused start")
        ensure_eq(first.terminate(), 0, "first server's exit status")
        return f"(refused: {line!r})"
    finally:
        first.kill9()


def test_second_server_same_data_dir(binary, work):
    first = Server(binary, workdir=work, name="first").start()
    try:
        line = refused(Server(binary, first.data_dir, workdir=work, name="second"), "second orderd, same directory")
        ensure("in use by another orderd" in line, f"the line: {line!r}")
        ensure_eq(first.terminate(), 0, "first server's exit status")
        return ""
    finally:
        first.kill9()


def test_journal_tool_on_running_server(binary, work):
    srv = Server(binary, workdir=work, name="running").start()
    try:
        order, _ = new_order(random.Random(2), "tool")
        expect(srv.http().create("bob", order), 201)
        for cmd in ("verify", "repair"):
            p = subprocess.run([binary, "journal", cmd, "--data-dir", srv.data_dir], capture_output=True, timeout=20)
            err = p.stderr.decode(errors="replace").strip().splitlines()
            ensure_eq(p.returncode, 1, f"journal {cmd} on a running server: exit status")
            ensure(len(err) == 1 and "in use by a running orderd" in err[0], f"journal {cmd}: stderr {err}")
            ensure_eq(p.stdout, b"", f"journal {cmd}: stdout")
        p = subprocess.run([binary, "journal", "dump", "--data-dir", srv.data_dir], capture_output=True, timeout=20)
        ensure_eq(p.returncode, 0, "journal dump on a running server")
        ensure(b'"order_created"' in p.stdout, f"dump: {p.stdout[:200]!r}")
        ensure_eq(srv.terminate(), 0, "exit status")
        p = subprocess.run([binary, "journal", "verify", "--data-dir", srv.data_dir], capture_output=True, timeout=20)
        ensure_eq(p.returncode, 0, f"journal verify once stopped: {p.stderr!r}")
        return ""
    finally:
        srv.kill9()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if require_executable(runner, binary):
        with TempDir("orderd-second-") as work:
            runner.run("second_server_same_address_refused", test_second_server_same_address, binary, work)
            runner.run("second_server_same_data_dir_refused", test_second_server_same_data_dir, binary, work)
            runner.run("journal_verify_repair_refuse_running", test_journal_tool_on_running_server, binary, work)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
