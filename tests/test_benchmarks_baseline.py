"""``python -m benchmarks --baseline REV``: option checks and the rows it changes
(nothing is installed or timed here)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import baseline, procs, report
from benchmarks.registry import ROWS, Role
from benchmarks.scenarios import load_all
from benchmarks.scenarios.common import AIO_REQUIRES, SYNC_REQUIRES
from tests.conftest import IN_CI, REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_baseline_refuses_update_readme_and_unknown_revisions_before_measuring() -> None:
    done = _run("--baseline", "HEAD", "--update-readme")
    assert done.returncode != 0 and "without --baseline" in done.stderr
    done = _run("--baseline", "no-such-revision-anywhere", "--only", "sync/ping/1conn/binary$")
    assert done.returncode != 0
    assert "--baseline no-such-revision-anywhere: not a commit" in done.stderr
    assert "warm-up" not in done.stdout  # refused before any measurement


def test_resolve_names_the_commit_and_the_contender() -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    found = baseline.resolve("HEAD", REPO)
    assert (found.sha, found.name, found.env) == (head, "ours@HEAD", "ours@" + head[:12])


def test_baseline_joins_client_rows_and_skips_what_the_revision_lacks() -> None:
    load_all()
    rows = list(ROWS.values())
    earlier = baseline.Baseline("old", "0123456789abcdef0123456789abcdef01234567")
    unsupported = {AIO_REQUIRES: "ModuleNotFoundError: No module named 'thriftbuild.aio'"}
    assert SYNC_REQUIRES in baseline.requirements(rows)
    changed, skipped = baseline.add(rows, earlier, unsupported)
    assert [r.id for r in changed] == [r.id for r in rows]  # same rows, same order
    by_id = {r.id: r for r in changed}
    for row in rows:
        ours = row.one(Role.OURS)
        added = by_id[row.id].one(Role.BASELINE)
        if ours is None:
            assert added is None and row.id not in skipped
        elif row.runner == "client" and ours.spec.get("requires") == SYNC_REQUIRES:
            assert added is not None and row.id not in skipped
            assert (added.name, added.env, added.spec) == ("ours@old", earlier.env, ours.spec)
            assert by_id[row.id].contenders[:-1] == row.contenders  # ours and peers kept
        elif row.runner == "server" and row.id.startswith("server/"):
            # The same gunicorn command, started from the revision's environment.
            assert added is not None and row.id not in skipped, row.id
            server, theirs = ours.spec["server"], added.spec["server"]
            assert (added.name, added.env, theirs.env) == ("ours@old", earlier.env, earlier.env)
            assert dataclasses.replace(theirs, env=server.env) == server
            assert added.spec["requires"] == ours.spec["requires"]
            assert by_id[row.id].contenders[:-1] == row.contenders
        else:
            assert added is None
            assert row.id in skipped
    aio = [r for r in rows if r.id.startswith(("aio/", "aio-server/"))]
    assert aio and all("thriftbuild.aio" in skipped[r.id] for r in aio if r.one(Role.OURS))
    assert all(r.id in skipped for r in rows if r.runner == "build" and r.one(Role.OURS))
    assert any(r.startswith("sync/ping/8threads-pyserver/") for r in by_id)


def test_report_shows_ours_over_ours_at_the_revision_paired_by_round() -> None:
    load_all()
    earlier = baseline.Baseline("old", "0" * 40)
    row = baseline.add([ROWS["sync/ping/1conn/binary"]], earlier, {})[0][0]
    values = {"ours": [0.0, 200.0, 300.0], "ours@old": [0.0, 100.0, 200.0]}
    results = {
        c.name: [
            {"round": r, "value": values.get(c.name, [0.0, 100.0, 100.0])[r]} for r in range(3)
        ]
        for c in row.contenders
    }
    summary = report.summarize(row, results)
    assert summary["baseline"] == "ours@old"
    assert summary["vs_baseline"]["rounds"] == [2.0, 1.5]
    assert summary["best_peer"] != "ours@old"  # a baseline is never a peer
    table = report.summary_table([row], {row.id: summary})
    assert "ours ÷ ours@old" in table.splitlines()[0]
    assert "1.75x (1.50-2.00)" in table


@pytest.mark.parametrize("rev", ["", "   "])
def test_blank_revision_is_refused(rev: str) -> None:
    with pytest.raises(SystemExit, match="not a commit"):
        baseline.resolve(rev, REPO)


def test_baseline_environment_gets_this_environments_uvloop() -> None:
    """The uvloop rows run ours@REV on uvloop too: without it there, they all failed."""
    import importlib.metadata

    try:
        version = importlib.metadata.version("uvloop")
    except importlib.metadata.PackageNotFoundError:
        if IN_CI:
            raise  # the test extra installs uvloop: CI fails instead of skipping
        pytest.skip("uvloop is not installed here")
    assert f"uvloop=={version}" in baseline._pins()


def test_a_contenders_environment_imports_its_own_thriftbuild_not_this_checkouts(
    tmp_path: Path,
) -> None:
    """ours@REV's processes ran this checkout's thriftbuild (the checkout was on their
    import path, before REV's installed copy): ours ÷ ours@REV compared ours with itself."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "thriftbuild").mkdir()
    (site / "thriftbuild" / "__init__.py").write_text("")
    # What every client and server process is started with; -c imports from the
    # working directory as -m does.
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _IMPORTS],
        env=procs.child_env(),
        cwd=procs.child_cwd(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    worker, ours = (Path(line) for line in done.stdout.split())
    assert worker.resolve().is_relative_to(REPO / "benchmarks")
    assert ours.parent == site / "thriftbuild"


_IMPORTS = (
    "import benchmarks.worker.wire as wire, thriftbuild; print(wire.__file__, thriftbuild.__file__)"
)
