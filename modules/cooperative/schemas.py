"""cooperative's HTTP request structs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

FiscalYear = Annotated[int, msgspec.Meta(ge=2000, le=2200)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
Surplus = Annotated[int, msgspec.Meta(ge=0, le=10**15, description="minor units")]


class ComputeAllocation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    fiscal_year: FiscalYear
    currency: Currency
    surplus: Surplus


class CreditPayout(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="method", tag="credit"
):
    """A patronage dividend credit grant on the patron's billing account, granted now."""


class CashPayout(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="method", tag="cash"
):
    """A payment made outside Keel, recorded with its reference (and when: default now, never
    later than now)."""

    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    paid_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


PayAllocationRow = CreditPayout | CashPayout
