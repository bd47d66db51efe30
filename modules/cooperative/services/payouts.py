"""Paying an approved allocation row, once: as a patronage dividend credit grant on the
patron's billing account (`billing.api.grant_credit`, sourced by the row, so billing grants
it once too), or as a cash payment made outside Keel and recorded here.

The row is locked (`SELECT … FOR UPDATE`) before its payout is looked up, so two concurrent
payments of one row serialize: the second finds the first's payout and returns it. Paying
again the same way returns the payout made; another way is refused. The payout table is
unique per row and append-only, and its trigger checks the row is approved and the amount is
the row's."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from modules.billing import api as billing_api
from modules.cooperative.contracts import ALLOCATION_ROW_PAID, AllocationRowDTO
from modules.cooperative.models import Allocation, AllocationPayout, AllocationRow, Patron
from modules.cooperative.services.allocations import row_dto, rows_query
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, InvalidRequest, NotFound
from platform_core.core.ids import uuid7
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork

DIVIDEND_CATEGORY = "paid"  # the member's own money coming back, not a promotion


async def pay_row(
    uow: UnitOfWork,
    allocation_id: uuid.UUID,
    row_id: uuid.UUID,
    *,
    method: str,
    reference: str | None,
    paid_at: datetime | None,
) -> AllocationRowDTO:
    """`method` credit: a grant made now (`reference` and `paid_at` None); cash: `reference`
    names the payment made outside Keel, `paid_at` (default now) is not in the future."""
    if (method == "cash") != (reference is not None):
        raise ValueError("a cash payout, and only one, has a reference")
    found = (
        await uow.session.execute(
            select(AllocationRow, Allocation, Patron.org_id)
            .join(Allocation, Allocation.id == AllocationRow.allocation_id)
            .join(Patron, Patron.id == AllocationRow.patron_id)
            .where(AllocationRow.id == row_id, AllocationRow.allocation_id == allocation_id)
            .with_for_update(of=AllocationRow)
        )
    ).one_or_none()
    if found is None:
        raise NotFound("no such row in this allocation", code="allocation_row_not_found")
    row, allocation, org_id = found
    now = utcnow()
    if paid_at is not None and paid_at > now:
        raise InvalidRequest(
            "paid_at is in the future",
            code="invalid_window",
            errors=[{"field": "paid_at", "source": "body", "message": "not after now"}],
        )
    existing = await uow.session.scalar(
        select(AllocationPayout).where(AllocationPayout.allocation_row_id == row.id)
    )
    if existing is not None:
        if existing.method != method or (method == "cash" and existing.reference != reference):
            raise Conflict(
                f"the row is already paid ({existing.method}:"
                f" {existing.reference or existing.credit_grant_id})",
                code="allocation_row_already_paid",
            )
        return await _row(uow, row.id)
    if allocation.status != "approved":
        raise Conflict("only an approved allocation is paid", code="allocation_not_approved")
    if row.amount == 0:
        raise Conflict("the row's amount is 0: there is nothing to pay", code="nothing_to_pay")
    grant_id = None
    if method == "credit":
        grant = await billing_api.grant_credit(
            uow,
            account_id=row.account_id,
            amount=row.amount,
            currency=allocation.currency,
            category=DIVIDEND_CATEGORY,
            description=f"Patronage dividend {allocation.fiscal_year}",
            source_type="patronage",
            source_id=row.id,
            expires_at=None,
        )
        grant_id = grant.id
    uow.session.add(
        AllocationPayout(
            id=uuid7(),
            allocation_row_id=row.id,
            method=method,
            amount=row.amount,
            currency=allocation.currency,
            credit_grant_id=grant_id,
            reference=reference,
            paid_at=paid_at or now,
            paid_by=uow.actor.id,
        )
    )
    await uow.session.flush()
    paid = await _row(uow, row.id)
    await uow.emit(
        ALLOCATION_ROW_PAID,
        subject=Subject(
            type="allocation_row", id=str(row.id), name=f"{allocation.fiscal_year} {allocation.currency}"
        ),
        data=paid,
        org_id=org_id,
    )
    return paid


async def _row(uow: UnitOfWork, row_id: uuid.UUID) -> AllocationRowDTO:
    r = (await uow.session.execute(rows_query().where(AllocationRow.id == row_id))).one()
    return row_dto(*r)


async def pay_all_as_credit(uow: UnitOfWork, allocation_id: uuid.UUID) -> list[uuid.UUID]:
    """Pay every unpaid row with a positive amount of an approved allocation as credit, in
    member-number order (rows already paid are left as they are); the ids of the rows paid now."""
    allocation = await uow.session.get(Allocation, allocation_id)
    if allocation is None:
        raise NotFound("no such allocation", code="allocation_not_found")
    if allocation.status != "approved":
        raise Conflict("only an approved allocation is paid", code="allocation_not_approved")
    locked = await uow.session.scalars(
        select(AllocationRow.id)
        .join(Patron, Patron.id == AllocationRow.patron_id)
        .where(AllocationRow.allocation_id == allocation_id, AllocationRow.amount > 0)
        .order_by(Patron.member_number)
        .with_for_update(of=AllocationRow)
    )
    row_ids = list(locked)
    paid = set(
        await uow.session.scalars(
            select(AllocationPayout.allocation_row_id)
            .join(AllocationRow, AllocationRow.id == AllocationPayout.allocation_row_id)
            .where(AllocationRow.allocation_id == allocation_id)
        )
    )
    for row_id in row_ids:
        if row_id not in paid:
            await pay_row(uow, allocation_id, row_id, method="credit", reference=None, paid_at=None)
    return [r for r in row_ids if r not in paid]
