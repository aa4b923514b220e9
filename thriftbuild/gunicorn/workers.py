"""Thrift workers for gunicorn: one thread (or greenlet) per client connection.

(``thrift_sync --threads 0`` serves every connection from one epoll loop instead:
:mod:`thriftbuild.gunicorn.loop`.)

The worker's main thread accepts connections and keeps gunicorn's heartbeat; each
connection is served by its own thread, which decodes requests with
:class:`~thriftbuild.dispatch.ServerConnection` and runs them with
:meth:`~thriftbuild.dispatch.Dispatcher.handle` -- the request handling the
asyncio server shares. A process serves up to ``--worker-connections`` clients at
once (default 1000; ``--threads`` is not used); more wait in the listen backlog.
The gevent workers (:mod:`thriftbuild.gunicorn.geventworkers`) run this same code
with gevent's monkey-patching, so the threads are greenlets.

Lifecycle, as gunicorn's own workers:

* heartbeat: the main thread notifies the arbiter while no call has run longer
  than ``--timeout``; a stuck call stops the heartbeat, so the arbiter replaces
  the worker. Idle keep-alive connections never count;
* ``SIGTERM`` (and ``--max-requests``, counted in RPCs): stop accepting, close idle
  connections (at once, or within 0.1 s of their last request on the threaded
  workers), let every call in progress finish and send its reply
  (calls are not read from a connection after that), exit once all connections
  are closed or after ``--graceful-timeout``;
* ``SIGINT``/``SIGQUIT``: exit at once (gunicorn's quick shutdown).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import select
import selectors
import socket
import ssl
import threading
import time
from typing import Any, Protocol

from thriftbuild import wire
from thriftbuild._sockopt import set_receive_timeout
from thriftbuild.dispatch import Dispatcher, ServerConnection
from thriftbuild.gunicorn.base import (
    APACHE_DEFAULTS,
    THRIFTPY_DEFAULTS,
    Dropped,
    ThriftWorkerBase,
    send_last,
)
from thriftbuild.gunicorn.loop import EpollLoop
from thriftbuild.gunicorn.settings import setting

__all__ = ["ThriftSyncWorker", "ThriftWorker", "ThriftpySyncWorker"]

log = logging.getLogger("thriftbuild.server")

_READ = 65536
# Seconds a connection thread waits for the next request with recv alone (see
# ThriftWorker._hot_window): what an idle connection may delay a graceful shutdown.
_HOT = 0.1
# accept() failures that mean "out of resources for now": log and keep serving.
_ACCEPT_RETRY = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_EPOLL = getattr(select, "epoll", None)  # Linux


class _Client:
    """One connection, as the main thread counts them."""

    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


class ThriftWorker(ThriftWorkerBase):
    """The threaded Thrift worker; see the module docstring.

    Subclasses choose the default factories (``defaults``) and may change how
    sockets are waited on (the gevent workers do, by monkey-patching).
    """

    #: Whether connection threads wait with a raw ``epoll`` (real threads on Linux).
    native_poll = True

    sockets: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: set[_Client] = set()
        self._lock = threading.Lock()
        self._stop_r = self._stop_w = -1
        self._served = itertools.count(1)

    # -- setup ------------------------------------------------------------------------

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.dispatcher = Dispatcher(None, self.processor)
        self.dialect = self.configured_dialect(detect_by_default=False)
        self.client_timeout: float | None = setting(self.cfg, "thrift_client_timeout")

    # -- the main thread --------------------------------------------------------------

    def run(self) -> None:
        if self.on_the_loop:
            EpollLoop(self).run()
            return
        self._stop_r, self._stop_w = os.pipe()
        selector = selectors.DefaultSelector()
        selector.register(self.PIPE[0], selectors.EVENT_READ, None)
        for listener in self.sockets:
            listener.setblocking(False)
        accepting = False
        limit = self.worker_connections
        interval = min(1.0, self.timeout / 4) if self.timeout else 1.0
        while self.alive:
            self.heartbeat((self.dispatcher,))
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            want = len(self._clients) < limit
            if want != accepting:
                for listener in self.sockets:
                    if want:
                        selector.register(listener, selectors.EVENT_READ, listener)
                    else:
                        selector.unregister(listener)
                accepting = want
            for key, _ in selector.select(interval):
                if key.data is None:
                    self.drain_pipe()
                elif self.alive:
                    self._accept(key.data, limit)
        # Only a normal exit drains: SIGQUIT/SIGINT/SIGABRT leave through SystemExit.
        selector.close()
        self._shutdown()

    @property
    def on_the_loop(self) -> bool:
        """``--threads 0``: every call on one epoll loop (plain TCP on Linux; see
        :mod:`thriftbuild.gunicorn.loop`)."""
        return (
            int(self.cfg.threads) == 0
            and self.native_poll
            and _EPOLL is not None
            and self.ssl_context is None
        )

    @property
    def worker_connections(self) -> int:
        return int(self.cfg.worker_connections)

    def drain_pipe(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self.PIPE[0], 4096):
                pass

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self.PIPE[1], b".")

    def accept_one(self, listener: Any) -> tuple[socket.socket, Any] | None:
        """A connection from ``listener`` (blocking, TCP_NODELAY); ``None``: none now."""
        while True:
            try:
                sock, addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as exc:
                if exc.errno in _ACCEPT_RETRY:
                    self.log.error("accept() failed, will retry: %s", exc)
                    return None
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue
                raise
            sock.setblocking(True)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock, addr

    def _accept(self, listener: Any, limit: int) -> None:
        while len(self._clients) < limit:
            accepted = self.accept_one(listener)
            if accepted is None:
                return
            sock, addr = accepted
            client = _Client(sock)
            with self._lock:
                self._clients.add(client)
            thread = threading.Thread(
                target=self._serve, args=(client, addr), name=f"thrift-{addr}", daemon=True
            )
            thread.start()

    def _shutdown(self) -> None:
        """Stop accepting; close idle connections; wait for calls in progress."""
        for listener in self.sockets:
            with contextlib.suppress(OSError):
                listener.close()
        os.write(self._stop_w, b".")  # every idle connection thread wakes up and closes
        deadline = time.monotonic() + self.cfg.graceful_timeout
        selector = selectors.DefaultSelector()
        selector.register(self.PIPE[0], selectors.EVENT_READ)
        try:
            while self._clients and time.monotonic() < deadline:
                self.heartbeat((self.dispatcher,))
                selector.select(min(1.0, max(0.0, deadline - time.monotonic())))
                self.drain_pipe()
        finally:
            selector.close()
        self.warn_still_open(len(self._clients))

    def warn_still_open(self, connections: int) -> None:
        """Log the connections a shutdown leaves open when the graceful timeout ends."""
        if connections:
            self.log.warning(
                "Worker graceful timeout (pid:%s): %d connections still open",
                self.pid,
                connections,
            )

    # -- one connection ---------------------------------------------------------------

    def _serve(self, client: _Client, addr: Any) -> None:
        sock: Any = client.sock
        conn = None
        try:
            if self.ssl_context is not None:
                sock.settimeout(self.client_timeout or self.cfg.graceful_timeout)
                sock = client.sock = self.ssl_context.wrap_socket(
                    sock,
                    server_side=True,
                    suppress_ragged_eofs=self.cfg.suppress_ragged_eofs,
                )
                sock.settimeout(None)
            setting(self.cfg, "on_connected")(self, addr)
            conn = ServerConnection(self.dispatcher, peer=addr, dialect=self.dialect)
            self._loop(sock, conn, addr)
        except wire.WireError as exc:
            log.warning("closing connection from %s: %s", addr, exc)
            setting(self.cfg, "on_tdecode_exception")(exc)
        except (ssl.SSLError, OSError) as exc:
            if getattr(exc, "errno", None) not in (errno.ECONNRESET, errno.EPIPE):
                log.info("connection from %s failed: %s", addr, exc)
        except Exception:
            log.exception("connection from %s failed", addr)
        finally:
            if conn is not None:
                conn.close()
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._clients.discard(client)
            with contextlib.suppress(Exception):
                setting(self.cfg, "post_connect_closed")(self)
            self._wake()

    def _loop(self, sock: Any, conn: Any, addr: Any) -> None:
        wait = self._waiter(sock)
        handle = self.dispatcher.handle
        timeout = self.client_timeout
        tls = isinstance(sock, ssl.SSLSocket)
        # Up to `hot` seconds, the next request is awaited by a blocking recv alone
        # (the kernel's SO_RCVTIMEO bounds it); past that, by the wait, which also
        # watches the stop pipe. See _hot_window.
        hot = 0.0 if tls else self._hot_window(sock, timeout)
        rest = timeout if timeout is None or not hot else max(0.0, timeout - hot)
        try:
            while True:
                data = None
                if hot and self.alive:
                    try:  # noqa: SIM105 - suppress() costs a context manager per request
                        data = sock.recv(_READ)
                    except BlockingIOError:  # SO_RCVTIMEO expired: the client paused
                        pass
                if data is None:
                    if not (tls and sock.pending()):
                        # Shutting down, a connection between requests closes -- unless
                        # a request is already arriving: the client sent it before it
                        # could see the close, so it is served (else it would be lost).
                        idle = not self.alive and conn.buffered == 0
                        readable, stopping = wait(0 if idle else (rest if hot else timeout))
                        if not (readable or stopping or idle):
                            log.info(
                                "closing connection from %s: idle past the client timeout", addr
                            )
                            return
                        if not readable and conn.buffered == 0:
                            return
                    data = sock.recv(_READ)
                if not data:
                    return
                calls = conn.feed(data)
                last = len(calls) - 1
                for index, call in enumerate(calls):
                    try:
                        reply = handle(call)
                        self.count_rpc()  # first: a worker that is done closes after this reply
                        if index == last and not self.alive and conn.buffered == 0:
                            send_last(sock, reply)
                            return
                        if reply is not None:
                            _send(sock, reply)
                    except BaseException:
                        for left in calls[index + 1 :]:  # never run: not in progress either
                            self.dispatcher.finish(left, error=Dropped())
                        raise
        finally:
            wait.close()

    def _waiter(self, sock: Any) -> Wait:
        """A wait for ``sock`` to be readable or the stop pipe to fire.

        ``wait(timeout)`` gives ``(readable, stopping)``; ``timeout`` ``None``
        blocks. A raw ``epoll`` when the worker blocks its threads on the kernel
        (per request it costs a fraction of a ``selectors`` selector's Python);
        a selector otherwise (gevent's, which yields to the hub).
        """
        if self.native_poll and _EPOLL is not None:
            return _EpollWait(sock.fileno(), self._stop_r)
        return _SelectorWait(sock, self._stop_r)

    def _hot_window(self, sock: Any, timeout: float | None) -> float:
        """Set how long a bare ``recv`` may wait for a request; 0.0: not at all.

        Waiting with the ``epoll`` costs a system call and a GIL hand-off per
        request; a client sending its next call soon after a reply (the busy case)
        is better met by the ``recv`` alone. It blocks at most ``_HOT`` seconds (or
        the client timeout, if shorter), so a worker shutting down closes such an
        idle connection that much later instead of at once; then, or when the
        client pauses longer, the loop waits as before. Only threads blocking on the
        kernel use it (not gevent's greenlets, whose ``recv`` yields to the hub).
        """
        if not (self.native_poll and _EPOLL is not None):
            return 0.0
        hot = _HOT if timeout is None else min(_HOT, timeout)
        if hot <= 0:
            return 0.0
        try:
            set_receive_timeout(sock, round(hot * 1_000_000))
        except OSError:
            return 0.0
        return hot

    def count_rpc(self) -> None:
        """Count one RPC towards ``--max-requests``."""
        self.nr = served = next(self._served)  # itertools.count: atomic under the GIL
        if served < self.max_requests or not self.alive:
            return
        with self._lock:
            alive: bool = self.alive
            if not alive:
                return
            self.alive = False
        self.log.info("Autorestarting worker after current request.")
        self._wake()


class Wait(Protocol):
    """Waits for a connection to be readable or the stop pipe to fire."""

    def __call__(self, timeout: float | None) -> tuple[bool, bool]:
        """``(readable, stopping)`` once either is ready or after ``timeout`` (``None``: never)."""

    def close(self) -> None:
        """Release what the wait holds (not the connection)."""


class _EpollWait:
    """``select.epoll`` on a connection and the stop pipe; see ``ThriftWorker._waiter``."""

    __slots__ = ("_fd", "_poll", "close")

    def __init__(self, fd: int, stop: int) -> None:
        assert _EPOLL is not None
        poller = _EPOLL(2)
        try:
            poller.register(fd, select.EPOLLIN)
            poller.register(stop, select.EPOLLIN)
        except BaseException:
            poller.close()
            raise
        self._fd = fd
        self._poll = poller.poll
        self.close = poller.close

    def __call__(self, timeout: float | None) -> tuple[bool, bool]:
        events = self._poll(-1 if timeout is None else timeout)
        if not events:
            return False, False
        if len(events) == 1:
            readable = events[0][0] == self._fd
            return readable, not readable
        return True, True


class _SelectorWait:
    """The same wait through :mod:`selectors` (cooperative under gevent)."""

    __slots__ = ("_selector", "close")

    def __init__(self, sock: Any, stop: int) -> None:
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ, True)
        selector.register(stop, selectors.EVENT_READ, False)
        self._selector = selector
        self.close = selector.close

    def __call__(self, timeout: float | None) -> tuple[bool, bool]:
        readable = stopping = False
        for key, _ in self._selector.select(timeout):
            if key.data:
                readable = True
            else:
                stopping = True
        return readable, stopping


def _send(sock: Any, reply: bytes) -> None:
    """``sock.sendall(reply)``, trying one ``send`` first.

    A reply almost always fits the socket buffer whole; one ``send`` is then all it
    takes. gevent's ``sendall`` costs several Python frames and a ``getsockopt``
    system call per reply even so.
    """
    sent = sock.send(reply)
    if sent < len(reply):
        sock.sendall(memoryview(reply)[sent:])


class ThriftSyncWorker(ThriftWorker):
    """``thrift_sync``: threads; Apache's buffered binary by default."""

    defaults = APACHE_DEFAULTS


class ThriftpySyncWorker(ThriftWorker):
    """``thriftpy_sync``: threads; thriftpy2's buffered binary by default."""

    defaults = THRIFTPY_DEFAULTS
