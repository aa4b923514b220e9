"""Measuring: the runners of each kind of row, and the rounds loop.

Every round measures every selected row, each row's contenders in an order rotated
by one each round (so none always runs first after another row). Round 0 is the
warm-up (half the duration) and never enters the statistics.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks import machine
from benchmarks.procs import (
    ROOT,
    MeasurementError,
    RunningServer,
    Workspace,
    child_env,
    run_load_clients,
    run_worker,
    start_server,
)
from benchmarks.registry import PREPARERS, SERVERS, Contender, Row, ServerSpec
from benchmarks.worker.context import Context

Measurement = dict[str, Any]  # {"value": float, ...extra} or {"error": str}


@dataclasses.dataclass
class Settings:
    rounds: int = 5
    duration: float = 1.0
    warmup: float = 0.2
    max_calls: int = 2_000_000


@dataclasses.dataclass
class RunState:
    """What outlives one measurement: the workspace, servers, prepared builds."""

    space: Workspace
    settings: Settings
    servers: dict[str, RunningServer] = dataclasses.field(default_factory=dict)
    prepared: dict[str, dict[str, list[str] | str]] = dataclasses.field(default_factory=dict)
    setups_done: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    servers_prepared: set[object] = dataclasses.field(default_factory=set)

    def server(self, key: str, spec: ServerSpec) -> RunningServer:
        """The server ``key``, started on first use and kept for the run."""
        if key not in self.servers:
            if spec.prepare is not None and spec.prepare not in self.servers_prepared:
                spec.prepare(self.space.workdir)
                self.servers_prepared.add(spec.prepare)
            self.servers[key] = start_server(key, spec, self.space)
        return self.servers[key]

    def stop_servers(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()


def _context(
    row: Row, contender: Contender, state: RunState, duration: float, port: int
) -> Context:
    params = {k: v for k, v in row.params.items() if k != "server"}
    return Context(
        factory=contender.spec["factory"],
        port=port,
        duration=duration,
        warmup=state.settings.warmup,
        max_calls=state.settings.max_calls,
        gen=str(state.space.gen),
        idl=str(ROOT / "fixtures" / "services" / "echo.thrift"),
        cpus=machine.cpus_for(row.placement),
        **params,
    )


def measure_client(row: Row, contender: Contender, state: RunState, duration: float) -> Measurement:
    """A client row: the contender's client in one process against a shared server.

    Contender spec: ``factory`` (``module:function`` in ``benchmarks.worker``).
    Row params: ``server`` (a key of :data:`~benchmarks.registry.SERVERS`) and the
    :class:`~benchmarks.worker.context.Context` fields (mode, op, threads, ...).
    """
    server = state.server(row.params["server"], SERVERS[row.params["server"]])
    cpus = machine.cpus_for(row.placement)
    machine.place(server.pid, cpus)
    ctx = _context(row, contender, state, duration, server.port)
    python = state.space.python(contender.env)
    result = run_worker(python, ctx, timeout=state.settings.warmup + duration + 120)
    return {"value": result["rate"], "calls": result["calls"], "cpu": result["cpu"]}


def measure_server(row: Row, contender: Contender, state: RunState, duration: float) -> Measurement:
    """A server row: ``clients`` raw clients, each on one persistent connection, in
    ``client_processes`` processes (a thread per client).

    Contender spec: ``server`` (a :class:`~benchmarks.registry.ServerSpec`), kept
    running for the whole run and shared by every row that runs the same one. Row
    params: ``clients``, ``client_processes``, ``op``, ``size``, ``protocol``,
    ``transport``. The value is the clients' total calls/s; ``starved`` counts the
    clients that made under a tenth of their fair share (issue 12's definition);
    ``server_cpu_per_call``, the CPU seconds the server's processes used per call
    (what sets throughput where the clients need CPU too, as on a small machine).
    """
    spec: ServerSpec = contender.spec["server"]
    # Rows running the same server (ping and echo rows) share one process tree.
    key = f"{contender.name} {spec.env} {spec.argv} {sorted(spec.extra_env.items())}"
    server = state.server(key, spec)
    clients, processes = int(row.params["clients"]), int(row.params["client_processes"])
    cpus = machine.cpus_for(row.placement)
    machine.place(server.pid, cpus)
    base = Context(
        factory="",
        mode="load",
        port=server.port,
        op=row.params["op"],
        size=int(row.params["size"]),
        protocol=row.params["protocol"],
        transport=row.params["transport"],
        duration=duration,
        max_calls=state.settings.max_calls,
        cpus=cpus,
    )
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    contexts = [dataclasses.replace(base, connections=n) for n in shares]
    python = state.space.python("project")
    cpu = machine.session_cpu(server.pid)
    results = run_load_clients(python, contexts, state.settings.warmup, timeout=duration + 60)
    cpu = machine.session_cpu(server.pid) - cpu
    calls = [int(c) for r in results for c in r["per_connection"]]
    return {
        "value": sum(calls) / duration,
        "starved": starved(calls),
        "per_client": calls,
        # Over the clients' whole run (connecting and warm-up too): a slight excess.
        "server_cpu_per_call": cpu / max(1, sum(calls)),
    }


def starved(calls: list[int]) -> int:
    """How many clients made under a tenth of the fair share (total / clients)."""
    fair = sum(calls) / len(calls) if calls else 0.0
    return sum(1 for c in calls if c < fair / 10)


def _expand(argv: tuple[str, ...], values: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for arg in argv:
        key = arg[1:-1] if arg.startswith("{") and arg.endswith("}") else None
        if key is not None and isinstance(values.get(key), list):
            out.extend(values[key])
        else:
            out.append(arg.format(**values))
    return out


def _run_timed(argv: list[str], cwd: str, cpus: list[int]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise MeasurementError(f"{' '.join(argv[:6])}... failed:\n{done.stderr[-2000:]}")
    return elapsed


def measure_build(row: Row, contender: Contender, state: RunState, duration: float) -> Measurement:
    """A build row: one command, timed, in a fresh ``{tmp}`` directory.

    Contender spec: ``argv``; optional ``setup`` (run once per run before the first
    timed run, e.g. the first of two builds) and ``cwd``. Row params: ``prepare``
    (a key of :data:`~benchmarks.registry.PREPARERS`, whose values fill the
    placeholders).
    """
    name = row.params["prepare"]
    if name not in state.prepared:
        state.prepared[name] = PREPARERS[name](state.space.workdir)
    python = state.space.python(contender.env)
    values: dict[str, Any] = {**state.prepared[name], "python": str(python), "root": str(ROOT)}
    cpus = machine.cpus_for(row.placement)
    with tempfile.TemporaryDirectory(dir=state.space.workdir) as tmp:
        values["tmp"] = tmp
        cwd = str(contender.spec.get("cwd", "{root}")).format(**values)
        key = (row.id, contender.name)
        if "setup" in contender.spec and key not in state.setups_done:
            _run_timed(_expand(contender.spec["setup"], values), cwd, cpus)
            state.setups_done.add(key)
        return {"value": _run_timed(_expand(contender.spec["argv"], values), cwd, cpus)}


RUNNERS: dict[str, Callable[[Row, Contender, RunState, float], Measurement]] = {
    "client": measure_client,
    "server": measure_server,
    "build": measure_build,
}


def _rotated(items: tuple[Contender, ...], by: int) -> list[Contender]:
    shift = by % len(items) if items else 0
    return list(items[shift:] + items[:shift])


def _short(measurement: Measurement) -> str:
    if "error" in measurement:
        return "error"
    value = measurement["value"]
    text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    if "starved" in measurement:
        text += f" ({measurement['starved']} starved)"
    return text


def run_rounds(rows: list[Row], state: RunState) -> dict[str, dict[str, list[Measurement]]]:
    """Every row, every contender, warm-up plus ``rounds`` rounds; all measurements."""
    results: dict[str, dict[str, list[Measurement]]] = {
        row.id: {c.name: [] for c in row.contenders} for row in rows
    }
    total = state.settings.rounds
    for round_no in range(total + 1):
        duration = state.settings.duration / 2 if round_no == 0 else state.settings.duration
        label = "warm-up" if round_no == 0 else f"round {round_no}/{total}"
        for row in rows:
            cells = []
            for contender in _rotated(row.contenders, round_no):
                try:
                    measurement = RUNNERS[row.runner](row, contender, state, duration)
                except MeasurementError as exc:
                    measurement = {"error": str(exc)}
                    print(f"  ! {row.id} / {contender.name}: {exc}", file=sys.stderr)
                measurement["round"] = round_no
                results[row.id][contender.name].append(measurement)
                cells.append(f"{contender.name} {_short(measurement)}")
            print(f"[{label}] {row.id}: " + "; ".join(cells), flush=True)
    return results
