"""cooperative's HTTP request structs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

FiscalYear = Annotated[int, msgspec.Meta(ge=2000, le=2200)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
Surplus = Annotated[int, msgspec.Meta(ge=0, le=10**15, description="minor units")]


class ComputeAllocation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    fiscal_year: FiscalYear
    currency: Currency
    surplus: Surplus


class PayAllocationRow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`credit`: a patronage dividend credit grant on the patron's billing account; `cash`: a
    payment made outside Keel, recorded with its `reference` (and `paid_at`, default now)."""

    method: Literal["credit", "cash"]
    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    paid_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
