"""cooperative's public data: DTOs and versioned events."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

PATRON_JOINED = "cooperative.patron.joined"


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
