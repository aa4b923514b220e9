"""Blocking clients: ping, 1 KiB and 64 KiB echo; one connection and 8 threads; four
wire formats. Every row calls the C echo server, except the ``8threads-pyserver`` ones.

Contenders: the raw-socket floor, ours (``configure_context`` with the row's
``protocol``/``transport`` keys, metrics on as shipped), Apache's generated client on
persistent connections, thriftpy2's cython client (no THeader), and baseplate's pool
(THeader only). One connection is a sequential ping-pong, pinned to one CPU with the
server; 8 threads share a pool of 8 (ours, baseplate) or hold a connection each
(the raw clients), unpinned.

The ``8threads-pyserver`` rows call a Python server instead: Apache's
``TThreadedServer`` in one process (its accelerated binary codec), where the
client's threads and the server's compete for two cores and their GILs' hand-offs.
"""

from __future__ import annotations

from benchmarks.registry import SERVERS, Metric, Placement, Role, Row, ServerSpec, Target, register
from benchmarks.scenarios.common import OP_TITLES, OPS, SYNC_REQUIRES, sync_client

WIRES = (
    ("binary", "buffered", "binary", "binary + buffered"),
    ("binary", "framed", "framed", "binary + framed"),
    ("compact", "buffered", "compact", "compact + buffered"),
    ("compact", "header", "header", "THeader (compact)"),
)
CONCURRENCY = (
    (1, "1conn", "1 connection", Placement.PINNED),
    (8, "8threads", "8 threads", Placement.UNPINNED),
)

for op, size, op_id in OPS:
    for threads, conc_id, conc_title, placement in CONCURRENCY:
        for protocol, transport, wire_id, wire_title in WIRES:
            contenders = [
                sync_client("raw socket", Role.FLOOR, "project", "raw"),
                sync_client("ours", Role.OURS, "project", "ours", SYNC_REQUIRES),
                sync_client("apache", Role.PEER, "thrift", "apache"),
            ]
            targets = [Target("apache", 1.0)]
            if transport == "header":
                contenders.append(sync_client("baseplate", Role.PEER, "baseplate", "baseplate"))
                targets.append(Target("baseplate", 2.0))
            else:
                # thriftpy2 has a cython binary codec; its compact codec is Python.
                name = "thriftpy2 cython" if protocol == "binary" else "thriftpy2"
                contenders.append(sync_client(name, Role.PEER, "thriftpy2", "thriftpy2"))
                targets.append(Target(name, 1.0))
            register(
                Row(
                    id=f"sync/{op_id}/{conc_id}/{wire_id}",
                    title=f"{OP_TITLES[op_id]}, {conc_title}, {wire_title}",
                    runner="client",
                    metric=Metric.RATE,
                    placement=placement,
                    contenders=tuple(contenders),
                    targets=tuple(targets),
                    params={
                        "server": "c-echo",
                        "mode": "threads",
                        "op": op,
                        "size": size,
                        "protocol": protocol,
                        "transport": transport,
                        "threads": threads,
                    },
                )
            )


# Apache's TThreadedServer, one process, unframed or framed binary.
for transport in ("buffered", "framed"):
    SERVERS[f"apache-threaded-{transport}"] = ServerSpec(
        (
            "{python}",
            "-m",
            "benchmarks.worker.servers",
            "apache-threaded",
            "--port",
            "{port}",
            "--processes",
            "1",
            "--gen",
            "{gen}",
            "--transport",
            transport,
        ),
        env="thrift",
        ready_transport=transport,
    )

for protocol, transport, wire_id, wire_title in WIRES[:2]:
    name = "thriftpy2 cython"
    register(
        Row(
            id=f"sync/ping/8threads-pyserver/{wire_id}",
            title=f"ping, 8 threads, {wire_title}, Apache's Python TThreadedServer",
            runner="client",
            metric=Metric.RATE,
            placement=Placement.UNPINNED,
            contenders=(
                sync_client("raw socket", Role.FLOOR, "project", "raw"),
                sync_client("ours", Role.OURS, "project", "ours", SYNC_REQUIRES),
                sync_client("apache", Role.PEER, "thrift", "apache"),
                sync_client(name, Role.PEER, "thriftpy2", "thriftpy2"),
            ),
            targets=(Target("apache", 1.0), Target(name, 1.0)),
            params={
                "server": f"apache-threaded-{transport}",
                "mode": "threads",
                "op": "ping",
                "size": 0,
                "protocol": protocol,
                "transport": transport,
                "threads": 8,
            },
        )
    )
