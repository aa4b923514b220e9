"""Socket options both the blocking client and the threaded workers set."""

from __future__ import annotations

import socket
import struct

__all__ = ["set_receive_timeout"]

_TIMEVAL = struct.Struct("@ll")  # struct timeval, as SO_RCVTIMEO takes it (Linux)


def set_receive_timeout(sock: socket.socket, microseconds: int) -> None:
    """Bound each blocking ``recv`` on ``sock`` by the kernel (``SO_RCVTIMEO``; 0: none).

    An expired wait raises ``BlockingIOError`` (EAGAIN) in the blocked thread.
    """
    seconds, micros = divmod(microseconds, 1_000_000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _TIMEVAL.pack(seconds, micros))
