"""Dividing a surplus in proportion to patronage: pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

SHARE_PLACES = Decimal("1e-12")


def largest_remainder(surplus: int, bases: Sequence[int]) -> list[int]:
    """Whole minor units of `surplus` per basis, in proportion, adding up exactly to `surplus`.

    Each basis gets floor(surplus x basis / total); the units left over (fewer than the number
    of bases) go one each to the largest remainders, ties to the earliest basis (callers order
    bases by member number). So every amount is within one unit of its exact value
    (strictly less), and none is rounded away from its floor by more than one unit. Every basis
    must be positive; with no bases the surplus cannot be divided and nothing is returned."""
    if surplus < 0:
        raise ValueError("surplus must not be negative")
    if any(b <= 0 for b in bases):
        raise ValueError("every basis must be positive")
    if not bases:
        return []
    total = sum(bases)
    amounts = [surplus * b // total for b in bases]
    left = surplus - sum(amounts)
    by_remainder = sorted(range(len(bases)), key=lambda i: (-(surplus * bases[i] % total), i))
    for i in by_remainder[:left]:
        amounts[i] += 1
    return amounts


def share_of(basis: int, total: int) -> Decimal:
    """basis / total as a fraction of 1, rounded half-to-even to 12 decimal places: it is
    shown beside the amount, which alone is what gets paid."""
    if not 0 < basis <= total:
        raise ValueError("a share needs 0 < basis <= total")
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(basis) / Decimal(total)).quantize(SHARE_PLACES, rounding=ROUND_HALF_EVEN)
