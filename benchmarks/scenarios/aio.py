"""asyncio clients: 100 tasks over 10 connections, on asyncio's loop and on uvloop,
binary + buffered, against the C echo server (unpinned: a concurrent workload);
``ping`` and a 1 KiB string ``echo``.

Contenders: raw asyncio streams on pre-encoded bytes (floor, one call at a time per
connection), aiothrift's pool, thriftpy2's ``contrib.aio`` clients, and
``thriftbuild.aio``'s pool once that module exists in this checkout -- by default, and
in ``-pipelined`` rows with ``pipeline=16``.
Targets (issue 11): ≥ 0.5x the floor, ≥ 3x aiothrift, ≥ 2x thriftpy2 aio.

asyncio servers (``aio-server/...``): one process each, 8 persistent clients sending
framed binary; ``ping`` and a 1 KiB string echo (aiothrift's server cannot decode
arbitrary binary). Contenders: the raw asyncio-streams server (floor: pre-encoded
replies from a table; the ``server/*`` rows, which compare servers of every kind, have
a blocking-socket floor instead), aiothrift's server, Apache's ``TThreadedServer``,
and ``thriftbuild.aio``'s server -- one row with ``async def`` handler methods, one
with plain methods (run in its thread pool).
"""

from __future__ import annotations

import itertools

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
from benchmarks.scenarios.common import AIO_REQUIRES, OP_TITLES, async_client, importable

TASKS, CONNECTIONS = 100, 10
# A string echo, not binary: aiothrift cannot send ``binary`` arguments.
OPS = (("ping", 0, "ping"), ("text", 1024, "echo-1k-string"))

# Ours as configured by default (one call at a time per connection, ``async with
# pool.get()``), and with ``pipeline=16`` (``await pool.echo(...)``: up to 16 calls
# outstanding per connection). The peers cannot pipeline; every contender of a row
# runs on the row's loop (uvloop rows: uvloop for all).
VARIANTS = (("", "ours", ""), ("-pipelined", "ours_pipelined", ", ours with pipeline=16"))

for (op, size, op_id), (suffix, factory, note) in itertools.product(OPS, VARIANTS):
    for loop in ("asyncio", "uvloop"):
        contenders: list[Contender] = [
            async_client("raw asyncio streams", Role.FLOOR, "project", "raw"),
            async_client("aiothrift", Role.PEER, "aiothrift", "aiothrift"),
            async_client("thriftpy2 aio", Role.PEER, "thriftpy2", "thriftpy2"),
        ]
        if importable("thriftbuild.aio"):
            contenders.append(async_client("ours", Role.OURS, "project", factory, AIO_REQUIRES))
        register(
            Row(
                id=f"aio/{op_id}/{TASKS}tasks-{CONNECTIONS}conns{suffix}/{loop}",
                title=(
                    f"{OP_TITLES[op_id]}, {TASKS} tasks over {CONNECTIONS} connections, "
                    f"{loop}{note}"
                ),
                runner="client",
                metric=Metric.RATE,
                placement=Placement.UNPINNED,
                contenders=tuple(contenders),
                targets=(
                    Target("raw asyncio streams", 0.5),
                    Target("aiothrift", 3.0),
                    Target("thriftpy2 aio", 2.0),
                ),
                params={
                    "server": "c-echo",
                    "mode": "async",
                    "op": op,
                    "size": size,
                    "protocol": "binary",
                    "transport": "buffered",
                    "tasks": TASKS,
                    "connections": CONNECTIONS,
                    "loop": loop,
                },
            )
        )


SERVER_CLIENTS = 8


def _server(kind: str, env: str, loop: str = "asyncio") -> ServerSpec:
    argv = ("{python}", "-m", "benchmarks.worker.servers", kind, "--port", "{port}")
    options = ("--processes", "1", "--gen", "{gen}", "--idl", "{idl}", "--loop", loop)
    return ServerSpec((*argv, *options), env=env)


for op, size, op_id in (("ping", 0, "ping"), ("text", 1024, "echo-1k-string")):
    for handler, loop in (("async", "asyncio"), ("plain", "asyncio"), ("async", "uvloop")):
        server_contenders = [
            Contender(
                "raw asyncio streams",
                Role.FLOOR,
                "project",
                {"server": _server("raw-asyncio", "project")},
            ),
            Contender(
                "aiothrift",
                Role.PEER,
                "aiothrift",
                {"server": _server("aiothrift", "aiothrift", loop)},
            ),
            Contender(
                "apache threaded",
                Role.PEER,
                "thrift",
                {"server": _server("apache-threaded", "thrift")},
            ),
        ]
        if importable("thriftbuild.aio"):
            kind = "ours-aio" if handler == "async" else "ours-aio-plain"
            spec = {"server": _server(kind, "project", loop), "requires": AIO_REQUIRES}
            server_contenders.append(Contender("ours", Role.OURS, "project", spec))
        register(
            Row(
                id=f"aio-server/{op_id}/{SERVER_CLIENTS}clients/{handler}-handler/{loop}",
                title=(
                    f"asyncio server, {OP_TITLES[op_id]}, 1 process x {SERVER_CLIENTS} "
                    f"persistent clients, ours with {handler} handler methods, {loop} "
                    "(aiothrift on the same loop)"
                ),
                runner="server",
                metric=Metric.RATE,
                placement=Placement.UNPINNED,
                contenders=tuple(server_contenders),
                targets=(Target("aiothrift", 1.0, max_starved=0), Target("apache threaded", 1.0)),
                params={
                    "clients": SERVER_CLIENTS,
                    "client_processes": SERVER_CLIENTS,  # a process per client
                    "op": op,
                    "size": size,
                    "protocol": "binary",
                    "transport": "framed",
                },
            )
        )
