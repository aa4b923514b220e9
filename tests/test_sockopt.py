"""SO_RCVTIMEO as the client channel and the threaded workers set it (values that are
whole jiffies at any HZ: the kernel keeps the timeout in jiffies)."""

from __future__ import annotations

import socket
import struct

import pytest

from thriftbuild._sockopt import set_receive_timeout


@pytest.mark.parametrize(
    ("micros", "timeval"), [(1_500_000, (1, 500_000)), (200_000, (0, 200_000))]
)
def test_the_kernel_holds_the_timeout_as_seconds_and_microseconds(
    micros: int, timeval: tuple[int, int]
) -> None:
    a, b = socket.socketpair()
    with a, b:
        set_receive_timeout(a, micros)
        raw = a.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.calcsize("@ll"))
        assert struct.unpack("@ll", raw) == timeval


def test_an_expired_wait_raises_blocking_io_error_and_zero_removes_the_bound() -> None:
    a, b = socket.socketpair()
    with a, b:
        set_receive_timeout(a, 20_000)
        with pytest.raises(BlockingIOError):
            a.recv(1)  # nothing sent: the kernel ends the wait
        set_receive_timeout(a, 0)
        b.send(b"x")
        assert a.recv(1) == b"x"
        raw = a.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.calcsize("@ll"))
        assert struct.unpack("@ll", raw) == (0, 0)
