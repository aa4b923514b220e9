"""The accelerated protocols really run thrift's C codec through generated code.

``TBinaryProtocolAccelerated`` and ``TCompactProtocolAccelerated`` fall back to the
pure-Python codec without a word when ``thrift.protocol.fastbinary`` is missing or when
a generated ``read``/``write`` skips its fast path. The C codec is told apart by what
it does with values the pure-Python one treats differently: an ``i32`` field holding
2**31 and a list with a negative size raise ``OverflowError`` only in C, and a compact
``i32`` varint longer than five bytes is rejected only in C.
"""

from __future__ import annotations

import importlib
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.protocol.TCompactProtocol import writeVarint
from thrift.transport import TTransport

from tests._thrift_values import decode, encode
from thriftbuild.codegen.generate import generate_to_directory
from thriftbuild.codegen.model import GeneratorOptions

IDL = """\
struct Point {
  1: i32 x
  2: list<i32> xs
}
exception Oops {
  1: i32 x
  2: list<i32> xs
}
"""

BINARY = (
    TBinaryProtocol.TBinaryProtocolFactory(),
    TBinaryProtocol.TBinaryProtocolAcceleratedFactory(),
)
COMPACT = (
    TCompactProtocol.TCompactProtocolFactory(),
    TCompactProtocol.TCompactProtocolAcceleratedFactory(),
)

#: Field 2 (list<i32>) of size -1 under the binary protocol, then STOP.
NEGATIVE_LIST = b"\x0f\x00\x02\x08" + struct.pack("!i", -1) + b"\x00"
#: Field 1 (i32) as a compact varint of 2**40 (zigzag), then STOP.
_buffer = TTransport.TMemoryBuffer()
_buffer.write(b"\x15")
writeVarint(_buffer, (2**40) << 1)
_buffer.write(b"\x00")
LONG_VARINT = _buffer.getvalue()


@pytest.fixture(params=["compiler", "python"])
def ttypes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModuleType]:
    """``fast_thrift.ttypes`` from one backend (slots, the default); forgotten afterwards."""
    if request.param == "compiler":
        request.getfixturevalue("compiler")  # skips locally, fails in CI, when missing
    (tmp_path / "fast.thrift").write_text(IDL)
    out = tmp_path / "out"
    generate_to_directory(
        [tmp_path / "fast.thrift"],
        out,
        backend=request.param,
        options=GeneratorOptions(("slots",)),
    )
    sys.path.insert(0, str(out))
    importlib.invalidate_caches()  # a runner may have imported another fast_thrift before
    try:
        yield importlib.import_module("fast_thrift.ttypes")
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n.split(".")[0] == "fast_thrift"]:
            del sys.modules[name]


@pytest.mark.parametrize("name", ["Point", "Oops"])
def test_fast_codec_accelerated_write_runs_c(ttypes: ModuleType, name: str) -> None:
    cls = getattr(ttypes, name)
    for plain, accelerated in (BINARY, COMPACT):
        with pytest.raises(OverflowError, match="int out of range"):
            encode(cls(x=2**31), accelerated)
        with pytest.raises((struct.error, TCompactProtocol.TProtocolException)) as plain_error:
            encode(cls(x=2**31), plain)
        assert not isinstance(plain_error.value, OverflowError)
        # An in-range value still encodes to the same bytes on both paths.
        assert encode(cls(x=7, xs=[1, -2]), accelerated) == encode(cls(x=7, xs=[1, -2]), plain)


@pytest.mark.parametrize("name", ["Point", "Oops"])
def test_fast_codec_accelerated_read_runs_c(ttypes: ModuleType, name: str) -> None:
    cls = getattr(ttypes, name)
    plain, accelerated = BINARY
    with pytest.raises(OverflowError, match="negative length"):
        decode(cls, accelerated.getProtocol(TTransport.TMemoryBuffer(NEGATIVE_LIST)))
    with pytest.raises(TTransport.TTransportException, match="Negative length"):
        decode(cls, plain.getProtocol(TTransport.TMemoryBuffer(NEGATIVE_LIST)))

    plain, accelerated = COMPACT
    with pytest.raises(OverflowError, match="varint exceeded 5 bytes"):
        decode(cls, accelerated.getProtocol(TTransport.TMemoryBuffer(LONG_VARINT)))
    assert decode(cls, plain.getProtocol(TTransport.TMemoryBuffer(LONG_VARINT))).x == 2**40
