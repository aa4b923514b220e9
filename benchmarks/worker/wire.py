"""Hand-encoded Echo messages for the raw floors and the load clients.

The floors send pre-encoded bytes and check each reply by length, so their cost is
the socket round trip alone. Encoding by hand (no ``thrift`` import) lets this module
run in every peer's virtualenv. The first reply of every connection is compared byte
for byte with :func:`reply_bytes`, so a wrong encoding fails loudly instead of
measuring something else.
"""

from __future__ import annotations

import socket
import struct

CALL, REPLY = 1, 2
SEQID = 1
# op -> method: ``echo`` sends binary, ``text`` a string (for clients that cannot
# send ``binary``: aiothrift writes thriftpy2's internal type id for it).
METHODS = {"ping": "ping", "echo": "echo_bytes", "text": "echo"}
PROTOCOL_IDS = {"binary": 0, "compact": 2}


def payload(size: int, op: str = "echo") -> bytes:
    """The argument of an echo: ``size`` bytes, every byte value for ``echo``,
    ASCII letters for ``text``."""
    alphabet = bytes(range(65, 91)) + bytes(range(97, 123)) if op == "text" else bytes(range(256))
    return (alphabet * (size // len(alphabet) + 1))[:size]


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _message(protocol: str, name: str, mtype: int, data: bytes | None) -> bytes:
    raw = name.encode()
    if protocol == "binary":
        head = struct.pack("!Ii", 0x80010000 | mtype, len(raw)) + raw + struct.pack("!i", SEQID)
        if data is None:
            return head + b"\x00"
        field_id = 1 if mtype == CALL else 0
        return head + struct.pack("!bhI", 11, field_id, len(data)) + data + b"\x00"
    if protocol == "compact":
        head = bytes([0x82, (mtype << 5) | 1]) + _varint(SEQID) + _varint(len(raw)) + raw
        if data is None:
            return head + b"\x00"
        # Arguments start at field 1 (short form); a result's field 0 needs the long
        # form (type byte, then the zigzag field id), as Apache's encoder writes it.
        field = b"\x18" if mtype == CALL else b"\x08\x00"
        return head + field + _varint(len(data)) + data + b"\x00"
    raise ValueError(f"unknown protocol {protocol!r}")


def _frame(transport: str, protocol: str, message: bytes) -> bytes:
    if transport == "buffered":
        return message
    if transport == "framed":
        return struct.pack("!I", len(message)) + message
    if transport == "header":
        # THeader: magic, flags, sequence, header size in 4-byte words, then the
        # sub-protocol id and zero transforms, padded to a word.
        info = bytes([PROTOCOL_IDS[protocol], 0, 0, 0])
        rest = struct.pack("!HHIH", 0x0FFF, 0, SEQID, len(info) // 4) + info + message
        return struct.pack("!I", len(rest)) + rest
    raise ValueError(f"unknown transport {transport!r}")


def request_bytes(op: str, size: int, protocol: str, transport: str) -> bytes:
    """One whole request of ``op`` (``ping``, ``echo`` or ``text``) as it goes on the wire."""
    data = None if op == "ping" else payload(size, op)
    return _frame(transport, protocol, _message(protocol, METHODS[op], CALL, data))


def reply_bytes(op: str, size: int, protocol: str, transport: str) -> bytes:
    """The reply a correct server sends to :func:`request_bytes`."""
    data = None if op == "ping" else payload(size, op)
    return _frame(transport, protocol, _message(protocol, METHODS[op], REPLY, data))


class RawExchange:
    """Pre-encoded request out, a reply of known length in, on one socket."""

    def __init__(self, sock: socket.socket, request: bytes, reply: bytes) -> None:
        self.sock = sock
        self.request = request
        self.reply = reply
        self._buffer = bytearray(len(reply))
        self._view = memoryview(self._buffer)
        self._checked = False

    def call(self) -> None:
        """One round trip; the first one checks the reply's bytes."""
        self.sock.sendall(self.request)
        view, recv_into, want = self._view, self.sock.recv_into, len(self._buffer)
        got = 0
        while got < want:
            n = recv_into(view[got:])
            if not n:
                raise ConnectionError("server closed the connection")
            got += n
        if not self._checked:
            if bytes(self._buffer) != self.reply:
                raise AssertionError(
                    f"unexpected reply {bytes(self._buffer[:64])!r}..., "
                    f"expected {self.reply[:64]!r}..."
                )
            self._checked = True


def connect(port: int, timeout: float | None = 10.0) -> socket.socket:
    """A TCP_NODELAY connection to 127.0.0.1:``port``."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
