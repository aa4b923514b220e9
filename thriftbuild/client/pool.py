"""A thread-safe pool of Thrift client connections to one endpoint.

The pool holds ``size`` tokens in a deque; a token is an idle connection or
``None``, a free slot to open a connection with. Checking out pops a token, giving
back pushes one, so ``size`` caps open connections and ``checkedout`` is
``size - len(tokens)``. ``deque.pop``/``append`` are atomic, so the common path
takes no lock; only callers who find no token take the lock to wait on a
condition (registering as waiting before looking again, so no wake-up is lost).
Socket I/O never happens under the lock.

Invariants:

* A connection is given back as a token only if its last use ended cleanly *and*
  it has nothing unread; it is checked again for unexpected bytes or EOF at
  checkout, because the server may have written or closed while it sat idle.
* Idle connections are pushed on the right and taken from the right (most recently
  used first, so spare ones age out through ``max_age``); free slots are pushed on
  the left, so a free slot is used only when no idle connection is left.
* After ``os.fork()`` the child drops every connection inherited from the parent
  (closing only its own descriptors) and starts a new generation; a token from an
  old generation is never given back.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import os
import socket
import ssl
import threading
import time
import weakref
from typing import Any

from thrift.protocol.THeaderProtocol import THeaderProtocolFactory
from thrift.transport.THeaderTransport import THeaderSubprotocolID

from thriftbuild import config, wire
from thriftbuild.client.base import Connection, Lease
from thriftbuild.client.channel import Channel
from thriftbuild.client.protocols import framing_for, make_protocol
from thriftbuild.errors import ConnectFailedError, PoolExhaustedError
from thriftbuild.metrics import PoolInstruments, default_metrics
from thriftbuild.retry import RetryPolicy

__all__ = ["DEFAULT_PROTOCOL_FACTORY", "ThriftConnectionPool"]

DEFAULT_PROTOCOL_FACTORY = THeaderProtocolFactory(default_protocol=THeaderSubprotocolID.COMPACT)


def _seconds(value: float | datetime.timedelta) -> float:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return float(value)


_live_pools: weakref.WeakSet[ThriftConnectionPool] = weakref.WeakSet()


# Held while a socket is created and recorded (never during a connect or handshake),
# and across every fork: a child never inherits a socket that no pool has recorded.
_creating = threading.Lock()


def _reset_pools_after_fork() -> None:
    _creating.release()  # taken by this very thread before the fork
    for pool in list(_live_pools):
        pool._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_creating.acquire,
        after_in_parent=_creating.release,
        after_in_child=_reset_pools_after_fork,
    )


class ThriftConnectionPool:
    """A pool of connections to one Thrift endpoint (baseplate's API and defaults).

    Connections open lazily, at most ``size`` at a time; a caller waits up to
    ``timeout`` for a free slot. Every exception the pool raises derives from
    ``TTransportException``.

    Args:
        endpoint: an :class:`~thriftbuild.config.EndpointConfiguration`, or its text
            (``host:port``, ``[::1]:port``, ``unix:/path``).
        size: most connections open at once.
        max_age: seconds (or a timedelta) after which a connection is replaced.
        timeout: seconds (or a timedelta). A proxy call must finish within it, from
            waiting for a slot through connecting to reading the reply; with
            ``pool.connection()`` it bounds the wait plus the connect, and then each
            socket operation.
        max_retries: connection attempts before giving up (at least one).
        protocol_factory: a Thrift protocol factory; THeader with the compact
            sub-protocol by default. Apache's header, binary and compact factories
            get a faster, reply-checking equivalent; others are used as given.
        max_connection_attempts: baseplate's newer name for ``max_retries``.
        transport_factory: ``"buffered"`` (default) or ``"framed"`` (or thrift's
            transport factories); ignored for THeader, which frames itself.
        connect_backoff: pause after the first failed connect, doubled each time
            (the :class:`~thriftbuild.retry.RetryPolicy` formula).
        limits: bounds on what a reply may make the client allocate
            (:class:`~thriftbuild.wire.Limits`; Apache's 16,384,000-byte frame limit
            by default).
        name: the client name used in metrics and messages (default: the endpoint).
        metrics: a :class:`~thriftbuild.metrics.ClientMetrics`, ``None`` for the
            default registry when prometheus_client is installed, or ``False``.
        ssl_context: speak TLS with this context; a failed handshake fails the
            connect (there is no fallback to plaintext).
        server_hostname: the name to verify the server's certificate against
            (default: the endpoint's host).
    """

    def __init__(
        self,
        endpoint: config.EndpointConfiguration | str,
        size: int = 10,
        max_age: float | datetime.timedelta = 120,
        timeout: float | datetime.timedelta = 1,
        max_retries: int = 3,
        protocol_factory: Any = DEFAULT_PROTOCOL_FACTORY,
        *,
        max_connection_attempts: int | None = None,
        transport_factory: Any = None,
        connect_backoff: float = 0.02,
        name: str | None = None,
        metrics: Any = None,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        limits: wire.Limits = wire.DEFAULT_LIMITS,
    ) -> None:
        if isinstance(endpoint, str):
            endpoint = config.Endpoint(endpoint)
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self.endpoint = endpoint
        self.size = size
        self.max_age = _seconds(max_age)
        self.timeout = _seconds(timeout)
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        attempts = max_retries if max_connection_attempts is None else max_connection_attempts
        self.max_connection_attempts = max(1, attempts)
        self.protocol_factory = protocol_factory
        self._framing = framing_for(protocol_factory, transport_factory)
        self.connect_backoff = connect_backoff
        self.limits = limits
        self.name = name or str(endpoint)
        self._endpoint_text = str(endpoint)
        self.ssl_context = ssl_context
        if server_hostname is None and not isinstance(endpoint.address, str):
            server_hostname = endpoint.address.host
        self.server_hostname = server_hostname

        # ``size`` tokens: each is an idle connection or None (a free slot to connect
        # with). A caller holds one token while it has a connection.
        self._tokens: collections.deque[Connection | None] = collections.deque([None] * size)
        self._lock = threading.Lock()  # guards waiting, and is the Condition's lock
        self._cond = threading.Condition(self._lock)
        self._waiting = 0
        self._generation = 0  # bumped in a forked child: older connections are the parent's
        self._epoch = 0  # bumped by close(): older connections are not reused
        self._open: set[Connection] = set()  # every open connection, idle or in use
        self._connecting: set[socket.socket] = set()  # sockets not in a Connection yet

        if metrics is None:
            metrics = default_metrics()
        self._client_metrics = metrics or None
        self._named = name is not None
        self._metrics: PoolInstruments | None = metrics.pool(self.name) if metrics else None
        if self._metrics is not None:
            self._metrics.watch(self)
        _live_pools.add(self)

    # -- state -----------------------------------------------------------------------

    @property
    def max_retries(self) -> int:
        """Connection attempts before giving up (baseplate's older name)."""
        return self.max_connection_attempts

    @property
    def checkedout(self) -> int:
        """Connection slots in use right now."""
        return self.size - len(self._tokens)

    @property
    def idle(self) -> int:
        """Open connections waiting in the pool."""
        return sum(token is not None for token in list(self._tokens))

    @property
    def waiting(self) -> int:
        """Callers blocked waiting for a slot."""
        return self._waiting

    @property
    def headers_supported(self) -> bool:
        """Whether calls through this pool can carry THeader headers."""
        return self._framing == wire.Framing.HEADER

    def __repr__(self) -> str:
        return (
            f"<ThriftConnectionPool {self._endpoint_text} size={self.size} "
            f"in_use={self.checkedout} idle={self.idle} waiting={self._waiting}>"
        )

    def adopt_name(self, name: str) -> None:
        """Take ``name`` for metrics and messages, unless the pool was given one.

        A proxy made over a pool built without ``name=`` calls this, so that the
        pool's gauges carry the same client name as the proxy's call metrics.
        """
        if self._named or name == self.name:
            return
        self._named = True
        self.name = name
        if self._client_metrics is not None and self._metrics is not None:
            self._metrics = self._client_metrics.rename_pool(self, self._metrics, name)

    def close(self) -> None:
        """Close every idle connection; ones in use are closed when given back.

        The pool stays usable: later calls open new connections.
        """
        self._epoch += 1  # connections given back later are closed, not kept
        tokens = self._tokens
        for _ in range(len(tokens)):
            try:
                conn = tokens.pop()
            except IndexError:
                break
            if conn is None:
                tokens.appendleft(None)
                break  # tokens to the left of a free slot are free slots too
            conn.close()
            self._open.discard(conn)
            tokens.appendleft(None)
        if self._waiting:
            with self._lock:
                self._cond.notify_all()

    def _after_fork(self) -> None:
        # Runs in a forked child, where other threads are gone. The lock may have been
        # held by one of them at fork time, so it is replaced, not acquired. Every
        # connection open at fork time -- idle or in flight in a thread that does not
        # exist here -- is closed; that closes the child's copies of the descriptors
        # and leaves the parent's sockets untouched.
        for conn in list(self._open):
            conn.close()
        for sock in list(self._connecting):
            sock.close()
        self._open = set()
        self._connecting = set()
        self._tokens = collections.deque([None] * self.size)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0
        self._generation += 1

    # -- checkout and checkin ----------------------------------------------------------

    def checkout(
        self,
        deadline: float | None = None,
        start: float | None = None,
        *,
        timed: bool = True,
        method: str = "",
    ) -> Connection:
        """Take a connection, waiting for a slot and connecting as needed.

        Args:
            deadline: a ``time.monotonic()`` time bounding the wait and the connect;
                ``timeout`` seconds from now if omitted.
            start: when the caller started waiting (``time.monotonic()``), if known.
            timed: record the wait in the pool's metrics (callers that record it
                themselves pass ``False``).
            method: the method the connection is for, named in errors.

        Returns:
            A connection that must be given back with :meth:`checkin`.

        Raises:
            PoolExhaustedError: no slot came free in time (nothing was sent).
            ConnectFailedError: every connection attempt failed (nothing was sent).
        """
        if start is None:
            start = time.monotonic()
        if deadline is None:
            deadline = start + self.timeout
        # The fast path takes no lock: deque.pop() is atomic, and a token is either
        # an idle connection or a free slot.
        tokens = self._tokens
        try:
            conn = tokens.pop()
        except IndexError:
            conn = self._wait_for_token(deadline, method)
        generation = self._generation
        # Other calls in flight on this pool: checks may then trade a GIL release
        # for a costlier syscall that holds it (Channel.contended).
        contended = len(tokens) < self.size - 1
        try:
            if conn is not None:
                conn.channel.contended = contended
                if start - conn.born > self.max_age:
                    self._evict(conn, "max_age")
                    conn = None
                elif not conn.channel.is_reusable():
                    self._evict(conn, "unhealthy")
                    conn = None
            if conn is None:
                conn = self._connect(deadline, generation, self._epoch, method)
                conn.channel.contended = contended
        except BaseException:
            self._give_back(None, generation)
            raise
        if timed and self._metrics is not None:
            self._metrics.waited(time.monotonic() - start)
        return conn

    def _wait_for_token(self, deadline: float, method: str) -> Connection | None:
        with self._lock:
            # Registered as waiting before looking again, so a token given back from
            # here on is either seen by the pop below or followed by a notify.
            self._waiting += 1
            try:
                while True:
                    try:
                        return self._tokens.pop()
                    except IndexError:
                        pass
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._exhausted(self._waiting - 1, method)
                    self._cond.wait(remaining)
            finally:
                self._waiting -= 1

    def _wake(self) -> None:
        if self._waiting:
            with self._lock:
                self._cond.notify()

    def _exhausted(self, others: int, method: str) -> PoolExhaustedError:
        what = f" for {method}()" if method else ""
        return PoolExhaustedError(
            f"no connection to {self._endpoint_text}{what} within "
            f"{self.timeout:g}s (pool size {self.size}, "
            f"{self.checkedout} in use, {others} other callers waiting)",
            endpoint=self._endpoint_text,
            method=method,
        )

    def _evict(self, conn: Connection, reason: str) -> None:
        conn.close()
        self._open.discard(conn)
        if self._metrics is not None:
            self._metrics.evicted(reason)

    def _give_back(self, conn: Connection | None, generation: int) -> None:
        # A token from before a fork belongs to the parent: this process's tokens
        # were already reset, so it is dropped, not counted twice.
        if generation != self._generation:
            return
        if conn is None:
            self._tokens.appendleft(None)  # free slots stay left of idle connections
        else:
            self._tokens.append(conn)
        if self._waiting:
            self._wake()

    def checkin(self, conn: Connection, reusable: bool) -> None:
        """Give a connection back; it is closed unless ``reusable`` and still fit.

        Args:
            conn: what :meth:`checkout` returned.
            reusable: whether its last use ended cleanly (a complete exchange).
        """
        # Only a cheap buffer check here; the socket itself is checked at checkout,
        # which also catches whatever arrives while the connection sits idle.
        channel = conn.channel
        reason = "error"
        if reusable and (channel.awaiting or channel.has_unread()):
            # A reply still due (a failure swallowed inside ``with pool.connection()``)
            # or bytes left over: the next call could read them as its answer.
            reusable, reason = False, "unhealthy"
        if reusable and conn.epoch != self._epoch:
            reusable, reason = False, "closed"
        if conn.generation != self._generation:
            self._evict(conn, "fork")
            return
        if reusable:
            self._tokens.append(conn)  # _give_back's common case, inlined
            if self._waiting:
                self._wake()
        else:
            self._evict(conn, reason)
            self._give_back(None, conn.generation)

    def _new_socket(
        self, family: int, kind: int = socket.SOCK_STREAM, proto: int = 0
    ) -> socket.socket:
        with _creating:
            sock = socket.socket(family, kind, proto)
            self._connecting.add(sock)
        return sock

    def _forget(self, sock: socket.socket, close: bool) -> None:
        if close:
            sock.close()
        self._connecting.discard(sock)

    def _open_socket(self, timeout: float) -> socket.socket:
        """Connect (and shake hands) within ``timeout``; the socket stays recorded in
        ``_connecting`` until the caller has recorded its :class:`Connection`."""
        address = self.endpoint.address
        targets: list[tuple[int, int, int, Any]]
        if isinstance(address, str):
            targets = [(socket.AF_UNIX, socket.SOCK_STREAM, 0, address)]
        else:
            targets = [
                (family, kind, proto, addr)
                for family, kind, proto, _, addr in socket.getaddrinfo(
                    address.host, address.port, 0, socket.SOCK_STREAM
                )
            ]
        failure: OSError | None = None
        for family, kind, proto, addr in targets:  # each resolved address in turn
            sock = self._new_socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                sock.connect(addr)
            except OSError as exc:
                self._forget(sock, close=True)
                failure = exc
                continue
            except BaseException:
                self._forget(sock, close=True)
                raise
            break
        else:
            raise failure if failure is not None else OSError(f"no address for {address}")
        if family != socket.AF_UNIX:
            with contextlib.suppress(OSError):  # not fatal: only latency suffers
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is None:
            return sock
        try:
            with _creating:  # the wrapper takes over the descriptor
                tls = self.ssl_context.wrap_socket(
                    sock, server_hostname=self.server_hostname, do_handshake_on_connect=False
                )
                self._connecting.add(tls)
                self._connecting.discard(sock)
        except BaseException:
            self._forget(sock, close=True)
            raise
        try:  # the handshake runs under the connect timeout
            tls.do_handshake()
        except BaseException:
            self._forget(tls, close=True)
            raise
        return tls

    def _connect(self, deadline: float, generation: int, epoch: int, method: str) -> Connection:
        last: OSError | None = None
        tried = 0
        now = time.monotonic()
        if deadline <= now:
            # The wait for a slot used the whole time: that is contention, not a
            # failure to connect (and must not count against the host).
            raise self._exhausted(self._waiting, method)
        policy = RetryPolicy(
            attempts=self.max_connection_attempts,
            budget=deadline - now,
            backoff=self.connect_backoff,
            max_backoff=self.timeout,
            jitter=False,
        )
        for attempt in policy.schedule(start=now):
            if attempt.pause:
                time.sleep(attempt.pause)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            tried += 1
            try:
                sock = self._open_socket(min(self.timeout, remaining))
            except OSError as exc:
                last = exc
                if self._metrics is not None:
                    self._metrics.connect_failed()
                continue
            try:
                channel = Channel(
                    sock, self._endpoint_text, self._framing, self.timeout, self.limits
                )
                protocol = make_protocol(channel, self.protocol_factory)
            except BaseException:
                self._forget(sock, close=True)
                raise
            if self._metrics is not None:
                self._metrics.connected()
            conn = Connection(self, channel, protocol, generation, epoch)
            self._open.add(conn)
            self._forget(sock, close=False)  # recorded in _open from here on
            return conn
        if tried == 0:
            raise self._exhausted(self._waiting, method)
        why = f": {last}" if last is not None else " before the deadline"
        what = f" for {method}()" if method else ""
        raise ConnectFailedError(
            f"could not connect to {self._endpoint_text}{what} "
            f"({tried} of {self.max_connection_attempts} attempts made){why}",
            endpoint=self._endpoint_text,
            method=method,
        ) from last

    def connection(self) -> Lease:
        """Check out a connection for a ``with`` block, which gets its protocol.

        The connection goes back to the pool when the block ends normally or through
        an exception declared in the IDL; any other exception (including
        ``KeyboardInterrupt`` and greenlet kills) closes it, because the state of
        the exchange on the wire is unknown. Each socket operation is bounded by
        ``timeout``.

        Returns:
            A context manager yielding a Thrift protocol; pass it to a generated
            ``Client``.
        """
        return Lease(self)
