"""``thrift_asyncio``: a gunicorn worker running :mod:`thriftbuild.aio`'s server.

Each of gunicorn's listening sockets is served by :func:`thriftbuild.aio.create_server`
on one event loop per worker: ``async def`` handler methods run on the loop, plain
ones in a thread pool (``--threads N`` threads when N > 1, the aio default for 1,
gunicorn's default; ``--threads 0`` runs them on the loop, for handlers that never block)
until they prove quick there, then on the loop (see :func:`thriftbuild.aio.create_server`).
Every client's dialect is detected, unless ``--thrift-transport-factory`` or
``--thrift-protocol-factory`` is given: then that dialect only, as in the threaded
workers. ``--worker-connections`` caps open connections, ``--thrift-client-timeout`` is the
idle timeout. Lifecycle as the threaded workers: a call running past ``--timeout``
stops the heartbeat; SIGTERM and ``--max-requests`` (counted in RPCs) close the
servers gracefully (idle connections at once, calls in progress finish, within
``--graceful-timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from typing import Any

from gunicorn.workers.base import Worker

from thriftbuild import wire
from thriftbuild.gunicorn.app import processor_of
from thriftbuild.gunicorn.factories import dialect_for, resolve_name
from thriftbuild.gunicorn.settings import setting
from thriftbuild.gunicorn.workers import _APACHE_DEFAULTS, route_logs

__all__ = ["ThriftAsyncioWorker"]


class ThriftAsyncioWorker(Worker):  # type: ignore[misc]
    """The asyncio Thrift worker; see the module docstring."""

    alive: bool

    def load_wsgi(self) -> None:
        route_logs(self)
        self.processor = processor_of(
            self.app.wsgi(), as_factory=setting(self.cfg, "thrift_processor_as_factory")
        )
        self.dialect = _dialect(self.cfg)
        self.ssl_context = None
        if self.cfg.is_ssl:
            from gunicorn.sock import ssl_context

            self.ssl_context = ssl_context(self.cfg)

    def handle_exit(self, sig: int, frame: Any) -> None:
        # SIGTERM before the event loop has installed its own handler (see _main).
        super().handle_exit(sig, frame)
        setting(self.cfg, "worker_term")(self)

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from thriftbuild.aio import create_server

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def on_term() -> None:
            self.alive = False
            setting(self.cfg, "worker_term")(self)
            stop.set()

        loop.add_signal_handler(signal.SIGTERM, on_term)
        threads = int(self.cfg.threads)
        servers = [
            await create_server(
                None,
                self.processor,
                timeout=setting(self.cfg, "thrift_client_timeout"),
                ssl=self.ssl_context,
                max_connections=int(self.cfg.worker_connections),
                handler_threads=threads if threads != 1 else None,  # 0: on the loop
                grace=float(self.cfg.graceful_timeout),
                sock=listener.sock,
                dialect=self.dialect,
            )
            for listener in self.sockets
        ]

        def count() -> None:  # after every RPC, on the loop: --max-requests
            if self.alive and sum(s.dispatcher.handled for s in servers) >= self.max_requests:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
                stop.set()
                # Now, before this RPC's reply is written: idle connections close
                # first and this one right after its reply, so a pooled client sees
                # every close before it could send on one of them.
                for server in servers:
                    server.close()

        if self.cfg.max_requests > 0:  # counting on the loop keeps replies on the loop
            for server in servers:
                server.dispatcher.on_finish = count
        interval = min(1.0, self.timeout / 4) if self.timeout else 1.0
        while self.alive:
            self._heartbeat(servers)
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
        self.alive = False
        for server in servers:
            server.close()
        closing = asyncio.gather(*(server.wait_closed() for server in servers))
        while not closing.done():
            self._heartbeat(servers)
            await asyncio.wait([closing], timeout=interval)

    def _heartbeat(self, servers: list[Any]) -> None:
        """Notify the arbiter unless a call has run past ``--timeout``."""
        if self.timeout:
            started = [s.dispatcher.oldest_active() for s in servers]
            oldest = min((t for t in started if t is not None), default=None)
            if oldest is not None and time.monotonic() - oldest > self.timeout:
                return
        self.notify()


def _dialect(cfg: Any) -> wire.Dialect | None:
    """The dialect the factory settings pin, or ``None``: detect each client's.

    Unlike the threaded workers (whose default is gunicorn_thrift's buffered
    binary), this worker detects every dialect unless a factory is configured;
    a configured one pins the port as it does there (the other factory keeps
    gunicorn_thrift's default). ``--thrift-auto-dialect`` always detects.
    """
    if setting(cfg, "thrift_auto_dialect"):
        return None
    transport = setting(cfg, "thrift_transport_factory")
    protocol = setting(cfg, "thrift_protocol_factory")
    if transport is None and protocol is None:
        return None
    return dialect_for(
        resolve_name(transport or _APACHE_DEFAULTS[0]),
        resolve_name(protocol or _APACHE_DEFAULTS[1]),
    )
