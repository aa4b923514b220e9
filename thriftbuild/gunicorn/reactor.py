"""The threaded workers' loop for plain TCP: every idle connection in one ``epoll``.

With a thread per connection, every request wakes its own thread, which must then
win the GIL from the others: under load the futex calls and context switches cost
more than the call itself. Here the worker's main thread waits on all idle
connections at once, reads what arrived and runs a request of a plain handler
method proven quick (:mod:`thriftbuild.dispatch.inline`) right there. Under load
one ``epoll_wait`` returns several ready connections and no thread switches at all.

Any other request (a method not proven quick yet, a coroutine method, a reply
the socket cannot take at once) hands its connection to a handler thread, which
runs the calls, sends the replies and serves the connection's next requests as
well while they come within :data:`HOT` seconds of each other; then (or once the
method called last earned the loop) it hands the connection back. Meanwhile the
loop does not read from it, so one connection's calls run in order. There are as
many handler threads as connections have ever been handed off at once (at most
``--worker-connections``); idle ones wait for the next hand-off.

A handler proven quick that then blocks holds every connection of the worker for
that one call (its method runs in the threads from then on, see
:mod:`~thriftbuild.dispatch.inline`); one stuck for good stops the heartbeat, so
the arbiter replaces the worker after ``--timeout``.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import os
import queue
import select
import socket
import struct
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

from thriftbuild import wire
from thriftbuild.dispatch import Call, Dispatcher, ServerConnection
from thriftbuild.dispatch.inline import LIMIT, SLOW, InlineGuard, PreemptionWatch
from thriftbuild.gunicorn.settings import setting

__all__ = ["Dropped", "Reactor", "Worker", "send_last"]

log = logging.getLogger("thriftbuild.server")

_READ = 65536
_DONTWAIT = socket.MSG_DONTWAIT
_IN = select.EPOLLIN
_QUIET_ERRNOS = (errno.ECONNRESET, errno.EPIPE)
_CORK = getattr(socket, "TCP_CORK", None)  # Linux: hold segments until uncorked
#: Seconds a handler thread waits for its connection's next request before handing
#: it back to the loop: what such an idle connection may delay a graceful shutdown.
HOT = 0.1
_HOT_TIMEVAL = struct.pack("@ll", 0, int(HOT * 1_000_000))  # struct timeval


class _Link:
    """One connection the loop serves."""

    __slots__ = ("addr", "bounded", "conn", "fd", "in_thread", "last", "sock")

    def __init__(self, sock: socket.socket, addr: Any, conn: ServerConnection) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.addr = addr
        self.conn = conn
        self.in_thread = False  # handed to a handler thread: not in the epoll
        self.bounded = False  # SO_RCVTIMEO set (HOT)
        self.last = time.monotonic()  # when it last sent bytes (the client timeout)


class Dropped(BaseException):
    """Finishes a received call that is never run (its connection failed first)."""


class Worker(Protocol):
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
    def wake(self) -> None: ...
    def drain_pipe(self) -> None: ...


class Reactor:
    """The epoll loop of one :class:`~thriftbuild.gunicorn.workers.ThriftWorker`."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.dispatcher = worker.dispatcher
        self.guard = InlineGuard()
        self._watch = PreemptionWatch()
        self.links: dict[int, _Link] = {}
        self._poll = select.epoll()
        self._returned: collections.deque[tuple[_Link, bool]] = collections.deque()
        self._jobs: queue.SimpleQueue[tuple[_Link, bytes, list[Call]]] = queue.SimpleQueue()
        self._idle_threads = 0
        self._lock = threading.Lock()
        self._listeners: dict[int, Any] = {}
        self._client_timeout: float | None = worker.client_timeout

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        """Serve until the worker stops being alive, then shut down gracefully."""
        worker = self.worker
        poll = self._poll
        pipe = worker.PIPE[0]
        poll.register(pipe, _IN)
        for listener in worker.sockets:
            listener.setblocking(False)
        accepting = False
        limit = worker.worker_connections
        interval = min(1.0, worker.timeout / 4) if worker.timeout else 1.0
        client_timeout = self._client_timeout
        tick = interval if client_timeout is None else min(interval, client_timeout / 4)
        beat = sweep = 0.0
        links, readable, watch, inline = self.links, self._readable, self._watch, self.guard.inline
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
                events = poll.poll(tick)
                if inline:
                    watch.mark()
                for fd, _ in events:
                    link = links.get(fd)
                    if link is not None:
                        readable(link)
                    elif fd == pipe:
                        worker.drain_pipe()
                        self._take_back()
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
        """Stop accepting; close idle connections; let calls in progress finish."""
        worker = self.worker
        for fd in list(self._listeners):
            self._poll.unregister(fd)
        self._listeners.clear()
        for listener in worker.sockets:
            with contextlib.suppress(OSError):
                listener.close()
        for link in list(self.links.values()):
            if not link.in_thread:
                self._readable(link)  # a request already arriving is served
        deadline = time.monotonic() + worker.cfg.graceful_timeout
        while self.links and time.monotonic() < deadline:
            worker.heartbeat((self.dispatcher,))
            timeout = min(1.0, max(0.0, deadline - time.monotonic()))
            for fd, _ in self._poll.poll(timeout):
                ready = self.links.get(fd)
                if ready is not None:
                    self._readable(ready)
                elif fd == pipe:
                    worker.drain_pipe()
                    self._take_back()
        if self.links:
            worker.log.warning(
                "Worker graceful timeout (pid:%s): %d connections still open",
                worker.pid,
                len(self.links),
            )

    # -- connections ----------------------------------------------------------------------

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

    def _close(self, link: _Link, registered: bool = True) -> None:
        self.links.pop(link.fd, None)
        if registered:
            with contextlib.suppress(OSError, ValueError):
                self._poll.unregister(link.fd)
        link.conn.close()
        with contextlib.suppress(OSError):
            link.sock.close()
        with contextlib.suppress(Exception):
            setting(self.worker.cfg, "post_connect_closed")(self.worker)

    def _close_timed_out(self, now: float, timeout: float) -> None:
        for link in list(self.links.values()):
            if not link.in_thread and now - link.last > timeout:
                log.info("closing connection from %s: idle past the client timeout", link.addr)
                self._close(link)

    def _readable(self, link: _Link) -> None:
        """Read what ``link`` has; run the calls it completes. Closes idle links once
        the worker stops (after serving what already arrived)."""
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
        if self._client_timeout is not None:
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
        """Run ``calls`` here while their methods are proven quick; hand the rest off."""
        worker, handle, guard = self.worker, self.dispatcher.handle, self.guard
        inline, last = guard.inline, len(calls) - 1
        clock = time.perf_counter
        for index, call in enumerate(calls):
            if call.handler is not None and (
                call.is_coroutine or call.request.method not in inline
            ):
                self._hand_off(link, b"", calls[index:])
                return
            started = clock()
            try:
                reply = handle(call)
            except BaseException:
                self._drop(calls[index + 1 :])
                raise  # SystemExit from gunicorn's quick-exit signal handlers
            elapsed = clock() - started
            if elapsed >= SLOW and not self._watch.preempted():
                guard.slow(call.request.method, elapsed)
            worker.count_rpc()
            try:
                if index == last and not worker.alive and link.conn.buffered == 0:
                    send_last(link.sock, reply)
                    self._close(link)
                    return
                if reply is None:
                    continue
                try:
                    sent = link.sock.send(reply, _DONTWAIT)
                except BlockingIOError:
                    sent = 0
            except OSError as exc:
                if exc.errno not in _QUIET_ERRNOS:
                    log.info("connection from %s failed: %s", link.addr, exc)
                self._drop(calls[index + 1 :])
                self._close(link)
                return
            if sent < len(reply):  # the socket buffer is full: a thread waits for it
                self._hand_off(link, reply[sent:], calls[index + 1 :])
                return

    def _drop(self, calls: list[Call]) -> None:
        for call in calls:  # never run: not in progress either
            self.dispatcher.finish(call, error=Dropped())

    # -- handler threads --------------------------------------------------------------

    def _hand_off(self, link: _Link, unsent: bytes, calls: list[Call]) -> None:
        """Give ``link`` to a handler thread: send ``unsent``, then run ``calls``."""
        self._poll.unregister(link.fd)
        link.in_thread = True
        if not link.bounded:  # the thread's recv: see _serve_in_thread
            link.bounded = True
            with contextlib.suppress(OSError):
                link.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _HOT_TIMEVAL)
        with self._lock:
            spawn = self._idle_threads == 0
            if not spawn:
                self._idle_threads -= 1
        if spawn:
            threading.Thread(target=self._thread, name="thrift-handler", daemon=True).start()
        self._jobs.put((link, unsent, calls))

    def _thread(self) -> None:
        watch = PreemptionWatch()  # this thread's
        while True:
            link, unsent, calls = self._jobs.get()
            try:
                open_ = self._serve_in_thread(link, unsent, calls, watch)
            except BaseException:
                log.exception("connection from %s failed", link.addr)
                open_ = False
            self._returned.append((link, open_))
            self.worker.wake()
            with self._lock:
                self._idle_threads += 1

    def _serve_in_thread(
        self, link: _Link, unsent: bytes, calls: list[Call], watch: PreemptionWatch
    ) -> bool:
        """Serve ``link`` in this thread while its client keeps it busy; whether the
        connection stays open (it goes back to the loop).

        Handing a connection back and forth per call would cost two thread switches
        a call; so the thread keeps it and waits for the next request with a
        ``recv`` the kernel bounds (``SO_RCVTIMEO``, :data:`HOT` seconds). It hands
        the connection back when that expires, when the worker stops, or once the
        method called last earned the loop.
        """
        sock, guard, worker = link.sock, self.guard, self.worker
        try:
            if unsent:
                sock.sendall(unsent)
            while True:
                if calls:
                    if not self._run_in_thread(link, calls, watch):
                        return False
                    if calls[-1].request.method in guard.inline:
                        return True
                if not worker.alive:
                    return True
                try:
                    data = sock.recv(_READ)
                except BlockingIOError:  # SO_RCVTIMEO expired: the client paused
                    return True
                if not data:
                    return False
                if self._client_timeout is not None:
                    link.last = time.monotonic()
                calls = link.conn.feed(data)
        except wire.WireError as exc:
            log.warning("closing connection from %s: %s", link.addr, exc)
            setting(worker.cfg, "on_tdecode_exception")(exc)
            return False
        except OSError as exc:
            if exc.errno not in _QUIET_ERRNOS:
                log.info("connection from %s failed: %s", link.addr, exc)
            return False

    def _run_in_thread(self, link: _Link, calls: list[Call], watch: PreemptionWatch) -> bool:
        """Run and answer ``calls`` here; ``False`` once the connection is closed.

        Each plain call is timed for the guard; one the OS preempted (on a busy
        machine, often) counts by its CPU time, else no method proves quick under
        load.
        """
        worker, handle, timed = self.worker, self.dispatcher.handle, self.guard.timed
        sock, last, clock = link.sock, len(calls) - 1, time.perf_counter
        for index, call in enumerate(calls):
            plain = call.handler is not None and not call.is_coroutine
            if plain:
                watch.mark()
            started = clock()
            try:
                reply = handle(call)
            except BaseException:
                self._drop(calls[index + 1 :])
                raise
            if plain:
                elapsed = clock() - started
                if elapsed >= LIMIT and watch.preempted(cpu_below=LIMIT):
                    elapsed = 0.0  # quick, but the OS ran something else meanwhile
                timed(call.request.method, elapsed)
            worker.count_rpc()
            if index == last and not worker.alive and link.conn.buffered == 0:
                send_last(sock, reply)
                return False
            if reply is not None:
                sock.sendall(reply)
        return True

    def _take_back(self) -> None:
        """Links handler threads are done with: back into the epoll, or closed."""
        returned = self._returned
        while returned:
            link, open_ = returned.popleft()
            link.in_thread = False
            if not open_:
                self._close(link, registered=False)
                continue
            self._poll.register(link.fd, _IN)
            if self._client_timeout is not None:
                link.last = time.monotonic()
            if not self.worker.alive:
                self._readable(link)  # closes it unless a request is arriving


def send_last(sock: Any, reply: bytes | None) -> None:
    """Send a connection's last reply with the FIN in the same TCP segment.

    The client then sees the close as soon as it has the reply, so a pool's
    checkout-time EOF check discards the connection instead of sending on it.
    """
    cork = _CORK if sock.family in (socket.AF_INET, socket.AF_INET6) else None
    if cork is not None:
        sock.setsockopt(socket.IPPROTO_TCP, cork, 1)
    if reply is not None:
        sock.sendall(reply)
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_WR)  # the plain socket's: no TLS unwrap
    if cork is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, cork, 0)
