#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<target>/.

    tests/fuzz/make_seeds.py --orderd build/orderd

A handful of valid and invalid inputs per target: the README's and the
bench's orders, status changes, query strings, header lists; for the journal
targets, the files of real data directories: orderd is run for a moment
(creates with and without Idempotency-Key, cancels, the operator's status
changes, a snapshot forced by --snapshot-bytes 4096), and its segments and
snapshot are written out whole, as records, and in journal_fuzz's chunk
format. The seeds are committed; run this again only to refresh them (ids
and times will differ). libFuzzer's own finds stay in build-fuzz/corpus/.
"""
import argparse
import json
import os
import shutil
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from orderd_harness import Server  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
README_ORDER = {"items": [{"product_id": "123", "quantity": 2, "price": 10.99},
                          {"product_id": "456", "quantity": 1, "price": 19.99}],
                "shipping_address": "123 Main St, Anytown, USA", "payment_method": "credit_card"}
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def order_id_text(v):
    """orderd_id_format: 13 Crockford base-32 digits, the first carrying the top 4 bits."""
    out = []
    for _ in range(13):
        out.append(CROCKFORD[v & 31])
        v >>= 5
    return "".join(reversed(out))


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def lines(*fields):
    """A header list for the header targets: each field is (name index, value)."""
    return b"\n".join(bytes([i]) + (v if isinstance(v, bytes) else v.encode()) for i, v in fields)


def order_text(**fields):
    return json.dumps(dict(README_ORDER, **fields), separators=(",", ":"))


OID = order_id_text(0x0123456789abc)

# The text targets: name -> body or query string ("HOST\nQUERY" names a Host).
TEXT = {
    "create": {
        "readme-order.json": json.dumps(README_ORDER),
        "eur.json": '{"items":[{"product_id":"789","quantity":3,"price":4.5}],"shipping_address":"1 Elm St",'
                    '"payment_method":"paypal","currency":"EUR"}',
        "escaped-unicode.json": '{"items":[{"product_id":"p\\u00e9\\n","quantity":1000000,"price":1.5e1}],'
                                '"shipping_address":"\\ud83d\\ude00 caf\\u00e9","payment_method":"c","x":[1,{"y":null}]}',
        "exponents.json": order_text(items=[{"product_id": "a", "quantity": 1, "price": 0},
                                            {"product_id": "b", "quantity": 2, "price": 1}])
                          .replace(":0}", ":92233720368547.58E0}").replace(":1}", ":0.00e999}"),
        "invalid-fields.json": '{"items":[{"product_id":"","quantity":0,"price":-1},{},1,'
                               '{"product_id":"p","quantity":1.5,"price":1.234}],'
                               '"shipping_address":"","payment_method":7,"currency":"usd","items":[]}',
        "invalid-total.json": order_text(items=[{"product_id": "a", "quantity": 1000000, "price": 92233720368547.58}]),
        "not-an-object.json": "[1,2,3]",
        "syntax.json": '{"items":[{"product_id":"a",}',
        "too-deep.json": "[" * 40,
        "empty": "",
    },
    # the operations after checkout: the first byte picks the operation
    # (% 5: edit, cancel, ship, return, refund) and the order's state
    # (/ 5 % 4: pending, processing, delivered, cancelled)
    "ops": {
        "edit-pending.json": "\x00" + '{"operations":[{"op":"add_item","product_id":"p","quantity":2,"price":1.5},'
                             '{"op":"set_quantity","line_id":"l1","quantity":5},{"remove_item":{"line_id":"l2"}},'
                             '{"type":"set_shipping_address","shipping_address":"9 Rd"}]}',
        "edit-broken.json": "\x00" + '{"operations":[{"op":"add_item","quantity":0,"price":-1},{"op":"x"},7,'
                            '{"op":"remove_item","line_id":"l0"}]}',
        "cancel-lines.json": "\x01" + '{"lines":[{"line_id":"l1","quantity":2},{"line_id":"l2"}]}',
        "cancel-processing.json": "\x06" + '{"lines":[{"line_id":"l1"}]}',
        "ship.json": "\x07" + '{"lines":[{"line_id":"l1","quantity":1}],"carrier":"UPS","tracking_number":"1Z",'
                     '"tracking_url":"https://t.example/1Z"}',
        "ship-all.json": "\x07" + '{"carrier":null}',
        "return.json": "\x0d" + '{"lines":[{"line_id":"l1","quantity":1}],"reason":"too small"}',
        "refund-amount.json": "\x0e" + '{"amount":12.5}',
        "refund-lines.json": "\x0e" + '{"lines":[{"line_id":"l2","quantity":1}]}',
        "refund-both.json": "\x0e" + '{"lines":[],"amount":1}',
        "too-deep.json": "\x00" + "[" * 40,
    },
    "status": {
        "processing.json": '{"status":"processing"}',
        "shipped-more.json": '{"note":"x","status":"shipped","y":[1,{"status":"z"}]}',
        "escaped.json": '{"status":"deliv\\u0065red"}',
        "duplicate.json": '{"status":"shipped","status":"delivered"}',
        "not-a-string.json": '{"status":{"name":"shipped"}}',
        "unknown.json": '{"status":"lost"}',
        "top-array.json": '["status","shipped"]',
        "syntax.json": '{"status":',
        "deep.json": '{"status":"shipped","x":' + "[" * 40 + "]" * 40 + "}",
    },
    "query": {
        "limit-offset": "limit=10&offset=20",
        "status-list": "status=pending,shipped&limit=1",
        "after": f"after={OID}&limit=2",
        "before-host": f"example.com:8443\nbefore={OID}&status=cancelled",
        "ipv6-host": "[::1]:8080\noffset=3&limit=100",
        "percent": "%6cimit=5&st%61tus=deli%76ered&&offset=1",
        "plus-and-empty": "limit=+1&offset=",
        "broken-percent": "limit=%4",
        "unknown": "sort=asc",
        "repeated": "limit=1&limit=2",
        "combined": f"offset=1&after={OID}",
        "empty": "",
        "operator-filters": "user_id=alice%40shop&product_id=sku%201%2F%C3%A9&status=pending&limit=3&offset=2",
        "operator-times": f"created_after=2026-12-01T11:00:00.1234+01:00&created_before=2026-12-02T00:00:00Z"
                          f"&after={OID}",
        "operator-bad-time": "created_before=2026-02-30T00:00:00Z",
    },
}

# The header targets: name -> header fields (index into the target's names[], value).
HEADERS = {
    "user_id": {
        "alice": [(0, "alice")],
        "all-characters": [(0, "A-Za-z0-9._:@-" * 4)],
        "twice": [(0, "alice"), (1, "bob")],
        "bad-character": [(0, "al ice"), (3, "Bearer x")],
        "too-long": [(0, "u" * 65)],
        "empty": [(0, "")],
    },
    "bearer": {
        "token": [(0, "Bearer 0123456789abcdef0123456789abcdef")],
        "case-and-spaces": [(0, "bEaReR    tok")],
        "basic": [(0, "Basic dXNlcjpwYXNz")],
        "twice": [(0, "Bearer a"), (1, "Bearer b")],
        "no-token": [(0, "Bearer "), (3, "Bearer x")],
        "no-space": [(0, "Bearer\tx")],
    },
    "idem_key": {
        "key": [(0, "9f8b3c1e-5d2a-4c7b-8e1f-0a2b3c4d5e6f")],
        "printable": [(0, " !~" * 85)],
        "twice": [(0, "a"), (1, "b")],
        "control": [(0, b"a\x01b"), (3, "alice")],
        "too-long": [(0, "k" * 256)],
        "none": [(3, "alice")],
    },
}


def text_and_header_seeds():
    with open(os.path.join(HERE, "..", "..", "bench", "order.json"), "rb") as f:
        write("create", "bench-order.json", f.read())
    for target, seeds in TEXT.items():
        for name, text in seeds.items():
            write(target, name, text)
    for target, seeds in HEADERS.items():
        for name, fields in seeds.items():
            write(target, name, lines(*fields))
    # conditional: [id selector][version, u16 LE] then the header fields
    ids = [0, 1, 0x0123456789abcdef, 2**64 - 1]
    for sel, version in ((0, 1), (2, 3), (3, 65535), (1, 258)):
        tag = f'"{order_id_text(ids[sel])}-{version}"'
        head = bytes([sel, version & 255, version >> 8])
        write("conditional", f"if-match-{sel}-{version}", head + lines((0, tag)))
        write("conditional", f"if-none-match-{sel}-{version}", head + lines((1, f'W/{tag}, "x"')))
        write("conditional", f"lists-{sel}-{version}",
              head + lines((0, f'"zzz", {tag[:-2]}7", W/{tag},  {tag}'), (2, "*"), (3, f'"a", {tag}')))
    write("conditional", "star", bytes([0, 1, 0]) + lines((0, "*"), (1, "*")))
    write("conditional", "junk", bytes([1, 0, 0]) + lines((0, ",,, ,\t"), (1, "W/"), (0, '"-1"')))


def money_seeds():
    texts = ["10.99", "0", "-0", "1.5e1", "2E-0", "1.500", "92233720368547758.07", "92233720368547758.08",
             "1.234", "-1", "01", "1.", ".5", "+1", "1e400", "1e-400", "0.0000000000000000000001e22", "4.50",
             "9223372036854775807e-2", "1e99999999999999999999"]
    for i, t in enumerate(texts):
        for frac in (0, 2, 4):
            data = bytes([frac]) + t.encode()
            write("money", f"{i:02d}-{frac}", data)
            write("money_diff", f"{i:02d}-{frac}", data)


def records(path):
    """The bytes of a journal or snapshot file up to the end of its last record, and its (type, seq, payload)."""
    with open(path, "rb") as f:
        data = f.read()
    out, at = [], 32
    while at + 20 <= len(data):
        n, _crc, rtype = struct.unpack_from("<IIB", data, at)
        seq, = struct.unpack_from("<Q", data, at + 12)
        if n == 0 and rtype == 0:
            break  # the zeros written ahead
        out.append((rtype, seq, data[at + 20:at + 20 + n]))
        at += 20 + n
    return data[:at], out


KINDS = {1: 0, 2: 1, 3: 2, 16: 3, 17: 4, 18: 5, 19: 6}


def chunk(file_index, t, p):
    """One record for journal_fuzz: a kind of KINDS, else kind 7 with the type as the payload's first byte."""
    if t in KINDS:
        return bytes([file_index | KINDS[t] << 2]) + struct.pack("<H", len(p)) + p
    return bytes([file_index | 7 << 2]) + struct.pack("<H", len(p) + 1) + bytes([t]) + p


def chunks(file_index, recs):
    return b"".join(chunk(file_index, t, p) for t, _s, p in recs)


def run_server(orderd, data_dir, snapshot, orders):
    args = ["--snapshot-bytes", "4096"] if snapshot else []
    srv = Server(orderd, data_dir, args).start()
    try:
        h = srv.http()
        with open(os.path.join(data_dir, "operator-token")) as f:
            op = {"Authorization": f"Bearer {f.read().strip()}"}
        ids = []
        for i in range(orders):
            body = dict(README_ORDER, payment_method=f"card-{i}")
            r = h.create(f"user-{i % 3}", body, key=f"key-{i}" if i % 2 == 0 else None)
            assert r.status == 201, r
            ids.append((f"user-{i % 3}", r.json()["id"]))
            if i == 3:  # changes early, so a later snapshot holds their history
                for user, oid in ids[:2]:
                    assert h.cancel(user, oid).status == 200
                for _user, oid in ids[2:4]:
                    for st in ("processing", "shipped", "delivered"):
                        r = h.request("POST", f"/api/orders/{oid}/status", None, {"status": st}, op)
                        assert r.status == 200, r
        h.close()
    finally:
        srv.terminate()


def journal_seeds(orderd):
    work = tempfile.mkdtemp(prefix="orderd-seeds-")
    try:
        small, snap = os.path.join(work, "small"), os.path.join(work, "snap")
        run_server(orderd, small, False, 4)
        run_server(orderd, snap, True, 24)
        seg_small = os.path.join(small, sorted(n for n in os.listdir(small) if n.endswith(".wal"))[0])
        raw_small, recs_small = records(seg_small)
        snaps = sorted(n for n in os.listdir(snap) if n.endswith(".snap"))
        segs = sorted(n for n in os.listdir(snap) if n.endswith(".wal"))
        assert snaps and segs, (snaps, segs)
        raw_snap, recs_snap = records(os.path.join(snap, snaps[-1]))
        raw_seg, recs_seg = records(os.path.join(snap, segs[-1]))
        snap_seq = int(snaps[-1][len("snapshot-"):-len(".snap")], 16)
        assert snap_seq < 256, snap_seq

        # record_fuzz: each kind of payload as [type][flags][payload], and whole files
        seen = set()
        for t, _s, p in recs_small + recs_snap + recs_seg:
            if t not in seen:
                seen.add(t)
                write("record", f"type-{t}", bytes([t, 0]) + p)
                write("record", f"type-{t}-misaligned", bytes([t, 1]) + p)
        write("record", "segment", raw_small)
        write("record", "snapshot", raw_snap)

        # journal_fuzz, structured: one segment; a snapshot and the segment after it; two segments
        write("journal", "segment", bytes([0, 0, 3, 1]) + chunks(1, recs_small))
        write("journal", "snapshot-and-segment",
              bytes([1, snap_seq, 3, 1]) + chunks(0, recs_snap) + chunks(1, recs_seg))
        half = len(recs_small) // 2
        write("journal", "two-segments", bytes([2, 0, 3, 1]) + chunks(1, recs_small[:half]) +
              chunks(2, recs_small[half:]))
        # a torn tail (unframed bytes), damage followed by valid records, zeros ahead, a gap
        write("journal", "torn-tail", bytes([0, 0, 3, 1]) + chunks(1, recs_small) + bytes([1 | 1 << 5, 5, 0]) +
              b"\x40\0\0\0\1")
        t, _s, p = recs_small[0]
        write("journal", "damaged-middle", bytes([0, 0, 3, 1]) + bytes([1 | KINDS[t] << 2 | 3 << 5]) +
              struct.pack("<H", len(p)) + p + chunks(1, recs_small[1:]))
        write("journal", "zeros-ahead", bytes([0, 0, 3, 1, 1 | KINDS[t] << 2 | 0x80]) + struct.pack("<H", len(p)) + p)
        write("journal", "missing-record", bytes([0, 0, 5, 1]) + chunks(1, recs_small))
        write("journal", "snapshot-auto-end", bytes([1, 7, 3, 1]) + bytes([0 | KINDS[16] << 2]) +
              struct.pack("<H", len(recs_snap[0][2])) + recs_snap[0][2] + bytes([0 | KINDS[17] << 2, 0, 0]))
        # raw: the files as they are
        write("journal", "raw-segment", bytes([0x80]) + raw_small)
        assert len(raw_snap) < 65536
        write("journal", "raw-snapshot-and-segment", bytes([0x81]) + struct.pack("<H", len(raw_snap)) + raw_snap +
              raw_seg)
    finally:
        shutil.rmtree(work)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orderd", required=True, help="the server binary, for the journal seeds")
    args = ap.parse_args()
    text_and_header_seeds()
    money_seeds()
    journal_seeds(args.orderd)
    for t in sorted(os.listdir(CORPUS)):
        print(f"{t}: {len(os.listdir(os.path.join(CORPUS, t)))} seeds")


if __name__ == "__main__":
    main()
