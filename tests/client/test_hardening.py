"""The pooled client under the faults an adversarial tester found (issue 9).

Real sockets on loopback, scripted servers; every test fails on the defect it names.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import struct
import threading
import time
import zlib
from typing import Any

import pytest
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory
from thrift.protocol.THeaderProtocol import THeaderProtocolFactory
from thrift.transport.THeaderTransport import THeaderSubprotocolID

from tests.support.servers import (
    RawServer,
    ServerProcess,
    echo_server,
    open_sockets,
    read_call,
    wait_until,
)
from thriftbuild import errors, wire
from thriftbuild.client import MultiEndpointPool, ThriftConnectionPool, ThriftContextFactory
from thriftbuild.service import service_view

FACTORIES = {
    "header": THeaderProtocolFactory(default_protocol=THeaderSubprotocolID.COMPACT),
    "header-binary": THeaderProtocolFactory(default_protocol=THeaderSubprotocolID.BINARY),
    "binary": TBinaryProtocolAcceleratedFactory(),
    "binary-framed": TBinaryProtocolAcceleratedFactory(),
}
SERVER_KIND = {"header": "header", "header-binary": "header", "binary": "binary"}
MiB = 1 << 20


def _pool(endpoint: str, kind: str, **kwargs: Any) -> ThriftConnectionPool:
    kwargs.setdefault("metrics", False)
    if kind == "binary-framed":
        kwargs["transport_factory"] = "framed"
    return ThriftConnectionPool(endpoint, protocol_factory=FACTORIES[kind], **kwargs)


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# 1. A late reply is never read as the answer to the next call -----------------------------


@pytest.mark.parametrize("kind", ["header", "header-binary", "binary"])
def test_swallowed_timeout_inside_connection_block_never_hands_late_reply_on(
    echo: Any, kind: str
) -> None:
    with echo_server(echo, SERVER_KIND[kind]) as server:
        pool = _pool(server.endpoint, kind, size=1, timeout=0.3)
        fallback = None
        with pool.connection() as prot:
            try:
                echo.service.Client(prot).sleep(30_000)  # held until released below
            except errors.CallTimeoutError:
                fallback = -1  # the common pattern: a default value on timeout
        assert fallback == -1
        server.handler.release.set()  # the late reply (30000) is sent now
        with pool.connection() as prot:
            assert echo.service.Client(prot).sleep(7) == 7
        assert server.accepted == 2  # the connection with a reply due was not reused
        pool.close()


def test_generated_client_seqid_zero_is_replaced_by_runtime_seqids(echo: Any) -> None:
    seen: list[int] = []

    def reply_twice_with_first_seqid(conn: socket.socket, _server: RawServer) -> None:
        decoder = wire.UnframedDecoder(wire.BINARY)
        result = echo.service.echo_result(success="A")
        first = None
        for _ in range(2):
            _frame, head = read_call(conn, decoder)
            seen.append(head.seqid)
            first = head.seqid if first is None else first
            method = service_view(echo.service)["echo"]
            conn.sendall(wire.encode_reply(method, wire.BINARY, first, result))

    with RawServer(reply_twice_with_first_seqid).start() as server:
        pool = _pool(server.endpoint, "binary", size=1)
        with pool.connection() as prot:
            assert echo.service.Client(prot).echo("A") == "A"
        with pytest.raises(errors.ResponseMismatchError), pool.connection() as prot:
            echo.service.Client(prot).echo("B")  # answered with the first call's seqid
        assert len(seen) == 2 and seen[0] != seen[1]  # both differ from Apache's 0
        pool.close()


# 2. Every length bounded before allocation ----------------------------------------------------


def _answer(payload_for: Any) -> Any:
    def behaviour(conn: socket.socket, _server: RawServer) -> None:
        frame, head = read_call(conn, wire.AutoDecoder())
        conn.sendall(payload_for(frame, head))
        conn.recv(1)  # hold the connection open until the client closes it

    return behaviour


def test_unframed_reply_declaring_2gib_string_fails_at_once_naming_limit(echo: Any) -> None:
    def huge(frame: Any, head: Any) -> bytes:
        reply = wire.encode_head(wire.BINARY, head.name, wire.MessageType.REPLY, head.seqid)
        return reply + b"\x0b\x00\x00" + struct.pack("!i", 2**31 - 1) + b"x" * 65536

    before = _peak_rss()
    with RawServer(_answer(huge)).start() as server:
        pool = _pool(server.endpoint, "binary", timeout=30)
        start = time.monotonic()
        with pytest.raises(errors.ProtocolError) as raised, pool.connection() as prot:
            echo.service.Client(prot).echo("x")
        assert time.monotonic() - start < 15  # not at the 30 s deadline
        assert "max_" in str(raised.value) and server.endpoint in str(raised.value)
        assert isinstance(raised.value.__cause__, wire.WireError)
        assert pool.checkedout == 0 and pool.idle == 0
        pool.close()
    assert _peak_rss() - before < 64 * MiB


@pytest.mark.parametrize("kind", ["header", "header-binary"])
def test_theader_zlib_bomb_reply_is_refused_within_bounded_memory(echo: Any, kind: str) -> None:
    bomb = zlib.compress(b"\x00" * (400 * MiB), 9)

    def bombed(frame: Any, head: Any) -> bytes:
        block = b"%c\x01\x01" % frame.protocol
        block += b"\x00" * (-len(block) % 4)
        size = 10 + len(block) + len(bomb)
        fixed = struct.pack("!iHHiH", size, 0x0FFF, 0, frame.seqid, len(block) // 4)
        return fixed + block + bomb

    before = _peak_rss()
    with RawServer(_answer(bombed)).start() as server:
        pool = _pool(server.endpoint, kind, timeout=30)
        client_error = None
        try:
            with pool.connection() as prot:
                echo.service.Client(prot).echo("x")
        except errors.ProtocolError as exc:
            client_error = exc
        assert client_error is not None
        assert client_error.type == errors.TTransportException.SIZE_LIMIT
        assert "decompressed payload" in str(client_error)
        pool.close()
    assert _peak_rss() - before < 64 * MiB


def test_limits_are_configurable_per_pool(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint, "header", limits=wire.Limits(max_string=10))
        with pool.connection() as prot:
            assert echo.service.Client(prot).echo("short") == "short"
        with pytest.raises(errors.ProtocolError, match="max_string"), pool.connection() as p:
            echo.service.Client(p).echo("much longer than ten")
        pool.close()


# 3. Deadlines hold while signals arrive -------------------------------------------------------


@pytest.mark.parametrize("kind", ["header", "binary", "binary-framed"])
def test_timeout_holds_with_sigalrm_every_50ms_to_a_silent_server(kind: str) -> None:
    def silent(conn: socket.socket, _server: RawServer) -> None:
        conn.recv(65536)
        conn.recv(1)  # never answers; returns when the client closes

    interrupted = []
    previous = signal.signal(signal.SIGALRM, lambda *_: interrupted.append(1))
    try:
        with RawServer(silent).start() as server:
            pool = _pool(server.endpoint, kind, timeout=0.5)
            signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
            start = time.monotonic()
            with pytest.raises(errors.CallTimeoutError), pool.connection() as prot:
                _ping_by_hand(prot)
            elapsed = time.monotonic() - start
            signal.setitimer(signal.ITIMER_REAL, 0)
            pool.close()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(interrupted) >= 3  # the signals did interrupt the wait
    assert elapsed < 5.0  # bounded by the 0.5 s deadline, with room for a busy machine


def _silent(conn: socket.socket, _server: RawServer) -> None:
    conn.recv(65536)
    conn.recv(1)  # never answers; returns when the client closes


def _call_in_thread(call: Any) -> tuple[BaseException | None, float]:
    """Run ``call`` in a new (non-main) thread; its exception and how long it took."""
    outcome: list[Any] = []

    def body() -> None:
        start = time.monotonic()
        try:
            call()
        except BaseException as exc:  # handed to the test
            outcome.append(exc)
        else:
            outcome.append(None)
        outcome.append(time.monotonic() - start)

    worker = threading.Thread(target=body)
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    return outcome[0], outcome[1]


@pytest.mark.parametrize("kind", ["header", "binary", "binary-framed"])
def test_timeout_holds_in_a_worker_thread_with_sigalrm_every_50ms(echo: Any, kind: str) -> None:
    # Outside the main thread the wait is one blocking recv() under a kernel timeout;
    # the process's signals (delivered to the main thread) must not stretch it.
    interrupted = []
    previous = signal.signal(signal.SIGALRM, lambda *_: interrupted.append(1))
    try:
        with RawServer(_silent).start() as server:
            pool = _pool(server.endpoint, kind, timeout=0.5)
            proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy()
            signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
            error, elapsed = _call_in_thread(proxy.ping)
            signal.setitimer(signal.ITIMER_REAL, 0)
            assert pool.checkedout == 0
            pool.close()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert isinstance(error, errors.CallTimeoutError)
    assert len(interrupted) >= 3  # the signals arrived during the wait
    assert elapsed < 5.0  # bounded by the 0.5 s deadline, with room for a busy machine


def _ping_by_hand(prot: Any) -> None:
    """Send a ``ping`` call through a raw protocol and wait for the reply's head."""
    from thrift.Thrift import TMessageType

    prot.writeMessageBegin("ping", TMessageType.CALL, 0)
    prot.writeStructBegin("ping_args")
    prot.writeFieldStop()
    prot.writeStructEnd()
    prot.writeMessageEnd()
    prot.trans.flush()
    prot.readMessageBegin()


@pytest.mark.parametrize("kind", ["header", "binary", "binary-framed"])
def test_connection_block_in_a_worker_thread_times_out_each_read(kind: str) -> None:
    # ``pool.connection()`` sets no call deadline: each socket operation is bounded
    # by the pool's timeout. Outside the main thread a read waits in the kernel
    # (SO_RCVTIMEO), whose expiry must end the read, not start another wait.
    with RawServer(_silent).start() as server:
        pool = _pool(server.endpoint, kind, timeout=0.3)

        def call() -> None:
            with pool.connection() as prot:
                _ping_by_hand(prot)

        error, elapsed = _call_in_thread(call)
        assert isinstance(error, errors.CallTimeoutError)
        assert error.request_sent
        assert elapsed < 30.0  # bounded by the 0.3 s timeout, with room for a busy machine
        assert pool.checkedout == 0
        pool.close()


def test_worker_thread_wait_is_bounded_by_the_call_deadline_not_the_pool_timeout(
    echo: Any,
) -> None:
    # The kernel timeout follows each call's deadline: a retry budget shorter than
    # the pool's timeout ends the wait, on a connection that first made a normal call.
    def answer_once_then_silent(conn: socket.socket, _server: RawServer) -> None:
        from tests.support.servers import binary_reply, read_binary_call

        name, seqid, _ = read_binary_call(conn)
        conn.sendall(binary_reply(echo, name, seqid, echo.service.ping_result()))
        _silent(conn, _server)

    with RawServer(answer_once_then_silent).start() as server:
        pool = _pool(server.endpoint, "binary", timeout=120.0)
        proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy()
        error, _ = _call_in_thread(proxy.ping)
        assert error is None  # answered: the connection is known to work
        error, elapsed = _call_in_thread(proxy.retrying(attempts=1, budget=0.3).ping)
        assert isinstance(error, errors.CallTimeoutError)
        assert elapsed < 60.0  # the 0.3 s budget, not the 120 s pool timeout
        assert server.accepted == 1  # the same connection both times
        pool.close()


def test_child_forked_from_a_worker_thread_keeps_deadlines_under_signals(echo: Any) -> None:
    # The forking thread is the child's main thread: there signals interrupt the
    # wait, so it must wait the signal-safe way (poll) or the deadline never comes.
    with RawServer(_silent).start() as server:
        pool = _pool(server.endpoint, "binary", timeout=0.5)
        proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy()
        pids: list[int] = []

        def fork() -> None:
            pid = os.fork()
            if pid == 0:  # the child: exit status 0 only for the timeout
                code = 1
                try:
                    signal.signal(signal.SIGALRM, lambda *_: None)
                    signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
                    proxy.ping()
                except errors.CallTimeoutError:
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)

        worker = threading.Thread(target=fork)
        worker.start()
        worker.join()
        status: list[int] = []

        def exited() -> bool:
            pid, code = os.waitpid(pids[0], os.WNOHANG)
            if pid:
                status.append(code)
            return bool(pid)

        try:
            wait_until(exited, timeout=30.0, what="the child's call to time out")
        finally:
            if not status:
                os.kill(pids[0], signal.SIGKILL)
                os.waitpid(pids[0], 0)
        assert os.waitstatus_to_exitcode(status[0]) == 0
        pool.close()


# 4. Corrupt reply bodies are ProtocolErrors naming endpoint and method ------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"\x0b\x00\x00\xff\xff\xff\xf0",  # field 0: string of negative length
        b"\x63\x00\x00\x00",  # field 0 of unknown type 0x63
        b"\x0f\x00\x00\x0b\x7f\xff\xff\xff",  # list<string> of 2**31-1 items
    ],
)
@pytest.mark.parametrize("path", ["proxy", "connection"])
def test_corrupt_reply_body_raises_protocol_error_and_closes(
    echo: Any, body: bytes, path: str
) -> None:
    def corrupt(frame: Any, head: Any) -> bytes:
        return wire.encode_head(wire.BINARY, head.name, wire.MessageType.REPLY, head.seqid) + body

    with RawServer(_answer(corrupt)).start() as server:
        pool = _pool(server.endpoint, "binary", timeout=5)
        with pytest.raises(errors.ProtocolError) as raised:
            if path == "proxy":
                ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy().echo("x")
            else:
                with pool.connection() as prot:
                    echo.service.Client(prot).echo("x")
        err = raised.value
        assert err.endpoint == server.endpoint and err.method == "echo"
        assert server.endpoint in str(err) and "echo()" in str(err)
        assert err.__cause__ is not None
        assert pool.idle == 0 and pool.checkedout == 0
        pool.close()


# 5. MultiEndpointPool: duplicates, and exhaustion is not a host failure ---------------------


def test_multi_endpoint_pool_with_duplicate_endpoint_checks_in_to_the_right_pool(
    echo: Any,
) -> None:
    with echo_server(echo) as server:
        pool = MultiEndpointPool([server.endpoint, server.endpoint], size=1, metrics=False)
        for _ in range(6):
            with pool.connection() as prot:
                echo.service.Client(prot).ping()
        assert [p.checkedout for p in pool.pools] == [0, 0]
        held = [pool.checkout(), pool.checkout()]  # one from each, both usable
        assert sorted(c.pool is p for c in held for p in pool.pools).count(True) == 2
        for conn in held:
            pool.checkin(conn, True)
        assert [p.checkedout for p in pool.pools] == [0, 0]
        pool.close()


def test_pool_exhaustion_is_not_a_connect_failure_and_never_ejects(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = MultiEndpointPool([server.endpoint], size=1, timeout=0.2, eject_after=1)
        held = pool.checkout()
        for _ in range(3):
            with pytest.raises(errors.PoolExhaustedError) as raised:
                pool.checkout(method="ping")
            assert raised.value.method == "ping"
        assert pool.ejected() == []
        pool.checkin(held, True)
        single = ThriftConnectionPool(server.endpoint, size=1, timeout=5, metrics=False)
        with pytest.raises(errors.PoolExhaustedError):
            single.checkout(deadline=time.monotonic() - 1)  # a slot, but no time left
        pool.close()
        single.close()


# 6. Fork closes every inherited socket ---------------------------------------------------------


def test_fork_child_closes_in_flight_and_idle_connections(echo: Any) -> None:
    # The server runs in another process, so every socket here is the pool's. Only
    # sockets are counted: another thread may be importing a module (a .pyc open) at
    # the moment of the fork.
    server = ServerProcess(echo.out, echo.package).start()
    try:
        pool = ThriftConnectionPool(server.endpoint, size=4, metrics=False)
        stop = threading.Event()

        def caller() -> None:
            while not stop.is_set():
                with pool.connection() as prot:
                    echo.service.Client(prot).ping()

        threads = [threading.Thread(target=caller) for _ in range(3)]
        assert open_sockets() == 0
        for thread in threads:
            thread.start()
        wait_until(lambda: pool.checkedout + pool.idle >= 2, what="calls in flight")
        try:
            for _ in range(100):
                read_fd, write_fd = os.pipe()
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        os.write(write_fd, f"{open_sockets()} {pool.checkedout}".encode())
                        code = 0
                    finally:
                        os._exit(code)
                os.close(write_fd)
                with os.fdopen(read_fd) as pipe:
                    sockets, in_use = map(int, pipe.read().split())
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0
                assert sockets == 0 and in_use == 0
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        pool.close()
    finally:
        server.kill()
