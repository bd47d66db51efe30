"""Overage no price could price (the on-demand `price_ref` names no usable price, is tiered, or
is in another currency than the account): it waits in `unpriced_usage`, listed for operators,
never on an invoice at 0. An operator prices it with a price of the account's currency (it
becomes a usage pending charge for the next invoice, linked to its usage events) or waives it
with a reason; either is recorded (who, when) and announced."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select

from modules.billing.contracts import (
    UNPRICED_USAGE_CREATED,
    UNPRICED_USAGE_PRICED,
    UNPRICED_USAGE_WAIVED,
    UnpricedUsageDTO,
    UnpricedUsageStatus,
)
from modules.billing.models import (
    BillingAccount,
    UnpricedUsage,
)
from modules.billing.services.catalog import price_row
from modules.billing.services.invoices import add_pending_charge
from modules.billing.services.money import to_minor
from modules.entitlements.contracts import UsageOverage
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


def unpriced_dto(row: UnpricedUsage, currency: str) -> UnpricedUsageDTO:
    return UnpricedUsageDTO(
        id=row.id,
        org_id=row.org_id,
        account_id=row.account_id,
        resource_key=row.resource_key,
        quantity=str(row.quantity),
        price_ref=row.price_ref,
        reason=row.reason,
        period_start=row.period_start,
        period_end=row.period_end,
        usage_event_ids=list(row.usage_event_ids),
        status=row.status,  # type: ignore[arg-type]
        price_id=row.price_id,
        amount=row.amount,
        currency=currency,
        pending_charge_id=row.pending_charge_id,
        waive_reason=row.waive_reason,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        created_at=row.created_at,
    )


async def _announce(uow: UnitOfWork, event_type: str, row: UnpricedUsage, currency: str) -> None:
    await uow.emit(
        event_type,
        subject=Subject(type="unpriced_usage", id=str(row.id), name=row.resource_key),
        data=unpriced_dto(row, currency),
        org_id=row.org_id,
    )


async def hold(uow: UnitOfWork, account: BillingAccount, overage: UsageOverage, reason: str) -> None:
    """Keep an overage that could not be priced for an operator."""
    row = UnpricedUsage(
        org_id=account.org_id,
        account_id=account.id,
        resource_key=overage.resource_key,
        quantity=overage.quantity,
        price_ref=overage.price_ref,
        reason=reason,
        period_start=overage.period_start,
        period_end=overage.period_end,
        usage_event_ids=sorted(set(overage.usage_event_ids)),
    )
    uow.session.add(row)
    await uow.session.flush()
    await uow.session.refresh(row)
    await _announce(uow, UNPRICED_USAGE_CREATED, row, account.currency)


async def list_unpriced(
    uow: UnitOfWork, status: UnpricedUsageStatus | None, *, limit: int, cursor: str | None
) -> Page[UnpricedUsageDTO]:
    """Across organizations, oldest first (default: the open ones; ids are time-ordered)."""
    query = (
        select(UnpricedUsage, BillingAccount.currency)
        .join(BillingAccount, BillingAccount.id == UnpricedUsage.account_id)
        .where(UnpricedUsage.status == (status or "open"))
    )
    rows = list(
        await uow.session.execute(keyset(query, [UnpricedUsage.id.expression], cursor=cursor, limit=limit))
    )
    return page_of(rows, limit, lambda row: [str(row[0].id)], lambda row: unpriced_dto(*row))


async def _open(uow: UnitOfWork, unpriced_id: uuid.UUID) -> tuple[UnpricedUsage, BillingAccount]:
    row = await uow.session.scalar(
        select(UnpricedUsage)
        .where(UnpricedUsage.id == unpriced_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(f"unpriced usage {unpriced_id} does not exist", code="unpriced_usage_not_found")
    account = await uow.session.get_one(BillingAccount, row.account_id)
    if row.status != "open":
        raise Conflict(
            f"unpriced usage {unpriced_id} is already {row.status}", code=f"unpriced_usage_{row.status}"
        )
    return row, account


async def price_unpriced(uow: UnitOfWork, unpriced_id: uuid.UUID, price_id: uuid.UUID) -> UnpricedUsageDTO:
    row, account = await _open(uow, unpriced_id)
    price = await price_row(uow, price_id)
    if price.billing_scheme != "per_unit" or price.unit_amount is None:
        raise Unprocessable(
            f"price {price_id} is tiered; usage is priced per unit", code="price_not_per_unit"
        )
    if price.currency != account.currency:
        raise Unprocessable(
            f"price {price_id} is in {price.currency}, the account in {account.currency}",
            code="currency_mismatch",
        )
    amount = to_minor(Decimal(row.quantity) * price.unit_amount)
    charge = await add_pending_charge(
        uow,
        account,
        kind="usage",
        description=f"{row.quantity} x {row.resource_key} beyond the included amount (priced by an operator)",
        amount=amount,
        period=(row.period_start, row.period_end),
        usage_event_ids=row.usage_event_ids,
    )
    row.status, row.price_id, row.amount, row.pending_charge_id = "priced", price.id, amount, charge.id
    row.resolved_by, row.resolved_at = uow.actor.id, utcnow()
    await uow.session.flush()
    await uow.session.refresh(row)
    await _announce(uow, UNPRICED_USAGE_PRICED, row, account.currency)
    return unpriced_dto(row, account.currency)


async def waive_unpriced(uow: UnitOfWork, unpriced_id: uuid.UUID, reason: str) -> UnpricedUsageDTO:
    row, account = await _open(uow, unpriced_id)
    row.status, row.waive_reason = "waived", reason
    row.resolved_by, row.resolved_at = uow.actor.id, utcnow()
    await uow.session.flush()
    await uow.session.refresh(row)
    await _announce(uow, UNPRICED_USAGE_WAIVED, row, account.currency)
    return unpriced_dto(row, account.currency)
