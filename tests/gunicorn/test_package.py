"""The package surface: lazy worker classes, and factory names read as dialects."""

from __future__ import annotations

import subprocess
import sys

import pytest
from thrift.protocol.TBinaryProtocol import TBinaryProtocolFactory

import thriftbuild.gunicorn
from tests.conftest import REPO
from thriftbuild import wire
from thriftbuild.gunicorn.factories import dialect_for, resolve_name


def test_worker_classes_resolve_and_gevent_is_imported_only_for_its_workers() -> None:
    for name in thriftbuild.gunicorn.__all__:
        assert getattr(thriftbuild.gunicorn, name).__name__ == name
    code = "import sys, thriftbuild.gunicorn.app; print('gevent' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("transport", "protocol", "expected"),
    [
        (
            "thrift.transport.TTransport:TBufferedTransportFactory",
            "thrift.protocol.TBinaryProtocol:TBinaryProtocolAcceleratedFactory",
            wire.Dialect(wire.Framing.UNFRAMED, wire.BINARY),
        ),
        (
            "thriftpy.transport:TCyFramedTransportFactory",
            "thriftpy.protocol:TCompactProtocolFactory",
            wire.Dialect(wire.Framing.FRAMED, wire.COMPACT),
        ),
        (
            "thriftpy2.transport:TCyBufferedTransportFactory",
            "thriftpy2.protocol:TCyBinaryProtocolFactory",
            wire.Dialect(wire.Framing.UNFRAMED, wire.BINARY),
        ),
        (
            "thrift.transport.TTransport:TBufferedTransportFactory",
            "thrift.protocol.THeaderProtocol:THeaderProtocolFactory",
            None,  # every dialect
        ),
        (  # not in the table: recognised through its base class
            "thriftpy2.transport.framed:TFramedTransportFactory",
            "tests.gunicorn.test_package:CustomBinary",
            wire.Dialect(wire.Framing.FRAMED, wire.BINARY),
        ),
    ],
)
def test_factory_names_map_to_dialects(transport: str, protocol: str, expected: object) -> None:
    assert dialect_for(transport, protocol) == expected


def test_unknown_or_unsupported_factories_are_refused_by_name() -> None:
    assert resolve_name("thriftpy.protocol:X") == "thriftpy2.protocol:X"
    with pytest.raises(ValueError, match="no_such_module"):
        dialect_for("no_such_module:F", "thriftpy2.protocol:TBinaryProtocolFactory")
    with pytest.raises(ValueError, match="TJSONProtocolFactory' is not supported"):
        dialect_for(
            "thrift.transport.TTransport:TBufferedTransportFactory",
            "thrift.protocol.TJSONProtocol:TJSONProtocolFactory",
        )
    with pytest.raises(ValueError, match="module:Factory"):
        resolve_name("TBinaryProtocolFactory")


class CustomBinary(TBinaryProtocolFactory):  # type: ignore[misc]
    """A user's own factory deriving from a supported one."""
