"""Apache Thrift's own transports and protocols over in-memory bytes (no sockets)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from thrift.protocol.TBinaryProtocol import TBinaryProtocol
from thrift.protocol.TCompactProtocol import TCompactProtocol
from thrift.protocol.THeaderProtocol import THeaderProtocol
from thrift.transport.THeaderTransport import (
    THeaderClientType,
    THeaderSubprotocolID,
    THeaderTransformID,
)
from thrift.transport.TTransport import TBufferedTransport, TFramedTransport, TTransportBase

from thriftbuild import wire

ALL_CLIENT_TYPES = (
    THeaderClientType.HEADERS,
    THeaderClientType.FRAMED_BINARY,
    THeaderClientType.UNFRAMED_BINARY,
    THeaderClientType.FRAMED_COMPACT,
    THeaderClientType.UNFRAMED_COMPACT,
)

# name -> (our dialect, THeader zlib transform on)
DIALECTS = {
    "header-compact": (wire.Dialect(wire.Framing.HEADER, wire.COMPACT), False),
    "header-binary": (wire.Dialect(wire.Framing.HEADER, wire.BINARY), False),
    "header-compact-zlib": (wire.Dialect(wire.Framing.HEADER, wire.COMPACT), True),
    "header-binary-zlib": (wire.Dialect(wire.Framing.HEADER, wire.BINARY), True),
    "framed-binary": (wire.Dialect(wire.Framing.FRAMED, wire.BINARY), False),
    "framed-compact": (wire.Dialect(wire.Framing.FRAMED, wire.COMPACT), False),
    "unframed-binary": (wire.Dialect(wire.Framing.UNFRAMED, wire.BINARY), False),
    "unframed-compact": (wire.Dialect(wire.Framing.UNFRAMED, wire.COMPACT), False),
}


class Duplex(TTransportBase):  # type: ignore[misc]
    """Reads from given bytes, collects what is written."""

    def __init__(self, data: bytes = b"") -> None:
        self.input = BytesIO(data)
        self.output = BytesIO()

    def isOpen(self) -> bool:
        return True

    def read(self, sz: int) -> bytes:
        return self.input.read(sz)

    def write(self, buf: bytes) -> None:
        self.output.write(buf)

    def flush(self) -> None:
        pass

    def written(self) -> bytes:
        return self.output.getvalue()


def server_protocol(duplex: Duplex) -> Any:
    """Apache's THeader server protocol: answers every client type in its own dialect."""
    return THeaderProtocol(duplex, ALL_CLIENT_TYPES)


def client_protocol(name: str, duplex: Duplex) -> Any:
    """Apache's client protocol speaking the dialect called ``name``."""
    dialect, zlib = DIALECTS[name]
    if dialect.framing == wire.Framing.HEADER:
        sub = (
            THeaderSubprotocolID.COMPACT
            if dialect.protocol == wire.COMPACT
            else THeaderSubprotocolID.BINARY
        )
        prot = THeaderProtocol(duplex, ALL_CLIENT_TYPES, default_protocol=sub)
        if zlib:
            prot.trans.add_transform(THeaderTransformID.ZLIB)
        return prot
    trans = TFramedTransport(duplex) if dialect.framing == wire.Framing.FRAMED else duplex
    if dialect.framing == wire.Framing.UNFRAMED:
        trans = TBufferedTransport(duplex)
    cls = TCompactProtocol if dialect.protocol == wire.COMPACT else TBinaryProtocol
    return cls(trans)
