"""The threads that run an asyncio server's plain (non-``async``) handler methods.

``loop.run_in_executor`` costs, per call, a ``concurrent.futures.Future``, a
work item, an asyncio future chained to it by callbacks on both sides and one
``call_soon_threadsafe`` wake-up of the loop per result. Here a call costs one
asyncio future and one queue put; a thread that finishes a call appends the
outcome to a deque and wakes the loop only if no wake-up is pending already, so
results finished together are delivered in one loop iteration.
"""

from __future__ import annotations

import asyncio
import collections
import os
import queue
import threading
from typing import Any

from thriftbuild.dispatch import Call

__all__ = ["HandlerThreads", "default_size"]

#: What a finished call gives back: ``(value, None)`` or ``(None, exception)``.
Outcome = tuple[Any, BaseException | None]


def default_size() -> int:
    """``min(32, cpus + 4)``, as ``concurrent.futures.ThreadPoolExecutor``."""
    return min(32, (os.cpu_count() or 1) + 4)


class HandlerThreads:
    """Up to ``size`` daemon threads, started as calls need them, serving one loop.

    Only the loop's thread calls :meth:`run` and :meth:`close`.

    Args:
        size: the most threads (and so the most plain handlers running at once).
        loop: the event loop the outcomes are delivered to.
    """

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        if size < 1:
            raise ValueError(f"handler_threads must be at least 1 (or 0: none), not {size}")
        self.size = size
        self._loop = loop
        self._jobs: queue.SimpleQueue[tuple[Call, asyncio.Future[Outcome]] | None] = (
            queue.SimpleQueue()
        )
        self._outcomes: collections.deque[tuple[asyncio.Future[Outcome], Outcome]] = (
            collections.deque()
        )
        self._threads: list[threading.Thread] = []
        self._queued = 0  # calls handed over and not delivered yet (loop thread only)
        # A delivery is scheduled on the loop. Read and set by the handler threads
        # without a lock: a lost race costs one extra, empty delivery, never a lost
        # outcome, because _deliver clears it before it takes the outcomes.
        self._wake_pending = False
        self._closed = False

    def run(self, call: Call) -> asyncio.Future[Outcome]:
        """Start ``call``'s handler on a thread; the future gives ``(value, error)``.

        Cancelling the future does not stop the handler; its outcome is dropped.
        """
        if self._closed:
            raise RuntimeError("the server's handler threads are shut down")
        future: asyncio.Future[Outcome] = self._loop.create_future()
        self._queued += 1
        if self._queued > len(self._threads) and len(self._threads) < self.size:
            thread = threading.Thread(
                target=self._work,
                name=f"thriftbuild-handler-{len(self._threads)}",
                daemon=True,  # a handler stuck past the grace period must not block exit
            )
            self._threads.append(thread)
            thread.start()
        self._jobs.put((call, future))
        return future

    def close(self) -> None:
        """Let every thread exit once the calls already handed over are done."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)

    def _work(self) -> None:
        take, outcomes = self._jobs.get, self._outcomes
        while True:
            job = take()
            if job is None:
                return
            call, future = job
            try:
                outcome: Outcome = (call.invoke(), None)
            except BaseException as exc:  # delivered to the connection, which maps it
                outcome = (None, exc)
            outcomes.append((future, outcome))
            del job, call, future, outcome  # hold nothing while waiting for work
            if not self._wake_pending:
                self._wake_pending = True
                try:
                    self._loop.call_soon_threadsafe(self._deliver)
                except RuntimeError:  # the loop is closed: nobody is waiting any more
                    return

    def _deliver(self) -> None:
        self._wake_pending = False
        outcomes = self._outcomes
        while outcomes:
            future, outcome = outcomes.popleft()
            self._queued -= 1
            if not future.done():
                future.set_result(outcome)
