"""When an invoice is due and when a failed automatic payment is tried again: pure functions
(tests/billing/test_collection.py checks them without a database).

This is the one place that knows the retry schedule. Dunning's overdue policy supplies its own
schedule through `retry_schedule`'s `policy_days` (default: 3, 5 and 7 days, as Stripe's
custom retry schedule counts them: each retry that long after the attempt before it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

DEFAULT_RETRY_DAYS: tuple[int, ...] = (3, 5, 7)


def retry_schedule(policy_days: Sequence[int] | None = None) -> tuple[timedelta, ...]:
    """The delays between attempts: `policy_days` (an overdue policy's) or the default."""
    return tuple(timedelta(days=d) for d in (DEFAULT_RETRY_DAYS if policy_days is None else policy_days))


def next_payment_attempt(
    failed_at: datetime, attempt_count: int, schedule: Sequence[timedelta] | None = None
) -> datetime | None:
    """After the `attempt_count`-th attempt failed at `failed_at`: when to try again, or None
    when the schedule is used up (the first attempt plus one retry per entry)."""
    delays = retry_schedule() if schedule is None else schedule
    if attempt_count < 1 or attempt_count > len(delays):
        return None
    return failed_at + delays[attempt_count - 1]


def due_date(collection_method: str, finalized_at: datetime, days_until_due: int) -> datetime:
    """`send_invoice`: the customer pays within `days_until_due` days. `charge_automatically`:
    due at once (it is charged when finalized; days past due count from there)."""
    if collection_method == "charge_automatically":
        return finalized_at
    return finalized_at + timedelta(days=days_until_due)
