"""cooperative's public data: DTOs and versioned events."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

import msgspec

PATRON_JOINED = "cooperative.patron.joined"
ALLOCATION_APPROVED = "cooperative.allocation.approved"
ALLOCATION_ROW_PAID = "cooperative.allocation_row.paid"


class PatronDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    member_number: int
    org_id: uuid.UUID
    account_id: uuid.UUID
    status: str
    joined_at: datetime


class PatronageTotal(msgspec.Struct, frozen=True, kw_only=True):
    fiscal_year: int
    currency: str
    amount: int  # minor units


class PatronageDTO(msgspec.Struct, frozen=True, kw_only=True):
    patron: PatronDTO
    totals: list[PatronageTotal]


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    patron_id: uuid.UUID
    member_number: int
    org_id: uuid.UUID
    patronage: int
    share: int  # minor units of the surplus


class AllocationReport(msgspec.Struct, frozen=True, kw_only=True):
    """A fiscal year's surplus divided in proportion to each patron's net patronage in one
    currency; shares are whole minor units and add up exactly to the surplus."""

    fiscal_year: int
    currency: str
    surplus: int
    total_patronage: int
    allocations: list[Allocation]


class AllocationPayoutDTO(msgspec.Struct, frozen=True, kw_only=True):
    """How an approved allocation row was paid: a credit grant on the patron's billing
    account (`credit_grant_id`) or cash paid outside Keel (`reference`)."""

    id: uuid.UUID
    allocation_row_id: uuid.UUID
    method: Literal["credit", "cash"]
    amount: int  # minor units
    currency: str
    credit_grant_id: uuid.UUID | None
    reference: str | None
    paid_at: datetime


class AllocationRowDTO(msgspec.Struct, frozen=True, kw_only=True):
    """One patron's part: `share` is patronage / total patronage (12 places, informational);
    `amount` (minor units) is what is paid; `payout` is null until it is paid."""

    id: uuid.UUID
    allocation_id: uuid.UUID
    patron_id: uuid.UUID
    member_number: int
    org_id: uuid.UUID
    account_id: uuid.UUID
    patronage: int
    share: Decimal
    amount: int
    payout: AllocationPayoutDTO | None


class AllocationDTO(msgspec.Struct, frozen=True, kw_only=True):
    """A stored allocation (draft or approved) and how far its payout has gone; its rows are
    listed at /cooperative/allocations/{id}/rows."""

    id: uuid.UUID
    fiscal_year: int
    currency: str
    surplus: int
    total_patronage: int
    status: Literal["draft", "approved"]
    computed_by: str
    created_at: datetime
    approved_at: datetime | None
    approved_by: str | None
    patrons: int
    paid_patrons: int
    paid_amount: int
