"""What a plan change is worth for the rest of the period, pure (Stripe's `create_prorations`):
the unused time of what an item was is credited and the remaining time of what it becomes is
charged, each to the second of the period and rounded half-to-even to the minor unit
(services/money.py `prorate`), one line per side. A side that does not change, or a metered
side (billed in arrears from usage), prorates nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from modules.billing.contracts import ProrationLine
from modules.billing.services.money import prorate


@dataclass(frozen=True)
class Side:
    """An item's licensed price x quantity, and what a full period of it costs."""

    price_id: uuid.UUID
    quantity: int
    period_amount: int

    def label(self) -> str:
        return f"{self.quantity} x price {self.price_id}"


def item_prorations(
    item_id: uuid.UUID,
    was: Side | None,
    becomes: Side | None,
    *,
    period: tuple[datetime, datetime],
    at: datetime,
    currency: str,
) -> list[ProrationLine]:
    """The credit for `was` and the charge for `becomes` from `at` to the period's end (None:
    the item did not exist / is removed, or is metered). Nothing when both are the same."""
    if was == becomes:
        return []
    start, end = period
    lines = []
    for side, unused in ((was, True), (becomes, False)):
        if side is None:
            continue
        amount = prorate(side.period_amount, end - at, end - start)
        lines.append(
            ProrationLine(
                item_id=item_id,
                description=f"{'Unused' if unused else 'Remaining'} time on {side.label()}",
                amount=-amount if unused else amount,
                currency=currency,
                period_start=at,
                period_end=end,
            )
        )
    return [line for line in lines if line.amount]
