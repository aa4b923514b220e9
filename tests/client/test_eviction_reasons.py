"""Connections the pool closes instead of reusing are counted by the reason why.

A connection that went bad while idle in the pool (the server wrote to it) is found
at checkout and counted as ``unhealthy``.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory

from tests.support.servers import RawServer, binary_reply, read_binary_call, wait_until
from thriftbuild import ThriftConnectionPool
from thriftbuild.metrics import ClientMetrics

prometheus_client = pytest.importorskip("prometheus_client")


def test_connection_with_unsolicited_bytes_is_evicted_as_unhealthy(echo: Any) -> None:
    idle = threading.Event()

    def chatty(conn: socket.socket, server: RawServer) -> None:
        name, seqid, _ = read_binary_call(conn)
        conn.sendall(binary_reply(echo, name, seqid, echo.service.ping_result()))
        if server.accepted == 1:
            idle.wait(30)  # once the connection is back in the pool, idle:
            conn.sendall(b"\x00")  # unsolicited, so it is no longer clean
        conn.recv(1)  # until the client closes it

    registry = prometheus_client.CollectorRegistry()
    with RawServer(chatty).start() as server:
        pool = ThriftConnectionPool(
            server.endpoint,
            name="chatty",
            protocol_factory=TBinaryProtocolAcceleratedFactory(),
            transport_factory="buffered",
            metrics=ClientMetrics(registry),
        )
        first = pool.checkout()
        echo.service.Client(first.protocol).ping()
        pool.checkin(first, True)
        idle.set()
        wait_until(lambda: not first.channel.is_reusable(), what="the stray byte to arrive")
        second = pool.checkout()  # the first is closed at checkout, not handed out
        assert second is not first
        echo.service.Client(second.protocol).ping()
        assert server.accepted == 2  # answered on a new connection
        pool.checkin(second, True)
        pool.close()
    labels = {"thrift_client_name": "chatty", "reason": "unhealthy"}
    assert registry.get_sample_value("thrift_client_pool_evictions_total", labels) == 1
