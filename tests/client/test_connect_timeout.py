"""A checkout's deadline bounds the connect, not only the wait for a slot.

The pool's ``timeout`` (here a minute) is the most a connect may take; a caller that
passes an earlier deadline must get its error by then, even from a server that never
answers the handshake.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from thriftbuild import ThriftConnectionPool
from thriftbuild.errors import ConnectFailedError, PoolExhaustedError


@pytest.fixture
def unanswered_address() -> Iterator[tuple[str, int]]:
    """A loopback listener whose accept queue is full: Linux drops further SYNs, so a
    connect to it hangs until the client gives up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers: list[socket.socket] = []
    try:
        for _ in range(16):  # the queue holds one or two; stop at the first hang
            filler = socket.socket()
            filler.settimeout(2.0)  # a loopback connect that is answered takes microseconds
            try:
                filler.connect(address)
            except TimeoutError:
                filler.close()
                break
            fillers.append(filler)
        else:
            pytest.fail("the listener accepted 16 connections without ever filling up")
        yield address
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_checkout_deadline_bounds_a_hanging_connect(
    unanswered_address: tuple[str, int],
) -> None:
    host, port = unanswered_address
    pool = ThriftConnectionPool(f"{host}:{port}", timeout=60.0, max_connection_attempts=3)
    try:
        start = time.monotonic()
        with pytest.raises(ConnectFailedError) as caught:
            pool.checkout(deadline=start + 1.0, method="ping")
        elapsed = time.monotonic() - start
    finally:
        pool.close()
    # Far below the pool's 60 s connect timeout, which alone would have bounded it.
    assert elapsed < 30.0, f"the connect took {elapsed:.1f} s past a 1 s deadline"
    assert caught.value.method == "ping"
    assert f"{host}:{port}" in str(caught.value)
    assert "1 of 3 attempts" in str(caught.value)  # the deadline ended the retries


def test_checkout_past_its_deadline_reports_contention_not_a_connect_failure(
    unanswered_address: tuple[str, int],
) -> None:
    host, port = unanswered_address
    pool = ThriftConnectionPool(f"{host}:{port}", timeout=60.0)
    try:
        with pytest.raises(PoolExhaustedError):
            pool.checkout(deadline=time.monotonic() - 1.0, method="ping")
    finally:
        pool.close()
