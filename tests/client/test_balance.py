"""Several endpoints in one pool: per-call round-robin and ejection of failing hosts."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.support.servers import echo_server
from thriftbuild import ThriftClient, configure_context, errors
from thriftbuild.client import MultiEndpointPool
from thriftbuild.config import Endpoint


def _dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


def test_balance_config_list_balances_calls_across_hosts(echo: Any) -> None:
    with echo_server(echo) as one, echo_server(echo) as two:
        cfg = {"svc.endpoint": f"{one.endpoint}, {two.endpoint}"}
        context = configure_context(cfg, {"svc": ThriftClient(echo.service.Client, metrics=False)})
        assert isinstance(context.svc.pool, MultiEndpointPool)
        for i in range(20):
            assert context.svc.echo(str(i)) == str(i)
        assert one.handler.calls.get("ping", 0) == 0
        for _ in range(10):
            context.svc.ping()
        assert one.handler.calls["ping"] == 5 and two.handler.calls["ping"] == 5
        assert context.svc.pool.checkedout == 0
        context.svc.pool.close()


def test_balance_dead_host_skipped_within_the_call_then_ejected(echo: Any) -> None:
    dead = _dead_endpoint()
    with echo_server(echo) as live:
        pool = MultiEndpointPool(
            [dead, live.endpoint], max_retries=1, eject_after=2, eject_for=60, metrics=False
        )
        from thriftbuild import ThriftContextFactory

        proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy("svc")
        for i in range(10):
            assert proxy.echo(str(i)) == str(i)  # never fails: the live host answers
        assert pool.ejected() == [dead]
        assert "ejected" in repr(pool)
        pool.close()


def test_balance_all_hosts_down_raises_connect_failed(echo: Any) -> None:
    pool = MultiEndpointPool([_dead_endpoint(), _dead_endpoint()], max_retries=1, metrics=False)
    with pytest.raises(errors.ConnectFailedError), pool.connection():
        pass
    assert pool.checkedout == 0


def test_balance_host_back_after_success_is_healthy(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = MultiEndpointPool([server.endpoint], eject_after=1, eject_for=0.0, metrics=False)
        conn = pool.checkout()
        pool.checkin(conn, False)  # a broken call: ejected (for zero seconds)
        with pool.connection() as prot:
            echo.service.Client(prot).ping()
        assert pool.ejected() == []
        pool.close()


def test_single_endpoint_parser_rejects_a_list() -> None:
    with pytest.raises(ValueError, match="comma-separated"):
        Endpoint("127.0.0.1:1,127.0.0.1:2")
