"""Blocking clients, one factory per contender (run inside a client process).

A factory takes the row's :class:`~benchmarks.worker.context.Context` and returns
a *per-thread maker*: called once in each thread, it returns the zero-argument call
that the thread repeats. Peers' imports stay inside their factories, since each runs
in its own virtualenv.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from benchmarks.worker import wire
from benchmarks.worker.context import Context

Call = Callable[[], object]
PerThread = Callable[[], Call]


def _bound(client: Any, ctx: Context) -> Call:
    if ctx.op == "ping":
        return client.ping  # type: ignore[no-any-return]
    if ctx.op == "text":
        text, echo_text = wire.payload(ctx.size, "text").decode(), client.echo
        return lambda: echo_text(text)
    data, echo = wire.payload(ctx.size), client.echo_bytes
    return lambda: echo(data)


def raw(ctx: Context) -> PerThread:
    """Floor: pre-encoded request bytes over a plain socket, reply read by length."""
    request = wire.request_bytes(ctx.op, ctx.size, ctx.protocol, ctx.transport)
    reply = wire.reply_bytes(ctx.op, ctx.size, ctx.protocol, ctx.transport)

    def per_thread() -> Call:
        return wire.RawExchange(wire.connect(ctx.port), request, reply).call

    return per_thread


def apache(ctx: Context) -> PerThread:
    """Apache's generated client on one persistent connection per thread."""
    from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
    from thrift.protocol.TCompactProtocol import TCompactProtocolAccelerated
    from thrift.protocol.THeaderProtocol import THeaderProtocol
    from thrift.transport.THeaderTransport import THeaderClientType, THeaderSubprotocolID
    from thrift.transport.TSocket import TSocket
    from thrift.transport.TTransport import TBufferedTransport, TFramedTransport

    service = ctx.echo_module()

    def per_thread() -> Call:
        sock = TSocket("127.0.0.1", ctx.port)
        if ctx.transport == "header":
            subprotocol = THeaderSubprotocolID.COMPACT
            if ctx.protocol == "binary":
                subprotocol = THeaderSubprotocolID.BINARY
            trans = sock
            prot = THeaderProtocol(sock, [THeaderClientType.HEADERS], subprotocol)
        else:
            wrap = TFramedTransport if ctx.transport == "framed" else TBufferedTransport
            trans = wrap(sock)
            codec = {"binary": TBinaryProtocolAccelerated, "compact": TCompactProtocolAccelerated}
            prot = codec[ctx.protocol](trans)
        trans.open()
        sock.handle.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _bound(service.Client(prot), ctx)

    return per_thread


def thriftpy2(ctx: Context) -> PerThread:
    """thriftpy2's client, one connection per thread: its cython binary codec and
    cython transports (it has no cython compact codec: compact is pure Python)."""
    import thriftpy2 as tp2
    from thriftpy2.protocol import TCompactProtocolFactory, TCyBinaryProtocolFactory
    from thriftpy2.rpc import make_client
    from thriftpy2.transport import TCyBufferedTransportFactory, TCyFramedTransportFactory

    module = tp2.load(ctx.idl, module_name="echo_bench_thrift")
    protocols = {"binary": TCyBinaryProtocolFactory, "compact": TCompactProtocolFactory}
    transports = {"buffered": TCyBufferedTransportFactory, "framed": TCyFramedTransportFactory}

    def per_thread() -> Call:
        client = make_client(
            module.Echo,
            "127.0.0.1",
            ctx.port,
            proto_factory=protocols[ctx.protocol](),
            trans_factory=transports[ctx.transport](),
        )
        return _bound(client, ctx)

    return per_thread


def baseplate(ctx: Context) -> PerThread:
    """baseplate's pool and proxy (THeader), one request context open per thread."""
    from baseplate import Baseplate
    from baseplate.clients.thrift import ThriftClient

    service = ctx.echo_module()
    app_config = {"bench.endpoint": f"127.0.0.1:{ctx.port}", "bench.size": str(ctx.threads)}
    bp = Baseplate(app_config)
    bp.configure_context({"bench": ThriftClient(service.Client)})
    contexts: list[Any] = []  # kept referenced, so the request contexts stay open

    def per_thread() -> Call:
        manager = bp.server_context("bench")
        contexts.append(manager)
        return _bound(manager.__enter__().bench, ctx)

    return per_thread


def ours(ctx: Context) -> PerThread:
    """thriftbuild's pooled proxy, configured as a user does (configure_context)."""
    from thriftbuild import ThriftClient, configure_context

    service = ctx.echo_module()
    protocol = {"binary": "binary", "compact": "compact"}[ctx.protocol]
    if ctx.transport == "header":
        protocol = "header" if ctx.protocol == "compact" else "header-binary"
    app_config = {
        "bench.endpoint": f"127.0.0.1:{ctx.port}",
        "bench.size": str(ctx.threads),
        "bench.protocol": protocol,
        "bench.transport": "framed" if ctx.transport == "framed" else "buffered",
    }
    context = configure_context(app_config, {"bench": ThriftClient(service.Client)})
    call = _bound(context.bench, ctx)
    return lambda: call
