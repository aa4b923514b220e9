from __future__ import annotations

import itertools
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory
from thrift.protocol.TCompactProtocol import TCompactProtocolFactory
from thrift.protocol.THeaderProtocol import THeaderProtocolFactory
from thrift.protocol.TJSONProtocol import TJSONProtocolFactory
from thrift.Thrift import TApplicationException
from thrift.transport.THeaderTransport import THeaderSubprotocolID
from thrift.transport.TTransport import TTransportException

from tests.support.servers import RawServer, binary_reply, echo_server, read_binary_call
from thriftbuild import (
    ThriftClient,
    ThriftConnectionPool,
    ThriftContextFactory,
    configure_context,
    errors,
)
from thriftbuild.client import PooledClientProxy

BINARY = TBinaryProtocolAcceleratedFactory()


def _proxy(echo: Any, endpoint: str, **kwargs: Any) -> PooledClientProxy:
    idempotent = kwargs.pop("idempotent", None)
    kwargs.setdefault("metrics", False)
    # Generous, so a stalled shared machine cannot turn an expected failure into a
    # timeout; tests about timeouts set their own.
    kwargs.setdefault("timeout", 5)
    pool = ThriftConnectionPool(endpoint, **kwargs)
    factory = ThriftContextFactory(pool, echo.service.Client, idempotent=idempotent, metrics=False)
    return factory.proxy("echo")


@pytest.fixture
def server(echo: Any) -> Iterator[Any]:
    with echo_server(echo) as srv:
        yield srv


# -- the seed API ------------------------------------------------------------------------


def test_configure_context_attribute_is_pooled_proxy(echo: Any, server: Any) -> None:
    cfg = {"foo.endpoint": server.endpoint, "foo.timeout": "2 seconds", "foo.size": "3"}
    context = configure_context(cfg, {"foo": ThriftClient(echo.service.Client, metrics=False)})
    assert isinstance(context.foo, PooledClientProxy)
    assert context.foo.echo("hello") == "hello"
    assert context.foo.echo_bytes(b"\x00\xff") == b"\x00\xff"
    assert context.foo.pool.size == 3 and context.foo.pool.timeout == 2.0
    assert context.foo.pool.name == "foo"
    context.foo.pool.close()


def test_configure_context_nested_sections_use_dotted_keys(echo: Any, server: Any) -> None:
    cfg = {"svc.echo.endpoint": server.endpoint}
    spec = {"svc": {"echo": ThriftClient(echo.service.Client, metrics=False)}}
    context = configure_context(cfg, spec)
    assert context.svc.echo.echo("x") == "x"
    context.svc.echo.pool.close()


def test_proxy_has_service_methods_and_kwargs_work(echo: Any, server: Any) -> None:
    proxy = _proxy(echo, server.endpoint)
    for name in ("ping", "echo", "echo_bytes", "sleep", "fail", "header", "bump", "notify"):
        assert callable(getattr(proxy, name))
    assert proxy.echo(text="kw") == "kw"
    assert proxy.sleep(ms=1) == 1
    proxy.pool.close()


def test_proxy_concurrent_callers_get_their_own_results(echo: Any, server: Any) -> None:
    proxy = _proxy(echo, server.endpoint, size=4)
    wrong: list[tuple[str, str]] = []

    def work(worker: int) -> None:
        for i in range(200):
            text = f"{worker}-{i}"
            got = proxy.echo(text)
            if got != text:
                wrong.append((text, got))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert wrong == []
    assert proxy.pool.checkedout == 0
    assert server.accepted <= 4
    proxy.pool.close()


# -- protocols and framings --------------------------------------------------------------

PROTOCOLS = [
    # (client protocol factory, transport, server kind)
    (None, None, "header"),  # the default: THeader + compact
    (THeaderProtocolFactory(default_protocol=THeaderSubprotocolID.BINARY), None, "header"),
    (BINARY, None, "binary-buffered"),
    (BINARY, "framed", "binary-framed"),
    (TCompactProtocolFactory(), None, "compact-buffered"),
    (TCompactProtocolFactory(), "framed", "compact-framed"),
    # Apache's THeader server also accepts plain framed and unframed clients.
    (BINARY, None, "header"),
    (TCompactProtocolFactory(), "framed", "header"),
    # A protocol with no fast twin goes through the generic checked wrapper.
    (TJSONProtocolFactory(), None, "json-buffered"),
]


@pytest.mark.parametrize(("factory", "transport", "server_kind"), PROTOCOLS)
def test_proxy_protocol_and_framing_round_trip(
    echo: Any, factory: Any, transport: str | None, server_kind: str
) -> None:
    if server_kind.startswith("json"):
        pytest.importorskip("thrift.protocol.TJSONProtocol")
    with echo_server(echo, server_kind) as srv:
        kwargs: dict[str, Any] = {"transport_factory": transport}
        if factory is not None:
            kwargs["protocol_factory"] = factory
        proxy = _proxy(echo, srv.endpoint, **kwargs)
        big = os.urandom(200_000)  # several TCP segments and recv() calls
        assert proxy.echo_bytes(big) == big
        assert proxy.echo("snow ☃") == "snow ☃"
        with pytest.raises(echo.ttypes.EchoError) as info:
            proxy.fail("boom", 7)
        assert (info.value.message, info.value.code) == ("boom", 7)
        proxy.notify("fire and forget")
        proxy.ping()
        budget = proxy.header("Deadline-Budget")
        if proxy.pool.headers_supported:
            assert 0 < int(budget) <= 5000  # ms, at most the pool timeout
        else:
            assert budget == ""
        assert srv.accepted == 1  # every call above reused the one connection
        proxy.pool.close()


@pytest.mark.parametrize(("factory", "transport", "server_kind"), PROTOCOLS[:6])
def test_proxy_large_string_and_binary_arguments_written_after_the_other_fields(
    echo: Any, factory: Any, transport: str | None, server_kind: str
) -> None:
    # From LARGE_STRING on, string/binary arguments are written by the runtime after
    # the fields Apache's codec wrote; the server must see every field unchanged.
    from thriftbuild.wire import LARGE_STRING

    with echo_server(echo, server_kind) as srv:
        kwargs: dict[str, Any] = {"transport_factory": transport}
        if factory is not None:
            kwargs["protocol_factory"] = factory
        proxy = _proxy(echo, srv.endpoint, **kwargs)
        for size in (LARGE_STRING - 1, LARGE_STRING, 70_000):
            data = os.urandom(size)
            got = proxy.echo_bytes(data)
            assert type(got) is bytes and got == data
            text = ("snow ☃ é " * size)[:size]  # multi-byte UTF-8: more bytes than chars
            answer = proxy.echo(text=text)
            assert type(answer) is str and answer == text
            with pytest.raises(echo.ttypes.EchoError) as info:
                proxy.fail(text, code=-7)  # a large field before a small one
            assert (info.value.message, info.value.code) == (text, -7)
        proxy.notify("x" * LARGE_STRING)  # a oneway call takes the same path
        assert proxy.echo("after") == "after"
        assert srv.accepted == 1
        proxy.pool.close()


def _apache_message(echo: Any, protocol: int, name: str, mtype: int, seqid: int, obj: Any) -> bytes:
    """A message as Apache's generated client writes it (accelerated protocol)."""
    from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
    from thrift.protocol.TCompactProtocol import TCompactProtocolAccelerated
    from thrift.transport.TTransport import TMemoryBuffer

    buf = TMemoryBuffer()
    prot = (TBinaryProtocolAccelerated if protocol == 0 else TCompactProtocolAccelerated)(buf)
    prot.writeMessageBegin(name, mtype, seqid)
    obj.write(prot)
    prot.writeMessageEnd()
    return bytes(buf.getvalue())


@pytest.mark.parametrize("protocol", [0, 2])
def test_proxy_string_only_arguments_sent_as_apache_writes_them(echo: Any, protocol: int) -> None:
    # Calls whose arguments are all string/binary are encoded by the runtime, not the
    # C codec: the request is byte for byte what Apache writes, for every size and for
    # values of the other type (left to the C codec).
    from thrift.Thrift import TMessageType

    from thriftbuild import wire

    service = echo.service
    received: list[bytes] = []

    def behaviour(conn: socket.socket, srv: RawServer) -> None:
        data = b""
        while True:
            try:
                head, end = wire.decode_head(protocol, data)
                args_cls = getattr(service, f"{head.name}_args")
                args = wire.APACHE.decode(args_cls, data[end:], protocol, wire.DEFAULT_LIMITS)
            except wire.WireError:  # the call is not complete yet
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
                continue
            size = len(_apache_message(echo, protocol, head.name, TMessageType.CALL, 0, args))
            size += len(wire.seqid_bytes(protocol, head.seqid)) - len(wire.seqid_bytes(protocol, 0))
            received.append(data[:size])
            data = data[size:]
            value = args.data if head.name == "echo_bytes" else args.text
            result = getattr(service, f"{head.name}_result")(success=value)
            conn.sendall(
                _apache_message(echo, protocol, head.name, TMessageType.REPLY, head.seqid, result)
            )

    factory = BINARY if protocol == 0 else TCompactProtocolFactory()
    with RawServer(behaviour).start() as srv:
        proxy = _proxy(echo, srv.endpoint, protocol_factory=factory)
        calls: list[tuple[str, Any, Any]] = [
            ("echo_bytes", b"", b""),
            ("echo_bytes", b"x", b"x"),
            ("echo_bytes", bytes(range(256)) * 4, bytes(range(256)) * 4),
            ("echo_bytes", os.urandom(70_000), None),
            ("echo_bytes", "é", "é".encode()),  # str for binary: Apache sends UTF-8
            ("echo", "snow ☃", "snow ☃"),
            ("echo", "t" * 5000, "t" * 5000),
        ]
        for name, value, answer in calls:
            got = getattr(proxy, name)(value)
            assert got == (value if answer is None else answer)
            request = received.pop()
            head, _ = wire.decode_head(protocol, request)
            args = getattr(service, f"{name}_args")(value)
            assert request == _apache_message(
                echo, protocol, name, TMessageType.CALL, head.seqid, args
            )
        assert srv.accepted == 1
        proxy.pool.close()


# -- connection hygiene ------------------------------------------------------------------


def test_proxy_after_read_timeout_next_call_gets_own_answer(echo: Any, server: Any) -> None:
    proxy = _proxy(echo, server.endpoint, size=1, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(errors.CallTimeoutError) as info:
        proxy.sleep(600)
    assert time.monotonic() - start < 0.2 + 1.0
    assert info.value.request_sent is True
    assert info.value.method == "sleep"
    assert "sleep()" in str(info.value) and server.endpoint in str(info.value)
    # The late reply to sleep(600) must never be read as the answer to echo().
    assert proxy.echo("mine") == "mine"
    assert proxy.sleep(1) == 1
    assert server.accepted == 2
    assert proxy.pool.checkedout == 0
    proxy.pool.close()


class _Interrupt(BaseException):
    """Stands for any cancellation (gevent Timeout, GreenletExit, ...)."""


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, _Interrupt])
def test_proxy_interrupted_mid_call_closes_connection(
    echo: Any, server: Any, exc_type: type[BaseException]
) -> None:
    proxy = _proxy(echo, server.endpoint, size=1, timeout=5)
    proxy.ping()

    def interrupt(signum: int, frame: Any) -> None:
        raise exc_type()

    previous = signal.signal(signal.SIGUSR1, interrupt)
    server.handler.sleeping.clear()
    # Signal the main thread only once the server is inside sleep(): mid-call.
    sender = threading.Thread(
        target=lambda: server.handler.sleeping.wait(10) and os.kill(os.getpid(), signal.SIGUSR1)
    )
    sender.start()
    try:
        with pytest.raises(exc_type):
            proxy.sleep(300)
    finally:
        sender.join(10)
        signal.signal(signal.SIGUSR1, previous)
    assert proxy.pool.idle == 0 and proxy.pool.checkedout == 0
    assert proxy.echo("after") == "after"
    assert server.accepted == 2
    proxy.pool.close()


def test_proxy_idl_exception_keeps_connection(echo: Any, server: Any) -> None:
    proxy = _proxy(echo, server.endpoint)
    for _ in range(3):
        with pytest.raises(echo.ttypes.EchoError):
            proxy.fail("x", 1)
    assert proxy.echo("same connection") == "same connection"
    assert server.accepted == 1
    proxy.pool.close()


def test_proxy_application_exception_closes_connection(echo: Any) -> None:
    def unknown_method(conn: socket.socket, srv: RawServer) -> None:
        from thrift.protocol.TBinaryProtocol import TBinaryProtocol
        from thrift.Thrift import TMessageType
        from thrift.transport.TTransport import TMemoryBuffer

        name, seqid, _ = read_binary_call(conn)
        buf = TMemoryBuffer()
        prot = TBinaryProtocol(buf)
        prot.writeMessageBegin(name, TMessageType.EXCEPTION, seqid)
        TApplicationException(TApplicationException.UNKNOWN_METHOD, "nope").write(prot)
        prot.writeMessageEnd()
        conn.sendall(buf.getvalue())
        conn.recv(1)  # until the client closes

    with RawServer(unknown_method).start() as srv:
        proxy = _proxy(echo, srv.endpoint, protocol_factory=BINARY)
        with pytest.raises(TApplicationException):
            proxy.ping()
        assert proxy.pool.idle == 0 and proxy.pool.checkedout == 0


def _replying(make: Any) -> Any:
    def behaviour(conn: socket.socket, srv: RawServer) -> None:
        while True:
            try:
                name, seqid, _ = read_binary_call(conn)
            except (EOFError, OSError):
                return
            conn.sendall(make(name, seqid))

    return behaviour


@pytest.mark.parametrize(
    ("wrong_name", "seqid_delta"), [(None, 1), (None, -1), ("echo", 0), ("other", 0)]
)
def test_proxy_reply_for_another_call_raises_and_closes(
    echo: Any, wrong_name: str | None, seqid_delta: int
) -> None:
    def make(name: str, seqid: int) -> bytes:
        return binary_reply(
            echo, wrong_name or name, seqid + seqid_delta, echo.service.ping_result()
        )

    with RawServer(_replying(make)).start() as srv:
        proxy = _proxy(echo, srv.endpoint, protocol_factory=BINARY)
        with pytest.raises(errors.ResponseMismatchError) as info:
            proxy.ping()
        assert isinstance(info.value, TTransportException)
        assert proxy.pool.idle == 0 and proxy.pool.checkedout == 0


def test_proxy_each_call_gets_fresh_seqid(echo: Any) -> None:
    seen: list[int] = []

    def make(name: str, seqid: int) -> bytes:
        seen.append(seqid)
        return binary_reply(echo, name, seqid, echo.service.ping_result())

    with RawServer(_replying(make)).start() as srv:
        proxy = _proxy(echo, srv.endpoint, protocol_factory=BINARY)
        for _ in range(5):
            proxy.ping()
        assert len(set(seen)) == 5
        proxy.pool.close()


# -- retries -----------------------------------------------------------------------------


def _eof_after_request(conn: socket.socket, srv: RawServer) -> None:
    conn.recv(65536)  # the request arrived; then the server "crashes"
    conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("attempts", "budget", "backoff", "idempotent"),
    list(itertools.product([1, 2, 3], [None, 5.0], [None, 0.01], [False, True, "names"])),
)
def test_retrying_any_options_at_most_attempts_and_maybe_sent_only_if_idempotent(
    echo: Any, attempts: int, budget: float | None, backoff: float | None, idempotent: Any
) -> None:
    marked: Any = {"ping"} if idempotent == "names" else idempotent
    with RawServer(_eof_after_request).start() as srv:
        proxy = _proxy(echo, srv.endpoint, protocol_factory=BINARY)
        retrying = proxy.retrying(
            attempts=attempts, budget=budget, backoff=backoff, idempotent=marked
        )
        with retrying as svc, pytest.raises(TTransportException) as info:
            svc.ping()
        expected = attempts if marked else 1
        assert srv.accepted == expected
        if expected > 1:
            assert isinstance(info.value, errors.RetriesExhaustedError)
            assert isinstance(info.value.__cause__, errors.ConnectionLostError)
            assert f"after {attempts} attempts" in str(info.value)
        elif marked:
            assert isinstance(info.value, errors.RetriesExhaustedError)
        else:
            assert isinstance(info.value, errors.ConnectionLostError)  # not retried
        assert proxy.pool.checkedout == 0


def test_retrying_not_idempotent_method_in_other_set_not_retried(echo: Any) -> None:
    with RawServer(_eof_after_request).start() as srv:
        proxy = _proxy(echo, srv.endpoint, protocol_factory=BINARY)
        with pytest.raises(errors.ConnectionLostError):
            proxy.retrying(attempts=3, idempotent={"echo"}).ping()
        assert srv.accepted == 1


def test_retrying_never_retries_idl_exception(echo: Any, server: Any) -> None:
    proxy = _proxy(echo, server.endpoint)
    with proxy.retrying(attempts=3, idempotent=True) as svc, pytest.raises(echo.ttypes.EchoError):
        svc.fail("no", 2)
    assert server.handler.calls["fail"] == 1
    proxy.pool.close()


def test_retrying_read_timeout_retried_only_when_idempotent(echo: Any, server: Any) -> None:
    proxy = _proxy(echo, server.endpoint, timeout=0.1)
    with pytest.raises(errors.CallTimeoutError):
        proxy.retrying(attempts=3).sleep(300)
    assert server.handler.calls["sleep"] == 1
    with pytest.raises(errors.RetriesExhaustedError) as info:
        proxy.retrying(attempts=3, idempotent={"sleep"}).sleep(300)
    assert isinstance(info.value.__cause__, errors.CallTimeoutError)
    assert server.handler.calls["sleep"] == 4
    proxy.pool.close()


def test_retrying_connect_failure_retried_for_any_method(echo: Any) -> None:
    from prometheus_client import CollectorRegistry

    from thriftbuild.metrics import ClientMetrics

    registry = CollectorRegistry()
    endpoint = f"127.0.0.1:{_free_port()}"
    pool = ThriftConnectionPool(
        endpoint, max_retries=1, metrics=ClientMetrics(registry), name="down"
    )
    proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy("down")
    with pytest.raises(errors.RetriesExhaustedError) as info:
        proxy.retrying(attempts=3).bump("k")  # not idempotent, but never sent
    assert isinstance(info.value.__cause__, errors.ConnectFailedError)
    assert endpoint in str(info.value) and "bump()" in str(info.value)
    assert info.value.request_sent is False
    failures = registry.get_sample_value(
        "thrift_client_pool_connect_failures_total", {"thrift_client_name": "down"}
    )
    assert failures == 3


def test_retrying_slot_timeout_retried_for_any_method(echo: Any, server: Any) -> None:
    proxy = _proxy(echo, server.endpoint, size=1, timeout=0.05)
    held = proxy.pool.checkout()
    try:
        with pytest.raises(errors.RetriesExhaustedError) as info:
            proxy.retrying(attempts=2).bump("k")
        assert isinstance(info.value.__cause__, errors.PoolExhaustedError)
    finally:
        proxy.pool.checkin(held, True)
    assert server.handler.counters == {}
    proxy.pool.close()


def test_retrying_succeeds_once_server_is_back(echo: Any) -> None:
    calls = {"n": 0}

    def flaky(conn: socket.socket, srv: RawServer) -> None:
        calls["n"] += 1
        if calls["n"] < 3:
            _eof_after_request(conn, srv)
            return
        _replying(lambda n, s: binary_reply(echo, n, s, echo.service.ping_result()))(conn, srv)

    with RawServer(flaky).start() as srv:
        proxy = _proxy(echo, srv.endpoint, protocol_factory=BINARY)
        assert proxy.retrying(attempts=3, idempotent=True).ping() is None
        assert srv.accepted == 3
        proxy.pool.close()


def test_retrying_budget_bounds_each_attempt_socket_timeout(echo: Any, server: Any) -> None:
    proxy = _proxy(echo, server.endpoint, timeout=5)
    start = time.monotonic()
    with pytest.raises(TTransportException):
        proxy.retrying(attempts=5, budget=0.3, idempotent=True).sleep(800)
    assert time.monotonic() - start < 0.3 + 1.0  # not the pool's 5 s
    budget = int(proxy.retrying(budget=0.25).header("Deadline-Budget"))
    assert 0 < budget <= 250
    proxy.pool.close()


def test_send_of_zero_bytes_marked_unsent_and_retryable_for_any_method(echo: Any) -> None:
    from tests.support.servers import wait_until
    from thriftbuild.client.proxy import _retryable

    connected = threading.Event()

    def reset_once_connected(conn: socket.socket, srv: RawServer) -> None:
        # Not before the client's connect has returned: a reset that lands while it
        # is still connecting fails the connect instead (seen on a loaded machine).
        connected.wait(30)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # RST before the client sends anything

    with RawServer(reset_once_connected).start() as srv:
        pool = ThriftConnectionPool(srv.endpoint, protocol_factory=BINARY, metrics=False)
        conn = pool.checkout()
        connected.set()
        wait_until(lambda: not conn.channel.is_reusable(), what="the reset to arrive")
        conn.channel.begin_call(None, "bump")
        with pytest.raises(errors.ConnectionLostError) as info:
            conn.channel.send_message(b"\x80\x01\x00\x01" + b"\x00" * 20)
        pool.checkin(conn, False)
        assert info.value.request_sent is False
        assert isinstance(info.value.__cause__, OSError)
        # Not idempotent, but provably never sent: a retrying proxy tries again.
        assert _retryable(info.value, "bump", False)
        assert pool.checkedout == 0


def test_proxy_opentelemetry_client_span_per_call_with_traceparent(echo: Any, server: Any) -> None:
    sdk = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    pool = ThriftConnectionPool(server.endpoint, timeout=0.2, metrics=False)
    factory = ThriftContextFactory(pool, echo.service.Client, metrics=False, tracing=provider)
    proxy = factory.proxy("echo")
    assert proxy.echo("traced") == "traced"
    traceparent = proxy.header("traceparent")
    with pytest.raises(echo.ttypes.EchoError):
        proxy.fail("expected", 1)
    with pytest.raises(errors.CallTimeoutError):
        proxy.sleep(500)
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["echo/echo", "echo/header", "echo/fail", "echo/sleep"]
    assert all(span.kind == SpanKind.CLIENT for span in spans)
    assert spans[0].attributes["rpc.system"] == "thrift"
    assert spans[0].attributes["rpc.method"] == "echo"
    assert spans[0].attributes["server.port"] == server.port
    # The server saw the trace context of the span that carried its request.
    assert traceparent.split("-")[1] == format(spans[1].context.trace_id, "032x")
    assert spans[2].status.status_code == StatusCode.OK  # declared in the IDL
    assert spans[3].status.status_code == StatusCode.ERROR
    assert "CallTimeoutError" in (spans[3].status.description or "")
    pool.close()


def test_proxy_tracing_false_makes_no_spans(echo: Any, server: Any) -> None:
    pytest.importorskip("opentelemetry.sdk.trace")
    pool = ThriftConnectionPool(server.endpoint, metrics=False)
    factory = ThriftContextFactory(pool, echo.service.Client, metrics=False, tracing=False)
    proxy = factory.proxy("echo")
    assert proxy.header("traceparent") == ""
    pool.close()


def test_runtime_imports_neither_setuptools_nor_the_build_side() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import thriftbuild.client, thriftbuild.wire, thriftbuild.service, thriftbuild.metrics\n"
        "from thriftbuild import ThriftConnectionPool, configure_context, ThriftClient\n"
        "ThriftConnectionPool('127.0.0.1:1')\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in "
        "('setuptools', 'distutils') or m.startswith('thriftbuild.codegen')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("factory", [None, BINARY])
def test_proxy_serves_code_from_the_pure_python_backend(
    factory: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import shutil
    import subprocess
    import sys

    from tests.support.servers import ECHO_IDL, ROOT, import_service

    work = tmp_path_factory.mktemp("pybackend")
    idl = work / "echo_pybackend.thrift"  # its own package name: no clash with `echo`
    shutil.copy(ECHO_IDL, idl)
    cmd = [sys.executable, "-m", "thriftbuild", "generate", "--backend", "python"]
    subprocess.run([*cmd, "--out", str(work), str(idl)], check=True, cwd=ROOT, timeout=120)
    service = import_service(work, "echo_pybackend_thrift", "Echo")
    with echo_server(service) as srv:
        kwargs = {} if factory is None else {"protocol_factory": factory}
        proxy = _proxy(service, srv.endpoint, **kwargs)
        assert proxy.echo_bytes(b"\x00\xff" * 600) == b"\x00\xff" * 600
        with pytest.raises(service.ttypes.EchoError):
            proxy.fail("declared", 3)
        proxy.notify("oneway")
        assert proxy.echo("same connection") == "same connection"
        assert srv.accepted == 1
        proxy.pool.close()
