"""Every worker class serves many keep-alive clients per process, over TLS, and
survives handler errors and hostile bytes (real gunicorn processes)."""

from __future__ import annotations

import struct
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gunicorn
import pytest
from thrift.Thrift import TApplicationException

from tests.gunicorn.harness import Gunicorn, client, closed_by_peer, need_gevent, raw

# (worker, app): every worker with one of the three app forms.
CASES = [
    ("thrift_sync", "svc_app:app", "newest"),
    ("thriftpy_sync", "svc_app:thriftpy_processor", "newest"),
    ("thrift_gevent", "svc_app:factory", "newest"),
    ("thriftpy_gevent", "svc_app:thriftpy_app", "newest"),
    ("thrift_asyncio", "svc_app:async_factory", "newest"),  # coroutine handler methods
    # the oldest supported gunicorn
    ("thrift_sync", "svc_app:app", "floor"),
    ("thrift_gevent", "svc_app:factory", "floor"),
]


def _huge_string_call() -> bytes:
    """A strict binary call to echo() whose string claims 2**31-1 bytes."""
    name = b"echo"
    head = struct.pack("!iI", -2147418111, len(name)) + name + struct.pack("!i", 1)
    return head + struct.pack("!bhi", 11, 1, 0x7FFFFFFF) + b"x" * 64


@pytest.mark.parametrize(("worker", "app", "python"), CASES, indirect=["python"])
def test_worker_serves_concurrent_keepalive_clients_over_tls(
    workdir: Path, pki: dict[str, Path], worker: str, app: str, python: str
) -> None:
    if "gevent" in worker:
        need_gevent()
    tls = ("--certfile", str(pki["server"]), "--keyfile", str(pki["server"].with_suffix(".key")))
    with Gunicorn(workdir, app, "-k", worker, *tls, python=python) as server:
        (pid,) = server.live_workers()
        version = "23.0.0" if python != sys.executable else gunicorn.__version__
        assert f"Starting gunicorn {version}" in server.log
        with contextlib_clients(workdir, server.port, pki["ca"], 8) as clients:
            # A call in flight on one connection does not hold up the others.
            slow = ThreadPoolExecutor(1).submit(clients[0].sleep, -1)
            for round_ in range(3):
                for i, c in enumerate(clients[1:]):
                    assert c.echo(f"{round_}-{i}") == f"{round_}-{i}"
            assert not slow.done()
            big = bytes(range(256)) * (6 << 12)  # 6 MiB: a reply in many TLS writes
            assert clients[1].echo_bytes(big) == big
            (workdir / "release").touch()
            assert slow.result(60) == -1
            # Many clients at once, each on its own keep-alive connection.
            with ThreadPoolExecutor(8) as pool:
                pids = list(pool.map(lambda c: {c.bump("k") for _ in range(20)}, clients))
            assert pids == [{pid}] * 8


class contextlib_clients:
    """``n`` open clients to the server."""

    def __init__(self, workdir: Path, port: int, cafile: Path | None, n: int) -> None:
        self._managers = [client(workdir, port, cafile=cafile) for _ in range(n)]

    def __enter__(self) -> list:  # type: ignore[type-arg]
        return [m.__enter__() for m in self._managers]

    def __exit__(self, *exc: object) -> None:
        for m in self._managers:
            m.__exit__(None, None, None)


@pytest.mark.parametrize("worker", ["thrift_sync", "thrift_gevent", "thrift_asyncio"])
def test_handler_error_and_hostile_bytes_close_nothing_else(workdir: Path, worker: str) -> None:
    if "gevent" in worker:
        need_gevent()
    with Gunicorn(workdir, "svc_app:app", "-k", worker) as server:
        (pid,) = server.live_workers()
        with client(workdir, server.port) as c:
            with pytest.raises(TApplicationException) as caught:
                c.echo("boom")
            assert caught.value.type == TApplicationException.INTERNAL_ERROR
            assert c.echo("still here") == "still here"  # the connection was kept
            # A reply larger than the socket buffers goes out whole, in many sends.
            big = bytes(range(256)) * (6 << 12)
            assert c.echo_bytes(big) == big

            hostile = [
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # garbage
                _huge_string_call(),  # a length far over the limits
                b"\x80\x01\x00\x01\x00\x00\x00\x04ec",  # truncated, then the client leaves
            ]
            for data in hostile[:2]:
                sock = raw(server.port)
                sock.sendall(data)
                assert closed_by_peer(sock)
                sock.close()
            sock = raw(server.port)
            sock.sendall(hostile[2])
            sock.close()

            # The same worker serves on, on the same connection and on new ones.
            assert c.bump("k") == pid
            with client(workdir, server.port) as other:
                assert other.bump("k") == pid
        log = server.log
        assert log.count("Echo.echo failed") == 1
        tail = log.split("Echo.echo failed", 1)[1]
        assert "Traceback" in tail and "RuntimeError: the handler broke" in tail
        assert "closing connection from" in log  # the hostile ones, logged


@pytest.mark.parametrize(
    ("threads", "expected"), [("1", "thriftbuild-handler-"), ("0", "MainThread")]
)
def test_asyncio_worker_runs_plain_handlers_in_threads_or_with_threads_0_on_the_loop(
    workdir: Path, threads: str, expected: str
) -> None:
    args = ("-k", "thrift_asyncio", "--threads", threads)
    with Gunicorn(workdir, "svc_app:app", *args) as server, client(workdir, server.port) as c:
        assert c.header("thread-name").startswith(expected)
