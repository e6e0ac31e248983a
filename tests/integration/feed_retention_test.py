#!/usr/bin/env python3
"""--feed-retention over HTTP: what the feed keeps across snapshots and
restarts (docs/feed.md, "Retention and 410").

  - the default (1 GiB): with a snapshot every 4 KiB of journal, after
    several snapshots and a restart, every event from the first on is still
    read, each once, in order, every order's versions 1..N with none
    missing and the last one GET's;
  - a duration (--feed-retention 3s): right after the snapshots every event
    is still kept; once the old segments are older than 3 s, the next
    snapshot removes them and reading from the start is 410 with
    oldest_seq, durable_seq and after; the events from oldest_seq on are
    all there.

    python3 tests/integration/feed_retention_test.py --orderd build/orderd

The last line is exactly `N passed, N failed, N skipped` (orderd_harness.py)."""
import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from feed_common import Feed, check_event, check_increasing  # noqa: E402
from orderd_harness import (  # noqa: E402
    Server, TempDir, check_problem, ensure, ensure_eq, expect, new_order, suite_start)


def write(srv, rng, n, users=5, cancel_every=4):
    """n creates (and a cancel of every cancel_every-th); order id -> (user, last version)."""
    http = srv.http()
    out = {}
    try:
        for i in range(n):
            user = f"ret-{i % users}"
            body, _ = new_order(rng, "ret")
            doc = expect(http.create(user, body), 201)
            out[doc["id"]] = (user, doc["version"])
            if i % cancel_every == 0:
                doc = expect(http.cancel(user, doc["id"]), 200)
                out[doc["id"]] = (user, doc["version"])
    finally:
        http.close()
    return out


def segments(srv):
    return sorted(n for n in os.listdir(srv.data_dir) if n.startswith("journal-"))


def snapshots(srv):
    return [n for n in os.listdir(srv.data_dir) if n.startswith("snapshot-") and n.endswith(".snap")]


def check_complete(events, acked):
    check_increasing(events)
    versions = {}
    for ev in events:
        check_event(ev)
        versions.setdefault(ev["order_id"], []).append(ev["version"])
    for oid, (_user, version) in acked.items():
        seen = versions.get(oid, [])
        ensure_eq(seen, list(range(1, version + 1)), f"order {oid}: versions in the feed")
    ensure_eq(sorted(versions), sorted(acked), "the orders the feed names")


def test_default_keeps_everything(workdir, binary):
    rng = random.Random(3)
    srv = Server(binary, None, ["--snapshot-bytes", "4096"], workdir=workdir, threads=1, name="keep").start()
    try:
        acked = write(srv, rng, 120)
        ensure(len(snapshots(srv)) >= 1 and len(segments(srv)) >= 3,
               f"segments {segments(srv)}, snapshots {snapshots(srv)}: no snapshot covered anything")
        srv.terminate()
        srv = srv.again().start()
        acked.update(write(srv, rng, 10))
        feed = Feed(srv)
        events, _ = feed.all_after(0, limit=37)
        ensure_eq(events[0]["seq"], 1, "the first event's seq")
        check_complete(events, acked)
        return f"({len(events)} events across {len(segments(srv))} segments and a restart)"
    finally:
        srv.terminate()


def test_duration(workdir, binary):
    rng = random.Random(4)
    srv = Server(binary, None, ["--snapshot-bytes", "4096", "--feed-retention", "3s"], workdir=workdir, threads=1,
                 name="dur").start()
    try:
        acked = write(srv, rng, 100)
        feed = Feed(srv)
        events, _ = feed.all_after(0)
        ensure_eq(events[0]["seq"], 1, "within 3 s the first events are still kept")
        time.sleep(3.5)
        acked.update(write(srv, rng, 60))  # the next snapshots' clean-up removes the old segments
        r = feed.get("after=0")
        ensure_eq(r.status, 410, f"after=0 once 3 s passed and snapshots ran: {r!r}")
        doc = check_problem(r, 410)
        oldest = doc["oldest_seq"]
        ensure(oldest > 1 and doc["durable_seq"] >= oldest - 1 and doc["after"] == 0, f"the 410: {doc}")
        events, _ = feed.all_after(oldest - 1)
        ensure_eq(events[0]["seq"] if events else None, oldest, "the first event kept")
        check_increasing(events, oldest - 1)
        return f"(oldest kept {oldest} of {doc['durable_seq']})"
    finally:
        srv.terminate()


def main():
    _, runner, binary = suite_start(__doc__)
    if binary is None:
        return runner.finish()
    with TempDir("orderd-feed-retention-") as workdir:
        for fn in (test_default_keeps_everything, test_duration):
            runner.run(fn.__name__[5:], fn, workdir, binary)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
