"""gunicorn's process management around the Thrift workers: graceful SIGTERM,
SIGHUP, TTIN/TTOU, --max-requests counted in RPCs, stuck handlers replaced, idle
keep-alive never a timeout -- and a client pool that sees no failure meanwhile."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from thrift.transport import TSocket
from thrift.transport.TTransport import TBufferedTransport

from tests.gunicorn.harness import Gunicorn, echo_module, need_gevent, poll
from thriftbuild import ThriftConnectionPool, ThriftContextFactory

_OPEN: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Any:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _keepalive(workdir: Path, port: int) -> tuple[Any, Any]:
    """An Apache client that made one call (so a worker holds its connection) and its socket."""
    from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated

    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(30_000)
    transport = TBufferedTransport(sock)
    transport.open()
    _OPEN.append(transport)
    client = echo_module(workdir).Client(TBinaryProtocolAccelerated(transport))
    client.ping()
    return client, sock.handle


def _background(fn: Any, *args: Any) -> Any:
    executor = ThreadPoolExecutor(1)
    future = executor.submit(fn, *args)
    executor.shutdown(wait=False)
    return future


def _eof(handle: Any) -> bool:
    try:
        return bool(handle.recv(1) == b"")
    except ConnectionResetError:
        return True


@pytest.mark.parametrize(
    ("worker", "python"),
    [
        ("thrift_sync", "newest"),
        ("thrift_gevent", "newest"),
        ("thrift_asyncio", "newest"),
        ("thrift_sync", "floor"),
    ],
    indirect=["python"],
)
def test_sigterm_finishes_call_in_flight_and_closes_idle_connections(
    workdir: Path, worker: str, python: str
) -> None:
    if "gevent" in worker:
        need_gevent()
    with Gunicorn(workdir, "svc_app:app", "-k", worker, workers=2, python=python) as server:
        workers = server.live_workers()
        busy, _ = _keepalive(workdir, server.port)
        idle = [_keepalive(workdir, server.port) for _ in range(4)]
        slow = _background(busy.sleep, -1)  # waits for the release file
        poll(lambda: any(workdir.glob("started-*")), "the slow call to start")

        server.signal(signal.SIGTERM)
        poll(lambda: {int(p.name[5:]) for p in workdir.glob("term-*")} == workers, "SIGTERM")
        # Idle keep-alive connections are closed at once, while the slow call runs on.
        for _, handle in idle:
            assert _eof(handle)
        assert not slow.done()
        (workdir / "release").touch()
        assert slow.result(30) == -1  # the call in flight got its reply
        assert server.wait(60) == 0
        log = server.log
        assert "graceful timeout" not in log and "SIGKILL" not in log
        assert "Shutting down: Master" in log


# "thrift_sync --threads 0": every call on the worker's epoll loop (gunicorn/loop.py).
WORKERS = ["thrift_sync", "thrift_sync --threads 0", "thrift_gevent", "thrift_asyncio"]


@pytest.mark.parametrize("worker", WORKERS)
def test_restarts_hup_ttin_ttou_and_max_requests_fail_no_pooled_call(
    workdir: Path, worker: str
) -> None:
    if "gevent" in worker:
        need_gevent()
    args = ("-k", *worker.split(), "--thrift-auto-dialect")
    args += ("--max-requests", "20", "--max-requests-jitter", "10")
    with Gunicorn(workdir, "svc_app:app", *args, workers=2) as server:
        pool = ThriftConnectionPool(f"127.0.0.1:{server.port}", size=4, timeout=10)
        _OPEN.append(pool)  # closed after the test, also when it fails
        proxy = ThriftContextFactory(pool, echo_module(workdir).Client, metrics=False).proxy("e")
        served: list[int] = []

        def calls(n: int) -> None:
            # Non-idempotent calls: only failures that never reached a server are retried.
            with proxy.retrying(attempts=3) as svc:
                for _ in range(n):
                    served.append(svc.bump("k"))

        # --max-requests recycles workers as RPCs are counted, mid-traffic.
        calls(100)
        assert server.log.count("Autorestarting worker") >= 2
        # Signals while the pool holds idle connections to the workers they replace.
        # The last recycled worker may still be booting: HUP once both are up, so
        # that every worker it replaces is known.
        first = server.wait_workers(2)
        server.signal(signal.SIGHUP)
        poll(lambda: not (server.live_workers() & first), "old workers to go", 60)
        server.wait_workers(2)
        calls(10)
        server.signal(signal.SIGTTIN)
        server.wait_workers(3)
        calls(10)
        server.signal(signal.SIGTTOU)
        server.wait_workers(2)
        calls(10)
        assert len(served) == 130
        assert len(set(served)) >= 5  # served by many successive workers


def test_asyncio_worker_max_requests_counts_plain_calls_run_on_the_loop(workdir: Path) -> None:
    # Past the first calls, a fast plain handler runs on the loop (aio/_inline.py):
    # the call that reaches --max-requests closes the server while it runs there,
    # and its reply still goes out, followed by the close.
    args = ("-k", "thrift_asyncio", "--thrift-auto-dialect", "--max-requests", "150")
    with Gunicorn(workdir, "svc_app:app", *args, workers=1) as server:
        pool = ThriftConnectionPool(f"127.0.0.1:{server.port}", size=1, timeout=10)
        proxy = ThriftContextFactory(pool, echo_module(workdir).Client, metrics=False).proxy("e")
        with proxy.retrying(attempts=3) as svc:  # retries only calls that never arrived
            served = [svc.bump("k") for _ in range(400)]
        assert len(served) == 400
        assert server.log.count("Autorestarting worker") >= 2
        # bump answers the worker's pid: runs of 150 calls, each its worker's last 150
        runs = [served[i : i + 150] for i in range(0, 400, 150)]
        assert all(len(set(run)) == 1 for run in runs)
        assert len(set(served)) == 3
        pool.close()


@pytest.mark.parametrize("worker", WORKERS)
def test_stuck_call_gets_worker_replaced_idle_keepalive_never_times_out(
    workdir: Path, worker: str
) -> None:
    if "gevent" in worker:
        need_gevent()
    args = ("-k", *worker.split(), "--timeout", "1")
    with Gunicorn(workdir, "svc_app:app", *args, workers=2) as server:
        # Keep-alive clients on both workers, then idle for longer than --timeout.
        idle: dict[int, Any] = {}
        while len(idle) < 2:
            c, _ = _keepalive(workdir, server.port)
            idle.setdefault(c.bump("k"), c)
        stuck_client, _ = _keepalive(workdir, server.port)
        stuck_pid = stuck_client.bump("k")
        stuck = _background(stuck_client.sleep, -1)  # never released
        poll(lambda: "WORKER TIMEOUT" in server.log, "the arbiter to time the call out", 60)
        poll(lambda: stuck.done(), "the stuck connection to close")
        assert stuck.exception() is not None
        server.wait_workers(2)
        healthy = next(pid for pid in idle if pid != stuck_pid)
        # The other worker's idle connection outlived --timeout and still serves.
        assert idle[healthy].bump("k") == healthy
        assert server.log.count("WORKER TIMEOUT") == 1
        assert f"WORKER TIMEOUT (pid:{stuck_pid})" in server.log
