#!/usr/bin/env python3
"""A feed consumer for bench/feed.sh: follows GET /api/admin/events from
the start with long polls (wait=5, limit=1000) on one keep-alive
connection, parses every page, and on SIGTERM prints
`events=N last_seq=S pages=P` (standard library only).

    bench/feed_consumer.py PORT TOKEN_FILE"""
import http.client
import json
import signal
import sys

port, token_file = int(sys.argv[1]), sys.argv[2]
with open(token_file) as f:
    token = f.read().split("\n")[0]
stats = {"events": 0, "last_seq": 0, "pages": 0}


def report(*_):
    print(" ".join(f"{k}={v}" for k, v in stats.items()), flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, report)
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
after = 0
while True:
    conn.request("GET", f"/api/admin/events?after={after}&limit=1000&wait=5",
                 headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    page = json.loads(r.read())
    if r.status != 200:
        print(f"feed_consumer: HTTP {r.status}: {page}", file=sys.stderr, flush=True)
        sys.exit(1)
    for ev in page["events"]:
        if ev["seq"] <= after:
            print(f"feed_consumer: event {ev['seq']} after {after}", file=sys.stderr, flush=True)
            sys.exit(1)
        after = ev["seq"]
    stats["events"] += len(page["events"])
    after = page["next_after"]
    stats["last_seq"] = after
    stats["pages"] += 1
