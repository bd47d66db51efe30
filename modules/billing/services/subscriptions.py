"""Subscriptions: prices x quantities billed every period, provisioning their products'
entitlements through `entitlements.api` in the same transaction, with every change recorded
in the immutable `subscription_changes` trail together with the proration it implies."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import select

from modules.billing.contracts import (
    SUBSCRIPTION_CANCELED,
    SUBSCRIPTION_CREATED,
    SUBSCRIPTION_RENEWED,
    SUBSCRIPTION_UPDATED,
    ProrationLine,
    SubscriptionChangeDTO,
    SubscriptionDTO,
    SubscriptionItemDTO,
    SubscriptionStatusChanged,
)
from modules.billing.models import Invoice, Price, Subscription, SubscriptionChange, SubscriptionItem
from modules.billing.schemas import CreateSubscription
from modules.billing.services.accounts import account_row
from modules.billing.services.catalog import price_row, product_row, tiers_of
from modules.billing.services.discounts import discounted, redeem
from modules.billing.services.invoices import Line, add_pending_charge, issue_invoice
from modules.billing.services.money import amount_for, prorate, to_minor
from modules.billing.services.periods import period_at, shift
from modules.entitlements import api as ent_api
from modules.entitlements.contracts import BillingCycle
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork

LIVE = ("active", "trialing")


def _iso(moment: datetime | None) -> str | None:
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


def _snapshot(sub: Subscription, items: list[SubscriptionItem]) -> dict[str, Any]:
    return {
        "status": sub.status,
        "current_period_start": _iso(sub.current_period_start),
        "current_period_end": _iso(sub.current_period_end),
        "cancel_at_period_end": sub.cancel_at_period_end,
        "items": [{"id": str(i.id), "price_id": str(i.price_id), "quantity": i.quantity} for i in items],
    }


def _cycle(sub: Subscription) -> BillingCycle:
    return BillingCycle(
        anchor=sub.billing_cycle_anchor,
        interval=sub.interval,  # type: ignore[arg-type]
        interval_count=sub.interval_count,
    )


async def _items(uow: UnitOfWork, sub: Subscription) -> list[SubscriptionItem]:
    rows = await uow.session.scalars(
        select(SubscriptionItem)
        .where(SubscriptionItem.subscription_id == sub.id)
        .order_by(SubscriptionItem.id)
    )
    return list(rows)


async def _locked(uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID) -> Subscription:
    sub = await uow.session.scalar(
        select(Subscription)
        .where(Subscription.id == subscription_id, Subscription.org_id == org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist", code="subscription_not_found")
    return sub


async def _record(
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


def _refuse(message: str, code: str) -> Unprocessable:
    return Unprocessable(message, code=code)


async def _checked_prices(uow: UnitOfWork, data: CreateSubscription, currency: str) -> list[Price]:
    if len({i.price_id for i in data.items}) != len(data.items):
        raise _refuse("each price may appear once; use its quantity", "duplicate_price")
    prices = [await price_row(uow, item.price_id) for item in data.items]
    for price, item in zip(prices, data.items, strict=True):
        if not price.active or not (await product_row(uow, price.product_id)).active:
            raise Conflict(f"price {price.id} is not for sale any more", code="price_inactive")
        if price.type != "recurring":
            raise _refuse(
                f"price {price.id} is one-time; subscriptions need recurring prices", "price_not_recurring"
            )
        if price.currency != currency:
            raise _refuse(
                f"price {price.id} is in {price.currency}, the account in {currency}", "currency_mismatch"
            )
        if price.usage_type == "metered" and item.quantity != 1:
            raise _refuse(f"price {price.id} is metered: usage sets its quantity", "metered_quantity")
    if len({(p.interval, p.interval_count) for p in prices}) != 1:
        raise _refuse("all prices of a subscription must share one billing interval", "mixed_intervals")
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
        raise _refuse("ask for trial_period_days or trial_end, not both", "trial_shape")
    latest = now + timedelta(days=offered_days)
    if data.trial_end is not None:
        if data.trial_end <= now:
            raise _refuse("trial_end must be in the future", "trial_end_past")
        if data.trial_end > latest:
            raise _refuse(
                f"the trial offered is {offered_days} day(s); trial_end may only shorten it", "trial_too_long"
            )
        return data.trial_end
    days = offered_days if data.trial_period_days is None else data.trial_period_days
    if days > offered_days:
        raise _refuse(
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
    if data.promotion_code:
        await redeem(uow, data.promotion_code, sub)
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
                billing_cycle=_cycle(sub),
            )
            item.provision_id = provision.id
        items.append(item)
    await uow.session.flush()
    await uow.session.refresh(sub)
    await _record(uow, sub, "created", None, _snapshot(sub, items), now)
    if sub.status == "active":  # paid in advance; a trial's first invoice comes when it ends
        await _invoice_period(uow, sub, items)
    await uow.emit(
        SUBSCRIPTION_CREATED,
        subject=Subject(type="subscription", id=str(sub.id)),
        data={"account_id": str(account.id), "status": sub.status, "items": _snapshot(sub, items)["items"]},
        org_id=org_id,
    )
    return subscription_dto(sub, items)


async def get_subscription(uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID) -> SubscriptionDTO:
    sub = await uow.session.scalar(
        select(Subscription).where(Subscription.id == subscription_id, Subscription.org_id == org_id)
    )
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist", code="subscription_not_found")
    return subscription_dto(sub, await _items(uow, sub))


async def list_subscriptions(uow: UnitOfWork, org_id: uuid.UUID) -> list[SubscriptionDTO]:
    subs = await uow.session.scalars(
        select(Subscription).where(Subscription.org_id == org_id).order_by(Subscription.created_at)
    )
    return [subscription_dto(s, await _items(uow, s)) for s in subs]


def _item_amount(price: Price, quantity: int) -> int:
    return amount_for(
        quantity, unit_amount=price.unit_amount, tiers=tiers_of(price), tiers_mode=price.tiers_mode
    )


def _proration(
    sub: Subscription, item: SubscriptionItem, price: Price, quantity: int, now: datetime, *, unused: bool
) -> ProrationLine:
    """`quantity` of `price` for the rest of the current period: a credit for the time no longer
    used at the old quantity (`unused`), or a charge for the remaining time at the new one."""
    amount = prorate(
        _item_amount(price, quantity),
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
    sub = await _locked(uow, org_id, subscription_id)
    if sub.status not in LIVE:
        raise Conflict(f"the subscription is {sub.status}", code="subscription_not_active")
    items = await _items(uow, sub)
    item = next((i for i in items if i.id == item_id), None)
    if item is None:
        raise NotFound(f"item {item_id} is not part of this subscription", code="subscription_item_not_found")
    price = await price_row(uow, item.price_id)
    if price.usage_type == "metered":
        raise _refuse("a metered item's quantity comes from usage", "metered_quantity")
    if quantity == item.quantity:
        return subscription_dto(sub, items)
    before = _snapshot(sub, items)
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
    await _charge(uow, sub, proration)
    await _record(uow, sub, "quantity_changed", before, _snapshot(sub, items), now, proration)
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
    sub = await _locked(uow, org_id, subscription_id)
    items = await _items(uow, sub)
    if sub.status == "canceled" or (at_period_end and sub.cancel_at_period_end):
        return subscription_dto(sub, items)
    before = _snapshot(sub, items)
    now = utcnow()
    if at_period_end:
        sub.cancel_at_period_end = True
        for item in items:
            if item.provision_id is not None:
                await ent_api.deprovision(uow, item.provision_id, org_id=org_id, at=sub.current_period_end)
        await uow.session.flush()
        await _record(uow, sub, "cancel_scheduled", before, _snapshot(sub, items), sub.current_period_end)
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
    await _charge(uow, sub, proration)
    await _record(uow, sub, "canceled", before, _snapshot(sub, items), now, proration)
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
    sub = await _locked(uow, org_id, subscription_id)
    items = await _items(uow, sub)
    if sub.status not in LIVE or not sub.cancel_at_period_end:
        raise Conflict("no cancellation is scheduled", code="cancellation_not_scheduled")
    before = _snapshot(sub, items)
    sub.cancel_at_period_end = False
    for item in items:
        if item.provision_id is not None:
            await ent_api.change_provision(uow, item.provision_id, org_id=org_id, ends_at=None)
    await uow.session.flush()
    await _record(uow, sub, "cancel_unscheduled", before, _snapshot(sub, items), utcnow())
    await uow.emit(
        SUBSCRIPTION_UPDATED,
        subject=Subject(type="subscription", id=str(sub.id)),
        data={"cancel_at_period_end": False},
        org_id=org_id,
    )
    return subscription_dto(sub, items)


async def list_changes(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID
) -> list[SubscriptionChangeDTO]:
    await get_subscription(uow, org_id, subscription_id)
    rows = await uow.session.scalars(
        select(SubscriptionChange)
        .where(SubscriptionChange.subscription_id == subscription_id)
        .order_by(SubscriptionChange.id)
    )
    return [
        SubscriptionChangeDTO(
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
        for c in rows
    ]


RENEW_BATCH = 100


async def renew_due(uow: UnitOfWork) -> int:
    """Move up to `RENEW_BATCH` subscriptions whose period ended into their next period: end
    those scheduled to cancel, start billing those whose trial ended, and catch up on periods
    missed while no job ran. Returns how many were handled."""
    now = utcnow()
    due = list(
        await uow.session.scalars(
            select(Subscription)
            .where(Subscription.status.in_(LIVE), Subscription.current_period_end <= now)
            .order_by(Subscription.current_period_end)
            .limit(RENEW_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for sub in due:
        items = await _items(uow, sub)
        before = _snapshot(sub, items)
        subject = Subject(type="subscription", id=str(sub.id))
        if sub.cancel_at_period_end:
            sub.status, sub.canceled_at, sub.ended_at = "canceled", now, sub.current_period_end
            await uow.session.flush()
            await _record(uow, sub, "canceled", before, _snapshot(sub, items), sub.current_period_end)
            await uow.emit(
                SUBSCRIPTION_CANCELED, subject=subject, data={"at_period_end": True}, org_id=sub.org_id
            )
            continue
        kind = "renewed"
        if sub.status == "trialing":
            assert sub.trial_end is not None
            kind, sub.status, sub.billing_cycle_anchor = "trial_ended", "active", sub.trial_end
            for item in items:  # quotas now reset with the paid periods
                if item.provision_id is not None:
                    await ent_api.change_provision(
                        uow, item.provision_id, org_id=sub.org_id, billing_cycle=_cycle(sub)
                    )
        while True:  # one period, and one invoice, at a time: missed periods are billed too
            sub.current_period_start, sub.current_period_end = period_at(
                sub.billing_cycle_anchor, sub.interval, sub.interval_count,
                sub.billing_cycle_anchor if kind == "trial_ended" else sub.current_period_end,
            )  # fmt: skip
            await uow.session.flush()
            await _record(uow, sub, kind, before, _snapshot(sub, items), sub.current_period_start)
            await _invoice_period(uow, sub, items)
            await uow.emit(
                SUBSCRIPTION_RENEWED,
                subject=subject,
                data={
                    "period_start": _iso(sub.current_period_start),
                    "period_end": _iso(sub.current_period_end),
                },
                org_id=sub.org_id,
            )
            if sub.current_period_end > now:
                break
            kind, before = "renewed", _snapshot(sub, items)
    return len(due)


async def _invoice_period(uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem]) -> None:
    """The invoice of the current period: its licensed items, in advance (metered usage will
    be billed in arrears once usage billing exists), plus the account's pending charges."""
    lines = []
    for item in items:
        price = await price_row(uow, item.price_id)
        if price.usage_type != "licensed":
            continue
        product = await product_row(uow, price.product_id)
        lines.append(
            Line(
                source="subscription_item",
                source_id=item.id,
                description=f"{item.quantity} x {product.name}",
                quantity=item.quantity,
                unit_amount=price.unit_amount,
                amount=_item_amount(price, item.quantity),
                period_start=sub.current_period_start,
                period_end=sub.current_period_end,
            )
        )
    lines = await discounted(uow, sub, lines)
    account = await account_row(uow, sub.org_id, sub.account_id)
    await issue_invoice(
        uow, account, lines, subscription_id=sub.id, period=(sub.current_period_start, sub.current_period_end)
    )


async def _charge(uow: UnitOfWork, sub: Subscription, proration: list[ProrationLine]) -> None:
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


# Dunning (services/dunning.py) moves subscriptions down the overdue ladder and back up.
LADDER_STATUSES = ("active", "past_due", "unpaid")


async def set_overdue_status(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, status: str, overdue_state: str
) -> bool:
    """`past_due` or `unpaid` (entitlements are dunning's to suspend, by pool), or back to a
    milder status when the account pays; recorded and announced like any change."""
    sub = await _locked(uow, org_id, subscription_id)
    previous = sub.status
    if previous == status:
        return False
    items = await _items(uow, sub)
    before = _snapshot(sub, items)
    sub.status = status
    await uow.session.flush()
    worse = LADDER_STATUSES.index(status) > LADDER_STATUSES.index(previous)
    await _record(uow, sub, status if worse else "restored", before, _snapshot(sub, items), utcnow())
    await _announce_status(uow, sub, previous, overdue_state, "overdue" if worse else "resolved")
    return True


async def reinstate_canceled(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, status: str, overdue_state: str
) -> None:
    """Undo dunning's cancellation once the account pays: the subscription takes `status`
    again and its items' provisions are reinstated. If its period ended while the service was
    withheld and it comes back live, a new period starts now and is invoiced now (the time
    the service was withheld is not billed)."""
    sub = await _locked(uow, org_id, subscription_id)
    if sub.status != "canceled":
        return
    items = await _items(uow, sub)
    before = _snapshot(sub, items)
    now = utcnow()
    sub.status, sub.canceled_at, sub.ended_at, sub.cancel_at_period_end = status, None, None, False
    restart = status in ("active", "past_due") and sub.current_period_end <= now
    if restart:
        sub.billing_cycle_anchor = now
        sub.current_period_start, sub.current_period_end = now, shift(now, sub.interval, sub.interval_count)
    await uow.session.flush()
    for item in items:
        if item.provision_id is not None:
            await ent_api.reinstate_provision(uow, item.provision_id, org_id=org_id)
            if restart:
                await ent_api.change_provision(
                    uow, item.provision_id, org_id=org_id, billing_cycle=_cycle(sub)
                )
    await _record(uow, sub, "restored", before, _snapshot(sub, items), now)
    if restart:
        await _invoice_period(uow, sub, items)
    await _announce_status(uow, sub, "canceled", overdue_state, "resolved")


async def _announce_status(
    uow: UnitOfWork, sub: Subscription, previous: str, overdue_state: str, reason: str
) -> None:
    await uow.emit(
        SUBSCRIPTION_UPDATED,
        subject=Subject(type="subscription", id=str(sub.id)),
        data=SubscriptionStatusChanged(
            previous=previous,  # type: ignore[arg-type]
            status=sub.status,  # type: ignore[arg-type]
            reason=reason,  # type: ignore[arg-type]
            overdue_state=overdue_state,  # type: ignore[arg-type]
        ),
        org_id=sub.org_id,
    )
