"""Retry policy: how many attempts, within what time budget, with what pause between.

:class:`RetryPolicy` is an immutable value and never sleeps. :meth:`RetryPolicy.schedule`
yields one :class:`Attempt` per try -- its number, the pause to take before it and
the time left in the budget once paused -- and the caller pauses its own way
(``time.sleep``, gevent, ``await asyncio.sleep``)::

    for attempt in RetryPolicy.new(attempts=3, budget=0.5, backoff=0.05).schedule():
        time.sleep(attempt.pause)
        try:
            return do_call(timeout=attempt.time_left)
        except TransientError:
            continue

The schedule ends after ``attempts`` tries or when the budget is spent, whichever
comes first; a pause that would spend the rest of the budget ends it too.
:meth:`RetryPolicy.pause` is the project's one backoff formula: the pool's connect
backoff and the multi-endpoint pool's ejections use it as well.

Unlike baseplate's policy, ``attempts`` is a hard cap whether or not a budget is
given, and pauses never sleep past the budget.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Attempt", "RetryPolicy"]


class Attempt(NamedTuple):
    """One try in a retry schedule.

    Attributes:
        number: 1 for the first try.
        pause: seconds to wait before making it (0 for the first).
        time_left: seconds of budget left once the pause is over, or ``None``
            without a budget.
    """

    number: int
    pause: float
    time_left: float | None


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed call is tried again.

    Attributes:
        attempts: the most tries in total, counting the first; ``None`` for no cap
            (then a budget should bound the loop).
        budget: seconds from the first try after which no new try starts; ``None``
            for no limit.
        backoff: pause before the second try, in seconds, doubling before each
            later try up to ``max_backoff``; ``None`` or ``0`` for no pause.
        max_backoff: the longest single pause.
        jitter: scale each pause by a random factor in [0.5, 1) so that clients
            failing together do not retry together.
    """

    attempts: int | None = 1
    budget: float | None = None
    backoff: float | None = None
    max_backoff: float = 1.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")
        if self.budget is not None and not self.budget > 0:
            raise ValueError(f"budget must be positive, not {self.budget}")
        if self.backoff is not None and self.backoff < 0:
            raise ValueError(f"backoff must not be negative, not {self.backoff}")
        if self.attempts is None and self.budget is None:
            raise ValueError("give attempts or a budget; a retry loop needs a bound")

    @classmethod
    def new(
        cls,
        attempts: int | None = None,
        budget: float | None = None,
        backoff: float | None = None,
        *,
        max_backoff: float = 1.0,
        jitter: bool = True,
    ) -> RetryPolicy:
        """Build a policy with baseplate's signature.

        Args:
            attempts: the most tries, counting the first; ``None`` means no cap when a
                budget is given, and one try otherwise.
            budget: seconds the whole loop may take.
            backoff: first pause in seconds, doubled before each later try.
            max_backoff: the longest single pause.
            jitter: randomise pauses in [0.5, 1) of their nominal length.

        Returns:
            The policy.
        """
        if attempts is None and budget is None:
            attempts = 1
        return cls(attempts, budget, backoff, max_backoff, jitter)

    def pause(self, retry: int, *, jitter: bool = False) -> float:
        """Pause before retry number ``retry`` (1 for the second try), in seconds.

        ``backoff * 2 ** (retry - 1)``, at most ``max_backoff``; with ``jitter``,
        scaled by a random factor in [0.5, 1) (the schedule jitters when the policy
        says so).
        """
        if not self.backoff or retry < 1:
            return 0.0
        delay = float(min(self.max_backoff, self.backoff * 2 ** min(retry - 1, 64)))
        if jitter:
            delay *= random.uniform(0.5, 1.0)
        return delay

    def schedule(
        self, clock: Callable[[], float] = time.monotonic, start: float | None = None
    ) -> Iterator[Attempt]:
        """The tries of one retry loop, without sleeping (see the module docstring).

        Args:
            clock: a monotonic clock in seconds.
            start: when the loop started, by ``clock`` (default: now).

        Yields:
            One :class:`Attempt` per try; the caller pauses ``attempt.pause`` first.
        """
        deadline = (
            None if self.budget is None else (clock() if start is None else start) + self.budget
        )
        number = 0
        pause = 0.0
        while True:
            now = clock()
            if deadline is not None and now + pause >= deadline:
                return  # the budget is spent, or the pause alone would spend it
            number += 1
            yield Attempt(number, pause, None if deadline is None else deadline - now - pause)
            if self.attempts is not None and number >= self.attempts:
                return
            pause = self.pause(number, jitter=self.jitter)

    def __iter__(self) -> Iterator[float | None]:
        return self.run()

    def run(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[float | None]:
        """Run one retry loop, sleeping between tries with ``sleep``.

        Yields:
            Before each try, the seconds left in the budget, or ``None`` without one.
        """
        for attempt in self.schedule(clock):
            if attempt.pause:
                sleep(attempt.pause)
            yield None if attempt.time_left is None else attempt.time_left
