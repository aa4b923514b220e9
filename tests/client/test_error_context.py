"""Call failures name the endpoint and the method on both paths (issue 14).

A call that times out and a call whose connection is reset mid-call, through the
proxy and through ``pool.connection()`` with the generated client: the error carries
``endpoint`` and ``method`` as attributes and says both in its message. (Reply
mismatches, corrupt replies, exhaustion, refused connects and exhausted retries are
checked the same way in test_reply_check.py and test_hardening.py.)
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from thrift.protocol.THeaderProtocol import THeaderProtocolFactory

from tests.support.servers import RawServer, echo_server
from thriftbuild import ThriftConnectionPool, ThriftContextFactory, errors


def _call(echo: Any, pool: ThriftConnectionPool, path: str, method: str, *args: Any) -> None:
    if path == "proxy":
        proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy()
        getattr(proxy, method)(*args)
    else:
        with pool.connection() as prot:
            getattr(echo.service.Client(prot), method)(*args)


def _names_both(err: errors.ThriftClientError, endpoint: str, method: str) -> None:
    assert (err.endpoint, err.method) == (endpoint, method), type(err)
    assert endpoint in str(err) and f"{method}()" in str(err), str(err)


@pytest.mark.parametrize("path", ["proxy", "connection"])
def test_call_timeout_names_endpoint_and_method(echo: Any, path: str) -> None:
    with echo_server(echo) as server:
        pool = ThriftConnectionPool(server.endpoint, timeout=0.2, metrics=False)
        with pytest.raises(errors.CallTimeoutError) as raised:
            _call(echo, pool, path, "sleep", 1000)  # the server holds the reply 1 s
        _names_both(raised.value, server.endpoint, "sleep")
        pool.close()


def _reset_after_request(conn: socket.socket, _server: RawServer) -> None:
    conn.recv(65536)
    # SO_LINGER 0 makes close() send RST: the client's recv fails with ECONNRESET.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


@pytest.mark.parametrize("path", ["proxy", "connection"])
def test_connection_lost_mid_call_names_endpoint_and_method(echo: Any, path: str) -> None:
    with RawServer(_reset_after_request).start() as server:
        pool = ThriftConnectionPool(
            server.endpoint, protocol_factory=THeaderProtocolFactory(), metrics=False
        )
        with pytest.raises(errors.ConnectionLostError) as raised:
            _call(echo, pool, path, "echo", "x")  # echo is not idempotent: not retried
        _names_both(raised.value, server.endpoint, "echo")
        pool.close()


def test_checkout_without_a_method_names_none(echo: Any) -> None:
    """``pool.checkout()`` by hand: exhaustion names the endpoint and no method."""
    with echo_server(echo) as server:
        pool = ThriftConnectionPool(server.endpoint, size=1, timeout=0.2, metrics=False)
        held = pool.checkout()
        with pytest.raises(errors.PoolExhaustedError) as raised:
            pool.checkout()
        assert (raised.value.endpoint, raised.value.method) == (server.endpoint, "")
        assert str(raised.value).startswith(f"no connection to {server.endpoint} within ")
        pool.checkin(held, True)
        pool.close()
