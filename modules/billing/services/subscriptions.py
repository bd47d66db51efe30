"""Subscriptions: prices x quantities billed every period, provisioning their products'
entitlements through `entitlements.api` in the same transaction, with every change recorded
in the immutable `subscription_changes` trail together with the proration it implies.

Changes live in subscription_changes.py, renewals in renewals.py, dunning's statuses in
subscription_status.py."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import select

from modules.billing.contracts import (
    SUBSCRIPTION_CREATED,
    ProrationLine,
    SubscriptionChangeDTO,
    SubscriptionDTO,
    SubscriptionItemDTO,
)
from modules.billing.models import Price, Subscription, SubscriptionChange, SubscriptionItem
from modules.billing.schemas import CreateSubscription
from modules.billing.services.accounts import account_row
from modules.billing.services.catalog import price_row, product_row
from modules.billing.services.discount_applications import redeem_at_subscribe
from modules.billing.services.periods import shift
from modules.billing.services.subscription_invoices import invoice_period
from modules.entitlements import api as ent_api
from modules.entitlements.contracts import BillingCycle
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

LIVE = ("active", "trialing")


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def subscription_dto(sub: Subscription, items: list[SubscriptionItem]) -> SubscriptionDTO:
    return SubscriptionDTO(
        id=sub.id,
        org_id=sub.org_id,
        account_id=sub.account_id,
        pool_id=sub.pool_id,
        status=sub.status,  # type: ignore[arg-type]
        currency=sub.currency,
        interval=sub.interval,  # type: ignore[arg-type]
        interval_count=sub.interval_count,
        billing_cycle_anchor=sub.billing_cycle_anchor,
        current_period_start=sub.current_period_start,
        current_period_end=sub.current_period_end,
        trial_end=sub.trial_end,
        cancel_at_period_end=sub.cancel_at_period_end,
        canceled_at=sub.canceled_at,
        ended_at=sub.ended_at,
        items=[
            SubscriptionItemDTO(
                id=i.id, price_id=i.price_id, quantity=i.quantity, provision_id=i.provision_id
            )
            for i in items
        ],
        created_at=sub.created_at,
    )


def snapshot(sub: Subscription, items: list[SubscriptionItem]) -> dict[str, Any]:
    return {
        "status": sub.status,
        "current_period_start": iso(sub.current_period_start),
        "current_period_end": iso(sub.current_period_end),
        "cancel_at_period_end": sub.cancel_at_period_end,
        "items": [{"id": str(i.id), "price_id": str(i.price_id), "quantity": i.quantity} for i in items],
    }


def billing_cycle(sub: Subscription) -> BillingCycle:
    return BillingCycle(
        anchor=sub.billing_cycle_anchor,
        interval=sub.interval,  # type: ignore[arg-type]
        interval_count=sub.interval_count,
    )


async def items_of(uow: UnitOfWork, sub: Subscription) -> list[SubscriptionItem]:
    """The subscription's current items (an item removed by a plan change keeps its row)."""
    rows = await uow.session.scalars(
        select(SubscriptionItem)
        .where(SubscriptionItem.subscription_id == sub.id, SubscriptionItem.removed_at.is_(None))
        .order_by(SubscriptionItem.id)
    )
    return list(rows)


async def locked_subscription(uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID) -> Subscription:
    sub = await uow.session.scalar(
        select(Subscription)
        .where(Subscription.id == subscription_id, Subscription.org_id == org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist", code="subscription_not_found")
    return sub


async def record_change(
    uow: UnitOfWork,
    sub: Subscription,
    kind: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    effective_at: datetime,
    proration: list[ProrationLine] | None = None,
) -> None:
    uow.session.add(
        SubscriptionChange(
            subscription_id=sub.id,
            org_id=sub.org_id,
            kind=kind,
            before=before,
            after=after,
            proration=msgspec.to_builtins(proration or []),
            effective_at=effective_at,
            actor_type=uow.actor.type,
            actor_id=uow.actor.id,
        )
    )
    await uow.session.flush()


def refuse(message: str, code: str) -> Unprocessable:
    return Unprocessable(message, code=code)


async def _checked_prices(uow: UnitOfWork, data: CreateSubscription, currency: str) -> list[Price]:
    if len({i.price_id for i in data.items}) != len(data.items):
        raise refuse("each price may appear once; use its quantity", "duplicate_price")
    prices = [await price_row(uow, item.price_id) for item in data.items]
    for price, item in zip(prices, data.items, strict=True):
        if not price.active or not (await product_row(uow, price.product_id)).active:
            raise Conflict(f"price {price.id} is not for sale any more", code="price_inactive")
        if price.type != "recurring":
            raise refuse(
                f"price {price.id} is one-time; subscriptions need recurring prices", "price_not_recurring"
            )
        if price.currency != currency:
            raise refuse(
                f"price {price.id} is in {price.currency}, the account in {currency}", "currency_mismatch"
            )
        if price.usage_type == "metered" and item.quantity != 1:
            raise refuse(f"price {price.id} is metered: usage sets its quantity", "metered_quantity")
    if len({(p.interval, p.interval_count) for p in prices}) != 1:
        raise refuse("all prices of a subscription must share one billing interval", "mixed_intervals")
    return prices


async def _offered_trial_days(uow: UnitOfWork, prices: list[Price]) -> int:
    """The trial operators offer: each price's `trial_period_days`, else its product's; with
    several prices the shortest (a price offering none offers no trial for the whole)."""
    offered = []
    for price in prices:
        days = price.trial_period_days
        if days is None:
            days = (await product_row(uow, price.product_id)).trial_period_days
        offered.append(days or 0)
    return min(offered)


def _trial_end(data: CreateSubscription, offered_days: int, now: datetime) -> datetime | None:
    """The offered trial, or a shorter one the customer asks for; never a longer one."""
    if data.trial_period_days is not None and data.trial_end is not None:
        raise refuse("ask for trial_period_days or trial_end, not both", "trial_shape")
    latest = now + timedelta(days=offered_days)
    if data.trial_end is not None:
        if data.trial_end <= now:
            raise refuse("trial_end must be in the future", "trial_end_past")
        if data.trial_end > latest:
            raise refuse(
                f"the trial offered is {offered_days} day(s); trial_end may only shorten it", "trial_too_long"
            )
        return data.trial_end
    days = offered_days if data.trial_period_days is None else data.trial_period_days
    if days > offered_days:
        raise refuse(
            f"the trial offered is {offered_days} day(s); trial_period_days may only shorten it",
            "trial_too_long",
        )
    return now + timedelta(days=days) if days else None


async def create_subscription(
    uow: UnitOfWork, org_id: uuid.UUID, data: CreateSubscription
) -> SubscriptionDTO:
    account = await account_row(uow, org_id, data.account_id)
    if account.status != "active":
        raise Conflict("the billing account is closed", code="billing_account_closed")
    if not await ent_api.pool_in_org(uow, org_id, data.pool_id):
        raise NotFound(f"pool {data.pool_id} does not exist", code="pool_not_found")
    prices = await _checked_prices(uow, data, account.currency)
    interval, interval_count = prices[0].interval or "month", prices[0].interval_count
    now = utcnow()
    trial_end = _trial_end(data, await _offered_trial_days(uow, prices), now)
    sub = Subscription(
        org_id=org_id,
        account_id=account.id,
        pool_id=data.pool_id,
        status="trialing" if trial_end else "active",
        currency=account.currency,
        interval=interval,
        interval_count=interval_count,
        billing_cycle_anchor=now,
        current_period_start=now,
        current_period_end=trial_end or shift(now, interval, interval_count),
        trial_end=trial_end,
        created_by=uow.actor.id,
    )
    uow.session.add(sub)
    await uow.session.flush()
    items = []
    for price, wanted in zip(prices, data.items, strict=True):
        item = SubscriptionItem(subscription_id=sub.id, price_id=price.id, quantity=wanted.quantity)
        uow.session.add(item)
        await uow.session.flush()
        product = await product_row(uow, price.product_id)
        if product.entitlement_set_id is not None:
            provision = await ent_api.provision(
                uow,
                org_id=org_id,
                pool_id=data.pool_id,
                source_type="subscription",
                source_id=item.id,
                entitlement_set_id=product.entitlement_set_id,
                quantity=Decimal(item.quantity if price.usage_type == "licensed" else 1),
                starts_at=now,
                billing_cycle=billing_cycle(sub),
            )
            item.provision_id = provision.id
        items.append(item)
    await uow.session.flush()
    await uow.session.refresh(sub)
    await record_change(uow, sub, "created", None, snapshot(sub, items), now)
    if data.promotion_code:  # after the items: a code's minimum amount is checked against them
        await redeem_at_subscribe(uow, data.promotion_code, sub)
    if sub.status == "active":  # paid in advance; a trial's first invoice comes when it ends
        await invoice_period(uow, sub, items)
    await uow.emit(
        SUBSCRIPTION_CREATED,
        subject=Subject(type="subscription", id=str(sub.id)),
        data={"account_id": str(account.id), "status": sub.status, "items": snapshot(sub, items)["items"]},
        org_id=org_id,
    )
    return subscription_dto(sub, items)


async def get_subscription(uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID) -> SubscriptionDTO:
    sub = await uow.session.scalar(
        select(Subscription).where(Subscription.id == subscription_id, Subscription.org_id == org_id)
    )
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist", code="subscription_not_found")
    return subscription_dto(sub, await items_of(uow, sub))


async def list_subscriptions(
    uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[SubscriptionDTO]:
    """Oldest first (ids are time-ordered), with their items in one more query."""
    stmt = keyset(
        select(Subscription).where(Subscription.org_id == org_id),
        [Subscription.id.expression],
        cursor=cursor,
        limit=limit,
    )
    subs = list(await uow.session.scalars(stmt))
    items: dict[uuid.UUID, list[SubscriptionItem]] = {}
    for item in await uow.session.scalars(
        select(SubscriptionItem)
        .where(SubscriptionItem.subscription_id.in_([s.id for s in subs[:limit]]))
        .order_by(SubscriptionItem.id)
    ):
        items.setdefault(item.subscription_id, []).append(item)
    return page_of(subs, limit, lambda s: [str(s.id)], lambda s: subscription_dto(s, items.get(s.id, [])))


async def list_changes(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[SubscriptionChangeDTO]:
    """The trail of a subscription, oldest first."""
    await get_subscription(uow, org_id, subscription_id)
    stmt = keyset(
        select(SubscriptionChange).where(SubscriptionChange.subscription_id == subscription_id),
        [SubscriptionChange.id.expression],
        cursor=cursor,
        limit=limit,
    )
    return page_of(list(await uow.session.scalars(stmt)), limit, lambda c: [str(c.id)], change_dto)


def change_dto(c: SubscriptionChange) -> SubscriptionChangeDTO:
    return SubscriptionChangeDTO(
        id=c.id,
        subscription_id=c.subscription_id,
        kind=c.kind,
        before=c.before,
        after=c.after,
        proration=msgspec.convert(c.proration, list[ProrationLine]),
        effective_at=c.effective_at,
        actor_type=c.actor_type,
        actor_id=c.actor_id,
        created_at=c.created_at,
    )
