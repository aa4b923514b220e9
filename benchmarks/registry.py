"""The scenario registry: rows, their contenders, their targets.

A *row* is one line of the results table: one workload (``sync/ping/1conn/binary``)
measured for several *contenders* — the floor, ours, and peers — in the same rounds.
Scenario modules call :func:`register` at import time; :mod:`benchmarks.scenarios`
imports them all. See ``benchmarks/README.md`` for how to add one.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any


class Role(enum.Enum):
    """What a contender is to its row."""

    FLOOR = "floor"  # the raw cost of the workload: no library at all
    OURS = "ours"
    PEER = "peer"
    BASELINE = "baseline"  # ours at an earlier revision (``--baseline REV``)


class Metric(enum.Enum):
    """What a measurement is, and which way is better."""

    RATE = "calls/s"  # higher is better
    SECONDS = "s"  # lower is better

    def speed(self, value: float) -> float:
        """A number where higher is better, so ratios read the same for both."""
        return value if self is Metric.RATE else 1.0 / value


class Placement(enum.Enum):
    """Where client and server processes run.

    ``PINNED``: every process of the measurement on one CPU, so a sequential
    ping-pong pays no cross-CPU wake-up and the rate is the whole CPU cost per call.
    ``UNPINNED``: the scheduler places processes on every CPU (concurrent rows).
    """

    PINNED = "pinned to one CPU"
    UNPINNED = "unpinned"


@dataclasses.dataclass(frozen=True)
class Contender:
    """One way of doing a row's work.

    Attributes:
        name: shown in the table (``apache``, ``thriftpy2 cybin``, ``ours``).
        role: floor, ours or peer.
        env: ``project`` (this checkout's environment) or a peer virtualenv named
            in :data:`benchmarks.peers.PEERS`.
        spec: what the row's runner needs (a client factory, a server command, a
            build command); each runner documents its keys.
    """

    name: str
    role: Role
    env: str = "project"
    spec: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Target:
    """A goal for ours, reported (never asserted): ours ≥ ``at_least`` x ``versus``.

    Ratios are of speeds (calls/s, or 1/seconds), so ``at_least=0.91`` against a
    plain build means "at most 10% slower". ``max_starved`` also bounds ours'
    starved clients on server rows.
    """

    versus: str
    at_least: float
    max_starved: int | None = None

    def describe(self) -> str:
        text = f"≥ {self.at_least:g}x {self.versus}"
        if self.max_starved is not None:
            text += f", ≤ {self.max_starved} starved"
        return text


@dataclasses.dataclass(frozen=True)
class Row:
    """One workload and everything measured for it.

    Attributes:
        id: slash-separated, stable (``sync/echo-1k/8threads/header``);
            ``--only`` matches it.
        title: the table's wording.
        runner: which runner measures it (``client``, ``server``, ``build``;
            :data:`benchmarks.runner.RUNNERS`).
        metric: calls/s or seconds.
        placement: CPU placement of every process of a measurement.
        contenders: at most one floor and one ``ours``, any number of peers.
        targets: goals for ours, marked in the table when missed.
        params: the runner's parameters for the row (op, threads, ...).
    """

    id: str
    title: str
    runner: str
    metric: Metric
    placement: Placement
    contenders: tuple[Contender, ...]
    targets: tuple[Target, ...] = ()
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [c.name for c in self.contenders]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.id}: contender names repeat: {names}")
        for role in (Role.FLOOR, Role.OURS, Role.BASELINE):
            if sum(c.role is role for c in self.contenders) > 1:
                raise ValueError(f"{self.id}: more than one {role.value}")
        for target in self.targets:
            if target.versus not in names:
                raise ValueError(f"{self.id}: target against unknown {target.versus!r}")

    def by_role(self, role: Role) -> list[Contender]:
        return [c for c in self.contenders if c.role is role]

    def one(self, role: Role) -> Contender | None:
        found = self.by_role(role)
        return found[0] if found else None


@dataclasses.dataclass(frozen=True)
class ServerSpec:
    """How to start a server process: ``argv`` run in ``env`` with ``extra_env``.

    ``argv`` may hold ``{python}``, ``{bin}`` (the env's scripts), ``{port}``,
    ``{gen}``, ``{idl}``, ``{root}`` and ``{workdir}``. The server is ready when a
    ``ping`` in ``ready_protocol`` / ``ready_transport`` gets the right reply.
    ``prepare``, if given, runs once per run (with the work directory) before the
    first start, e.g. to compile the server.
    """

    argv: tuple[str, ...]
    env: str = "project"
    extra_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    ready_protocol: str = "binary"
    ready_transport: str = "framed"
    prepare: Callable[[Path], object] | None = None


# Long-lived servers shared by client rows (``params["server"]`` names one).
SERVERS: dict[str, ServerSpec] = {}

# Workspace preparers of build rows (``params["prepare"]`` names one): called once
# per run with the run's work directory, they return placeholder values for the
# rows' command lines (a list value is spliced in where its placeholder stands alone).
PREPARERS: dict[str, Callable[[Path], dict[str, list[str] | str]]] = {}

ROWS: dict[str, Row] = {}


def register(row: Row) -> Row:
    """Add ``row`` to the suite (ids are unique)."""
    if row.id in ROWS:
        raise ValueError(f"row {row.id!r} registered twice")
    ROWS[row.id] = row
    return row


def select(pattern: str | None, rows: Iterable[Row] | None = None) -> list[Row]:
    """Rows whose id matches the regular expression ``pattern`` (all for None)."""
    pool = list(ROWS.values() if rows is None else rows)
    if not pattern:
        return pool
    regex = re.compile(pattern)
    return [row for row in pool if regex.search(row.id)]
