"""The request a handler is serving, readable from inside the handler.

Servers set it around every handler call (in the handler's thread for plain
functions, in the task for coroutines), so a handler written as a plain method --
the signature its IDL dictates -- can still read the THeader headers and the
caller's deadline::

    from thriftbuild.dispatch import current_request

    class Handler:
        def lookup(self, key):
            request = current_request()
            if request is not None and request.time_left() == 0:
                ...  # the caller has given up already
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEADLINE_HEADER", "Request", "current_request"]

#: The THeader info header carrying the caller's remaining time in milliseconds
#: (what baseplate and thriftbuild's clients send).
DEADLINE_HEADER = "Deadline-Budget"

_current: contextvars.ContextVar[Request | None] = contextvars.ContextVar(
    "thriftbuild_request", default=None
)


@dataclass(frozen=True, slots=True)
class Request:
    """One call received by a server.

    Attributes:
        service: the service name.
        method: the method called.
        seqid: the message's sequence id.
        headers: THeader info headers, decoded as UTF-8 (empty for other framings).
        deadline: ``time.monotonic()`` value by which the caller stops waiting, from
            the ``Deadline-Budget`` header; ``None`` when the caller sent none.
        peer: the peer address as the server's transport reports it, or ``None``.
        received: ``time.monotonic()`` when the request was complete.
    """

    service: str
    method: str
    seqid: int
    headers: Mapping[str, str]
    deadline: float | None
    peer: Any
    received: float

    def time_left(self) -> float | None:
        """Seconds until the caller's deadline (``0.0`` once past), or ``None``."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())


def current_request() -> Request | None:
    """The request being handled in this context, or ``None`` outside a handler."""
    return _current.get()


def decode_headers(raw: Mapping[bytes, bytes]) -> dict[str, str]:
    """THeader headers as text (undecodable bytes kept as surrogate escapes)."""
    return {
        key.decode("utf-8", "surrogateescape"): value.decode("utf-8", "surrogateescape")
        for key, value in raw.items()
    }


def deadline_from(headers: Mapping[str, str], received: float) -> float | None:
    """The monotonic deadline a ``Deadline-Budget`` header sets, if it holds a number."""
    budget = headers.get(DEADLINE_HEADER)
    if budget is None:
        return None
    try:
        milliseconds = int(budget)
    except ValueError:
        return None
    return received + max(0, milliseconds) / 1000.0
