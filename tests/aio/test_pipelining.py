"""Pipelining (``pipeline > 1``): several calls outstanding on one connection, each
reply routed to its own call by seqid, failures of one call kept to that call."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest

from tests.aio.conftest import aio_server, run
from tests.support.handlers import AsyncEchoHandler
from tests.support.servers import RawServer, binary_reply
from thriftbuild import aio, wire


def _message(name: str, mtype: int, seqid: int, body: Any) -> bytes:
    from thrift.protocol.TBinaryProtocol import TBinaryProtocol
    from thrift.transport.TTransport import TMemoryBuffer

    buf = TMemoryBuffer()
    prot = TBinaryProtocol(buf)
    prot.writeMessageBegin(name, mtype, seqid)
    body.write(prot)
    prot.writeMessageEnd()
    return bytes(buf.getvalue())


class _Script:
    """A server that collects ``count`` echo calls on one connection, waits for
    ``go``, then answers them in the order ``answer`` chooses (and echoes later
    calls at once)."""

    def __init__(
        self, echo: types.SimpleNamespace, count: int, answer: Callable[[list[Any]], list[Any]]
    ) -> None:
        self.echo = echo
        self.count = count
        self.answer = answer
        self.received = threading.Event()
        self.go = threading.Event()
        self.go.set()

    def _calls(self, conn: socket.socket) -> Any:
        from thrift.protocol.TBinaryProtocol import TBinaryProtocol
        from thrift.transport.TTransport import TMemoryBuffer

        decoder = wire.make_decoder(wire.Framing.UNFRAMED, wire.BINARY, wire.DEFAULT_LIMITS)
        while chunk := conn.recv(65536):
            for frame in decoder.feed(chunk):
                head, body = wire.decode_head(wire.BINARY, frame.payload)
                args = self.echo.service.echo_args()
                args.read(TBinaryProtocol(TMemoryBuffer(frame.payload[body:])))
                yield head.seqid, args.text

    def reply(self, seqid: int, text: str) -> bytes:
        if text == "app-error":
            from thrift.Thrift import TApplicationException, TMessageType

            error = TApplicationException(TApplicationException.INTERNAL_ERROR, "it broke")
            return _message("echo", TMessageType.EXCEPTION, seqid, error)
        return binary_reply(self.echo, "echo", seqid, self.echo.service.echo_result(success=text))

    def __call__(self, conn: socket.socket, server: RawServer) -> None:
        calls = self._calls(conn)
        batch = [next(calls) for _ in range(self.count)]
        self.received.set()
        self.go.wait(60)
        conn.sendall(b"".join(self.reply(*call) for call in self.answer(batch)))
        for call in calls:
            conn.sendall(self.reply(*call))


def test_replies_in_any_order_reach_their_own_calls(echo: types.SimpleNamespace) -> None:
    script = _Script(echo, 5, lambda batch: batch[::-1])  # answered last to first

    async def main(port: int) -> None:
        conn = await aio.create_connection(echo.service, ("127.0.0.1", port), pipeline=8)
        texts = [f"call-{i}" for i in range(5)]
        # The server answers only once all five are in: they were outstanding at once.
        assert await asyncio.gather(*(conn.echo(t) for t in texts)) == texts
        assert conn.clean and conn.outstanding == 0
        assert await conn.echo("later") == "later"
        conn.close()

    with RawServer(script).start() as server:
        run(main(server.port))


def test_a_failed_timed_out_or_cancelled_call_leaves_the_others_alone(
    echo: types.SimpleNamespace,
) -> None:
    script = _Script(echo, 5, lambda batch: batch)
    script.go.clear()

    async def main(port: int) -> None:
        conn = await aio.create_connection(echo.service, ("127.0.0.1", port), pipeline=8)
        broken = asyncio.ensure_future(conn.echo("app-error"))
        cancelled = asyncio.ensure_future(conn.echo("cancelled"))
        first = asyncio.ensure_future(conn.echo("first"))
        await asyncio.sleep(0)  # a yield, not a wait: the calls above are made
        conn.timeout = 0.05  # for this call only
        timed = asyncio.ensure_future(conn.echo("timed"))
        await asyncio.sleep(0)
        conn.timeout = None
        last = asyncio.ensure_future(conn.echo("last"))
        await asyncio.to_thread(script.received.wait, 60)
        cancelled.cancel()
        with pytest.raises(asyncio.TimeoutError):
            await timed
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert not conn.closed and conn.abandoned  # two replies owed to nobody
        script.go.set()
        with pytest.raises(aio.ThriftAppError) as raised:
            await broken
        assert (raised.value.type, raised.value.message) == (6, "it broke")
        assert (await first, await last) == ("first", "last")
        assert conn.clean and not conn.abandoned  # the abandoned replies were dropped
        assert await conn.echo("after") == "after"
        conn.close()

    with RawServer(script).start() as server:
        run(main(server.port))


def test_a_reply_nobody_asked_for_fails_every_outstanding_call(
    echo: types.SimpleNamespace,
) -> None:
    def stray(batch: list[Any]) -> list[Any]:
        return [(batch[0][0] + 100, "stray")]

    async def main(port: int) -> None:
        conn = await aio.create_connection(echo.service, ("127.0.0.1", port), pipeline=4)
        results = await asyncio.gather(
            conn.echo("a"), conn.echo("b"), conn.echo("c"), return_exceptions=True
        )
        assert [type(r) for r in results] == [aio.ThriftAppError] * 3
        assert all(r.type == 4 for r in results)  # type: ignore[union-attr]  # BAD_SEQUENCE_ID
        assert conn.closed
        with pytest.raises(aio.ConnectionClosedError):
            await conn.echo("d")

    with RawServer(_Script(echo, 3, stray)).start() as server:
        run(main(server.port))


def test_calls_over_the_depth_queue_and_all_answer(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            conn = await aio.create_connection(
                echo.service, ("127.0.0.1", server.port), pipeline=3, protocol_cls="header"
            )
            texts = [str(i) for i in range(20)]
            assert await asyncio.gather(*(conn.echo(t) for t in texts)) == texts
            assert await conn.notify("oneway") is None
            assert await conn.echo("in step") == "in step"
            conn.close()

    run(main())


def test_pool_shares_connections_and_survives_a_cancellation_storm(
    echo: types.SimpleNamespace, handler: AsyncEchoHandler
) -> None:
    async def main() -> None:
        async with aio_server(echo.service, handler) as server:
            pool = await aio.create_pool(
                echo.service, ("127.0.0.1", server.port), minsize=1, maxsize=2, pipeline=8
            )
            texts = [str(i) for i in range(40)]
            assert await asyncio.gather(*(pool.echo(t) for t in texts)) == texts
            assert pool.size == 2 and pool.freesize == 2  # shared, then returned

            rng = random.Random(11)
            tasks = [asyncio.ensure_future(pool.echo(f"s{i}")) for i in range(300)]
            for _ in range(3):
                await asyncio.sleep(0)  # let calls get onto the wire
            doomed = rng.sample(tasks, 150)
            for task in doomed:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for i, (task, result) in enumerate(zip(tasks, results, strict=True)):
                if task not in doomed or not isinstance(result, asyncio.CancelledError):
                    assert result == f"s{i}"
            assert pool.size <= 2
            assert all(conn.clean for conn in pool._free)
            assert await asyncio.gather(*(pool.echo(t) for t in texts)) == texts
            pool.close()
            await pool.wait_closed()

    run(main())


def test_pipeline_must_be_positive(echo: types.SimpleNamespace) -> None:
    with pytest.raises(ValueError, match="pipeline"):
        aio.ThriftPool(echo.service, pipeline=0)
