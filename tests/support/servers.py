"""Every test server, in one place: real sockets on 127.0.0.1, always stopped.

* :func:`serving` serves any generated ``Processor`` (buffered binary by default) and
  :func:`client_for` connects Apache's client to it (the code generation tests).

* :func:`generate_echo` builds ``fixtures/services/echo.thrift`` with our build step
  (``python -m thriftbuild generate``) and imports the result.
* :class:`EchoServer` serves the generated ``Echo.Processor`` on 127.0.0.1 from a
  thread (or, run as a script, from a subprocess that tests can kill).
* :class:`RawServer` is a tiny TCP server whose per-connection behaviour a test
  scripts with a function, to misbehave in precise ways.

Nothing here imports pytest: the build tests run these servers in venvs of their own.
Every server binds an ephemeral port, counts its accepted connections and stops
(closing every socket) when asked; nothing here sleeps to wait for something.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import select
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from thrift.protocol import TBinaryProtocol
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory
from thrift.protocol.TCompactProtocol import TCompactProtocolAcceleratedFactory
from thrift.protocol.THeaderProtocol import THeaderProtocol
from thrift.protocol.TJSONProtocol import TJSONProtocolFactory
from thrift.transport import TSocket as _tsocket
from thrift.transport import TTransport
from thrift.transport.THeaderTransport import THeaderClientType
from thrift.transport.TSocket import TSocket
from thrift.transport.TTransport import (
    TBufferedTransport,
    TFramedTransport,
    TMemoryBuffer,
    TTransportException,
)

ROOT = Path(__file__).resolve().parents[2]
ECHO_IDL = ROOT / "fixtures" / "services" / "echo.thrift"
_ALL_CLIENT_TYPES = (
    THeaderClientType.HEADERS,
    THeaderClientType.FRAMED_BINARY,
    THeaderClientType.UNFRAMED_BINARY,
    THeaderClientType.FRAMED_COMPACT,
    THeaderClientType.UNFRAMED_COMPACT,
)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` until true, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def open_sockets() -> int:
    """How many of this process's file descriptors are sockets."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        # The listing's own descriptor is gone by the time it is read.
        with contextlib.suppress(FileNotFoundError):
            count += fd.readlink().name.startswith("socket:")
    return count


# -- code generation ---------------------------------------------------------------------


def generate(idl: Path, out: Path) -> str:
    """Generate ``idl`` into ``out`` with our build step; returns the package name."""
    cmd = [sys.executable, "-m", "thriftbuild", "generate", "--out", str(out), str(idl)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"thriftbuild generate failed:\n{done.stdout}\n{done.stderr}")
    return f"{idl.stem}_thrift"


def import_service(out: Path, package: str, service: str) -> types.SimpleNamespace:
    """Import ``package.service`` and ``package.ttypes`` from ``out``."""
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
    return types.SimpleNamespace(
        service=importlib.import_module(f"{package}.{service}"),
        ttypes=importlib.import_module(f"{package}.ttypes"),
        out=out,
        package=package,
    )


def generate_echo(out: Path) -> types.SimpleNamespace:
    """Generate and import the Echo test service (``.service.Client`` etc.)."""
    return import_service(out, generate(ECHO_IDL, out), "Echo")


# -- the Echo service --------------------------------------------------------------------


class EchoHandler:
    """Implements the Echo IDL; ``header()`` reads the current request's headers."""

    def __init__(self, ttypes: Any) -> None:
        self._ttypes = ttypes
        self._lock = threading.Lock()
        self.counters: dict[str, int] = {}
        self.notes: list[str] = []
        self.calls: dict[str, int] = {}
        self.sleeping = threading.Event()  # set while a sleep() call is on the server
        self.release = threading.Event()  # set to end every sleep() call early
        self.local = threading.local()

    def _count(self, name: str) -> None:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1

    def ping(self) -> None:
        self._count("ping")

    def echo_bytes(self, data: bytes) -> bytes:
        return data

    def echo(self, text: str) -> str:
        return text

    def sleep(self, ms: int) -> int:
        self._count("sleep")
        self.sleeping.set()
        self.release.wait(ms / 1000)
        return ms

    def fail(self, message: str, code: int) -> None:
        self._count("fail")
        raise self._ttypes.EchoError(message=message, code=code)

    def header(self, name: str) -> str:
        prot = getattr(self.local, "protocol", None)
        if prot is None or not hasattr(prot, "get_headers"):
            return ""
        value = prot.get_headers().get(name.encode(), b"")
        return str(value.decode())

    def bump(self, key: str) -> int:
        with self._lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]

    def notify(self, message: str) -> None:
        with self._lock:
            self.notes.append(message)


def server_protocol(kind: str, sock: TSocket) -> Any:
    """A server-side protocol for ``kind`` over an accepted socket."""
    if kind == "header":  # accepts every client type, like baseplate's servers
        return THeaderProtocol(sock, _ALL_CLIENT_TYPES)
    proto, _, framing = kind.partition("-")
    trans = TFramedTransport(sock) if framing == "framed" else TBufferedTransport(sock)
    factories = {
        "binary": TBinaryProtocolAcceleratedFactory,
        "compact": TCompactProtocolAcceleratedFactory,
        "json": TJSONProtocolFactory,
    }
    return factories[proto]().getProtocol(trans)


class _Listener:
    """Accept loop on a thread; one thread per connection running ``serve_one``."""

    def __init__(self, port: int = 0, address: str = "127.0.0.1") -> None:
        # ``address``: "127.0.0.1", "::1", or a unix socket path (starting with "/").
        if address.startswith("/"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(address)
            self.port = 0
            self.endpoint = f"unix:{address}"
        else:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((address, port))
            self.port = self.sock.getsockname()[1]
            host = f"[{address}]" if family == socket.AF_INET6 else address
            self.endpoint = f"{host}:{self.port}"
        self.sock.listen(128)
        self.accepted = 0
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> _Listener:
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if not ready:
                continue
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with self._lock:
                if self._stopping.is_set():
                    conn.close()
                    return
                self.accepted += 1
                self._conns.add(conn)
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.serve_one(conn)
        except Exception:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def serve_one(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def drop_connections(self) -> None:
        """Close every accepted connection (the listener keeps accepting)."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self.sock.close()
        self.drop_connections()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EchoServer(_Listener):
    """The generated Echo processor served over real sockets, one thread per client."""

    def __init__(
        self,
        echo: Any,
        protocol: str = "header",
        port: int = 0,
        tls: Any = None,
        address: str = "127.0.0.1",
    ) -> None:
        super().__init__(port, address)
        self.handler = EchoHandler(echo.ttypes)
        self.processor = echo.service.Processor(self.handler)
        self.protocol = protocol
        self.tls = tls  # an ssl.SSLContext to serve TLS with
        self.handshakes = 0

    def serve_one(self, conn: socket.socket) -> None:
        if conn.family != socket.AF_UNIX:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            conn.settimeout(5)
            raw, conn = conn, self.tls.wrap_socket(conn, server_side=True)
            conn.settimeout(None)
            with self._lock:  # the TLS socket now owns the descriptor
                self._conns.discard(raw)
                self._conns.add(conn)
            self.handshakes += 1
            try:
                self._serve_thrift(conn)
            finally:
                with self._lock:
                    self._conns.discard(conn)
                conn.close()
            return
        self._serve_thrift(conn)

    def _serve_thrift(self, conn: socket.socket) -> None:
        tsock = TSocket()
        tsock.setHandle(conn)
        prot = server_protocol(self.protocol, tsock)
        self.handler.local.protocol = prot
        try:
            while not self._stopping.is_set():
                self.processor.process(prot, prot)
        except (TTransportException, EOFError, OSError):
            return


class RawServer(_Listener):
    """Runs ``behaviour(conn, server)`` for each accepted connection."""

    def __init__(self, behaviour: Callable[[socket.socket, RawServer], None]) -> None:
        super().__init__()
        self.behaviour = behaviour

    def serve_one(self, conn: socket.socket) -> None:
        self.behaviour(conn, self)


def read_binary_call(conn: socket.socket) -> tuple[str, int, bytes]:
    """Read one unframed binary-protocol call with no arguments; (name, seqid, raw)."""
    data = b""
    while len(data) < 8:
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError
        data += chunk
    size = int.from_bytes(data[4:8], "big")
    while len(data) < 8 + size + 4 + 1:
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError
        data += chunk
    name = data[8 : 8 + size].decode()
    seqid = int.from_bytes(data[8 + size : 12 + size], "big", signed=True)
    return name, seqid, data


def binary_reply(echo: Any, name: str, seqid: int, result: Any) -> bytes:
    """Encode a REPLY message (unframed binary) carrying ``result``."""
    from thrift.protocol.TBinaryProtocol import TBinaryProtocol
    from thrift.Thrift import TMessageType

    buf = TMemoryBuffer()
    prot = TBinaryProtocol(buf)
    prot.writeMessageBegin(name, TMessageType.REPLY, seqid)
    result.write(prot)
    prot.writeMessageEnd()
    return bytes(buf.getvalue())


@contextlib.contextmanager
def echo_server(echo: Any, protocol: str = "header", tls: Any = None) -> Iterator[EchoServer]:
    """An :class:`EchoServer` that is always stopped."""
    server = EchoServer(echo, protocol, tls=tls).start()
    try:
        yield server
    finally:
        server.stop()


# -- any processor, Apache's client -------------------------------------------------------
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
        client = _tsocket.TSocket()
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
    sock = _tsocket.TSocket("127.0.0.1", port)
    sock.setTimeout(30_000)
    transport = TTransport.TBufferedTransport(sock)
    protocol = TBinaryProtocol.TBinaryProtocolAccelerated(transport)
    transport.open()
    try:
        yield client_cls(protocol)
    finally:
        transport.close()


# -- a killable server process -----------------------------------------------------------


class ServerProcess:
    """The Echo server in a subprocess on a fixed port, for kill/restart tests."""

    def __init__(self, out: Path, package: str, protocol: str = "header") -> None:
        self.out = out
        self.package = package
        self.protocol = protocol
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        cmd = [
            sys.executable,
            __file__,
            "--out",
            str(self.out),
            "--package",
            self.package,
            "--protocol",
            self.protocol,
            "--port",
            str(self.port),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the child prints its port once listening
        if not line.startswith("LISTENING "):
            self.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None


def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--package", required=True)
    parser.add_argument("--protocol", default="header")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    echo = import_service(Path(args.out), args.package, "Echo")
    deadline = time.monotonic() + 10
    while True:  # a restart may race the old socket's release; retry briefly
        try:
            server = EchoServer(echo, args.protocol, args.port)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    server.start()
    print(f"LISTENING {server.port}", flush=True)
    server._thread.join()


if __name__ == "__main__":
    _main()


# -- scripted replies over the wire core ---------------------------------------------------


def read_call(conn: socket.socket, decoder: Any) -> tuple[Any, Any]:
    """Read one call with a wire decoder (any dialect); returns (frame, head)."""
    from thriftbuild import wire

    while True:
        frames = decoder.feed(conn.recv(65536) or b"")
        if frames:
            frame = frames[0]
            head, _ = wire.decode_head(frame.protocol, frame.payload)
            return frame, head
        if decoder.need and not select.select([conn], [], [], 30)[0]:
            raise EOFError("no call within 30 s")
