"""HTTP/2 frames by hand for the hostile suites: a request's HEADERS (HPACK
literals, never Huffman), CONTINUATION and DATA, and what became of its
stream (an answer with its :status and DATA, a reset, a GOAWAY), read
without an HPACK decoder: :status is the first field h2o encodes, as a
static-table index or three plain digits. Python 3.11 standard library only."""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from orderd_harness import H2_PREFACE, ensure, h2_frame  # noqa: E402


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out, value = bytearray([first | limit]), value - limit
    while value >= 128:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(s):
    return hpack_int(len(s), 7) + s


def hpack_literal(name, value):
    """A literal header field without indexing, its name a literal too (RFC 7541 6.2.2)."""
    return b"\x00" + hpack_str(name) + hpack_str(value)


def h2_block(port, method, path, headers=()):
    block = (b"\x82" if method == "GET" else b"\x83") + b"\x86"  # :method, :scheme http
    if path is not None:
        block += b"\x04" + hpack_str(path.encode())  # :path, indexed name
    block += b"\x01" + hpack_str(f"127.0.0.1:{port}".encode())  # :authority
    return block + b"".join(hpack_literal(n, v) for n, v in headers)


class H2:
    """An h2c connection with prior knowledge on a raw socket."""

    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.sock.sendall(H2_PREFACE + h2_frame(4, 0, 0))

    def close(self):
        self.sock.close()

    def send_request(self, sid, method, path, headers=(), body=None):
        block = h2_block(self.port, method, path, headers)
        frames, first = b"", True
        while first or block:  # HEADERS, then CONTINUATION, 16 KiB each (the default frame size)
            piece, block = block[:16384], block[16384:]
            flags = (0x4 if not block else 0) | (0x1 if first and body is None else 0)
            frames += h2_frame(1 if first else 9, flags, sid, piece)
            first = False
        if body is not None:
            for i in range(0, max(len(body), 1), 16384):
                end = i + 16384 >= len(body)
                frames += h2_frame(0, 0x1 if end else 0, sid, body[i:i + 16384])
        self.sock.sendall(frames)

    def frame(self):
        """The next frame (type, flags, stream, payload); None when the server closed."""
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                return None
            if not chunk:
                return None
            self.buf += chunk
        n = int.from_bytes(self.buf[:3], "big")
        f = (self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF, self.buf[9:9 + n])
        self.buf = self.buf[9 + n:]
        if f[0] == 4 and not f[1] & 0x1:
            self.sock.sendall(h2_frame(4, 0x1, 0))  # SETTINGS ACK
        return f

    def outcome(self, sid):
        """What became of stream sid: ("answer", status, DATA bytes), ("reset", error code),
        ("goaway", error code) or ("closed", None)."""
        data, status = b"", None
        while True:
            f = self.frame()
            if f is None:
                return "closed", None
            ftype, flags, stream, payload = f
            if ftype == 7:
                return "goaway", int.from_bytes(payload[4:8], "big")
            if stream != sid:
                continue
            if ftype == 3:
                return "reset", int.from_bytes(payload[:4], "big")
            if ftype == 1:
                status = h2_status(payload)  # h2o pads nothing and sends no priority
            if ftype == 0:
                data += payload[1:len(payload) - payload[0]] if flags & 0x8 else payload
            if ftype in (0, 1) and flags & 0x1:
                return "answer", status, data


PROTOCOL_ERROR, REFUSED_STREAM = 1, 7
STATIC_STATUS = {0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400, 0x8d: 404, 0x8e: 500}


def h2_status(block):
    """:status, the first field of a response's header block as h2o encodes it: indexed from the
    static table, else a literal with the indexed name :status and a value of three plain digits."""
    if block[:1] and block[0] in STATIC_STATUS:
        return STATIC_STATUS[block[0]]
    ensure(block[:2] == b"\x08\x03" and block[2:5].isdigit(), f"h2: a header block not as h2o writes it: {block!r}")
    return int(block[2:5])


def h2_outcome(port, method, path, headers=(), body=None):
    """One request as stream 1 of a new h2c connection: its outcome (H2.outcome)."""
    c = H2(port)
    try:
        c.send_request(1, method, path, headers, body)
        return c.outcome(1)
    finally:
        c.close()


class Replayed:
    """A socket that has nothing more to give and takes nothing."""

    def recv(self, n):
        return b""

    def sendall(self, data):
        pass
