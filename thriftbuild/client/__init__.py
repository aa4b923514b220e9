"""The blocking client runtime (threads, gevent): pools, the proxy, config keys.

Everything here sits on :mod:`thriftbuild.wire` (framing, heads, checks) and
:mod:`thriftbuild.service`; the socket I/O is in :mod:`thriftbuild.client.channel`.
"""

from __future__ import annotations

from thriftbuild.client.base import Connection, Lease, Pool, is_idl_exception
from thriftbuild.client.multi import MultiEndpointPool, parse_endpoints
from thriftbuild.client.pool import ThriftConnectionPool
from thriftbuild.client.proxy import (
    ClientContext,
    PooledClientProxy,
    ThriftClient,
    ThriftContextFactory,
    configure_context,
)
from thriftbuild.client.settings import thrift_pool_from_config

__all__ = [
    "ClientContext",
    "Connection",
    "Lease",
    "MultiEndpointPool",
    "Pool",
    "PooledClientProxy",
    "ThriftClient",
    "ThriftConnectionPool",
    "ThriftContextFactory",
    "configure_context",
    "is_idl_exception",
    "parse_endpoints",
    "thrift_pool_from_config",
]
