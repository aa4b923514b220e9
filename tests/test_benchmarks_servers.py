"""The server rows' floors answer every row's request correctly, however the request
arrives (nothing is timed here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.procs import RunningServer, Workspace, start_server
from benchmarks.registry import ROWS, Role, ServerSpec
from benchmarks.scenarios import load_all
from benchmarks.worker import wire
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
