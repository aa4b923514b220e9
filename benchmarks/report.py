"""Results: statistics, ``results/latest.json``, the markdown tables, the README block.

Ratios are of speeds (calls/s, or 1/seconds for build rows), so above 1 always means
ours is faster. They are *paired*: for each round, ours over the other contender in
that same round, then the median over rounds, which cancels most of a shared
machine's drift between rounds.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks.registry import Metric, Role, Row

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- benchmarks:begin (written by `python -m benchmarks --update-readme`) -->"
END = "<!-- benchmarks:end -->"

Measurements = dict[str, list[dict[str, Any]]]


def _values(measurements: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Measured rounds (not the warm-up) that succeeded, by round number."""
    return {m["round"]: m for m in measurements if m["round"] > 0 and "error" not in m}


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _paired(row: Row, results: Measurements, ours: str, other: str) -> dict[str, Any] | None:
    mine, theirs = _values(results[ours]), _values(results[other])
    ratios = [
        row.metric.speed(mine[r]["value"]) / row.metric.speed(theirs[r]["value"])
        for r in sorted(mine.keys() & theirs.keys())
    ]
    spread = _spread(ratios)
    return None if spread is None else {**spread, "rounds": ratios}


def summarize(row: Row, results: Measurements) -> dict[str, Any]:
    """Per contender: median and min-max; for ours: paired ratios to the floor, to
    the best peer (fewest starved clients, then the best median), and to each
    target's contender."""
    contenders: dict[str, Any] = {}
    for contender in row.contenders:
        good = _values(results[contender.name])
        stats = _spread([m["value"] for m in good.values()])
        starved = [m["starved"] for m in good.values() if "starved" in m]
        server_cpu = _spread(
            [m["server_cpu_per_call"] for m in good.values() if "server_cpu_per_call" in m]
        )
        contenders[contender.name] = {
            "role": contender.role.value,
            "stats": stats,
            "starved_max": max(starved) if starved else None,
            "server_cpu_per_call": None if server_cpu is None else server_cpu["median"],
            "errors": sum(1 for m in results[contender.name] if "error" in m),
        }
    peers = [c.name for c in row.by_role(Role.PEER) if contenders[c.name]["stats"] is not None]
    # The best peer serves everyone first (fewest starved clients), then fastest.
    best = min(
        peers,
        key=lambda n: (
            contenders[n]["starved_max"] or 0,
            -row.metric.speed(contenders[n]["stats"]["median"]),
        ),
        default=None,
    )
    floor, ours = row.one(Role.FLOOR), row.one(Role.OURS)
    summary: dict[str, Any] = {"contenders": contenders, "best_peer": best, "targets": []}
    if ours is None or contenders[ours.name]["stats"] is None:
        summary["targets"] = [
            {"target": t.describe(), "met": None, "ratio": None} for t in row.targets
        ]
        return summary
    if floor is not None:
        summary["vs_floor"] = _paired(row, results, ours.name, floor.name)
    if best is not None:
        summary["vs_best_peer"] = _paired(row, results, ours.name, best)
    earlier = row.one(Role.BASELINE)
    if earlier is not None:
        summary["baseline"] = earlier.name
        summary["vs_baseline"] = _paired(row, results, ours.name, earlier.name)
    for target in row.targets:
        paired = _paired(row, results, ours.name, target.versus)
        ratio = None if paired is None else paired["median"]
        met = None if ratio is None else ratio >= target.at_least
        starved = contenders[ours.name]["starved_max"]
        if met and target.max_starved is not None and starved is not None:
            met = starved <= target.max_starved
        summary["targets"].append({"target": target.describe(), "met": met, "ratio": ratio})
    return summary


def _number(metric: Metric, value: float) -> str:
    if metric is Metric.SECONDS:
        return f"{value:.2f} s"
    return f"{value:,.0f}/s"


def _cell(row: Row, summary: dict[str, Any], name: str, spread: bool = True) -> str:
    data = summary["contenders"][name]
    if data["stats"] is None:
        return "error" if data["errors"] else "—"
    stats = data["stats"]
    text = _number(row.metric, stats["median"])
    if spread:
        text += f" ({_number(row.metric, stats['min'])}-{_number(row.metric, stats['max'])})"
    if data["starved_max"] is not None:
        text += f", {data['starved_max']} starved"
    if data.get("server_cpu_per_call") is not None:
        text += f", server {data['server_cpu_per_call'] * 1e6:.0f} µs CPU/call"
    return text


def _ours_cell(row: Row, summary: dict[str, Any], name: str) -> str:
    cell = _cell(row, summary, name)
    return cell if name == "ours" else f"{name}: {cell}"


def _ratio(paired: dict[str, Any] | None) -> str:
    if not paired:
        return "—"
    return f"{paired['median']:.2f}x ({paired['min']:.2f}-{paired['max']:.2f})"


def _targets(summary: dict[str, Any]) -> str:
    parts = []
    for target in summary["targets"]:
        if target["met"] is None:
            parts.append(f"{target['target']}: not measured")
        elif target["met"]:
            parts.append(f"{target['target']} ✓")
        else:
            parts.append(f"**{target['target']} ✗ missed** ({target['ratio']:.2f}x)")
    return "<br>".join(parts) or "—"


def summary_table(rows: list[Row], summaries: dict[str, dict[str, Any]]) -> str:
    """One line per row: ours, the floor, the best peer, paired ratios, targets; and
    ours over ours at an earlier revision when a row has that contender."""
    names = sorted({c.name for row in rows for c in row.by_role(Role.BASELINE)})
    earlier = [f"ours ÷ {' / '.join(names)}"] if names else []
    columns = [
        "scenario",
        "placement",
        "ours: median (min-max)",
        "floor",
        "ours ÷ floor",
        "best peer",
        "ours ÷ best peer",
        *earlier,
        "targets",
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        summary = summaries[row.id]
        ours, floor, best = row.one(Role.OURS), row.one(Role.FLOOR), summary["best_peer"]
        cells = [
            row.title,
            row.placement.value,
            _ours_cell(row, summary, ours.name) if ours else "— (not built yet)",
            f"{floor.name}: {_cell(row, summary, floor.name, spread=False)}" if floor else "—",
            _ratio(summary.get("vs_floor")),
            f"{best}: {_cell(row, summary, best, spread=False)}" if best else "—",
            _ratio(summary.get("vs_best_peer")),
        ]
        if earlier:
            cells.append(_ratio(summary.get("vs_baseline")))
        cells.append(_targets(summary))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def full_table(rows: list[Row], summaries: dict[str, dict[str, Any]]) -> str:
    """Every contender of every row: median (min-max) over rounds."""
    lines = ["| scenario | contender | role | median (min-max) |", "|---|---|---|---|"]
    for row in rows:
        for contender in row.contenders:
            cell = _cell(row, summaries[row.id], contender.name)
            lines.append(f"| {row.id} | {contender.name} | {contender.role.value} | {cell} |")
    return "\n".join(lines)


def failures(rows: list[Row], results: dict[str, Measurements]) -> str:
    """Why measurements failed: one line per row and contender, with how many
    failed and the first error's first and last lines ("" when none failed)."""
    lines = []
    for row in rows:
        for contender in row.contenders:
            errors = [m["error"] for m in results[row.id][contender.name] if "error" in m]
            if errors:
                said = [line.strip() for line in errors[0].splitlines() if line.strip()]
                # The first line says what failed; a traceback's last line, why.
                reason = " … ".join(dict.fromkeys(said[:1] + said[-1:])) or "(no message)"
                total = len(results[row.id][contender.name])
                lines.append(
                    f"- {row.id} / {contender.name}: {len(errors)} of {total} "
                    f"measurements failed: {reason}"
                )
    return "Failed measurements:\n\n" + "\n".join(lines) + "\n" if lines else ""


def header(meta: dict[str, Any]) -> str:
    machine = meta["machine"]
    peers = "; ".join(f"{name}: {pins}" for name, pins in meta["peers"].items())
    return (
        f"Measured {meta['finished']} with `{meta['command']}` "
        f"(rounds: {meta['settings']['rounds']} after a warm-up, "
        f"{meta['settings']['duration']:g} s per measurement) on: {machine['cpu']}; "
        f"{machine['cpus']}; {machine['memory']}; {machine['os']}; {machine['python']}; "
        f"{machine['load']}.\nPeers: {peers}."
    ) + _baseline_note(meta)


def _baseline_note(meta: dict[str, Any]) -> str:
    earlier = meta.get("baseline")
    if not earlier:
        return ""
    return (
        f"\nBaseline: ours@{earlier['rev']} is thriftbuild at commit {earlier['sha'][:12]}, "
        "same dependencies, same rounds."
    )


def write(rows: list[Row], results: dict[str, Measurements], meta: dict[str, Any]) -> str:
    """Write ``results/latest.json`` and ``results/latest.md``; the markdown."""
    summaries = {row.id: summarize(row, results[row.id]) for row in rows}
    RESULTS.mkdir(exist_ok=True)
    document = {
        **meta,
        "rows": [
            {
                "id": row.id,
                "title": row.title,
                "runner": row.runner,
                "metric": row.metric.value,
                "placement": row.placement.value,
                "params": dict(row.params),
                "contenders": {
                    c.name: {"role": c.role.value, "env": c.env, "rounds": results[row.id][c.name]}
                    for c in row.contenders
                },
                "targets": [t.describe() for t in row.targets],
                "summary": summaries[row.id],
            }
            for row in rows
        ],
    }
    (RESULTS / "latest.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    markdown = header(meta) + "\n\n" + summary_table(rows, summaries) + "\n"
    failed = failures(rows, results)
    if failed:
        markdown += "\n" + failed
    full = markdown + "\n### Every contender\n\n" + full_table(rows, summaries) + "\n"
    (RESULTS / "latest.md").write_text("# Latest benchmark run\n\n" + full)
    return markdown


def update_readme(markdown: str, readme: Path = README) -> None:
    """Replace the marked block of the README with ``markdown``."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: no block between {BEGIN!r} and {END!r}")
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    readme.write_text(f"{before}{BEGIN}\n{markdown}{END}{after}")
