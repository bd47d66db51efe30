"""Tax rates, for operators (after Stripe's Tax Rates): created, listed, read, and switched
on or off. A rate is immutable except `active` (a trigger keeps it so): a new percentage is a
new rate. At most one rate is active per country and state (a partial unique index), so which
rate applies to a customer is never ambiguous; creating or reactivating a second one answers
409 `tax_rate_jurisdiction_taken` (deactivate the old one first). Both take the
jurisdiction's advisory lock, so concurrent requests cannot race past the check."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select

from modules.billing.contracts import TAX_RATE_CREATED, TAX_RATE_UPDATED, TaxRateDTO
from modules.billing.models.tax import TaxRate
from modules.billing.schemas import CreateTaxRate
from modules.billing.services.tax_math import plain_percentage
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

_LOCK_CLASS = 28  # advisory lock namespace of tax jurisdictions (the migration's number)
PERCENTAGE_STEP = Decimal("0.0001")


def tax_rate_dto(rate: TaxRate) -> TaxRateDTO:
    return TaxRateDTO(
        id=rate.id,
        display_name=rate.display_name,
        description=rate.description,
        percentage=plain_percentage(rate.percentage),
        inclusive=rate.inclusive,
        country=rate.country,
        state=rate.state,
        active=rate.active,
        created_at=rate.created_at,
    )


async def _lock_jurisdiction(uow: UnitOfWork, country: str, state: str | None) -> None:
    key = func.hashtextextended(f"{country}/{state or ''}", _LOCK_CLASS)
    await uow.session.execute(select(func.pg_advisory_xact_lock(key)))


async def _refuse_second_active(uow: UnitOfWork, country: str, state: str | None) -> None:
    await _lock_jurisdiction(uow, country, state)
    taken = await uow.session.scalar(
        select(TaxRate.id).where(
            TaxRate.active,
            TaxRate.country == country,
            TaxRate.state.is_(None) if state is None else TaxRate.state == state,
        )
    )
    if taken is not None:
        where = f"{country}/{state}" if state else country
        raise Conflict(
            f"tax rate {taken} is already active for {where}; deactivate it first",
            code="tax_rate_jurisdiction_taken",
        )


async def create_tax_rate(uow: UnitOfWork, data: CreateTaxRate) -> TaxRateDTO:
    percentage = Decimal(data.percentage)
    if percentage != percentage.quantize(PERCENTAGE_STEP):
        raise Unprocessable("a tax percentage has at most four decimals", code="invalid_tax_rate")
    if data.active:
        await _refuse_second_active(uow, data.country, data.state)
    rate = TaxRate(
        display_name=data.display_name,
        description=data.description,
        percentage=percentage,
        inclusive=data.inclusive,
        country=data.country,
        state=data.state,
        active=data.active,
    )
    uow.session.add(rate)
    await uow.session.flush()
    await uow.session.refresh(rate)
    dto = tax_rate_dto(rate)
    await uow.emit(
        TAX_RATE_CREATED, subject=Subject(type="tax_rate", id=str(rate.id), name=rate.display_name), data=dto
    )
    return dto


async def tax_rate_row(uow: UnitOfWork, tax_rate_id: uuid.UUID, *, lock: bool = False) -> TaxRate:
    stmt = select(TaxRate).where(TaxRate.id == tax_rate_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    rate = await uow.session.scalar(stmt)
    if rate is None:
        raise NotFound(f"tax rate {tax_rate_id} does not exist", code="tax_rate_not_found")
    return rate


async def get_tax_rate(uow: UnitOfWork, tax_rate_id: uuid.UUID) -> TaxRateDTO:
    return tax_rate_dto(await tax_rate_row(uow, tax_rate_id))


async def list_tax_rates(
    uow: UnitOfWork, *, active: bool | None, country: str | None, limit: int, cursor: str | None
) -> Page[TaxRateDTO]:
    stmt = select(TaxRate)
    if active is not None:
        stmt = stmt.where(TaxRate.active.is_(active))
    if country is not None:
        stmt = stmt.where(TaxRate.country == country)
    rows = (
        await uow.session.scalars(keyset(stmt, [TaxRate.id.expression], cursor=cursor, limit=limit))
    ).all()
    return page_of(rows, limit, lambda r: [str(r.id)], tax_rate_dto)


async def set_tax_rate_active(uow: UnitOfWork, tax_rate_id: uuid.UUID, active: bool) -> TaxRateDTO:
    """Stop applying a rate to invoices finalized from now on, or apply it again. Invoices
    already finalized keep the tax they were given."""
    rate = await tax_rate_row(uow, tax_rate_id)
    if rate.active != active and active:
        await _refuse_second_active(uow, rate.country, rate.state)
    rate = await tax_rate_row(uow, tax_rate_id, lock=True)
    if rate.active != active:
        rate.active = active
        await uow.session.flush()
        dto = tax_rate_dto(rate)
        await uow.emit(
            TAX_RATE_UPDATED,
            subject=Subject(type="tax_rate", id=str(rate.id), name=rate.display_name),
            data=dto,
        )
    return tax_rate_dto(rate)
