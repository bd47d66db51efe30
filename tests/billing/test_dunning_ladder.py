"""The overdue ladder as pure functions: days past due, the state they call for, the steps in
between, the next step and the next retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modules.billing.services.dunning_ladder import (
    DEFAULT_LADDER,
    Ladder,
    days_past_due,
    ladder_problems,
    next_retry,
    next_step,
    state_at,
    steps_between,
)

DUE = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "days"),
    [
        (DUE - timedelta(days=3), 0),
        (DUE, 0),
        (DUE + timedelta(hours=23, minutes=59), 0),
        (DUE + timedelta(days=1), 1),
        (DUE + timedelta(days=29, hours=23), 29),
        (DUE + timedelta(days=30), 30),
    ],
)
def test_days_past_due_are_whole_days_since_the_due_date(now: datetime, days: int) -> None:
    assert days_past_due(DUE, now) == days


@pytest.mark.parametrize(
    ("days", "state"),
    [
        (None, "current"),
        (0, "current"),
        (1, "past_due"),
        (15, "past_due"),
        (16, "unpaid"),
        (22, "unpaid"),
        (23, "canceled"),
        (29, "canceled"),
        (30, "frozen"),
        (365, "frozen"),
    ],
)
def test_default_ladder(days: int | None, state: str) -> None:
    assert state_at(DEFAULT_LADDER, days) == state


def test_a_step_without_days_is_skipped() -> None:
    ladder = Ladder(
        past_due_after_days=0, unpaid_after_days=None, cancel_after_days=10, freeze_after_days=None
    )
    assert [state_at(ladder, d) for d in (0, 9, 10, 400)] == ["past_due", "past_due", "canceled", "canceled"]
    assert next_step(ladder, "past_due", DUE) == ("canceled", DUE + timedelta(days=10))
    assert next_step(ladder, "canceled", DUE) is None


def test_steps_between_take_every_missed_step_in_order_and_never_go_up() -> None:
    assert steps_between("current", "frozen") == ["past_due", "unpaid", "canceled", "frozen"]
    assert steps_between("unpaid", "canceled") == ["canceled"]
    assert steps_between("canceled", "canceled") == []
    assert steps_between("frozen", "past_due") == []


def test_next_step_is_the_policy_threshold_after_the_due_date() -> None:
    assert next_step(DEFAULT_LADDER, "current", DUE) == ("past_due", DUE + timedelta(days=1))
    assert next_step(DEFAULT_LADDER, "past_due", DUE) == ("unpaid", DUE + timedelta(days=16))
    assert next_step(DEFAULT_LADDER, "canceled", DUE) == ("frozen", DUE + timedelta(days=30))
    assert next_step(DEFAULT_LADDER, "frozen", DUE) is None


def test_ladder_problems_name_steps_out_of_order() -> None:
    assert ladder_problems(DEFAULT_LADDER) == []
    bad = Ladder(past_due_after_days=5, unpaid_after_days=3, cancel_after_days=None, freeze_after_days=4)
    assert ladder_problems(bad) == [
        "unpaid (3 days) comes before an earlier step (5 days)",
        "frozen (4 days) comes before an earlier step (5 days)",
    ]
    assert ladder_problems(Ladder(0, 0, 0, 0)) == []


def test_retries_follow_the_policy_schedule_then_stop() -> None:
    failed = DUE
    assert next_retry([3, 5, 7], failed, 1) == failed + timedelta(days=3)
    assert next_retry([3, 5, 7], failed, 2) == failed + timedelta(days=5)
    assert next_retry([3, 5, 7], failed, 3) == failed + timedelta(days=7)
    assert next_retry([3, 5, 7], failed, 4) is None
    assert next_retry([1], failed, 1) == failed + timedelta(days=1)
    assert next_retry([], failed, 1) is None
