"""PreemptionWatch tells a call the scheduler preempted from one that waited."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from thriftbuild.aio._inline import PreemptionWatch

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RUSAGE_THREAD is Linux's")


_SIBLING = """
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
print("pinned", flush=True)
until = time.monotonic() + 60
while time.monotonic() < until:
    pass
"""


def test_a_thread_preempted_by_a_busy_sibling_counts_as_preempted() -> None:
    cpu = min(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    with subprocess.Popen(
        [sys.executable, "-c", _SIBLING, str(cpu)], stdout=subprocess.PIPE, text=True
    ) as sibling:
        try:
            assert sibling.stdout is not None and sibling.stdout.readline() == "pinned\n"
            os.sched_setaffinity(0, {cpu})  # this thread only: the sibling's CPU
            # Quick calls in pure Python never wait: only the scheduler (the sibling
            # spinning on the same CPU) takes the CPU away, within a few ticks.
            watch, found = PreemptionWatch(), False
            deadline = time.monotonic() + 30
            while not found and time.monotonic() < deadline:
                watch.mark()
                _spin(0.00005)
                found = watch.preempted()
            assert found
        finally:
            os.sched_setaffinity(0, before)
            sibling.kill()


def _spin(seconds: float) -> None:
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


def test_a_wait_is_never_taken_for_preemption() -> None:
    watch = PreemptionWatch()
    watch.mark()
    time.sleep(0.01)  # a voluntary switch: the thread waited
    assert watch.preempted() is False


def test_calls_that_used_the_cpu_are_never_taken_for_preemption() -> None:
    watch = PreemptionWatch()
    watch.mark()
    _spin(0.002)  # 2 ms of CPU: whatever the scheduler did meanwhile, the call was slow
    assert watch.preempted(cpu_below=0.0005) is False


def test_without_a_mark_nothing_counts_as_preempted() -> None:
    assert PreemptionWatch().preempted() is False
