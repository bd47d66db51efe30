"""Changes to a live subscription: quantities (prorated), cancellation now or at the period's
end, and undoing a scheduled cancellation."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import msgspec
from sqlalchemy import select

from modules.billing.contracts import (
    SUBSCRIPTION_CANCELED,
    SUBSCRIPTION_UPDATED,
    ProrationLine,
    SubscriptionDTO,
)
from modules.billing.models import Invoice, Price, Subscription, SubscriptionItem
from modules.billing.services.accounts import account_row
from modules.billing.services.catalog import price_row
from modules.billing.services.invoices import add_pending_charge
from modules.billing.services.metered_usage import bill_final_usage
from modules.billing.services.money import prorate, to_minor
from modules.billing.services.subscription_invoices import item_amount
from modules.billing.services.subscriptions import (
    LIVE,
    items_of,
    locked_subscription,
    record_change,
    refuse,
    snapshot,
    subscription_dto,
)
from modules.entitlements import api as ent_api
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork


def _proration(
    sub: Subscription, item: SubscriptionItem, price: Price, quantity: int, now: datetime, *, unused: bool
) -> ProrationLine:
    """`quantity` of `price` for the rest of the current period: a credit for the time no longer
    used at the old quantity (`unused`), or a charge for the remaining time at the new one."""
    amount = prorate(
        item_amount(price, quantity),
        sub.current_period_end - now,
        sub.current_period_end - sub.current_period_start,
    )
    return ProrationLine(
        item_id=item.id,
        description=f"{'Unused' if unused else 'Remaining'} time on {quantity} x price {price.id}",
        amount=-amount if unused else amount,
        currency=sub.currency,
        period_start=now,
        period_end=sub.current_period_end,
    )


async def change_quantity(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, item_id: uuid.UUID, quantity: int
) -> SubscriptionDTO:
    sub = await locked_subscription(uow, org_id, subscription_id)
    if sub.status not in LIVE:
        raise Conflict(f"the subscription is {sub.status}", code="subscription_not_active")
    items = await items_of(uow, sub)
    item = next((i for i in items if i.id == item_id), None)
    if item is None:
        raise NotFound(f"item {item_id} is not part of this subscription", code="subscription_item_not_found")
    price = await price_row(uow, item.price_id)
    if price.usage_type == "metered":
        raise refuse("a metered item's quantity comes from usage", "metered_quantity")
    if quantity == item.quantity:
        return subscription_dto(sub, items)
    before = snapshot(sub, items)
    now = utcnow()
    proration = []
    if sub.status == "active":  # a trial is free: nothing to prorate
        proration = [
            _proration(sub, item, price, item.quantity, now, unused=True),
            _proration(sub, item, price, quantity, now, unused=False),
        ]
    item.quantity = quantity
    if item.provision_id is not None:
        await ent_api.change_provision(uow, item.provision_id, org_id=org_id, quantity=Decimal(quantity))
    await uow.session.flush()
    await charge_prorations(uow, sub, proration)
    await record_change(uow, sub, "quantity_changed", before, snapshot(sub, items), now, proration)
    await uow.emit(
        SUBSCRIPTION_UPDATED,
        subject=Subject(type="subscription", id=str(sub.id)),
        data={"item_id": str(item.id), "quantity": quantity, "proration": msgspec.to_builtins(proration)},
        org_id=org_id,
    )
    return subscription_dto(sub, items)


async def cancel(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, *, at_period_end: bool
) -> SubscriptionDTO:
    """At the period's end (entitlements end then too), or now (they end now, and the unused
    time of licensed items is credited). Canceling a canceled subscription changes nothing."""
    sub = await locked_subscription(uow, org_id, subscription_id)
    items = await items_of(uow, sub)
    if sub.status == "canceled" or (at_period_end and sub.cancel_at_period_end):
        return subscription_dto(sub, items)
    before = snapshot(sub, items)
    now = utcnow()
    if at_period_end:
        sub.cancel_at_period_end = True
        for item in items:
            if item.provision_id is not None:
                await ent_api.deprovision(uow, item.provision_id, org_id=org_id, at=sub.current_period_end)
        await uow.session.flush()
        await record_change(
            uow, sub, "cancel_scheduled", before, snapshot(sub, items), sub.current_period_end
        )
        await uow.emit(
            SUBSCRIPTION_UPDATED,
            subject=Subject(type="subscription", id=str(sub.id)),
            data={"cancel_at_period_end": True},
            org_id=org_id,
        )
        return subscription_dto(sub, items)
    proration = []
    paid_share = await period_paid_share(uow, sub) if sub.status in CREDITABLE else None
    for item in items:
        price = await price_row(uow, item.price_id)
        if paid_share is not None and price.usage_type == "licensed":
            credit = _paid_part(_proration(sub, item, price, item.quantity, now, unused=True), paid_share)
            if credit is not None:
                proration.append(credit)
        if item.provision_id is not None:
            await ent_api.deprovision(uow, item.provision_id, org_id=org_id)
    sub.status, sub.canceled_at, sub.ended_at = "canceled", now, now
    await uow.session.flush()
    await charge_prorations(uow, sub, proration)
    await bill_final_usage(uow, sub, items, until=now)
    await record_change(uow, sub, "canceled", before, snapshot(sub, items), now, proration)
    await uow.emit(
        SUBSCRIPTION_CANCELED,
        subject=Subject(type="subscription", id=str(sub.id)),
        data={"proration": msgspec.to_builtins(proration)},
        org_id=org_id,
    )
    return subscription_dto(sub, items)


CREDITABLE = ("active", "past_due", "unpaid")  # a trial was free: nothing to credit


async def period_paid_share(uow: UnitOfWork, sub: Subscription) -> tuple[int, int] | None:
    """How much of the current period's invoice was paid and kept, as (kept, total): paid
    minus refunded; None when no invoice billed the period or it was for nothing."""
    invoice = await uow.session.scalar(
        select(Invoice)
        .where(
            Invoice.subscription_id == sub.id,
            Invoice.period_start == sub.current_period_start,
            Invoice.status != "draft",
        )
        .order_by(Invoice.finalized_at.desc(), Invoice.id.desc())
        .limit(1)
    )
    if invoice is None or invoice.total <= 0:
        return None
    kept = min(max(invoice.amount_paid - invoice.amount_refunded, 0), invoice.total)
    return kept, invoice.total


def _paid_part(line: ProrationLine, share: tuple[int, int]) -> ProrationLine | None:
    """The credit for unused time, in the proportion of the period that was paid."""
    kept, total = share
    amount = to_minor(Decimal(line.amount) * kept / total)
    if amount == 0:
        return None
    description = line.description if kept == total else f"{line.description} (paid share {kept}/{total})"
    return msgspec.structs.replace(line, amount=amount, description=description)


async def reactivate(uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID) -> SubscriptionDTO:
    """Undo a cancellation scheduled for the period's end."""
    sub = await locked_subscription(uow, org_id, subscription_id)
    items = await items_of(uow, sub)
    if sub.status not in LIVE or not sub.cancel_at_period_end:
        raise Conflict("no cancellation is scheduled", code="cancellation_not_scheduled")
    before = snapshot(sub, items)
    sub.cancel_at_period_end = False
    for item in items:
        if item.provision_id is not None:
            await ent_api.change_provision(uow, item.provision_id, org_id=org_id, ends_at=None)
    await uow.session.flush()
    await record_change(uow, sub, "cancel_unscheduled", before, snapshot(sub, items), utcnow())
    await uow.emit(
        SUBSCRIPTION_UPDATED,
        subject=Subject(type="subscription", id=str(sub.id)),
        data={"cancel_at_period_end": False},
        org_id=org_id,
    )
    return subscription_dto(sub, items)


async def charge_prorations(uow: UnitOfWork, sub: Subscription, proration: list[ProrationLine]) -> None:
    """Prorations wait as pending charges for the account's next invoice."""
    account = await account_row(uow, sub.org_id, sub.account_id)
    for line in proration:
        if line.amount:
            await add_pending_charge(
                uow,
                account,
                kind="proration",
                description=line.description,
                amount=line.amount,
                subscription_id=sub.id,
                subscription_item_id=line.item_id,
                period=(line.period_start, line.period_end),
            )
