"""How one usage event moves a running total, per aggregation method (seed 000). Pure.

`used` is what limits are compared with: SUM adds quantities, COUNT counts events, AVERAGE is
sum / count, MAX and MIN keep the extreme quantity, LATEST keeps the quantity of the event
that occurred last (an event arriving late does not overwrite a newer one)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

ZERO = Decimal(0)
ONE = Decimal(1)

# aggregations whose total only grows as events arrive: "room left" means remaining > 0
ACCUMULATING = frozenset({"SUM", "COUNT"})


class UsageState(NamedTuple):
    used: Decimal = ZERO
    sum_quantity: Decimal = ZERO
    event_count: int = 0
    last_occurred_at: datetime | None = None


def apply(aggregation: str, state: UsageState, quantity: Decimal, occurred_at: datetime) -> UsageState:
    count = state.event_count + 1
    total = state.sum_quantity + quantity
    latest = state.last_occurred_at
    newer = latest is None or occurred_at >= latest
    if aggregation == "SUM":
        used = state.used + quantity
    elif aggregation == "COUNT":
        used = Decimal(count)
    elif aggregation == "AVERAGE":
        used = total / count
    elif aggregation == "MAX":
        used = quantity if state.event_count == 0 else max(state.used, quantity)
    elif aggregation == "MIN":
        used = quantity if state.event_count == 0 else min(state.used, quantity)
    elif aggregation == "LATEST":
        used = quantity if newer else state.used
    else:
        raise ValueError(f"unknown aggregation {aggregation}")
    return UsageState(used, total, count, occurred_at if newer else latest)


def overage_of(used: Decimal, limit: Decimal) -> Decimal:
    return used - limit if used > limit else ZERO
