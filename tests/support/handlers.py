"""Echo handlers for the servers under test: plain methods, coroutines, and request access."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from tests.support.servers import EchoHandler
from thriftbuild.dispatch import current_request


class RequestEchoHandler(EchoHandler):
    """The Echo handler whose ``header()`` reads the request through ``current_request()``."""

    def __init__(self, ttypes: Any) -> None:
        super().__init__(ttypes)
        self.threads: set[str] = set()
        self.deadlines: list[float | None] = []

    def header(self, name: str) -> str:
        request = current_request()
        assert request is not None and request.method == "header"
        self.deadlines.append(request.time_left())
        self.threads.add(threading.current_thread().name)
        return request.headers.get(name, "")

    def echo(self, text: str) -> str:
        self.threads.add(threading.current_thread().name)
        if text == "boom":
            raise RuntimeError("the handler broke")
        return text


class AsyncEchoHandler(RequestEchoHandler):
    """Coroutine versions of ``sleep`` and ``bump``; the rest stay plain functions.

    ``sleep`` waits on ``release`` (set it to end every sleep early) and sets
    ``started`` when it begins, so tests can act while a call is in flight.
    """

    def __init__(self, ttypes: Any) -> None:
        super().__init__(ttypes)
        self.started = asyncio.Event()
        self.wake = asyncio.Event()
        self.running = 0
        self.peak = 0
        self.cancelled = 0

    async def sleep(self, ms: int) -> int:  # type: ignore[override]
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.started.set()
        try:
            await asyncio.wait_for(self.wake.wait(), ms / 1000)
        except asyncio.TimeoutError:
            pass
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1
        return ms

    async def bump(self, key: str) -> int:  # type: ignore[override]
        await asyncio.sleep(0)
        return super().bump(key)
