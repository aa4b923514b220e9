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

import sys
import threading
from bisect import bisect_left
from collections.abc import Callable
from typing import Any, cast

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
        self._recorders: dict[tuple[str, str, str, bool], Callable[[float], None]] = {}
        self._lock = threading.Lock()
        # The one lock of every in-process value these instruments hold (made when
        # first needed, after gevent patched, see _native_lock): a request's in-flight
        # decrement, count, sum and bucket then take it once, together.
        self._values_lock: Any = None

    def connections(self, service: str) -> Any:
        """The active-connections gauge of ``service`` (``inc()``/``dec()``)."""
        return self._connections.labels(service)

    def in_flight(self, service: str) -> Any:
        """The requests-in-flight gauge of ``service`` (``inc()``/``dec()``)."""
        return self._in_flight.labels(service)

    def in_flight_adder(self, service: str) -> Callable[[float], None]:
        """A function adding to ``service``'s in-flight gauge (``1`` begun, ``-1`` done).

        Servers call it twice per request, so it skips the instrument's checks
        (see :func:`_value_adder`).
        """
        with self._lock:
            value = self._in_flight_value(service)
        if value is not None:
            return cast("Callable[[float], None]", value.inc)
        return _value_adder(self._in_flight.labels(service))

    def _shared_lock(self) -> Any:
        if self._values_lock is None:
            self._values_lock = _native_lock()
        return self._values_lock

    def _in_flight_value(self, service: str) -> Any:
        """The in-flight gauge's in-process value, on the shared lock (None: not plain)."""
        value = getattr(self._in_flight.labels(service), "_value", None)
        if value is None or not _plain(value):
            return None
        value._lock = self._shared_lock()
        return value

    def recorder(
        self, service: str, method: str, outcome: str, *, finishing: bool = False
    ) -> Callable[[float], None]:
        """A function counting one finished request and observing its latency.

        Servers keep one per method and outcome, so a request costs no label lookup,
        and none of the checks prometheus_client makes on every call: the children
        are labelled, unlimited, without exemplars (see :func:`_value_adder`). Made
        once per labels and process; later calls return the same function.

        ``finishing``: the function also takes the request off ``service``'s
        in-flight gauge (what :meth:`in_flight_adder` ``(-1)`` does), in the same
        locked section as the rest when the values are in-process ones.
        """
        key = (service, method, outcome, finishing)
        found = self._recorders.get(key)
        if found is None:
            with self._lock:
                found = self._recorders.get(key)
                if found is None:
                    found = self._recorders[key] = self._make_recorder(*key)
        return found

    def _make_recorder(
        self, service: str, method: str, outcome: str, finishing: bool
    ) -> Callable[[float], None]:
        in_flight = self._in_flight_value(service) if finishing else None
        if finishing and in_flight is None:  # not in-process values: one after the other
            done = _value_adder(self._in_flight.labels(service))
            record_only = self._make_recorder(service, method, outcome, False)

            def record_done(seconds: float) -> None:
                done(-1)
                record_only(seconds)

            return record_done
        child = self._requests.labels(service, method, outcome)
        histogram = self._latency.labels(service, method, outcome)
        try:
            total, values = child._value, tuple(histogram._buckets)
            added, bounds = histogram._sum, tuple(histogram._upper_bounds)
            usable = len(bounds) == len(values) and bounds[-1] == float("inf")
        except (AttributeError, TypeError, IndexError):
            usable = False
        if not usable:  # another prometheus_client layout: its public API
            count, observe = _value_adder(child), histogram.observe

            def record_public(seconds: float) -> None:
                if in_flight is not None:
                    in_flight.inc(-1)
                count(1)
                observe(seconds)

            return record_public
        if all(_plain(value) for value in (total, added, *values)):
            # In-process values: one lock for all, so a request takes it once (and
            # their own inc/get, which collection uses, take the same one).
            lock = self._shared_lock()
            for value in (total, added, *values):
                value._lock = lock
            if in_flight is not None:

                def record_finished(seconds: float) -> None:
                    with lock:
                        in_flight._value -= 1
                        total._value += 1
                        added._value += seconds
                        values[bisect_left(bounds, seconds)]._value += 1

                return record_finished

            def record_plain(seconds: float) -> None:
                with lock:
                    total._value += 1
                    added._value += seconds
                    # The first bucket whose bound holds the value, as observe finds it.
                    values[bisect_left(bounds, seconds)]._value += 1

            return record_plain
        if in_flight is not None:  # in-process gauge, other values: the gauge first
            gauge, record_rest = in_flight.inc, self._make_recorder(service, method, outcome, False)

            def record_mixed(seconds: float) -> None:
                gauge(-1)
                record_rest(seconds)

            return record_mixed
        count, add_sum = _value_adder(child), added.inc
        buckets = tuple(value.inc for value in values)

        def record(seconds: float) -> None:
            count(1)
            add_sum(seconds)
            buckets[bisect_left(bounds, seconds)](1)

        return record

    def record(self, service: str, method: str, outcome: str, seconds: float) -> None:
        """Count one finished request and observe its latency."""
        self.recorder(service, method, outcome)(seconds)


def _plain(value: Any) -> bool:
    """Whether ``value`` is prometheus_client's in-process value (a float and a lock)."""
    from prometheus_client.values import MutexValue

    return type(value) is MutexValue and isinstance(value._value, float)


def _native_lock() -> Any:
    """A lock of the OS, also under gevent's monkey-patching (see :func:`_native_locked`)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        return monkey.get_original("_thread", "allocate_lock")()
    return threading.Lock()


def _value_adder(child: Any) -> Callable[[float], None]:
    """``child``'s value's own ``inc``: what ``Counter.inc``/``Gauge.inc`` do after checks.

    The checks (labels set, non-negative counter steps, exemplars, ``mostrecent``
    gauges) cannot fail for the children servers use, and cost more than the
    addition. Falls back to the public ``inc`` when prometheus_client stores
    values differently.
    """
    value = _native_locked(getattr(child, "_value", None))
    add = getattr(value, "inc", None)
    if callable(add):
        return cast("Callable[[float], None]", add)
    public: Callable[[float], None] = child.inc
    return public


def _native_locked(value: Any) -> Any:
    """``value`` (a prometheus_client value), its lock made a native one under gevent.

    prometheus_client makes each value's lock when the value is made; under gevent's
    monkey-patching (the gevent workers) that is a gevent lock, which costs several
    times a native lock on every increment. The locked sections only add to or read
    a float, never switching greenlets, so a native lock is correct there -- and
    also excludes real threads. Values without a plain ``_lock`` are left alone.
    """
    monkey = sys.modules.get("gevent.monkey")
    lock = getattr(value, "_lock", None)
    if monkey is None or lock is None or not monkey.is_module_patched("threading"):
        return value
    native = _native_lock()
    if not isinstance(lock, type(native)):
        value._lock = native
    return value


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
