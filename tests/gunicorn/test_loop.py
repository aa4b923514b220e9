"""``thrift_sync --threads 0``: every call on the worker's epoll loop, many clients
per process, replies in order, slow readers never stall the others, graceful to the
last call (real gunicorn processes)."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.gunicorn.harness import Gunicorn, client, closed_by_peer, poll, raw

LOOP = ("-k", "thrift_sync", "--threads", "0")


def test_every_call_runs_on_the_main_thread_and_each_connection_keeps_its_order(
    workdir: Path,
) -> None:
    with Gunicorn(workdir, "svc_app:app", *LOOP) as server:
        with client(workdir, server.port) as c:
            assert c.header("thread-name") == "MainThread"

        def calls(index: int) -> list[bytes]:
            with client(workdir, server.port) as c:
                return [c.echo_bytes(b"%d-%d" % (index, n)) for n in range(200)]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(calls, range(8)))
    assert results == [[b"%d-%d" % (i, n) for n in range(200)] for i in range(8)]


def test_a_client_that_does_not_read_its_reply_stalls_no_other(workdir: Path) -> None:
    big = bytes(range(256)) * (32 << 10)  # 8 MiB: more than the socket buffers hold
    with (
        Gunicorn(workdir, "svc_app:app", *LOOP) as server,
        client(workdir, server.port) as slow_reader,
        client(workdir, server.port) as other,
    ):
        slow_reader.send_echo_bytes(big)  # the request only; the reply is not read yet
        poll(lambda: other.ping() is None and other.echo("x") == "x", "another client's calls")
        assert [other.echo(str(n)) for n in range(50)] == [str(n) for n in range(50)]
        assert slow_reader.recv_echo_bytes() == big
        assert slow_reader.echo("after") == "after"


def test_sigterm_lets_the_call_in_flight_reply_then_closes_idle_connections(
    workdir: Path,
) -> None:
    with Gunicorn(workdir, "svc_app:app", *LOOP) as server:
        (pid,) = server.live_workers()
        with client(workdir, server.port) as busy:
            idle = [raw(server.port) for _ in range(3)]
            slow = ThreadPoolExecutor(1).submit(busy.sleep, -1)  # until released
            poll(lambda: any(workdir.glob("started-*")), "the slow call to start")
            server.signal(signal.SIGTERM)
            poll(lambda: (workdir / f"term-{pid}").exists(), "SIGTERM to reach the worker")
            (workdir / "release").touch()
            assert slow.result(30) == -1  # the call in flight got its reply
            for sock in idle:
                assert closed_by_peer(sock)
                sock.close()
        assert server.wait(60) == 0
        assert "graceful timeout" not in server.log and "SIGKILL" not in server.log
