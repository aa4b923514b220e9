"""Plain handler methods that prove fast in the handler threads run on the event loop;
one that turns slow there goes back to the threads (``thriftbuild/aio/_inline.py``)."""

from __future__ import annotations

import asyncio
import threading
import time
import types

import pytest
from thrift.Thrift import TApplicationException

from tests.aio.conftest import aio_server, run
from tests.support.handlers import AsyncEchoHandler
from thriftbuild import aio
from thriftbuild.aio._inline import BLOCKED, LIMIT, PROVE, SLOW, InlineGuard


class SlowOnRequestHandler(AsyncEchoHandler):
    """``echo("slow")`` keeps its thread busy for ``BLOCKED`` seconds (it never sleeps)."""

    def echo(self, text: str) -> str:
        if text == "slow":
            self.threads.add(threading.current_thread().name)
            until = time.perf_counter() + BLOCKED
            while time.perf_counter() < until:
                pass
            return text
        return super().echo(text)


async def _prove(server: aio.Server, conn: aio.ThriftConnection, method: str = "echo") -> None:
    """Call ``echo`` until the server runs it on the loop (it must within 100 proofs)."""
    assert server.inline is not None
    for i in range(100 * PROVE):
        if method in server.inline.inline:
            return
        assert await conn.echo(f"proof {i}") == f"proof {i}"
    raise AssertionError(f"{method} never ran on the loop")


def test_guard_promotes_after_prove_fast_calls_and_doubles_the_proof_after_a_demotion() -> None:
    guard = InlineGuard()
    for _ in range(PROVE - 1):
        guard.timed("echo", 0.0)
    guard.timed("echo", LIMIT)  # a slow call starts the count again
    for _ in range(PROVE - 1):
        guard.timed("echo", 0.0)
    assert "echo" not in guard.inline
    guard.timed("echo", 0.0)
    assert guard.inline == {"echo"}

    guard.slow("echo", SLOW)  # the first slow call in a while may be noise
    assert guard.inline == {"echo"}
    guard.slow("echo", SLOW)  # a second one is not
    assert guard.inline == set()
    for _ in range(2 * PROVE - 1):  # sent back just after it earned the loop: twice the proof
        guard.timed("echo", 0.0)
    assert guard.inline == set()
    guard.timed("echo", 0.0)
    assert guard.inline == {"echo"}

    guard.slow("echo", BLOCKED)  # a call that long blocked everyone: threads for good
    assert guard.inline == set()
    for _ in range(PROVE << 13):
        guard.timed("echo", 0.0)
    assert guard.inline == set()


def test_a_proven_plain_method_runs_on_the_loop_and_pipelined_replies_keep_their_order(
    echo: types.SimpleNamespace,
) -> None:
    handler = AsyncEchoHandler(echo.ttypes)  # echo plain, bump async, fail plain (raises)

    async def main() -> None:
        async with aio_server(echo.service, handler, handler_threads=2) as server:
            address = ("127.0.0.1", server.port)
            conn = await aio.create_connection(echo.service, address)
            await _prove(server, conn)
            # The thread that ran the last proof may still hold the connection for a
            # call or two (it hands it back when idle); then the loop runs echo.
            loop_thread = threading.current_thread().name
            for _ in range(PROVE):
                handler.threads.clear()
                assert await conn.echo("on the loop") == "on the loop"
                if handler.threads == {loop_thread}:
                    break
            else:
                raise AssertionError(f"echo still ran in {handler.threads} once proven")

            piped = await aio.create_connection(echo.service, address, pipeline=16)

            async def fail(i: int) -> str:
                with pytest.raises(echo.ttypes.EchoError) as raised:
                    await piped.fail(f"no {i}", i)
                return f"{raised.value.message} {raised.value.code}"

            calls = []
            for i in range(60):  # loop, task (async), thread (declared exception)
                calls += [piped.echo(f"e{i}"), piped.bump("k"), fail(i)]
            results = await asyncio.gather(*calls)
            assert results[0::3] == [f"e{i}" for i in range(60)]
            assert results[1::3] == list(range(1, 61))  # bump ran in order
            assert results[2::3] == [f"no {i} {i}" for i in range(60)]
            conn.close()
            piped.close()

    run(main())


def test_an_error_in_a_plain_handler_on_the_loop_is_mapped_and_the_connection_lives_on(
    echo: types.SimpleNamespace,
) -> None:
    handler = AsyncEchoHandler(echo.ttypes)

    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            conn = await aio.create_connection(echo.service, ("127.0.0.1", server.port))
            await _prove(server, conn)
            with pytest.raises(aio.ThriftAppError) as raised:
                await conn.echo("boom")  # the handler raises RuntimeError
            assert raised.value.type == TApplicationException.INTERNAL_ERROR
            assert await conn.echo("fine") == "fine"
            conn.close()

    run(main())


def test_a_proven_method_that_blocks_the_loop_goes_back_to_the_threads_for_good(
    echo: types.SimpleNamespace,
) -> None:
    handler = SlowOnRequestHandler(echo.ttypes)

    async def main() -> None:
        async with aio_server(echo.service, handler, handler_threads=2) as server:
            conn = await aio.create_connection(echo.service, ("127.0.0.1", server.port))
            await _prove(server, conn)
            assert server.inline is not None
            handler.threads.clear()
            assert await conn.echo("slow") == "slow"  # it held the loop this once
            assert handler.threads == {threading.current_thread().name}
            assert "echo" not in server.inline.inline
            handler.threads.clear()
            assert await conn.echo("threads") == "threads"
            assert all(name.startswith("thriftbuild-handler") for name in handler.threads)
            for i in range(4 * PROVE):  # however quick it is now, it stays off the loop
                assert await conn.echo(f"again {i}") == f"again {i}"
            assert "echo" not in server.inline.inline
            assert all(name.startswith("thriftbuild-handler") for name in handler.threads)
            conn.close()

    run(main())
