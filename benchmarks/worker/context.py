"""What a client process is told: the row's parameters, as one JSON object."""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
import types
from typing import Any


@dataclasses.dataclass
class Context:
    """Parameters of one measurement, passed from the harness to a client process.

    Attributes:
        factory: ``module:function`` making the client (see ``sync_clients``).
        mode: ``threads`` (blocking calls from ``threads`` threads), ``async``
            (``tasks`` tasks over ``connections`` connections on ``loop``), or
            ``load`` (``connections`` raw clients of a server row, a thread each,
            each counting its own calls).
        port: the server's port on 127.0.0.1.
        op: ``ping`` or ``echo`` (``echo_bytes`` with ``size`` bytes).
        protocol: ``binary`` or ``compact``; transport: ``buffered``, ``framed``
            or ``header``.
        duration: seconds measured; warmup: seconds of calls before that;
            max_calls: a bound on the calls measured, whatever the duration.
        gen: directory holding the generated ``echo_thrift`` package; idl: the
            ``echo.thrift`` file (for thriftpy2).
        cpus: CPUs this process is placed on (empty: leave as inherited).
        server_pid: the server's pid, for CPU-per-call accounting (``profile``).
        profile: also run a cProfile window and return its top list.
    """

    factory: str
    mode: str = "threads"
    port: int = 0
    op: str = "ping"
    size: int = 0
    protocol: str = "binary"
    transport: str = "buffered"
    threads: int = 1
    tasks: int = 1
    connections: int = 1
    loop: str = "asyncio"
    duration: float = 1.0
    warmup: float = 0.2
    max_calls: int = 2_000_000
    gen: str = ""
    idl: str = ""
    cpus: list[int] = dataclasses.field(default_factory=list)
    server_pid: int = 0
    profile: bool = False

    @classmethod
    def from_json(cls, text: str) -> Context:
        """Parse the JSON object the harness passed on the command line."""
        data = json.loads(text)
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown context keys: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        """The JSON object :meth:`from_json` reads back."""
        return json.dumps(dataclasses.asdict(self))

    def echo_module(self) -> types.ModuleType:
        """The generated ``Echo`` service module (Apache's API, built by thriftbuild)."""
        if self.gen not in sys.path:
            sys.path.insert(0, self.gen)
        return importlib.import_module("echo_thrift.Echo")

    def resolve(self) -> Any:
        """The factory function named by :attr:`factory`."""
        module, _, name = self.factory.partition(":")
        return getattr(importlib.import_module(module), name)
