"""Billing periods: anchor + n x interval, months and years clamped to the month's last day
(an anchor on the 31st renews on the 30th, then the 28th or 29th, then the 31st again), always
counted from the anchor so that clamping never drifts."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta


def shift(anchor: datetime, interval: str, count: int) -> datetime:
    """`anchor` moved by `count` intervals."""
    if interval == "day":
        return anchor + timedelta(days=count)
    if interval == "week":
        return anchor + timedelta(weeks=count)
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(anchor.month - 1 + months, 12)
    year += anchor.year
    day = min(anchor.day, calendar.monthrange(year, month + 1)[1])
    return anchor.replace(year=year, month=month + 1, day=day)


def period_at(
    anchor: datetime, interval: str, interval_count: int, at: datetime
) -> tuple[datetime, datetime]:
    """The period [start, end) that contains `at` (which must not be before `anchor`)."""
    n = 0
    start = anchor
    while True:
        end = shift(anchor, interval, (n + 1) * interval_count)
        if at < end:
            return start, end
        n += 1
        start = end
