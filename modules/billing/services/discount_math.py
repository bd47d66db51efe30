"""What a discount takes off an invoice's lines, and how long it runs: pure functions.

Only lines with a positive amount are discounted (a credit line is never made larger). A
percent coupon takes `percent_off_bp` of each line, rounded to the minor unit half-to-even
(`money.to_minor`) per line. An amount-off coupon takes at most the lines' sum, spread over
them in proportion to their amounts by largest remainder: each line gets the floor of its exact
share, then the units left over go one each to the lines with the largest fractional parts
(earlier line first on a tie), so the shares add up exactly and none exceeds its line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from modules.billing.services.money import to_minor
from modules.billing.services.periods import shift


def percent_off(amounts: Sequence[int], percent_off_bp: int) -> list[int]:
    """`percent_off_bp` basis points (2500 = 25 %) of each positive amount, half-to-even per line."""
    share = Decimal(percent_off_bp) / Decimal(10000)
    return [to_minor(Decimal(a) * share) if a > 0 else 0 for a in amounts]


def allocate_amount_off(amount_off: int, amounts: Sequence[int]) -> list[int]:
    """`amount_off` (capped at the sum of the positive amounts) spread over the positive amounts
    in proportion, by largest remainder: exact in total, never more than a line."""
    positive = [max(a, 0) for a in amounts]
    base = sum(positive)
    take = min(max(amount_off, 0), base)
    if take == 0:
        return [0] * len(amounts)
    shares = [divmod(take * a, base) for a in positive]  # (whole units, remainder / base)
    left = take - sum(whole for whole, _ in shares)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-shares[i][1], i))
    extra = set(by_remainder[:left])
    return [whole + (1 if i in extra else 0) for i, (whole, _) in enumerate(shares)]


def discount_amounts(
    amounts: Sequence[int], *, percent_off_bp: int | None, amount_off: int | None
) -> list[int]:
    """The discount of each line under a coupon's terms (percent or amount off)."""
    if percent_off_bp is not None:
        return percent_off(amounts, percent_off_bp)
    return allocate_amount_off(amount_off or 0, amounts)


def discount_end(duration: str, months: int | None, starts_at: datetime) -> datetime | None:
    """When a discount stops by itself: a `repeating` coupon `months` calendar months after it
    starts (a day past the month's end is clamped to its last day); `once` (ends when used)
    and `forever` have no end."""
    if duration == "repeating":
        assert months is not None
        return shift(starts_at, "month", months)
    return None


def in_force(starts_at: datetime, ends_at: datetime | None, at: datetime) -> bool:
    """A discount applies to invoices made in [starts_at, ends_at)."""
    return starts_at <= at and (ends_at is None or at < ends_at)
