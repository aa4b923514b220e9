"""``--profile ROW``: where the time of one sequential client row goes.

Runs one contender (ours by default) of a client row against its server, both
pinned to one CPU: first a plain window for the CPU each side spends per call
(client process and server process, from the kernel's accounting), then a second
window under cProfile, whose top functions by own time are printed.
"""

from __future__ import annotations

from benchmarks import machine
from benchmarks.procs import MeasurementError, run_worker
from benchmarks.registry import SERVERS, Placement, Role, Row
from benchmarks.runner import RunState, _context


def profile(row: Row, contender_name: str | None, state: RunState) -> int:
    """Print CPU per call and the cProfile top list; exit status."""
    if row.runner != "client" or row.params.get("mode") != "threads":
        raise SystemExit(f"--profile needs a blocking client row, not {row.id}")
    if row.placement is not Placement.PINNED:
        raise SystemExit(f"--profile needs a sequential (pinned) row, not {row.id}")
    wanted = row.one(Role.OURS) if contender_name is None else None
    for contender in row.contenders:
        if contender.name == contender_name:
            wanted = contender
    if wanted is None:
        names = ", ".join(c.name for c in row.contenders)
        raise SystemExit(f"{row.id}: no contender {contender_name!r} (choose from {names})")
    server = state.server(row.params["server"], SERVERS[row.params["server"]])
    machine.place(server.pid, machine.cpus_for(row.placement))
    ctx = _context(row, wanted, state, state.settings.duration, server.port)
    ctx.server_pid, ctx.profile = server.pid, True
    try:
        result = run_worker(state.space.python(wanted.env), ctx, timeout=ctx.duration * 2 + 120)
    except MeasurementError as exc:
        raise SystemExit(str(exc)) from exc
    calls = result["calls"]
    print(
        f"{row.id} / {wanted.name}: {calls:,} calls in {result['seconds']:.2f} s "
        f"= {result['rate']:,.0f} calls/s, both on CPU {ctx.cpus}"
    )
    print(f"  client CPU per call: {result['cpu'] / calls * 1e6:8.2f} µs")
    print(f"  server CPU per call: {result['server_cpu'] / calls * 1e6:8.2f} µs")
    print(f"  wall time per call:  {result['seconds'] / calls * 1e6:8.2f} µs")
    print("\ncProfile, second window (client process), by own time:")
    print(result["top"])
    return 0
