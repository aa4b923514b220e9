"""Prometheus metrics for Thrift servers (asyncio server and gunicorn workers alike).

prometheus_client is optional (the ``metrics`` extra): without it
:func:`default_server_metrics` returns ``None`` and servers record nothing.

Unlike the client's collector (:mod:`thriftbuild.metrics`), these are plain
prometheus_client instruments, so they also work in its multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, as under gunicorn): the gauges sum over live
processes (``multiprocess_mode="livesum"``).

Families (labelled ``thrift_service``):

* ``thrift_server_requests_total`` by ``thrift_method`` and ``outcome`` (counter);
* ``thrift_server_latency_seconds`` by ``thrift_method`` and ``outcome`` (histogram),
  from a request's last byte read to its reply encoded;
* ``thrift_server_active_connections`` and ``thrift_server_active_requests`` (gauges).

Outcomes: ``success``, ``declared_exception`` (an exception the IDL declares),
``application_exception`` (the handler raised a ``TApplicationException``),
``internal_error`` (anything else), ``unknown_method`` (its method label is
``<unknown>``, so clients cannot grow the label set), ``oneway_error`` and
``cancelled``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from thriftbuild.metrics import BUCKETS

__all__ = ["OUTCOMES", "ServerMetrics", "default_server_metrics"]

OUTCOMES = (
    "success",
    "declared_exception",
    "application_exception",
    "internal_error",
    "unknown_method",
    "oneway_error",
    "cancelled",
)


class ServerMetrics:
    """The server instruments, registered once per registry.

    Args:
        registry: where to register; prometheus_client's default registry if omitted.

    Raises:
        RuntimeError: prometheus_client is not installed.
    """

    def __init__(self, registry: Any = None) -> None:
        try:
            import prometheus_client as pc
        except ImportError:
            raise RuntimeError(
                "install thriftbuild[metrics] to record Prometheus metrics"
            ) from None
        kwargs: dict[str, Any] = {} if registry is None else {"registry": registry}
        self._requests = pc.Counter(
            "thrift_server_requests",
            "Thrift requests handled, by method and outcome",
            ["thrift_service", "thrift_method", "outcome"],
            **kwargs,
        )
        self._latency = pc.Histogram(
            "thrift_server_latency_seconds",
            "Time from a request's last byte read to its reply encoded",
            ["thrift_service", "thrift_method", "outcome"],
            buckets=BUCKETS,
            **kwargs,
        )
        self._connections = pc.Gauge(
            "thrift_server_active_connections",
            "Client connections open",
            ["thrift_service"],
            multiprocess_mode="livesum",
            **kwargs,
        )
        self._in_flight = pc.Gauge(
            "thrift_server_active_requests",
            "Requests being handled",
            ["thrift_service"],
            multiprocess_mode="livesum",
            **kwargs,
        )
        self._recorders: dict[tuple[str, str, str], Callable[[float], None]] = {}

    def connections(self, service: str) -> Any:
        """The active-connections gauge of ``service`` (``inc()``/``dec()``)."""
        return self._connections.labels(service)

    def in_flight(self, service: str) -> Any:
        """The requests-in-flight gauge of ``service`` (``inc()``/``dec()``)."""
        return self._in_flight.labels(service)

    def recorder(self, service: str, method: str, outcome: str) -> Callable[[float], None]:
        """A function counting one finished request and observing its latency.

        Servers keep one per method and outcome, so a request costs no label lookup.
        """
        count = self._requests.labels(service, method, outcome).inc
        observe = self._latency.labels(service, method, outcome).observe

        def record(seconds: float) -> None:
            count()
            observe(seconds)

        return record

    def record(self, service: str, method: str, outcome: str, seconds: float) -> None:
        """Count one finished request and observe its latency."""
        key = (service, method, outcome)
        record = self._recorders.get(key)
        if record is None:
            record = self._recorders.setdefault(key, self.recorder(*key))
        record(seconds)


_default: ServerMetrics | None = None
_default_lock = threading.Lock()


def default_server_metrics() -> ServerMetrics | None:
    """The instruments in prometheus_client's default registry, or ``None`` without it."""
    global _default
    if _default is None:
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            return None
        with _default_lock:
            if _default is None:
                _default = ServerMetrics()
    return _default
