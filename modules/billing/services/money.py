"""What a price charges for a quantity, and what a change is worth for part of a period."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from modules.billing.contracts import Tier
from platform_core.core.errors import Unprocessable


def check_tiers(tiers: Sequence[Tier]) -> None:
    """Bounds strictly increasing, only the last one open (`up_to: null`)."""
    bounds = [t.up_to for t in tiers]
    if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
        raise Unprocessable("only the last tier may be open (up_to: null)", code="invalid_tiers")
    closed = [b for b in bounds[:-1] if b is not None]
    if any(b < 1 for b in closed) or any(a >= b for a, b in itertools.pairwise(closed)):
        raise Unprocessable("tier bounds must be positive and increasing", code="invalid_tiers")
    if any(t.unit_amount < 0 or t.flat_amount < 0 for t in tiers):
        raise Unprocessable("tier amounts must not be negative", code="invalid_tiers")


def amount_for(
    quantity: int, *, unit_amount: int | None, tiers: Sequence[Tier] | None, tiers_mode: str | None
) -> int:
    """Per unit: quantity x unit_amount. Graduated: each unit at the price of the tier it falls
    in, plus the flat amount of every tier reached. Volume: every unit at the price of the tier
    the whole quantity falls in, plus that tier's flat amount."""
    if tiers is None:
        assert unit_amount is not None
        return quantity * unit_amount
    if quantity <= 0:
        return 0
    if tiers_mode == "volume":
        tier = next(t for t in tiers if t.up_to is None or quantity <= t.up_to)
        return quantity * tier.unit_amount + tier.flat_amount
    total, floor = 0, 0
    for tier in tiers:
        top = quantity if tier.up_to is None else min(quantity, tier.up_to)
        if top <= floor:
            break
        total += (top - floor) * tier.unit_amount + tier.flat_amount
        floor = top
    return total


def to_minor(value: Decimal) -> int:
    """A money value rounded to the minor unit, half-to-even (banker's rounding)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def prorate(amount: int, remaining: timedelta, period: timedelta) -> int:
    """`amount` for the `remaining` part of a `period`, to the second, half-to-even."""
    if remaining <= timedelta(0):
        return 0
    share = Decimal(int(remaining.total_seconds())) / Decimal(int(period.total_seconds()))
    return to_minor(Decimal(amount) * share)
