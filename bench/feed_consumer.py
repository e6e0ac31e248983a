#!/usr/bin/env python3
"""A feed consumer for bench/feed.sh: follows GET /api/admin/events from
the start with long polls (wait=5, limit=1000) on one keep-alive
connection, parses every page, and after each page rewrites line 1 of OUT with
`events=N last_seq=S pages=P` (standard library only).

    bench/feed_consumer.py PORT TOKEN_FILE OUT"""
import http.client
import json
import sys

port, token_file, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(token_file) as f:
    token = f.read().split("\n")[0]
stats = {"events": 0, "last_seq": 0, "pages": 0}




def report():
    with open(out, "w") as f:
        f.write(" ".join(f"{k}={v}" for k, v in stats.items()) + "\n")


report()
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
    report()
