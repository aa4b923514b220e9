"""Servers: 2 processes, 8 persistent clients in 2 client processes of 4 threads (the
load issue 12 measured: application processes holding a few pooled connections each),
each client sending pre-encoded framed binary calls; counting starved clients, those
with under a tenth of the fair share. Unpinned.

Contenders: the raw socket floor (issue 12's: the cheapest honest Python server, a
thread per connection on blocking sockets, each request frame read with two blocking
``recv`` and answered with one ``sendall`` from a table of pre-encoded replies),
Apache's TThreadedServer and TNonblockingServer (the floor and these forked into 2
processes, each listening on the port with ``SO_REUSEPORT``) and TProcessPoolServer
(2 workers), gunicorn_thrift (2 ``thriftpy_sync`` workers, its Python 3 worker, with
thriftpy2's cython codec), and thriftbuild's gunicorn workers once
``thriftbuild.gunicorn`` exists: one row per worker class (``thrift_sync``,
``thrift_gevent``, ``thrift_asyncio``) and one for ``thrift_sync --threads 0``.
"""

from __future__ import annotations

from benchmarks.registry import (
    Contender,
    Metric,
    Placement,
    Role,
    Row,
    ServerSpec,
    Target,
    register,
)
from benchmarks.scenarios.common import OP_TITLES, OPS, importable

# Issue 12's load: 8 persistent clients in 2 client processes of 4 threads each, as
# application processes with a pool of connections each make them.
PROCESSES, CLIENTS, CLIENT_PROCESSES = 2, 8, 2
# Our worker classes (``-k`` names) and what each imports: ``--baseline REV`` skips
# the rows of a worker REV lacks.
OUR_WORKERS = {
    "thrift_sync": "from thriftbuild.gunicorn.workers import ThriftSyncWorker",
    "thrift_gevent": "from thriftbuild.gunicorn.geventworkers import ThriftGeventWorker",
    "thrift_asyncio": "from thriftbuild.gunicorn.aioworker import ThriftAsyncioWorker",
    # every call on the worker's epoll loop, for handlers that never block
    "thrift_sync --threads 0": "from thriftbuild.gunicorn.loop import EpollLoop",
}


def _python_server(kind: str) -> ServerSpec:
    argv = ("{python}", "-m", "benchmarks.worker.servers", kind, "--port", "{port}")
    return ServerSpec((*argv, "--processes", str(PROCESSES), "--gen", "{gen}"), env="thrift")


def _gunicorn(app: str, worker: str, env: str, extra: tuple[str, ...]) -> ServerSpec:
    argv = ("{bin}/gunicorn_thrift", app, "-k", worker, "-w", str(PROCESSES))
    return ServerSpec(
        (*argv, "-b", "127.0.0.1:{port}", *extra),
        env=env,
        extra_env={"BENCH_ECHO_IDL": "{idl}", "BENCH_GEN": "{gen}"},
    )


def contenders(worker: str) -> tuple[tuple[Contender, ...], tuple[Target, ...]]:
    floor = ServerSpec(
        (
            "{python}",
            "-m",
            "benchmarks.worker.servers",
            "raw-socket",
            "--port",
            "{port}",
            "--processes",
            str(PROCESSES),
        ),
    )
    found = [
        Contender("raw socket", Role.FLOOR, "project", {"server": floor}),
        Contender(
            "apache threaded", Role.PEER, "thrift", {"server": _python_server("apache-threaded")}
        ),
        Contender(
            "apache nonblocking",
            Role.PEER,
            "thrift",
            {"server": _python_server("apache-nonblocking")},
        ),
        Contender(
            "apache processpool",
            Role.PEER,
            "thrift",
            {"server": _python_server("apache-processpool")},
        ),
        Contender(
            "gunicorn_thrift",
            Role.PEER,
            "gunicorn_thrift",
            {
                "server": _gunicorn(
                    "benchmarks.worker.gunicorn_thrift_app:app",
                    "thriftpy_sync",
                    "gunicorn_thrift",
                    (
                        "--thrift-protocol-factory",
                        "thriftpy2.protocol:TCyBinaryProtocolFactory",
                        "--thrift-transport-factory",
                        "thriftpy2.transport:TCyFramedTransportFactory",
                    ),
                )
            },
        ),
    ]
    if importable("thriftbuild.gunicorn"):
        kind, *options = worker.split()
        ours = _gunicorn(
            "benchmarks.worker.apache_app:app",
            kind,
            "project",
            (
                "--thrift-transport-factory",
                "thrift.transport.TTransport:TFramedTransportFactory",
                *options,
            ),
        )
        spec = {"server": ours, "requires": OUR_WORKERS[worker]}
        found.append(Contender("ours", Role.OURS, "project", spec))
    targets = (
        Target("raw socket", 0.6),
        Target("gunicorn_thrift", 1.5, max_starved=0),
    )
    return tuple(found), targets


for (op, size, op_id), worker in [(o, w) for o in OPS[:2] for w in OUR_WORKERS]:
    row_contenders, row_targets = contenders(worker)
    row_name = worker.replace(" --", "-").replace(" ", "")  # thrift_sync-threads0
    register(
        Row(
            id=f"server/{op_id}/{PROCESSES}procs-{CLIENTS}clients/{row_name}",
            title=(
                f"server: {OP_TITLES[op_id]}, {PROCESSES} processes, {CLIENTS} persistent "
                f"clients in {CLIENT_PROCESSES} processes, ours = {worker}"
            ),
            runner="server",
            metric=Metric.RATE,
            placement=Placement.UNPINNED,
            contenders=row_contenders,
            targets=row_targets,
            params={
                "clients": CLIENTS,
                "client_processes": CLIENT_PROCESSES,
                "op": op,
                "size": size,
                "protocol": "binary",
                "transport": "framed",
            },
        )
    )
