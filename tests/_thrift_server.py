"""A small threaded Thrift server on 127.0.0.1 for tests, always stopped on exit."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

__all__ = ["client_for", "serve"]


def _handle(processor: Any, conn: socket.socket) -> None:
    sock = TSocket.TSocket()
    sock.handle = conn
    transport = TTransport.TBufferedTransport(sock)
    protocol = TBinaryProtocol.TBinaryProtocolAccelerated(transport)
    try:
        while True:
            processor.process(protocol, protocol)
    except TTransport.TTransportException:
        pass
    finally:
        conn.close()


@contextlib.contextmanager
def serve(processor: Any) -> Iterator[int]:
    """Serve ``processor`` on an ephemeral port of 127.0.0.1; yields the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(30)
            worker = threading.Thread(target=_handle, args=(processor, conn), daemon=True)
            worker.start()
            workers.append(worker)

    acceptor = threading.Thread(target=accept_loop, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
        for worker in workers:
            worker.join(5)


@contextlib.contextmanager
def client_for(client_cls: Any, port: int) -> Iterator[Any]:
    """A connected client of ``client_cls`` for 127.0.0.1:``port``, closed on exit."""
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(30_000)
    transport = TTransport.TBufferedTransport(sock)
    protocol = TBinaryProtocol.TBinaryProtocolAccelerated(transport)
    transport.open()
    try:
        yield client_cls(protocol)
    finally:
        transport.close()
