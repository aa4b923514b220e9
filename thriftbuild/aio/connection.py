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
from typing import Any

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
        self.closed = asyncio.get_running_loop().create_future()
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._drain: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

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
        self._wake()

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

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drain(self) -> None:
        """Wait while the transport's write buffer is over its high-water mark."""
        while self._paused and self.failure is None:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    async def next_frame(self) -> wire.Frame:
        """The next complete frame; raises what ended the connection, if it ended."""
        while not self.frames:
            if self.failure is not None:
                raise self.failure
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.frames.popleft()

    @property
    def clean(self) -> bool:
        """Nothing received since the last reply and still open."""
        return (
            self.failure is None
            and not self.frames
            and self.decoder.buffered == 0
            and self.transport is not None
            and not self.transport.is_closing()
        )


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
        loop: deprecated and ignored (``DeprecationWarning``).
        **kwargs: passed to ``loop.create_connection`` (or ``create_unix_connection``).

    Raises:
        asyncio.TimeoutError: no connection within the connect timeout.
        OSError: the connection was refused or failed (TLS errors included).
    """
    warn_loop(loop, "create_connection")
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
        service, transport, protocol, address=address, timeout=call_timeout, fmt=fmt, limits=limits
    )


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
    ) -> None:
        self.service = service
        self.view: ServiceView = service_view(service)
        self.address = address
        self.timeout = timeout
        self.closed = False
        self._transport = transport
        self._protocol = protocol
        self._fmt = fmt
        self._limits = limits
        self._seqid = 0
        self._lock = asyncio.Lock()
        self._busy = False
        self._where = _where(address)
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
        return not self.closed and not self._busy and self._protocol.clean

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
        method = self.view.methods.get(api)
        if method is None:
            raise ThriftError(f"{self.view.name} has no API {api!r}")
        if self.closed:
            raise ConnectionClosedError(
                f"connection to {self._where} is closed", endpoint=self._where, method=api
            )
        timeout = self.timeout
        try:
            if timeout is None:
                return await self._locked_call(method, args, kwargs, None)
            return await within(timeout, self._locked_call(method, args, kwargs, timeout))
        except asyncio.TimeoutError as exc:
            self.close()
            if isinstance(exc, AioTimeoutError):
                raise
            raise AioTimeoutError(
                f"{self.view.name}.{api} to {self._where} took longer than {timeout}s"
            ) from exc

    async def _locked_call(
        self,
        method: wire.Method,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Any:
        async with self._lock:  # calls on one connection take turns
            return await self._call(method, args, kwargs, timeout)

    async def _call(
        self,
        method: wire.Method,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Any:
        if self.closed:
            raise ConnectionClosedError(
                f"connection to {self._where} is closed", endpoint=self._where, method=method.name
            )
        self._busy = True
        finished = False
        try:
            seqid = self._seqid = self._seqid % _MAX_SEQID + 1
            payload = wire.encode_call(method, self._fmt.protocol, seqid, args, kwargs)
            self._transport.write(self._frame(payload, seqid, timeout))  # type: ignore[attr-defined]
            protocol = self._protocol
            if protocol._paused:
                await protocol.drain()
            if method.oneway:
                if protocol.failure is not None:
                    raise protocol.failure
                finished = True
                return None
            frame = await protocol.next_frame()
            try:
                value = wire.decode_reply(
                    method, frame.protocol, frame.payload, seqid, self._limits
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
            raise ThriftError(f"bad reply from {self._where} to {method.name}: {exc}") from exc
        except (OSError, EOFError) as exc:
            raise ConnectionClosedError(
                f"connection to {self._where} lost during {method.name}: {exc}",
                endpoint=self._where,
                method=method.name,
            ) from exc
        finally:
            self._busy = False
            if not finished:  # timeout, cancellation, failure: nothing can be trusted
                self.close()

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

    async def wait_closed(self) -> None:
        """Wait until the transport has closed."""
        await self._protocol.closed
