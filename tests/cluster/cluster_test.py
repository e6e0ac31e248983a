#!/usr/bin/env python3
"""Three orderd nodes behind HAProxy, partitioned by user: Debian's haproxy
runs docs/deploy/haproxy.cfg (balance hdr(X-User-Id), hash-type consistent,
health checks on /readyz) with only its ports filled in (its TLS line and,
when not root, its chroot/user/group lines taken out), in front of three
orderd on loopback (--node-id 0, 1, 2, each its own data directory,
--http2 off --trusted-proxy 127.0.0.1, as the file's header says).

Checked: the acceptance flow through HAProxy (create, get, list, edit,
cancel) over HTTP/1.1 and h2c; each user's orders live on exactly one node,
asked directly, and their ids carry that node's --node-id; after kill -9 of
one node only its users get errors (503: HAProxy keeps them on their node,
it never moves them to another, whose checks in backend orderd_health say
down) while the others are served, creates included; restarted on its data
directory, every change acknowledged before the kill is there, on that node
only, and no order of its users was made anywhere else meanwhile. A
consumer follows the three nodes' event feeds (GET /api/admin/events with
each node's operator token) before the kill and, from the sequence it kept,
after the restart: it sees every acknowledged change exactly once, each
node's sequence numbers increasing, and each order's versions in order
with none missing.

    python3 tests/cluster/cluster_test.py --orderd build/orderd [--sanitized]

Every test is a visible SKIP where haproxy is not installed (.ci/deps
installs Debian's). The last line is exactly `N passed, N failed, N skipped`."""
import os
import random
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))

from orderd_harness import (  # noqa: E402
    Client, Http, Server, SkipTest, TempDir, TestFailure, ensure, ensure_eq, expect, new_order)
from nesting_test import suite_args  # noqa: E402
from haproxy_test import CONFIG, HAProxy, drop_root_lines, find_haproxy, free_port, replace_line  # noqa: E402

NODES = 3
USERS = 48         # spread over the three nodes by HAProxy's hash
KILLED = 1         # the node killed and restarted
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
ID_NODE_SHIFT, ID_NODE_MASK = 18, 15  # store.h: 12 shard bits, 6 counter bits, then 4 node bits


def id_node(text):
    """The --node-id an order id was made with (orderd_id_node)."""
    v = 0
    for ch in text:
        v = v * 32 + CROCKFORD.index(ch)
    return (v >> ID_NODE_SHIFT) & ID_NODE_MASK


def node_server(binary, workdir, node, port, data_dir=None):
    """orderd --node-id `node` on the fixed port HAProxy's server line names."""
    srv = Server(binary, data_dir, ["--node-id", str(node), "--http2", "off", "--trusted-proxy", "127.0.0.1"],
                 workdir=workdir, threads=1, name=f"node{node}")
    srv.argv[srv.argv.index("127.0.0.1:0")] = f"127.0.0.1:{port}"
    return srv


def cluster_config(workdir, front, ports):
    """docs/deploy/haproxy.cfg with the test's front end port and the nodes' ports."""
    with open(CONFIG) as f:
        lines = f.read().split("\n")
    replace_line(lines, "bind :443 ssl crt /etc/haproxy/certs/orderd.pem alpn h2,http/1.1", None)
    replace_line(lines, "bind :80", f"bind 127.0.0.1:{front}")
    for n, port in enumerate(ports, 1):
        replace_line(lines, f"server orderd{n} 127.0.0.1:{8079 + n} maxconn 200",
                     f"server orderd{n} 127.0.0.1:{port} maxconn 200")
        replace_line(lines, f"server orderd{n} 127.0.0.1:{8079 + n}", f"server orderd{n} 127.0.0.1:{port}")  # health
    drop_root_lines(lines)
    path = os.path.join(workdir, "haproxy.cfg")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


class Ctx:
    def __init__(self, workdir, binary):
        self.workdir, self.binary = workdir, binary
        self.haproxy = find_haproxy()
        self.ports = [free_port() for _ in range(NODES)]
        self.nodes = [node_server(binary, workdir, i, self.ports[i]) for i in range(NODES)]
        self.proc = None
        self.users = [f"cluster-user-{i:02d}" for i in range(USERS)]
        self.home = {}    # user -> the node that holds their orders
        self.acked = {}   # order id -> (user, status, version, shipping_address) as last acknowledged
        self.versions = {}  # order id -> every version a change of it was acknowledged with
        self.feed = FeedConsumer(NODES)
        self.rng = random.Random(14)

    def start(self):
        if self.haproxy is None:
            raise SkipTest("haproxy is not installed (.ci/deps installs Debian's haproxy)")
        for n in self.nodes:
            n.start()
        self.front = free_port()
        proxy = HAProxy(self.haproxy, self.workdir)
        try:
            proxy.start(cluster_config(self.workdir, self.front, self.ports), self.front)
        finally:
            self.proc = proxy
        return f"(nodes on {self.ports}, haproxy on {self.front})"

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
        for n in self.nodes:
            n.kill9()

    def ack(self, user, doc):
        self.acked[doc["id"]] = (user, doc["status"], doc["version"], doc["shipping_address"])
        self.versions.setdefault(doc["id"], set()).add(doc["version"])

    def direct_totals(self, user):
        """The user's order count on each node, asked directly (None: the node is down)."""
        out = []
        for n in self.nodes:
            if not n.alive():
                out.append(None)
                continue
            http = n.http()
            try:
                out.append(http.total(user))
            finally:
                http.close()
        return out


class FeedConsumer:
    """Follows every node's event feed, keeping per node the sequence to
    resume after (as a consumer stores it) and every event it saw."""

    def __init__(self, nodes):
        self.after = [0] * nodes
        self.events = {}  # (node, seq) -> event
        self.per_order = {}  # order id -> [version, ...] in the order the feed gave them

    def follow(self, node_index, server):
        """Reads node `node_index`'s feed from the kept sequence to its durable end."""
        with open(os.path.join(server.data_dir, "operator-token")) as f:
            token = f.read().split("\n")[0]
        http = server.http()
        try:
            pages = 0
            while True:
                r = http.request("GET", f"/api/admin/events?after={self.after[node_index]}&limit=500", None, None,
                                 {"Authorization": f"Bearer {token}"})
                page = expect(r, 200)
                for ev in page["events"]:
                    ensure_eq(ev["node"], node_index, f"event {ev['id']}: its node")
                    ensure(ev["seq"] > self.after[node_index],
                           f"node {node_index}: event {ev['seq']} after {self.after[node_index]} (a duplicate or "
                           "going back)")
                    ensure((node_index, ev["seq"]) not in self.events, f"event {ev['id']} seen twice")
                    self.events[(node_index, ev["seq"])] = ev
                    self.after[node_index] = ev["seq"]
                    self.per_order.setdefault(ev["order_id"], []).append(ev["version"])
                    ensure_eq(ev["order"]["version"], ev["version"], f"event {ev['id']}: the order after it")
                ensure(page["next_after"] >= self.after[node_index], "next_after went back")
                self.after[node_index] = page["next_after"]
                pages += 1
                if not page["events"]:
                    return pages
        finally:
            http.close()


def need_cluster(ctx):
    if ctx.haproxy is None:
        raise SkipTest("haproxy is not installed (.ci/deps installs Debian's haproxy)")
    if ctx.proc is None or ctx.proc.proc is None:
        raise SkipTest("the cluster did not start (see started)")


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------

def test_flow_http1(ctx):
    """create, get, list, edit, cancel through HAProxy over HTTP/1.1."""
    need_cluster(ctx)
    http, user = Http(ctx.front), "flow-h1"
    try:
        ids = []
        for _ in range(2):
            body, _ = new_order(ctx.rng, "flow")
            doc = expect(http.create(user, body), 201)
            ctx.ack(user, doc)
            ids.append(doc["id"])
        ensure_eq(expect(http.get(user, ids[0]), 200)["id"], ids[0], "the order read back")
        listed = expect(http.request("GET", "/api/orders", user), 200)
        ensure_eq(sorted(o["id"] for o in listed["orders"]), sorted(ids), "the list")
        doc = expect(http.request("POST", f"/api/orders/{ids[0]}/edit", user,
                                  {"operations": [{"op": "set_shipping_address", "shipping_address": "9 Edit St"}]}),
                     200)
        ensure_eq(doc["shipping_address"], "9 Edit St", "the edited address")
        ctx.ack(user, doc)
        doc = expect(http.cancel(user, ids[1]), 200)
        ensure_eq(doc["status"], "cancelled", "the cancelled order's status")
        ctx.ack(user, doc)
        return ""
    finally:
        http.close()


def test_flow_h2c(ctx):
    """The same over h2c (prior knowledge) to HAProxy's cleartext front end."""
    need_cluster(ctx)
    c, user = Client(f"http://127.0.0.1:{ctx.front}", "h2c", ctx.workdir), "flow-h2c"

    def call(method, path, body=None):
        r = c.request(method, path, user=user, body=body)
        ensure_eq(r.http_version, "2", f"{method} {path}: HTTP version")
        return r

    ids = []
    for _ in range(2):
        body, _ = new_order(ctx.rng, "flow")
        doc = expect(call("POST", "/api/orders", body), 201)
        ctx.ack(user, doc)
        ids.append(doc["id"])
    ensure_eq(expect(call("GET", f"/api/orders/{ids[0]}"), 200)["id"], ids[0], "h2c: the order read back")
    listed = expect(call("GET", "/api/orders"), 200)
    ensure_eq(sorted(o["id"] for o in listed["orders"]), sorted(ids), "h2c: the list")
    doc = expect(call("POST", f"/api/orders/{ids[0]}/edit",
                      '{"operations":[{"op":"set_shipping_address","shipping_address":"2 Side St"}]}'), 200)
    ensure_eq(doc["shipping_address"], "2 Side St", "h2c: the edited address")
    ctx.ack(user, doc)
    doc = expect(call("POST", f"/api/orders/{ids[1]}/cancel"), 200)
    ctx.ack(user, doc)
    return ""


def test_users_partitioned(ctx):
    """Orders of many users through HAProxy; asked directly, each user's are
    on exactly one node, and their ids carry its --node-id."""
    need_cluster(ctx)
    http = Http(ctx.front)
    try:
        for user in ctx.users:
            for _ in range(2):
                body, _ = new_order(ctx.rng, "part")
                ctx.ack(user, expect(http.create(user, body), 201))
    finally:
        http.close()
    for user in ctx.users + ["flow-h1", "flow-h2c"]:
        totals = ctx.direct_totals(user)
        holders = [i for i, t in enumerate(totals) if t]
        ensure(len(holders) == 1, f"{user}: orders on nodes {holders} (totals {totals}), want exactly one")
        ctx.home[user] = holders[0]
        ensure_eq(totals[holders[0]], 2, f"{user}: orders on node {holders[0]}")
    for oid, (user, *_rest) in ctx.acked.items():
        ensure_eq(id_node(oid), ctx.home[user], f"order {oid} of {user}: the node in its id")
    per_node = [sum(1 for u in ctx.users if ctx.home[u] == i) for i in range(NODES)]
    ensure(all(per_node), f"users per node {per_node}: a node got none")
    return f"(users per node {per_node})"


def served_while_down(ctx, phase):
    """Every user's first order through HAProxy: the killed node's users get
    no 200, the others are served and can create."""
    http = Http(ctx.front)
    errors = {}
    try:
        for user in ctx.users:
            oid = next(o for o, v in ctx.acked.items() if v[0] == user)
            r = http.get(user, oid)
            if ctx.home[user] == KILLED:
                ensure_eq(r.status, 503, f"{phase}: {user} of the killed node, order {oid}")
                errors[r.status] = errors.get(r.status, 0) + 1
            else:
                ensure_eq(expect(r, 200)["id"], oid, f"{phase}: {user}'s order")
        for user in [u for u in ctx.users if ctx.home[u] != KILLED][:6]:
            body, _ = new_order(ctx.rng, "down")
            ctx.ack(user, expect(http.create(user, body), 201))
        # a create of the killed node's user lands nowhere: no other node takes the user
        user = next(u for u in ctx.users if ctx.home[u] == KILLED)
        body, _ = new_order(ctx.rng, "lost")
        ensure_eq(http.create(user, body).status, 503, f"{phase}: a create of {user}, whose node is down")
    finally:
        http.close()
    return errors


def test_kill9_only_its_users_fail(ctx):
    need_cluster(ctx)
    ensure(any(ctx.home[u] == KILLED for u in ctx.users), "no user on the node to kill")
    ctx.nodes[KILLED].kill9()
    at_once = served_while_down(ctx, "at once")
    time.sleep(2.5)  # HAProxy's checks: inter 1s, fall 2 -> marked down
    marked = served_while_down(ctx, "marked down")
    return f"(its users' statuses: at once {at_once}, once marked down {marked})"


def test_restart_loses_nothing(ctx):
    need_cluster(ctx)
    old = ctx.nodes[KILLED]
    ctx.nodes[KILLED] = node_server(ctx.binary, ctx.workdir, KILLED, ctx.ports[KILLED], old.data_dir).start()
    http = Http(ctx.front)
    try:
        user = next(u for u in ctx.users if ctx.home[u] == KILLED)
        oid = next(o for o, v in ctx.acked.items() if v[0] == user)
        deadline = time.monotonic() + 10
        while http.get(user, oid).status != 200:  # HAProxy's checks: rise 1
            ensure(time.monotonic() < deadline, f"{user}: no 200 through haproxy 10 s after the restart")
            time.sleep(0.2)
        for oid, (user, status, version, address) in ctx.acked.items():
            doc = expect(http.get(user, oid), 200)
            ensure_eq((doc["status"], doc["version"], doc["shipping_address"]), (status, version, address),
                      f"order {oid} of {user} after the restart")
    finally:
        http.close()
    for user in ctx.users:
        totals = ctx.direct_totals(user)
        want = sum(1 for v in ctx.acked.values() if v[0] == user)
        ensure_eq(totals, [want if i == ctx.home[user] else 0 for i in range(NODES)],
                  f"{user}: orders on each node after the restart")
    return f"({len(ctx.acked)} acknowledged orders, all there)"


def test_feeds_before_the_kill(ctx):
    """A consumer reads every node's feed to its end, keeping where it is."""
    need_cluster(ctx)
    for i, n in enumerate(ctx.nodes):
        ctx.feed.follow(i, n)
    return f"({len(ctx.feed.events)} events, resuming after {ctx.feed.after})"


def test_feeds_every_change_once(ctx):
    """After the kill and restart, the consumer resumes from what it kept:
    every acknowledged change exactly once, per order in version order."""
    need_cluster(ctx)
    for i, n in enumerate(ctx.nodes):
        ctx.feed.follow(i, n)
    for oid, versions in ctx.versions.items():
        seen = ctx.feed.per_order.get(oid, [])
        ensure_eq(seen, list(range(1, len(seen) + 1)), f"order {oid}: versions in its events, in feed order")
        ensure(versions <= set(seen), f"order {oid}: acknowledged versions {sorted(versions)}, events {seen}")
        ensure_eq(seen[-1], ctx.acked[oid][2], f"order {oid}: its last event's version")
        node = id_node(oid)
        ensure(all(k[0] == node for k, ev in ctx.feed.events.items() if ev["order_id"] == oid),
               f"order {oid}: events on a node other than {node}")
    unknown = sorted(o for o in ctx.feed.per_order if o not in ctx.versions)
    ensure(not unknown, f"events of orders never acknowledged (a create answered 503?): {unknown[:5]}")
    return f"({len(ctx.feed.events)} events of {len(ctx.versions)} orders, each once)"


def main():
    _, runner, binary = suite_args(__doc__)
    if binary is None:
        return runner.finish()
    with TempDir("orderd-cluster-") as workdir:
        ctx = Ctx(workdir, binary)
        try:
            runner.run("started", ctx.start)
            for fn in (test_flow_http1, test_flow_h2c, test_users_partitioned, test_feeds_before_the_kill,
                       test_kill9_only_its_users_fail, test_restart_loses_nothing, test_feeds_every_change_once):
                runner.run(fn.__name__[5:], fn, ctx)
        except TestFailure as e:
            runner.fail("cluster fixture", str(e))
        finally:
            ctx.stop()
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
