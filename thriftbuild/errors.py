"""Exceptions raised by the thriftbuild runtime.

The pool's seed API promises that everything it raises derives from thrift's
``TTransportException``, so user code written for baseplate keeps catching it. Every
exception pickles. Build-side errors live in :mod:`thriftbuild.codegen.errors`.
"""

from __future__ import annotations

import sys
from typing import Any

from thrift.Thrift import TApplicationException
from thrift.transport.TTransport import TTransportException

if sys.version_info >= (3, 11):
    _AsyncioTimeout = TimeoutError  # what asyncio.TimeoutError is since 3.11
else:  # pragma: no cover - Python 3.10
    from asyncio import TimeoutError as _AsyncioTimeout

__all__ = [
    "AioTimeoutError",
    "CallTimeoutError",
    "ClientConfigError",
    "ConnectFailedError",
    "ConnectionClosedError",
    "ConnectionLostError",
    "PoolClosedError",
    "PoolExhaustedError",
    "ProtocolError",
    "ResponseMismatchError",
    "RetriesExhaustedError",
    "ThriftAppError",
    "ThriftClientError",
    "ThriftError",
]


class ClientConfigError(ValueError):
    """A client setting in the application config is missing or invalid.

    Attributes:
        key: the full config key, e.g. ``foo.timeout``.
        value: the raw value found (``None`` when the key is missing).
        reason: what is wrong with it.
    """

    def __init__(self, key: str, value: object, reason: str) -> None:
        super().__init__(key, value, reason)
        self.key = key
        self.value = value
        self.reason = reason

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.key}: {self.reason}"
        return f"{self.key} = {self.value!r}: {self.reason}"


class ThriftClientError(TTransportException):  # type: ignore[misc]
    """Base class of every error raised by the pooled client runtime.

    Attributes:
        type: a ``TTransportException`` type code (``NOT_OPEN``, ``TIMED_OUT``, ...).
        message: one line naming the endpoint and, where known, the method.
        endpoint: the endpoint as written in the config, or ``""``.
        method: the Thrift method being called, or ``""``.
        request_sent: ``False`` when no byte of the request reached the socket, so
            the server provably did not execute it; ``True`` when it may have run.
    """

    default_type = TTransportException.UNKNOWN
    #: Whether the request may have reached the server; subclasses fix it per failure.
    default_request_sent = True

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        method: str = "",
        request_sent: bool | None = None,
        type: int | None = None,
    ) -> None:
        super().__init__(self.default_type if type is None else type, message)
        self.endpoint = endpoint
        self.method = method
        self.request_sent = self.default_request_sent if request_sent is None else request_sent

    def __str__(self) -> str:
        return str(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {
            "endpoint": self.endpoint,
            "method": self.method,
            "request_sent": self.request_sent,
            "type": self.type,
        }
        return (_rebuild_client_error, (type(self), self.message, kwargs))


def _rebuild_client_error(
    cls: type[ThriftClientError], message: str, kwargs: dict[str, Any]
) -> ThriftClientError:
    return cls(message, **kwargs)


class PoolExhaustedError(ThriftClientError):
    """No connection slot came free within the pool's timeout; nothing was sent."""

    default_type = TTransportException.NOT_OPEN
    default_request_sent = False


class ConnectFailedError(ThriftClientError):
    """Every attempt to open a connection to the endpoint failed; nothing was sent."""

    default_type = TTransportException.NOT_OPEN
    default_request_sent = False


class CallTimeoutError(ThriftClientError):
    """The socket timed out during a call (``request_sent`` says whether it may have run)."""

    default_type = TTransportException.TIMED_OUT


class ConnectionLostError(ThriftClientError):
    """The connection failed during a call: reset, EOF or another socket error."""

    default_type = TTransportException.END_OF_FILE


class ResponseMismatchError(ThriftClientError):
    """A response did not answer the request sent (wrong sequence id or method name)."""


class ProtocolError(ThriftClientError):
    """A reply could not be decoded, or exceeded a wire limit; the connection is closed.

    The cause (``__cause__``) is the wire core's error, naming the limit when one
    was exceeded.
    """


class RetriesExhaustedError(ThriftClientError):
    """A retrying call ran out of attempts or budget; the last failure is its cause."""


# --------------------------------------------------------------------------------------
# asyncio side (thriftbuild.aio), with aiothrift's names. ThriftError is their common
# base; each concept the blocking runtime already has keeps that one class as a base
# too, so `except ConnectionLostError` / `except TApplicationException` catch both.


class ThriftError(Exception):
    """Base class of the errors raised by :mod:`thriftbuild.aio` (aiothrift's name)."""


class ConnectionClosedError(ConnectionLostError, ThriftError):
    """The connection was closed -- by the server, by a failure, or before the call."""


class PoolClosedError(ThriftError):
    """The pool was closed; it hands out no more connections."""


class AioTimeoutError(ThriftError, _AsyncioTimeout):
    """A call or a pool checkout took longer than its timeout (an ``asyncio.TimeoutError``).

    A call that timed out has closed its connection: its reply may still come.
    """


class ThriftAppError(ThriftError, TApplicationException):  # type: ignore[misc]
    """The server answered with a ``TApplicationException``; ``type`` and ``message`` kept.

    Also a thrift ``TApplicationException``, so code catching that keeps working.
    """

    def __init__(self, type: int = TApplicationException.UNKNOWN, message: str | None = None):
        TApplicationException.__init__(self, type, message)

    def __str__(self) -> str:
        return str(self.message) if self.message else TApplicationException.__str__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.type, self.message))
