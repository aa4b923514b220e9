"""The asyncio pool: sizes, checkout timeout, reuse, closing, and cancellation storms."""

from __future__ import annotations

import asyncio
import random
import socket
import time
import types
from collections.abc import Callable

import pytest

from tests.aio.conftest import aio_server, run
from tests.support.handlers import AsyncEchoHandler
from tests.support.servers import RawServer, binary_reply, read_binary_call
from thriftbuild import aio


async def _until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


def test_sizes_fill_and_clear(echo: types.SimpleNamespace, handler: AsyncEchoHandler) -> None:
    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            address = ("127.0.0.1", server.port)
            pool = await aio.create_pool(echo.service, address, minsize=2, maxsize=4)
            assert (pool.size, pool.freesize) == (2, 2)
            a, b = await pool.acquire(), await pool.acquire()
            assert (pool.size, pool.freesize) == (2, 0)
            await pool.fill_free(override_min=True)
            assert (pool.size, pool.freesize) == (3, 1)
            pool.release(a)
            pool.release(b)
            assert (pool.size, pool.freesize) == (3, 3)
            await pool.clear()
            assert (pool.size, pool.freesize) == (0, 0)
            assert await pool.echo("again") == "again"  # opens anew
            with pytest.raises(ValueError, match="not checked out"):
                pool.release(a)
            pool.close()
            await pool.wait_closed()

    run(main())


def test_get_and_async_with_any_number_of_times_in_one_task(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            pool = await aio.create_pool(echo.service, ("127.0.0.1", server.port), timeout=10)
            async with pool.get() as first:
                assert await first.echo("1") == "1"
                async with pool.get() as second:  # nested: aiothrift raised RuntimeError
                    assert second is not first
                    assert await second.echo("2") == "2"
            async with pool.get() as again:
                assert again in (first, second)
            async with pool as outer:
                async with pool as inner:
                    assert inner is not outer
                    assert await inner.ping() is None
                assert await outer.ping() is None
            assert pool.freesize == pool.size == 2
            pool.close()
            await pool.wait_closed()

    run(main())


def test_acquire_timeout_names_address_and_sizes(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            pool = await aio.create_pool(echo.service, ("127.0.0.1", server.port), maxsize=1)
            held = await pool.acquire()
            with pytest.raises(asyncio.TimeoutError) as raised:
                await pool.acquire(timeout=0.01)
            message = str(raised.value)
            assert f"127.0.0.1:{server.port}" in message
            assert "maxsize 1" in message and "1 in use" in message
            assert isinstance(raised.value, aio.ThriftError)
            waiter = asyncio.create_task(pool.acquire())
            await _until(lambda: pool.waiting == 1)
            pool.release(held)
            assert await waiter is held  # handed over to the waiter
            pool.release(held)
            pool.close()
            await pool.wait_closed()

    run(main())


def test_closed_pool_refuses_and_wakes_waiters(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            pool = await aio.create_pool(echo.service, ("127.0.0.1", server.port), maxsize=1)
            held = await pool.acquire()
            waiter = asyncio.create_task(pool.acquire())
            await _until(lambda: pool.waiting == 1)
            pool.close()
            with pytest.raises(aio.PoolClosedError):
                await waiter
            with pytest.raises(aio.PoolClosedError, match="closed"):
                await pool.ping()
            assert held.closed
            pool.release(held)
            await pool.wait_closed()
            assert pool.size == 0

    run(main())


def test_connection_with_unexpected_bytes_or_eof_is_discarded(
    echo: types.SimpleNamespace,
) -> None:
    def chatty(conn: socket.socket, server: RawServer) -> None:
        name, seqid, _ = read_binary_call(conn)
        conn.sendall(binary_reply(echo, name, seqid, echo.service.ping_result()))
        if server.accepted == 1:
            conn.sendall(b"\x00")  # unsolicited: this connection is no longer clean
        else:
            conn.recv(1)

    async def main(server: RawServer) -> None:
        pool = await aio.create_pool(echo.service, ("127.0.0.1", server.port), minsize=0)
        async with pool.get() as conn:
            await conn.ping()
        await _until(lambda: not conn.clean)
        async with pool.get() as fresh:
            assert fresh is not conn and conn.closed
            await fresh.ping()
        assert server.accepted == 2
        pool.close()
        await pool.wait_closed()

    with RawServer(chatty).start() as server:
        run(main(server))


def test_thousand_tasks_half_cancelled_leave_the_pool_clean(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    rng = random.Random(1234)

    async def main() -> None:
        async with aio_server(echo.service, handler, handler_threads=4) as server:
            pool = await aio.create_pool(
                echo.service, ("127.0.0.1", server.port), maxsize=10, timeout=60
            )

            async def answer(i: int) -> str:
                return str(await pool.echo(f"task {i}"))

            async def stuck(i: int) -> int:  # only ends by cancellation
                return int(await pool.sleep(600_000))

            tasks: list[asyncio.Task[object]] = []
            doomed: list[asyncio.Task[object]] = []
            for i in range(1000):
                if rng.random() < 0.5:
                    doomed.append(asyncio.create_task(stuck(i)))
                    tasks.append(doomed[-1])
                else:
                    tasks.append(asyncio.create_task(answer(i)))
            rng.shuffle(doomed)
            for task in doomed:  # cancel at random points: waiting, sending, reading
                for _ in range(rng.randrange(4)):
                    await asyncio.sleep(0)
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for i, (task, result) in enumerate(zip(tasks, results, strict=True)):
                if task in doomed:
                    assert isinstance(result, asyncio.CancelledError), (i, result)
                else:
                    assert result == f"task {i}", (i, result)
            assert pool.size == pool.freesize <= 10
            assert pool.waiting == 0
            assert all(conn.clean for conn in pool._free)
            answers = await asyncio.gather(*(pool.echo(f"later {i}") for i in range(200)))
            assert answers == [f"later {i}" for i in range(200)]
            assert handler.cancelled > 0  # some were cancelled mid-call, on the server too
            pool.close()
            await pool.wait_closed()

    run(main(), timeout=300)
