"""The workers' Prometheus metrics, served by the gunicorn master process.

Workers record into prometheus_client's multiprocess directory
(``PROMETHEUS_MULTIPROC_DIR``); the master, which outlives every worker,
serves the sum at ``/metrics`` on ``--thrift-metrics-bind HOST:PORT`` and removes
the live-gauge files of each worker that exits.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["serve_metrics"]

_ENV = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")


def serve_metrics(cfg: Any, bind: str) -> None:
    """Start the metrics endpoint in this (the master) process.

    Raises:
        RuntimeError: prometheus_client is missing, or no multiprocess directory is set.
    """
    directory = next((os.environ[name] for name in _ENV if os.environ.get(name)), None)
    if directory is None or not Path(directory).is_dir():
        raise RuntimeError(
            "--thrift-metrics-bind needs PROMETHEUS_MULTIPROC_DIR set to an existing, "
            "empty directory before gunicorn starts"
        )
    try:
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server
    except ImportError:
        raise RuntimeError("--thrift-metrics-bind needs thriftbuild[metrics]") from None
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise RuntimeError(f"--thrift-metrics-bind: expected HOST:PORT, not {bind!r}")
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    started = start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0", registry=registry)
    # prometheus_client >= 0.17 returns the server: report the port really bound (for :0).
    shown = f"{host}:{port}"
    if isinstance(started, tuple):
        address = started[0].server_address
        bound = address[0] if isinstance(address[0], str) else host
        shown = f"{bound}:{address[1]}"
    sys.stderr.write(f"thriftbuild: serving metrics at http://{shown}/metrics\n")

    previous = cfg.child_exit

    def child_exit(server: Any, worker: Any) -> None:
        multiprocess.mark_process_dead(worker.pid, directory)  # type: ignore[no-untyped-call]
        previous(server, worker)

    cfg.set("child_exit", child_exit)
