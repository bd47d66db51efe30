"""What a metered price charges for a usage quantity. Pure.

Usage quantities are Decimal (fractional units are real: 2.5 GB-hours). The amount is computed
exactly and rounded once, at the end, to the minor unit, half-to-even (banker's rounding) —
never per tier or per unit. For integer quantities it is exactly `money.amount_for`."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from modules.billing.contracts import Tier
from modules.billing.services.money import to_minor

ZERO = Decimal(0)


def tier_parts(quantity: Decimal, tiers: Sequence[Tier]) -> list[tuple[Tier, Decimal]]:
    """Graduated: how many of `quantity`'s units fall in each tier it reaches (a tier covers
    (previous up_to, up_to]; the last one is open). Tiers not reached are absent."""
    parts: list[tuple[Tier, Decimal]] = []
    floor = ZERO
    for tier in tiers:
        top = quantity if tier.up_to is None else min(quantity, Decimal(tier.up_to))
        if top <= floor:
            break
        parts.append((tier, top - floor))
        floor = top
    return parts


def volume_tier(quantity: Decimal, tiers: Sequence[Tier]) -> Tier:
    """Volume: the tier the whole quantity falls in (the first whose up_to it does not pass)."""
    return next(t for t in tiers if t.up_to is None or quantity <= t.up_to)


def exact_amount(
    quantity: Decimal, *, unit_amount: int | None, tiers: Sequence[Tier] | None, tiers_mode: str | None
) -> Decimal:
    """The unrounded amount, in minor units. Per unit: quantity x unit_amount. Graduated: each
    tier's units at its unit_amount, plus the flat_amount of every tier reached. Volume: every
    unit at the unit_amount of the tier the quantity falls in, plus that tier's flat_amount.
    No usage (quantity <= 0) costs nothing, flat amounts included."""
    if quantity <= 0:
        return ZERO
    if tiers is None:
        assert unit_amount is not None
        return quantity * unit_amount
    if tiers_mode == "volume":
        tier = volume_tier(quantity, tiers)
        return quantity * tier.unit_amount + tier.flat_amount
    return sum((units * t.unit_amount + t.flat_amount for t, units in tier_parts(quantity, tiers)), ZERO)


def usage_amount(
    quantity: Decimal, *, unit_amount: int | None, tiers: Sequence[Tier] | None, tiers_mode: str | None
) -> int:
    """`exact_amount` rounded to the minor unit, half-to-even, once."""
    return to_minor(exact_amount(quantity, unit_amount=unit_amount, tiers=tiers, tiers_mode=tiers_mode))
