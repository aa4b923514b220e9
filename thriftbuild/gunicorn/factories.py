"""gunicorn_thrift's transport and protocol factory settings, read as a wire dialect.

gunicorn_thrift handed every connection to the factories it was configured with
(``module:Factory``). thriftbuild's workers decode requests with the sans-I/O
wire core instead, so a factory setting only says which *dialect* the port
speaks: its framing (buffered = unframed, framed) and its protocol (binary,
compact). Apache's ``THeaderProtocolFactory`` accepts every dialect, as its
``THeaderTransport`` does. Names under ``thriftpy.`` mean ``thriftpy2.``.

Known factories are recognised by name, without importing them (a thriftpy
setting keeps working where thriftpy2 is not installed); any other name is
imported and recognised through its base classes.
"""

from __future__ import annotations

import importlib
from typing import Any

from thriftbuild import wire

__all__ = ["AUTO", "dialect_for", "resolve_name"]

#: The value :func:`dialect_for` returns for "detect each connection's dialect".
AUTO = None

_TRANSPORTS: dict[str, wire.Framing] = {
    "thrift.transport.TTransport:TBufferedTransportFactory": wire.Framing.UNFRAMED,
    "thrift.transport.TTransport:TTransportFactoryBase": wire.Framing.UNFRAMED,
    "thrift.transport.TTransport:TFramedTransportFactory": wire.Framing.FRAMED,
    "thriftpy2.transport:TBufferedTransportFactory": wire.Framing.UNFRAMED,
    "thriftpy2.transport:TCyBufferedTransportFactory": wire.Framing.UNFRAMED,
    "thriftpy2.transport:TFramedTransportFactory": wire.Framing.FRAMED,
    "thriftpy2.transport:TCyFramedTransportFactory": wire.Framing.FRAMED,
    "thriftpy2.transport.buffered:TBufferedTransportFactory": wire.Framing.UNFRAMED,
    "thriftpy2.transport.framed:TFramedTransportFactory": wire.Framing.FRAMED,
}

_PROTOCOLS: dict[str, int | None] = {
    "thrift.protocol.TBinaryProtocol:TBinaryProtocolFactory": wire.BINARY,
    "thrift.protocol.TBinaryProtocol:TBinaryProtocolAcceleratedFactory": wire.BINARY,
    "thrift.protocol.TCompactProtocol:TCompactProtocolFactory": wire.COMPACT,
    "thrift.protocol.TCompactProtocol:TCompactProtocolAcceleratedFactory": wire.COMPACT,
    "thrift.protocol.THeaderProtocol:THeaderProtocolFactory": AUTO,
    "thriftpy2.protocol:TBinaryProtocolFactory": wire.BINARY,
    "thriftpy2.protocol:TCyBinaryProtocolFactory": wire.BINARY,
    "thriftpy2.protocol:TCompactProtocolFactory": wire.COMPACT,
    "thriftpy2.protocol.binary:TBinaryProtocolFactory": wire.BINARY,
    "thriftpy2.protocol.compact:TCompactProtocolFactory": wire.COMPACT,
}


def resolve_name(name: str) -> str:
    """``module:Name`` with a ``thriftpy.`` module mapped to ``thriftpy2.``."""
    module, sep, attr = name.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{name!r} is not of the form module:Factory")
    if module == "thriftpy" or module.startswith("thriftpy."):
        module = "thriftpy2" + module[len("thriftpy") :]
    return f"{module}:{attr}"


def _lookup(name: str, table: dict[str, Any], what: str) -> Any:
    name = resolve_name(name)
    if name in table:
        return table[name]
    module, _, attr = name.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import the {what} factory {name!r}: {exc}") from None
    for cls in getattr(factory, "__mro__", (type(factory),)):
        for known, value in table.items():
            known_module, _, known_attr = known.partition(":")
            if cls.__name__ == known_attr and cls.__module__.startswith(known_module):
                return value
    supported = ", ".join(sorted(table))
    raise ValueError(
        f"the {what} factory {name!r} is not supported: thriftbuild's workers speak "
        f"buffered or framed binary and compact, and THeader; use one of {supported}"
    )


def dialect_for(transport: str, protocol: str) -> wire.Dialect | None:
    """The dialect a transport and a protocol factory name, or ``AUTO`` (``None``).

    Raises:
        ValueError: a name that cannot be imported or that no dialect matches.
    """
    proto: int | None = _lookup(protocol, _PROTOCOLS, "protocol")
    framing: wire.Framing = _lookup(transport, _TRANSPORTS, "transport")
    if proto is None:
        return AUTO
    return wire.Dialect(framing, proto)
