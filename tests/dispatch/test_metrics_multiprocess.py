"""Server metrics under prometheus_client's multiprocess mode (as under gunicorn):
two processes record, one registry collects both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from tests.conftest import REPO

RECORD = """
from thriftbuild.server_metrics import ServerMetrics
metrics = ServerMetrics()
metrics.record("Echo", "echo", "success", 0.002)
metrics.connections("Echo").inc()
metrics.in_flight_adder("Echo")(1)  # the path servers take
"""


def test_server_metrics_sum_over_processes(tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    pids = []
    for _ in range(2):
        child = subprocess.Popen([sys.executable, "-c", RECORD], cwd=REPO, env=env)
        assert child.wait(60) == 0
        pids.append(child.pid)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    labels = {"thrift_service": "Echo", "thrift_method": "echo", "outcome": "success"}
    assert registry.get_sample_value("thrift_server_requests_total", labels) == 2
    assert registry.get_sample_value("thrift_server_latency_seconds_count", labels) == 2
    gauges = ("thrift_server_active_connections", "thrift_server_active_requests")
    for gauge in gauges:
        assert registry.get_sample_value(gauge, {"thrift_service": "Echo"}) == 2
    # livesum gauges drop a process once it is marked dead (gunicorn's child_exit hook).
    for pid in pids:
        mark_process_dead(pid, str(tmp_path))
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    for gauge in gauges:
        assert registry.get_sample_value(gauge, {"thrift_service": "Echo"}) in (None, 0.0)
    assert registry.get_sample_value("thrift_server_requests_total", labels) == 2
