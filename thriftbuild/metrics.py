"""Prometheus instruments for the client runtime, labelled by client name.

prometheus_client is an optional dependency (the ``metrics`` extra). Without it,
:func:`default_metrics` returns ``None`` and the runtime records nothing; nothing
else changes. Instruments are bound to their label values once per client and
method, so a call pays for a few increments, not for label lookups.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "CallInstruments",
    "ClientMetrics",
    "PoolInstruments",
    "default_metrics",
]


def _prometheus() -> Any:
    # Imported on first use, so that importing the runtime stays cheap.
    try:
        import prometheus_client
    except ImportError:
        return None
    return prometheus_client


_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_NAME = "thrift_client_name"


class PoolInstruments:
    """A pool's instruments, bound to its client name."""

    def __init__(self, metrics: ClientMetrics, name: str) -> None:
        self.checkout_wait = metrics.checkout_wait.labels(name)
        self.connects = metrics.connects.labels(name)
        self.connect_failures = metrics.connect_failures.labels(name)
        self._evictions = metrics.evictions
        self._name = name
        self._gauges = (
            metrics.pool_max_size.labels(name),
            metrics.pool_in_use.labels(name),
            metrics.pool_idle.labels(name),
            metrics.pool_waiters.labels(name),
        )

    def watch(
        self,
        size: Callable[[], float],
        in_use: Callable[[], float],
        idle: Callable[[], float],
        waiting: Callable[[], float],
    ) -> None:
        """Report the pool's state, read at scrape time (no cost per call)."""
        for gauge, fn in zip(self._gauges, (size, in_use, idle, waiting), strict=True):
            gauge.set_function(fn)

    def evicted(self, reason: str) -> None:
        """Count a connection closed instead of reused, by reason."""
        self._evictions.labels(self._name, reason).inc()


class CallInstruments:
    """One client method's instruments, bound to client name and method."""

    def __init__(self, metrics: ClientMetrics, name: str, method: str) -> None:
        self._metrics = metrics
        self._name = name
        self._method = method
        self.in_flight = metrics.in_flight.labels(name, method)
        self._ok_latency = metrics.latency.labels(name, method, "true")
        self._fail_latency = metrics.latency.labels(name, method, "false")
        self._ok_total = metrics.requests.labels(name, method, "true", "")

    def record(self, seconds: float, exc: BaseException | None) -> None:
        """Record one finished call (``exc`` is what it raised, if anything)."""
        if exc is None:
            self._ok_latency.observe(seconds)
            self._ok_total.inc()
            return
        self._fail_latency.observe(seconds)
        self._metrics.requests.labels(self._name, self._method, "false", type(exc).__name__).inc()


class ClientMetrics:
    """The runtime's instruments in one registry.

    Args:
        registry: where to register; prometheus_client's default registry if omitted.
    """

    def __init__(self, registry: Any = None) -> None:
        pc = _prometheus()
        if pc is None:
            raise RuntimeError("install thriftbuild[metrics] to record Prometheus metrics")
        reg = pc.REGISTRY if registry is None else registry
        name = [_NAME]
        self.pool_max_size = pc.Gauge(
            "thrift_client_pool_max_size",
            "Connections a pool may open before callers wait",
            name,
            registry=reg,
        )
        self.pool_in_use = pc.Gauge(
            "thrift_client_pool_active_connections",
            "Connections checked out of the pool",
            name,
            registry=reg,
        )
        self.pool_idle = pc.Gauge(
            "thrift_client_pool_idle_connections",
            "Open connections waiting in the pool",
            name,
            registry=reg,
        )
        self.pool_waiters = pc.Gauge(
            "thrift_client_pool_waiters",
            "Callers waiting for a connection slot",
            name,
            registry=reg,
        )
        self.checkout_wait = pc.Histogram(
            "thrift_client_pool_checkout_wait_seconds",
            "Time from asking the pool for a connection to getting one",
            name,
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.connects = pc.Counter(
            "thrift_client_pool_connects",
            "Connections opened",
            name,
            registry=reg,
        )
        self.connect_failures = pc.Counter(
            "thrift_client_pool_connect_failures",
            "Failed connection attempts",
            name,
            registry=reg,
        )
        self.evictions = pc.Counter(
            "thrift_client_pool_evictions",
            "Connections closed instead of reused, by reason",
            [_NAME, "reason"],
            registry=reg,
        )
        self.latency = pc.Histogram(
            "thrift_client_latency_seconds",
            "Latency of Thrift client calls",
            [_NAME, "thrift_method", "thrift_success"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.requests = pc.Counter(
            "thrift_client_requests",
            "Thrift client calls by method, outcome and exception type",
            [_NAME, "thrift_method", "thrift_success", "thrift_exception_type"],
            registry=reg,
        )
        self.in_flight = pc.Gauge(
            "thrift_client_active_requests",
            "Thrift client calls in flight",
            [_NAME, "thrift_method"],
            registry=reg,
            multiprocess_mode="livesum",
        )

    def pool(self, name: str) -> PoolInstruments:
        """Instruments for the pool of client ``name``."""
        return PoolInstruments(self, name)

    def call(self, name: str, method: str) -> CallInstruments:
        """Instruments for calls to ``method`` through client ``name``."""
        return CallInstruments(self, name, method)


_default: ClientMetrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> ClientMetrics | None:
    """The instruments in prometheus_client's default registry, or ``None`` without it."""
    global _default
    if _default is not None:
        return _default
    if _prometheus() is None:
        return None
    with _default_lock:
        if _default is None:
            _default = ClientMetrics()
        return _default
