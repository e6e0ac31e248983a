#!/usr/bin/env python3
"""Webhooks (docs/webhooks.md, src/webhook.c): the real binary with
--webhook pointing at a receiver of this test's own (python http.server on
127.0.0.1, threaded) that checks every request's orderd-signature with the
secret, its orderd-event-id against the body, and answers as each scenario
says:

  - 500 for the first attempts, then 200: the same event retried, then every
    event delivered once, in the feed's order;
  - a receiver that hangs past --webhook-timeout 500ms (retried) and one that
    answers late but within it (delivered at once);
  - the receiver down (connection refused), then up: delivered;
  - many orders changed from many connections: every acknowledged change
    arrives, each order's versions in order, sequence numbers ascending; a
    new endpoint gets only the events after its first start;
  - kill -9 and SIGTERM mid-backlog, then a restart: every event delivered
    at least once, none skipped, in order, a duplicate only right at the
    restart; SIGTERM stops promptly and leaves no duplicate but the one in
    flight;
  - GET /api/admin/webhooks: last_delivered_seq, backlog, last_error and the
    rest, checked against docs/openapi.yaml; an empty list without
    --webhook; the operator's token only;
  - --webhook-max-age 2s: an event a receiver always refuses is given up,
    counted and logged, and the next one is delivered;
  - --feed-retention 0 with a snapshot every 4 KiB: what an endpoint that
    is down has not had is kept (its pin) and delivered; a cursor older than
    the oldest kept record is logged and delivery goes on from there;
  - a torn state file: logged, shown as last_error, and delivery starts again
    from the oldest kept event;
  - without --webhook-secret-file, DATA-DIR/webhook-secret (0600) is created
    and signs the requests.

    python3 tests/integration/webhook_test.py --orderd build/orderd

The last line is exactly `N passed, N failed, N skipped` (the harness is
orderd_harness.py; the receiver is webhook_receiver.py)."""
import argparse
import os
import random
import shutil
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from orderd_harness import (  # noqa: E402
    Runner, Server, TempDir, TestFailure, ensure, ensure_eq, new_order, require_executable)
from openapi_check import OpenAPIChecker  # noqa: E402
from webhook_receiver import DEFAULT_SECRET as SECRET, Receiver  # noqa: E402

CONTRACT = OpenAPIChecker()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise TestFailure(f"timed out after {timeout}s waiting for {what}")


def secret_file(tmp):
    path = os.path.join(tmp, "webhook-secret")
    with open(path, "w") as f:
        f.write(SECRET + "\n")
    return path


def start(binary, tmp, urls, *extra, data_dir=None):
    args = ["--webhook-secret-file", secret_file(tmp)]
    for u in urls:
        args += ["--webhook", u]
    srv = Server(binary, data_dir, args + list(extra), workdir=tmp, name="orderd-wh")
    return srv.start()


def token_of(srv):
    with open(os.path.join(srv.data_dir, "operator-token")) as f:
        return f.readline().strip()


def admin(srv, http=None, token=None):
    """GET /api/admin/webhooks, checked against the contract; the list."""
    h = http or srv.http()
    r = h.request("GET", "/api/admin/webhooks", headers={"Authorization": f"Bearer {token or token_of(srv)}"})
    ensure_eq(r.status, 200, f"GET /api/admin/webhooks: {r!r}")
    CONTRACT.check("GET", "/api/admin/webhooks", 200, r.headers.get("content-type"), r.body)
    if http is None:
        h.close()
    return r.json()["webhooks"]


def create(http, user, rng, tag):
    body, _ = new_order(rng, tag)
    r = http.create(user, body)
    ensure_eq(r.status, 201, f"create: {r!r}")
    return r.json()


def create_orders(srv, user, rng, prefix, n):
    """n orders of `user` on one connection; their ids, in order."""
    http = srv.http()
    ids = [create(http, user, rng, f"{prefix}{i}")["id"] for i in range(n)]
    http.close()
    return ids


def advance(http, token, oid, status):
    r = http.request("POST", f"/api/orders/{oid}/status", body={"status": status},
                     headers={"Authorization": f"Bearer {token}"})
    ensure_eq(r.status, 200, f"status {status}: {r!r}")
    return r.json()


def check_in_order(events, what):
    """Sequence numbers strictly ascending (no duplicate, nothing out of order)."""
    seqs = [ev["seq"] for ev in events]
    ensure(all(a < b for a, b in zip(seqs, seqs[1:])), f"{what}: sequence numbers out of order: {seqs}")


# --- scenarios ------------------------------------------------------------

def test_retry_500_then_200(binary):
    rng = random.Random(1)
    recv = Receiver(behave=lambda ev, n: 500 if n <= 2 and ev["type"] == "order.created" and
                    ev["order"]["shipping_address"].startswith("first") else 200)
    with TempDir("orderd-wh-") as tmp:
        srv = start(binary, tmp, [recv.url])
        try:
            http = srv.http()
            first = create(http, "u1", rng, "first")
            others = [create(http, "u1", rng, f"next{i}") for i in range(3)]
            wait_until(lambda: len(recv.delivered()) == 4, 15, "four deliveries")
            got = recv.delivered()
            ensure_eq([ev["order_id"] for ev in got], [first["id"]] + [o["id"] for o in others], "delivery order")
            check_in_order(got, "deliveries")
            ensure_eq(recv.attempts_of(got[0]["id"]), 3, "attempts of the first event (500, 500, 200)")
            ensure_eq(got[0]["order"], first, "the event's order is the order as the API showed it")
            ensure_eq(got[0]["type"], "order.created", "type")
            ensure_eq(got[0]["version"], 1, "version")
            wait_until(lambda: admin(srv, http)[0]["backlog"] == 0, 5, "an empty backlog")
            [st] = admin(srv, http)
            ensure_eq(st["url"], recv.url, "url")
            ensure_eq(st["delivered"], 4, "delivered")
            ensure_eq(st["failed_attempts"], 2, "failed_attempts")
            ensure_eq(st["given_up"], 0, "given_up")
            ensure_eq(st["last_delivered_seq"], got[-1]["seq"], "last_delivered_seq")
            ensure("HTTP 500" in (st["last_error"] or ""), f"last_error: {st}")
            ensure(st["last_error_at"] is not None, f"last_error_at: {st}")
            ensure_eq(st["state"], "idle", "state")
            ensure_eq(st["next_attempt_at"], None, "next_attempt_at")
            recv.ensure_clean()
        finally:
            srv.terminate()
            recv.close()


def test_timeout_and_slow_receiver(binary):
    rng = random.Random(2)

    def behave(ev, n):
        tag = ev["order"]["shipping_address"]
        if tag.startswith("hang") and n == 1:
            return ("sleep", 1.5, 599)  # past --webhook-timeout: orderd gives up waiting (599: not counted)
        if tag.startswith("slow"):
            return ("sleep", 0.3, 200)  # late, but within it
        return 200

    recv = Receiver(behave=behave)
    with TempDir("orderd-wh-") as tmp:
        srv = start(binary, tmp, [recv.url], "--webhook-timeout", "500ms")
        try:
            http = srv.http()
            hang = create(http, "u2", rng, "hang")
            slow = create(http, "u2", rng, "slow")
            t0 = time.monotonic()
            wait_until(lambda: [ev["order_id"] for ev in recv.delivered()].count(slow["id"]) == 1, 15,
                       "the slow receiver's delivery")
            ensure_eq(recv.attempts_of(recv.delivered()[0]["id"]), 2,
                      "attempts of the hung event")
            ensure_eq(recv.attempts_of(recv.delivered()[-1]["id"]), 1, "attempts of the slow one (no retry)")
            ensure_eq([ev["order_id"] for ev in recv.delivered()], [hang["id"], slow["id"]], "order")
            [st] = admin(srv, http)
            ensure_eq(st["failed_attempts"], 1, "failed_attempts")
            ensure("timed out" in (st["last_error"] or "").lower() or "timeout" in (st["last_error"] or "").lower(),
                   f"last_error: {st}")
            recv.ensure_clean()
            return f"(delivered in {time.monotonic() - t0:.1f}s)"
        finally:
            srv.terminate()
            recv.close()


def test_receiver_down_then_up(binary):
    rng = random.Random(3)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    with TempDir("orderd-wh-") as tmp:
        srv = start(binary, tmp, [url])
        recv = None
        try:
            http = srv.http()
            o = create(http, "u3", rng, "down")
            wait_until(lambda: admin(srv, http)[0]["failed_attempts"] >= 1, 5, "a failed attempt")
            [st] = admin(srv, http)
            ensure_eq(st["state"], "retrying", "state while the receiver is down")
            ensure(st["next_attempt_at"] is not None, f"next_attempt_at: {st}")
            ensure(st["backlog"] >= 1, f"backlog: {st}")
            ensure("connect" in (st["last_error"] or "").lower(), f"last_error: {st}")
            recv = Receiver(port=port)
            wait_until(lambda: len(recv.delivered()) == 1, 10, "the delivery once the receiver is up")
            ensure_eq(recv.delivered()[0]["order_id"], o["id"], "the event")
            wait_until(lambda: admin(srv, http)[0]["backlog"] == 0, 5, "an empty backlog")
            recv.ensure_clean()
        finally:
            srv.terminate()
            if recv is not None:
                recv.close()


def test_many_orders_in_order(binary):
    rng = random.Random(4)
    recv = Receiver()
    with TempDir("orderd-wh-") as tmp:
        # before any --webhook: events a new endpoint must not get
        srv = Server(binary, None, [], workdir=tmp, name="orderd-wh").start()
        http = srv.http()
        before = {create(http, "early", rng, "early")["id"] for _ in range(3)}
        http.close()
        ensure_eq(srv.terminate(), 0, "exit status")
        srv = start(binary, tmp, [recv.url], data_dir=srv.data_dir)
        try:
            token = token_of(srv)
            acked = {}  # order id -> highest version acknowledged
            lock = threading.Lock()

            def worker(i):
                h = srv.http()
                user = f"user{i}"
                for k in range(4):
                    o = create(h, user, rng, f"w{i}k{k}")
                    vers = [o["version"]]
                    if k % 2 == 0:
                        vers.append(advance(h, token, o["id"], "processing")["version"])
                    if k % 4 == 0:
                        vers.append(advance(h, token, o["id"], "shipped")["version"])
                    if k == 1:
                        r = h.cancel(user, o["id"])
                        ensure_eq(r.status, 200, f"cancel: {r!r}")
                        vers.append(r.json()["version"])
                    with lock:
                        acked[o["id"]] = vers
                h.close()

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            want = sum(len(v) for v in acked.values())
            wait_until(lambda: len(recv.delivered()) >= want, 20, f"{want} deliveries")
            got = recv.delivered()
            check_in_order(got, "deliveries")
            ensure(not before & {ev["order_id"] for ev in got}, "a new endpoint got events from before its start")
            per = {}
            for ev in got:
                per.setdefault(ev["order_id"], []).append(ev["version"])
                ensure_eq(ev["version"], ev["order"]["version"], "the event's version is its order's")
            for oid, vers in acked.items():
                ensure_eq(per.get(oid), vers, f"versions of order {oid} delivered")
            ensure_eq(len(got), want, "deliveries")
            recv.ensure_clean()
            return f"({want} events)"
        finally:
            srv.terminate()
            recv.close()


def _restart_mid_backlog(binary, stop):
    rng = random.Random(5)
    gate = threading.Event()  # held until every order is made: a backlog however slow the creates are
    recv = Receiver(behave=lambda ev, n: ("sleep", 0.03, 200) if gate.wait(8) else 500)
    with TempDir("orderd-wh-") as tmp:
        srv = start(binary, tmp, [recv.url])
        srv2 = None
        try:
            ids = create_orders(srv, "u5", rng, "r", 80)
            gate.set()
            wait_until(lambda: len(recv.delivered()) >= 15, 10, "15 deliveries")
            if stop == "kill9":
                srv.kill9()
            else:
                t0 = time.monotonic()
                ensure_eq(srv.terminate(), 0, "exit status after SIGTERM")
                ensure(time.monotonic() - t0 < 3.0, f"SIGTERM took {time.monotonic() - t0:.1f}s")
            before = len(recv.delivered())
            ensure(before < len(ids), "the backlog was gone before the stop: nothing to test")
            srv2 = srv.again().start()
            wait_until(lambda: set(ids) <= {ev["order_id"] for ev in recv.delivered()}, 20, "every event")
            got = recv.delivered()
            seqs = [ev["seq"] for ev in got]
            # in order before the stop and after the restart; after it, first
            # again the last few delivered before it (their progress was not
            # written yet), never an event past one not yet delivered
            check_in_order(got[:before], "before the restart")
            check_in_order(got[before:], "after the restart")
            redelivered = [q for q in seqs[before:] if q <= seqs[before - 1]]
            ensure_eq(redelivered, seqs[before - len(redelivered):before],
                      "the redelivered events are the last ones delivered before the restart")
            ensure_eq([ev["order_id"] for ev in got[:before] + got[before + len(redelivered):]], ids,
                      "every event once, in order, but the redelivered")
            limit = 1 if stop == "sigterm" else 10
            ensure(len(redelivered) <= limit, f"{len(redelivered)} events delivered twice (at most {limit})")
            recv.ensure_clean()
            return f"({len(redelivered)} redelivered)"
        finally:
            (srv2 or srv).terminate()
            recv.close()


def test_kill9_mid_backlog(binary):
    return _restart_mid_backlog(binary, "kill9")


def test_sigterm_mid_backlog(binary):
    return _restart_mid_backlog(binary, "sigterm")


def test_max_age_gives_up(binary):
    rng = random.Random(6)
    recv = Receiver(behave=lambda ev, n: 503 if ev["order"]["shipping_address"].startswith("doomed") else 200)
    with TempDir("orderd-wh-") as tmp:
        srv = start(binary, tmp, [recv.url], "--webhook-max-age", "2s")
        try:
            http = srv.http()
            doomed = create(http, "u6", rng, "doomed")
            fine = create(http, "u6", rng, "fine")
            wait_until(lambda: len(recv.delivered()) == 1, 10, "the next event's delivery")
            ensure_eq(recv.delivered()[0]["order_id"], fine["id"], "delivered")
            did = [ev["id"] for ev, _, _ in recv.log if ev["order_id"] == doomed["id"]][0]
            ensure(recv.attempts_of(did) >= 2, f"the doomed event was tried {recv.attempts_of(did)} times")
            [st] = admin(srv, http)
            ensure_eq(st["given_up"], 1, "given_up")
            ensure_eq(st["delivered"], 1, "delivered")
            ensure_eq(st["failed_attempts"], recv.attempts_of(did), "failed_attempts")
            ensure(srv.wait_line(r"gave up event " + did, 2) is not None, "no warning logged")
            recv.ensure_clean()
        finally:
            srv.terminate()
            recv.close()


def test_damaged_state_file_redelivers(binary):
    """A garbage state file: logged, shown as last_error, and delivery starts
    again from the oldest kept event (duplicates, never a gap)."""
    rng = random.Random(8)
    recv = Receiver()
    with TempDir("orderd-wh-") as tmp:
        srv = start(binary, tmp, [recv.url])
        srv2 = None
        try:
            ids = create_orders(srv, "u8", rng, "d", 3)
            wait_until(lambda: len(recv.delivered()) == 3, 10, "three deliveries")
            ensure_eq(srv.terminate(), 0, "exit status")
            states = [n for n in os.listdir(srv.data_dir) if n.startswith("webhook-") and n.endswith(".state")]
            ensure_eq(len(states), 1, f"state files in the data directory: {states}")
            with open(os.path.join(srv.data_dir, states[0]), "r+b") as f:
                f.truncate(20)  # torn
            srv2 = srv.again().start()
            wait_until(lambda: len(recv.delivered()) >= 6, 10, "the events delivered again")
            ensure_eq([ev["order_id"] for ev in recv.delivered()], ids + ids, "delivered, then again from the start")
            [st] = admin(srv2)
            ensure("state file" in (st["last_error"] or ""), f"last_error: {st}")
            ensure(srv2.wait_line(r"webhook .*state file .* is not an orderd webhook state file|damaged", 2)
                   is not None, "no error logged")
            recv.ensure_clean()
        finally:
            (srv2 or srv).terminate()
            recv.close()


def test_state_past_the_journal(binary):
    """A state file that says more was delivered than the journal holds (a
    data directory restored from an older backup, state from later): the
    endpoint starts from the journal's end, so the next changes, which take
    those sequence numbers again, are delivered, not skipped."""
    rng = random.Random(12)
    recv = Receiver()
    with TempDir("orderd-wh-") as tmp:
        srv = start(binary, tmp, [recv.url])
        srv2 = None
        try:
            create_orders(srv, "u12", rng, "p", 4)
            wait_until(lambda: len(recv.delivered()) == 4, 10, "four deliveries")
            ensure_eq(srv.terminate(), 0, "exit status")
            older = os.path.join(tmp, "restored")
            os.mkdir(older)
            for name in os.listdir(srv.data_dir):  # the state, none of the journal
                if name.startswith("webhook-") or name == "operator-token":
                    shutil.copy2(os.path.join(srv.data_dir, name), older)
            srv2 = Server(binary, older, srv.extra_args, workdir=tmp, name="orderd-wh-restored").start()
            ids = create_orders(srv2, "u12", rng, "q", 2)
            wait_until(lambda: len(recv.delivered()) == 6, 10, "the restored node's two deliveries")
            ensure_eq([ev["order_id"] for ev in recv.delivered()[4:]], ids, "the restored node's events")
            ensure(srv2.wait_line(r"webhook .*delivered up to 4.*journal ends at 0", 2) is not None,
                   "no warning logged")
            recv.ensure_clean()
        finally:
            (srv2 or srv).terminate()
            recv.close()


def segments(data_dir):
    return sorted(n for n in os.listdir(data_dir) if n.startswith("journal-") and n.endswith(".wal"))


SMALL_JOURNAL = ("--feed-retention", "0", "--snapshot-bytes", "4096")


def test_pin_keeps_undelivered(binary):
    """--feed-retention 0 and a snapshot every 4 KiB: the segments an endpoint
    that is down has not had are kept for it (its pin), then delivered; once
    it caught up, the next snapshots remove them."""
    rng = random.Random(9)
    port = free_port()
    with TempDir("orderd-wh-") as tmp:
        srv = start(binary, tmp, [f"http://127.0.0.1:{port}/hook"], *SMALL_JOURNAL)
        recv = None
        try:
            first_segment = segments(srv.data_dir)[0]
            ids = create_orders(srv, "u9", rng, "p", 40)
            snaps = [n for n in os.listdir(srv.data_dir) if n.endswith(".snap")]
            ensure(snaps, "no snapshot was taken: the test proves nothing")
            ensure(first_segment in segments(srv.data_dir), f"the undelivered {first_segment} was removed")
            recv = Receiver(port=port)
            wait_until(lambda: len(recv.delivered()) >= len(ids), 15, "every event")
            ensure_eq([ev["order_id"] for ev in recv.delivered()], ids, "delivered in order, none missing")
            wait_until(lambda: admin(srv)[0]["backlog"] == 0, 5, "an empty backlog")
            create_orders(srv, "u9", rng, "q", 40)  # more snapshots, nothing pinned behind them any more
            ensure(first_segment not in segments(srv.data_dir), f"{first_segment} is still kept once delivered")
            recv.ensure_clean()
        finally:
            srv.terminate()
            if recv is not None:
                recv.close()


def test_gone_continues_from_oldest(binary):
    """A stored cursor older than the oldest kept record (the endpoint was
    left out while retention removed segments): logged, last_error, and
    delivery goes on from the oldest kept event, in order."""
    rng = random.Random(10)
    recv = Receiver()
    with TempDir("orderd-wh-") as tmp:
        srv = start(binary, tmp, [recv.url], *SMALL_JOURNAL)
        srv2 = None
        try:
            create_orders(srv, "u10", rng, "g", 2)
            wait_until(lambda: len(recv.delivered()) == 2, 10, "two deliveries")
            ensure_eq(srv.terminate(), 0, "exit status")
            # without the endpoint: nothing pins the journal, retention removes what snapshots cover
            off = Server(binary, srv.data_dir, list(SMALL_JOURNAL), workdir=tmp, name="orderd-wh").start()
            missed = create_orders(off, "u10", rng, "m", 40)
            ensure_eq(off.terminate(), 0, "exit status")
            srv2 = srv.again().start()
            later = create_orders(srv2, "u10", rng, "l", 2)
            wait_until(lambda: later[-1] in {ev["order_id"] for ev in recv.delivered()}, 10, "the newest event")
            got = recv.delivered()[2:]
            check_in_order(got, "after the gap")
            ensure(missed[0] not in {ev["order_id"] for ev in got}, "the removed events came back")
            tail = [ev["order_id"] for ev in got]
            ensure_eq(tail[-2:], later, "the newest events last")
            ensure(srv2.wait_line(r"are no longer kept; continuing from", 2) is not None, "no error logged")
            ensure("no longer kept" in (admin(srv2)[0]["last_error"] or ""), "last_error")
            recv.ensure_clean()
        finally:
            (srv2 or srv).terminate()
            recv.close()


def test_admin_without_webhooks(binary):
    with TempDir("orderd-wh-") as tmp:
        srv = Server(binary, None, [], workdir=tmp, name="orderd-wh").start()
        try:
            ensure_eq(admin(srv), [], "webhooks without --webhook")
            http = srv.http()
            r = http.request("GET", "/api/admin/webhooks")
            ensure_eq(r.status, 401, f"no token: {r!r}")
            ensure_eq(r.headers.get("content-type"), "application/problem+json", "media type")
            r = http.request("GET", "/api/admin/webhooks", headers={"Authorization": "Bearer " + "0" * 64})
            ensure(r.status in (401, 403), f"wrong token: {r!r}")
            r = http.request("POST", "/api/admin/webhooks", body={},
                             headers={"Authorization": f"Bearer {token_of(srv)}"})
            ensure_eq(r.status, 405, f"POST: {r!r}")
            r = http.request("GET", "/api/admin/webhooks/x", headers={"Authorization": f"Bearer {token_of(srv)}"})
            ensure_eq(r.status, 404, f"a path below: {r!r}")
            ensure(not os.path.exists(os.path.join(srv.data_dir, "webhook-secret")),
                   "a secret created without --webhook")
            r = http.request("GET", "/metrics")
            ensure(r.status == 200 and 'route="/api/admin/webhooks"' in r.body.decode(),
                   "/metrics counts the route under its own label")
        finally:
            srv.terminate()


def test_default_secret_created(binary):
    """Without --webhook-secret-file: DATA-DIR/webhook-secret, 0600, signs the requests."""
    rng = random.Random(7)
    with TempDir("orderd-wh-") as tmp:
        port = free_port()
        srv = Server(binary, None, ["--webhook", f"http://127.0.0.1:{port}/hook"], workdir=tmp,
                     name="orderd-wh").start()
        recv = None
        try:
            path = os.path.join(srv.data_dir, "webhook-secret")
            ensure_eq(os.stat(path).st_mode & 0o777, 0o600, "the secret's mode")
            with open(path) as f:
                secret = f.readline().strip()
            ensure_eq(len(secret), 64, "the secret's length")
            recv = Receiver(secret=secret, port=port)
            http = srv.http()
            create(http, "u7", rng, "s")
            wait_until(lambda: len(recv.delivered()) == 1, 10, "a delivery")
            recv.ensure_clean()
        finally:
            srv.terminate()
            if recv is not None:
                recv.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orderd", required=True)
    ap.add_argument("-k", default="", help="run only the tests whose name contains this")
    args = ap.parse_args()
    runner = Runner()
    binary = os.path.abspath(args.orderd)
    if require_executable(runner, binary):
        for fn in (test_retry_500_then_200, test_timeout_and_slow_receiver, test_receiver_down_then_up,
                   test_many_orders_in_order, test_kill9_mid_backlog, test_sigterm_mid_backlog,
                   test_max_age_gives_up, test_damaged_state_file_redelivers, test_state_past_the_journal,
                   test_pin_keeps_undelivered,
                   test_gone_continues_from_oldest, test_admin_without_webhooks, test_default_secret_created):
            if args.k in fn.__name__:
                runner.run(fn.__name__[5:], fn, binary)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
