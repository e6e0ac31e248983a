#!/usr/bin/env python3
"""sd_notify for the Type=notify unit (src/notify.c): the real binary with
NOTIFY_SOCKET set to a Unix datagram socket this test listens on.

  - READY=1 comes once the journal is replayed and the listeners accept: at
    that moment /healthz answers, an order made before a restart is there,
    and the listening line was logged; nothing else is sent while it runs;
  - STOPPING=1 comes after SIGTERM, never before, and orderd exits 0;
  - a NOTIFY_SOCKET nobody listens on is logged, and orderd serves anyway.

    python3 tests/integration/notify_test.py --orderd build/orderd

The last line is exactly `N passed, N failed, N skipped` (the harness is
orderd_harness.py)."""
import argparse
import os
import random
import socket
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    LISTEN_RE, Runner, Server, TempDir, check_created, ensure, ensure_eq, new_order, require_executable)

START_TIMEOUT = 20.0


class Manager:
    """A stand-in for systemd: the socket that $NOTIFY_SOCKET names."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def next(self, timeout):
        """The next message as text; None when none came within timeout."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        except (TimeoutError, socket.timeout):
            return None

    def pending(self):
        """A message already waiting, or None."""
        self.sock.setblocking(False)
        try:
            return self.sock.recv(4096).decode()
        except BlockingIOError:
            return None

    def close(self):
        self.sock.close()


def start_until_ready(srv, mgr):
    """Starts srv and waits for READY=1; then the listening line must be logged (it is written first)."""
    srv.start(expect_listen=False)
    msg = mgr.next(START_TIMEOUT)
    ensure(msg is not None, f"no message on NOTIFY_SOCKET within {START_TIMEOUT}s; stderr:\n        {srv.tail()}")
    ensure_eq(msg, "READY=1", "first message on NOTIFY_SOCKET")
    ensure(srv.wait_listen(2.0) is not None,
           f"READY=1 came but no '{LISTEN_RE.pattern}' line was logged; stderr:\n        {srv.tail()}")


def stop_and_expect_stopping(srv, mgr):
    """SIGTERM; STOPPING=1 must follow it (and nothing may come before it), and the exit status be 0."""
    early = mgr.pending()
    ensure(early is None, f"message {early!r} before SIGTERM")
    rc = srv.terminate()
    msg = mgr.next(0.5)  # sent before draining: queued by the time the process exited
    ensure_eq(msg, "STOPPING=1", "message on NOTIFY_SOCKET after SIGTERM")
    ensure(any("SIGTERM received" in ln for ln in srv.lines), f"no 'SIGTERM received' line:\n        {srv.tail()}")
    ensure_eq(rc, 0, "exit status after SIGTERM")
    extra = mgr.pending()
    ensure(extra is None, f"message {extra!r} after STOPPING=1")


def test_ready_after_replay_stopping_after_sigterm(binary):
    with TempDir("orderd-notify-") as tmp:
        mgr = Manager(tmp)
        env = {"NOTIFY_SOCKET": mgr.path}
        srv = Server(binary, os.path.join(tmp, "data"), workdir=tmp, env=env, name="orderd (notify)")
        try:
            start_until_ready(srv, mgr)
            c = srv.http()
            ensure_eq(c.request("GET", "/healthz").status, 200, "GET /healthz at READY=1")
            body, exp = new_order(random.Random(11), "notify")
            oid = check_created(c.create("alice", body), "alice", exp)["id"]
            c.close()
            stop_and_expect_stopping(srv, mgr)

            # after a restart, READY=1 means the journal is replayed: the order is there at once
            srv = srv.again(name="orderd (notify, restarted)")
            start_until_ready(srv, mgr)
            c = srv.http()
            ensure_eq(c.get("alice", oid).status, 200, f"GET of order {oid} made before the restart, at READY=1")
            c.close()
            stop_and_expect_stopping(srv, mgr)
        finally:
            srv.kill9()
            mgr.close()


def test_dead_notify_socket_is_logged(binary):
    with TempDir("orderd-notify-") as tmp:
        env = {"NOTIFY_SOCKET": os.path.join(tmp, "nobody-listens")}
        srv = Server(binary, workdir=tmp, env=env, name="orderd (dead NOTIFY_SOCKET)")
        try:
            srv.start(timeout=START_TIMEOUT)
            ensure(srv.wait_line(r"^sd_notify READY=1 failed: ", 2.0) is not None,
                   f"no 'sd_notify READY=1 failed' line; stderr:\n        {srv.tail()}")
            c = srv.http()
            ensure_eq(c.request("GET", "/healthz").status, 200, "GET /healthz with a dead NOTIFY_SOCKET")
            c.close()
            ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
        finally:
            srv.kill9()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if require_executable(runner, binary):
        runner.run("ready_after_replay_stopping_after_sigterm", test_ready_after_replay_stopping_after_sigterm, binary)
        runner.run("dead_notify_socket_is_logged", test_dead_notify_socket_is_logged, binary)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
