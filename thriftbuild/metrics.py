"""Prometheus metrics for the client runtime, labelled by client name.

prometheus_client is an optional dependency (the ``metrics`` extra). Without it,
:func:`default_metrics` returns ``None`` and the runtime records nothing; nothing
else changes.

The hot path does not touch prometheus_client: a call appends one record to its
method's deque (no lock, so threads calling together never contend), records are
folded into fixed-bucket histograms in batches, and :class:`ClientMetrics` is a
collector that turns them into metric families when the registry is scraped
(instead of five instrument updates per call, each with its own lock and label
lookup). Gauges (connections in use, idle,
waiters, requests in flight) are read from the live pools at scrape time, so they
cost nothing per call.

Exposed families (all labelled ``thrift_client_name``):

* ``thrift_client_pool_max_size``, ``thrift_client_pool_active_connections``,
  ``thrift_client_pool_idle_connections``, ``thrift_client_pool_waiters``,
  ``thrift_client_active_requests`` (gauges);
* ``thrift_client_pool_checkout_wait_seconds`` (histogram);
* ``thrift_client_pool_connects_total``, ``thrift_client_pool_connect_failures_total``,
  ``thrift_client_pool_evictions_total`` by ``reason`` (counters);
* ``thrift_client_latency_seconds`` by ``thrift_method`` and ``thrift_success``
  (histogram);
* ``thrift_client_requests_total`` by ``thrift_method``, ``thrift_success`` and
  ``thrift_exception_type`` (counter).
"""

from __future__ import annotations

import collections
import threading
import weakref
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = [
    "BUCKETS",
    "CallInstruments",
    "ClientMetrics",
    "PoolInstruments",
    "default_metrics",
]

#: Histogram bucket upper bounds in seconds (``+Inf`` is implied).
BUCKETS = (
    0.0001,
    0.00025,
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


def _prometheus() -> Any:
    # Imported on first use, so that importing the runtime stays cheap.
    try:
        import prometheus_client
        import prometheus_client.core
    except ImportError:
        return None
    return prometheus_client


class _PoolState(Protocol):
    size: int

    @property
    def checkedout(self) -> int: ...

    @property
    def idle(self) -> int: ...

    @property
    def waiting(self) -> int: ...


class _Histogram:
    """Fixed buckets; the caller holds the owning lock."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(BUCKETS, value)] += 1
        self.total += value

    def add(self, other: _Histogram) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*map(repr, BUCKETS), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


class PoolInstruments:
    """Counters of the pools of one client name."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wait = _Histogram()
        self.connects = 0
        self.connect_failures = 0
        self.evictions: dict[str, int] = {}
        self.pools: weakref.WeakSet[Any] = weakref.WeakSet()

    def watch(self, pool: _PoolState) -> None:
        """Report ``pool``'s size, connections and waiters, read at scrape time."""
        with self.lock:
            self.pools.add(pool)

    def waited(self, seconds: float) -> None:
        """Record one checkout's wait for a connection."""
        wait = self.wait
        index = bisect_left(BUCKETS, seconds)
        with self.lock:  # the histogram's update, inlined: this runs on every call
            wait.counts[index] += 1
            wait.total += seconds

    def connected(self) -> None:
        """Count a connection opened."""
        with self.lock:
            self.connects += 1

    def connect_failed(self) -> None:
        """Count a failed connection attempt."""
        with self.lock:
            self.connect_failures += 1

    def evicted(self, reason: str) -> None:
        """Count a connection closed instead of reused, by reason."""
        with self.lock:
            self.evictions[reason] = self.evictions.get(reason, 0) + 1


class CallInstruments:
    """Latency and outcomes of one method called through one client name.

    A call appends one tuple to a deque (atomic, no lock: many threads calling
    the same method never contend); the histograms are brought up to date from it
    every 1,024 calls by whichever caller gets there, and at scrape time.
    """

    __slots__ = ("failed", "latency_fail", "latency_ok", "lock", "pending", "wait")

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held while folding pending records in
        self.pending: collections.deque[tuple[float, float | None, str | None]] = (
            collections.deque()
        )
        self.latency_ok = _Histogram()
        self.latency_fail = _Histogram()
        self.wait = _Histogram()  # checkout waits of these calls (part of the pool's)
        self.failed: dict[str, int] = {}

    def record(self, seconds: float, exc: BaseException | None, waited: float | None) -> None:
        """Record one finished call.

        Args:
            seconds: how long the call took.
            exc: what it raised, if anything.
            waited: how long it waited for a connection, if it got one.
        """
        pending = self.pending
        pending.append((seconds, waited, None if exc is None else type(exc).__name__))
        if len(pending) >= 1024:
            self.fold(block=False)

    def fold(self, block: bool = True) -> None:
        """Fold pending records into the histograms (skipped if busy and not ``block``)."""
        if not self.lock.acquire(blocking=block):
            return  # another thread is folding; it drains what we appended too
        try:
            popleft = self.pending.popleft
            ok, wait, failed = self.latency_ok.counts, self.wait.counts, self.failed
            ok_total = wait_total = 0.0
            try:
                while True:  # histogram updates inlined: this loop sees every call
                    seconds, waited, kind = popleft()
                    if waited is not None:
                        wait[bisect_left(BUCKETS, waited)] += 1
                        wait_total += waited
                    if kind is None:
                        ok[bisect_left(BUCKETS, seconds)] += 1
                        ok_total += seconds
                    else:
                        self.latency_fail.observe(seconds)
                        failed[kind] = failed.get(kind, 0) + 1
            except IndexError:
                pass  # drained
            self.latency_ok.total += ok_total
            self.wait.total += wait_total
        finally:
            self.lock.release()


#: Pool gauges: key in ``collect``, metric name, help text.
_POOL_GAUGES = (
    ("max_size", "thrift_client_pool_max_size", "Connections a pool may open before callers wait"),
    ("in_use", "thrift_client_pool_active_connections", "Connections checked out of the pool"),
    ("idle", "thrift_client_pool_idle_connections", "Open connections waiting in the pool"),
    ("waiting", "thrift_client_pool_waiters", "Callers waiting for a connection slot"),
    (
        "in_flight",
        "thrift_client_active_requests",
        "Calls in flight: holding or waiting for a connection",
    ),
)


class ClientMetrics:
    """The runtime's metrics, registered as one collector in a registry.

    Args:
        registry: where to register; prometheus_client's default registry if omitted.
    """

    def __init__(self, registry: Any = None) -> None:
        pc = _prometheus()
        if pc is None:
            raise RuntimeError("install thriftbuild[metrics] to record Prometheus metrics")
        self._pc = pc
        self._lock = threading.Lock()
        self._pools: dict[str, PoolInstruments] = {}
        self._calls: dict[tuple[str, str], CallInstruments] = {}
        (pc.REGISTRY if registry is None else registry).register(self)

    def pool(self, name: str) -> PoolInstruments:
        """Instruments for the pools of client ``name`` (shared by pools of that name)."""
        with self._lock:
            found = self._pools.get(name)
            if found is None:
                found = self._pools[name] = PoolInstruments()
            return found

    def rename_pool(self, pool: Any, old: PoolInstruments, name: str) -> PoolInstruments:
        """Move ``pool`` from the instruments ``old`` to those of client ``name``.

        The old name's instruments are dropped when no pool is left on them and
        they have counted nothing, so a renamed pool leaves no label behind.
        """
        with old.lock:
            old.pools.discard(pool)
            unused = not old.pools and not old.connects and not old.connect_failures
            unused = unused and not old.evictions and not any(old.wait.counts)
        if unused:
            with self._lock:
                for key, value in list(self._pools.items()):
                    if value is old:
                        del self._pools[key]
        new = self.pool(name)
        new.watch(pool)
        return new

    def call(self, name: str, method: str) -> CallInstruments:
        """Instruments for calls to ``method`` through client ``name``."""
        with self._lock:
            found = self._calls.get((name, method))
            if found is None:
                found = self._calls[(name, method)] = CallInstruments()
            return found

    def describe(self) -> list[Any]:
        """Nothing: the families depend on the live pools, so none is declared ahead."""
        # Registration without collecting: our families depend on live pools.
        return []

    def collect(self) -> Iterator[Any]:
        """Build the metric families (called by the registry at scrape time)."""
        core = self._pc.core
        with self._lock:
            pools = list(self._pools.items())
            calls = list(self._calls.items())
        gauges = {
            key: core.GaugeMetricFamily(name, description, labels=[_NAME])
            for key, name, description in _POOL_GAUGES
        }
        wait = core.HistogramMetricFamily(
            "thrift_client_pool_checkout_wait_seconds",
            "Time from asking the pool for a connection to getting one",
            labels=[_NAME],
        )
        connects = core.CounterMetricFamily(
            "thrift_client_pool_connects", "Connections opened", labels=[_NAME]
        )
        failures = core.CounterMetricFamily(
            "thrift_client_pool_connect_failures", "Failed connection attempts", labels=[_NAME]
        )
        evictions = core.CounterMetricFamily(
            "thrift_client_pool_evictions",
            "Connections closed instead of reused, by reason",
            labels=[_NAME, "reason"],
        )
        call_waits: dict[str, _Histogram] = {}
        for (name, _method), call in calls:
            call.fold()
            merged = call_waits.setdefault(name, _Histogram())
            with call.lock:
                merged.add(call.wait)
        for name, inst in pools:
            with inst.lock:
                live = list(inst.pools)
                both = _Histogram()
                both.add(inst.wait)
                if name in call_waits:
                    both.add(call_waits[name])
                buckets, total = both.cumulative(), both.total
                opened, failed = inst.connects, inst.connect_failures
                evicted = dict(inst.evictions)
            size = sum(p.size for p in live)
            in_use = sum(p.checkedout for p in live)
            idle = sum(p.idle for p in live)
            waiting = sum(p.waiting for p in live)
            for key, value in (
                ("max_size", size),
                ("in_use", in_use),
                ("idle", idle),
                ("waiting", waiting),
                ("in_flight", in_use + waiting),
            ):
                gauges[key].add_metric([name], value)
            wait.add_metric([name], buckets, total)
            connects.add_metric([name], opened)
            failures.add_metric([name], failed)
            for reason, count in sorted(evicted.items()):
                evictions.add_metric([name, reason], count)
        latency = core.HistogramMetricFamily(
            "thrift_client_latency_seconds",
            "Latency of Thrift client calls",
            labels=[_NAME, "thrift_method", "thrift_success"],
        )
        requests = core.CounterMetricFamily(
            "thrift_client_requests",
            "Thrift client calls by method, outcome and exception type",
            labels=[_NAME, "thrift_method", "thrift_success", "thrift_exception_type"],
        )
        for (name, method), call in calls:
            with call.lock:
                ok = call.latency_ok.cumulative(), call.latency_ok.total
                bad = call.latency_fail.cumulative(), call.latency_fail.total
                failed_by_type = dict(call.failed)
            if ok[0][-1][1]:
                latency.add_metric([name, method, "true"], ok[0], ok[1])
                requests.add_metric([name, method, "true", ""], ok[0][-1][1])
            if bad[0][-1][1]:
                latency.add_metric([name, method, "false"], bad[0], bad[1])
            for kind, count in sorted(failed_by_type.items()):
                requests.add_metric([name, method, "false", kind], count)
        yield from gauges.values()
        yield from (wait, connects, failures, evictions, latency, requests)


_default: ClientMetrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> ClientMetrics | None:
    """The metrics in prometheus_client's default registry, or ``None`` without it."""
    global _default
    if _default is not None:
        return _default
    if _prometheus() is None:
        return None
    with _default_lock:
        if _default is None:
            _default = ClientMetrics()
        return _default
