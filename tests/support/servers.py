"""A Thrift server for tests: 127.0.0.1, ephemeral port, always stoppable."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

__all__ = ["client_for", "serving"]


@contextlib.contextmanager
def serving(
    processor: Any,
    transport_factory: Any = None,
    protocol_factory: Any = None,
) -> Iterator[int]:
    """Serve ``processor`` on 127.0.0.1 in threads; yields the port, stops on exit.

    Defaults: buffered transport, accelerated binary protocol.
    """
    transport_factory = transport_factory or TTransport.TBufferedTransportFactory()
    protocol_factory = protocol_factory or TBinaryProtocol.TBinaryProtocolAcceleratedFactory()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def handle(connection: socket.socket) -> None:
        client = TSocket.TSocket()
        client.setHandle(connection)
        transport = transport_factory.getTransport(client)
        protocol = protocol_factory.getProtocol(transport)
        try:
            while not stop.is_set():
                processor.process(protocol, protocol)
        except (TTransport.TTransportException, OSError):
            pass
        finally:
            transport.close()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                connection, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(5)
            worker = threading.Thread(target=handle, args=(connection,), daemon=True)
            workers.append(worker)
            worker.start()

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
    """A connected client of ``client_cls`` for 127.0.0.1:``port`` (buffered, binary)."""
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(30_000)
    transport = TTransport.TBufferedTransport(sock)
    protocol = TBinaryProtocol.TBinaryProtocolAccelerated(transport)
    transport.open()
    try:
        yield client_cls(protocol)
    finally:
        transport.close()
