"""An asyncio client connection: one call at a time, every reply checked.

The bytes are framed, encoded and decoded by :mod:`thriftbuild.wire`; this module
only moves them (an ``asyncio.Protocol``, no stream objects in between) and turns
failures into aio's errors at one boundary (:meth:`ThriftConnection.execute`).

A connection is *clean* between calls: every byte of the last reply read, nothing
else received, not closed. Anything that leaves it otherwise -- a timeout, a
cancellation at any ``await``, a reply that answers another request, bytes that do
not decode -- closes it, so no later call can read a stale answer.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import ssl as _ssl
from collections.abc import Callable
from typing import Any, NamedTuple, cast

from thriftbuild import wire
from thriftbuild.aio._options import (
    Address,
    TBinaryProtocol,
    WireFormat,
    split_timeout,
    warn_loop,
    within,
)
from thriftbuild.errors import (
    AioTimeoutError,
    ConnectionClosedError,
    ThriftAppError,
    ThriftError,
)
from thriftbuild.service import ServiceView, service_view

__all__ = ["ThriftConnection", "create_connection"]

log = logging.getLogger("thriftbuild.aio")

_DEADLINE = b"Deadline-Budget"
_MAX_SEQID = 0x7FFFFFFF
_BINARY = WireFormat(wire.Framing.UNFRAMED, wire.BINARY)


class _ClientProtocol(asyncio.Protocol):
    """Receives replies into complete frames; tracks EOF, loss and write pressure."""

    def __init__(self, decoder: wire.Decoder) -> None:
        self.decoder = decoder
        self.frames: collections.deque[wire.Frame] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.failure: BaseException | None = None  # EOF, loss or undecodable bytes
        # Kept: asyncio.get_running_loop() costs a getpid() system call on Python 3.11.
        self.loop = asyncio.get_running_loop()
        self.closed = self.loop.create_future()
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._drain: asyncio.Future[None] | None = None
        # A pipelining connection's reply router, called whenever frames or a failure arrive.
        self.listener: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.failure is not None:
            return
        try:
            frames = self.decoder.feed(data)
        except wire.WireError as exc:
            self.failure = exc
            assert self.transport is not None
            self.transport.close()
        else:
            if frames:
                self.frames.extend(frames)
        # _wake(), inline: this runs for every reply.
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.listener is not None:
            self.listener()

    def eof_received(self) -> bool:
        if self.failure is None:
            self.failure = EOFError("the server closed the connection")
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.failure is None:
            self.failure = exc or EOFError("the connection was closed")
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def fail(self, exc: BaseException) -> None:
        """End the connection's current wait with ``exc`` (a timeout)."""
        if self.failure is None:
            self.failure = exc
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.listener is not None:
            self.listener()

    async def drain(self) -> None:
        """Wait while the transport's write buffer is over its high-water mark."""
        while self._paused and self.failure is None:
            self._drain = self.loop.create_future()
            await self._drain


async def create_connection(
    service: Any,
    address: Address = ("127.0.0.1", 6000),
    *,
    protocol_cls: Any = TBinaryProtocol,
    timeout: Any = None,
    framed: bool = False,
    ssl: _ssl.SSLContext | bool | None = None,
    server_hostname: str | None = None,
    limits: wire.Limits = wire.DEFAULT_LIMITS,
    pipeline: int = 1,
    loop: Any = None,
    **kwargs: Any,
) -> ThriftConnection:
    """Open a connection to a Thrift server (aiothrift's signature).

    Args:
        service: a thriftpy2 service (``thriftpy2.load(...).Svc``) or a service module
            generated by thriftbuild or ``thrift --gen py`` (or one of its classes).
        address: ``(host, port)``, or a path for a unix socket.
        protocol_cls: :class:`TBinaryProtocol` (default), :class:`TCompactProtocol`
            or :class:`THeaderProtocol`, or the same names as strings (see
            :meth:`WireFormat.of`).
        timeout: seconds for connecting and for each call, or ``(connect, call)``;
            ``None`` waits forever. A call over its timeout raises
            ``asyncio.TimeoutError`` (:class:`~thriftbuild.errors.AioTimeoutError`)
            and closes the connection.
        framed: frame messages (binary and compact; THeader always frames).
        ssl: an ``ssl.SSLContext`` (or ``True`` for the default one) to speak TLS;
            a failed handshake fails, it never falls back to plaintext.
        server_hostname: the name to verify the certificate against (default: host).
        limits: bounds on what the server may make us allocate.
        pipeline: how many calls may be outstanding on the connection at once
            (default 1: one at a time). Above 1, concurrent callers' requests are
            sent without waiting for earlier replies and each reply is matched to
            its call by sequence id (see :class:`ThriftConnection`).
        loop: deprecated and ignored (``DeprecationWarning``).
        **kwargs: passed to ``loop.create_connection`` (or ``create_unix_connection``).

    Raises:
        asyncio.TimeoutError: no connection within the connect timeout.
        OSError: the connection was refused or failed (TLS errors included).
    """
    warn_loop(loop, "create_connection")
    _check_pipeline(pipeline)
    fmt = WireFormat.of(protocol_cls, framed)
    connect_timeout, call_timeout = split_timeout(timeout)
    if ssl is True:
        ssl = _ssl.create_default_context()
    elif ssl is False:
        ssl = None
    running = asyncio.get_running_loop()

    def factory() -> _ClientProtocol:
        return _ClientProtocol(wire.make_decoder(fmt.framing, fmt.protocol, limits))

    if isinstance(address, str):
        opening = running.create_unix_connection(
            factory, address, ssl=ssl, server_hostname=server_hostname, **kwargs
        )
    else:
        host, port = address
        opening = running.create_connection(
            factory, host, port, ssl=ssl, server_hostname=server_hostname, **kwargs
        )
    try:
        transport, protocol = await within(connect_timeout, opening)
    except asyncio.TimeoutError as exc:
        raise AioTimeoutError(
            f"no connection to {_where(address)} within {connect_timeout}s"
        ) from exc
    return ThriftConnection(
        service,
        transport,
        protocol,
        address=address,
        timeout=call_timeout,
        fmt=fmt,
        limits=limits,
        pipeline=pipeline,
    )


def _check_pipeline(pipeline: int) -> None:
    if not (isinstance(pipeline, int) and pipeline >= 1):
        raise ValueError(f"pipeline must be an integer >= 1, not {pipeline!r}")


class _Pending(NamedTuple):
    """A pipelined call waiting for its reply; abandoned once its future is done
    (timed out or cancelled) -- its reply is then read and dropped."""

    future: asyncio.Future[wire.Frame]
    method: wire.Method
    deadline: float | None
    timeout: float | None


def _where(address: Address) -> str:
    if isinstance(address, str):
        return f"unix:{address}"
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ThriftConnection:
    """One connection to a Thrift server, with a coroutine method per API.

    ``await conn.add(1, 2)`` is ``await conn.execute("add", 1, 2)``. Calls on one
    connection run one at a time (concurrent callers queue); use a pool for
    concurrency. An API whose name clashes with an attribute (``close``, ...) is
    reachable through :meth:`execute` only.

    With ``pipeline > 1`` up to that many calls are outstanding at once: requests
    made in one loop iteration go out in one write, each reply is routed to its call
    by sequence id, and further callers queue. A call that times out or is
    cancelled then gives up only its own reply (read and dropped when it comes);
    the connection closes once no live call is left waiting on it. A connection
    failure, or a reply no call is waiting for, fails every outstanding call.

    Attributes:
        address: where it is connected.
        timeout: seconds allowed for each call (``None``: no limit); may be changed.
        closed: whether it is closed (it never reopens).
    """

    def __init__(
        self,
        service: Any,
        transport: asyncio.BaseTransport,
        protocol: _ClientProtocol,
        *,
        address: Address,
        timeout: float | None = None,
        fmt: WireFormat = _BINARY,
        limits: wire.Limits = wire.DEFAULT_LIMITS,
        pipeline: int = 1,
    ) -> None:
        _check_pipeline(pipeline)
        self.service = service
        self.view: ServiceView = service_view(service)
        self._methods = self.view.methods
        self.address = address
        self.timeout = timeout
        self.closed = False
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self._protocol = protocol
        self._loop = protocol.loop
        self._fmt = fmt
        self._unframed = fmt.framing == wire.Framing.UNFRAMED
        self._limits = limits
        self._seqid = 0
        # Unframed replies were scanned (and bounded) by the decoder already.
        self._scanned = fmt.framing == wire.Framing.UNFRAMED
        self._busy = False  # a call is on the connection; others wait in _turns
        self._turns: collections.deque[asyncio.Future[None]] = collections.deque()
        self._deadline: float | None = None  # loop time by which the call must end
        self._watchdog: asyncio.TimerHandle | None = None
        self._method = ""
        self._where = _where(address)
        self.pipeline = pipeline
        self._pending: dict[int, _Pending] = {}  # pipelined calls by seqid
        self._dropped: set[int] = set()  # seqids in _pending whose call gave up
        self._out: list[bytes] = []  # pipelined requests not yet written
        self._flushing = False
        self._watch_at = 0.0
        if pipeline > 1:
            protocol.listener = self._route
        for api in self.view:
            if hasattr(self, api):
                log.warning(
                    "API %r clashes with a ThriftConnection attribute; call it with "
                    "execute(%r, ...)",
                    api,
                    api,
                )
            else:
                setattr(self, api, functools.partial(self.execute, api))

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("busy" if self._busy else "idle")
        return f"<ThriftConnection {self.view.name} to {self._where} {state}>"

    @property
    def clean(self) -> bool:
        """Open, no call running, and nothing unexpected received since the last reply."""
        protocol = self._protocol  # nothing received since the last reply, still open
        return not (
            self.closed
            or self._busy
            or self._pending
            or protocol.failure is not None
            or protocol.frames
            or protocol.decoder.buffered
            or protocol.transport is None
            or protocol.transport.is_closing()
        )

    @property
    def outstanding(self) -> int:
        """Pipelined calls sent and not yet answered (abandoned ones included)."""
        return len(self._pending)

    @property
    def abandoned(self) -> bool:
        """Whether a pipelined call gave up on a reply that is still to come."""
        return bool(self._dropped)

    async def execute(self, api: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``api`` with the given arguments and return its result.

        Raises:
            asyncio.TimeoutError: the call took longer than ``timeout``
                (:class:`~thriftbuild.errors.AioTimeoutError`; the connection is closed).
            ConnectionClosedError: the connection is or was closed meanwhile.
            ThriftAppError: the server answered with a ``TApplicationException``
                (its ``type`` and ``message`` kept), or the reply answered another
                request (``BAD_SEQUENCE_ID``; the connection is closed).
            ThriftError: the reply could not be decoded (the connection is closed).
            Exception: an exception the IDL declares for ``api``, as itself.
        """
        # One coroutine for the whole call (no helper coroutines on the hot path):
        # every frame of an await chain is walked again on each resumption.
        method = self._methods.get(api)
        if method is None:
            raise ThriftError(f"{self.view.name} has no API {api!r}")
        if self.closed:
            raise self._closed_error(api)
        if self.pipeline > 1:
            return await self._pipelined(method, args, kwargs, self.timeout)
        if self._busy:  # another task's call is on this connection: wait for our turn
            await self._wait_turn(api)
            if self.closed:
                self._next_turn()
                raise self._closed_error(api)
        else:
            self._busy = True
        protocol = self._protocol
        timeout = self.timeout
        finished = False
        self._method = api
        if timeout is not None:
            self._deadline = deadline = self._loop.time() + timeout
            if self._watchdog is None:
                self._watchdog = self._loop.call_at(deadline, self._watch)
        try:
            seqid = self._seqid = self._seqid % _MAX_SEQID + 1
            payload = wire.encode_call(method, self._fmt.protocol, seqid, args, kwargs)
            self._transport.write(
                payload if self._unframed else self._frame(payload, seqid, timeout)
            )
            if protocol._paused:
                await protocol.drain()
            if method.result_cls is None:  # oneway (the property, without its call)
                if protocol.failure is not None:
                    raise protocol.failure
                finished = True
                return None
            frames = protocol.frames
            while not frames:
                if protocol.failure is not None:
                    raise protocol.failure
                # A cancelled wait leaves a done waiter behind; _wake skips done ones.
                protocol._waiter = waiter = self._loop.create_future()
                await waiter
            frame = frames.popleft()
            try:
                value = wire.decode_reply(
                    method,
                    frame.protocol,
                    frame.payload,
                    seqid,
                    self._limits,
                    scanned=self._scanned,
                )
            except wire.ReplyMismatchError as exc:
                raise ThriftAppError(4, f"{self._where}: {exc}") from exc  # BAD_SEQUENCE_ID
            except wire.WireError:
                raise
            except Exception as exc:
                finished = True  # a whole reply was read: the connection stays clean
                if type(exc).__name__ == "TApplicationException":
                    raise ThriftAppError(exc.type, exc.message) from None  # type: ignore[attr-defined]
                raise
            finished = True
            return value
        except wire.WireError as exc:
            raise ThriftError(f"bad reply from {self._where} to {api}: {exc}") from exc
        except AioTimeoutError:
            raise
        except (OSError, EOFError) as exc:
            raise ConnectionClosedError(
                f"connection to {self._where} lost during {api}: {exc}",
                endpoint=self._where,
                method=api,
            ) from exc
        finally:
            self._deadline = None
            if not finished:  # timeout, cancellation, failure: nothing can be trusted
                self.close()
            if self._turns:
                self._next_turn()
            else:
                self._busy = False

    def _closed_error(self, api: str) -> ConnectionClosedError:
        return ConnectionClosedError(
            f"connection to {self._where} is closed", endpoint=self._where, method=api
        )

    async def _wait_turn(self, api: str) -> None:
        turn: asyncio.Future[None] = self._loop.create_future()
        self._turns.append(turn)
        try:
            await within(self.timeout, turn)
        except BaseException as exc:
            if turn.done() and not turn.cancelled():
                self._next_turn()  # it was our turn, but we are leaving: pass it on
            if isinstance(exc, asyncio.TimeoutError):
                raise AioTimeoutError(
                    f"{self.view.name}.{api} to {self._where}: no turn on the connection "
                    f"within {self.timeout}s"
                ) from exc
            raise
        finally:
            if turn in self._turns:
                self._turns.remove(turn)

    def _next_turn(self) -> None:
        while self._turns:
            turn = self._turns.popleft()
            if not turn.done():
                turn.set_result(None)  # _busy stays set: the connection passes to it
                return
        self._busy = False

    def _watch(self) -> None:
        """The deadline timer: one per connection, re-armed lazily (not one per call)."""
        self._watchdog = None
        deadline = self._deadline
        if deadline is None:
            return  # no call in progress; the next call re-arms
        loop = self._loop
        if loop.time() < deadline:
            self._watchdog = loop.call_at(deadline, self._watch)
            return
        self._protocol.fail(
            AioTimeoutError(
                f"{self.view.name}.{self._method} to {self._where} took longer than {self.timeout}s"
            )
        )
        self.close()

    # -- pipelining (pipeline > 1) ------------------------------------------------------

    async def _pipelined(
        self,
        method: wire.Method,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Any:
        while len(self._pending) >= self.pipeline and not self.closed:
            await self._wait_turn(method.name)  # woken ones look again: a slot may be gone
        if self.closed:
            raise ConnectionClosedError(
                f"connection to {self._where} is closed", endpoint=self._where, method=method.name
            )
        seqid = self._seqid = self._seqid % _MAX_SEQID + 1
        payload = wire.encode_call(method, self._fmt.protocol, seqid, args, kwargs)
        data = self._frame(payload, seqid, timeout)
        loop = self._loop
        if method.oneway:
            self._send(data, loop)
            return None
        deadline = None if timeout is None else loop.time() + timeout
        future: asyncio.Future[wire.Frame] = loop.create_future()
        self._pending[seqid] = _Pending(future, method, deadline, timeout)
        self._send(data, loop)
        if deadline is not None and (self._watchdog is None or deadline < self._watch_at):
            self._arm(loop, deadline)
        protocol = self._protocol
        try:
            if protocol._paused:
                await protocol.drain()
            frame = await future
        except BaseException as exc:
            if not future.done():
                future.cancel()  # cancelled while draining: the reply is dropped
            if seqid in self._pending:
                self._dropped.add(seqid)
            if not any(not e.future.done() for e in self._pending.values()):
                self.close()  # only abandoned replies are left to come: nobody needs it
            if isinstance(exc, AioTimeoutError):
                raise
            if isinstance(exc, wire.WireError | OSError | EOFError):
                raise self._lost(exc, method.name) from exc
            raise
        try:
            return wire.decode_reply(
                method, frame.protocol, frame.payload, seqid, self._limits, scanned=self._scanned
            )
        except wire.WireError as exc:
            self._fail_pending(exc)
            self.close()
            raise self._lost(exc, method.name) from exc
        except Exception as exc:
            if type(exc).__name__ == "TApplicationException":
                raise ThriftAppError(exc.type, exc.message) from None  # type: ignore[attr-defined]
            raise

    def _lost(self, exc: BaseException, name: str) -> ThriftError:
        """The error a pipelined call raises for a connection-wide failure."""
        if isinstance(exc, wire.ReplyMismatchError):
            return ThriftAppError(4, f"{self._where}: {exc}")  # BAD_SEQUENCE_ID
        if isinstance(exc, wire.WireError):
            return ThriftError(f"bad reply from {self._where} to {name}: {exc}")
        return ConnectionClosedError(
            f"connection to {self._where} lost during {name}: {exc}",
            endpoint=self._where,
            method=name,
        )

    def _send(self, data: bytes, loop: asyncio.AbstractEventLoop) -> None:
        # Requests made in one loop iteration leave in one write (one syscall).
        self._out.append(data)
        if not self._flushing:
            self._flushing = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flushing = False
        out, self._out = self._out, []
        if out and not self.closed:
            self._transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _route(self) -> None:
        """Hand each complete reply to the call with its seqid (the protocol's listener)."""
        protocol = self._protocol
        frames = protocol.frames
        pending = self._pending
        while frames:
            frame = frames.popleft()
            try:
                head, _ = wire.decode_head(frame.protocol, frame.payload, self._limits)
            except wire.WireError as exc:
                self._fail_pending(exc)
                self.close()
                return
            entry = pending.pop(head.seqid, None)
            if entry is None:
                expected = min(pending, default=0)
                name = pending[expected].method.name if pending else "nothing"
                self._fail_pending(wire.ReplyMismatchError(name, expected, head.name, head.seqid))
                self.close()
                return
            if entry.future.done():
                self._dropped.discard(head.seqid)  # an abandoned call's reply: dropped
            else:
                entry.future.set_result(frame)
            self._next_turn()
        if protocol.failure is not None:
            self._fail_pending(protocol.failure)
            self.close()

    def _fail_pending(self, exc: BaseException) -> None:
        pending = list(self._pending.values())
        self._pending.clear()
        self._dropped.clear()
        for entry in pending:
            if not entry.future.done():
                entry.future.set_exception(exc)
        while self._turns:  # queued callers wake, find the connection closed and raise
            turn = self._turns.popleft()
            if not turn.done():
                turn.set_result(None)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watch_at = when
        self._watchdog = loop.call_at(when, self._expire)

    def _expire(self) -> None:
        """Time out pipelined calls past their deadline; one timer per connection."""
        self._watchdog = None
        loop = self._loop
        now = loop.time()
        earliest: float | None = None
        for entry in self._pending.values():
            if entry.deadline is None or entry.future.done():
                continue
            if entry.deadline <= now:
                entry.future.set_exception(
                    AioTimeoutError(
                        f"{self.view.name}.{entry.method.name} to {self._where} took longer "
                        f"than {entry.timeout}s"
                    )
                )
            elif earliest is None or entry.deadline < earliest:
                earliest = entry.deadline
        if earliest is not None and not self.closed:
            self._arm(loop, earliest)

    def _frame(self, payload: bytes, seqid: int, timeout: float | None) -> bytes:
        fmt = self._fmt
        if fmt.framing == wire.Framing.UNFRAMED:
            return payload
        if fmt.framing == wire.Framing.FRAMED:
            return wire.encode_framed(payload, self._limits)
        headers = None if timeout is None else {_DEADLINE: str(int(timeout * 1000)).encode()}
        return wire.encode_header_frame(
            payload, fmt.protocol, seqid=seqid, headers=headers, limits=self._limits
        )

    def close(self) -> None:
        """Close the connection (idempotent); a call in progress fails."""
        if not self.closed:
            self.closed = True
            self._transport.close()
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            if self.pipeline > 1:
                self._fail_pending(ConnectionAbortedError("the connection was closed"))

    async def wait_closed(self) -> None:
        """Wait until the transport has closed."""
        await self._protocol.closed
