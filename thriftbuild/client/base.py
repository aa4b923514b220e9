"""What the pools and the proxy share: connections, leases and the ``Pool`` protocol.

:class:`ThriftConnectionPool` and :class:`MultiEndpointPool` both satisfy
:class:`Pool`, which is all the proxy and ``pool.connection()`` rely on.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from thrift.protocol.TProtocol import TProtocolException
from thrift.Thrift import TApplicationException, TException
from thrift.transport.TTransport import TTransportException

from thriftbuild.client.channel import Channel

__all__ = ["Connection", "Lease", "Pool", "is_idl_exception"]


def is_idl_exception(exc: BaseException) -> bool:
    """Whether ``exc`` is an exception declared in the IDL (the call itself went fine)."""
    return (
        isinstance(exc, TException)
        and not isinstance(exc, (TTransportException, TApplicationException, TProtocolException))
        and getattr(type(exc), "thrift_spec", None) is not None
    )


class Connection:
    """One open connection: its channel, its protocol and bookkeeping."""

    __slots__ = ("born", "channel", "clients", "epoch", "generation", "pool", "protocol")

    def __init__(
        self, pool: Pool, channel: Channel, protocol: Any, generation: int, epoch: int
    ) -> None:
        self.pool = pool  # the single-endpoint pool it belongs to
        self.channel = channel
        self.protocol = protocol
        self.born = time.monotonic()
        self.generation = generation  # the pool's fork generation it belongs to
        self.epoch = epoch  # the pool's close() epoch it was opened in
        self.clients: dict[type, Any] = {}

    def close(self) -> None:
        self.channel.close()


class Pool(Protocol):
    """A pool of connections, as the proxy and ``connection()`` use it."""

    name: str
    timeout: float
    size: int

    @property
    def headers_supported(self) -> bool:
        """Whether calls can carry THeader headers."""

    @property
    def endpoint(self) -> object:
        """The endpoint (or endpoints) as configured; ``str()`` gives its text."""

    @property
    def checkedout(self) -> int:
        """Connection slots in use."""

    def checkout(
        self,
        deadline: float | None = None,
        start: float | None = None,
        *,
        timed: bool = True,
        method: str = "",
    ) -> Connection:
        """Take a connection (see :meth:`ThriftConnectionPool.checkout`)."""

    def checkin(self, conn: Connection, reusable: bool) -> None:
        """Give a connection back (see :meth:`ThriftConnectionPool.checkin`)."""

    def close(self) -> None:
        """Close idle connections."""

    def adopt_name(self, name: str) -> None:
        """Use ``name`` in metrics unless the pool was built with one."""


class Lease:
    """``pool.connection()``: a class, not a generator, because Apache's generated
    exceptions are immutable and ``contextlib`` would fail setting their traceback."""

    __slots__ = ("_conn", "_pool")

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._conn: Connection | None = None

    def __enter__(self) -> Any:
        conn = self._conn = self._pool.checkout()
        conn.channel.begin_call(None, "")
        return conn.protocol

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.checkin(conn, exc is None or is_idl_exception(exc))
