"""``thrift_sync --threads 0``: every call on one ``epoll`` loop, for handlers that
never block.

With a thread per connection, every request wakes its own thread, which must then
win the GIL from the others: under load the futex calls and context switches cost
more than a quick handler. Here the worker's main thread waits on every connection
at once, reads what arrived and runs each call right there; under load one
``epoll_wait`` returns several ready connections and no thread ever switches. The
price is the asyncio worker's ``--threads 0``: a handler that blocks holds every
connection of the worker meanwhile, and one stuck past ``--timeout`` stops the
heartbeat, so the arbiter replaces the worker.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import time
from collections.abc import Iterable
from typing import Any, Protocol

from thriftbuild import wire
from thriftbuild.dispatch import Call, Dispatcher, ServerConnection
from thriftbuild.gunicorn.base import Dropped, cork
from thriftbuild.gunicorn.settings import setting

__all__ = ["EpollLoop", "LoopWorker"]

log = logging.getLogger("thriftbuild.server")

_READ = 65536
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_IN = getattr(select, "EPOLLIN", 1)
_OUT = getattr(select, "EPOLLOUT", 4)
_QUIET_ERRNOS = (errno.ECONNRESET, errno.EPIPE)


class LoopWorker(Protocol):
    """What the loop needs of its :class:`~thriftbuild.gunicorn.workers.ThriftWorker`."""

    alive: bool
    cfg: Any
    log: Any
    pid: int
    ppid: int
    timeout: int
    PIPE: list[int]
    sockets: list[Any]
    dispatcher: Dispatcher
    dialect: wire.Dialect | None
    client_timeout: float | None

    @property
    def worker_connections(self) -> int: ...
    def heartbeat(self, dispatchers: Iterable[Dispatcher]) -> None: ...
    def accept_one(self, listener: Any) -> tuple[socket.socket, Any] | None: ...
    def count_rpc(self) -> None: ...
    def drain_pipe(self) -> None: ...
    def warn_still_open(self, connections: int) -> None: ...


class _Link:
    """One connection the loop serves."""

    __slots__ = ("addr", "conn", "fd", "last", "queued", "sock", "unsent")

    def __init__(self, sock: socket.socket, addr: Any, conn: ServerConnection) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.addr = addr
        self.conn = conn
        self.last = time.monotonic()  # when it last sent bytes (the client timeout)
        # A reply the socket did not take whole, and the calls received after it:
        # the loop waits for the client to read (not reading meanwhile).
        self.unsent: memoryview | None = None
        self.queued: list[Call] = []


class EpollLoop:
    """The epoll loop of one worker; :meth:`run` until the worker stops."""

    def __init__(self, worker: LoopWorker) -> None:
        self.worker = worker
        self.dispatcher = worker.dispatcher
        self.links: dict[int, _Link] = {}
        self._poll = select.epoll()
        self._listeners: dict[int, Any] = {}

    def run(self) -> None:
        """Serve until the worker stops being alive, then shut down gracefully."""
        worker, poll, links = self.worker, self._poll, self.links
        pipe = worker.PIPE[0]
        poll.register(pipe, _IN)
        for listener in worker.sockets:
            listener.setblocking(False)
        accepting = False
        limit = worker.worker_connections
        interval = min(1.0, worker.timeout / 4) if worker.timeout else 1.0
        client_timeout = worker.client_timeout
        tick = interval if client_timeout is None else min(interval, client_timeout / 4)
        beat = sweep = 0.0
        try:
            while worker.alive:
                now = time.monotonic()
                if now - beat >= interval / 2:
                    beat = now
                    worker.heartbeat((self.dispatcher,))
                    if worker.ppid != os.getppid():
                        worker.log.info("Parent changed, shutting down: %s", worker)
                        break
                if client_timeout is not None and now - sweep >= tick:
                    sweep = now
                    self._close_timed_out(now, client_timeout)
                want = len(links) < limit
                if want != accepting:
                    self._listen(want)
                    accepting = want
                for fd, _ in poll.poll(tick):
                    link = links.get(fd)
                    if link is not None:
                        if link.unsent is None:
                            self._readable(link)
                        else:
                            self._writable(link)
                    elif fd == pipe:
                        worker.drain_pipe()
                    elif worker.alive:
                        self._accept(self._listeners[fd], limit)
            self._shutdown(pipe)
        finally:
            poll.close()

    def _listen(self, on: bool) -> None:
        for listener in self.worker.sockets:
            fd = listener.fileno()
            if on:
                self._poll.register(fd, _IN)
                self._listeners[fd] = listener
            else:
                self._poll.unregister(fd)
                del self._listeners[fd]

    def _shutdown(self, pipe: int) -> None:
        """Stop accepting; serve what already arrived; close every idle connection."""
        worker = self.worker
        for fd in list(self._listeners):
            self._poll.unregister(fd)
        self._listeners.clear()
        for listener in worker.sockets:
            with contextlib.suppress(OSError):
                listener.close()
        for link in list(self.links.values()):
            if link.unsent is None:
                self._readable(link)  # closes it unless a request is arriving
        deadline = time.monotonic() + worker.cfg.graceful_timeout
        while self.links and time.monotonic() < deadline:
            worker.heartbeat((self.dispatcher,))
            timeout = min(1.0, max(0.0, deadline - time.monotonic()))
            for fd, _ in self._poll.poll(timeout):
                ready = self.links.get(fd)
                if ready is None:
                    if fd == pipe:
                        worker.drain_pipe()
                elif ready.unsent is None:
                    self._readable(ready)
                else:
                    self._writable(ready)
        worker.warn_still_open(len(self.links))

    def _accept(self, listener: Any, limit: int) -> None:
        worker = self.worker
        while len(self.links) < limit:
            accepted = worker.accept_one(listener)
            if accepted is None:
                return
            sock, addr = accepted
            try:
                setting(worker.cfg, "on_connected")(worker, addr)
            except Exception:
                log.exception("connection from %s failed", addr)
                sock.close()
                continue
            conn = ServerConnection(self.dispatcher, peer=addr, dialect=worker.dialect)
            link = _Link(sock, addr, conn)
            self.links[link.fd] = link
            self._poll.register(link.fd, _IN)

    def _close(self, link: _Link) -> None:
        self._drop(link.queued)
        link.queued = []
        del self.links[link.fd]
        with contextlib.suppress(OSError, ValueError):
            self._poll.unregister(link.fd)
        link.conn.close()
        with contextlib.suppress(OSError):
            link.sock.close()
        with contextlib.suppress(Exception):
            setting(self.worker.cfg, "post_connect_closed")(self.worker)

    def _close_timed_out(self, now: float, timeout: float) -> None:
        for link in list(self.links.values()):
            if now - link.last > timeout:
                log.info("closing connection from %s: idle past the client timeout", link.addr)
                self._close(link)

    def _readable(self, link: _Link) -> None:
        """Read what ``link`` has and run the calls it completes. Once the worker
        stops, a connection with nothing arriving is closed."""
        try:
            data = link.sock.recv(_READ, _DONTWAIT)
        except BlockingIOError:
            if not self.worker.alive and link.conn.buffered == 0:
                self._close(link)
            return
        except OSError as exc:
            if exc.errno not in _QUIET_ERRNOS:
                log.info("connection from %s failed: %s", link.addr, exc)
            self._close(link)
            return
        if not data:
            self._close(link)
            return
        if self.worker.client_timeout is not None:
            link.last = time.monotonic()
        try:
            calls = link.conn.feed(data)
        except wire.WireError as exc:
            log.warning("closing connection from %s: %s", link.addr, exc)
            setting(self.worker.cfg, "on_tdecode_exception")(exc)
            self._close(link)
            return
        if calls:
            self._run(link, calls)
        elif not self.worker.alive and link.conn.buffered == 0:
            self._close(link)

    def _run(self, link: _Link, calls: list[Call]) -> None:
        worker, handle, sock = self.worker, self.dispatcher.handle, link.sock
        last = len(calls) - 1
        for index, call in enumerate(calls):
            try:
                reply = handle(call)
            except BaseException:
                self._drop(calls[index + 1 :])
                raise  # SystemExit from gunicorn's quick-exit signal handlers
            worker.count_rpc()
            try:
                # The last reply of a worker that stops leaves with the FIN (corked
                # into one segment), unless the client is not reading.
                closing = index == last and not worker.alive and link.conn.buffered == 0
                if closing:
                    cork(sock, True)
                sent = 0
                if reply is not None:
                    try:  # noqa: SIM105 - suppress() costs a context manager per call
                        sent = sock.send(reply, _DONTWAIT)
                    except BlockingIOError:
                        pass
                if reply is not None and sent < len(reply):  # wait till the client reads
                    if closing:
                        cork(sock, False)
                    link.unsent = memoryview(reply)[sent:]
                    link.queued = calls[index + 1 :]
                    self._poll.modify(link.fd, _OUT)
                    return
                if closing:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_WR)
                    cork(sock, False)
                    self._close(link)
                    return
            except OSError as exc:
                if exc.errno not in _QUIET_ERRNOS:
                    log.info("connection from %s failed: %s", link.addr, exc)
                self._drop(calls[index + 1 :])
                self._close(link)
                return

    def _writable(self, link: _Link) -> None:
        """Send more of ``link``'s reply; once all is sent, run the calls queued."""
        unsent = link.unsent
        assert unsent is not None
        try:
            sent = link.sock.send(unsent, _DONTWAIT)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno not in _QUIET_ERRNOS:
                log.info("connection from %s failed: %s", link.addr, exc)
            self._drop(link.queued)
            self._close(link)
            return
        if sent < len(unsent):
            link.unsent = unsent[sent:]
            return
        link.unsent, calls, link.queued = None, link.queued, []
        self._poll.modify(link.fd, _IN)
        if calls:
            self._run(link, calls)
        elif not self.worker.alive and link.conn.buffered == 0:
            self._close(link)

    def _drop(self, calls: list[Call]) -> None:
        for call in calls:  # never run: not in progress either
            self.dispatcher.finish(call, error=Dropped())
