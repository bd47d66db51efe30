"""Stored allocations: an operator computes a fiscal year's division of the surplus as a
draft (one row per patron with positive patronage), then approves it. Approval re-reads the
patronage under the currency's exclusive lock (services/fiscal_years.py) and refuses a draft
that no longer matches it; the database then checks that the rows add up exactly to the
surplus and keeps the allocation and its rows immutable (cooperative_0034_allocations)."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import aliased

from modules.cooperative.contracts import (
    ALLOCATION_APPROVED,
    AllocationDTO,
    AllocationPayoutDTO,
    AllocationRowDTO,
)
from modules.cooperative.models import Allocation, AllocationPayout, AllocationRow, Patron
from modules.cooperative.services.fiscal_years import close_fiscal_years
from modules.cooperative.services.patronage import patronage_bases
from modules.cooperative.services.shares import largest_remainder, share_of
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound
from platform_core.core.ids import uuid7
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

_rows = aliased(AllocationRow)
_payouts = aliased(AllocationPayout)


def _summaries() -> Select[Any]:
    """Allocations with their row count and what is paid, in one grouped query."""
    stmt = (
        select(
            Allocation,
            func.count(_rows.id),
            func.count(_payouts.id),
            func.coalesce(func.sum(_payouts.amount), 0),
        )
        .outerjoin(_rows, _rows.allocation_id == Allocation.id)
        .outerjoin(_payouts, _payouts.allocation_row_id == _rows.id)
        .group_by(Allocation.id)
    )
    return cast("Select[Any]", stmt)


def _dto(a: Allocation, patrons: int, paid_patrons: int, paid_amount: int) -> AllocationDTO:
    return AllocationDTO(
        id=a.id, fiscal_year=a.fiscal_year, currency=a.currency, surplus=a.surplus,
        total_patronage=a.total_patronage, status=a.status,  # type: ignore[arg-type]
        computed_by=a.computed_by, created_at=a.created_at, approved_at=a.approved_at,
        approved_by=a.approved_by, patrons=patrons, paid_patrons=paid_patrons, paid_amount=int(paid_amount),
    )  # fmt: skip


async def get_allocation(uow: UnitOfWork, allocation_id: uuid.UUID) -> AllocationDTO:
    row = (await uow.session.execute(_summaries().where(Allocation.id == allocation_id))).one_or_none()
    if row is None:
        raise NotFound("no such allocation", code="allocation_not_found")
    return _dto(*row)


async def list_allocations(
    uow: UnitOfWork,
    *,
    fiscal_year: int | None,
    currency: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page[AllocationDTO]:
    stmt = _summaries()
    if fiscal_year is not None:
        stmt = stmt.where(Allocation.fiscal_year == fiscal_year)
    if currency is not None:
        stmt = stmt.where(Allocation.currency == currency)
    if status is not None:
        stmt = stmt.where(Allocation.status == status)
    rows = (
        await uow.session.execute(keyset(stmt, [Allocation.id.expression], cursor=cursor, limit=limit))
    ).all()
    return page_of(rows, limit, lambda r: [str(r[0].id)], lambda r: _dto(*r))


async def _refuse_if_approved(uow: UnitOfWork, fiscal_year: int, currency: str) -> None:
    approved = await uow.session.scalar(
        select(Allocation.id).where(
            Allocation.fiscal_year == fiscal_year,
            Allocation.currency == currency,
            Allocation.status == "approved",
        )
    )
    if approved is not None:
        raise Conflict(
            f"{fiscal_year}'s allocation in {currency} is already approved ({approved})",
            code="fiscal_year_already_approved",
        )


async def compute_allocation(
    uow: UnitOfWork, *, fiscal_year: int, currency: str, surplus: int
) -> AllocationDTO:
    """A draft: the surplus divided by largest remainder (`shares.largest_remainder`, ties to
    the lowest member number) among the patrons with positive net patronage in the year and
    currency. Refused for a year not started yet (approving it would close it before any
    event), for a year already approved, and for a positive surplus nobody earned."""
    if fiscal_year > utcnow().year:
        raise Conflict(f"fiscal year {fiscal_year} has not started", code="fiscal_year_not_started")
    await _refuse_if_approved(uow, fiscal_year, currency)
    bases = await patronage_bases(uow, fiscal_year=fiscal_year, currency=currency)
    if surplus and not bases:
        raise Conflict(
            f"no patron has positive patronage in {currency} in {fiscal_year}: there is no one to"
            " allocate the surplus to",
            code="no_patronage",
        )
    total = sum(b.patronage for b in bases)
    allocation = Allocation(
        id=uuid7(),
        fiscal_year=fiscal_year,
        currency=currency,
        surplus=surplus,
        total_patronage=total,
        computed_by=uow.actor.id,
    )
    uow.session.add(allocation)
    await uow.session.flush()
    amounts = largest_remainder(surplus, [b.patronage for b in bases])
    if bases:
        await uow.session.execute(
            insert(AllocationRow),
            [
                {
                    "id": uuid7(), "allocation_id": allocation.id, "patron_id": b.patron_id,
                    "account_id": b.account_id, "patronage": b.patronage,
                    "share": share_of(b.patronage, total), "amount": amount,
                }
                for b, amount in zip(bases, amounts, strict=True)
            ],
        )  # fmt: skip
    return await get_allocation(uow, allocation.id)


async def approve_allocation(uow: UnitOfWork, allocation_id: uuid.UUID) -> AllocationDTO:
    """Approve a draft, once per (fiscal year, currency). Under the currency's exclusive lock
    the patronage is read again: a draft that no longer matches it (an event counted since)
    is refused as stale, so nothing that counted in the year is left out of it."""
    allocation = await uow.session.scalar(
        select(Allocation).where(Allocation.id == allocation_id).with_for_update()
    )
    if allocation is None:
        raise NotFound("no such allocation", code="allocation_not_found")
    if allocation.status == "approved":
        raise Conflict("the allocation is already approved", code="allocation_already_approved")
    await close_fiscal_years(uow, allocation.currency)
    await _refuse_if_approved(uow, allocation.fiscal_year, allocation.currency)
    bases = await patronage_bases(uow, fiscal_year=allocation.fiscal_year, currency=allocation.currency)
    drafted = (
        await uow.session.execute(
            select(AllocationRow.patron_id, AllocationRow.patronage)
            .join(Patron, Patron.id == AllocationRow.patron_id)
            .where(AllocationRow.allocation_id == allocation.id)
            .order_by(Patron.member_number)
        )
    ).all()
    if [(b.patron_id, b.patronage) for b in bases] != [tuple(r) for r in drafted]:
        raise Conflict(
            "patronage changed since this draft was computed; compute a new draft",
            code="allocation_stale",
        )
    allocation.status = "approved"
    allocation.approved_at = utcnow()
    allocation.approved_by = uow.actor.id
    await uow.session.flush()
    approved = await get_allocation(uow, allocation.id)
    await uow.emit(
        ALLOCATION_APPROVED,
        subject=Subject(
            type="allocation", id=str(allocation.id), name=f"{allocation.fiscal_year} {allocation.currency}"
        ),
        data=approved,
    )
    return approved


def row_dto(
    r: AllocationRow, member_number: int, org_id: uuid.UUID, p: AllocationPayout | None
) -> AllocationRowDTO:
    payout = None
    if p is not None:
        payout = AllocationPayoutDTO(
            id=p.id, allocation_row_id=p.allocation_row_id, method=p.method,  # type: ignore[arg-type]
            amount=p.amount, currency=p.currency, credit_grant_id=p.credit_grant_id,
            reference=p.reference, paid_at=p.paid_at,
        )  # fmt: skip
    return AllocationRowDTO(
        id=r.id, allocation_id=r.allocation_id, patron_id=r.patron_id, member_number=member_number,
        org_id=org_id, account_id=r.account_id, patronage=r.patronage, share=r.share, amount=r.amount,
        payout=payout,
    )  # fmt: skip


def rows_query() -> Select[Any]:
    stmt = (
        select(AllocationRow, Patron.member_number, Patron.org_id, AllocationPayout)
        .join(Patron, Patron.id == AllocationRow.patron_id)
        .outerjoin(AllocationPayout, AllocationPayout.allocation_row_id == AllocationRow.id)
    )
    return cast("Select[Any]", stmt)


async def list_rows(
    uow: UnitOfWork, allocation_id: uuid.UUID, *, paid: bool | None, limit: int, cursor: str | None
) -> Page[AllocationRowDTO]:
    """An allocation's rows by member number, each with its payout (one query)."""
    if await uow.session.scalar(select(Allocation.id).where(Allocation.id == allocation_id)) is None:
        raise NotFound("no such allocation", code="allocation_not_found")
    stmt = rows_query().where(AllocationRow.allocation_id == allocation_id)
    if paid is not None:
        stmt = stmt.where(AllocationPayout.id.is_not(None) if paid else AllocationPayout.id.is_(None))
    rows = (
        await uow.session.execute(keyset(stmt, [Patron.member_number.expression], cursor=cursor, limit=limit))
    ).all()
    return page_of(rows, limit, lambda r: [r[1]], lambda r: row_dto(*r))
