"""thriftbuild: Apache Thrift for Python teams, from IDL to production.

Public names are resolved lazily, so ``import thriftbuild`` costs nothing and a
service never pulls in setuptools, nor a wheel build the runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    # build side
    "ThriftBuildPyCommand": "thriftbuild.codegen.commands",
    "BuildThriftCommand": "thriftbuild.codegen.commands",
    "generate_to_directory": "thriftbuild.codegen.generate",
    "ThriftBuildError": "thriftbuild.codegen.errors",
    # runtime side
    "CallTimeoutError": "thriftbuild.errors",
    "ClientConfigError": "thriftbuild.errors",
    "ConnectFailedError": "thriftbuild.errors",
    "ConnectionLostError": "thriftbuild.errors",
    "PoolExhaustedError": "thriftbuild.errors",
    "ProtocolError": "thriftbuild.errors",
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
    "ThriftConnectionPool": "thriftbuild.client",
    "MultiEndpointPool": "thriftbuild.client",
    "thrift_pool_from_config": "thriftbuild.client",
    "RetryPolicy": "thriftbuild.retry",
}

__all__ = [
    "BuildThriftCommand",
    "CallTimeoutError",
    "ClientConfigError",
    "ClientContext",
    "ConnectFailedError",
    "ConnectionLostError",
    "Endpoint",
    "EndpointConfiguration",
    "InternetAddress",
    "MultiEndpointPool",
    "PoolExhaustedError",
    "PooledClientProxy",
    "ProtocolError",
    "ResponseMismatchError",
    "RetriesExhaustedError",
    "RetryPolicy",
    "ThriftBuildError",
    "ThriftBuildPyCommand",
    "ThriftClient",
    "ThriftClientError",
    "ThriftConnectionPool",
    "ThriftContextFactory",
    "Timespan",
    "__version__",
    "configure_context",
    "generate_to_directory",
    "thrift_pool_from_config",
]

if TYPE_CHECKING:
    from thriftbuild.client import (
        ClientContext,
        MultiEndpointPool,
        PooledClientProxy,
        ThriftClient,
        ThriftConnectionPool,
        ThriftContextFactory,
        configure_context,
        thrift_pool_from_config,
    )
    from thriftbuild.codegen.commands import BuildThriftCommand, ThriftBuildPyCommand
    from thriftbuild.codegen.errors import ThriftBuildError
    from thriftbuild.codegen.generate import generate_to_directory
    from thriftbuild.config import Endpoint, EndpointConfiguration, InternetAddress, Timespan
    from thriftbuild.errors import (
        CallTimeoutError,
        ClientConfigError,
        ConnectFailedError,
        ConnectionLostError,
        PoolExhaustedError,
        ProtocolError,
        ResponseMismatchError,
        RetriesExhaustedError,
        ThriftClientError,
    )
    from thriftbuild.retry import RetryPolicy


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'thriftbuild' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
