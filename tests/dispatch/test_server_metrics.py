"""The server's recording shortcuts land exactly where prometheus_client's own API would."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import prometheus_client as pc
import pytest

from tests.gunicorn.harness import need_gevent
from thriftbuild.metrics import BUCKETS
from thriftbuild.server_metrics import ServerMetrics

LABELS = {"thrift_service": "Echo", "thrift_method": "echo", "outcome": "success"}


def _samples(registry: pc.CollectorRegistry, name: str) -> dict[tuple[str, str], float]:
    found = {}
    for family in registry.collect():
        if family.name == name:
            for sample in family.samples:
                if not sample.name.endswith("_created"):  # a timestamp, not a count
                    found[(sample.name, sample.labels.get("le", ""))] = sample.value
    return found


def test_recorder_counts_and_buckets_as_the_public_api() -> None:
    ours_registry, reference_registry = pc.CollectorRegistry(), pc.CollectorRegistry()
    metrics = ServerMetrics(ours_registry)
    reference = pc.Histogram(
        "thrift_server_latency_seconds",
        "reference",
        list(LABELS),
        buckets=BUCKETS,
        registry=reference_registry,
    ).labels(*LABELS.values())
    record = metrics.recorder(*LABELS.values())
    # Every bound exactly (inclusive), just above and below it, zero, past the last.
    values = [0.0, 1e9]
    for bound in BUCKETS:
        values += [bound, bound * 0.999, bound * 1.001]
    for value in values:
        record(value)
        reference.observe(value)
    ours = _samples(ours_registry, "thrift_server_latency_seconds")
    expected = _samples(reference_registry, "thrift_server_latency_seconds")
    assert ours == expected
    assert ours[("thrift_server_latency_seconds_count", "")] == len(values)
    assert ours_registry.get_sample_value("thrift_server_requests_total", LABELS) == len(values)


def test_in_flight_adder_moves_the_gauge_both_ways() -> None:
    registry = pc.CollectorRegistry()
    add = ServerMetrics(registry).in_flight_adder("Echo")
    add(1)
    add(1)
    add(-1)
    value = registry.get_sample_value("thrift_server_active_requests", {"thrift_service": "Echo"})
    assert value == 1.0


_UNDER_GEVENT = """
from gevent import monkey

monkey.patch_all()  # as the gevent workers do, before the metrics exist

import threading

import gevent
import prometheus_client as pc

from thriftbuild.server_metrics import ServerMetrics

registry = pc.CollectorRegistry()
metrics = ServerMetrics(registry)
record = metrics.recorder("Echo", "echo", "success")
in_flight = metrics.in_flight_adder("Echo")
native = type(monkey.get_original("_thread", "allocate_lock")())
histogram = metrics._latency.labels("Echo", "echo", "success")
count = metrics._requests.labels("Echo", "echo", "success")
values = [histogram._sum, *histogram._buckets, count._value]
assert all(type(value._lock) is native for value in values), [type(v._lock) for v in values]
assert type(threading.Lock()) is not native  # patched everywhere else


def work():
    for _ in range(2000):
        in_flight(1)
        record(0.001)
        in_flight(-1)
        gevent.sleep(0)


gevent.joinall([gevent.spawn(work) for _ in range(5)])
labels = {"thrift_service": "Echo", "thrift_method": "echo", "outcome": "success"}
print(
    registry.get_sample_value("thrift_server_requests_total", labels),
    registry.get_sample_value("thrift_server_latency_seconds_count", labels),
    registry.get_sample_value("thrift_server_active_requests", {"thrift_service": "Echo"}),
)
"""


def test_under_gevent_the_values_take_native_locks_and_count_every_call() -> None:
    need_gevent()
    done = subprocess.run(
        [sys.executable, "-c", _UNDER_GEVENT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["10000.0", "10000.0", "0.0"]


def test_one_recorder_per_labels_counts_every_call_from_threads() -> None:
    registry = pc.CollectorRegistry()
    metrics = ServerMetrics(registry)
    record = metrics.recorder(*LABELS.values())
    assert metrics.recorder(*LABELS.values()) is record  # values re-locked once only
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: [record(0.003) for _ in range(5000)], range(4)))
    metrics.record(*LABELS.values(), 0.003)
    assert registry.get_sample_value("thrift_server_requests_total", LABELS) == 20001
    assert registry.get_sample_value("thrift_server_latency_seconds_count", LABELS) == 20001
    le = {**LABELS, "le": "0.005"}
    assert registry.get_sample_value("thrift_server_latency_seconds_bucket", le) == 20001
    total = registry.get_sample_value("thrift_server_latency_seconds_sum", LABELS)
    assert total == pytest.approx(20001 * 0.003)


def test_a_finishing_recorder_takes_the_call_off_the_in_flight_gauge_from_threads() -> None:
    registry = pc.CollectorRegistry()
    metrics = ServerMetrics(registry)
    begun = metrics.in_flight_adder("Echo")
    finish = metrics.recorder(*LABELS.values(), finishing=True)
    assert metrics.recorder(*LABELS.values(), finishing=True) is finish
    record = metrics.recorder(*LABELS.values())  # the same values, without the gauge

    def calls(_: int) -> None:
        for _ in range(5000):
            begun(1)
            finish(0.003)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(calls, range(4)))
    begun(1)
    record(0.003)
    gauge = registry.get_sample_value("thrift_server_active_requests", {"thrift_service": "Echo"})
    assert gauge == 1.0
    assert registry.get_sample_value("thrift_server_requests_total", LABELS) == 20001
    le = {**LABELS, "le": "0.005"}
    assert registry.get_sample_value("thrift_server_latency_seconds_bucket", le) == 20001
