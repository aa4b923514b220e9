"""The server's recording shortcuts land exactly where prometheus_client's own API would."""

from __future__ import annotations

import prometheus_client as pc

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
