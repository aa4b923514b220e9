from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import echo_server, wait_until
from thriftbuild import ThriftClient, configure_context, errors
from thriftbuild.metrics import ClientMetrics

prometheus_client = pytest.importorskip("prometheus_client")


def test_metrics_scraped_after_real_calls_labelled_by_client_name(echo: Any) -> None:
    registry = prometheus_client.CollectorRegistry()
    metrics = ClientMetrics(registry)
    with echo_server(echo) as server:
        cfg = {"foo.endpoint": server.endpoint, "foo.size": "4", "foo.timeout": "30 s"}
        context = configure_context(
            cfg, {"foo": ThriftClient(echo.service.Client, metrics=metrics)}
        )
        for _ in range(5):
            context.foo.ping()
        assert context.foo.echo("x") == "x"
        with pytest.raises(echo.ttypes.EchoError):
            context.foo.fail("no", 1)
        # A timeout: the server holds the call until the client has given up.
        with pytest.raises(errors.CallTimeoutError), context.foo.retrying(budget=0.2) as svc:
            svc.sleep(30_000)
        server.handler.release.set()

        # In flight and in use, seen from a scrape while a call is held on the server
        # (no timing margin: the call ends only when the test releases it).
        server.handler.sleeping.clear()
        server.handler.release.clear()
        caller = threading.Thread(target=context.foo.sleep, args=(30_000,))
        caller.start()
        assert server.handler.sleeping.wait(30)
        during = {
            "in_flight": registry.get_sample_value(
                "thrift_client_active_requests", {"thrift_client_name": "foo"}
            ),
            "in_use": registry.get_sample_value(
                "thrift_client_pool_active_connections", {"thrift_client_name": "foo"}
            ),
        }
        server.handler.release.set()
        caller.join(30)
        context.foo.pool.close()

    def value(name: str, **labels: str) -> float | None:
        result = registry.get_sample_value(name, {"thrift_client_name": "foo", **labels})
        return None if result is None else float(result)

    assert during == {"in_flight": 1.0, "in_use": 1.0}
    assert value("thrift_client_pool_max_size") == 4
    assert value("thrift_client_pool_active_connections") == 0
    assert value("thrift_client_pool_waiters") == 0
    assert value("thrift_client_pool_checkout_wait_seconds_count") == 9
    assert value("thrift_client_pool_connects_total") == 2  # one more after the timeout
    assert value("thrift_client_pool_evictions_total", reason="error") == 1
    assert value("thrift_client_pool_evictions_total", reason="closed") is None
    ok = {"thrift_success": "true", "thrift_exception_type": ""}
    assert value("thrift_client_requests_total", thrift_method="ping", **ok) == 5
    assert value("thrift_client_requests_total", thrift_method="echo", **ok) == 1
    assert (
        value(
            "thrift_client_requests_total",
            thrift_method="fail",
            thrift_success="false",
            thrift_exception_type="EchoError",
        )
        == 1
    )
    assert (
        value(
            "thrift_client_requests_total",
            thrift_method="sleep",
            thrift_success="false",
            thrift_exception_type="CallTimeoutError",
        )
        == 1
    )
    latency = value(
        "thrift_client_latency_seconds_count", thrift_method="ping", thrift_success="true"
    )
    assert latency == 5
    assert value("thrift_client_active_requests") == 0
    fast = value(
        "thrift_client_latency_seconds_bucket",
        thrift_method="ping",
        thrift_success="true",
        le="10.0",
    )
    assert fast == 5
    page = prometheus_client.generate_latest(registry).decode()
    assert (
        'thrift_client_requests_total{thrift_client_name="foo",thrift_exception_type="",'
        'thrift_method="ping",thrift_success="true"} 5.0'
    ) in page


def test_metrics_idle_gauge_follows_pool(echo: Any) -> None:
    registry = prometheus_client.CollectorRegistry()
    with echo_server(echo) as server:
        cfg = {"bar.endpoint": server.endpoint}
        spec = {"bar": ThriftClient(echo.service.Client, metrics=ClientMetrics(registry))}
        context = configure_context(cfg, spec)
        context.bar.ping()
        labels = {"thrift_client_name": "bar"}
        assert registry.get_sample_value("thrift_client_pool_idle_connections", labels) == 1
        context.bar.pool.close()
        assert registry.get_sample_value("thrift_client_pool_idle_connections", labels) == 0


def test_runtime_without_prometheus_client_still_calls(echo: Any) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["prometheus_client"] = None  # any import of it now fails
        sys.path[:0] = [{str(Path(__file__).parents[2])!r}]
        from tests.support import servers as rs
        from thriftbuild import ThriftClient, configure_context
        from thriftbuild.metrics import default_metrics
        assert default_metrics() is None
        echo = rs.import_service(rs.Path({str(echo.out)!r}), {echo.package!r}, "Echo")
        with rs.echo_server(echo) as server:
            ctx = configure_context(
                {{"foo.endpoint": server.endpoint}}, {{"foo": ThriftClient(echo.service.Client)}}
            )
            assert ctx.foo.echo("no metrics") == "no metrics"
            ctx.foo.pool.close()
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_metrics_waiters_gauge_counts_blocked_callers(echo: Any) -> None:
    registry = prometheus_client.CollectorRegistry()
    with echo_server(echo) as server:
        cfg = {"baz.endpoint": server.endpoint, "baz.size": "1", "baz.timeout": "5 seconds"}
        spec = {"baz": ThriftClient(echo.service.Client, metrics=ClientMetrics(registry))}
        context = configure_context(cfg, spec)
        held = context.baz.pool.checkout()
        waiter = threading.Thread(target=context.baz.ping)
        waiter.start()
        labels = {"thrift_client_name": "baz"}
        wait_until(
            lambda: registry.get_sample_value("thrift_client_pool_waiters", labels) == 1,
            what="a waiter",
        )
        context.baz.pool.checkin(held, True)
        waiter.join(10)
        assert registry.get_sample_value("thrift_client_pool_waiters", labels) == 0
        context.baz.pool.close()


def test_pool_without_name_takes_the_proxy_name_for_its_gauges(echo: Any) -> None:
    registry = prometheus_client.CollectorRegistry()
    metrics = ClientMetrics(registry)
    from thriftbuild import MultiEndpointPool, ThriftConnectionPool, ThriftContextFactory

    with echo_server(echo) as server:
        for make in (
            lambda: ThriftConnectionPool(server.endpoint, metrics=metrics),
            lambda: MultiEndpointPool([server.endpoint, server.endpoint], metrics=metrics),
        ):
            pool: Any = make()
            name = f"svc{type(pool).__name__}"
            proxy = ThriftContextFactory(pool, echo.service.Client, metrics=metrics).proxy(name)
            proxy.ping()
            labels = {"thrift_client_name": name}
            assert registry.get_sample_value("thrift_client_pool_idle_connections", labels) == 1
            calls = registry.get_sample_value(
                "thrift_client_requests_total",
                {
                    **labels,
                    "thrift_method": "ping",
                    "thrift_success": "true",
                    "thrift_exception_type": "",
                },
            )
            assert calls == 1
            page = prometheus_client.generate_latest(registry).decode()
            assert f'thrift_client_name="{server.endpoint}"' not in page
            pool.close()


def test_latency_histogram_reflects_a_known_server_delay(echo: Any) -> None:
    """A call the server holds for 300 ms is recorded as at least that long."""
    registry = prometheus_client.CollectorRegistry()
    metrics = ClientMetrics(registry)
    with echo_server(echo) as server:
        cfg = {"lat.endpoint": server.endpoint, "lat.timeout": "60 seconds"}
        context = configure_context(
            cfg, {"lat": ThriftClient(echo.service.Client, metrics=metrics)}
        )
        for _ in range(3):
            assert context.lat.sleep(300) == 300  # the server waits 300 ms, no less
        context.lat.ping()
        context.lat.pool.close()

    def sample(name: str, method: str, **labels: str) -> float:
        labels = {"thrift_client_name": "lat", "thrift_method": method, **labels}
        value = registry.get_sample_value(name, {**labels, "thrift_success": "true"})
        assert value is not None
        return float(value)

    total = sample("thrift_client_latency_seconds_sum", "sleep")
    assert 3 * 0.3 <= total < 3 * 60  # bounds: the delay, and the timeout
    assert sample("thrift_client_latency_seconds_bucket", "sleep", le="0.25") == 0
    assert sample("thrift_client_latency_seconds_bucket", "sleep", le="+Inf") == 3
    assert 0 < sample("thrift_client_latency_seconds_sum", "ping") < 60
