"""One client socket as a Thrift transport.

:class:`Channel` is a Thrift transport over a connected socket with three framings:
unframed ("buffered"), framed, and THeader (wire-compatible with Apache's
``THeaderTransport``, but one ``send`` per request, one ``recv`` per typical
response and no per-call allocation of Python-level framing objects). It is the
single place where socket errors become :mod:`thriftbuild.errors` exceptions, and
it records whether any byte of the current request reached the socket, which is
what decides whether a failed call may be retried safely. The protocols spoken over
it live in :mod:`thriftbuild._protocol`.
"""

from __future__ import annotations

import _socket
import select
import socket
import struct
import time
import zlib
from io import BytesIO
from typing import Any

from thrift.transport.TTransport import (
    CReadableTransport,
    TTransportBase,
    TTransportException,
)

from thriftbuild.errors import CallTimeoutError, ConnectionLostError, ThriftClientError

UNFRAMED = 0
FRAMED = 1
HEADER = 2

HEADER_BINARY = 0x00
HEADER_COMPACT = 0x02

_I32 = struct.Struct("!i")
_U32x2 = struct.Struct("!II")
_HEADER_MAGIC = 0x0FFF
_HEADER_FIXED = struct.Struct("!iHHiH")  # length, magic, flags, seqid, header words
_DEADLINE_BUDGET = b"Deadline-Budget"
_budget_blocks: dict[tuple[int, int], bytes] = {}
_TIMEVAL = struct.Struct("@ll")
_ZLIB = 0x01
_KEY_VALUE = 0x01
_RECV_CHUNK = 65536
_MAX_FRAME = 16_384_000  # same default limit as Apache's framed and header transports
_BINARY_VERSION_1 = 0x80010000
# How far the socket timeout may lag behind the call's remaining time before it is
# set again; saves a syscall per call on the fast path while still never letting an
# operation outlive the call's deadline.
_TIMEOUT_SLACK = 0.005


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while True:
        if value & ~0x7F == 0:
            out.append(value)
            return bytes(out)
        out.append((value & 0x7F) | 0x80)
        value >>= 7


def _as_timeout(exc: OSError) -> TimeoutError:
    if isinstance(exc, TimeoutError):
        return exc
    # A kernel socket timeout (SO_RCVTIMEO) surfaces as EAGAIN; say what it means.
    return TimeoutError(exc.errno, "timed out (socket timeout expired)")


def _budget_block(protocol_id: int, budget_ms: int) -> bytes:
    """The THeader header block carrying only a Deadline-Budget header (cached)."""
    key = (protocol_id, budget_ms)
    block = _budget_blocks.get(key)
    if block is None:
        value = str(budget_ms).encode()
        raw = bytearray(_varint(protocol_id) + b"\x00" + _varint(_KEY_VALUE) + _varint(1))
        raw += _varint(len(_DEADLINE_BUDGET)) + _DEADLINE_BUDGET + _varint(len(value)) + value
        raw += b"\x00" * (-len(raw) % 4)
        block = bytes(raw)
        if len(_budget_blocks) > 20000:  # budgets are small integers; this never fills
            _budget_blocks.clear()
        _budget_blocks[key] = block
    return block


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


class Channel(TTransportBase, CReadableTransport):  # type: ignore[misc]
    """A connected client socket as a Thrift transport.

    Writes are buffered until :meth:`flush`, which sends the whole message (framed
    as configured). Reads come from a buffer refilled from the socket in large
    chunks. Each blocking operation is bounded by the current call's deadline when
    one is set (:meth:`begin_call`), else by ``op_timeout``.

    Attributes:
        endpoint: the endpoint's text, for error messages.
        method: the method of the call in progress, for error messages.
        sent: whether any byte of the current request reached the socket.
        protocol_id: the THeader sub-protocol id written in each frame.
        seq_id: the THeader frame sequence id (set per message by the protocol).
        read_headers: THeader key/value headers of the last response.
    """

    def __init__(
        self, sock: socket.socket, endpoint: str, framing: int, op_timeout: float | None
    ) -> None:
        self._sock: socket.socket | None = sock
        self.endpoint = endpoint
        self.framing = framing
        self.op_timeout = op_timeout
        self.method = ""
        self.sent = False
        self.deadline: float | None = None  # monotonic end of the current call, if any
        self._timeout: float | None = sock.gettimeout()
        self._tls_pending = getattr(sock, "pending", None)
        # gevent's (and other) socket classes implement timeouts themselves; only a
        # plain stdlib socket can leave them to the kernel.
        self._kernel_timeouts = (
            isinstance(sock, _socket.socket)
            and type(sock).__module__ == "socket"  # not an SSL or gevent socket
            and hasattr(socket, "SO_RCVTIMEO")
        )
        if self._kernel_timeouts:
            sock.settimeout(None)
            self._set_timeout(sock, self._timeout)
        self._wbuf: list[bytes] = []
        self._rbuf = BytesIO(b"")
        self._pending = b""
        self._poller: Any = None
        self.protocol_id = HEADER_BINARY
        self._header_block = b"\x00\x00\x00\x00"
        self.seq_id = 0
        self.read_headers: dict[bytes, bytes] = {}
        self._write_headers: dict[bytes, bytes] = {}
        self.budget_ms: int | None = None  # Deadline-Budget header for the next frame

    # -- lifecycle -----------------------------------------------------------------

    def isOpen(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        """Channels are connected when made; opening again is a no-op."""

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def fileno(self) -> int:
        """The socket's descriptor, or -1 once closed."""
        return -1 if self._sock is None else self._sock.fileno()

    def begin_call(self, deadline: float | None, method: str) -> None:
        """Start a call: bound its I/O by ``deadline`` (monotonic) and reset ``sent``."""
        self.deadline = deadline
        self.method = method
        self.sent = False

    def set_protocol_id(self, protocol_id: int) -> None:
        """Choose the THeader sub-protocol (binary or compact) of frames written."""
        self.protocol_id = protocol_id
        raw = _varint(protocol_id) + b"\x00"  # the id, then zero transforms
        self._header_block = raw + b"\x00" * (-len(raw) % 4)

    def has_unread(self) -> bool:
        """Whether bytes of a message are buffered but were never read (cheap, no I/O)."""
        return bool(self._pending) or bool(self._rbuf.read(1))

    def is_reusable(self) -> bool:
        """Whether the socket is open with nothing unread, neither buffered nor pending.

        Readable bytes on an idle connection are an answer nobody asked for (or a
        half-read one); readable EOF is a server that went away. Either way the
        connection must not carry the next call.
        """
        sock = self._sock
        if sock is None or self._pending or self._rbuf.read(1):
            return False
        if self._tls_pending is not None and self._tls_pending():
            return False  # TLS: decrypted bytes already buffered
        try:
            poller = self._poller
            if poller is None:
                poller = self._poller = select.poll()
                poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    # -- errors and timeouts: the one boundary between sockets and Thrift errors ----

    def _arm(self) -> socket.socket:
        sock = self._sock
        if sock is None:
            raise ConnectionLostError(
                f"connection to {self.endpoint} is closed",
                endpoint=self.endpoint,
                method=self.method,
                request_sent=self.sent,
                type=TTransportException.NOT_OPEN,
            )
        if self.deadline is None:
            wanted = self.op_timeout
            if self._timeout != wanted:
                self._set_timeout(sock, wanted)
            return sock
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out(None)
        current = self._timeout
        if current is None or not remaining - _TIMEOUT_SLACK <= current <= remaining:
            # A little under the time left, so that the next calls' (slightly
            # different) remaining times still fall in the window above.
            self._set_timeout(sock, max(0.001, remaining - _TIMEOUT_SLACK / 2))
        return sock

    def _set_timeout(self, sock: socket.socket, seconds: float | None) -> None:
        if self._kernel_timeouts:
            # Blocking socket + SO_RCVTIMEO/SO_SNDTIMEO: the kernel enforces the
            # timeout, so send()/recv() cost one syscall each. A Python-level socket
            # timeout makes CPython poll() before every send and recv.
            sec = 0.0 if seconds is None else max(seconds, 1e-6)  # 0 means "forever"
            whole = int(sec)
            value = _TIMEVAL.pack(whole, int((sec - whole) * 1_000_000))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
        else:
            sock.settimeout(seconds)
        self._timeout = seconds

    def _timed_out(self, exc: BaseException | None) -> ThriftClientError:
        where = f" in {self.method}()" if self.method else ""
        err = CallTimeoutError(
            f"timed out{where} talking to {self.endpoint}",
            endpoint=self.endpoint,
            method=self.method,
            request_sent=self.sent,
        )
        err.inner = exc
        return err

    def _lost(self, reason: str, exc: BaseException | None, kind: int | None = None) -> Exception:
        where = f" in {self.method}()" if self.method else ""
        err = ConnectionLostError(
            f"{reason}{where} on {self.endpoint}",
            endpoint=self.endpoint,
            method=self.method,
            request_sent=self.sent,
            type=kind,
        )
        err.inner = exc
        return err

    def _send(self, data: bytes) -> None:
        sock = self._arm()
        try:
            sent = sock.send(data)
            self.sent = True
            if sent < len(data):
                view = memoryview(data)[sent:]
                while view:
                    sock = self._arm()
                    view = view[sock.send(view) :]
        except (TimeoutError, BlockingIOError) as exc:  # BlockingIOError: SO_*TIMEO expired
            cause = _as_timeout(exc)
            raise self._timed_out(cause) from cause
        except OSError as exc:
            raise self._lost(f"send failed ({exc})", exc) from exc

    def _recv(self, size: int) -> bytes:
        sock = self._arm()
        try:
            data = sock.recv(size)
        except (TimeoutError, BlockingIOError) as exc:  # BlockingIOError: SO_*TIMEO expired
            cause = _as_timeout(exc)
            raise self._timed_out(cause) from cause
        except OSError as exc:
            raise self._lost(f"receive failed ({exc})", exc) from exc
        if not data:
            raise self._lost("connection closed by server", None)
        return data

    # -- writing ---------------------------------------------------------------------

    def write(self, buf: bytes) -> None:
        self._wbuf.append(buf)

    def set_header(self, key: bytes, value: bytes) -> None:
        """Set a THeader key/value header for the next message written."""
        self._write_headers[key] = value

    def get_headers(self) -> dict[bytes, bytes]:
        """The THeader key/value headers of the last message read."""
        return self.read_headers

    def clear_headers(self) -> None:
        self._write_headers.clear()

    def flush(self) -> None:
        wbuf = self._wbuf
        payload = wbuf[0] if len(wbuf) == 1 else b"".join(wbuf)
        wbuf.clear()
        self.send_message(payload)

    def send_message(self, payload: bytes) -> None:
        """Frame one whole message as configured and send it."""
        if self.framing == UNFRAMED:
            self._send(payload)
        elif self.framing == FRAMED:
            self._send(_I32.pack(len(payload)) + payload)
        else:
            self._send(self._header_frame(payload))

    def _header_frame(self, payload: bytes) -> bytes:
        headers = self._write_headers
        budget, self.budget_ms = self.budget_ms, None
        if budget is not None and not headers:
            header_block = _budget_block(self.protocol_id, budget)
        elif budget is not None or headers:
            if budget is not None:
                headers[_DEADLINE_BUDGET] = str(budget).encode()
            block = bytearray(_varint(self.protocol_id) + b"\x00")
            block += _varint(_KEY_VALUE) + _varint(len(headers))
            for key, value in headers.items():
                block += _varint(len(key)) + key + _varint(len(value)) + value
            block += b"\x00" * (-len(block) % 4)
            header_block = bytes(block)
            headers.clear()
        else:
            header_block = self._header_block
        size = 10 + len(header_block) + len(payload)
        if size > _MAX_FRAME:
            raise self._lost("request frame too large", None, TTransportException.SIZE_LIMIT)
        fixed = _HEADER_FIXED.pack(size, _HEADER_MAGIC, 0, self.seq_id, len(header_block) // 4)
        return fixed + header_block + payload

    # -- reading ---------------------------------------------------------------------

    def read(self, sz: int) -> bytes:
        ret: bytes = self._rbuf.read(sz)
        if ret:
            return ret
        self._fill()
        data: bytes = self._rbuf.read(sz)
        return data

    def readAll(self, sz: int) -> bytes:
        ret: bytes = self._rbuf.read(sz)
        while len(ret) < sz:
            self._fill()
            ret += self._rbuf.read(sz - len(ret))
        return ret

    @property
    def cstringio_buf(self) -> BytesIO:
        return self._rbuf

    def cstringio_refill(self, partialread: bytes, reqlen: int) -> BytesIO:
        buf = bytearray(partialread)
        while len(buf) < reqlen:
            self._fill()
            buf += self._rbuf.read()
        self._rbuf = BytesIO(bytes(buf))
        return self._rbuf

    def _fill(self) -> None:
        if self.framing == UNFRAMED:
            self._rbuf = BytesIO(self._recv(_RECV_CHUNK))
        else:
            frame = self._read_frame()
            if self.framing == HEADER:
                frame = self._parse_header_frame(frame)
            self._rbuf = BytesIO(frame)

    def _read_frame(self) -> bytes:
        buf = self._pending
        while len(buf) < 4:
            buf += self._recv(_RECV_CHUNK)
        (size,) = _I32.unpack_from(buf)
        if not 0 < size <= _MAX_FRAME:
            raise self._lost(f"bad frame size {size}", None, TTransportException.SIZE_LIMIT)
        end = 4 + size
        while len(buf) < end:
            buf += self._recv(max(_RECV_CHUNK, end - len(buf)))
        self._pending = buf[end:]
        return buf[4:end]

    def _parse_header_frame(self, frame: bytes) -> bytes:
        # Fast path: what Apache's and our servers send back, one header word holding
        # the sub-protocol id, no transforms and no headers.
        if frame[8:14] == b"\x00\x01" + self._header_block and frame[:2] == b"\x0f\xff":
            if self.read_headers:
                self.read_headers = {}
            return frame[14:]
        try:
            magic, _flags, _seq, words = struct.unpack_from("!HHiH", frame)
            if magic != _HEADER_MAGIC:
                raise ValueError("response is not a THeader frame")
            end = 10 + words * 4
            if end > len(frame):
                raise ValueError("THeader header block is longer than its frame")
            protocol_id, pos = _read_varint(frame, 10)
            if protocol_id != self.protocol_id:
                raise ValueError(f"response uses sub-protocol {protocol_id}")
            count, pos = _read_varint(frame, pos)
            transforms = []
            for _ in range(count):
                transform, pos = _read_varint(frame, pos)
                if transform != _ZLIB:
                    raise ValueError(f"unknown THeader transform {transform}")
                transforms.append(transform)
            headers: dict[bytes, bytes] = {}
            while pos < end:
                kind, pos = _read_varint(frame, pos)
                if kind != _KEY_VALUE:
                    break  # padding, or a header type we do not know: skip the rest
                pairs, pos = _read_varint(frame, pos)
                for _ in range(pairs):
                    klen, pos = _read_varint(frame, pos)
                    key = frame[pos : pos + klen]
                    pos += klen
                    vlen, pos = _read_varint(frame, pos)
                    headers[key] = frame[pos : pos + vlen]
                    pos += vlen
            self.read_headers = headers
            payload = frame[end:]
            for _ in transforms:
                payload = zlib.decompress(payload)
            return payload
        except (ValueError, struct.error, zlib.error) as exc:
            raise self._lost(f"bad THeader response ({exc})", exc) from exc


__all__ = ["FRAMED", "HEADER", "HEADER_BINARY", "HEADER_COMPACT", "UNFRAMED", "Channel"]
