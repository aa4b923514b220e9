"""Every decoder under hostile input: random, truncated, split and corrupted bytes.

Only :class:`~thriftbuild.wire.WireError` may escape, a decoder never holds more
than one frame's worth of bytes (the limits), and a declared length over a limit
fails before anything of that size is allocated.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thriftbuild import wire
from thriftbuild.service import service_view

SMALL = wire.Limits(max_frame=256, max_string=64, max_container=16, max_depth=8)
DECODERS: dict[str, Callable[[wire.Limits], Any]] = {
    "framed-binary": lambda limits: wire.FramedDecoder(wire.BINARY, limits),
    "framed-compact": lambda limits: wire.FramedDecoder(wire.COMPACT, limits),
    "header": lambda limits: wire.HeaderDecoder(wire.COMPACT, limits),
    "unframed-binary": lambda limits: wire.UnframedDecoder(wire.BINARY, limits),
    "unframed-compact": lambda limits: wire.UnframedDecoder(wire.COMPACT, limits),
    "auto": lambda limits: wire.AutoDecoder(limits),
}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _messages(echo: Any) -> dict[str, bytes]:
    """One valid stream (two messages) per decoder, including containers and strings."""
    view = service_view(echo.service)
    out = {}
    for name in DECODERS:
        protocol = wire.COMPACT if "compact" in name or name == "header" else wire.BINARY
        calls = [
            wire.encode_call(view["echo"], protocol, 1, ("x" * 40,)),
            wire.encode_call(view["fail"], protocol, 2, ("m", -5)),
        ]
        if name.startswith("framed"):
            out[name] = b"".join(wire.encode_framed(c) for c in calls)
        elif name in ("header", "auto"):
            out[name] = b"".join(
                wire.encode_header_frame(c, protocol, headers={b"k": b"v"}, zlib=i == 1)
                for i, c in enumerate(calls)
            )
        else:
            out[name] = b"".join(calls)
    return out


def _feed_all(decoder: Any, chunks: list[bytes]) -> list[wire.Frame]:
    frames: list[wire.Frame] = []
    for chunk in chunks:
        frames += decoder.feed(chunk)
        # Never more than one frame (plus its length prefix) held between messages.
        assert decoder.buffered <= SMALL.max_frame + 4 + len(chunk)
    return frames


@pytest.mark.parametrize("name", sorted(DECODERS))
@FAST
@given(data=st.lists(st.binary(max_size=64), max_size=12))
def test_random_bytes_only_wire_errors(name: str, data: list[bytes]) -> None:
    decoder = DECODERS[name](SMALL)
    with contextlib.suppress(wire.WireError):
        _feed_all(decoder, data)


@pytest.mark.parametrize("name", sorted(DECODERS))
@FAST
@given(data=st.data())
def test_split_anywhere_same_messages_and_prefixes_never_complete_early(
    echo: Any, name: str, data: Any
) -> None:
    stream = _messages(echo)[name]
    whole = DECODERS[name](wire.DEFAULT_LIMITS).feed(stream)
    assert len(whole) == 2
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1), max_size=8)))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    decoder = DECODERS[name](wire.DEFAULT_LIMITS)
    frames = []
    for chunk in chunks:
        frames += decoder.feed(chunk)
    assert frames == whole
    # Any truncation yields fewer messages and no error.
    cut = data.draw(st.integers(0, len(stream) - 1))
    assert len(DECODERS[name](wire.DEFAULT_LIMITS).feed(stream[:cut])) < 2


@pytest.mark.parametrize("name", sorted(DECODERS))
@FAST
@given(data=st.data())
def test_corrupted_valid_stream_only_wire_errors(echo: Any, name: str, data: Any) -> None:
    stream = bytearray(_messages(echo)[name])
    for _ in range(data.draw(st.integers(1, 4))):
        stream[data.draw(st.integers(0, len(stream) - 1))] = data.draw(st.integers(0, 255))
    view = service_view(echo.service)
    try:
        for frame in DECODERS[name](SMALL).feed(bytes(stream)):
            head, body = wire.decode_head(frame.protocol, frame.payload, SMALL)
            if head.name in view:
                wire.decode_args(view[head.name], frame.protocol, frame.payload, body, SMALL)
    except wire.WireError:
        pass


@FAST
@given(payload=st.binary(max_size=300), seqid=st.integers(-(2**31), 2**31 - 1))
def test_decode_reply_and_head_on_garbage_only_wire_errors(
    echo: Any, payload: bytes, seqid: int
) -> None:
    method = service_view(echo.service)["echo"]
    for protocol in (wire.BINARY, wire.COMPACT):
        try:
            wire.decode_reply(method, protocol, payload, seqid, SMALL)
        except (wire.WireError, echo.ttypes.EchoError):
            pass
        except Exception as exc:  # an application exception decoded from the garbage
            assert type(exc).__name__ == "TApplicationException"
    for parse in (wire.parse_header_frame, wire.detect):
        with contextlib.suppress(wire.WireError):
            parse(payload, SMALL)
    with contextlib.suppress(wire.WireError):
        wire.inflate(payload, 64)


def test_framed_length_over_limit_fails_on_the_prefix_alone() -> None:
    for decoder in (wire.FramedDecoder(wire.BINARY), wire.HeaderDecoder(wire.BINARY)):
        with pytest.raises(wire.LimitExceededError) as raised:
            decoder.feed(struct.pack("!i", 2**31 - 1))
        assert raised.value.limit == "max_frame"
        assert raised.value.maximum == 16_384_000


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_unframed_string_over_limit_fails_on_its_length(protocol: int) -> None:
    head = wire.encode_head(protocol, "echo", wire.MessageType.REPLY, 1)
    if protocol == wire.BINARY:  # field 0: string, length 2 GiB - 1
        field = b"\x0b\x00\x00" + struct.pack("!i", 2**31 - 1)
    else:  # field 0 (no delta): binary, varint length 2 GiB - 1
        field = b"\x08\x00" + wire.encode_varint(2**31 - 1)
    with pytest.raises(wire.LimitExceededError) as raised:
        wire.UnframedDecoder(protocol).feed(head + field)
    assert raised.value.limit == "max_string"


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_container_and_depth_over_limits_fail(protocol: int) -> None:
    head = wire.encode_head(protocol, "echo", wire.MessageType.REPLY, 1)
    if protocol == wire.BINARY:  # field 0: list<i32> of 10**9 items
        body = b"\x0f\x00\x00\x08" + struct.pack("!i", 10**9)
        nested = b"\x0c\x00\x01" * 100
    else:
        body = b"\x09\x00\xf5" + wire.encode_varint(10**9)
        nested = b"\x1c" * 100
    with pytest.raises(wire.LimitExceededError) as raised:
        wire.UnframedDecoder(protocol).feed(head + body)
    assert raised.value.limit == "max_container"
    with pytest.raises(wire.LimitExceededError) as deep:
        wire.UnframedDecoder(protocol).feed(head + nested)
    assert deep.value.limit == "max_depth"


def test_zlib_bomb_is_refused_within_bounded_memory() -> None:
    bomb = zlib.compress(b"\x00" * 200_000_000, 9)  # ~200 KB that inflate to 200 MB
    frame = struct.pack("!iHHiH", 10 + 4 + len(bomb), 0x0FFF, 0, 0, 1) + b"\x00\x01\x01\x00" + bomb
    tracemalloc.start()
    try:
        with pytest.raises(wire.LimitExceededError) as raised:
            wire.HeaderDecoder(wire.BINARY).feed(frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert raised.value.limit == "max_frame"
    assert peak < 3 * wire.DEFAULT_LIMITS.max_frame + 4 * len(frame)


def test_limits_validate_and_pickle_errors() -> None:
    import pickle

    with pytest.raises(ValueError, match="max_frame"):
        wire.Limits(max_frame=0)
    for error in (
        wire.LimitExceededError("max_string", 10, 5, "string length"),
        wire.ReplyMismatchError("a", 1, "b", 2),
        wire.WireError("x"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert (type(copy), str(copy)) == (type(error), str(error))


def test_unframed_binary_need_is_exact_at_every_head_field() -> None:
    """``need`` asks for exactly the next head field, so a reader never blocks past a message."""
    name = b"ping"
    strict = wire.encode_head(wire.BINARY, "ping", wire.MessageType.CALL, 7)
    # version word | name length | name | seqid: each prefix needs exactly the next field
    for cut, need in ((4, 4), (8, len(name)), (8 + len(name), 4)):
        decoder = wire.UnframedDecoder(wire.BINARY)
        assert decoder.feed(strict[:cut]) == []
        assert decoder.need == need, cut
    old = struct.pack("!i", len(name)) + name + b"\x01" + struct.pack("!i", 7)  # non-strict head
    for cut, need in ((4, len(name)), (4 + len(name), 1), (5 + len(name), 4)):
        decoder = wire.UnframedDecoder(wire.BINARY)
        assert decoder.feed(old[:cut]) == []
        assert decoder.need == need, cut


def _header_frame_with_key_length(length_varint: bytes) -> bytes:
    block = bytearray(b"\x02\x00\x01\x01" + length_varint + b"k\x01v")
    block += b"\x00" * (-len(block) % 4)
    frame = wire.encode_header_frame(b"", wire.COMPACT, block=bytes(block))
    return frame[4:]  # parse_header_frame takes the bytes after the length prefix


def test_theader_string_length_varint_is_at_most_five_bytes() -> None:
    # A 32-bit length fits 5 varint bytes; a non-canonical 5-byte 1 is still a length...
    five = wire.parse_header_frame(_header_frame_with_key_length(b"\x81\x80\x80\x80\x00"))
    assert five.headers == {b"k": b"v"}
    # ...but a sixth byte is malformed input, refused before any length is used.
    with pytest.raises(wire.WireError, match="varint longer than 5 bytes"):
        wire.parse_header_frame(_header_frame_with_key_length(b"\x81\x80\x80\x80\x80\x00"))
