from __future__ import annotations

import itertools

import pytest

from thriftbuild.retry import RetryPolicy


class FakeClock:
    """A clock the loop's own sleeps advance, so budgets are exact and instant."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("attempts", "budget", "backoff"),
    list(itertools.product([1, 2, 3, 5], [None, 0.05, 10.0], [None, 0.01, 0.2])),
)
def test_retry_policy_any_options_at_most_attempts_tries(
    attempts: int, budget: float | None, backoff: float | None
) -> None:
    clock = FakeClock()
    policy = RetryPolicy.new(attempts=attempts, budget=budget, backoff=backoff, jitter=False)
    yielded = list(policy.run(clock, clock.sleep))
    assert 1 <= len(yielded) <= attempts
    if budget is None:
        assert len(yielded) == attempts
        assert yielded == [None] * attempts
    else:
        assert all(t is not None and 0 < t <= budget for t in yielded)
        assert sum(clock.sleeps) < budget


def test_retry_policy_budget_without_attempts_bounded_by_budget() -> None:
    clock = FakeClock()
    yielded = list(RetryPolicy.new(budget=1.0, backoff=0.1, jitter=False).run(clock, clock.sleep))
    assert clock.now - 100.0 < 1.0
    assert len(yielded) >= 3
    assert clock.sleeps[:3] == [0.1, 0.2, 0.4]


def test_retry_policy_time_left_shrinks_with_time_spent() -> None:
    clock = FakeClock()
    left = []
    for time_left in RetryPolicy.new(attempts=3, budget=1.0).run(clock, clock.sleep):
        left.append(time_left)
        clock.now += 0.3  # the attempt itself takes time
    assert left == pytest.approx([1.0, 0.7, 0.4])


def test_retry_policy_backoff_doubles_up_to_max() -> None:
    policy = RetryPolicy.new(attempts=6, backoff=0.1, max_backoff=0.3)
    assert [policy.pause(n) for n in range(1, 6)] == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.3])


def test_retry_policy_jitter_stays_within_half_to_full_pause() -> None:
    clock = FakeClock()
    list(RetryPolicy.new(attempts=20, backoff=0.1, max_backoff=0.1).run(clock, clock.sleep))
    assert len(clock.sleeps) == 19
    assert all(0.05 <= s <= 0.1 for s in clock.sleeps)


def test_retry_policy_is_immutable_and_reusable() -> None:
    policy = RetryPolicy.new(attempts=2)
    with pytest.raises(AttributeError):
        policy.attempts = 5  # type: ignore[misc]
    assert len(list(policy)) == 2
    assert len(list(policy)) == 2


@pytest.mark.parametrize(
    "kwargs",
    [{"attempts": 0}, {"budget": 0.0}, {"budget": -1.0}, {"attempts": 1, "backoff": -0.1}],
)
def test_retry_policy_invalid_options_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy.new(**kwargs)  # type: ignore[arg-type]


def test_retry_policy_default_is_one_try() -> None:
    assert list(RetryPolicy.new()) == [None]


def test_retry_schedule_yields_pauses_without_sleeping() -> None:
    clock = FakeClock()
    policy = RetryPolicy.new(attempts=4, budget=1.0, backoff=0.1, jitter=False)
    attempts = list(policy.schedule(clock))
    assert clock.now == 100.0  # nothing slept: the caller pauses
    assert [(a.number, a.pause) for a in attempts] == [(1, 0.0), (2, 0.1), (3, 0.2), (4, 0.4)]
    assert [a.time_left for a in attempts] == pytest.approx([1.0, 0.9, 0.8, 0.6])


def test_retry_schedule_stops_when_the_pause_would_spend_the_budget() -> None:
    clock = FakeClock()
    schedule = RetryPolicy.new(budget=0.25, backoff=0.1, jitter=False).schedule(clock)
    first = next(schedule)
    clock.now += 0.1  # the first try took 0.1 s; a 0.1 s pause leaves 0.05 s
    second = next(schedule)
    assert (first.time_left, second.pause) == (0.25, 0.1)
    assert second.time_left == pytest.approx(0.05)
    clock.now += 0.05 + 0.04  # paused, then tried: 0.01 s left, less than the 0.2 s pause
    assert list(schedule) == []
