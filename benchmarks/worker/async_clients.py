"""asyncio clients: ``tasks`` tasks sharing ``connections`` connections.

A factory is a coroutine function taking the row's context and returning the
zero-argument coroutine function that every task awaits in a loop. Clients without
a pool of their own share a fixed set of connections through an ``asyncio.Queue``,
which is what a user of them writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.worker import wire
from benchmarks.worker.context import Context

AsyncCall = Callable[[], Awaitable[object]]


def _bound(client: Any, ctx: Context) -> AsyncCall:
    if ctx.op == "ping":
        return client.ping  # type: ignore[no-any-return]
    if ctx.op == "text":
        text, echo_text = wire.payload(ctx.size, "text").decode(), client.echo
        return lambda: echo_text(text)
    data, echo = wire.payload(ctx.size), client.echo_bytes
    return lambda: echo(data)


async def _shared(clients: list[Any], ctx: Context) -> AsyncCall:
    """One call that borrows a client from ``clients`` for each round trip."""
    free: asyncio.Queue[Any] = asyncio.Queue()
    for client in clients:
        free.put_nowait(client)
    bound = {id(client): _bound(client, ctx) for client in clients}

    async def call() -> object:
        client = await free.get()
        try:
            return await bound[id(client)]()
        finally:
            free.put_nowait(client)

    return call


class _RawStream:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.checked = False


async def raw(ctx: Context) -> AsyncCall:
    """Floor: pre-encoded bytes over asyncio streams, reply read by length."""
    request = wire.request_bytes(ctx.op, ctx.size, ctx.protocol, ctx.transport)
    reply = wire.reply_bytes(ctx.op, ctx.size, ctx.protocol, ctx.transport)
    free: asyncio.Queue[_RawStream] = asyncio.Queue()
    for _ in range(ctx.connections):
        free.put_nowait(_RawStream(*await asyncio.open_connection("127.0.0.1", ctx.port)))

    async def call() -> None:
        stream = await free.get()
        try:
            stream.writer.write(request)
            got = await stream.reader.readexactly(len(reply))
            if not stream.checked:
                if got != reply:
                    raise AssertionError(f"unexpected reply {got[:64]!r}")
                stream.checked = True
        finally:
            free.put_nowait(stream)

    return call


async def aiothrift(ctx: Context) -> AsyncCall:
    """aiothrift's pool (``create_pool``), binary + buffered."""
    import aiothrift as aio

    module = aio.load(ctx.idl, module_name="echo_bench_thrift")
    pool = await aio.create_pool(
        module.Echo,
        ("127.0.0.1", ctx.port),
        minsize=ctx.connections,
        maxsize=ctx.connections,
        timeout=10,
    )
    return _bound(pool, ctx)


async def thriftpy2(ctx: Context) -> AsyncCall:
    """thriftpy2's asyncio client (``contrib.aio``), one per connection."""
    import thriftpy2 as tp2
    from thriftpy2.contrib.aio.rpc import make_client

    module = tp2.load(ctx.idl, module_name="echo_bench_thrift")
    clients = [
        await make_client(module.Echo, "127.0.0.1", ctx.port) for _ in range(ctx.connections)
    ]
    return await _shared(clients, ctx)


async def ours(ctx: Context) -> AsyncCall:
    """thriftbuild.aio's pool over the generated (Apache API) service module."""
    from thriftbuild import aio

    pool = await aio.create_pool(
        ctx.echo_module(),
        ("127.0.0.1", ctx.port),
        minsize=ctx.connections,
        maxsize=ctx.connections,
        timeout=10,
    )
    method = wire.METHODS[ctx.op]
    args: tuple[object, ...] = ()
    if ctx.op != "ping":
        data = wire.payload(ctx.size, ctx.op)
        args = (data.decode() if ctx.op == "text" else data,)

    async def call() -> object:
        async with pool.get() as conn:
            return await getattr(conn, method)(*args)

    return call


async def ours_pipelined(ctx: Context) -> AsyncCall:
    """thriftbuild.aio's pool with pipelining: ``await pool.echo(...)`` on
    ``connections`` connections carrying up to 16 calls each."""
    from thriftbuild import aio

    pool = await aio.create_pool(
        ctx.echo_module(),
        ("127.0.0.1", ctx.port),
        minsize=ctx.connections,
        maxsize=ctx.connections,
        timeout=10,
        pipeline=16,
    )
    return _bound(pool, ctx)
