from __future__ import annotations

import os
import pickle
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from thrift.protocol.THeaderProtocol import THeaderProtocolFactory
from thrift.transport.THeaderTransport import THeaderSubprotocolID
from thrift.transport.TTransport import TTransportException

from tests.support.servers import RawServer, echo_server, wait_until
from thriftbuild import errors
from thriftbuild.client import ThriftConnectionPool


def _pool(endpoint: str, **kwargs: Any) -> ThriftConnectionPool:
    kwargs.setdefault("metrics", False)
    return ThriftConnectionPool(endpoint, **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _local_port(pool: ThriftConnectionPool) -> int:
    return int(pool._tokens[-1].channel._sock.getsockname()[1])  # type: ignore[union-attr]


def test_pool_defaults_match_seed_api() -> None:
    pool = _pool("127.0.0.1:9090")
    assert (pool.size, pool.max_age, pool.timeout, pool.max_retries) == (10, 120.0, 1.0, 3)
    assert isinstance(pool.protocol_factory, THeaderProtocolFactory)
    assert pool.protocol_factory.default_protocol == THeaderSubprotocolID.COMPACT
    assert _pool("127.0.0.1:9090", max_connection_attempts=7).max_retries == 7


def test_pool_connection_yields_working_protocol(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint)
        with pool.connection() as prot:
            client = echo.service.Client(prot)
            assert client.echo("hi") == "hi"
            assert pool.checkedout == 1
        assert pool.checkedout == 0
        pool.close()


@pytest.mark.parametrize("where", ["::1", "unix", "bare-path"])
def test_pool_ipv6_and_unix_endpoints_connect(
    echo: Any, where: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.support.servers import EchoServer

    path = str(tmp_path_factory.mktemp("sock") / "echo.sock")
    if where == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    server = EchoServer(echo, address="::1" if where == "::1" else path).start()
    try:
        endpoint = path if where == "bare-path" else server.endpoint
        pool = _pool(endpoint)
        with pool.connection() as prot:
            assert echo.service.Client(prot).echo(where) == where
        assert pool.idle == 1
        pool.close()
    finally:
        server.stop()


def test_pool_creation_does_not_connect_until_first_use(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint)
        assert server.accepted == 0
        with pool.connection():
            pass
        wait_until(lambda: server.accepted == 1, what="one connection")
        pool.close()


def test_pool_reuse_is_lifo(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint)
        first = pool.checkout()
        second = pool.checkout()
        pool.checkin(first, True)
        pool.checkin(second, True)
        again = [pool.checkout(), pool.checkout()]
        assert again == [second, first]
        wait_until(lambda: server.accepted == 2, what="two connections")
        for conn in again:
            pool.checkin(conn, True)
        pool.close()


def test_pool_full_waits_then_error_names_endpoint_size_and_in_use(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint, size=2, timeout=0.2)
        held = [pool.checkout(), pool.checkout()]
        start = time.monotonic()
        with pytest.raises(errors.PoolExhaustedError) as info:
            pool.checkout()
        assert time.monotonic() - start < 0.2 + 2.0
        message = str(info.value)
        assert server.endpoint in message
        assert "pool size 2" in message
        assert "2 in use" in message
        assert isinstance(info.value, TTransportException)
        assert info.value.request_sent is False
        wait_until(lambda: server.accepted == 2, what="two connections")
        assert pool.idle + pool.checkedout == 2  # size caps open connections
        for conn in held:
            pool.checkin(conn, True)
        pool.close()


def test_pool_full_waiter_gets_slot_when_released(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint, size=1, timeout=10)
        held = pool.checkout()
        got: list[Any] = []
        waiter = threading.Thread(target=lambda: got.append(pool.checkout()))
        waiter.start()
        wait_until(lambda: pool.waiting == 1, what="a waiter")
        assert "waiting=1" in repr(pool)
        pool.checkin(held, True)
        waiter.join(10)
        assert got == [held]  # the freed connection, not a new one
        pool.checkin(got[0], True)
        assert pool.checkedout == 0
        pool.close()


def test_pool_repr_shows_size_in_use_idle_waiting(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint, size=3)
        conns = [pool.checkout(), pool.checkout()]
        pool.checkin(conns[0], True)
        assert repr(pool) == (
            f"<ThriftConnectionPool {server.endpoint} size=3 in_use=1 idle=1 waiting=0>"
        )
        pool.checkin(conns[1], True)
        pool.close()


def test_pool_connection_older_than_max_age_replaced(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint, max_age=0)
        for _ in range(3):
            with pool.connection() as prot:
                echo.service.Client(prot).ping()
        assert server.accepted == 3
        pool.close()


def test_pool_connect_refused_retries_then_names_endpoint() -> None:
    endpoint = f"127.0.0.1:{_free_port()}"
    pool = _pool(endpoint, max_retries=3, timeout=5)
    with pytest.raises(errors.ConnectFailedError) as info:
        pool.checkout()
    assert endpoint in str(info.value)
    assert "3 of 3 attempts" in str(info.value)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    assert info.value.request_sent is False
    assert pool.checkedout == 0


def test_pool_connect_attempts_stop_at_deadline() -> None:
    endpoint = f"127.0.0.1:{_free_port()}"
    pool = _pool(endpoint, max_retries=1000, timeout=0.3, connect_backoff=0.05)
    start = time.monotonic()
    with pytest.raises(errors.ConnectFailedError):
        pool.checkout()
    assert time.monotonic() - start < 0.3 + 2.0


def test_pool_socket_timeout_becomes_transport_error_with_cause(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint, timeout=0.1)
        with pytest.raises(errors.CallTimeoutError) as info, pool.connection() as prot:
            echo.service.Client(prot).sleep(1000)
        assert info.value.type == TTransportException.TIMED_OUT
        assert isinstance(info.value.__cause__, TimeoutError)
        assert info.value.request_sent is True
        assert pool.idle == 0 and pool.checkedout == 0  # closed, not reused
        pool.close()


def _reset_after_request(conn: socket.socket, server: RawServer) -> None:
    conn.recv(65536)
    # SO_LINGER 0 makes close() send RST: the client's recv fails with ECONNRESET.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def test_pool_oserror_mid_call_becomes_transport_error_with_cause(echo: Any) -> None:
    with RawServer(_reset_after_request).start() as server:
        pool = _pool(server.endpoint, protocol_factory=THeaderProtocolFactory())
        with pytest.raises(errors.ConnectionLostError) as info, pool.connection() as prot:
            echo.service.Client(prot).ping()
        assert isinstance(info.value, TTransportException)
        assert isinstance(info.value.__cause__, OSError)
        assert server.endpoint in str(info.value)
        assert pool.checkedout == 0 and pool.idle == 0


def test_pool_connection_idl_exception_keeps_connection(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint)
        for _ in range(3):
            with pytest.raises(echo.ttypes.EchoError), pool.connection() as prot:
                echo.service.Client(prot).fail("no", 1)
        assert server.accepted == 1
        assert pool.idle == 1
        pool.close()


class _Cancelled(BaseException):
    pass


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, _Cancelled, ValueError])
def test_pool_connection_other_exception_closes_connection(echo: Any, exc_type: type) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint)
        with pytest.raises(exc_type), pool.connection() as prot:
            echo.service.Client(prot).ping()
            raise exc_type()
        assert pool.idle == 0 and pool.checkedout == 0
        with pool.connection() as prot:
            echo.service.Client(prot).ping()
        assert server.accepted == 2
        pool.close()


@pytest.fixture(params=["alone", "another-call-in-flight", "another-call-in-flight-one-cpu"])
def in_flight(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Whether another call is in flight when an idle connection is checked out.

    The pool checks the idle connection differently then: with the kernel's
    ``tcp_info`` where the process has several CPUs, with ``poll`` on one CPU (see
    ``channel._several_cpus``); alone, always with ``poll``. The one-CPU case confines
    this thread (and the threads it starts) to one CPU for the test.
    """
    if request.param != "another-call-in-flight-one-cpu":
        yield request.param != "alone"
        return
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("CPU affinity is Linux's")
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        yield True
    finally:
        os.sched_setaffinity(0, allowed)


def _assert_contended_check_fits_the_cpus(conn: Any) -> None:
    """A contended checkout of ``conn`` reads ``tcp_info`` only on Linux in a process
    that may run on several CPUs; it polls otherwise."""
    several = len(os.sched_getaffinity(0)) > 1 if hasattr(os, "sched_getaffinity") else True
    assert (conn.channel._tcp_info is not None) == (sys.platform == "linux" and several)


def test_pool_idle_connection_closed_by_server_discarded_at_checkout(
    echo: Any, in_flight: bool
) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint, size=2)
        conn = pool.checkout()
        other = pool.checkout() if in_flight else None  # checked differently then
        _assert_contended_check_fits_the_cpus(conn)
        echo.service.Client(conn.protocol).ping()
        pool.checkin(conn, True)
        server.drop_connections()
        wait_until(lambda: not conn.channel.is_reusable(), what="EOF to arrive")
        with pool.connection() as prot:
            assert echo.service.Client(prot).echo("fresh") == "fresh"
        assert server.accepted == (3 if in_flight else 2)
        if other is not None:
            pool.checkin(other, False)
        pool.close()


def _reply_then_chatter(conn: socket.socket, server: RawServer) -> None:
    from tests.support.servers import read_binary_call

    while True:
        try:
            name, seqid, _ = read_binary_call(conn)
        except EOFError:
            return
        reply = server.make_reply(name, seqid)  # type: ignore[attr-defined]
        # The answer, then bytes nobody asked for.
        conn.sendall(reply + reply)


def test_pool_unexpected_bytes_on_idle_connection_discarded(echo: Any) -> None:
    from tests.support.servers import binary_reply

    server = RawServer(_reply_then_chatter)
    server.make_reply = lambda name, seqid: binary_reply(  # type: ignore[attr-defined]
        echo, name, seqid, echo.service.ping_result()
    )
    with server.start():
        from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory

        pool = _pool(server.endpoint, protocol_factory=TBinaryProtocolAcceleratedFactory())
        for _ in range(3):
            with pool.connection() as prot:
                echo.service.Client(prot).ping()
        assert server.accepted == 3  # each connection had extra bytes, so none was reused
        pool.close()


def test_pool_bytes_arriving_while_idle_discard_the_connection_at_checkout(
    echo: Any, in_flight: bool
) -> None:
    # The stray bytes come after the reply was read and the connection given back,
    # so only the checkout check can see them. With another call in flight the pool
    # checks differently (the kernel's counters instead of poll): both must see them.
    from tests.support.servers import binary_reply, read_binary_call

    given_back = threading.Event()
    served: list[int] = []

    def reply_then_chatter_when_idle(conn: socket.socket, server: RawServer) -> None:
        while True:
            try:
                name, seqid, _ = read_binary_call(conn)
            except EOFError:
                return
            reply = binary_reply(echo, name, seqid, echo.service.ping_result())
            conn.sendall(reply)
            served.append(1)
            if len(served) == 1:  # after the first call only
                given_back.wait(timeout=30)
                conn.sendall(reply)

    with RawServer(reply_then_chatter_when_idle).start() as server:
        from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory

        pool = _pool(server.endpoint, size=2, protocol_factory=TBinaryProtocolAcceleratedFactory())
        first = pool.checkout()
        other = pool.checkout() if in_flight else None
        _assert_contended_check_fits_the_cpus(first)
        echo.service.Client(first.protocol).ping()
        pool.checkin(first, True)
        assert pool.idle == 1  # clean when given back
        given_back.set()
        wait_until(lambda: not first.channel.is_reusable(), what="the stray bytes to arrive")
        with pool.connection() as prot:
            echo.service.Client(prot).ping()
        assert server.accepted == (3 if in_flight else 2)  # a new connection, not `first`
        if other is not None:
            pool.checkin(other, True)
        pool.close()


def test_pool_after_fork_child_never_uses_parent_socket(echo: Any) -> None:
    with echo_server(echo) as server:
        pool = _pool(server.endpoint)
        with pool.connection() as prot:
            echo.service.Client(prot).ping()
        parent_port = _local_port(pool)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report the local port it used, then leave at once
            code = 1
            try:
                os.close(read_fd)
                with pool.connection() as prot:
                    echo.service.Client(prot).ping()
                os.write(write_fd, f"{_local_port(pool)} {pool.checkedout}".encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            report = pipe.read()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        child_port, child_in_use = map(int, report.split())
        assert child_port != parent_port
        assert child_in_use == 0
        # The parent's connection is intact and still reused.
        with pool.connection() as prot:
            assert echo.service.Client(prot).echo("still mine") == "still mine"
        assert _local_port(pool) == parent_port
        assert server.accepted == 2
        pool.close()


@pytest.mark.parametrize(
    "exc",
    [
        errors.ThriftClientError("m", endpoint="e:1", method="x"),
        errors.PoolExhaustedError("m", endpoint="e:1"),
        errors.ConnectFailedError("m", endpoint="e:1"),
        errors.CallTimeoutError("m", endpoint="e:1", method="x", request_sent=False),
        errors.ConnectionLostError("m", endpoint="e:1", method="x"),
        errors.ResponseMismatchError("m", method="x"),
        errors.RetriesExhaustedError("m", method="x", type=TTransportException.TIMED_OUT),
    ],
)
def test_runtime_errors_pickle_with_their_context(exc: errors.ThriftClientError) -> None:
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert isinstance(copy, TTransportException)
    assert (copy.message, copy.type, copy.endpoint, copy.method, copy.request_sent) == (
        exc.message,
        exc.type,
        exc.endpoint,
        exc.method,
        exc.request_sent,
    )
