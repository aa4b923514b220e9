"""The threaded workers serve plain TCP from one epoll loop: quick plain handler
methods run on it, everything else in handler threads (real gunicorn processes)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.gunicorn.harness import Gunicorn, client, poll

LOOP, HANDLER_THREAD = "MainThread", "thrift-handler"


def _until_on_the_loop(c: Any, most: int = 5000) -> int:
    """Call ``header("thread-name")`` until it runs on the loop; the calls it took."""
    for made in range(1, most + 1):
        if c.header("thread-name") == LOOP:
            return made
    raise AssertionError(f"header() still ran in a handler thread after {most} calls")


def test_quick_methods_earn_the_loop_while_a_slow_call_holds_a_thread(workdir: Path) -> None:
    with (
        Gunicorn(workdir, "svc_app:app", "-k", "thrift_sync") as server,
        client(workdir, server.port) as slow_client,
        client(workdir, server.port) as c,
    ):
        slow = ThreadPoolExecutor(1).submit(slow_client.sleep, -1)  # until released
        poll(lambda: any(workdir.glob("started-*")), "the slow call to start")
        # A method starts in the handler threads and, proven quick there, moves to
        # the loop; the call in flight on the other connection holds up neither.
        assert c.header("thread-name") == HANDLER_THREAD
        assert _until_on_the_loop(c) >= 64
        assert [c.echo(str(i)) for i in range(100)] == [str(i) for i in range(100)]
        assert not slow.done()
        (workdir / "release").touch()
        assert slow.result(60) == -1
        # The thread that ran sleep() may take one more call; then the loop has it.
        assert _until_on_the_loop(slow_client) <= 2


def test_a_method_that_blocks_the_loop_runs_in_handler_threads_from_then_on(
    workdir: Path,
) -> None:
    with (
        Gunicorn(workdir, "svc_app:app", "-k", "thrift_sync") as server,
        client(workdir, server.port) as c,
    ):
        _until_on_the_loop(c)
        assert c.header("block") == LOOP  # held the loop 50 ms: once, and never again
        assert {c.header("thread-name") for _ in range(500)} == {HANDLER_THREAD}
        assert "plain handler header held the event loop" in server.log


def test_many_connections_are_served_in_order_each(workdir: Path) -> None:
    """8 keep-alive clients, each call's reply on its own connection and in order."""
    with Gunicorn(workdir, "svc_app:app", "-k", "thrift_sync") as server:

        def calls(index: int) -> list[bytes]:
            with client(workdir, server.port) as c:
                return [c.echo_bytes(b"%d-%d" % (index, n)) for n in range(300)]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(calls, range(8)))
    assert results == [[b"%d-%d" % (i, n) for n in range(300)] for i in range(8)]
