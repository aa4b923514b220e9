"""The Thrift settings as gunicorn_thrift deployments write them: config-file keys
and flags, the factory settings (thriftpy. names included), the idle client
timeout, the hooks, the gevent blocking check, and every dialect on one port."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
from thrift.protocol.TCompactProtocol import TCompactProtocolAccelerated
from thrift.protocol.THeaderProtocol import THeaderProtocol
from thrift.transport import TSocket
from thrift.transport.THeaderTransport import THeaderClientType
from thrift.transport.TTransport import TBufferedTransport, TFramedTransport, TTransportException

from tests.gunicorn.harness import Gunicorn, echo_module, need_gevent, poll

DIALECTS = ["binary", "compact", "binary-framed", "compact-framed", "header"]


@contextlib.contextmanager
def dialect_client(workdir: Path, port: int, kind: str) -> Iterator[Any]:
    """An Apache Echo client speaking ``kind``."""
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(30_000)
    if kind == "header":
        transport: Any = sock
        protocol: Any = THeaderProtocol(sock, [THeaderClientType.HEADERS])
    else:
        name, _, framing = kind.partition("-")
        transport = TFramedTransport(sock) if framing else TBufferedTransport(sock)
        cls = TBinaryProtocolAccelerated if name == "binary" else TCompactProtocolAccelerated
        protocol = cls(transport)
    transport.open()
    client = echo_module(workdir).Client(protocol)
    try:
        yield client
    finally:
        transport.close()


def _rejected(workdir: Path, port: int, kind: str) -> bool:
    with dialect_client(workdir, port, kind) as c:
        try:
            c.echo("x")
        except (TTransportException, EOFError, ConnectionError):
            return True
    return False


def test_config_file_keys_as_gunicorn_thrift_documents_them(workdir: Path) -> None:
    need_gevent()
    config = """
worker_class = "thriftpy_gevent"
thrift_transport_factory = "thriftpy.transport:TCyFramedTransportFactory"
thrift_protocol_factory = "thriftpy.protocol:TCompactProtocolFactory"
thrift_client_timeout = 0.5
gevent_check_interval = 0.2
"""
    with Gunicorn(workdir, "svc_app:app", config=config) as server:
        with dialect_client(workdir, server.port, "compact-framed") as c:
            # A call longer than the client timeout: the timeout counts idle time only.
            assert c.sleep(800) == 800
            pid = c.bump("k")
            assert c.bump("block-hub") == pid  # blocks the hub for a second
        poll(lambda: "Greenlet appears to be blocked" in server.log, "the blocking report")
        assert _rejected(workdir, server.port, "binary")  # not the configured dialect
        with dialect_client(workdir, server.port, "compact-framed") as idle:
            idle.ping()
            sock = idle._iprot.trans._TFramedTransport__trans.handle
            sock.settimeout(30)
            assert sock.recv(1) == b""  # closed after 0.5s of silence
        assert "idle past the client timeout" in server.log
        connected = (workdir / "connected").read_text().split("\n")
        assert f"{pid} 127.0.0.1" in connected  # on_connected(worker, addr) ran


@pytest.mark.parametrize("worker", ["thrift_sync", "thrift_asyncio"])
def test_flags_choose_factories_and_timeout(workdir: Path, worker: str) -> None:
    # thrift_asyncio detects every dialect by default; a configured factory pins it.
    flags = [
        "-k",
        worker,
        "--thrift-transport-factory",
        "thrift.transport.TTransport:TFramedTransportFactory",
        "--thrift-protocol-factory",
        "thrift.protocol.TBinaryProtocol:TBinaryProtocolFactory",
        "--thrift-client-timeout",
        "0.5",
    ]
    with Gunicorn(workdir, "svc_app:app", *flags) as server:
        with dialect_client(workdir, server.port, "binary-framed") as c:
            assert c.sleep(700) == 700
        assert _rejected(workdir, server.port, "compact")


@pytest.mark.parametrize(
    ("worker", "flags"),
    [
        ("thrift_sync", ("--thrift-auto-dialect",)),
        ("thriftpy_gevent", ("--thrift-auto-dialect",)),
        ("thrift_asyncio", ()),  # its default: no factory configured
    ],
)
def test_auto_dialect_serves_every_dialect_on_one_port(
    workdir: Path, worker: str, flags: tuple[str, ...]
) -> None:
    if "gevent" in worker:
        need_gevent()
    with Gunicorn(workdir, "svc_app:app", "-k", worker, *flags) as server:
        for kind in DIALECTS:
            with dialect_client(workdir, server.port, kind) as c:
                assert c.echo(kind) == kind
                assert c.echo_bytes(b"\x00\xff") == b"\x00\xff"


def test_unsupported_factory_stops_boot_with_a_clear_error(workdir: Path) -> None:
    flags = ["--thrift-protocol-factory", "thrift.protocol.TJSONProtocol:TJSONProtocolFactory"]
    server = Gunicorn(workdir, "svc_app:app", *flags)
    with pytest.raises(AssertionError, match="gunicorn exited"):
        server.start()
    assert "TJSONProtocolFactory' is not supported" in server.log
