"""A pool of asyncio connections with aiothrift's API and none of its known failures.

* ``get()`` (and ``async with pool``) can be used any number of times in one task;
* a checkout waits at most ``acquire_timeout`` and then names the address and sizes;
* connections are opened without holding anything other callers wait on;
* a connection comes back only if it is clean: a call that timed out, was
  cancelled at any ``await`` or failed mid-exchange has closed it, and a connection
  that received bytes or EOF while idle is discarded at checkout;
* every state change is synchronous (one event loop thread), so there is no lock to
  hold across an ``await``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import functools
import logging
import ssl as _ssl
import time
from collections.abc import Coroutine
from typing import Any

from thriftbuild import wire
from thriftbuild.aio._options import Address, TBinaryProtocol, split_timeout, warn_loop, within
from thriftbuild.aio.connection import ThriftConnection, _where, create_connection
from thriftbuild.errors import AioTimeoutError, PoolClosedError
from thriftbuild.service import service_view

__all__ = ["ThriftPool", "create_pool"]

log = logging.getLogger("thriftbuild.aio")

#: How long a checkout waits when neither ``acquire_timeout`` nor ``timeout`` is set.
DEFAULT_ACQUIRE_TIMEOUT = 30.0

# The connections ``async with pool`` handed out in this task, innermost last.
_entered: contextvars.ContextVar[tuple[ThriftConnection, ...]] = contextvars.ContextVar(
    "thriftbuild_aio_pool_entered", default=()
)


async def create_pool(
    service: Any,
    address: Address = ("127.0.0.1", 6000),
    *,
    minsize: int = 1,
    maxsize: int = 10,
    timeout: Any = None,
    framed: bool = False,
    protocol_cls: Any = TBinaryProtocol,
    acquire_timeout: float | None = None,
    ssl: _ssl.SSLContext | bool | None = None,
    server_hostname: str | None = None,
    limits: wire.Limits = wire.DEFAULT_LIMITS,
    pipeline: int = 1,
    loop: Any = None,
) -> ThriftPool:
    """Create a pool and open ``minsize`` connections (aiothrift's signature).

    Args:
        service: a thriftpy2 service or a generated service module (see
            :func:`~thriftbuild.aio.create_connection`).
        address: ``(host, port)`` or a unix socket path.
        minsize: connections kept open.
        maxsize: most connections open at once; more callers wait.
        timeout: per connection: connect and each call, or ``(connect, call)``.
        framed, protocol_cls, ssl, server_hostname, limits: as for
            :func:`~thriftbuild.aio.create_connection`.
        acquire_timeout: longest wait for a connection; default: the connect
            timeout, else 30 seconds.
        pipeline: calls outstanding at once on a connection (see
            :class:`ThriftPool`); default 1.
        loop: deprecated and ignored.
    """
    warn_loop(loop, "create_pool")
    pool = ThriftPool(
        service,
        address,
        minsize=minsize,
        maxsize=maxsize,
        timeout=timeout,
        framed=framed,
        protocol_cls=protocol_cls,
        acquire_timeout=acquire_timeout,
        ssl=ssl,
        server_hostname=server_hostname,
        limits=limits,
        pipeline=pipeline,
    )
    try:
        await pool.fill_free(override_min=False)
    except BaseException:
        pool.close()
        raise
    return pool


class ThriftPool:
    """Connections to one address, shared by many tasks.

    ``await pool.ping()`` (one method per API, or ``pool.execute(api, ...)``) checks
    a connection out for one call; ``async with pool.get() as conn`` (or ``async
    with pool as conn``) for several.

    With ``pipeline > 1``, ``await pool.ping()`` (and :meth:`execute`) opens
    connections up to ``maxsize`` as usual and then shares them: each carries up to
    ``pipeline`` calls at once, replies matched by seqid (see
    :class:`~thriftbuild.aio.ThriftConnection`), the least busy one first. A
    connection goes back to the pool when its last call ends, and only if clean
    (no reply still owed to a call that timed out or was cancelled). ``get()``
    still checks a connection out for one holder.
    """

    def __init__(
        self,
        service: Any,
        address: Address = ("127.0.0.1", 6000),
        *,
        minsize: int = 1,
        maxsize: int = 10,
        timeout: Any = None,
        framed: bool = False,
        protocol_cls: Any = TBinaryProtocol,
        acquire_timeout: float | None = None,
        ssl: _ssl.SSLContext | bool | None = None,
        server_hostname: str | None = None,
        limits: wire.Limits = wire.DEFAULT_LIMITS,
        pipeline: int = 1,
    ) -> None:
        if not (isinstance(pipeline, int) and pipeline >= 1):
            raise ValueError(f"pipeline must be an integer >= 1, not {pipeline!r}")
        if not (isinstance(minsize, int) and minsize >= 0):
            raise ValueError(f"minsize must be an integer >= 0, not {minsize!r}")
        if not (isinstance(maxsize, int) and maxsize > 0):
            raise ValueError(f"maxsize must be an integer > 0, not {maxsize!r}")
        if minsize > maxsize:
            raise ValueError(f"minsize {minsize} is larger than maxsize {maxsize}")
        self.service = service
        self.address = address
        self.minsize = minsize
        self.maxsize = maxsize
        self.closed = False
        connect_timeout, _ = split_timeout(timeout)
        if acquire_timeout is None:
            acquire_timeout = connect_timeout or DEFAULT_ACQUIRE_TIMEOUT
        self.acquire_timeout = acquire_timeout
        self._connect = functools.partial(
            create_connection,
            service,
            address,
            protocol_cls=protocol_cls,
            timeout=timeout,
            framed=framed,
            ssl=ssl,
            server_hostname=server_hostname,
            limits=limits,
            pipeline=pipeline,
        )
        self.pipeline = pipeline
        self._shares: dict[ThriftConnection, int] = {}  # shared connection -> its calls
        self._where = _where(address)
        self._free: collections.deque[ThriftConnection] = collections.deque()
        self._used: set[ThriftConnection] = set()
        self._all: set[ThriftConnection] = set()  # every connection not yet closed-and-gone
        self._closing: set[ThriftConnection] = set()  # closed, transport maybe not yet
        self._opening = 0
        self._waiters: collections.deque[asyncio.Future[ThriftConnection | None]] = (
            collections.deque()
        )
        self._deadlines: dict[asyncio.Future[ThriftConnection | None], tuple[float, float]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        # The loop of the pool's connections, kept: asyncio.get_running_loop() costs a
        # getpid() system call per checkout on Python 3.11.
        self._loop: asyncio.AbstractEventLoop | None = None
        view = service_view(service)
        for api in view:
            if not hasattr(self, api):
                setattr(self, api, functools.partial(self.execute, api))

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"<ThriftPool {self._where} {state} size={self.size} free={self.freesize} "
            f"used={len(self._used)} opening={self._opening} waiting={len(self._waiters)}>"
        )

    @property
    def size(self) -> int:
        """Connections open or being opened (free and checked out)."""
        return len(self._free) + len(self._used) + self._opening

    @property
    def freesize(self) -> int:
        """Open connections waiting in the pool."""
        return len(self._free)

    @property
    def waiting(self) -> int:
        """Callers waiting for a connection."""
        return len(self._waiters)

    # -- checkout ---------------------------------------------------------------------

    async def acquire(self, timeout: float | None = None) -> ThriftConnection:
        """Check a connection out, opening one if there is room.

        Args:
            timeout: longest wait; the pool's ``acquire_timeout`` if omitted.

        Raises:
            PoolClosedError: the pool is closed.
            asyncio.TimeoutError: no connection within the timeout
                (:class:`~thriftbuild.errors.AioTimeoutError`, naming address and sizes).
            OSError: opening a connection failed.
        """
        return await self._checkout(None, timeout)

    async def _checkout(self, holder: _Checkout | None, timeout: float | None) -> ThriftConnection:
        """:meth:`acquire`, also storing the connection on ``holder`` (what ``get()``
        returned) -- one coroutine, the wait included: each frame of an await chain
        is walked again on every resumption."""
        if self._free and not self.closed:  # the fast path: a warm connection
            conn = self._take_free()
            if conn is not None:
                if holder is not None:
                    holder.conn = conn
                return conn
        limit = self.acquire_timeout if timeout is None else timeout
        now = time.monotonic()
        deadline = now + limit
        while True:
            if self.closed:
                raise PoolClosedError(f"the pool for {self._where} is closed")
            conn = self._take_free() if self._free else None
            if conn is None:
                if len(self._used) + self._opening < self.maxsize:
                    conn = await self._open(deadline)
                else:
                    # Wait for a released connection (handed over directly, first
                    # come first served) or for a free slot (None: look again).
                    if deadline <= now:
                        raise self._timeout_error(limit)
                    loop = self._loop or asyncio.get_running_loop()
                    waiter: asyncio.Future[ThriftConnection | None] = loop.create_future()
                    self._waiters.append(waiter)
                    self._deadlines[waiter] = (deadline, limit)
                    if self._timer is None or self._timer_at > deadline:
                        self._arm_timer(deadline)
                    try:
                        conn = await waiter  # woken ones were taken off _waiters by the waker
                    except BaseException:
                        self._left(waiter)
                        raise
                    finally:
                        del self._deadlines[waiter]
                    if conn is None:
                        now = time.monotonic()
                        continue  # a slot came free, or the pool closed: look again
            if holder is not None:
                holder.conn = conn
            return conn

    def _check_open(self) -> None:
        if self.closed:
            raise PoolClosedError(f"the pool for {self._where} is closed")

    def _take_free(self) -> ThriftConnection | None:
        while self._free:
            conn = self._free.pop()  # LIFO: the warmest connection first
            if conn.clean:
                self._used.add(conn)
                return conn
            log.debug("discarding %r at checkout: closed or unexpected data", conn)
            self._discard(conn)
        return None

    async def _open(self, deadline: float) -> ThriftConnection:
        self._opening += 1
        try:
            conn = await within(max(0.0, deadline - time.monotonic()), self._connect())
        except BaseException as exc:
            self._opening -= 1
            self._wake_one()  # the slot this caller reserved is free again
            if isinstance(exc, asyncio.TimeoutError):
                raise self._timeout_error(self.acquire_timeout) from exc
            raise
        self._opening -= 1
        self._all.add(conn)
        self._loop = conn._loop
        if self.closed:
            conn.close()
            self._check_open()
        self._used.add(conn)
        return conn

    def _left(self, waiter: asyncio.Future[ThriftConnection | None]) -> None:
        """A waiter timed out or was cancelled: what it was handed goes on."""
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            handed = waiter.result()  # woken, but leaving: pass it on
            if handed is not None:
                self.release(handed)
            else:
                self._wake_one()
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)  # timed out or cancelled while queued

    def _arm_timer(self, when: float) -> None:
        # One timer for every waiter (re-armed lazily), not one per checkout.
        if self._timer is not None:
            self._timer.cancel()
        loop = self._loop or asyncio.get_running_loop()
        self._timer_at = when
        self._timer = loop.call_later(max(0.0, when - time.monotonic()), self._expire)

    def _expire(self) -> None:
        self._timer = None
        now = time.monotonic()
        earliest: float | None = None
        for waiter, (deadline, limit) in list(self._deadlines.items()):
            if waiter.done():
                continue
            if deadline <= now:
                waiter.set_exception(self._timeout_error(limit))
            elif earliest is None or deadline < earliest:
                earliest = deadline
        if earliest is not None:
            self._arm_timer(earliest)

    def _timeout_error(self, limit: float) -> AioTimeoutError:
        return AioTimeoutError(
            f"no connection to {self._where} within {limit}s (pool maxsize {self.maxsize}, "
            f"{len(self._used)} in use, {self._opening} opening, {len(self._waiters)} waiting)"
        )

    def _next_waiter(self) -> asyncio.Future[ThriftConnection | None] | None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    def _wake_one(self) -> None:
        """A slot came free (a connection closed or failed to open)."""
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(None)

    def release(self, conn: ThriftConnection) -> None:
        """Give ``conn`` back: handed to the longest waiter or kept if clean, else closed."""
        used = self._used
        if conn not in used:
            raise ValueError(f"{conn!r} is not checked out of {self!r}")
        if self.closed or not conn.clean:
            used.discard(conn)
            self._discard(conn)
            self._wake_one()
            return
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(conn)  # stays checked out, now for the waiter
            return
        used.discard(conn)
        self._free.append(conn)

    def _discard(self, conn: ThriftConnection) -> None:
        conn.close()
        self._all.discard(conn)
        self._closing.add(conn)

    # -- context managers and calls ---------------------------------------------------

    def get(self) -> _Checkout:
        """``async with pool.get() as conn``: a connection for the block, then released.

        Usable any number of times in one task, nested or in turn.
        """
        return _Checkout(self)

    async def __aenter__(self) -> ThriftConnection:
        conn = await self._checkout(None, None)
        _entered.set((*_entered.get(), conn))
        return conn

    async def __aexit__(self, *exc_info: object) -> None:
        stack = _entered.get()
        _entered.set(stack[:-1])
        self.release(stack[-1])

    async def execute(self, api: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``api`` on a connection checked out for this call (or shared by
        several calls, with ``pipeline > 1``)."""
        if self.pipeline > 1:
            return await self._shared_call(api, args, kwargs)
        conn = await self._checkout(None, None)
        try:
            return await conn.execute(api, *args, **kwargs)
        finally:
            self.release(conn)

    async def _shared_call(self, api: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        shares = self._shares
        conn = None
        if not self._free and self.size >= self.maxsize and not self.closed:
            # Every connection is open and busy: join the least busy shared one.
            room = self.pipeline
            for candidate, calls in shares.items():
                if calls < room and not candidate.closed and not candidate.abandoned:
                    conn, room = candidate, calls
        if conn is None:
            conn = await self.acquire()
            shares[conn] = 1
        else:
            shares[conn] += 1
        try:
            return await conn.execute(api, *args, **kwargs)
        finally:
            left = shares[conn] - 1
            if left:
                shares[conn] = left
            else:
                del shares[conn]
                self.release(conn)

    # -- filling and closing ----------------------------------------------------------

    async def fill_free(self, *, override_min: bool) -> None:
        """Open connections until ``minsize`` are open; with ``override_min``, also
        until one is free (up to ``maxsize``)."""
        self._check_open()
        self._free = collections.deque(c for c in self._free if not c.closed)
        while self.size < self.minsize or (
            override_min and not self._free and self.size < self.maxsize
        ):
            self._opening += 1
            try:
                conn = await self._connect()
            finally:
                self._opening -= 1
            self._all.add(conn)
            self._loop = conn._loop
            if self.closed:
                conn.close()
                self._check_open()
            self._free.append(conn)
            self._wake_one()

    async def clear(self) -> None:
        """Close every free connection."""
        while self._free:
            self._discard(self._free.popleft())
        await self._closed_transports()

    def close(self) -> None:
        """Close the pool: every connection, free or in use; waiters get PoolClosedError."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._free:
            self._discard(self._free.popleft())
        for conn in list(self._used):
            conn.close()
        while (waiter := self._next_waiter()) is not None:
            waiter.set_result(None)  # it wakes, sees the pool closed and raises

    async def wait_closed(self) -> None:
        """Wait until every connection's transport has closed."""
        await self._closed_transports()

    async def _closed_transports(self) -> None:
        closing = [c for c in (*self._closing, *self._all) if c.closed]
        for conn in closing:
            await conn.wait_closed()
            self._closing.discard(conn)
            self._all.discard(conn)


class _Checkout:
    """What ``pool.get()`` returns: one checkout for one ``async with`` block."""

    __slots__ = ("conn", "pool")

    def __init__(self, pool: ThriftPool) -> None:
        self.pool = pool
        self.conn: ThriftConnection | None = None

    def __aenter__(self) -> Coroutine[Any, Any, ThriftConnection]:
        return self.pool._checkout(self, None)

    async def __aexit__(self, *exc_info: object) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            self.pool.release(conn)
