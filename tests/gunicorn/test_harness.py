"""The test harness itself: no gunicorn process outlives a test, whatever goes wrong."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests.gunicorn.harness import Gunicorn, group_members


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_an_error_inside_the_block_stops_the_master_and_its_orphaned_workers(
    workdir: Path,
) -> None:
    # The error leaves the Gunicorn block first, then pytest.raises catches it.
    with (
        pytest.raises(RuntimeError, match="test failed"),
        Gunicorn(workdir, "svc_app:app", workers=2) as server,
    ):
        assert server.proc is not None
        master = server.proc.pid
        workers = server.live_workers()
        assert len(workers) == 2
        # The master dies without stopping its workers, then the test fails:
        # the workers are orphans the master can no longer stop.
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(30)
        assert all(_alive(pid) for pid in workers)
        raise RuntimeError("test failed")
    assert not group_members(master)
    assert not any(_alive(pid) for pid in {master, *workers})


def test_a_failed_readiness_poll_stops_the_master_and_its_workers(workdir: Path) -> None:
    # Three workers are awaited but "-w 2" (the later flag wins) boots only two.
    server = Gunicorn(workdir, "svc_app:app", "-w", "2", workers=3, ready_timeout=10)
    with pytest.raises(AssertionError, match="3 live workers"):
        server.start()
    assert server.proc is not None
    booted = {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", server.log)}
    assert booted  # the workers existed when the poll gave up
    assert not group_members(server.proc.pid)
    assert not any(_alive(pid) for pid in {server.proc.pid, *booted})
