"""The asyncio server's handler threads: calls handed over together, a blocking
handler among them, and shutdown."""

from __future__ import annotations

import asyncio
import threading
import types

from tests.aio.conftest import run
from tests.support.handlers import RequestEchoHandler
from thriftbuild import wire
from thriftbuild.aio._handler_threads import HandlerThreads
from thriftbuild.dispatch import Call, Dispatcher, ServerConnection
from thriftbuild.service import service_view


def _calls(
    echo: types.SimpleNamespace, handler: object, *requests: tuple[str, tuple[object, ...]]
) -> list[Call]:
    methods = service_view(echo.service).methods
    dispatcher = Dispatcher(echo.service, handler, metrics=False)
    data = b"".join(
        wire.encode_framed(wire.encode_call(methods[name], wire.BINARY, seqid, args))
        for seqid, (name, args) in enumerate(requests, 1)
    )
    return ServerConnection(dispatcher).feed(data)


def test_calls_handed_over_together_never_wait_behind_a_blocking_one(
    echo: types.SimpleNamespace,
) -> None:
    async def main(handler: RequestEchoHandler, blocking: Call, quick: Call) -> None:
        threads = HandlerThreads(2, asyncio.get_running_loop())
        slow = threads.run(blocking)
        fast = threads.run(quick)  # same loop iteration
        assert await fast == ("quick", None)
        handler.release.set()
        assert await slow == (600_000, None)
        threads.close()

    for _ in range(20):  # the window: a thread woken for the first call has not taken it yet
        handler = RequestEchoHandler(echo.ttypes)  # plain, blocking sleep()
        blocking, quick = _calls(echo, handler, ("sleep", (600_000,)), ("echo", ("quick",)))
        run(main(handler, blocking, quick), timeout=30)


def test_a_burst_of_quick_calls_is_served_and_every_thread_exits_on_close(
    echo: types.SimpleNamespace,
) -> None:
    handler = RequestEchoHandler(echo.ttypes)
    calls = _calls(echo, handler, *(("echo", (str(i),)) for i in range(200)))
    before = set(threading.enumerate())

    async def main() -> list[threading.Thread]:
        threads = HandlerThreads(4, asyncio.get_running_loop())
        outcomes = await asyncio.gather(*(threads.run(call) for call in calls))
        assert outcomes == [(str(i), None) for i in range(200)]
        started = [
            thread
            for thread in threading.enumerate()
            if thread not in before and thread.name.startswith("thriftbuild-handler")
        ]
        assert 1 <= len(started) <= 4
        threads.close()
        return started

    for thread in run(main()):
        thread.join(30)
        assert not thread.is_alive()
