"""The server rows' floors answer every row's request correctly, however the request
arrives (nothing is timed here)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import machine
from benchmarks.procs import RunningServer, Workspace, run_load_clients, start_server
from benchmarks.registry import ROWS, Role, ServerSpec
from benchmarks.runner import starved
from benchmarks.scenarios import load_all
from benchmarks.worker import wire
from benchmarks.worker.context import Context
from benchmarks.worker.measure import process_cpu
from benchmarks.worker.servers import ROWS as SERVED


def _floor(prefix: str) -> tuple[str, ServerSpec]:
    load_all()
    row = next(row for row in ROWS.values() if row.id.startswith(prefix))
    floor = row.one(Role.FLOOR)
    assert floor is not None
    return floor.name, floor.spec["server"]


@pytest.fixture(params=["server/", "aio-server/"])
def floor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, RunningServer]]:
    name, spec = _floor(request.param)
    server = start_server(name, spec, Workspace(tmp_path))
    try:
        yield name, server
    finally:
        server.stop()


def test_server_rows_floor_is_the_raw_socket_server_and_aio_rows_keep_asyncio() -> None:
    assert _floor("server/")[0] == "raw socket"
    assert "raw-socket" in _floor("server/")[1].argv
    assert _floor("aio-server/")[0] == "raw asyncio streams"
    assert "raw-asyncio" in _floor("aio-server/")[1].argv


def test_floor_answers_each_request_even_when_it_arrives_a_byte_at_a_time(
    floor: tuple[str, RunningServer],
) -> None:
    _, server = floor
    with wire.connect(server.port) as sock:
        for op, size in SERVED * 2:
            request = wire.request_bytes(op, size, "binary", "framed")
            reply = wire.reply_bytes(op, size, "binary", "framed")
            # The length and the frame split anywhere: the floor must wait for all.
            for index in range(0, len(request), 3):
                sock.sendall(request[index : index + 3])
            got = b""
            while len(got) < len(reply):
                chunk = sock.recv(len(reply) - len(got))
                assert chunk, "the floor closed the connection"
                got += chunk
            assert got == reply, (op, size)


def test_floor_serves_many_connections_at_once(floor: tuple[str, RunningServer]) -> None:
    _, server = floor
    request = wire.request_bytes("ping", 0, "binary", "framed")
    reply = wire.reply_bytes("ping", 0, "binary", "framed")
    socks = [wire.connect(server.port) for _ in range(8)]
    try:
        # Every connection stays open while the others call: none waits for another.
        for _ in range(3):
            for sock in socks:
                wire.RawExchange(sock, request, reply).call()
    finally:
        for sock in socks:
            sock.close()


def test_floor_closes_a_connection_that_sends_an_unknown_request(
    floor: tuple[str, RunningServer],
) -> None:
    _, server = floor
    with wire.connect(server.port) as sock:
        sock.sendall(b"\x00\x00\x00\x03abc")
        assert sock.recv(1) == b""


def test_a_client_is_starved_under_a_tenth_of_the_fair_share() -> None:
    # Fair share here: 1000 / 5 = 200 calls; under 20 is starved, 20 is not.
    assert starved([600, 361, 20, 19, 0]) == 2
    assert starved([250, 250, 250, 250]) == 0
    assert starved([0, 0, 0, 0]) == 0  # nobody served: no call to share, none starved


def test_load_clients_run_in_processes_of_several_connections(tmp_path: Path) -> None:
    """Issue 12's load: 8 clients in 2 processes of 4 threads, each counted alone."""
    name, spec = _floor("server/")
    server = start_server(name, spec, Workspace(tmp_path))
    try:
        base = Context(
            factory="",
            mode="load",
            port=server.port,
            transport="framed",
            duration=5.0,
            max_calls=50,
        )
        contexts = [dataclasses.replace(base, connections=4) for _ in range(2)]
        results = run_load_clients(Path(sys.executable), contexts, warmup=0.0, timeout=60)
    finally:
        server.stop()
    counts = [c for result in results for c in result["per_connection"]]
    assert len(counts) == 8
    assert counts == [50] * 8  # each thread counted its own calls, up to max_calls
    assert [r["calls"] for r in results] == [sum(counts[:4]), sum(counts[4:])]


def test_server_cpu_counts_the_processes_the_server_forked(tmp_path: Path) -> None:
    """The floor serves in forked children while its first process only waits: the
    server's CPU per call must come from all of them."""
    name, spec = _floor("server/")
    server = start_server(name, spec, Workspace(tmp_path))
    try:
        workers = int(spec.argv[spec.argv.index("--processes") + 1])
        assert workers > 1 and len(machine._session_members(server.pid)) == 1 + workers
        session, parent = machine.session_cpu(server.pid), process_cpu(server.pid)
        ctx = Context(factory="", mode="load", port=server.port, transport="framed")
        ctx = dataclasses.replace(ctx, duration=60.0, max_calls=5000, connections=4)
        run_load_clients(Path(sys.executable), [ctx], warmup=0.0, timeout=120)
        session, parent = (
            machine.session_cpu(server.pid) - session,
            process_cpu(server.pid) - parent,
        )
    finally:
        server.stop()
    assert session > parent  # 20,000 calls served by the children
