"""``python -m benchmarks``: run the suite, print and write the results."""

from __future__ import annotations

import argparse
import datetime
import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from benchmarks import baseline, machine, peers, report
from benchmarks.procs import MeasurementError, Workspace
from benchmarks.registry import ROWS, Role, Row, select
from benchmarks.runner import RunState, Settings, run_rounds
from benchmarks.scenarios import load_all


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="thriftbuild against its peers and a floor, interleaved over rounds.",
    )
    parser.add_argument("--only", metavar="PATTERN", help="rows whose id matches this regex")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument(
        "--duration", type=float, default=1.0, help="seconds per client measurement (default 1)"
    )
    parser.add_argument(
        "--update-readme", action="store_true", help="write the table into README.md"
    )
    parser.add_argument("--profile", metavar="ROW", help="CPU per call and cProfile for one row")
    parser.add_argument("--contender", help="with --profile: which contender (default: ours)")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also measure ours at git revision REV (contender ours@REV, in a cached "
        "virtualenv of its own) in every client and server row whose API REV has",
    )
    return parser


def _list() -> None:
    for row in ROWS.values():
        names = ", ".join(f"{c.name} ({c.role.value}, {c.env})" for c in row.contenders)
        targets = "; ".join(t.describe() for t in row.targets) or "no target"
        print(f"{row.id}\n    {row.title} [{row.placement.value}]\n    {names}\n    {targets}")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    # SIGTERM's default action skips ``finally``: the servers, each in a session of
    # its own, would outlive the run.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = _parser().parse_args(argv)
    load_all()
    if args.list:
        _list()
        return 0
    rows = select(args.profile or args.only)
    if not rows:
        raise SystemExit(f"no row matches {args.profile or args.only!r} (see --list)")
    if args.profile and len(rows) != 1:
        raise SystemExit("--profile matches several rows: " + ", ".join(r.id for r in rows))
    if args.update_readme and (args.only or args.profile):
        raise SystemExit("--update-readme writes the whole suite's table: run it without --only")
    if args.update_readme and args.baseline:
        raise SystemExit("--update-readme writes ours against peers: run it without --baseline")
    earlier = baseline.resolve(args.baseline) if args.baseline else None
    if args.rounds < 1 or args.duration <= 0:
        raise SystemExit("--rounds must be at least 1 and --duration positive")

    described = machine.describe()
    print("machine: " + machine.one_line(described))
    workdir = Path(tempfile.mkdtemp(prefix="thriftbuild-bench-"))
    state = RunState(Workspace(workdir), Settings(rounds=args.rounds, duration=args.duration))
    try:
        state.space.generate_echo()
        if earlier is not None:
            rows = with_baseline(rows, earlier, state.space)
        if args.profile:
            from benchmarks.profiling import profile

            return profile(rows[0], args.contender, state)
        for row in rows:
            print(f"{row.id}: {row.placement.value}")
        started = _now()
        results = run_rounds(rows, state)
    finally:
        state.stop_servers()
        shutil.rmtree(workdir, ignore_errors=True)

    envs = sorted({c.env for row in rows for c in row.contenders if c.env in peers.PEERS})
    meta = {
        "command": "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv),
        "started": started,
        "finished": _now(),
        "machine": described,
        "settings": {"rounds": args.rounds, "duration": args.duration},
        "peers": {env: peers.versions(env) for env in envs},
        "unavailable": state.space.unavailable,
        "baseline": None if earlier is None else {"rev": earlier.rev, "sha": earlier.sha},
    }
    markdown = report.write(rows, results, meta)
    print()
    print(markdown)
    if args.update_readme:
        report.update_readme(markdown)
        print(f"README.md updated ({len(rows)} rows)")
    missing = [r.id for r in rows if r.one(Role.OURS) is None]
    if missing:
        print(f"rows without ours yet: {', '.join(missing)}")
    return 0


def with_baseline(rows: list[Row], earlier: baseline.Baseline, space: Workspace) -> list[Row]:
    """``rows`` with ``ours@REV`` beside ours where REV has the factory's API.

    Makes REV's virtualenv (cached), checks each factory's ``requires`` there, and
    prints every row left without the contender, with the reason.
    """
    try:
        python = space.python(earlier.env)
    except MeasurementError as exc:
        raise SystemExit(f"--baseline {earlier.rev}: {exc}") from exc
    unsupported = {}
    for statement in sorted(baseline.requirements(rows)):
        why = baseline.missing(python, statement)
        if why is not None:
            unsupported[statement] = why
    rows, skipped = baseline.add(rows, earlier, unsupported)
    for row_id, why in skipped.items():
        print(f"{row_id}: no {earlier.name}: {why}")
    return rows


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
