"""A pool over several endpoints: per-call round-robin, failing hosts ejected.

:class:`MultiEndpointPool` composes one :class:`~thriftbuild.client.ThriftConnectionPool`
per endpoint (so every guarantee of the single pool holds per host) and has the same
interface, so proxies and ``pool.connection()`` use it unchanged. Each call goes to
the next endpoint in turn; a host that fails ``eject_after`` times in a row (failed
connects, calls that broke their connection) is skipped for a cool-down that doubles
with each ejection in a row, up to ``max_eject_for``. An ejected host is still tried
when every other one has failed, so ejection never makes a call fail by itself.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from thriftbuild import config
from thriftbuild.client.base import Connection, Lease
from thriftbuild.client.pool import ThriftConnectionPool
from thriftbuild.errors import ConnectFailedError, PoolExhaustedError
from thriftbuild.retry import RetryPolicy

__all__ = ["MultiEndpointPool", "parse_endpoints"]


def parse_endpoints(text: str) -> list[config.EndpointConfiguration]:
    """Parse a comma-separated list of endpoints (``host1:9090,[::1]:9090``)."""
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise ValueError("empty endpoint in the list; separate endpoints with single commas")
    return [config.Endpoint(part) for part in parts]


class _Site:
    __slots__ = ("ejected_until", "ejections", "failures", "pool")

    def __init__(self, pool: ThriftConnectionPool) -> None:
        self.pool = pool
        self.failures = 0  # consecutive
        self.ejections = 0  # consecutive
        self.ejected_until = 0.0


class _Endpoints:
    """The endpoint list, printed as it is written in the config."""

    def __init__(self, endpoints: Sequence[config.EndpointConfiguration]) -> None:
        self.endpoints = tuple(endpoints)

    def __str__(self) -> str:
        return ",".join(map(str, self.endpoints))


class MultiEndpointPool:
    """Connections to several equivalent endpoints, balanced per call.

    Args:
        endpoints: the endpoints, as configurations, texts, or one comma-separated text.
        eject_after: consecutive failures that eject a host.
        eject_for: seconds of the first ejection; each ejection in a row doubles it.
        max_eject_for: the longest ejection.
        **kwargs: :class:`~thriftbuild.client.ThriftConnectionPool` options, applied to
            each endpoint's pool (``size`` is per endpoint).
    """

    def __init__(
        self,
        endpoints: str | Iterable[config.EndpointConfiguration | str],
        *,
        eject_after: int = 3,
        eject_for: float = 5.0,
        max_eject_for: float = 60.0,
        **kwargs: Any,
    ) -> None:
        if isinstance(endpoints, str):
            parsed = parse_endpoints(endpoints)
        else:
            parsed = [config.Endpoint(e) if isinstance(e, str) else e for e in endpoints]
        if not parsed:
            raise ValueError("give at least one endpoint")
        self.endpoint = _Endpoints(parsed)
        self._named = kwargs.get("name") is not None
        self._sites = [_Site(ThriftConnectionPool(e, **kwargs)) for e in parsed]
        self._by_pool = {id(site.pool): site for site in self._sites}
        first = self._sites[0].pool
        self.name: str = kwargs.get("name") or str(self.endpoint)
        self.timeout = first.timeout
        self.size = sum(site.pool.size for site in self._sites)
        self.headers_supported = first.headers_supported
        self.eject_after = max(1, eject_after)
        self.eject_for = eject_for
        self.max_eject_for = max_eject_for
        # Ejections in a row back off with the project's one formula, without jitter.
        self._ejection = RetryPolicy(backoff=eject_for, max_backoff=max_eject_for, jitter=False)
        self._turn = itertools.count()  # next() is atomic: no lock per call
        self._lock = threading.Lock()

    # -- state -------------------------------------------------------------------------

    @property
    def pools(self) -> list[ThriftConnectionPool]:
        """The per-endpoint pools, in configuration order."""
        return [site.pool for site in self._sites]

    @property
    def checkedout(self) -> int:
        """Connections checked out, over all endpoints."""
        return sum(site.pool.checkedout for site in self._sites)

    @property
    def idle(self) -> int:
        """Idle connections, over all endpoints."""
        return sum(site.pool.idle for site in self._sites)

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot, over all endpoints."""
        return sum(site.pool.waiting for site in self._sites)

    def ejected(self) -> list[str]:
        """Endpoints currently skipped because they kept failing."""
        now = time.monotonic()
        return [str(s.pool.endpoint) for s in self._sites if s.ejected_until > now]

    def __repr__(self) -> str:
        parts = "; ".join(
            f"{site.pool.endpoint} in_use={site.pool.checkedout} idle={site.pool.idle}"
            + (" ejected" if site.ejected_until > time.monotonic() else "")
            for site in self._sites
        )
        return f"<MultiEndpointPool {parts}>"

    def adopt_name(self, name: str) -> None:
        """Take ``name`` for every endpoint's pool (see the pool's ``adopt_name``)."""
        if self._named:
            return
        self._named = True
        self.name = name
        for site in self._sites:
            site.pool.adopt_name(name)

    def close(self) -> None:
        """Close every idle connection of every endpoint."""
        for site in self._sites:
            site.pool.close()

    # -- checkout and checkin ------------------------------------------------------------

    def _order(self, now: float) -> list[_Site]:
        sites = self._sites
        start = next(self._turn) % len(sites)
        turn = sites[start:] + sites[:start]
        healthy = [s for s in turn if s.ejected_until <= now]
        # Prefer hosts with a slot free now, so nobody waits on a busy host while
        # another is idle; ejected hosts come last.
        ready = [s for s in healthy if s.pool.checkedout < s.pool.size]
        busy = [s for s in healthy if s.pool.checkedout >= s.pool.size]
        ejected = sorted((s for s in turn if s.ejected_until > now), key=lambda s: s.ejected_until)
        return ready + busy + ejected

    def checkout(
        self,
        deadline: float | None = None,
        start: float | None = None,
        *,
        timed: bool = True,
        method: str = "",
    ) -> Connection:
        """Take a connection from the next endpoint in turn (see the pool's checkout)."""
        if start is None:
            start = time.monotonic()
        if deadline is None:
            deadline = start + self.timeout
        last: Exception | None = None
        for site in self._order(start):
            if last is not None and time.monotonic() >= deadline:
                break
            try:
                return site.pool.checkout(deadline, start, timed=timed, method=method)
            except ConnectFailedError as exc:
                self._failed(site)
                last = exc
            except PoolExhaustedError as exc:
                last = exc
        assert last is not None
        raise last

    def checkin(self, conn: Connection, reusable: bool) -> None:
        """Give a connection back to its endpoint's pool, tracking that host's health."""
        # By the pool that made it, not by endpoint text: an endpoint may be listed twice.
        site = self._by_pool[id(conn.pool)]
        reusable = reusable and not conn.channel.awaiting  # a swallowed failure counts
        if reusable:
            if site.failures or site.ejections:
                with self._lock:
                    site.failures = site.ejections = 0
                    site.ejected_until = 0.0
        else:
            self._failed(site)
        site.pool.checkin(conn, reusable)

    def _failed(self, site: _Site) -> None:
        with self._lock:
            site.failures += 1
            if site.failures >= self.eject_after:
                pause = self._ejection.pause(site.ejections + 1)
                site.ejected_until = time.monotonic() + pause
                site.ejections += 1
                site.failures = 0

    def connection(self) -> Lease:
        """Check out a connection for a ``with`` block (see the pool's ``connection``)."""
        return Lease(self)
