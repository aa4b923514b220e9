"""A process confined to one CPU checks idle connections with ``poll``, not
``getsockopt(TCP_INFO)`` (see ``channel._several_cpus``), and still finds those the
server closed or wrote to while they sat idle, with other calls in flight."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.servers import echo_server, wait_until
from thriftbuild.client import ThriftConnectionPool

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or not hasattr(os, "sched_setaffinity"),
    reason="CPU affinity and TCP_INFO are Linux's",
)


@pytest.fixture
def one_cpu() -> Iterator[None]:
    """Confine this thread (and the threads it starts) to one CPU for the test."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def test_one_cpu_checkout_still_discards_a_connection_the_server_closed(
    echo: Any, one_cpu: None
) -> None:
    with echo_server(echo) as server:
        pool = ThriftConnectionPool(server.endpoint, size=2, metrics=False)
        conn = pool.checkout()
        other = pool.checkout()  # a call in flight: the checkout check is the contended one
        assert conn.channel._tcp_info is None  # poll, not TCP_INFO, on one CPU
        echo.service.Client(conn.protocol).ping()
        pool.checkin(conn, True)
        server.drop_connections()
        wait_until(lambda: not conn.channel.is_reusable(), what="EOF to arrive")
        with pool.connection() as prot:
            assert echo.service.Client(prot).echo("fresh") == "fresh"
        assert server.accepted == 3  # a new connection, not the closed one
        pool.checkin(other, False)
        pool.close()


def test_several_cpus_check_idle_connections_with_tcp_info(echo: Any) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("this process may run on one CPU only")
    with echo_server(echo) as server:
        pool = ThriftConnectionPool(server.endpoint, size=1, metrics=False)
        with pool.connection() as prot:
            assert prot.channel._tcp_info is not None
        pool.close()
