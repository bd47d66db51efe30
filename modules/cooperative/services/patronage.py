"""Patronage: billing outcomes become contributions of the paying member, once each; a
fiscal year's surplus is allocated in proportion to them."""

from __future__ import annotations

import uuid
from typing import NamedTuple

import msgspec
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from modules.billing.contracts import InvoiceEventData
from modules.cooperative.contracts import (
    PATRON_JOINED,
    Allocation,
    AllocationReport,
    PatronageDTO,
    PatronageTotal,
    PatronDTO,
)
from modules.cooperative.models import Patron, PatronageEvent
from modules.cooperative.services.fiscal_years import open_fiscal_year
from modules.cooperative.services.shares import largest_remainder
from platform_core.core.errors import NotFound
from platform_core.core.ids import uuid7
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


def patron_dto(p: Patron) -> PatronDTO:
    return PatronDTO(
        id=p.id, member_number=p.member_number, org_id=p.org_id, account_id=p.account_id, status=p.status,
        joined_at=p.joined_at,
    )  # fmt: skip


async def _patron(uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID) -> Patron:
    """The organization's patron, made on first sight (idempotent under concurrency)."""
    inserted = (
        await uow.session.execute(
            insert(Patron.__table__)  # type: ignore[arg-type]
            .values(org_id=org_id, account_id=account_id)
            .on_conflict_do_nothing()
            .returning(Patron.__table__.c.id)
        )
    ).scalar_one_or_none()
    patron = await uow.session.scalar(select(Patron).where(Patron.org_id == org_id))
    assert patron is not None
    if inserted is not None:
        await uow.emit(
            PATRON_JOINED,
            subject=Subject(type="patron", id=str(patron.id), name=str(patron.member_number)),
            data={"member_number": patron.member_number, "account_id": str(account_id)},
            org_id=org_id,
        )
    return patron


async def on_account_created(uow: UnitOfWork, event: Event) -> None:
    assert event.org_id is not None
    await _patron(uow, event.org_id, uuid.UUID(event.subject.id))


async def record(
    uow: UnitOfWork,
    event: Event,
    *,
    account_id: uuid.UUID,
    source_type: str,
    source_id: uuid.UUID,
    amount: int,
    currency: str,
) -> bool:
    """One contribution (negative: a reversal) of the event's organization, once per
    (source_type, source_id), in the first fiscal year from the event's that is not approved
    (services/fiscal_years.py); True when it was recorded now, False when it already was."""
    assert event.org_id is not None
    patron = await _patron(uow, event.org_id, account_id)
    inserted = await uow.session.execute(
        insert(PatronageEvent.__table__)  # type: ignore[arg-type]
        .values(
            id=uuid7(),
            patron_id=patron.id,
            source_type=source_type,
            source_id=source_id,
            amount=amount,
            currency=currency,
            fiscal_year=await open_fiscal_year(uow, currency, event.occurred_at.year),
            occurred_at=event.occurred_at,
        )
        .on_conflict_do_nothing(index_elements=["source_type", "source_id"])
        .returning(PatronageEvent.__table__.c.id)
    )
    return inserted.scalar_one_or_none() is not None


async def on_invoice_paid(uow: UnitOfWork, event: Event) -> None:
    assert event.org_id is not None
    invoice = msgspec.convert(event.data, InvoiceEventData)
    if invoice.amount_paid == 0:
        return
    await record(
        uow,
        event,
        account_id=invoice.account_id,
        source_type="invoice_paid",
        source_id=uuid.UUID(event.subject.id),
        amount=invoice.amount_paid,
        currency=invoice.currency,
    )


async def patronage_of(uow: UnitOfWork, org_id: uuid.UUID) -> PatronageDTO:
    patron = await uow.session.scalar(select(Patron).where(Patron.org_id == org_id))
    if patron is None:
        raise NotFound(
            "the organization is not a patron yet (it has no billing account)", code="patron_not_found"
        )
    rows = await uow.session.execute(
        select(PatronageEvent.fiscal_year, PatronageEvent.currency, func.sum(PatronageEvent.amount))
        .where(PatronageEvent.patron_id == patron.id)
        .group_by(PatronageEvent.fiscal_year, PatronageEvent.currency)
        .order_by(PatronageEvent.fiscal_year, PatronageEvent.currency)
    )
    totals = [PatronageTotal(fiscal_year=y, currency=c, amount=int(a)) for y, c, a in rows]
    return PatronageDTO(patron=patron_dto(patron), totals=totals)


class PatronageBasis(NamedTuple):
    patron_id: uuid.UUID
    member_number: int
    org_id: uuid.UUID
    account_id: uuid.UUID
    patronage: int


async def patronage_bases(uow: UnitOfWork, *, fiscal_year: int, currency: str) -> list[PatronageBasis]:
    """Each patron's net patronage in the fiscal year and currency, positive ones only, by
    member number."""
    net = func.sum(PatronageEvent.amount)
    rows = await uow.session.execute(
        select(Patron.id, Patron.member_number, Patron.org_id, Patron.account_id, net)
        .join(PatronageEvent, PatronageEvent.patron_id == Patron.id)
        .where(PatronageEvent.fiscal_year == fiscal_year, PatronageEvent.currency == currency)
        .group_by(Patron.id)
        .having(net > 0)
        .order_by(Patron.member_number)
    )
    return [PatronageBasis(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]


async def allocate(uow: UnitOfWork, *, fiscal_year: int, currency: str, surplus: int) -> AllocationReport:
    """Largest-remainder division (`shares.largest_remainder`): each patron gets
    floor(surplus x patronage / total); the minor units left go one each to the largest
    remainders (ties: lowest member number). Patrons whose net patronage is not positive get
    nothing. A report: nothing is stored."""
    bases = await patronage_bases(uow, fiscal_year=fiscal_year, currency=currency)
    amounts = largest_remainder(surplus, [b.patronage for b in bases])
    return AllocationReport(
        fiscal_year=fiscal_year,
        currency=currency,
        surplus=surplus,
        total_patronage=sum(b.patronage for b in bases),
        allocations=[
            Allocation(
                patron_id=b.patron_id, member_number=b.member_number, org_id=b.org_id,
                patronage=b.patronage, share=amount,
            )
            for b, amount in zip(bases, amounts, strict=True)
        ],
    )  # fmt: skip


async def list_patrons(uow: UnitOfWork, *, limit: int, cursor: str | None) -> Page[PatronDTO]:
    stmt = keyset(select(Patron), [Patron.member_number.expression], cursor=cursor, limit=limit)
    rows = (await uow.session.scalars(stmt)).all()
    return page_of(rows, limit, lambda p: [p.member_number], patron_dto)
