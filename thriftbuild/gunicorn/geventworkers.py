"""Thrift workers on gevent: the threaded workers' code, with greenlets for threads.

``init_process`` monkey-patches the standard library (as gunicorn's gevent worker
does), so every connection "thread" of :class:`~thriftbuild.gunicorn.workers.ThriftWorker`
is a greenlet and every socket wait yields to the hub. ``--worker-connections``
bounds the connections (greenlets) per process. Handlers must not block the hub:
``--gevent-check-interval N`` logs, with its stack, any greenlet that runs N
seconds without yielding (gevent's own monitor thread).
"""

from __future__ import annotations

import logging
import select
from typing import Any

try:
    import gevent
    from gevent import hub, monkey
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise RuntimeError(
        "the gevent workers need gevent: pip install 'thriftbuild[gunicorn]'"
    ) from exc

from thriftbuild.gunicorn.base import APACHE_DEFAULTS, THRIFTPY_DEFAULTS
from thriftbuild.gunicorn.settings import setting
from thriftbuild.gunicorn.workers import ThriftWorker, Wait

__all__ = ["ThriftGeventWorker", "ThriftpyGeventWorker"]

log = logging.getLogger("thriftbuild.server")


class _GeventWorker(ThriftWorker):
    native_poll = False  # a raw epoll would block the hub

    def init_process(self) -> None:
        monkey.patch_all()
        import socket

        # The listeners were made before patching: give each a cooperative socket.
        self.sockets = [
            socket.socket(s.FAMILY, socket.SOCK_STREAM, fileno=s.sock.detach())
            for s in self.sockets
        ]
        interval = float(setting(self.cfg, "gevent_check_interval") or 0)
        if interval > 0:
            _monitor_blocking(interval)
        hub.reinit()
        super().init_process()

    def _waiter(self, sock: Any) -> Wait:
        return _GeventWait(sock.fileno(), self._stop_r)

    def handle_quit(self, sig: int, frame: Any) -> None:
        # Leave the signal handler first, as gunicorn's gevent worker does (#1126).
        gevent.spawn(super().handle_quit, sig, frame)

    def handle_usr1(self, sig: int, frame: Any) -> None:
        gevent.spawn(super().handle_usr1, sig, frame)


class _GeventWait:
    """The connection's wait as two watchers on the hub's loop, made once per connection.

    Cheaper per request than gevent's selector (which re-arms watchers and an
    event per ``select``): each wait starts the two watchers (and a timer) with one
    :class:`~gevent.hub.Waiter`; whichever fires first resumes the greenlet, and a
    late second one finds the waiter done (it only stores the value).
    """

    __slots__ = ("_hub", "_io", "_poll", "_stop", "_zero")

    def __init__(self, fd: int, stop: int) -> None:
        self._hub = hub.get_hub()
        loop = self._hub.loop
        self._io = loop.io(fd, 1)  # 1: readable
        self._stop = loop.io(stop, 1)
        # A zero timeout polls without yielding: the kernel's own poll, unpatched.
        poll = monkey.get_original("select", "poll")()
        poll.register(fd, select.POLLIN)
        poll.register(stop, select.POLLIN)
        self._poll = poll.poll
        self._zero = fd

    def __call__(self, timeout: float | None) -> tuple[bool, bool]:
        if timeout is not None and timeout <= 0:
            ready = {fd for fd, _ in self._poll(0)}
            readable = self._zero in ready
            return readable, bool(ready) and not readable
        waiter = hub.Waiter(self._hub)
        self._io.start(waiter.switch, _READABLE)
        self._stop.start(waiter.switch, _STOPPING)
        timer = None
        if timeout is not None:
            timer = self._hub.loop.timer(timeout)
            timer.start(waiter.switch, _TIMED_OUT)
        try:
            event = waiter.get()
        finally:
            self._io.stop()
            self._stop.stop()
            if timer is not None:
                timer.close()
        return event is _READABLE, event is _STOPPING

    def close(self) -> None:
        self._io.close()
        self._stop.close()


_READABLE, _STOPPING, _TIMED_OUT = object(), object(), object()


def _monitor_blocking(interval: float) -> None:
    """Log greenlets that block the hub longer than ``interval`` seconds."""
    from gevent import events

    gevent.config.monitor_thread = True
    gevent.config.max_blocking_time = interval

    def report(event: Any) -> None:
        if isinstance(event, events.EventLoopBlocked):
            log.error(
                "Greenlet appears to be blocked for %.1fs or more\n%s",
                event.blocking_time,
                "\n".join(event.info),
            )

    events.subscribers.append(report)


class ThriftGeventWorker(_GeventWorker):
    """``thrift_gevent``: greenlets; Apache's buffered binary by default."""

    defaults = APACHE_DEFAULTS


class ThriftpyGeventWorker(_GeventWorker):
    """``thriftpy_gevent``: greenlets; thriftpy2's buffered binary by default."""

    defaults = THRIFTPY_DEFAULTS
