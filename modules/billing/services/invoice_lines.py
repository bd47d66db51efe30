"""What an invoice is made of, before it is written: one `Line` per thing billed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Line:
    source: str
    description: str
    amount: int
    source_id: uuid.UUID | None = None
    quantity: int | None = None
    unit_amount: int | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    discount_amount: int = 0
    price_id: uuid.UUID | None = None
