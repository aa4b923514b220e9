"""The one exception family the wire core raises.

Everything a decoder can object to -- bytes that are not Thrift in the expected
dialect, a declared length over a limit, a reply that answers another request --
raises a :class:`WireError`. The I/O layers (the blocking client, asyncio) translate
it at their one boundary into their own errors, naming the endpoint and the method.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LimitExceededError", "ReplyMismatchError", "WireError"]


class WireError(Exception):
    """Bytes that cannot be decoded as the expected Thrift dialect."""


class LimitExceededError(WireError):
    """A declared or produced length is over one of the :class:`~thriftbuild.wire.Limits`.

    Raised before anything of that size is allocated.

    Attributes:
        limit: the name of the limit (``max_frame``, ``max_string``, ...).
        value: the length found.
        maximum: the limit's value.
    """

    def __init__(self, limit: str, value: int, maximum: int, what: str = "") -> None:
        what = what or limit.removeprefix("max_").replace("_", " ")
        super().__init__(f"{what} of {value} exceeds {limit}={maximum}")
        self.limit = limit
        self.value = value
        self.maximum = maximum
        self.what = what

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.limit, self.value, self.maximum, self.what))


class ReplyMismatchError(WireError):
    """A reply's message head does not answer the request (name or sequence id).

    Attributes:
        expected_name: the method called.
        expected_seqid: the sequence id sent.
        name: the name in the reply.
        seqid: the sequence id in the reply.
    """

    def __init__(self, expected_name: str, expected_seqid: int, name: str, seqid: int) -> None:
        super().__init__(
            f"reply {name!r} seqid {seqid} does not answer {expected_name!r} seqid {expected_seqid}"
        )
        self.expected_name = expected_name
        self.expected_seqid = expected_seqid
        self.name = name
        self.seqid = seqid

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.expected_name, self.expected_seqid, self.name, self.seqid))
