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

from thriftbuild.gunicorn.base import ThriftWorkerBase
from thriftbuild.gunicorn.settings import setting

__all__ = ["ThriftAsyncioWorker"]


class ThriftAsyncioWorker(ThriftWorkerBase):
    """The asyncio Thrift worker; see the module docstring."""

    def load_wsgi(self) -> None:
        super().load_wsgi()
        # Unlike the threaded workers (whose default is gunicorn_thrift's buffered
        # binary), every dialect is detected unless a factory is configured.
        self.dialect = self.configured_dialect(detect_by_default=True)

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
            self.heartbeat(s.dispatcher for s in servers)
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
            self.heartbeat(s.dispatcher for s in servers)
            await asyncio.wait([closing], timeout=interval)
