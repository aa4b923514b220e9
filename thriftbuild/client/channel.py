"""One client socket as a Thrift transport, framing through :mod:`thriftbuild.wire`.

:class:`Channel` is a Thrift transport over a connected socket in one of the three
framings (unframed, framed, THeader). Framing and parsing are the wire core's; the
channel owns only the socket: sending, receiving, timeouts, and turning socket
errors and :class:`~thriftbuild.wire.WireError` into :mod:`thriftbuild.errors`
exceptions naming the endpoint and method -- the one boundary where that happens.
It records whether any byte of the current request reached the socket, which is
what decides whether a failed call may be retried safely.
"""

from __future__ import annotations

import _socket
import collections
import math
import os
import select
import socket
import struct
import sys
import threading
import time
from io import BytesIO
from typing import Any, NoReturn

from thrift.transport.TTransport import (
    CReadableTransport,
    TTransportBase,
    TTransportException,
)

from thriftbuild import wire
from thriftbuild._sockopt import set_receive_timeout
from thriftbuild.errors import (
    CallTimeoutError,
    ConnectionLostError,
    ProtocolError,
    ThriftClientError,
)

__all__ = ["Channel"]

_DEADLINE_BUDGET = b"Deadline-Budget"
_RECV_CHUNK = 65536
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_budget_blocks: dict[tuple[int, int], bytes] = {}
_monotonic = time.monotonic
# The framings as plain ints: comparing with an enum member costs a class attribute
# lookup through the enum machinery on every message.
_UNFRAMED = int(wire.Framing.UNFRAMED)
_FRAMED = int(wire.Framing.FRAMED)

# The main thread's id, looked up per wait (see Channel._recv): refreshed in a
# forked child, whose main thread is the one that forked (threading's own fork
# handler, registered before this one, has already recorded it).
_get_ident = threading.get_ident
_main_ident = [threading.main_thread().ident]


def _after_fork() -> None:
    _main_ident[0] = threading.main_thread().ident


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)

# Linux's ``struct tcp_info``: ``tcpi_state`` is its first byte and
# ``tcpi_bytes_received`` (Linux 4.1+) the 8 bytes at offset 128.
# ``getsockopt`` runs without releasing the GIL, unlike ``poll``/``recv``: while other
# threads are calling, each GIL release in a call hands the GIL to one of them and
# this thread waits to get it back, so there it is worth its (larger) cost -- when
# the process may run on several CPUs (see _several_cpus).
_TCP_INFO = getattr(socket, "TCP_INFO", None) if sys.platform == "linux" else None
_TCP_INFO_LEN = 136
_TCP_ESTABLISHED = 1
_tcp_info = struct.Struct("=B127xQ")


def _several_cpus() -> bool:
    """Whether this process may run on more than one CPU right now.

    Only then does a GIL release hand the GIL to a thread on another core, so that
    this one waits to get it back; on one CPU the releasing thread mostly takes it
    straight back, and ``poll`` is cheaper than ``getsockopt(TCP_INFO)`` (measured
    with 8 threads on one pool pinned to one CPU: 36 against 46 us of CPU per call).
    """
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):
        return True


def _tcp_info_works(sock: socket.socket) -> bool:
    """Whether ``sock`` is a TCP socket whose kernel reports ``tcp_info`` in full,
    in a process that may run on several CPUs (see :func:`_several_cpus`)."""
    if _TCP_INFO is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    if not _several_cpus():
        return False
    try:
        return len(sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_LEN)) >= _TCP_INFO_LEN
    except OSError:
        return False


def _budget_block(protocol_id: int, budget_ms: int) -> bytes:
    """The THeader header block carrying only a Deadline-Budget header (cached)."""
    key = (protocol_id, budget_ms)
    block = _budget_blocks.get(key)
    if block is None:
        block = wire.header_block(protocol_id, {_DEADLINE_BUDGET: str(budget_ms).encode()})
        if len(_budget_blocks) > 20000:  # budgets are small integers; this never fills
            _budget_blocks.clear()
        _budget_blocks[key] = block
    return block


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
        seq_id: the sequence id of the last call, assigned by the runtime (never the
            generated client's), also the THeader frame's sequence id.
        awaiting: whether a reply is still due for the last request written.
        read_headers: THeader key/value headers of the last response.
    """

    #: The read buffer, under the name Apache's C codec reads it by. A plain
    #: attribute, shadowing the base class's property: the codec looks it up on
    #: every decode.
    cstringio_buf: BytesIO = BytesIO(b"")

    def __init__(
        self,
        sock: socket.socket,
        endpoint: str,
        framing: wire.Framing,
        op_timeout: float | None,
        limits: wire.Limits = wire.DEFAULT_LIMITS,
    ) -> None:
        self._sock: socket.socket | None = sock
        self.endpoint = endpoint
        self.framing = framing
        self._kind = int(framing)
        self.op_timeout = op_timeout
        self.method = ""
        self.sent = False
        self.deadline: float | None = None  # monotonic end of the current call, if any
        self._tls_pending = getattr(sock, "pending", None)
        # A plain stdlib socket waits in one of two ways. In the main thread, where
        # Python runs signal handlers, with poll(), whose timeout CPython recomputes
        # from the monotonic clock when a signal interrupts it: a call's deadline
        # holds however many signals arrive. In other threads, on Linux, with one
        # blocking recv() under a kernel timeout (SO_RCVTIMEO), which restarts in
        # full after a signal but is one syscall and one GIL release per wait
        # instead of poll() and recv(): with many threads calling, each release
        # hands the GIL to another thread and this one waits to get it back.
        # Process signals go to the main thread, so others are not interrupted.
        # Every other operation passes MSG_DONTWAIT. gevent's and SSL sockets keep
        # their own timeout machinery, given the time left before each operation.
        self._poll_in: Any = None
        self._poll_out: Any = None
        self._poll_idle: Any = None
        self._kernel_wait = False
        self._rcvtimeo_ms = 0  # the SO_RCVTIMEO set on the socket (0: none)
        # On Linux TCP, the kernel's count of bytes received, against ours of bytes
        # read (``_received``), tells without a GIL release whether a reply is
        # waiting and whether an idle connection is still clean (nothing unread, no
        # FIN or RST): see :meth:`_unread_in_kernel`. Used while ``contended``.
        self._received = 0
        self._tcp_info: Any = None
        #: Set by the pool at checkout: other calls were in flight on it, so a GIL
        #: release here likely costs a switch to another thread (see _TCP_INFO).
        self.contended = False
        if isinstance(sock, _socket.socket) and type(sock).__module__ == "socket":
            self._kernel_wait = _DONTWAIT != 0 and sys.platform == "linux"
            sock.setblocking(self._kernel_wait)  # blocking: see _recv
            fd = sock.fileno()
            self._poll_in = select.poll()
            self._poll_in.register(fd, select.POLLIN | select.POLLPRI)
            self._poll_out = select.poll()
            self._poll_out.register(fd, select.POLLOUT)
            if _tcp_info_works(sock):
                self._tcp_info = sock.getsockopt
        self.limits = limits
        self._wbuf: list[bytes] = []
        self.cstringio_buf = BytesIO(b"")
        self._frames: collections.deque[wire.Frame] = collections.deque()
        self._decoder: wire.Decoder | None = None
        if framing != wire.Framing.UNFRAMED:
            self._decoder = wire.make_decoder(framing, wire.BINARY, limits)
        self.protocol_id = wire.BINARY
        self._header_block = wire.header_block(wire.BINARY)
        self.seq_id = 0  # the last sequence id the runtime assigned on this connection
        #: A request was written and its reply not completely read: the connection
        #: must not carry another call (a late reply would answer it).
        self.awaiting = False
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
        self._header_block = wire.header_block(protocol_id)
        if self._decoder is not None:
            self._decoder = wire.make_decoder(self.framing, protocol_id, self.limits)

    def has_unread(self) -> bool:
        """Whether bytes of a message are buffered but were never read (cheap, no I/O)."""
        decoder = self._decoder
        return (
            bool(self._frames)
            or (decoder is not None and decoder.buffered > 0)
            or bool(self.cstringio_buf.read(1))
        )

    def _buffered(self) -> bool:
        decoder = self._decoder
        return decoder is not None and decoder.buffered > 0

    def is_reusable(self) -> bool:
        """Whether the socket is open with nothing unread, neither buffered nor pending.

        Readable bytes on an idle connection are an answer nobody asked for (or a
        half-read one); readable EOF is a server that went away. Either way the
        connection must not carry the next call.
        """
        sock = self._sock
        decoder = self._decoder
        if (
            sock is None
            or self._frames
            or (decoder is not None and decoder.buffered)
            or self.cstringio_buf.read(1)
        ):
            return False
        if self._tls_pending is not None and self._tls_pending():
            return False  # TLS: decrypted bytes already buffered
        if self.contended and self._tcp_info is not None:
            return self._unread_in_kernel() == 0
        poller = self._poll_in
        if poller is not None:
            try:
                return not poller.poll(0)
            except (OSError, ValueError):
                return False
        try:
            poller = self._poll_idle
            if poller is None:  # TLS or gevent: a poller for this check only (their
                # reads and writes keep their own timeouts, see _recv and _send)
                poller = self._poll_idle = select.poll()
                poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    def _unread_in_kernel(self) -> int:
        """Bytes the kernel received that were not read yet (Linux TCP only).

        -1 when the connection is no longer established (the server sent FIN or
        RST: a read returns at once) or the socket is unusable.
        """
        try:
            state, received = _tcp_info.unpack(
                self._tcp_info(socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_LEN)
            )
        except (OSError, struct.error):
            return -1
        if state != _TCP_ESTABLISHED:
            return -1
        return int(received) - self._received

    # -- errors and timeouts: the one boundary between sockets and Thrift errors ----

    def _arm(self) -> tuple[socket.socket, float | None]:
        """The socket and the seconds the next operation may take (None: no bound)."""
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
            return sock, self.op_timeout
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out(None)
        return sock, remaining

    def _wait(self, poller: Any, seconds: float | None) -> None:
        """Wait until ``poller`` reports the socket ready, or raise the timeout."""
        if not poller.poll(None if seconds is None else math.ceil(seconds * 1000)):
            cause = TimeoutError(f"socket not ready within {seconds:.3f}s")
            raise self._timed_out(cause) from cause

    def _error(
        self,
        cls: type[ThriftClientError],
        text: str,
        inner: BaseException | None,
        kind: int | None = None,
    ) -> ThriftClientError:
        """``cls`` with this call's context: ``text`` names the method and endpoint."""
        err = cls(
            text.format(where=f" in {self.method}()" if self.method else "", ep=self.endpoint),
            endpoint=self.endpoint,
            method=self.method,
            request_sent=self.sent,
            type=kind,
        )
        err.inner = inner
        return err

    def _timed_out(self, exc: BaseException | None) -> ThriftClientError:
        return self._error(CallTimeoutError, "timed out{where} talking to {ep}", exc)

    def _lost(self, reason: str, exc: BaseException | None, kind: int | None = None) -> Exception:
        text = reason.replace("{", "{{").replace("}", "}}") + "{where} on {ep}"
        return self._error(ConnectionLostError, text, exc, kind)

    def _send(self, data: bytes) -> None:
        sock = self._sock
        deadline = self.deadline
        if (
            self._poll_out is not None
            and sock is not None
            and (deadline is None or deadline > _monotonic())
        ):
            # The common case in one try: a request fits the socket buffer.
            try:
                sent = sock.send(data, _DONTWAIT)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise self._lost(f"send failed ({exc})", exc) from exc
            if sent:
                self.sent = True
                if sent == len(data):
                    return
        else:
            sent = 0
        view = memoryview(data)[sent:]
        try:
            while view:
                sock, seconds = self._arm()
                poller = self._poll_out
                if poller is None:
                    sock.settimeout(seconds)
                try:
                    sent = sock.send(view, _DONTWAIT) if poller is not None else sock.send(view)
                except BlockingIOError:  # non-blocking socket, buffer full: wait
                    self._wait(poller, seconds)
                    continue
                if sent:
                    self.sent = True
                view = view[sent:]
        except TimeoutError as exc:
            raise self._timed_out(exc) from exc
        except OSError as exc:
            raise self._lost(f"send failed ({exc})", exc) from exc

    def _set_rcvtimeo(self, sock: socket.socket, ms: int) -> None:
        """Bound blocking recv() calls by ``ms`` milliseconds (0: no bound)."""
        set_receive_timeout(sock, ms * 1000)
        self._rcvtimeo_ms = ms

    def _recv(self, size: int) -> bytes:
        sock = self._sock
        if self._kernel_wait and sock is not None and _get_ident() != _main_ident[0]:
            # One blocking recv() bounded by the kernel (see __init__): it returns the
            # reply as soon as it arrives, or EAGAIN once the kernel timeout expired.
            try:
                while True:
                    deadline = self.deadline
                    if deadline is not None:
                        left = (deadline - _monotonic()) * 1000.0
                        if left <= 0:
                            raise self._timed_out(None)
                        # Any kernel timeout within the time left bounds the wait: one
                        # expiring early only comes back here. So the socket keeps the
                        # one it has while it lies between half the time left and all
                        # of it (setsockopt costs a syscall, and CPython raises and
                        # clears two exceptions parsing its arguments), and a new one
                        # is 7/8 of the time left: calls under one pool timeout set it
                        # about once, however long they waited for the GIL.
                        ms = self._rcvtimeo_ms
                        if ms > left or ms * 2 < left:
                            ms = max(1, int(left * 0.875))  # 1 ms at least: 0 is no bound
                            if ms != self._rcvtimeo_ms:
                                self._set_rcvtimeo(sock, ms)
                    else:  # no call deadline: each read is bounded by op_timeout
                        op_timeout = self.op_timeout
                        ms = 0 if op_timeout is None else max(1, math.ceil(op_timeout * 1000))
                        if ms != self._rcvtimeo_ms:
                            self._set_rcvtimeo(sock, ms)
                    try:
                        data = sock.recv(size)
                        break
                    except BlockingIOError:
                        if deadline is None:  # this read waited its whole op_timeout
                            cause = TimeoutError(f"no reply within {self.op_timeout:.3f}s")
                            raise self._timed_out(cause) from cause
            except OSError as exc:
                raise self._lost(f"receive failed ({exc})", exc) from exc
        else:
            data = self._recv_polled(size)
        if not data:
            raise self._lost("connection closed by server", None)
        self._received += len(data)
        return data

    def _recv_polled(self, size: int) -> bytes:
        """Read what is there (waiting until something is), timeouts from :meth:`_arm`.

        The main thread's way (see __init__), and that of TLS and gevent sockets.
        """
        try:
            while True:
                sock, seconds = self._arm()
                poller = self._poll_in
                if poller is None:
                    sock.settimeout(seconds)
                    data: bytes = sock.recv(size)
                    return data
                if self.contended and self._tcp_info and not self._unread_in_kernel():
                    # Nothing arrived yet (known without a GIL release): wait first,
                    # so the read below is the only other syscall.
                    self._wait(poller, seconds)
                try:
                    # Non-blocking: try first (on a fast link the reply is often
                    # there already: one syscall), and wait only when it is not.
                    data = sock.recv(size, _DONTWAIT)
                    return data
                except BlockingIOError:
                    self._wait(poller, seconds)
        except TimeoutError as exc:
            raise self._timed_out(exc) from exc
        except OSError as exc:
            raise self._lost(f"receive failed ({exc})", exc) from exc

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
        kind = self._kind
        if kind == _UNFRAMED and len(payload) <= self.limits.max_frame:
            self._send(payload)  # the common case: no framing to add
            return
        try:
            if kind == _UNFRAMED:
                raise wire.LimitExceededError(
                    "max_frame", len(payload), self.limits.max_frame, "request size"
                )
            if kind == _FRAMED:
                data = wire.encode_framed(payload, self.limits)
            else:
                data = self._header_frame(payload)
        except wire.WireError as exc:
            self._bad(exc, "cannot send the request")
        self._send(data)

    def _header_frame(self, payload: bytes) -> bytes:
        headers = self._write_headers
        budget, self.budget_ms = self.budget_ms, None
        if budget is not None and not headers:
            block = _budget_block(self.protocol_id, budget)
        elif budget is not None or headers:
            if budget is not None:
                headers[_DEADLINE_BUDGET] = str(budget).encode()
            block = wire.header_block(self.protocol_id, headers)
            headers.clear()
        else:
            block = self._header_block
        return wire.encode_header_frame(
            payload, self.protocol_id, seqid=self.seq_id, block=block, limits=self.limits
        )

    # -- reading ---------------------------------------------------------------------

    def read(self, sz: int) -> bytes:
        ret: bytes = self.cstringio_buf.read(sz)
        if ret:
            return ret
        self._fill()
        data: bytes = self.cstringio_buf.read(sz)
        return data

    def _check_length(self, size: int) -> None:
        if size > self.limits.max_frame:
            self._bad(
                wire.LimitExceededError("max_frame", size, self.limits.max_frame, "read of"),
                "bad reply",
            )

    def _past_frame(self) -> None:
        if self._decoder is not None:  # a reply never continues into another frame
            self._bad(wire.WireError("reply is longer than its frame"), "bad reply")

    def readAll(self, sz: int) -> bytes:
        ret: bytes = self.cstringio_buf.read(sz)
        if len(ret) < sz:
            if sz > self.limits.max_frame:
                self._check_length(sz)
            if ret:
                self._past_frame()
        while len(ret) < sz:
            self._fill()
            ret += self.cstringio_buf.read(sz - len(ret))
        return ret

    def cstringio_refill(self, partialread: bytes, reqlen: int) -> BytesIO:
        # The C codec asks for what a length in the reply declares: bound it before
        # buffering (thrift before 0.23 does not check every length itself).
        self._check_length(reqlen)
        self._past_frame()
        buf = bytearray(partialread)
        while len(buf) < reqlen:
            self._fill()
            buf += self.cstringio_buf.read()
        self.cstringio_buf = BytesIO(bytes(buf))
        return self.cstringio_buf

    def _fill(self) -> None:
        decoder = self._decoder
        if decoder is None:
            self.cstringio_buf = BytesIO(self._recv(_RECV_CHUNK))
            return
        if self._frames:
            frame = self._frames.popleft()
        else:
            while True:
                data = self._recv(_RECV_CHUNK if not decoder.buffered else decoder.need)
                if self._kind == _FRAMED and not decoder.buffered:
                    # The common case: the whole reply frame in one read (a plain
                    # frame has no headers, and its protocol is the decoder's).
                    payload = wire.framed_payload(data, self.limits)
                    if payload is not None:
                        self.cstringio_buf = BytesIO(payload)
                        return
                try:
                    got = decoder.feed(data)
                except wire.WireError as exc:
                    self._bad(exc, "bad reply")
                if got:
                    break
            frame = got[0]
            if len(got) > 1:
                self._frames.extend(got[1:])
        if frame.protocol != self.protocol_id:
            self._bad(wire.WireError(f"reply uses sub-protocol {frame.protocol}"), "bad reply")
        if frame.headers or self.read_headers:
            self.read_headers = dict(frame.headers)
        self.cstringio_buf = BytesIO(frame.payload)

    def _bad(self, exc: wire.WireError, what: str) -> NoReturn:
        """Close the connection and raise the client error for a wire error."""
        self.close()
        limited = isinstance(exc, wire.LimitExceededError)
        kind = TTransportException.SIZE_LIMIT if limited else TTransportException.UNKNOWN
        text = what + "{where} from {ep}: " + str(exc).replace("{", "{{").replace("}", "}}")
        raise self._error(ProtocolError, text, exc, kind) from exc

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of what is still to be read."""
        self.cstringio_buf = BytesIO(data + self.cstringio_buf.read())

    def next_seqid(self) -> int:
        """A fresh sequence id for the next call on this connection."""
        self.seq_id = seqid = (self.seq_id + 1) & 0x7FFFFFFF
        return seqid

    def undecodable(self, exc: Exception) -> NoReturn:
        """Close the connection and raise :class:`ProtocolError` for a reply body that
        the codec could not decode (a corrupt or hostile reply)."""
        if isinstance(exc, wire.WireError):
            self._bad(exc, "bad reply")
        if isinstance(exc, OverflowError) and "limit" in str(exc):
            # Apache's C codec checked a declared length against our limits.
            limits = self.limits
            error: wire.WireError = wire.LimitExceededError(
                "max_string/max_container",
                max(limits.max_string, limits.max_container) + 1,
                max(limits.max_string, limits.max_container),
                f"a declared length (max_string={limits.max_string}, "
                f"max_container={limits.max_container}; {exc})",
            )
        else:
            error = wire.WireError(f"cannot decode the reply ({type(exc).__name__}: {exc})")
        error.__cause__ = exc
        self._bad(error, "bad reply")

    def read_head(self, protocol: int) -> wire.MessageHead:
        """Read the next message head in ``protocol`` (the generated client's path)."""
        buf = self.cstringio_buf.read()
        while True:
            try:
                head, end = wire.read_head(protocol, buf, 0, self.limits)
                break
            except wire.Incomplete as more:
                if more.needed > self.limits.max_frame:
                    self._bad(
                        wire.LimitExceededError(
                            "max_frame", more.needed, self.limits.max_frame, "message head"
                        ),
                        "bad reply",
                    )
                self._fill()
                buf += self.cstringio_buf.read()
            except wire.WireError as exc:
                self._bad(exc, "bad reply")
        self.cstringio_buf = BytesIO(buf[end:])
        return head
