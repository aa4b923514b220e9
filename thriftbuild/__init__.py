"""thriftbuild: Apache Thrift for Python teams, from IDL to production.

Public names are imported lazily (PEP 562), so ``import thriftbuild`` from the
build side pulls in neither the runtime nor thrift, and the runtime never pulls in
setuptools.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thriftbuild.client import (
        ClientContext,
        PooledClientProxy,
        ThriftClient,
        ThriftContextFactory,
        configure_context,
    )
    from thriftbuild.config import Endpoint, EndpointConfiguration, InternetAddress, Timespan
    from thriftbuild.errors import (
        CallTimeoutError,
        ClientConfigError,
        ConnectFailedError,
        ConnectionLostError,
        PoolExhaustedError,
        ResponseMismatchError,
        RetriesExhaustedError,
        ThriftClientError,
    )
    from thriftbuild.pool import ThriftConnectionPool, thrift_pool_from_config
    from thriftbuild.retry import RetryPolicy

__version__ = "0.1.0"

_LAZY = {
    "CallTimeoutError": "thriftbuild.errors",
    "ClientConfigError": "thriftbuild.errors",
    "ConnectFailedError": "thriftbuild.errors",
    "ConnectionLostError": "thriftbuild.errors",
    "PoolExhaustedError": "thriftbuild.errors",
    "ResponseMismatchError": "thriftbuild.errors",
    "RetriesExhaustedError": "thriftbuild.errors",
    "ThriftClientError": "thriftbuild.errors",
    "ClientContext": "thriftbuild.client",
    "PooledClientProxy": "thriftbuild.client",
    "ThriftClient": "thriftbuild.client",
    "ThriftContextFactory": "thriftbuild.client",
    "configure_context": "thriftbuild.client",
    "Endpoint": "thriftbuild.config",
    "EndpointConfiguration": "thriftbuild.config",
    "InternetAddress": "thriftbuild.config",
    "Timespan": "thriftbuild.config",
    "ThriftConnectionPool": "thriftbuild.pool",
    "thrift_pool_from_config": "thriftbuild.pool",
    "RetryPolicy": "thriftbuild.retry",
}


__all__ = [
    "CallTimeoutError",
    "ClientConfigError",
    "ClientContext",
    "ConnectFailedError",
    "ConnectionLostError",
    "Endpoint",
    "EndpointConfiguration",
    "InternetAddress",
    "PoolExhaustedError",
    "PooledClientProxy",
    "ResponseMismatchError",
    "RetriesExhaustedError",
    "RetryPolicy",
    "ThriftClient",
    "ThriftClientError",
    "ThriftConnectionPool",
    "ThriftContextFactory",
    "Timespan",
    "__version__",
    "configure_context",
    "thrift_pool_from_config",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'thriftbuild' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
