"""Pieces shared by scenario modules."""

from __future__ import annotations

import importlib.util

from benchmarks.procs import compile_echo_server
from benchmarks.registry import SERVERS, Contender, Role, ServerSpec

OPS = (("ping", 0, "ping"), ("echo", 1024, "echo-1k"), ("echo", 65536, "echo-64k"))
OP_TITLES = {
    "ping": "ping",
    "echo-1k": "1 KiB echo",
    "echo-64k": "64 KiB echo",
    "echo-1k-string": "1 KiB string echo",
}

# The C echo server (benchmarks/echo_server.c): every client row calls it, so the
# rows compare client cost. It speaks every wire format the rows use.
SERVERS["c-echo"] = ServerSpec(
    ("{workdir}/echo_server", "{port}"), ready_transport="buffered", prepare=compile_echo_server
)


def importable(module: str) -> bool:
    """Whether ``module`` exists in this checkout (rows for code not written yet wait)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# What each of ours' client factories imports: ``--baseline REV`` runs it at REV
# first and skips the rows of a factory whose imports REV lacks.
SYNC_REQUIRES = "from thriftbuild import ThriftClient, configure_context"
AIO_REQUIRES = "from thriftbuild import aio"


def sync_client(
    name: str, role: Role, env: str, factory: str, requires: str | None = None
) -> Contender:
    spec = {"factory": f"benchmarks.worker.sync_clients:{factory}"}
    if requires:
        spec["requires"] = requires
    return Contender(name, role, env, spec)


def async_client(
    name: str, role: Role, env: str, factory: str, requires: str | None = None
) -> Contender:
    spec = {"factory": f"benchmarks.worker.async_clients:{factory}"}
    if requires:
        spec["requires"] = requires
    return Contender(name, role, env, spec)
