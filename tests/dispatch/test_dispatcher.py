"""Request handling without sockets: Apache's own clients write the requests and read
the replies through memory buffers, in every dialect."""

from __future__ import annotations

import logging
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from thrift.protocol.TBinaryProtocol import TBinaryProtocol
from thrift.protocol.TCompactProtocol import TCompactProtocol
from thrift.protocol.THeaderProtocol import THeaderProtocol
from thrift.Thrift import TApplicationException
from thrift.transport.THeaderTransport import THeaderClientType
from thrift.transport.TTransport import TBufferedTransport, TFramedTransport, TMemoryBuffer

from tests.support.handlers import AsyncEchoHandler, RequestEchoHandler
from tests.support.servers import ECHO_IDL
from thriftbuild import wire
from thriftbuild.dispatch import Dispatcher, ServerConnection, current_request
from thriftbuild.server_metrics import ServerMetrics

DIALECTS = ["binary", "compact", "binary-framed", "compact-framed", "header"]


def _protocol(kind: str, buffer: TMemoryBuffer) -> Any:
    if kind == "header":
        return THeaderProtocol(buffer, [THeaderClientType.HEADERS])
    name, _, framing = kind.partition("-")
    trans = TFramedTransport(buffer) if framing else TBufferedTransport(buffer)
    return (TBinaryProtocol if name == "binary" else TCompactProtocol)(trans)


class Exchange:
    """One Apache client talking to a dispatcher through memory buffers."""

    def __init__(self, echo: Any, dispatcher: Dispatcher, kind: str) -> None:
        self.echo, self.kind = echo, kind
        self.connection = ServerConnection(dispatcher, peer=("198.51.100.7", 4242))
        self.dispatcher = dispatcher
        self.out = TMemoryBuffer()
        self.client = echo.service.Client(_protocol(kind, self.out))

    def call(self, name: str, *args: Any, headers: dict[bytes, bytes] | None = None) -> Any:
        for key, value in (headers or {}).items():
            self.client._oprot.trans.set_header(key, value)
        getattr(self.client, f"send_{name}")(*args)
        data = self.out.getvalue()
        self.out._buffer.seek(0)
        self.out._buffer.truncate()
        replies = [self.dispatcher.handle(call) for call in self.connection.feed(data)]
        if name == "notify":
            assert replies == [None]
            return None
        (reply,) = replies
        assert reply is not None
        self.client._iprot = _protocol(self.kind, TMemoryBuffer(reply))
        return getattr(self.client, f"recv_{name}")()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def _dispatcher(echo: Any, handler: Any, registry: CollectorRegistry) -> Dispatcher:
    return Dispatcher(echo.service, handler, metrics=ServerMetrics(registry))


@pytest.mark.parametrize("kind", DIALECTS)
def test_every_dialect_is_detected_and_answered_in_kind(
    echo: Any, kind: str, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    handler = RequestEchoHandler(echo.ttypes)
    exchange = Exchange(echo, _dispatcher(echo, handler, registry), kind)
    assert exchange.call("echo", "héllo") == "héllo"
    assert exchange.call("echo_bytes", b"\x00\xff") == b"\x00\xff"
    assert exchange.call("ping") is None
    with pytest.raises(echo.ttypes.EchoError) as raised:
        exchange.call("fail", "nope", 7)
    assert (raised.value.message, raised.value.code) == ("nope", 7)
    exchange.call("notify", "fire")
    assert handler.notes == ["fire"]
    with (
        caplog.at_level(logging.ERROR, "thriftbuild.server"),
        pytest.raises(TApplicationException) as app,
    ):
        exchange.call("echo", "boom")
    assert app.value.type == TApplicationException.INTERNAL_ERROR
    (record,) = caplog.records
    assert record.exc_info is not None and "the handler broke" in caplog.text
    assert exchange.call("echo", "still serving") == "still serving"
    assert exchange.connection.dialect is not None


def test_headers_and_deadline_reach_the_handler(echo: Any, registry: CollectorRegistry) -> None:
    handler = RequestEchoHandler(echo.ttypes)
    exchange = Exchange(echo, _dispatcher(echo, handler, registry), "header")
    before = time.monotonic()
    value = exchange.call(
        "header", "X-Tenant", headers={b"X-Tenant": b"acme", b"Deadline-Budget": b"60000"}
    )
    assert value == "acme"
    (left,) = handler.deadlines
    assert left is not None and 0 < left <= 60.0 + (time.monotonic() - before)
    assert exchange.call("header", "Missing") == ""
    assert current_request() is None  # only set while a handler runs


def test_unknown_method_is_an_application_exception(echo: Any, registry: CollectorRegistry) -> None:
    class Narrow:  # implements nothing of Echo
        pass

    exchange = Exchange(echo, _dispatcher(echo, Narrow(), registry), "binary")
    with pytest.raises(TApplicationException) as raised:
        exchange.call("echo", "x")
    assert raised.value.type == TApplicationException.INTERNAL_ERROR
    assert "not implemented" in str(raised.value.message)

    payload = wire.encode_head(wire.BINARY, "nosuch", wire.MessageType.CALL, 3) + b"\x00"
    (call,) = exchange.connection.feed(payload)
    reply = exchange.dispatcher.handle(call)
    assert reply is not None
    head, body = wire.decode_head(wire.BINARY, reply)
    assert head == wire.MessageHead("nosuch", wire.MessageType.EXCEPTION, 3)
    exc = wire.APACHE.decode(TApplicationException, reply[body:], wire.BINARY, wire.DEFAULT_LIMITS)
    assert (exc.type, exc.message) == (
        TApplicationException.UNKNOWN_METHOD,
        "Unknown function nosuch",
    )


def test_handler_application_exception_is_sent_as_is(
    echo: Any, registry: CollectorRegistry
) -> None:
    class Refusing(RequestEchoHandler):
        def echo(self, text: str) -> str:
            raise TApplicationException(TApplicationException.WRONG_METHOD_NAME, "go away")

    exchange = Exchange(echo, _dispatcher(echo, Refusing(echo.ttypes), registry), "compact")
    with pytest.raises(TApplicationException) as raised:
        exchange.call("echo", "x")
    assert (raised.value.type, raised.value.message) == (3, "go away")


def test_a_coroutine_handler_runs_to_completion_in_the_sync_driver(
    echo: Any, registry: CollectorRegistry
) -> None:
    handler = AsyncEchoHandler(echo.ttypes)
    exchange = Exchange(echo, _dispatcher(echo, handler, registry), "binary")
    assert exchange.call("bump", "k") == 1
    assert exchange.call("bump", "k") == 2


def test_an_apache_processor_and_a_thriftpy2_processor_are_accepted(
    echo: Any, registry: CollectorRegistry
) -> None:
    import thriftpy2
    from thriftpy2.thrift import TProcessor

    handler = RequestEchoHandler(echo.ttypes)
    apache = Dispatcher(None, echo.service.Processor(handler), metrics=ServerMetrics(registry))
    assert Exchange(echo, apache, "header").call("echo", "a") == "a"

    tp2 = thriftpy2.load(str(ECHO_IDL), module_name="echo_dispatch_thrift")

    class Tp2Handler:
        def echo(self, text: str) -> str:
            return text.upper()

        def fail(self, message: str, code: int) -> None:
            raise tp2.EchoError(message=message, code=code)

    tp2_dispatcher = Dispatcher(None, TProcessor(tp2.Echo, Tp2Handler()), metrics=False)
    exchange = Exchange(echo, tp2_dispatcher, "compact-framed")
    assert exchange.call("echo", "b") == "B"  # Apache's client, thriftpy2's service
    with pytest.raises(echo.ttypes.EchoError) as raised:
        exchange.call("fail", "bad", 2)
    assert (raised.value.message, raised.value.code) == ("bad", 2)


def test_metrics_count_requests_by_method_and_outcome(
    echo: Any, registry: CollectorRegistry
) -> None:
    exchange = Exchange(
        echo, _dispatcher(echo, RequestEchoHandler(echo.ttypes), registry), "binary"
    )
    exchange.call("echo", "x")
    exchange.call("echo", "y")
    with pytest.raises(echo.ttypes.EchoError):
        exchange.call("fail", "m", 1)
    with pytest.raises(TApplicationException):
        exchange.call("echo", "boom")
    sample: Callable[..., Any] = registry.get_sample_value
    labels = {"thrift_service": "Echo", "thrift_method": "echo"}
    assert sample("thrift_server_requests_total", {**labels, "outcome": "success"}) == 2
    assert sample("thrift_server_requests_total", {**labels, "outcome": "internal_error"}) == 1
    failed = {"thrift_service": "Echo", "thrift_method": "fail", "outcome": "declared_exception"}
    assert sample("thrift_server_requests_total", failed) == 1
    assert sample("thrift_server_latency_seconds_count", {**labels, "outcome": "success"}) == 2
    assert sample("thrift_server_active_connections", {"thrift_service": "Echo"}) == 1
    assert sample("thrift_server_active_requests", {"thrift_service": "Echo"}) == 0
    exchange.connection.close()
    exchange.connection.close()
    assert sample("thrift_server_active_connections", {"thrift_service": "Echo"}) == 0


def test_garbage_and_oversized_requests_raise_wire_errors(echo: Any) -> None:
    limits = wire.Limits(max_frame=1024)
    dispatcher = Dispatcher(
        echo.service, RequestEchoHandler(echo.ttypes), limits=limits, metrics=False
    )
    with pytest.raises(wire.WireError):
        ServerConnection(dispatcher).feed(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(wire.LimitExceededError):
        ServerConnection(dispatcher).feed((1 << 20).to_bytes(4, "big") + b"\x80\x01\x00\x01")
    reply = wire.encode_head(wire.BINARY, "echo", wire.MessageType.REPLY, 1) + b"\x00"
    with pytest.raises(wire.WireError, match="expected a call"):
        ServerConnection(dispatcher).feed(reply)


def test_calls_in_progress_and_handled_count_are_visible_to_drivers(
    echo: Any, registry: CollectorRegistry
) -> None:
    dispatcher = _dispatcher(echo, RequestEchoHandler(echo.ttypes), registry)
    exchange = Exchange(echo, dispatcher, "binary")
    assert dispatcher.oldest_active() is None
    exchange.client.send_echo("a")
    exchange.client.send_echo("b")
    first, second = exchange.connection.feed(exchange.out.getvalue())
    assert dispatcher.oldest_active() == first.started  # both begun, neither finished
    dispatcher.handle(first)
    assert dispatcher.oldest_active() == second.started
    dispatcher.handle(second)
    assert dispatcher.oldest_active() is None
    assert dispatcher.handled == 2


def _binary_call(name: bytes, mtype: int, seqid: bytes, body: bytes) -> bytes:
    return struct.pack("!iI", -2147418112 | mtype, len(name)) + name + seqid + body


# Requests a dispatcher that knows the method's head (it has served the method
# before) handles without reading the head; each must decode, or fail, exactly as a
# dispatcher seeing it first does.
SEEN_BEFORE = {
    "ping": _binary_call(b"ping", 1, b"\x00\x00\x00\x07", b"\x00"),
    "ping, arguments it does not take": _binary_call(
        b"ping", 1, b"\x00\x00\x00\x07", b"\x08\x00\x09\x00\x00\x00\x05\x00"
    ),
    "ping, cut arguments ending in a zero byte": _binary_call(
        b"ping", 1, b"\x00\x00\x00\x07", b"\x0b\x00\x01\x00\x00\x00\x10\x00"
    ),
    "echo": _binary_call(b"echo", 1, b"\xff\xff\xff\xfe", b"\x0b\x00\x01\x00\x00\x00\x02hi\x00"),
    "oneway notify, as a CALL": _binary_call(b"notify", 1, b"\x00\x00\x00\x01", b"\x00"),
    "oneway notify, as ONEWAY": _binary_call(b"notify", 4, b"\x00\x00\x00\x01", b"\x00"),
    "a REPLY": _binary_call(b"echo", 2, b"\x00\x00\x00\x01", b"\x00"),
    "an EXCEPTION": _binary_call(b"ping", 3, b"\x00\x00\x00\x01", b"\x00"),
    "ends inside the sequence id": _binary_call(b"ping", 1, b"\x00\x00", b""),
    "ends after the head": _binary_call(b"ping", 1, b"\x00\x00\x00\x01", b""),
    "ends inside the arguments": _binary_call(b"echo", 1, b"\x00\x00\x00\x01", b"\x0b\x00\x01"),
    "a string over the limits": _binary_call(
        b"echo", 1, b"\x00\x00\x00\x01", struct.pack("!bhi", 11, 1, 0x7FFFFFFF) + b"x" * 8
    ),
    "a longer name sharing the prefix": _binary_call(b"pingx", 1, b"\x00\x00\x00\x01", b"\x00"),
    "a name length past the frame": struct.pack("!iI", -2147418111, 0x7FFFFFF0) + b"ping\x00",
    "a negative name length": struct.pack("!ii", -2147418111, -4) + b"ping\x00\x00\x00\x01\x00",
}


def _outcome(dispatcher: Dispatcher, payload: bytes) -> tuple[Any, ...]:
    frame = wire.encode_framed(payload)
    connection = ServerConnection(dispatcher, dialect=wire.Dialect(wire.Framing.FRAMED, 0))
    try:
        (call,) = connection.feed(frame)
    except wire.WireError as exc:
        return (type(exc), str(exc))
    request = call.request
    reply = dispatcher.handle(call)
    return (request.method, request.seqid, call.args, call.oneway, reply)


@pytest.mark.parametrize("payload", SEEN_BEFORE.values(), ids=SEEN_BEFORE.keys())
def test_a_request_to_a_method_seen_before_decodes_as_on_first_sight(
    echo: Any, payload: bytes
) -> None:
    handler = RequestEchoHandler(echo.ttypes)
    fresh = Dispatcher(echo.service, handler, metrics=False)
    first = _outcome(fresh, payload)
    warm = Dispatcher(echo.service, handler, metrics=False)
    for name in ("ping", "echo", "notify"):  # every method's head, known
        _outcome(warm, _binary_call(name.encode(), 1, b"\x00\x00\x00\x00", b"\x00"))
    assert warm._heads  # the shortcut this compares with the general path
    assert _outcome(warm, payload) == first
    # Both as the wire core decodes the request on its own.
    try:
        head, body = wire.decode_head(wire.BINARY, payload)
        assert head.type in (wire.MessageType.CALL, wire.MessageType.ONEWAY)
        method = fresh.view.methods.get(head.name)
        args = None if method is None else wire.decode_args(method, wire.BINARY, payload, body)
    except (wire.WireError, AssertionError):
        assert first[0] in (wire.WireError, wire.LimitExceededError)
    else:
        params = fresh.view.params.get(head.name, ()) if args is not None else ()
        expected = tuple(getattr(args, name) for name in params)
        assert first[:3] == (head.name, head.seqid, expected)


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
@pytest.mark.parametrize("runtime", ["apache", "thriftpy2"])
def test_a_void_reply_is_the_encoded_empty_result(echo: Any, protocol: int, runtime: str) -> None:
    handler = RequestEchoHandler(echo.ttypes)
    if runtime == "apache":
        service, codec = echo.service, wire.APACHE
    else:
        import thriftpy2

        service = thriftpy2.load(str(ECHO_IDL), module_name="echo_void_thrift").Echo
        codec = wire.THRIFTPY2
    dispatcher = Dispatcher(service, handler, metrics=False)
    method = dispatcher.view.methods["ping"]
    assert method.result_cls is not None
    call_payload = wire.encode_call(method, protocol, 9)
    connection = ServerConnection(dispatcher, dialect=wire.Dialect(wire.Framing.FRAMED, protocol))
    (call,) = connection.feed(wire.encode_framed(call_payload))
    reply = dispatcher.handle(call)
    expected = wire.encode_reply(method, protocol, 9, method.result_cls())
    assert codec.encode(method.result_cls(), protocol) == b"\x00"
    assert reply == wire.encode_framed(expected)


def test_a_framed_reply_over_the_frame_limit_is_refused(echo: Any) -> None:
    limits = wire.Limits(max_frame=wire.DEFAULT_LIMITS.max_frame * 2)
    handler = RequestEchoHandler(echo.ttypes)
    dispatcher = Dispatcher(echo.service, handler, limits=limits, metrics=False)
    method = dispatcher.view.methods["echo_bytes"]
    dialect = wire.Dialect(wire.Framing.FRAMED, wire.BINARY)
    for size, fits in [(1000, True), (wire.DEFAULT_LIMITS.max_frame, False)]:
        payload = wire.encode_call(method, wire.BINARY, 5, (b"z" * size,))
        connection = ServerConnection(dispatcher, dialect=dialect)
        (call,) = connection.feed(wire.encode_framed(payload, limits))
        if fits:
            reply = dispatcher.handle(call)
            assert reply is not None
            assert wire.decode_reply(method, wire.BINARY, reply[4:], 5) == b"z" * size
            assert reply[:4] == (len(reply) - 4).to_bytes(4, "big")
        else:
            with pytest.raises(wire.LimitExceededError, match="frame size"):
                dispatcher.handle(call)


# Framed feeds: one whole frame to an empty decoder takes a shortcut past the decoder;
# every other feed goes through it. Each must give what feeding byte by byte gives.
def _framed(payload: bytes) -> bytes:
    return struct.pack("!i", len(payload)) + payload


_PING = _binary_call(b"ping", 1, b"\xff\xff\xff\xfe", b"\x00")
_ECHO = _binary_call(b"echo", 1, b"\x00\x00\x00\x03", b"\x0b\x00\x01\x00\x00\x00\x02hi\x00")
FRAMED_FEEDS = {
    "one whole frame": _framed(_PING),
    "two frames": _framed(_PING) + _framed(_ECHO),
    "a frame and a part": _framed(_ECHO) + _framed(_PING)[:6],
    "the size alone": _framed(_PING)[:4],
    "a zero size": b"\x00\x00\x00\x00" + _PING,
    "a negative size": b"\xff\xff\xff\xff" + _PING,
    "a size over the frame limit": struct.pack("!i", 2048) + b"\x80" * 2048,
    "a whole frame that is no call": _framed(_binary_call(b"echo", 2, b"\x00" * 4, b"\x00")),
    "a whole frame with cut arguments": _framed(_ECHO[:-3]),
}


def _feed_outcomes(dispatcher: Dispatcher, chunks: list[bytes]) -> list[Any]:
    connection = ServerConnection(dispatcher, dialect=wire.Dialect(wire.Framing.FRAMED, 0))
    seen: list[Any] = []
    for chunk in chunks:
        try:
            calls = connection.feed(chunk)
        except wire.WireError as exc:
            seen.append((type(exc), str(exc)))
            break
        for call in calls:
            request = call.request
            seen.append((request.method, request.seqid, call.args, dispatcher.handle(call)))
    seen.append(connection.buffered)
    return seen


@pytest.mark.parametrize("data", FRAMED_FEEDS.values(), ids=FRAMED_FEEDS.keys())
def test_a_whole_framed_feed_decodes_as_the_decoder_does(echo: Any, data: bytes) -> None:
    limits = wire.Limits(max_frame=1024)
    handler = RequestEchoHandler(echo.ttypes)

    def fresh() -> Dispatcher:
        return Dispatcher(echo.service, handler, limits=limits, metrics=False)

    whole = _feed_outcomes(fresh(), [data])
    bytewise = _feed_outcomes(fresh(), [data[i : i + 1] for i in range(len(data))])
    assert whole == bytewise


def test_a_failed_framed_connection_refuses_whole_frames_after(echo: Any) -> None:
    dispatcher = Dispatcher(echo.service, RequestEchoHandler(echo.ttypes), metrics=False)
    connection = ServerConnection(dispatcher, dialect=wire.Dialect(wire.Framing.FRAMED, 0))
    with pytest.raises(wire.WireError):
        connection.feed(b"\xff\xff\xff\xff")
    with pytest.raises(wire.WireError, match="already failed"):
        connection.feed(_framed(_PING))


@pytest.mark.parametrize("seqid", [0, 7, -2, 2**31 - 1, -(2**31)])
def test_the_cached_void_reply_carries_each_sequence_id(echo: Any, seqid: int) -> None:
    dispatcher = Dispatcher(echo.service, RequestEchoHandler(echo.ttypes), metrics=False)
    method = dispatcher.view.methods["ping"]
    assert method.result_cls is not None
    for dialect in (None, wire.Dialect(wire.Framing.FRAMED, wire.BINARY)):  # detected or fixed
        connection = ServerConnection(dispatcher, dialect=dialect)
        for _ in range(2):  # the first reply makes the cache, the second uses it
            (call,) = connection.feed(wire.encode_framed(wire.encode_call(method, 0, seqid)))
            reply = dispatcher.handle(call)
            expected = wire.encode_reply(method, wire.BINARY, seqid, method.result_cls())
            assert reply == wire.encode_framed(expected)


def test_every_outcome_leaves_the_in_flight_gauge_at_zero(
    echo: Any, registry: CollectorRegistry
) -> None:
    class Partial(RequestEchoHandler):
        sleep = None  # type: ignore[assignment]  # not implemented

    dispatcher = _dispatcher(echo, Partial(echo.ttypes), registry)
    sample: Callable[..., Any] = registry.get_sample_value
    exchange = Exchange(echo, dispatcher, "binary-framed")
    exchange.call("ping")
    exchange.call("notify", "m")
    with pytest.raises(echo.ttypes.EchoError):
        exchange.call("fail", "m", 1)
    with pytest.raises(TApplicationException):
        exchange.call("echo", "boom")
    with pytest.raises(TApplicationException):
        exchange.call("sleep", 1)
    exchange.client.send_echo("cancelled")
    (call,) = exchange.connection.feed(exchange.out.getvalue())
    assert dispatcher.finish(call, error=KeyboardInterrupt()) is None  # recorded, no reply
    assert sample("thrift_server_active_requests", {"thrift_service": "Echo"}) == 0
    outcomes = {
        ("ping", "success"),
        ("notify", "success"),
        ("fail", "declared_exception"),
        ("echo", "internal_error"),
        ("sleep", "internal_error"),
        ("echo", "cancelled"),
    }
    for method, outcome in outcomes:
        labels = {"thrift_service": "Echo", "thrift_method": method, "outcome": outcome}
        assert sample("thrift_server_requests_total", labels) == 1, labels
    assert dispatcher.handled == 6


def test_handled_counts_every_call_finished_from_threads(echo: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    dispatcher = Dispatcher(echo.service, RequestEchoHandler(echo.ttypes), metrics=False)
    request = wire.encode_framed(_PING)

    def serve(_: int) -> None:
        connection = ServerConnection(dispatcher)
        for _ in range(2000):
            (call,) = connection.feed(request)
            dispatcher.handle(call)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(serve, range(4)))
    finally:
        sys.setswitchinterval(interval)
    assert dispatcher.handled == 8000


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
@pytest.mark.parametrize("framing", [wire.Framing.FRAMED, wire.Framing.UNFRAMED])
def test_a_string_result_reply_is_the_encoded_result_whatever_the_handler_returns(
    echo: Any, protocol: int, framing: wire.Framing
) -> None:
    """Strings and binaries are encoded without a result struct; a value of another
    type still gets what the result struct's encoder makes of it."""
    returned: list[Any] = []

    class Handler(RequestEchoHandler):
        def echo_bytes(self, data: bytes) -> Any:
            return returned[-1]

    dialect = wire.Dialect(framing, protocol)
    dispatcher = Dispatcher(echo.service, Handler(echo.ttypes), metrics=False)
    connection = ServerConnection(dispatcher, dialect=dialect)
    method = dispatcher.view.methods["echo_bytes"]
    assert method.result_cls is not None
    for seqid, value in enumerate([b"", b"\x00\xff" * 600, "text for binary", None, 12]):
        returned.append(value)
        (call,) = connection.feed(dialect.frame(wire.encode_call(method, protocol, seqid, (b"x",))))
        reply = dispatcher.handle(call)
        assert reply is not None
        payload = reply[4:] if framing is wire.Framing.FRAMED else reply
        if value is None or value == 12:
            # No value (the client reports a missing result) or one the IDL type
            # cannot hold (the server reports it).
            with pytest.raises(TApplicationException) as raised:
                wire.decode_reply(method, protocol, payload, seqid)
            kind = (
                TApplicationException.MISSING_RESULT
                if value is None
                else TApplicationException.INTERNAL_ERROR
            )
            assert raised.value.type == kind
            continue
        expected = wire.encode_reply(method, protocol, seqid, method.result_cls(success=value))
        assert reply == dialect.frame(expected)
        decoded = wire.decode_reply(method, protocol, payload, seqid)
        assert (type(decoded), decoded) == (
            bytes,
            value.encode() if isinstance(value, str) else value,
        )
