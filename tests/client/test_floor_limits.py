"""Reply bombs are bounded on the oldest thrift we accept, not only the newest.

thrift 0.16 (the floor in pyproject.toml) buffers whatever length an unframed reply
declares and inflates THeader zlib payloads without a limit; the client must bound
both itself. The newest thrift runs the same faults in tests/client/test_hardening.py.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, Wheelhouse, make_venv, pip_install, run

pytestmark = pytest.mark.slow

SCRIPT = """
import importlib.metadata as m, resource, socket, struct, sys, threading, time, zlib
sys.path.insert(0, {out!r})
from echo_thrift import Echo
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory
from thrift.protocol.THeaderProtocol import THeaderProtocolFactory
from thriftbuild import ProtocolError, ThriftConnectionPool, wire

def serve(reply_for):
    listener = socket.create_server(("127.0.0.1", 0))
    def run():
        conn, _ = listener.accept()
        decoder = wire.AutoDecoder()
        frames = []
        while not frames:
            frames = decoder.feed(conn.recv(65536))
        head, _ = wire.decode_head(frames[0].protocol, frames[0].payload)
        conn.sendall(reply_for(frames[0], head))
        conn.recv(1)
        conn.close()
    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]

def huge_string(frame, head):
    reply = wire.encode_head(wire.BINARY, head.name, wire.MessageType.REPLY, head.seqid)
    return reply + b"\\x0b\\x00\\x00" + struct.pack("!i", 2**31 - 1) + b"x" * 65536

BOMB = zlib.compress(b"\\x00" * (400 << 20), 9)

def zlib_bomb(frame, head):
    block = bytes((frame.protocol, 1, 1, 0))
    fixed = struct.pack("!iHHiH", 10 + 4 + len(BOMB), 0x0FFF, 0, frame.seqid, 1)
    return fixed + block + BOMB

peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = peak()
for factory, reply in (
    (TBinaryProtocolAcceleratedFactory(), huge_string),
    (THeaderProtocolFactory(), zlib_bomb),
):
    pool = ThriftConnectionPool(
        f"127.0.0.1:{{serve(reply)}}", protocol_factory=factory, timeout=30, metrics=False
    )
    start = time.monotonic()
    try:
        with pool.connection() as prot:
            Echo.Client(prot).echo("x")
    except ProtocolError as exc:
        assert "echo()" in str(exc) and "max_" in str(exc), exc
    else:
        raise AssertionError("no ProtocolError")
    assert time.monotonic() - start < 15, "waited for the deadline"
grown = peak() - before
assert grown < 64 << 20, grown
print("ok thrift", m.version("thrift"))
"""


@pytest.fixture(scope="module")
def thrift_floor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of thrift at the floor pyproject.toml declares (from the package index)."""
    directory = tmp_path_factory.mktemp("thrift-floor")
    result = run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-w", directory, "thrift==0.16.0"],
        check=False,
    )
    if result.returncode != 0:
        message = f"cannot fetch thrift==0.16.0: {result.stderr[-500:]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return directory


def test_reply_bombs_bounded_on_thrift_floor(
    echo: Any, thrift_floor: Path, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    python = make_venv(tmp_path / "venv", wheelhouse)
    env = wheelhouse.pip_env(thrift_floor)
    pip_install(python, wheelhouse, "thrift==0.16.0", "thriftbuild", env=env)
    script = textwrap.dedent(SCRIPT).format(out=str(echo.out))
    done = run([python, "-c", script], timeout=300)
    assert done.stdout.strip() == "ok thrift 0.16.0"
