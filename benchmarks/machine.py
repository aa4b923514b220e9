"""The machine a run measured, and CPU placement of processes."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from pathlib import Path

from benchmarks.registry import Placement
from benchmarks.worker.measure import process_cpu


def allowed_cpus() -> list[int]:
    """CPUs this process may run on."""
    return sorted(os.sched_getaffinity(0))


def pinned_cpu() -> int:
    """The CPU pinned rows use: the last allowed one (CPU 0 takes most interrupts)."""
    return allowed_cpus()[-1]


def cpus_for(placement: Placement) -> list[int]:
    """The CPU set for every process of a measurement with this placement."""
    return [pinned_cpu()] if placement is Placement.PINNED else allowed_cpus()


def _session_members(sid: int) -> list[int]:
    """Every process in session ``sid`` (a server and all it forked)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[3]) == sid:  # the fields after the name: state, ppid, pgrp, session
            members.append(int(entry.name))
    return members or [sid]


def session_cpu(sid: int) -> float:
    """CPU seconds used so far by the live processes of session ``sid`` (a server)."""
    total = 0.0
    for member in _session_members(sid):
        with contextlib.suppress(OSError):  # ended meanwhile
            total += process_cpu(member)
    return total


def place(pid: int, cpus: list[int]) -> None:
    """Move every thread of every process in ``pid``'s session onto ``cpus``.

    Servers start in a session of their own, so this covers the processes they
    forked; threads and processes made later inherit the placement.
    """
    for member in _session_members(pid):
        tasks = Path(f"/proc/{member}/task")
        try:
            tids = [int(t.name) for t in tasks.iterdir()]
        except OSError:
            continue
        for tid in tids:
            with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
                os.sched_setaffinity(tid, cpus)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown memory"


def describe() -> dict[str, str]:
    """What the report says about the machine."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "cpu": _cpu_model(),
        "cpus": f"{os.cpu_count()} online, allowed {allowed_cpus()}, pinned rows on {pinned_cpu()}",
        "memory": _memory(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "load": f"load average at start {load}",
    }


def one_line(machine: dict[str, str]) -> str:
    return "; ".join(machine[k] for k in ("cpu", "cpus", "memory", "os", "python", "load"))
