"""The benchmark suite's entry point loads its whole registry (nothing is timed here)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_every_scenario_family_is_registered_with_a_floor() -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    rows = [line for line in listing.splitlines() if line and not line.startswith(" ")]
    families = {row.split("/", 1)[0] for row in rows}
    assert {"sync", "aio", "server", "build"} <= families, listing
    first_row = listing.split("\n" + rows[1])[0]
    assert "(floor," in first_row and "(ours," in first_row, first_row
    assert len(rows) == len(set(rows)), "duplicate scenario names"
