"""The asyncio client: every protocol, every error, against our server and Apache's."""

from __future__ import annotations

import asyncio
import socket
import threading
import types
from typing import Any

import pytest

from tests.aio.conftest import aio_server, run, thriftpy2_echo
from tests.conftest import IN_CI
from tests.support.handlers import AsyncEchoHandler
from tests.support.servers import RawServer, binary_reply, echo_server, read_binary_call
from thriftbuild import aio

PROTOCOLS = [
    ("binary", False),
    ("binary", True),
    ("compact", False),
    ("compact", True),
    ("header", False),
    ("header-compact", False),
]


async def _exercise(conn: aio.ThriftConnection, ttypes: Any) -> None:
    assert await conn.ping() is None
    assert await conn.echo("héllo") == "héllo"
    assert await conn.execute("echo_bytes", b"\x00\x01") == b"\x00\x01"
    assert await conn.execute("echo", text="kw") == "kw"
    with pytest.raises(Exception) as raised:
        await conn.fail("bad", 42)
    assert type(raised.value).__name__ == "EchoError"
    assert (raised.value.message, raised.value.code) == ("bad", 42)  # type: ignore[attr-defined]
    assert await conn.notify("oneway") is None
    assert await conn.echo("after") == "after"  # the connection is still in step


@pytest.mark.parametrize(("protocol", "framed"), PROTOCOLS)
def test_every_protocol_against_apache_thread_server(
    echo: types.SimpleNamespace, protocol: str, framed: bool
) -> None:
    async def main(port: int) -> None:
        conn = await aio.create_connection(
            echo.service, ("127.0.0.1", port), protocol_cls=protocol, framed=framed, timeout=30
        )
        await _exercise(conn, echo.ttypes)
        conn.close()
        await conn.wait_closed()

    # Apache's THeader server accepts every client type (its processor, its transports).
    with echo_server(echo, "header") as server:
        run(main(server.port))
        assert server.handler.notes == ["oneway"]


@pytest.mark.parametrize("kind", ["binary", "compact-framed"])
def test_apache_servers_of_one_dialect(echo: types.SimpleNamespace, kind: str) -> None:
    protocol, _, framing = kind.partition("-")

    async def main(port: int) -> None:
        conn = await aio.create_connection(
            echo.service, ("127.0.0.1", port), protocol_cls=protocol, framed=bool(framing)
        )
        await _exercise(conn, echo.ttypes)
        conn.close()

    with echo_server(echo, kind) as server:
        run(main(server.port))


def test_thriftpy2_service_and_generated_module_against_our_server(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    tp2 = thriftpy2_echo()

    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            for service in (tp2.Echo, echo.service, echo.service.Client):
                conn = await aio.create_connection(service, ("127.0.0.1", server.port))
                await _exercise(conn, echo.ttypes)
                conn.close()

    run(main())


def test_application_exception_keeps_type_and_message(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    from thrift.Thrift import TApplicationException

    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            conn = await aio.create_connection(echo.service, ("127.0.0.1", server.port))
            with pytest.raises(aio.ThriftAppError) as raised:
                await conn.echo("boom")  # the handler raises RuntimeError
            assert raised.value.type == TApplicationException.INTERNAL_ERROR
            assert isinstance(raised.value, TApplicationException)
            assert isinstance(raised.value, aio.ThriftError)
            assert await conn.echo("fine") == "fine"  # the connection stays usable
            assert not conn.closed

    run(main())


def test_timeout_raises_asyncio_timeout_and_closes(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            conn = await aio.create_connection(
                echo.service, ("127.0.0.1", server.port), protocol_cls="header", timeout=(5, 0.05)
            )
            with pytest.raises(asyncio.TimeoutError) as raised:
                await conn.sleep(60_000)  # ends when the server closes
            assert "Echo.sleep" in str(raised.value) and "0.05s" in str(raised.value)
            assert conn.closed
            with pytest.raises(aio.ConnectionClosedError):
                await conn.ping()
            # The server saw the call's budget as a Deadline-Budget header.
            conn = await aio.create_connection(
                echo.service, ("127.0.0.1", server.port), protocol_cls="header", timeout=30
            )
            assert await conn.header("Deadline-Budget") == "30000"
            handler.wake.set()

    run(main())


def test_cancelled_call_closes_the_connection(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            conn = await aio.create_connection(echo.service, ("127.0.0.1", server.port))
            task = asyncio.create_task(conn.sleep(60_000))
            await handler.started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert conn.closed and not conn.clean
            handler.wake.set()

    run(main())


def test_reply_to_another_request_is_bad_sequence_id(echo: types.SimpleNamespace) -> None:
    def stale(conn: socket.socket, server: RawServer) -> None:
        name, seqid, _ = read_binary_call(conn)
        conn.sendall(binary_reply(echo, name, seqid + 7, echo.service.ping_result()))
        conn.recv(1)

    async def main(port: int) -> None:
        conn = await aio.create_connection(echo.service, ("127.0.0.1", port))
        with pytest.raises(aio.ThriftAppError) as raised:
            await conn.ping()
        assert raised.value.type == 4  # BAD_SEQUENCE_ID
        assert conn.closed

    with RawServer(stale).start() as server:
        run(main(server.port))


def test_server_death_is_connection_closed(echo: types.SimpleNamespace) -> None:
    def hang_up(conn: socket.socket, server: RawServer) -> None:
        read_binary_call(conn)

    async def main(port: int) -> None:
        conn = await aio.create_connection(echo.service, ("127.0.0.1", port))
        with pytest.raises(aio.ConnectionClosedError) as raised:
            await conn.ping()
        assert f"127.0.0.1:{port}" in str(raised.value) and "ping" in str(raised.value)
        assert conn.closed

    with RawServer(hang_up).start() as server:
        run(main(server.port))


def test_loop_argument_is_deprecated_and_ignored(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        with pytest.warns(DeprecationWarning, match="loop argument is deprecated"):
            server = await aio.create_server(
                echo.service, handler, ("127.0.0.1", 0), loop=loop, metrics=False
            )
        with pytest.warns(DeprecationWarning, match="loop argument"):
            conn = await aio.create_connection(echo.service, ("127.0.0.1", server.port), loop=loop)
        with pytest.warns(DeprecationWarning, match="loop argument"):
            pool = await aio.create_pool(echo.service, ("127.0.0.1", server.port), loop=loop)
        assert await conn.echo("x") == await pool.echo("x") == "x"
        conn.close()
        pool.close()
        await pool.wait_closed()
        server.close()
        await server.wait_closed()

    run(main())


def test_unix_socket(echo: types.SimpleNamespace, handler: AsyncEchoHandler, tmp_path: Any) -> None:
    path = str(tmp_path / "echo.sock")

    async def main() -> None:
        async with aio_server(echo.service, handler, path):
            conn = await aio.create_connection(echo.service, path, protocol_cls="compact")
            assert await conn.echo("unix") == "unix"
            assert "unix:" in repr(conn)
            conn.close()

    run(main())


def test_connections_from_many_threads_stay_independent(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    """Each thread runs its own loop and connection (nothing is global to a loop)."""
    errors: list[BaseException] = []

    async def main(port: int, n: int) -> None:
        conn = await aio.create_connection(echo.service, ("127.0.0.1", port))
        for i in range(20):
            assert await conn.echo(f"{n}-{i}") == f"{n}-{i}"
        conn.close()

    async def serve() -> None:
        async with aio_server(echo.service, handler) as server:
            threads = []
            for n in range(4):

                def target(n: int = n) -> None:
                    try:
                        asyncio.run(main(server.port, n))
                    except BaseException as exc:
                        errors.append(exc)

                threads.append(threading.Thread(target=target))
            for thread in threads:
                thread.start()
            await asyncio.to_thread(lambda: [t.join(60) for t in threads])

    run(serve())
    assert errors == []


def test_everything_runs_on_uvloop(echo: types.SimpleNamespace, handler: AsyncEchoHandler) -> None:
    uvloop = pytest.importorskip("uvloop") if not IN_CI else __import__("uvloop")

    async def main() -> None:
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        async with aio_server(echo.service, handler) as server:
            address = ("127.0.0.1", server.port)
            conn = await aio.create_connection(echo.service, address, protocol_cls="header")
            await _exercise(conn, echo.ttypes)
            conn.close()
            for pipeline in (1, 8):
                pool = await aio.create_pool(
                    echo.service, address, maxsize=3, timeout=30, pipeline=pipeline
                )
                values = await asyncio.gather(*(pool.echo(str(i)) for i in range(50)))
                assert values == [str(i) for i in range(50)]
                pool.close()
                await pool.wait_closed()

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 120))
    finally:
        loop.close()
