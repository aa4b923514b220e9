"""What the wire core's errors say: the limit, the length and the part of the message.

A user who hits a limit reads ``err.limit`` to know which field of ``Limits`` to raise,
and the message to know what was too long; malformed input is refused with a message
naming the fault. Each case here is one a mutation run found unchecked.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest

from thriftbuild import wire
from thriftbuild.service import service_view

SMALL = wire.Limits(max_frame=256, max_string=64, max_container=16, max_depth=8)


def _over(raised: pytest.ExceptionInfo[wire.LimitExceededError], limit: str, what: str) -> None:
    err = raised.value
    assert (err.limit, err.what) == (limit, what)
    assert err.value > err.maximum
    assert str(err) == f"{what} of {err.value} exceeds {limit}={err.maximum}"


def test_frame_over_max_frame_names_the_limit() -> None:
    with pytest.raises(wire.LimitExceededError) as raised:
        wire.encode_framed(b"x" * 300, SMALL)
    _over(raised, "max_frame", "frame size")
    assert (raised.value.value, raised.value.maximum) == (300, 256)


def _binary_strings(count: int, size: int) -> bytes:
    head = wire.encode_head(wire.BINARY, "echo", wire.MessageType.REPLY, 1)
    fields = b"".join(b"\x0b" + struct.pack("!hi", i, size) + b"s" * size for i in range(count))
    return head + fields + b"\x00"


def test_unframed_message_over_max_frame_names_the_limit() -> None:
    message = _binary_strings(5, 60)  # each string within max_string, the whole over max_frame
    assert len(message) > SMALL.max_frame
    with pytest.raises(wire.LimitExceededError) as whole:
        wire.UnframedDecoder(wire.BINARY, SMALL).feed(message)
    _over(whole, "max_frame", "unframed message size")
    with pytest.raises(wire.LimitExceededError) as partial:  # its end not received yet
        wire.UnframedDecoder(wire.BINARY, SMALL).feed(message[:-2])
    _over(partial, "max_frame", "unframed message size")


def test_theader_block_over_its_maximum_is_refused_naming_it() -> None:
    with pytest.raises(wire.LimitExceededError) as raised:
        wire.encode_header_frame(b"", wire.COMPACT, block=b"\x00" * 0x40000)
    _over(raised, "max_frame", "THeader header block")
    assert raised.value.maximum == 0x3FFFC


def _header_frame(block: bytes, payload: bytes = b"") -> bytes:
    """A THeader frame (after its length prefix) with ``block`` as its header block."""
    assert len(block) % 4 == 0
    return struct.pack("!HHiH", 0x0FFF, 0, 1, len(block) // 4) + block + payload


def test_theader_header_string_over_max_string_names_the_field() -> None:
    # protocol 2, no transforms, one key/value info of 1 pair, key length 100
    block = b"\x02\x00\x01\x01" + wire.encode_varint(100) + b"k" * 100 + b"\x00\x00"
    block += b"\x00" * (-len(block) % 4)
    with pytest.raises(wire.LimitExceededError) as raised:
        wire.parse_header_frame(_header_frame(block), SMALL)
    _over(raised, "max_string", "THeader header length")


def test_theader_headers_past_their_block_are_refused() -> None:
    # A pair count whose (non-canonical) varint ends in the payload, after the block.
    frame = _header_frame(b"\x02\x00\x01\x80", payload=b"\x00rest")
    with pytest.raises(wire.WireError, match=r"^THeader headers run past their block$"):
        wire.parse_header_frame(frame)


def test_theader_protocol_id_varint_is_at_most_five_bytes() -> None:
    five = _header_frame(b"\x82\x80\x80\x80\x00\x00\x00\x00")  # protocol 2 in five bytes
    assert wire.parse_header_frame(five).protocol == 2
    six = _header_frame(b"\x80\x80\x80\x80\x80\x00\x00\x00")  # protocol 0 in six bytes
    with pytest.raises(wire.WireError, match="varint longer than 5 bytes"):
        wire.parse_header_frame(six)


def test_inflated_payload_over_max_frame_names_the_limit_and_length() -> None:
    frame = _header_frame(b"\x02\x01\x01\x00", zlib.compress(b"\x00" * 1000))
    with pytest.raises(wire.LimitExceededError) as raised:
        wire.parse_header_frame(frame, SMALL)
    _over(raised, "max_frame", "decompressed payload")
    assert raised.value.maximum == SMALL.max_frame


def test_unknown_protocol_id_is_named() -> None:
    with pytest.raises(ValueError, match=r"^unknown protocol id 99$"):
        wire.decode_head(99, b"\x00" * 16)


def test_negative_method_name_length_is_named() -> None:
    strict = struct.pack("!Ii", 0x80010002, -5) + b"\x00" * 12
    with pytest.raises(wire.WireError, match=r"^negative method name length -5$"):
        wire.decode_head(wire.BINARY, strict)


def test_non_strict_binary_head_with_an_empty_name_decodes() -> None:
    # Old (non-strict) binary: name length 0, no name, type REPLY, seqid 7.
    head, pos = wire.decode_head(wire.BINARY, struct.pack("!iBi", 0, 2, 7) + b"\x00")
    assert (head.name, head.type, head.seqid, pos) == ("", wire.MessageType.REPLY, 7, 9)


def test_decode_reply_applies_its_limits_to_the_method_name(echo: Any) -> None:
    """A reply naming a method longer than max_string fails on the limit, not as a mismatch."""
    method = service_view(echo.service)["echo"]
    for protocol in (wire.BINARY, wire.COMPACT):
        reply = wire.encode_head(protocol, "e" * 100, wire.MessageType.REPLY, 1) + b"\x00"
        with pytest.raises(wire.LimitExceededError) as raised:
            wire.decode_reply(method, protocol, reply, 1, SMALL)
        assert raised.value.limit == "max_string"


def test_frame_declared_over_max_frame_is_refused_naming_it() -> None:
    with pytest.raises(wire.LimitExceededError) as raised:
        wire.FramedDecoder(wire.BINARY, SMALL).feed(struct.pack("!i", 300) + b"\x00" * 8)
    _over(raised, "max_frame", "frame size")


def test_theader_frame_shorter_than_its_fixed_part_is_named() -> None:
    with pytest.raises(wire.WireError, match=r"^THeader frame of 6 bytes is shorter than"):
        wire.parse_header_frame(b"\x0f\xff\x00\x00\x00\x01")


@pytest.mark.parametrize("seqid", [-1, -(2**31), 2**31 - 1, 0])
def test_compact_sequence_ids_are_signed_32_bit(seqid: int) -> None:
    # The compact head carries the sequence id as an unsigned 32-bit varint.
    unsigned = wire.encode_varint(seqid & 0xFFFFFFFF)
    head = b"\x82" + bytes([0x21]) + unsigned + b"\x01m"  # CALL, version 1, name "m"
    assert wire.encode_head(wire.COMPACT, "m", wire.MessageType.CALL, seqid) == head
    decoded, _ = wire.decode_head(wire.COMPACT, head)
    assert (decoded.name, decoded.seqid) == ("m", seqid)


def test_a_class_first_seen_when_decoding_is_decoded(echo: Any) -> None:
    """The codec's per-class plan is made on first use, by a decode as well as an encode."""
    from thrift.protocol.TBinaryProtocol import TBinaryProtocol
    from thrift.transport.TTransport import TMemoryBuffer

    fresh = type("FreshEchoArgs", (echo.service.echo_args,), {})
    buf = TMemoryBuffer()
    echo.service.echo_args(text="é" * 3).write(TBinaryProtocol(buf))
    decoded = wire.APACHE.decode(fresh, buf.getvalue(), wire.BINARY, wire.DEFAULT_LIMITS)
    assert type(decoded) is fresh
    assert (decoded.text, type(decoded.text)) == ("é" * 3, str)
