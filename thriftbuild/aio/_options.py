"""Arguments shared by connection, pool and server: protocols, addresses, timeouts."""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from thriftbuild import wire

__all__ = [
    "Address",
    "TBinaryProtocol",
    "TCompactProtocol",
    "THeaderProtocol",
    "WireFormat",
    "split_timeout",
    "warn_loop",
    "within",
]

T = TypeVar("T")

#: ``(host, port)`` for TCP (IPv4 or IPv6), or a path for a unix socket.
Address = tuple[str, int] | str


class TBinaryProtocol:
    """The binary protocol (the default, as in aiothrift); pass the class as ``protocol_cls``."""


class TCompactProtocol:
    """The compact protocol; pass the class as ``protocol_cls``."""


class THeaderProtocol:
    """THeader framing (binary inside; ``"header-compact"`` for compact), ``protocol_cls``."""


@dataclass(frozen=True)
class WireFormat:
    """How a client frames and encodes its calls."""

    framing: wire.Framing
    protocol: int

    @classmethod
    def of(cls, protocol_cls: Any, framed: bool) -> WireFormat:
        """The format for aiothrift's ``protocol_cls`` and ``framed`` arguments.

        ``protocol_cls`` may be one of this module's classes, Apache's or thriftpy2's
        protocol classes or factories, aiothrift's ``TBinaryProtocol``, or one of the
        strings ``"binary"``, ``"compact"``, ``"header"`` (``"header-binary"``) and
        ``"header-compact"``.
        """
        if isinstance(protocol_cls, str):
            name = protocol_cls.lower()
        elif protocol_cls is None:
            name = "binary"
        else:
            name = getattr(protocol_cls, "__name__", type(protocol_cls).__name__).lower()
        if "header" in name:
            protocol = wire.COMPACT if "compact" in name else wire.BINARY
            return cls(wire.Framing.HEADER, protocol)
        if "compact" in name:
            protocol = wire.COMPACT
        elif "binary" in name:
            protocol = wire.BINARY
        else:
            raise ValueError(
                f"unsupported protocol_cls {protocol_cls!r}: use TBinaryProtocol, "
                "TCompactProtocol or THeaderProtocol (or 'binary', 'compact', 'header')"
            )
        return cls(wire.Framing.FRAMED if framed else wire.Framing.UNFRAMED, protocol)


def warn_loop(loop: Any, where: str) -> None:
    """aiothrift took ``loop=``; it is ignored (the running loop is used)."""
    if loop is not None:
        warnings.warn(
            f"{where}: the loop argument is deprecated and ignored; the running event loop is used",
            DeprecationWarning,
            stacklevel=3,
        )


def split_timeout(timeout: Any) -> tuple[float | None, float | None]:
    """aiothrift's ``timeout``: a number (connect and each call) or ``(connect, call)``."""
    if timeout is None:
        return None, None
    if isinstance(timeout, bool):
        raise ValueError("timeout must be a number or a (connect, call) pair")
    if isinstance(timeout, int | float):
        return _positive(timeout), _positive(timeout)
    if isinstance(timeout, Sequence) and len(timeout) == 2:
        connect, call = timeout
        return (
            None if connect is None else _positive(connect),
            None if call is None else _positive(call),
        )
    raise ValueError(f"timeout must be a number or a (connect, call) pair, not {timeout!r}")


def _positive(value: Any) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise ValueError(f"timeout must be positive, not {value!r}")
    return seconds


if sys.version_info >= (3, 11):

    async def within(seconds: float | None, awaitable: Awaitable[T]) -> T:
        """``await awaitable``, cancelled with ``TimeoutError`` after ``seconds``."""
        if seconds is None:
            return await awaitable
        async with asyncio.timeout(seconds):
            return await awaitable

else:  # pragma: no cover - Python 3.10

    async def within(seconds: float | None, awaitable: Awaitable[T]) -> T:
        """``await awaitable``, cancelled with ``TimeoutError`` after ``seconds``."""
        return await asyncio.wait_for(awaitable, seconds)
