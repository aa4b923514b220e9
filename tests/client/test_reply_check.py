"""The reply check and error context on every path (issue 14, runtime side).

A scripted server answers each call with a reply for another sequence id or another
method, in the client's own dialect; through the proxy and through
``pool.connection()`` with the generated client, for every protocol, the client must
raise ``ResponseMismatchError`` naming endpoint and method -- never return the value.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory
from thrift.protocol.TCompactProtocol import TCompactProtocolAcceleratedFactory
from thrift.protocol.THeaderProtocol import THeaderProtocolFactory
from thrift.transport.THeaderTransport import THeaderSubprotocolID

from tests.support.servers import RawServer
from thriftbuild import ThriftConnectionPool, ThriftContextFactory, errors, wire
from thriftbuild.service import service_view

KINDS: dict[str, tuple[Any, str]] = {
    "header-compact": (THeaderProtocolFactory(default_protocol=THeaderSubprotocolID.COMPACT), ""),
    "header-binary": (THeaderProtocolFactory(default_protocol=THeaderSubprotocolID.BINARY), ""),
    "binary": (TBinaryProtocolAcceleratedFactory(), "buffered"),
    "binary-framed": (TBinaryProtocolAcceleratedFactory(), "framed"),
    "compact": (TCompactProtocolAcceleratedFactory(), "buffered"),
    "compact-framed": (TCompactProtocolAcceleratedFactory(), "framed"),
}


def _replying(echo: Any, fault: str) -> RawServer:
    method = service_view(echo.service)["echo"]
    other = service_view(echo.service)["header"]  # also returns a string

    def behaviour(conn: socket.socket, _server: RawServer) -> None:
        decoder = wire.AutoDecoder()
        while True:
            data = conn.recv(65536)
            if not data:
                return
            for frame in decoder.feed(data):
                head, _ = wire.decode_head(frame.protocol, frame.payload)
                result = echo.service.echo_result(success="the wrong answer")
                if fault == "seqid":
                    reply = wire.encode_reply(method, frame.protocol, head.seqid + 1, result)
                elif fault == "name":
                    reply = wire.encode_reply(other, frame.protocol, head.seqid, result)
                elif fault.startswith("nonstrict"):
                    # The old unversioned binary head, as non-strict servers write it.
                    seqid = head.seqid + (fault == "nonstrict-seqid")
                    result = echo.service.echo_result(success="right")
                    reply = wire.encode_head(
                        wire.BINARY, "echo", wire.MessageType.REPLY, seqid, strict=False
                    ) + method.codec.encode(result, wire.BINARY)
                else:
                    result = echo.service.echo_result(success="right")
                    reply = wire.encode_reply(method, frame.protocol, head.seqid, result)
                assert decoder.dialect is not None
                conn.sendall(
                    decoder.dialect.frame(reply, protocol=frame.protocol, seqid=frame.seqid)
                )

    return RawServer(behaviour).start()


def _pool(endpoint: str, kind: str) -> ThriftConnectionPool:
    factory, transport = KINDS[kind]
    kwargs: dict[str, Any] = {"protocol_factory": factory, "metrics": False, "timeout": 10}
    if transport:
        kwargs["transport_factory"] = transport
    return ThriftConnectionPool(endpoint, **kwargs)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("fault", ["seqid", "name"])
@pytest.mark.parametrize("path", ["proxy", "connection"])
def test_reply_for_another_request_is_rejected_on_every_path(
    echo: Any, kind: str, fault: str, path: str
) -> None:
    with _replying(echo, fault) as server:
        pool = _pool(server.endpoint, kind)
        with pytest.raises(errors.ResponseMismatchError) as raised:
            if path == "proxy":
                ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy().echo("q")
            else:
                with pool.connection() as prot:
                    echo.service.Client(prot).echo("q")
        err = raised.value
        assert (err.endpoint, err.method) == (server.endpoint, "echo")
        assert server.endpoint in str(err)
        assert pool.idle == 0 and pool.checkedout == 0  # closed, not reused
        pool.close()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_matching_reply_is_accepted_on_both_paths(echo: Any, kind: str) -> None:
    with _replying(echo, "none") as server:
        pool = _pool(server.endpoint, kind)
        proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy()
        assert proxy.echo("q") == "right"
        with pool.connection() as prot:
            assert echo.service.Client(prot).echo("q") == "right"
        assert server.accepted == 1  # one connection, reused after clean exchanges
        pool.close()


def test_every_runtime_error_names_endpoint_and_method(echo: Any) -> None:
    """Errors raised through the proxy carry both, in attributes and in the message."""
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    endpoint = f"127.0.0.1:{free.getsockname()[1]}"
    free.close()  # nothing listens here: connects are refused
    raised: list[errors.ThriftClientError] = []
    pool = ThriftConnectionPool(endpoint, timeout=1, max_retries=1, metrics=False)
    proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy()
    with pytest.raises(errors.ConnectFailedError) as connect:
        proxy.ping()
    raised.append(connect.value)
    with pytest.raises(errors.RetriesExhaustedError) as retries, proxy.retrying(attempts=2) as svc:
        svc.ping()
    raised.append(retries.value)

    with _replying(echo, "none") as server:
        small = ThriftConnectionPool(server.endpoint, size=1, timeout=0.2, metrics=False)
        blocked = small.checkout()
        with pytest.raises(errors.PoolExhaustedError) as exhausted:
            ThriftContextFactory(small, echo.service.Client, metrics=False).proxy().ping()
        raised.append(exhausted.value)
        small.checkin(blocked, True)
        small.close()
        endpoint_of = {id(exhausted.value): server.endpoint}
    for err in raised:
        where = endpoint_of.get(id(err), endpoint)
        assert (err.endpoint, err.method) == (where, "ping"), type(err)
        assert where in str(err) and "ping" in str(err), str(err)
    pool.close()


@pytest.mark.parametrize("kind", ["binary", "binary-framed"])
def test_unversioned_binary_reply_is_read_and_checked(echo: Any, kind: str) -> None:
    """A reply head in the old unversioned binary form is not the bytes the proxy
    expects: it is parsed, and still checked against the call."""
    with _replying(echo, "nonstrict") as server:
        pool = _pool(server.endpoint, kind)
        proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy()
        assert proxy.echo("q") == "right"
        assert proxy.echo("q") == "right"
        assert server.accepted == 1  # reused: the exchange completed
        pool.close()
    with _replying(echo, "nonstrict-seqid") as server:
        pool = _pool(server.endpoint, kind)
        proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy()
        with pytest.raises(errors.ResponseMismatchError):
            proxy.echo("q")
        assert pool.idle == 0 and pool.checkedout == 0  # closed, not reused
        pool.close()
