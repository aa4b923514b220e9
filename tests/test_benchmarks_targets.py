"""Targets against a row's floor: registered where the issues set them, and marked in
the report like any other target (nothing is timed here)."""

from __future__ import annotations

from benchmarks import report
from benchmarks.registry import ROWS, Role
from benchmarks.scenarios import load_all


def test_aio_client_rows_target_half_the_floor_next_to_the_peer_targets() -> None:
    load_all()
    rows = [row for row in ROWS.values() if row.id.startswith("aio/")]
    assert rows
    for row in rows:
        floor = row.one(Role.FLOOR)
        assert floor is not None and floor.name == "raw asyncio streams"
        described = [t.describe() for t in row.targets]
        assert described == [
            "≥ 0.5x raw asyncio streams",
            "≥ 3x aiothrift",
            "≥ 2x thriftpy2 aio",
        ], row.id


def test_report_marks_a_missed_floor_target_with_its_paired_ratio() -> None:
    load_all()
    row = ROWS["aio/ping/100tasks-10conns/asyncio"]
    values = {"ours": [0.0, 30.0, 50.0], "raw asyncio streams": [0.0, 100.0, 100.0]}
    results = {
        c.name: [{"round": r, "value": values.get(c.name, [0.0, 10.0, 10.0])[r]} for r in range(3)]
        for c in row.contenders
    }
    summary = report.summarize(row, results)
    floor_target = summary["targets"][0]
    assert floor_target["target"] == "≥ 0.5x raw asyncio streams"
    assert floor_target["met"] is False
    assert abs(floor_target["ratio"] - 0.4) < 1e-9
    table = report.summary_table([row], {row.id: summary})
    assert "**≥ 0.5x raw asyncio streams ✗ missed** (0.40x)" in table
    assert "≥ 3x aiothrift ✓" in table  # 3x and 5x the peers: median 4x


def test_report_says_why_a_contender_has_no_value() -> None:
    load_all()
    row = ROWS["aio/ping/100tasks-10conns/asyncio"]
    results = {c.name: [{"round": r, "value": 10.0} for r in range(3)] for c in row.contenders}
    results["aiothrift"] = [
        {"round": r, "error": "aiothrift failed:\nTraceback ...\nImportError: six"}
        for r in range(3)
    ]
    summary = report.summarize(row, results)
    assert "error" in report.full_table([row], {row.id: summary})
    assert report.failures([row], {row.id: results}) == (
        "Failed measurements:\n\n"
        f"- {row.id} / aiothrift: 3 of 3 measurements failed: "
        "aiothrift failed: … ImportError: six\n"
    )
    assert report.failures([row], {row.id: {**results, "aiothrift": results["ours"]}}) == ""
