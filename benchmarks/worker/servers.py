"""Python servers of the server rows: ``python -m benchmarks.worker.servers KIND``.

Every server answers the Echo service (``ping``, ``echo_bytes``) with framed binary
on 127.0.0.1:``--port`` in ``--processes`` processes (``--transport buffered``:
unframed, for Apache's threaded and process-pool servers). The harness starts each in a
session of its own, polls it with a real call until it answers, and stops the whole
process group at the end. Kinds:

* ``raw-socket``: the floor of the ``server/*`` rows (issue 12), the cheapest honest
  Python server: a thread per connection, a blocking ``recv`` of each frame's 4-byte
  length and then of the frame, the pre-encoded reply looked up in a table and sent
  with one ``sendall``.
* ``raw-asyncio``: the floor of the ``aio-server/*`` rows (issue 11), which compare
  asyncio servers: the same table of replies over asyncio streams.
* ``apache-threaded`` / ``apache-nonblocking``: Apache's ``TThreadedServer`` and
  ``TNonblockingServer`` (neither has a process mode of its own).
* ``apache-processpool``: Apache's ``TProcessPoolServer`` (its own worker processes).
* ``aiothrift``: aiothrift's ``create_server`` (framed), the service loaded from
  ``--idl`` by thriftpy2; plain handler methods (aiothrift runs them on the loop).
* ``ours-aio`` / ``ours-aio-plain``: ``thriftbuild.aio.create_server`` over the
  generated module, with ``async def`` handler methods / with plain ones (which
  thriftbuild runs in its thread pool); every dialect is detected per connection.

All but ``apache-processpool`` run in forked processes, each listening on the port
with ``SO_REUSEPORT`` so that the kernel spreads connections over them (a blocking
listening socket shared by ``select`` loops lets one process sit in ``accept``
while another took the connection, starving the first one's clients).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable
from typing import Any

from benchmarks.worker import wire

ROWS = (("ping", 0), ("echo", 1024), ("text", 1024))


class EchoHandler:
    """The handler every Python server runs: no work beyond the call itself."""

    def ping(self) -> None:
        return None

    def echo_bytes(self, data: bytes) -> bytes:
        return data

    def echo(self, text: str) -> str:
        return text


def _fork_and_serve(processes: int, serve: Callable[[], None]) -> None:
    """Run ``serve`` in ``processes`` forked children; stop them with the parent."""
    children = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            try:
                serve()
            finally:
                os._exit(0)
        children.append(pid)

    def stop(signum: int, frame: object) -> None:
        for child in children:
            os.kill(child, signal.SIGKILL)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    for child in children:
        os.waitpid(child, 0)


def _listening(port: int) -> socket.socket:
    """A listener of this process's own on ``port``, shared through SO_REUSEPORT."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def _replies() -> dict[bytes, bytes]:
    """Every row's framed binary request (without its length) -> its whole reply."""
    return {
        wire.request_bytes(op, size, "binary", "framed")[4:]: wire.reply_bytes(
            op, size, "binary", "framed"
        )
        for op, size in ROWS
    }


def serve_raw_socket(port: int, processes: int) -> None:
    """The floor of the server rows: blocking sockets, a thread per connection."""
    replies = _replies()
    lookup, unpack, waitall = replies.get, struct.Struct("!I").unpack, socket.MSG_WAITALL

    def handle(conn: socket.socket) -> None:
        # MSG_WAITALL: one blocking recv returns the whole length, then the whole
        # frame (short only at the end of the connection).
        recv, sendall = conn.recv, conn.sendall
        with conn:
            try:
                while True:
                    head = recv(4, waitall)
                    if len(head) < 4:
                        break
                    reply = lookup(recv(unpack(head)[0], waitall))
                    if reply is None:
                        break  # not one of the benchmark's requests (or cut short)
                    sendall(reply)
            except OSError:
                pass

    def serve() -> None:
        listener = _listening(port)
        while True:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    _fork_and_serve(processes, serve)


def serve_raw_asyncio(port: int, processes: int) -> None:
    """The floor of the asyncio-server rows: the same replies over asyncio streams."""
    replies = _replies()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!I", await reader.readexactly(4))
                reply = replies.get(await reader.readexactly(length))
                if reply is None:
                    break  # not one of the benchmark's requests
                writer.write(reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, sock=_listening(port))
        async with server:
            await server.serve_forever()

    _fork_and_serve(processes, lambda: asyncio.run(main()))


def _apache_parts(gen: str, transport: str) -> tuple[Any, Any, Any]:
    from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory
    from thrift.transport.TTransport import TBufferedTransportFactory, TFramedTransportFactory

    sys.path.insert(0, gen)
    from echo_thrift import Echo

    processor = Echo.Processor(EchoHandler())
    transports = TFramedTransportFactory() if transport == "framed" else TBufferedTransportFactory()
    return processor, transports, TBinaryProtocolAcceleratedFactory()


def _reuse_port_server_socket(port: int) -> Any:
    from thrift.transport.TSocket import TServerSocket

    class ReusePortServerSocket(TServerSocket):  # type: ignore[misc]
        """Apache's server socket, listening with SO_REUSEPORT."""

        def listen(self) -> None:
            self.handle = _listening(port)

    return ReusePortServerSocket(host="127.0.0.1", port=port)


def serve_apache(kind: str, port: int, processes: int, gen: str, transport: str) -> None:
    """One of Apache's Python servers, binary (the accelerated codec), framed or not."""
    from thrift.server import TNonblockingServer, TProcessPoolServer, TServer

    processor, transports, protocols = _apache_parts(gen, transport)
    if kind == "apache-processpool":
        from thrift.transport.TSocket import TServerSocket

        pool = TProcessPoolServer.TProcessPoolServer(
            processor, TServerSocket(host="127.0.0.1", port=port), transports, protocols
        )
        pool.setNumWorkers(processes)
        pool.serve()
        return
    if kind not in ("apache-threaded", "apache-nonblocking"):
        raise SystemExit(f"unknown server kind {kind!r}")

    def serve() -> None:
        sock = _reuse_port_server_socket(port)
        if kind == "apache-threaded":
            server: Any = TServer.TThreadedServer(
                processor, sock, transports, protocols, daemon=True
            )
        else:
            server = TNonblockingServer.TNonblockingServer(processor, sock, protocols, protocols)
        server.serve()

    _fork_and_serve(processes, serve)


class AsyncEchoHandler:
    """The same handler with coroutine methods, as asyncio servers prefer them."""

    async def ping(self) -> None:
        return None

    async def echo_bytes(self, data: bytes) -> bytes:
        return data

    async def echo(self, text: str) -> str:
        return text


def serve_aio(kind: str, port: int, processes: int, gen: str, idl: str, loop: str) -> None:
    """An asyncio server: aiothrift's or ours, on asyncio's loop or uvloop."""

    async def main() -> None:
        if kind == "aiothrift":
            import aiothrift

            module = aiothrift.load(idl, module_name="echo_bench_thrift")
            server: Any = await aiothrift.create_server(
                module.Echo, EchoHandler(), ("127.0.0.1", port), framed=True, reuse_port=True
            )
        else:
            from thriftbuild import aio

            sys.path.insert(0, gen)
            from echo_thrift import Echo

            handler = AsyncEchoHandler() if kind == "ours-aio" else EchoHandler()
            server = await aio.create_server(
                Echo, handler, ("127.0.0.1", port), metrics=False, reuse_port=True
            )
        async with server:
            await server.serve_forever()

    def run() -> None:
        if loop == "uvloop":
            import uvloop

            new_loop = uvloop.new_event_loop()
            try:
                new_loop.run_until_complete(main())
            finally:
                new_loop.close()
        else:
            asyncio.run(main())

    _fork_and_serve(processes, run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--gen", default="")
    parser.add_argument("--idl", default="")
    parser.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"))
    parser.add_argument("--transport", default="framed", choices=("framed", "buffered"))
    args = parser.parse_args(argv)
    if args.kind == "raw-socket":
        serve_raw_socket(args.port, args.processes)
    elif args.kind == "raw-asyncio":
        serve_raw_asyncio(args.port, args.processes)
    elif args.kind in ("aiothrift", "ours-aio", "ours-aio-plain"):
        serve_aio(args.kind, args.port, args.processes, args.gen, args.idl, args.loop)
    else:
        serve_apache(args.kind, args.port, args.processes, args.gen, args.transport)
    return 0


if __name__ == "__main__":
    sys.exit(main())
