"""Metrics scraped across two workers in prometheus multiprocess mode (with
--preload and generated code), and the worker classes under plain gunicorn."""

from __future__ import annotations

import re
import shutil
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from thrift.Thrift import TApplicationException

from tests.gunicorn.harness import Gunicorn, client, poll


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_endpoint_sums_both_workers_with_preload(workdir: Path, tmp_path: Path) -> None:
    prom = tmp_path / "prom"
    prom.mkdir()
    args = ("-k", "thrift_sync", "--preload", "--thrift-metrics-bind", "127.0.0.1:0")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(prom)}
    with Gunicorn(workdir, "svc_app:app", *args, workers=2, env=env) as server:
        found = re.search(r"serving metrics at (http://\S+)", server.log)
        assert found is not None, server.log
        url = found.group(1)
        pids: set[int] = set()
        calls = 0

        def one_connection(_: int) -> set[int]:
            with client(workdir, server.port) as c:
                return {c.bump("k") for _ in range(5)}

        with ThreadPoolExecutor(4) as pool:
            while len(pids) < 2:  # until both workers served calls
                for served in pool.map(one_connection, range(8)):
                    pids |= served
                calls += 8 * 5
        with client(workdir, server.port) as c:
            for _ in range(3):
                with pytest.raises(TApplicationException):
                    c.echo("boom")
            text = urllib.request.urlopen(url, timeout=30).read().decode()
            ok = _sample(
                text, "thrift_server_requests_total", thrift_method="bump", outcome="success"
            )
            assert ok == calls
            failed = _sample(
                text, "thrift_server_requests_total", thrift_method="echo", outcome="internal_error"
            )
            assert failed == 3
            assert (
                _sample(text, "thrift_server_latency_seconds_count", thrift_method="bump") == calls
            )
            assert _sample(text, "thrift_server_active_connections", thrift_service="Echo") == 1
            assert _sample(text, "thrift_server_active_requests", thrift_service="Echo") == 0


def test_worker_class_under_plain_gunicorn(workdir: Path) -> None:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn is not None
    command = [gunicorn, "-k", "thriftbuild.gunicorn.ThriftSyncWorker"]
    with Gunicorn(workdir, "svc_app:factory", command=command, workers=2) as server:
        poll(lambda: len(server.live_workers()) == 2, "workers")
        with client(workdir, server.port) as c:
            assert c.echo("plain gunicorn") == "plain gunicorn"
