"""Reset periods: which usage period an instant falls in. Pure functions, all UTC.

Calendar periods start at UTC midnight (day), Monday (week), the 1st (month) and January 1st
(year). Billing periods are `anchor + n x interval_count x interval`; month and year steps are
always computed from the anchor and clamp to the month's end (anchor Jan 31 → Feb 28/29 →
Mar 31), the way card-subscription billing cycles behave."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

# the single bucket of entitlements that never reset
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Cycle(NamedTuple):
    anchor: datetime
    interval: str  # day | week | month | year
    every: int  # intervals per period


class Period(NamedTuple):
    start: datetime
    end: datetime | None


def add_months(anchor: datetime, months: int) -> datetime:
    total = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def _calendar(reset: str, at: datetime) -> Period:
    at = at.astimezone(UTC)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if reset == "day":
        return Period(midnight, midnight + timedelta(days=1))
    if reset == "week":
        start = midnight - timedelta(days=midnight.weekday())
        return Period(start, start + timedelta(days=7))
    if reset == "month":
        start = midnight.replace(day=1)
        return Period(start, add_months(start, 1))
    if reset == "year":
        start = midnight.replace(month=1, day=1)
        return Period(start, start.replace(year=start.year + 1))
    raise ValueError(f"not a calendar period: {reset}")


def cycle_period(cycle: Cycle, at: datetime) -> Period:
    anchor, interval, count = cycle.anchor, cycle.interval, cycle.every
    if interval in ("day", "week"):
        step = timedelta(days=count * (1 if interval == "day" else 7))
        n = (at - anchor) // step
        start = anchor + n * step
        return Period(start, start + step)
    months = count * (12 if interval == "year" else 1)
    at_utc, anchor_utc = at.astimezone(UTC), anchor.astimezone(UTC)
    elapsed = (at_utc.year - anchor_utc.year) * 12 + (at_utc.month - anchor_utc.month)
    n = elapsed // months
    start = add_months(anchor_utc, n * months)
    while start > at_utc:  # the anchor's day/time within the month is still ahead
        n -= 1
        start = add_months(anchor_utc, n * months)
    end = add_months(anchor_utc, (n + 1) * months)
    while end <= at_utc:
        n += 1
        start, end = end, add_months(anchor_utc, (n + 1) * months)
    return Period(start, end)


def period_of(reset: str, at: datetime, cycle: Cycle | None = None) -> Period:
    """The usage period containing `at` for a reset period."""
    if reset == "none":
        return Period(EPOCH, None)
    if reset == "billing_period":
        if cycle is None:
            raise ValueError("billing_period needs a billing cycle")
        return cycle_period(cycle, at)
    return _calendar(reset, at)
