"""asyncio clients: 100 tasks over 10 connections, on asyncio's loop and on uvloop,
binary + buffered, against the C echo server (unpinned: a concurrent workload);
``ping`` and a 1 KiB string ``echo``.

Contenders: raw asyncio streams on pre-encoded bytes (floor), aiothrift's pool,
thriftpy2's ``contrib.aio`` clients, and ``thriftbuild.aio``'s pool once that module
exists in this checkout.
"""

from __future__ import annotations

from benchmarks.registry import Contender, Metric, Placement, Role, Row, Target, register
from benchmarks.scenarios.common import OP_TITLES, async_client, importable

TASKS, CONNECTIONS = 100, 10
# A string echo, not binary: aiothrift cannot send ``binary`` arguments.
OPS = (("ping", 0, "ping"), ("text", 1024, "echo-1k-string"))

for op, size, op_id in OPS:
    for loop in ("asyncio", "uvloop"):
        contenders: list[Contender] = [
            async_client("raw asyncio streams", Role.FLOOR, "project", "raw"),
            async_client("aiothrift", Role.PEER, "aiothrift", "aiothrift"),
            async_client("thriftpy2 aio", Role.PEER, "thriftpy2", "thriftpy2"),
        ]
        if importable("thriftbuild.aio"):
            contenders.append(async_client("ours", Role.OURS, "project", "ours"))
        register(
            Row(
                id=f"aio/{op_id}/{TASKS}tasks-{CONNECTIONS}conns/{loop}",
                title=f"{OP_TITLES[op_id]}, {TASKS} tasks over {CONNECTIONS} connections, {loop}",
                runner="client",
                metric=Metric.RATE,
                placement=Placement.UNPINNED,
                contenders=tuple(contenders),
                targets=(Target("aiothrift", 3.0), Target("thriftpy2 aio", 2.0)),
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
