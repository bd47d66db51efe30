"""The overdue ladder as pure functions (tests/billing/test_dunning_ladder.py checks them
without a database), after Kill Bill's overdue state machine: an account's state follows from
how many whole days its oldest unpaid invoice is past due, and the policy's thresholds.

    current -> past_due -> unpaid -> canceled -> frozen

A threshold of None skips that step. Days past due are whole days since the due date, rounded
down (an invoice due at 10:00 is 1 day past due from 10:00 the next day). Steps are taken in
order: a job that was not run for a while takes every step it missed, each once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from modules.billing.services.payment_retries import next_payment_attempt, retry_schedule

STATES: tuple[str, ...] = ("current", "past_due", "unpaid", "canceled", "frozen")
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Ladder:
    """A policy's thresholds in days past due (None: never)."""

    past_due_after_days: int
    unpaid_after_days: int | None
    cancel_after_days: int | None
    freeze_after_days: int | None

    def thresholds(self) -> tuple[tuple[str, int | None], ...]:
        return (
            ("past_due", self.past_due_after_days),
            ("unpaid", self.unpaid_after_days),
            ("canceled", self.cancel_after_days),
            ("frozen", self.freeze_after_days),
        )


DEFAULT_LADDER = Ladder(
    past_due_after_days=1, unpaid_after_days=16, cancel_after_days=23, freeze_after_days=30
)


def rank(state: str) -> int:
    return STATES.index(state)


def ladder_problems(ladder: Ladder) -> list[str]:
    """Why the thresholds are not a ladder (each step taken at or after the one before it)."""
    problems, floor = [], 0
    for state, days in ladder.thresholds():
        if days is None:
            continue
        if not 0 <= days <= 365:
            problems.append(f"{state} must be within 0..365 days")
        elif days < floor:
            problems.append(f"{state} ({days} days) comes before an earlier step ({floor} days)")
        floor = max(floor, days)
    return problems


def days_past_due(due_date: datetime, now: datetime) -> int:
    """Whole days since `due_date` (0 on the due date itself and before it)."""
    return max((now - due_date) // DAY, 0)


def state_at(ladder: Ladder, days: int | None) -> str:
    """The state an account is in `days` past due (None: nothing is past due)."""
    state = "current"
    if days is None:
        return state
    for step, threshold in ladder.thresholds():
        if threshold is not None and days >= threshold:
            state = step
    return state


def steps_between(current: str, target: str) -> list[str]:
    """The states to enter, in order, to go from `current` down to `target` (none when the
    target is not further down: the ladder only goes back up by payment)."""
    return list(STATES[rank(current) + 1 : rank(target) + 1]) if rank(target) > rank(current) else []


def next_step(ladder: Ladder, current: str, due_date: datetime) -> tuple[str, datetime] | None:
    """The next state below `current` that the policy takes, and when (`due_date` + its days)."""
    for step, threshold in ladder.thresholds():
        if threshold is not None and rank(step) > rank(current):
            return step, due_date + threshold * DAY
    return None


def next_retry(retry_days: Sequence[int], failed_at: datetime, attempt_count: int) -> datetime | None:
    """When to try an automatic payment again after its `attempt_count`-th attempt failed at
    `failed_at`: each retry `retry_days[n]` days after the attempt before it; None when the
    schedule is used up (collection's function, with the policy's schedule)."""
    return next_payment_attempt(failed_at, attempt_count, retry_schedule(retry_days))
