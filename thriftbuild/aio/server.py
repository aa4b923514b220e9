"""The asyncio Thrift server: every dialect on one port, graceful shutdown.

Request handling (decoding, calling the handler, mapping errors, encoding the reply
in the client's dialect, metrics) is :mod:`thriftbuild.dispatch`, shared with the
gunicorn workers; this module only runs it on an event loop:

* one ``asyncio.Protocol`` per connection; requests on a connection are answered
  in order, one at a time (as Thrift clients expect);
* ``async def`` handlers run on the loop; plain functions run in a bounded thread
  pool (``handler_threads``; ``0`` runs them on the loop, for handlers that never
  block), so a slow plain handler never stalls other connections; on asyncio's
  own (non-TLS) transports a thread takes over the connection's plain calls from
  the loop: it runs each handler, encodes the reply and writes it to the socket,
  and gives the connection back to the loop only when something needs it (see
  :meth:`_Connection._serve_in_thread`); a plain method that proves quick in
  the threads runs on the loop until it is slow there (``_inline.py``);
* the idle ``timeout`` closes a connection that sent nothing for that long while
  no request of it is being handled -- never a request in progress;
* ``max_connections``: connections over the cap are closed as soon as they are
  accepted (logged); ``max_concurrency``: requests over the cap wait, in order,
  for a slot (their connections are not read meanwhile);
* ``close(grace)`` stops accepting, closes idle connections at once, lets calls in
  progress finish and send their replies for up to ``grace`` seconds, then cancels
  what is left; ``wait_closed()`` returns when all is done.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import ssl as _ssl
import threading
import time
from typing import Any, cast

from thriftbuild import wire
from thriftbuild.aio._handler_threads import HandlerThreads, default_size
from thriftbuild.aio._inline import SLOW, InlineGuard, PreemptionWatch
from thriftbuild.aio._options import Address, warn_loop
from thriftbuild.dispatch import Call, Dispatcher, ServerConnection
from thriftbuild.server_metrics import ServerMetrics

__all__ = ["Server", "create_server"]

log = logging.getLogger("thriftbuild.server")

_QUEUE_HIGH = 32  # queued requests on one connection before it stops being read
_CORK = getattr(socket, "TCP_CORK", None)  # Linux: hold segments until uncorked
_TCP = (socket.AF_INET, socket.AF_INET6)


async def create_server(
    service: Any,
    handler: Any,
    address: Address | None = None,
    protocol_cls: Any = None,
    timeout: float | None = None,
    framed: bool | None = None,
    *,
    ssl: _ssl.SSLContext | None = None,
    limits: wire.Limits = wire.DEFAULT_LIMITS,
    max_connections: int | None = None,
    max_concurrency: int | None = None,
    handler_threads: int | None = None,
    grace: float = 10.0,
    metrics: ServerMetrics | bool | None = None,
    sock: socket.socket | None = None,
    dialect: wire.Dialect | None = None,
    loop: Any = None,
    **kwargs: Any,
) -> Server:
    """Start a Thrift server (aiothrift's signature) and return it, listening.

    Args:
        service: a thriftpy2 service or a generated service module; ``None`` when
            ``handler`` is an Apache ``Processor`` or thriftpy2 ``TProcessor``.
        handler: an object with one method per API, plain or ``async def``
            (aiothrift's "Dispatcher"), or a processor.
        address: ``(host, port)``, or a path for a unix socket; default
            ``("127.0.0.1", 6000)`` unless ``sock`` is given.
        protocol_cls, framed: accepted for aiothrift compatibility and not needed:
            every client's dialect is detected (binary or compact, framed or not,
            THeader) and answered in kind.
        timeout: idle timeout in seconds between requests (``None``: none).
        ssl: an ``ssl.SSLContext`` to serve TLS.
        limits: frame, string and container limits for every request.
        max_connections: most open connections (more are closed when accepted).
        max_concurrency: most requests handled at once (more wait).
        handler_threads: threads for plain-function handlers (default:
            ``min(32, cpus + 4)``); ``0`` runs them on the event loop. A plain
            method proven quick in the threads runs on the loop (until slow there).
        grace: default grace period of :meth:`Server.close`, in seconds.
        metrics: a :class:`~thriftbuild.server_metrics.ServerMetrics`; ``None`` uses
            prometheus_client's default registry when installed, ``False`` disables.
        sock: an already listening socket (TCP or unix) to serve instead of
            opening one at ``address``, as ``asyncio.start_server(sock=...)``; the
            server owns it from then on and closes it when it closes.
        dialect: accept only this :class:`~thriftbuild.wire.Dialect` (the gunicorn
            worker's factory settings); ``None`` detects each client's.
        loop: deprecated and ignored.
        **kwargs: passed to ``loop.create_server`` (``reuse_port``, ``backlog``...).

    Raises:
        ValueError: both ``address`` and ``sock`` were given.
    """
    warn_loop(loop, "create_server")
    dispatcher = Dispatcher(service, handler, limits=limits, metrics=metrics)
    server = Server(
        dispatcher,
        timeout=timeout,
        max_connections=max_connections,
        max_concurrency=max_concurrency,
        handler_threads=handler_threads,
        grace=grace,
        dialect=dialect,
    )
    if sock is not None:
        if address is not None:
            raise ValueError("create_server: give address or sock, not both")
        await server._listen(sock, ssl, kwargs)
    else:
        await server._listen(("127.0.0.1", 6000) if address is None else address, ssl, kwargs)
    return server


class Server:
    """A running Thrift server; see :func:`create_server`.

    Usable as ``async with server: await server.serve_forever()``, like
    ``asyncio.Server``.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        timeout: float | None = None,
        max_connections: int | None = None,
        max_concurrency: int | None = None,
        handler_threads: int | None = None,
        grace: float = 10.0,
        dialect: wire.Dialect | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.dialect = dialect
        self.timeout = timeout
        self.max_connections = max_connections
        self.grace = grace
        self.closing = False
        self.slots = None if max_concurrency is None else asyncio.Semaphore(max_concurrency)
        self.threads: HandlerThreads | None = None
        self.inline: InlineGuard | None = None  # plain methods proven fast run on the loop
        self.preemption = PreemptionWatch()  # the loop's thread, marked per inline batch
        if handler_threads != 0:
            size = default_size() if handler_threads is None else handler_threads
            self.threads = HandlerThreads(size, asyncio.get_running_loop())
            self.inline = InlineGuard()
            self.threads.timing = self.inline.timed
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._shutdown: asyncio.Task[None] | None = None
        self._finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def _listen(
        self, address: Address | socket.socket, ssl: Any, kwargs: dict[str, Any]
    ) -> None:
        loop = asyncio.get_running_loop()
        if isinstance(address, socket.socket):
            unix = address.family == getattr(socket, "AF_UNIX", None)
            listen = loop.create_unix_server if unix else loop.create_server
            self._server = await listen(lambda: _Connection(self), sock=address, ssl=ssl, **kwargs)
        elif isinstance(address, str):
            self._server = await loop.create_unix_server(
                lambda: _Connection(self), address, ssl=ssl, **kwargs
            )
        else:
            host, port = address
            self._server = await loop.create_server(
                lambda: _Connection(self), host, port, ssl=ssl, **kwargs
            )

    def __repr__(self) -> str:
        state = "closing" if self.closing else "serving"
        return (
            f"<thriftbuild.aio.Server {self.dispatcher.name} {state} {len(self.connections)} conns>"
        )

    @property
    def sockets(self) -> tuple[Any, ...]:
        """The listening sockets."""
        return () if self._server is None else tuple(self._server.sockets)

    @property
    def port(self) -> int:
        """The TCP port of the first listening socket (for ``address=(host, 0)``)."""
        return int(self.sockets[0].getsockname()[1])

    def is_serving(self) -> bool:
        """Whether it accepts connections."""
        return self._server is not None and self._server.is_serving()

    async def serve_forever(self) -> None:
        """Serve until :meth:`close` has finished; cancelling it closes the server."""
        try:
            await asyncio.shield(self._finished)
        except asyncio.CancelledError:
            self.close()
            await self.wait_closed()
            raise

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
        await self.wait_closed()

    def close(self, grace: float | None = None) -> None:
        """Stop accepting; close idle connections now; give busy ones ``grace`` seconds.

        Calls in progress (and requests already received) are handled and their
        replies sent; after ``grace`` seconds (default: the server's ``grace``) what
        is left is cancelled and its connection closed. Idempotent.
        """
        if self.closing:
            return
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.shutdown()
        limit = self.grace if grace is None else grace
        self._shutdown = asyncio.get_running_loop().create_task(self._drain(limit))

    async def _drain(self, grace: float) -> None:
        deadline = self._loop_time() + grace
        pending: set[asyncio.Future[None]] = set()
        # Connections accepted just before the close join while this waits.
        while self.connections and not pending:
            waiting = [conn.done for conn in self.connections]
            _, pending = await asyncio.wait(waiting, timeout=max(0, deadline - self._loop_time()))
        if pending:
            log.warning(
                "%s: %d connection(s) still busy after the %ss grace period; cancelling",
                self.dispatcher.name,
                len(pending),
                grace,
            )
            for conn in list(self.connections):
                conn.abort()
            await asyncio.wait(pending)
        if self._server is not None:
            await self._server.wait_closed()
        if self.threads is not None:
            self.threads.close()
        if not self._finished.done():
            self._finished.set_result(None)

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

    async def wait_closed(self) -> None:
        """Wait until :meth:`close` has finished (every connection closed)."""
        if self._shutdown is None:
            if self._server is not None:
                await self._server.wait_closed()
            return
        await asyncio.shield(self._shutdown)


class _Connection(asyncio.Protocol):
    """One client connection: feeds bytes to the dispatcher, answers in order."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.conn: ServerConnection | None = None
        self.queue: collections.deque[Call] = collections.deque()
        self.task: asyncio.Task[None] | None = None  # handles this connection's requests
        self.more: asyncio.Future[None] | None = None  # the task waits here for requests
        self.busy = False  # requests are being handled (the idle timeout does not apply)
        self.current: Call | None = None
        self.lost = False
        self.eof = False
        self.reading = True
        self.last_data = self.loop.time()
        self.idle_timer: asyncio.TimerHandle | None = None
        self.write_paused = False
        self.drained: asyncio.Future[None] | None = None
        self.peer: Any = None
        # A handler thread may serve this connection's calls and write the replies
        # straight to the socket (see _serve_in_thread) when it is a plain TCP or
        # unix socket of asyncio's own transports: fd >= 0. io_lock orders the
        # hand-over of the queue between the loop and that thread, and the
        # thread's writes with the loop losing the connection (after
        # connection_lost the transport closes the fd).
        self.fd = -1
        self.io_lock = threading.Lock()
        self.threaded = False  # a handler thread serves the queue (io_lock)

    # -- asyncio callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        server = self.server
        self.peer = transport.get_extra_info("peername")
        if server.max_connections is not None and len(server.connections) >= server.max_connections:
            log.warning(
                "%s: refusing connection from %s: %d connections open (max_connections)",
                server.dispatcher.name,
                self.peer,
                len(server.connections),
            )
            transport.close()
            return
        server.connections.add(self)
        sock = transport.get_extra_info("socket")
        if (
            sock is not None
            and server.threads is not None
            and type(transport).__module__ == "asyncio.selector_events"  # not TLS, not uvloop
        ):
            self.fd = sock.fileno()
        self.conn = ServerConnection(server.dispatcher, peer=self.peer, dialect=server.dialect)
        self._arm_idle()
        if server.closing:  # accepted just before the close: serve what it already sent
            self.shutdown()

    def data_received(self, data: bytes) -> None:
        if self.conn is None or self.lost:
            return
        self.last_data = self.loop.time()
        try:
            calls = self.conn.feed(data)
        except wire.WireError as exc:
            log.warning(
                "%s: closing connection from %s: %s", self.server.dispatcher.name, self.peer, exc
            )
            self._close()
            return
        if calls:
            self.queue.extend(calls)
            self._dispatch()
            if len(self.queue) >= _QUEUE_HIGH and self.reading:
                with self.io_lock:  # a thread serving the queue resumes it when done
                    pause = len(self.queue) >= _QUEUE_HIGH
                    self.reading = not pause
                if pause:
                    self._transport().pause_reading()

    def eof_received(self) -> bool:
        # Thrift clients do not half-close: EOF means the client is gone. Closing
        # (connection_lost) cancels its request in progress; oneway ones still run.
        self.eof = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        with self.io_lock:  # no handler thread writes to the fd from now on
            self.fd = -1
            threaded = self.threaded  # then its thread gives the connection back
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        if self.more is not None and not self.more.done() and not threaded:
            self.more.set_result(None)
        # Nobody is left to read the reply: cancel the handler (oneway calls run on).
        if self.task is not None and self.current is not None and not self.current.oneway:
            self.task.cancel()
        self._finish()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    # -- requests ---------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Calls are queued: hand them to whoever serves this connection now.

        That is the connection's task while it is busy, or a handler thread while
        one serves the queue (it takes the new calls too, or gives them back);
        otherwise a thread when the first call may run there
        (:meth:`_thread_may_take`), else the task. Never both at once: a thread
        takes over only while the task waits for requests, and the task is woken
        only while no thread serves the queue, so replies keep the requests' order.
        """
        if not self.busy:
            if self.server.inline is not None and self.server.inline.inline and not self.threaded:
                self._serve_inline()
                if self.busy or self.lost:
                    return
                if not self.queue:
                    if self.server.closing:  # a close while it ran (on_finish): see _process
                        if not self._unread():
                            self._close()
                        elif not self.reading:
                            self.reading = True
                            self._transport().resume_reading()
                    return
            threads = self.server.threads
            with self.io_lock:
                if self.threaded or not self.queue:  # a thread serves it (or has served it)
                    return
                if threads is not None and self._thread_may_take(self.queue[0]):
                    self.threaded = True
                    threads.submit(self._serve_in_thread)
                    return
            self.busy = True  # now, so the next data_received does not pick a thread
        if self.task is None:  # one task per connection, started by its first call
            self.task = self.loop.create_task(self._process())
        elif self.more is not None and not self.more.done():
            self.more.set_result(None)

    def _serve_inline(self) -> None:
        """On the loop: run the queued calls of plain methods proven fast (see ``_inline``).

        Only while the connection is idle -- no task, no thread serves it -- and
        only the calls at the head of the queue, so replies keep the requests'
        order; the first call that may not run here is left to :meth:`_dispatch`.
        """
        server, queue = self.server, self.queue
        guard, dispatcher = server.inline, server.dispatcher
        assert guard is not None
        inline = guard.inline
        watch = server.preemption
        watch.mark()
        self.busy = True  # a close (on_finish, shutdown) meanwhile waits for the reply
        try:
            while queue:
                call = queue[0]
                if (
                    call.is_coroutine
                    or call.request.method not in inline
                    or server.closing
                    or server.slots is not None
                    or self.write_paused
                    or self.lost
                ):
                    return
                queue.popleft()
                started = time.perf_counter()
                try:
                    value = call.invoke()
                except BaseException as exc:  # mapped to the reply by the dispatcher
                    elapsed = time.perf_counter() - started
                    if elapsed >= SLOW and not watch.preempted():
                        guard.slow(call.request.method, elapsed)
                    reply = dispatcher.finish(call, error=exc)
                    if not isinstance(exc, Exception):
                        raise
                else:
                    elapsed = time.perf_counter() - started
                    if elapsed >= SLOW and not watch.preempted():
                        guard.slow(call.request.method, elapsed)
                    reply = dispatcher.finish(call, value)
                if reply is None or self.lost:
                    continue
                if server.closing and self._idle_after():  # on_finish closed the server
                    self._send_last(reply)
                    return
                self._transport().write(reply)
        finally:
            self.busy = False

    def _thread_may_take(self, call: Call) -> bool:
        """Whether a handler thread may run ``call`` and write its reply (io_lock held).

        A plain handler (or none: an error reply) on a socket the thread may write
        to, when nothing else could be written meanwhile: the transport's buffer
        is empty (the write would not overtake it), the server is not closing (the
        last reply goes out with the FIN), nobody counts finished calls on the loop
        (``on_finish``) and no concurrency cap needs the loop's semaphore.
        """
        server = self.server
        return (
            self.fd >= 0
            and not call.is_coroutine
            and not server.closing
            and server.slots is None
            and server.dispatcher.on_finish is None
            and not self.write_paused
            and self._transport().get_write_buffer_size() == 0
        )

    def _serve_in_thread(self) -> None:
        """In a handler thread: run the queued calls, write their replies.

        The thread serves the queue -- calls the loop adds meanwhile included --
        until it is empty or its first call must run on the loop. The loop hears
        of it only when something waits for it there: calls left in the queue, a
        reply the socket did not take whole (the loop writes the rest), the end
        of the connection, the server closing, reading paused. In the common case
        -- the client waits for its reply before it sends the next request --
        the loop is not woken at all: the next request finds the connection idle.
        """
        dispatcher, queue, lock = self.server.dispatcher, self.queue, self.io_lock
        guard = self.server.inline
        assert guard is not None  # there are handler threads
        rest = b""
        while True:
            with lock:
                if not queue or not self._thread_may_take(queue[0]):
                    # Handing back, it stays the owner until the loop takes over.
                    back = (
                        bool(queue)
                        or self.fd < 0
                        or self.eof
                        or self.server.closing
                        or not self.reading
                    )
                    self.threaded = back
                    break
                call = queue.popleft()
            value: Any = None
            error: BaseException | None = None
            if call.handler is not None:
                started = time.perf_counter()
                try:
                    value = call.invoke()
                except BaseException as exc:  # mapped to the reply by the dispatcher
                    error = exc
                guard.timed(call.request.method, time.perf_counter() - started)
            if self.fd < 0 and not call.oneway:  # the client left: nobody reads it
                value, error = None, asyncio.CancelledError()
            reply = dispatcher.finish(call, value, error)
            self.last_data = time.monotonic()  # the loop's clock (asyncio's own loops)
            if not reply:
                continue
            with lock:
                if self.fd < 0:
                    continue
                try:
                    written = os.write(self.fd, reply)
                except BlockingIOError:
                    written = 0
                except OSError:  # the connection broke: connection_lost follows
                    continue
                if written < len(reply):  # the loop writes the rest, then goes on
                    rest, back = reply[written:], True
                    break
        if back:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self.loop.call_soon_threadsafe(self._from_thread, rest)

    def _from_thread(self, rest: bytes) -> None:
        """On the loop: a handler thread gives the connection back (see above)."""
        if rest and not self.lost:
            self._transport().write(rest)  # before anything else can be written
        with self.io_lock:
            self.threaded = False
        if self.queue:
            self._dispatch()
            return
        if self.lost or self.eof:
            if self.more is not None and not self.more.done():
                self.more.set_result(None)  # the task ends too
            self._close()
            return
        if self.server.closing and not self._unread():  # see _process
            self._close()
            return
        if not self.reading:
            self.reading = True
            self._transport().resume_reading()

    async def _process(self) -> None:
        dispatcher = self.server.dispatcher
        try:
            while True:
                self.busy = True
                while self.queue:
                    call = self.current = self.queue.popleft()
                    if self.lost and not call.oneway:  # nobody left to read its reply
                        dispatcher.finish(call, error=asyncio.CancelledError())
                        continue
                    reply = await self._run(call)
                    self.current = None
                    if reply is not None and not self.lost:
                        if self.server.closing and self._idle_after():
                            self._send_last(reply)
                            break
                        self._transport().write(reply)
                        while self.write_paused and not self.lost:
                            self.drained = self.loop.create_future()
                            await self.drained
                    resume = not self.reading and not self.server.closing
                    if resume and len(self.queue) < _QUEUE_HIGH // 2:
                        self.reading = True
                        self._transport().resume_reading()
                self.busy = False
                if self.lost or self.eof:
                    break
                if self.server.closing:
                    # A request sent after a reply that its handler thread wrote,
                    # before this task saw the call end, may wait in the socket:
                    # served, as shutdown() serves those of idle connections.
                    if not self._unread():
                        break
                    if not self.reading:
                        self.reading = True
                        self._transport().resume_reading()
                self.last_data = self.loop.time()
                self._arm_idle()
                self.more = self.loop.create_future()
                await self.more  # the next request, or the end of the connection
                self.more = None
        except asyncio.CancelledError:
            while self.queue:  # keep the in-flight count right for what never ran
                dispatcher.finish(self.queue.popleft(), error=asyncio.CancelledError())
        finally:
            self.busy = False
            self.current = None
        self._close()

    async def _run(self, call: Call) -> bytes | None:
        dispatcher, slots = self.server.dispatcher, self.server.slots
        if slots is not None:
            await slots.acquire()
        try:
            if call.handler is None:
                value = None
            elif call.is_coroutine:
                with call.active():
                    value = await call.handler(*call.args)
            elif self.server.threads is None:
                value = call.invoke()
            else:
                value, error = await self.server.threads.run(call)
                if error is not None:
                    return dispatcher.finish(call, error=error)
        except BaseException as exc:
            reply = dispatcher.finish(call, error=exc)
            if not isinstance(exc, Exception):
                raise
            return reply
        finally:
            if slots is not None:
                slots.release()
        return dispatcher.finish(call, value)

    # -- idle timeout and shutdown ----------------------------------------------------

    def _arm_idle(self) -> None:
        timeout = self.server.timeout
        if timeout is not None and self.idle_timer is None:
            self.idle_timer = self.loop.call_at(self.last_data + timeout, self._idle_check)

    def _idle_check(self) -> None:
        self.idle_timer = None
        if self.lost or self.busy:
            return  # busy: re-armed when its requests are done
        timeout = self.server.timeout
        assert timeout is not None
        if self.threaded:  # its thread does not tell the loop when it is done: look again
            self.idle_timer = self.loop.call_at(self.loop.time() + timeout, self._idle_check)
            return
        if self.loop.time() - self.last_data < timeout:
            self._arm_idle()
            return
        log.debug("%s: closing idle connection from %s", self.server.dispatcher.name, self.peer)
        self._close()

    def shutdown(self) -> None:
        """The server is closing: close if idle, else after the requests received.

        "Idle" includes the socket: a request the client sent before it could see
        the close -- already in the socket buffer but not read by the loop yet -- is
        read and served, not lost to a reset. A request still on the network is the
        race no server can close; its client sees the connection end without a reply.
        """
        if self._idle() and not self._unread():
            self._close()
            return
        if self._idle() and not self.reading:
            self.reading = True
            self._transport().resume_reading()
        elif not self._idle() and self.reading:
            self.reading = False  # what is received is served; nothing more is read
            self._transport().pause_reading()

    def _idle_after(self) -> bool:
        """Nothing received is left once the reply in hand is sent."""
        return not self.queue and (self.conn is None or self.conn.buffered == 0)

    def _send_last(self, reply: bytes) -> None:
        """The connection's last reply and the FIN, in one TCP segment when they fit.

        The client then sees the close as soon as it has the reply, so a pool's
        checkout-time EOF check discards the connection instead of sending on it.
        """
        transport = self._transport()
        sock = transport.get_extra_info("socket")
        cork = _CORK is not None and sock is not None and sock.family in _TCP
        if cork:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, _CORK, 1)
        transport.write(reply)
        self._close()
        if cork:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, _CORK, 0)

    def _idle(self) -> bool:
        """Nothing received is left to handle (between requests)."""
        with self.io_lock:  # a thread serving the queue sees closing once it lets go
            threaded = self.threaded
        return not (
            self.busy or threaded or self.queue or (self.conn is not None and self.conn.buffered)
        )

    def _unread(self) -> bool:
        """Whether bytes wait in the socket that the loop has not read yet."""
        sock = None if self.transport is None else self.transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            peek = socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:
            return False
        try:
            return bool(peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except OSError:
            return False
        finally:
            peek.close()

    def abort(self) -> None:
        """The grace period is over: cancel what runs and close."""
        if self.task is not None:
            self.task.cancel()
        self._close()

    def _transport(self) -> asyncio.Transport:
        assert self.transport is not None
        return self.transport

    def _close(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            # FIN right behind the last reply (sent now when nothing waits to be
            # written), so a pooled client sees the close before reusing the socket.
            if not self.lost and transport.can_write_eof() and not self.write_paused:
                with contextlib.suppress(OSError, RuntimeError):
                    transport.write_eof()
            transport.close()

    def _finish(self) -> None:
        self.server.connections.discard(self)
        if self.conn is not None:
            self.conn.close()
        if not self.done.done():
            self.done.set_result(None)
