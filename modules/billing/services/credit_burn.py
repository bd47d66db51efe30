"""Which credit grants pay how much of an invoice: pure, no I/O.

Burn order (after Stripe's credit grants): lower `priority` first, then the soonest
`expires_at` (a grant that never expires last), then the oldest (`created_at`, then id).

A grant takes part when, at the invoice's finalization time `at`, it is effective
(`effective_at <= at`), not expired (`expires_at` unset or after `at`), in the invoice's
currency and has a positive remaining balance. An unrestricted grant (no `applies_to`) pays
the invoice as a whole, tax included. A grant restricted to prices pays only the lines of those
prices, up to what is left of each line's amount after discount (never the tax); lines are
taken in invoice order and a line paid by one restricted grant is not paid again by another.
Nothing ever pays more than the invoice's total: the sum of the allocations is at most
`max(total, 0)`. Amounts are integer minor units; nothing is divided, so nothing is rounded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class GrantBalance:
    """A grant as the burn sees it: `remaining` is the sum of its ledger."""

    id: uuid.UUID
    currency: str
    remaining: int
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    created_at: datetime
    applies_to: frozenset[uuid.UUID] = frozenset()  # empty: any price


@dataclass(frozen=True)
class PayableLine:
    """An invoice line: its price (None: not from a price) and its amount after discount."""

    price_id: uuid.UUID | None
    amount: int


def usable(grant: GrantBalance, *, currency: str, at: datetime) -> bool:
    return (
        grant.currency == currency
        and grant.remaining > 0
        and grant.effective_at <= at
        and (grant.expires_at is None or grant.expires_at > at)
    )


def burn_order(grants: Iterable[GrantBalance]) -> list[GrantBalance]:
    """Priority, then soonest expiry (none last), then oldest."""
    return sorted(
        grants,
        key=lambda g: (
            g.priority,
            g.expires_at is None,
            g.expires_at or g.created_at,
            g.created_at,
            g.id,
        ),
    )


def burn(
    grants: Iterable[GrantBalance],
    lines: Sequence[PayableLine],
    *,
    currency: str,
    total: int,
    at: datetime,
) -> list[tuple[uuid.UUID, int]]:
    """(grant id, amount) for each grant that pays something, in burn order; the amounts are
    positive and add up to at most `max(total, 0)` (see the module's docstring)."""
    left = max(total, 0)
    line_left = [max(line.amount, 0) for line in lines]
    paid: list[tuple[uuid.UUID, int]] = []
    for grant in burn_order(g for g in grants if usable(g, currency=currency, at=at)):
        if left == 0:
            break
        take = min(grant.remaining, left)
        if grant.applies_to:
            covered = [i for i, line in enumerate(lines) if line.price_id in grant.applies_to]
            take = min(take, sum(line_left[i] for i in covered))
            rest = take
            for i in covered:
                step = min(rest, line_left[i])
                line_left[i] -= step
                rest -= step
        if take > 0:
            paid.append((grant.id, take))
            left -= take
    return paid
