"""The wire's hot-path shortcuts decide exactly as the general paths they skip.

Each shortcut is compared with its general path on the same bytes: valid messages,
every split of them, two in one chunk, corrupted and random bytes, and tight limits.
An outcome is the value, or the "need more" position, or the error's type and text.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thriftbuild import wire
from thriftbuild.service import service_view
from thriftbuild.wire import framing, heads, scan
from thriftbuild.wire.varint import Incomplete

FAST = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
SMALL = wire.Limits(max_frame=256, max_string=64, max_container=16, max_depth=2)
LIMITS = (wire.DEFAULT_LIMITS, SMALL)


def _outcome(run: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("value", run())
    except Incomplete as more:
        return ("incomplete", more.needed)
    except Exception as exc:
        return (type(exc).__name__, str(exc))


def _general_feed(decoder: wire.UnframedDecoder, data: bytes) -> list[wire.Frame]:
    """The general path of ``UnframedDecoder.feed`` (its shared base's)."""
    return framing._Base.feed(decoder, data)


def _app_error() -> BaseException:
    from thrift.Thrift import TApplicationException

    return TApplicationException(1, "x")


def _replies(echo: Any) -> list[bytes]:
    """Binary replies of every shape the client sees, and calls with containers."""
    view = service_view(echo.service)
    result = view["echo"].result_cls
    fail = view["fail"].result_cls
    return [
        wire.encode_reply(view["ping"], wire.BINARY, 1, view["ping"].result_cls()),
        wire.encode_reply(view["echo"], wire.BINARY, 2, result(success="é" * 30)),
        wire.encode_reply(view["sleep"], wire.BINARY, 3, view["sleep"].result_cls(success=-7)),
        wire.encode_reply(view["fail"], wire.BINARY, 4, fail(err=echo.ttypes.EchoError("no", 3))),
        wire.encode_exception("nope", wire.BINARY, 5, _app_error()),
        wire.encode_call(view["fail"], wire.BINARY, 6, ("m", 9)),
        # a body with a list and a nested struct after a plain field
        heads.encode_head(wire.BINARY, "x", wire.MessageType.REPLY, 7)
        + bytes.fromhex("080001000000010f0002080000000200000001ffffffff0c00030000"),
    ]


def _streams(echo: Any) -> st.SearchStrategy[bytes]:
    messages = _replies(echo)
    valid = st.sampled_from(messages)
    pairs = st.tuples(valid, valid).map(lambda pair: pair[0] + pair[1])

    @st.composite
    def corrupted(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.one_of(valid, pairs)))
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)

    @st.composite
    def cut(draw: st.DrawFn) -> bytes:
        data = draw(st.one_of(valid, pairs))
        return data[: draw(st.integers(0, len(data)))]

    return st.one_of(valid, pairs, corrupted(), cut(), st.binary(max_size=80))


@pytest.fixture(scope="module")
def streams(echo: Any) -> st.SearchStrategy[bytes]:
    return _streams(echo)


@FAST
@given(data=st.data())
def test_unframed_feed_matches_general_path_on_any_chunks(
    streams: st.SearchStrategy[bytes], data: Any
) -> None:
    stream = data.draw(streams)
    limits = data.draw(st.sampled_from(LIMITS))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=4)))
    chunks = [stream[a:b] for a, b in itertools.pairwise([0, *cuts, len(stream)])]
    fast = wire.UnframedDecoder(wire.BINARY, limits)
    general = wire.UnframedDecoder(wire.BINARY, limits)
    for chunk in chunks:
        got = _outcome(lambda chunk=chunk: fast.feed(chunk))
        want = _outcome(lambda chunk=chunk: _general_feed(general, chunk))
        assert got == want
        assert (fast.buffered, fast.need) == (general.buffered, general.need)
        if got[0] != "value":
            break


def _framed_streams(messages: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Framed bytes: whole frames, two in a row, cut, corrupted (the size too), random."""
    frame = messages.map(lambda m: wire.encode_framed(m) if m else b"")
    pairs = st.tuples(frame, frame).map(lambda pair: pair[0] + pair[1])

    @st.composite
    def damaged(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.one_of(frame, pairs)))
        if not data:
            return b""
        for _ in range(draw(st.integers(1, 3))):
            reach = min(len(data) - 1, draw(st.sampled_from((3, 80))))  # the size, or anywhere
            data[draw(st.integers(0, reach))] = draw(st.integers(0, 255))
        return bytes(data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data)

    sizes = st.integers(-(2**31), 2**31 - 1).map(lambda n: n.to_bytes(4, "big", signed=True))
    odd = st.tuples(sizes, st.binary(max_size=40)).map(lambda pair: pair[0] + pair[1])
    return st.one_of(frame, pairs, damaged(), odd, st.binary(max_size=80))


@FAST
@given(data=st.data())
def test_framed_payload_is_what_a_fresh_framed_decoder_returns(
    streams: st.SearchStrategy[bytes], data: Any
) -> None:
    stream = data.draw(_framed_streams(streams))
    limits = data.draw(st.sampled_from((*LIMITS, wire.Limits(max_frame=20))))
    payload = wire.framed_payload(stream, limits)
    decoder = wire.FramedDecoder(wire.BINARY, limits)
    general = _outcome(lambda: decoder.feed(stream))
    if payload is not None:  # the shortcut: exactly the one frame feed() returns
        assert general == ("value", [wire.Frame(payload, wire.BINARY)])
        assert type(payload) is bytes
        assert decoder.buffered == 0
    else:  # never declined where feed() gives one whole frame and keeps nothing
        assert not (general[0] == "value" and len(general[1]) == 1 and decoder.buffered == 0)


def test_framed_payload_every_cut_and_the_size_limit(echo: Any) -> None:
    for message in _replies(echo):
        framed = wire.encode_framed(message)
        assert wire.framed_payload(framed) == message
        for cut in range(len(framed)):
            assert wire.framed_payload(framed[:cut]) is None
        assert wire.framed_payload(framed + framed[:1]) is None
        tight = wire.Limits(max_frame=len(message) - 1)
        assert wire.framed_payload(framed, tight) is None
        with pytest.raises(wire.LimitExceededError, match="max_frame"):
            wire.FramedDecoder(wire.BINARY, tight).feed(framed)


def test_unframed_feed_every_split_and_two_messages_in_one_chunk(echo: Any) -> None:
    for message in _replies(echo):
        for cut in range(len(message) + 1):
            decoder = wire.UnframedDecoder(wire.BINARY)
            frames = decoder.feed(message[:cut]) + decoder.feed(message[cut:])
            assert frames == [wire.Frame(message, wire.BINARY)]
            assert type(frames[0].payload) is bytes
            assert (decoder.buffered, decoder.need) == (0, 1)
        both = wire.UnframedDecoder(wire.BINARY).feed(message + message)
        assert both == [wire.Frame(message, wire.BINARY)] * 2


def test_unframed_single_message_over_max_frame_fails_like_the_general_path(echo: Any) -> None:
    message = _replies(echo)[1]
    limits = wire.Limits(max_frame=len(message) - 1)
    for feed in (lambda d, m: d.feed(m), lambda d, m: _general_feed(d, m)):
        decoder = wire.UnframedDecoder(wire.BINARY, limits)
        with pytest.raises(wire.LimitExceededError, match="max_frame"):
            feed(decoder, message)
        with pytest.raises(wire.WireError, match="already failed"):
            decoder.feed(message)


@FAST
@given(data=st.data())
def test_binary_struct_end_and_head_end_match_the_scanner(
    streams: st.SearchStrategy[bytes], data: Any
) -> None:
    buf = data.draw(streams)
    limits = data.draw(st.sampled_from(LIMITS))
    try:  # mostly where a body starts, where the scanner is used
        body = heads.read_head(wire.BINARY, buf, 0, limits)[1]
    except (Incomplete, wire.WireError):
        body = 0
    pos = data.draw(st.one_of(st.just(body), st.integers(0, len(buf))))
    assert _outcome(lambda: scan.binary_struct_end(buf, pos, limits)) == _outcome(
        lambda: scan._BinaryScan(buf, limits).value(scan._STRUCT, pos, 1)
    )
    assert _outcome(lambda: heads.head_end(wire.BINARY, buf, pos, limits)) == _outcome(
        lambda: heads.read_head(wire.BINARY, buf, pos, limits)[1]
    )


def _both_struct_ends(buf: bytes, body: int, limits: wire.Limits) -> tuple[Any, Any]:
    return (
        _outcome(lambda: scan.binary_struct_end(buf, body, limits)),
        _outcome(lambda: scan._BinaryScan(buf, limits).value(scan._STRUCT, body, 1)),
    )


def _both_head_ends(buf: bytes, limits: wire.Limits) -> tuple[Any, Any]:
    return (
        _outcome(lambda: heads.head_end(wire.BINARY, buf, 0, limits)),
        _outcome(lambda: heads.read_head(wire.BINARY, buf, 0, limits)[1]),
    )


def test_binary_struct_end_matches_the_scanner_at_every_cut(echo: Any) -> None:
    for message, limits in itertools.product(_replies(echo), LIMITS):
        body = heads.read_head(wire.BINARY, message, 0)[1]
        for cut in range(body, len(message) + 1):
            fast, general = _both_struct_ends(message[:cut], body, limits)
            assert fast == general
        for cut in range(body + 1):
            fast, general = _both_head_ends(message[:cut], limits)
            assert fast == general


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
@pytest.mark.parametrize("strict", [True, False])
def test_head_parts_splice_to_encode_head(protocol: int, strict: bool) -> None:
    for name, mtype, seqid in itertools.product(
        ("ping", "é" * 70, ""), wire.MessageType, (0, 1, 127, 128, -1, 2**31 - 1, -(2**31))
    ):
        before, after = heads.head_parts(protocol, name, mtype, strict=strict)
        if protocol == wire.BINARY:
            seq = seqid.to_bytes(4, "big", signed=True)
        else:
            seq = wire.encode_varint(seqid & 0xFFFFFFFF)
        want = wire.encode_head(protocol, name, mtype, seqid, strict=strict)
        assert before + seq + after == want


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_encode_call_is_head_then_codec_body(echo: Any, protocol: int) -> None:
    view = service_view(echo.service)
    for name, args, kwargs in (
        ("ping", (), {}),
        ("fail", ("t" * 3000,), {"code": 2}),  # a large string after the codec's fields
        ("fail", ("m",), {"code": -4}),
        ("notify", ("n",), None),
    ):
        method = view[name]
        mtype = wire.MessageType.ONEWAY if method.oneway else wire.MessageType.CALL
        body = method.codec.encode(method.args_cls(*args, **(kwargs or {})), protocol)
        for seqid in (1, 300, -5):
            want = wire.encode_head(protocol, name, mtype, seqid) + body
            assert wire.encode_call(method, protocol, seqid, args, kwargs) == want


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_decode_reply_shortcut_values_errors_and_truncation(echo: Any, protocol: int) -> None:
    view = service_view(echo.service)
    echo_m, fail_m = view["echo"], view["fail"]
    reply = wire.encode_reply(echo_m, protocol, 9, echo_m.result_cls(success="v" * 5000))
    for scanned in (True, False):
        value = wire.decode_reply(echo_m, protocol, reply, 9, scanned=scanned)
        assert (type(value), value) == (str, "v" * 5000)
        # Cut anywhere in the body: a WireError, scanned or not (the C decoder's
        # refill is refused when the scan was skipped).
        head = len(wire.encode_head(protocol, "echo", wire.MessageType.REPLY, 9))
        for cut in (head, head + 1, head + 4, len(reply) - 1):
            with pytest.raises(wire.WireError):
                wire.decode_reply(echo_m, protocol, reply[:cut], 9, scanned=scanned)
    with pytest.raises(wire.ReplyMismatchError):
        wire.decode_reply(echo_m, protocol, reply, 10)
    err = echo.ttypes.EchoError("bad", 7)
    failed = wire.encode_reply(fail_m, protocol, 3, fail_m.result_cls(err=err))
    with pytest.raises(echo.ttypes.EchoError) as raised:
        wire.decode_reply(fail_m, protocol, failed, 3, scanned=True)
    assert (raised.value.message, raised.value.code) == ("bad", 7)


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_args_decoder_is_decode_args_at_every_cut_and_limit(echo: Any, protocol: int) -> None:
    from thriftbuild.wire.calls import args_decoder

    view = service_view(echo.service)
    for name, args in [("echo", ("héllo",)), ("fail", ("m", 7)), ("echo_bytes", (b"x" * 70,))]:
        method = view.methods[name]
        payload = wire.encode_call(method, protocol, 3, args)
        _, body = wire.decode_head(protocol, payload)
        for limits in LIMITS:
            decode = args_decoder(method, protocol, limits)
            for cut in range(body, len(payload) + 1):
                data = payload[:cut] + b"\x00"  # cut short, or one byte past the end
                fast = _outcome(functools.partial(decode, data, body))
                general = _outcome(
                    functools.partial(wire.decode_args, method, protocol, data, body, limits)
                )
                assert fast == general, (name, cut)
        decoded = args_decoder(method, protocol)(payload, body)
        assert tuple(getattr(decoded, param) for param in view.params[name]) == args


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_result_encoder_is_the_codecs_encoding(echo: Any, protocol: int) -> None:
    from thriftbuild.wire.calls import result_encoder
    from thriftbuild.wire.fields import LARGE_STRING

    methods = service_view(echo.service).methods
    values = {
        "echo_bytes": [b"", b"x" * 10, b"y" * LARGE_STRING, "text, not bytes"],
        "echo": ["", "héllo", "z" * (LARGE_STRING + 1)],
        "bump": [0, 2**40],
    }
    for name, cases in values.items():
        method = methods[name]
        assert method.result_cls is not None
        encode = result_encoder(method, protocol)
        for value in cases:
            result = method.result_cls(success=value)
            general = _outcome(functools.partial(method.codec.encode, result, protocol))
            assert _outcome(functools.partial(encode, result)) == general, (name, value)


def _string_struct(layout: tuple[tuple[int, str], ...]) -> type:
    """An Apache-style struct class whose fields are ``(id, "UTF8" | "BINARY")``."""
    from thrift.Thrift import TType

    spec: list[Any] = [None] * (max(fid for fid, _ in layout) + 1)
    names = []
    for fid, kind in layout:
        spec[fid] = (fid, TType.STRING, f"f{fid}", kind, None)
        names.append(f"f{fid}")

    def __init__(self: Any, **values: Any) -> None:
        for name in names:
            setattr(self, name, values.get(name))

    return type("Strings", (), {"thrift_spec": tuple(spec), "__init__": __init__})


def _c_codec(protocol: int) -> Any:
    from thrift.protocol import fastbinary

    return fastbinary.encode_binary if protocol == wire.BINARY else fastbinary.encode_compact


def _python_codec(obj: Any, protocol: int) -> bytes:
    from thrift.protocol.TBinaryProtocol import TBinaryProtocol
    from thrift.protocol.TCompactProtocol import TCompactProtocol
    from thrift.transport.TTransport import TMemoryBuffer

    buf = TMemoryBuffer()
    (TBinaryProtocol if protocol == wire.BINARY else TCompactProtocol)(buf).writeStruct(
        obj, type(obj).thrift_spec
    )
    return bytes(buf.getvalue())


STRING_LAYOUTS = [
    ((1, "BINARY"),),
    ((1, "UTF8"), (2, "BINARY")),
    ((0, "BINARY"), (15, "UTF8"), (16, "BINARY")),  # compact: a delta of 0, 15 and 1
    ((3, "UTF8"), (19, "BINARY"), (300, "UTF8")),  # compact: deltas of 16 and 281
]


def _filled(cls: type, layout: tuple[tuple[int, str], ...]) -> Iterator[Any]:
    """``cls`` objects (see :func:`_string_struct`) with every mix of unset, empty,
    small and large values (70 KB, past every short-length encoding)."""
    texts = [None, "", "snow ☃ é" * 40]
    blobs = [None, b"", bytes(range(256)) * 4, os.urandom(127), os.urandom(128), os.urandom(70_000)]
    choices = [texts if kind == "UTF8" else blobs for _, kind in layout]
    for values in itertools.product(*choices):
        yield cls(**{f"f{fid}": value for (fid, _), value in zip(layout, values, strict=True)})


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
@pytest.mark.parametrize("layout", STRING_LAYOUTS)
def test_encode_string_struct_writes_the_codecs_bytes(
    protocol: int, layout: tuple[tuple[int, str], ...]
) -> None:
    cls = _string_struct(layout)
    fields = wire.only_string_fields(cls)
    assert fields is not None
    for obj in _filled(cls, layout):
        parts = wire.encode_string_struct(obj, fields, protocol)
        assert parts is not None
        got = b"".join(parts)
        assert got == _c_codec(protocol)(obj, [cls, cls.thrift_spec])
        assert got == _python_codec(obj, protocol)


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_encode_string_struct_leaves_other_value_types_to_the_codec(protocol: int) -> None:
    # A value of another type than its field declares is the C codec's to encode (or
    # refuse): it accepts str for binary and bytes for string, refuses the others.
    cls = _string_struct(((1, "UTF8"), (2, "BINARY")))
    fields = wire.only_string_fields(cls)
    assert fields is not None

    class Text(str):
        pass

    for f1, f2 in [
        (b"bytes", None),
        (None, "text"),
        (None, bytearray(b"ab")),
        (None, memoryview(b"ab")),
        (Text("sub"), None),
        (7, None),
    ]:
        assert wire.encode_string_struct(cls(f1=f1, f2=f2), fields, protocol) is None
    assert wire.encode_string_struct(cls(f1="a"), fields, 7) is None  # no such protocol


def test_only_string_fields(echo: Any) -> None:
    service = echo.service
    assert wire.only_string_fields(service.echo_bytes_args) == ((1, "data", False),)
    assert wire.only_string_fields(service.echo_args) == ((1, "text", True),)
    assert wire.only_string_fields(service.echo_bytes_result) == ((0, "success", False),)
    assert wire.only_string_fields(service.fail_args) is None  # also an i32
    assert wire.only_string_fields(service.ping_args) is None  # no field at all
    assert wire.only_string_fields(service.sleep_args) is None
    assert wire.only_string_fields(int) is None  # not a generated struct


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_encode_call_of_string_only_arguments_is_the_codecs_bytes(echo: Any, protocol: int) -> None:
    view = service_view(echo.service)
    for name, args in (
        ("echo_bytes", (b"",)),
        ("echo_bytes", (os.urandom(1024),)),
        ("echo_bytes", ("é",)),  # str for binary: the C codec's UTF-8
        ("echo", ("snow ☃",)),
        ("echo", (b"raw",)),  # bytes for string: the C codec writes them as they are
        ("echo", (None,)),
        ("notify", ("n" * 3000,)),  # oneway
    ):
        method = view[name]
        mtype = wire.MessageType.ONEWAY if method.oneway else wire.MessageType.CALL
        obj = method.args_cls(*args)
        body = _c_codec(protocol)(obj, [method.args_cls, method.args_cls.thrift_spec])
        want = wire.encode_head(protocol, name, mtype, 77) + body
        assert wire.encode_call(method, protocol, 77, args) == want
    with pytest.raises(TypeError):
        wire.encode_call(view["echo_bytes"], protocol, 1, (bytearray(b"x"),))


def _c_decode(cls: type, data: bytes, protocol: int, limits: wire.Limits) -> Any:
    """What ``decode_from`` gave before the string-struct reader: scan, then C."""
    from thrift.protocol import fastbinary

    from thriftbuild.wire.calls import _decode_c

    decode = fastbinary.decode_binary if protocol == wire.BINARY else fastbinary.decode_compact
    return _decode_c(decode, cls, [cls, cls.thrift_spec], data, 0, protocol=protocol, limits=limits)


def _fields_of(obj: Any) -> list[tuple[str, type, Any]]:
    """Every attribute with its type: a str where bytes belong must not compare equal."""
    return sorted((name, type(value), value) for name, value in vars(obj).items())


def _decoded(run: Callable[[], Any]) -> tuple[str, Any]:
    kind, value = _outcome(run)
    return (kind, _fields_of(value)) if kind == "value" else (kind, value)


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
@pytest.mark.parametrize("layout", STRING_LAYOUTS)
def test_string_struct_reader_reads_what_the_c_decoder_reads(
    protocol: int, layout: tuple[tuple[int, str], ...]
) -> None:
    cls = _string_struct(layout)
    fields = wire.string_field_ids(cls)
    assert fields is not None
    for obj in _filled(cls, layout):
        data = _c_codec(protocol)(obj, [cls, cls.thrift_spec]) + b"trailing"
        fast = wire.decode_string_struct(cls, fields, data, 0, protocol, 1 << 20)
        assert fast is not None
        assert _fields_of(fast) == _fields_of(obj)
        assert _fields_of(fast) == _fields_of(_c_decode(cls, data, protocol, wire.DEFAULT_LIMITS))


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_string_struct_reader_skips_unknown_ids_and_keeps_the_last_repeat(protocol: int) -> None:
    cls = _string_struct(((2, "BINARY"),))
    fields = wire.string_field_ids(cls)
    assert fields is not None
    data = b"".join(
        wire.string_field_head(protocol, fid, len(value)) + value
        for fid, value in ((1, b"a"), (2, b"first"), (40, b"x"), (2, b"second"))
    )
    data += wire.STRUCT_STOP
    fast = wire.decode_string_struct(cls, fields, data, 0, protocol, 1 << 20)
    assert fast is not None and vars(fast) == {"f2": b"second"}
    assert vars(_c_decode(cls, data, protocol, wire.DEFAULT_LIMITS)) == vars(fast)


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_string_struct_reader_leaves_anything_else_to_the_c_decoder(protocol: int) -> None:
    cls = _string_struct(((1, "UTF8"), (2, "BINARY")))
    fields = wire.string_field_ids(cls)
    assert fields is not None
    good = _c_codec(protocol)(cls(f1="é", f2=b"xyz"), [cls, cls.thrift_spec])
    i32_field = _c_codec(protocol)(_i32_struct(5), [_I32Struct, _I32Struct.thrift_spec])
    not_utf8 = good.replace("é".encode(), b"\xff\xfe")
    cases = [
        good[:cut]
        for cut in range(len(good))  # no stop byte yet
    ] + [i32_field, not_utf8]
    for data in cases:
        assert wire.decode_string_struct(cls, fields, data, 0, protocol, 1 << 20) is None
    # over max_string: refused before anything is copied
    assert wire.decode_string_struct(cls, fields, good, 0, protocol, 2) is None
    assert wire.decode_string_struct(cls, fields, good, 0, 99, 1 << 20) is None  # no such protocol


class _I32Struct:
    from thrift.Thrift import TType

    thrift_spec = (None, (1, TType.I32, "f1", None, None))

    def __init__(self, f1: Any = None) -> None:
        self.f1 = f1


def _i32_struct(value: int) -> _I32Struct:
    return _I32Struct(value)


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
@FAST
@given(data=st.data())
def test_decode_from_of_a_string_struct_matches_the_c_decoder_on_any_bytes(
    protocol: int, data: st.DataObject
) -> None:
    cls = _string_struct(((1, "UTF8"), (2, "BINARY"), (17, "UTF8")))
    limits = data.draw(st.sampled_from(LIMITS))
    valid = _c_codec(protocol)(
        cls(f1=data.draw(st.text(max_size=70)), f2=data.draw(st.binary(max_size=70))),
        [cls, cls.thrift_spec],
    )
    raw = bytearray(valid)
    for _ in range(data.draw(st.integers(0, 3))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    blob = data.draw(st.one_of(st.just(bytes(raw)), st.binary(max_size=40)))
    codec = wire.calls.APACHE._get()
    fast = _decoded(functools.partial(codec.decode_from, cls, blob, 0, protocol, limits))
    assert fast == _decoded(functools.partial(_c_decode, cls, blob, protocol, limits))


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_encode_string_value_writes_the_codecs_bytes(protocol: int) -> None:
    for fid in (0, 1, 15, 16, 300):
        for kind, value in (("UTF8", "snow ☃"), ("BINARY", os.urandom(300)), ("BINARY", b"")):
            cls = _string_struct(((fid, kind),))
            want = _c_codec(protocol)(cls(**{f"f{fid}": value}), [cls, cls.thrift_spec])
            assert wire.encode_string_value(protocol, fid, value, kind == "UTF8") == want
    for value, text in ((b"bytes", True), ("text", False), (bytearray(b"x"), False), (7, True)):
        assert wire.encode_string_value(protocol, 0, value, text) is None


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_success_encoder_is_the_result_encoder_of_string_results(echo: Any, protocol: int) -> None:
    from thriftbuild.wire.calls import result_encoder, success_encoder

    methods = service_view(echo.service).methods
    for name, value in (("echo_bytes", os.urandom(1024)), ("echo", "héllo"), ("echo", "")):
        method = methods[name]
        assert method.result_cls is not None
        encode = success_encoder(method, protocol)
        assert encode is not None
        assert encode(value) == result_encoder(method, protocol)(method.result_cls(success=value))
        assert encode(12) is None  # not the declared type: the result encoder reports it
    for name in ("fail", "bump", "ping"):  # declared exceptions, an i64, void
        assert success_encoder(methods[name], protocol) is None
    assert success_encoder(methods["echo"], 99) is None  # no such protocol
