"""What every Thrift worker shares: the app as a processor, TLS, the dialect its
settings pin, the exit hook, log routing and the heartbeat."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterable
from typing import Any

from gunicorn.workers.base import Worker

from thriftbuild import wire
from thriftbuild.dispatch import Dispatcher
from thriftbuild.gunicorn.app import processor_of
from thriftbuild.gunicorn.factories import dialect_for, resolve_name
from thriftbuild.gunicorn.settings import setting

__all__ = [
    "APACHE_DEFAULTS",
    "THRIFTPY_DEFAULTS",
    "Dropped",
    "ThriftWorkerBase",
    "cork",
    "route_logs",
    "send_last",
]

log = logging.getLogger("thriftbuild.server")

#: gunicorn_thrift's default (transport, protocol) factories for its Apache workers.
APACHE_DEFAULTS = (
    "thrift.transport.TTransport:TBufferedTransportFactory",
    "thrift.protocol.TBinaryProtocol:TBinaryProtocolAcceleratedFactory",
)
#: ... and for its thriftpy workers.
THRIFTPY_DEFAULTS = (
    "thriftpy2.transport:TBufferedTransportFactory",
    "thriftpy2.protocol:TBinaryProtocolFactory",
)


class Dropped(BaseException):
    """Finishes a received call that is never run (its connection failed first)."""


def route_logs(worker: Any) -> None:
    """Send ``thriftbuild`` log records to gunicorn's error log, unless logging is set up.

    Handler tracebacks and closed connections then appear in gunicorn's log, in its
    format; a ``--log-config`` that configures the ``thriftbuild`` logger (or the
    root logger) is left alone.
    """
    ours = logging.getLogger("thriftbuild")
    if ours.handlers or logging.getLogger().handlers:
        return
    error_log = getattr(worker.log, "error_log", None)
    if error_log is None:
        return
    for handler in error_log.handlers:
        ours.addHandler(handler)
    ours.setLevel(error_log.level)
    ours.propagate = False


class ThriftWorkerBase(Worker):  # type: ignore[misc]
    """A gunicorn worker serving a Thrift processor.

    After the fork, :meth:`load_wsgi` resolves the app gunicorn loaded into
    ``processor`` (calling a factory here, in the worker) and ``--certfile`` into
    ``ssl_context``. Subclasses run the I/O loop and call :meth:`heartbeat`.
    """

    #: The (transport, protocol) factories a pinned dialect falls back to.
    defaults: tuple[str, str] = APACHE_DEFAULTS

    alive: bool
    processor: Any
    ssl_context: Any
    _stuck_logged = False

    def load_wsgi(self) -> None:
        route_logs(self)
        self.processor = processor_of(
            self.app.wsgi(), as_factory=setting(self.cfg, "thrift_processor_as_factory")
        )
        self.ssl_context = None
        if self.cfg.is_ssl:
            from gunicorn.sock import ssl_context

            self.ssl_context = ssl_context(self.cfg)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        setting(self.cfg, "worker_term")(self)

    def configured_dialect(self, *, detect_by_default: bool) -> wire.Dialect | None:
        """The dialect the factory settings pin, or ``None``: detect each client's.

        ``--thrift-auto-dialect`` always detects. Otherwise a configured factory
        pins the port (the other one keeps :attr:`defaults`); with neither
        configured, ``detect_by_default`` decides.
        """
        cfg = self.cfg
        if setting(cfg, "thrift_auto_dialect"):
            return None
        transport = setting(cfg, "thrift_transport_factory")
        protocol = setting(cfg, "thrift_protocol_factory")
        if transport is None and protocol is None and detect_by_default:
            return None
        return dialect_for(
            resolve_name(transport or self.defaults[0]),
            resolve_name(protocol or self.defaults[1]),
        )

    def heartbeat(self, dispatchers: Iterable[Dispatcher]) -> None:
        """Notify the arbiter unless a call has run past ``--timeout``.

        A stuck call so stops the heartbeat and the arbiter replaces the worker;
        idle connections never count.
        """
        if self.timeout:
            started = [d.oldest_active() for d in dispatchers]
            oldest = min((t for t in started if t is not None), default=None)
            now = time.monotonic()
            if oldest is not None and now - oldest > self.timeout:
                if not self._stuck_logged:
                    self._stuck_logged = True
                    log.error(
                        "a call has run for %.0fs, past --timeout %ss: no heartbeat, "
                        "the arbiter will replace this worker",
                        now - oldest,
                        self.timeout,
                    )
                return
        self.notify()


_CORK = getattr(socket, "TCP_CORK", None)  # Linux: hold segments until uncorked


def cork(sock: Any, on: bool) -> None:
    """Hold (``True``) or release a TCP socket's outgoing segments; elsewhere a no-op."""
    if _CORK is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _CORK, int(on))


def send_last(sock: Any, reply: bytes | None) -> None:
    """Send a connection's last reply with the FIN in the same TCP segment.

    The client then sees the close as soon as it has the reply, so a pool's
    checkout-time EOF check discards the connection instead of sending on it.
    """
    cork(sock, True)
    try:
        if reply is not None:
            sock.sendall(reply)
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_WR)  # the plain socket's: no TLS unwrap
    finally:
        cork(sock, False)
