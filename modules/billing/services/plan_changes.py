"""Plan changes, after Stripe's subscription update: swap an item's price (an upgrade or a
downgrade: same currency, same interval), add an item, remove one (never the last), change a
quantity, several at once. Everything is checked before anything is written, so a refused
request writes nothing.

`proration_behavior` (now): `create_prorations` (default) credits the unused time of what an
item was and charges the remaining time of what it becomes, as pending charges for the next
invoice (services/plan_change_math.py); `none` prorates nothing; `always_invoice` invoices the
prorations at once (finalized now). A trial prorates nothing. `proration_date` (default now)
may lie in the current period and at most an hour back, so that a preview's figures can be
reproduced but no one picks the moment that pays best. Entitlements follow in the same
transaction: a swapped item's provision changes set and quantity, a removed item's ends now,
an added item's starts now. Metered items: their quantity comes from usage (refused), and a
metered price is swapped in or out, or removed, only at the period's end (services/
scheduled_changes.py), so that a period's usage is never split between two prices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import msgspec

from modules.billing.contracts import SUBSCRIPTION_UPDATED, InvoiceDTO, PlanChangeDTO, ProrationLine
from modules.billing.models import Price, Subscription, SubscriptionItem
from modules.billing.schemas import ItemChangeIn, UpdateSubscription
from modules.billing.services.accounts import account_row
from modules.billing.services.catalog import price_row, product_row
from modules.billing.services.invoice_finalize import issue_invoice
from modules.billing.services.pause_state import pause_in_force
from modules.billing.services.plan_change_math import Side, item_prorations
from modules.billing.services.subscription_changes import charge_prorations
from modules.billing.services.subscription_invoices import item_amount
from modules.billing.services.subscriptions import (
    LIVE,
    billing_cycle,
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

PRORATION_DATE_LOOKBACK = timedelta(hours=1)


@dataclass(frozen=True)
class Move:
    """One checked item change: `item` None for a new item, `new_price` None for a removal."""

    item: SubscriptionItem | None
    old_price: Price | None
    new_price: Price | None
    quantity: int


async def _checked_price(uow: UnitOfWork, sub: Subscription, price_id: uuid.UUID, *, applying: bool) -> Price:
    """A price the subscription may take: recurring, its currency and interval, for sale (a
    scheduled change `applying` at the period's end keeps a price that was for sale then)."""
    price = await price_row(uow, price_id)
    if not applying and (not price.active or not (await product_row(uow, price.product_id)).active):
        raise Conflict(f"price {price.id} is not for sale any more", code="price_inactive")
    if price.type != "recurring":
        raise refuse(
            f"price {price.id} is one-time; subscriptions need recurring prices", "price_not_recurring"
        )
    if price.currency != sub.currency:
        raise refuse(
            f"price {price.id} is in {price.currency}, the subscription in {sub.currency}",
            "currency_mismatch",
        )
    if (price.interval, price.interval_count) != (sub.interval, sub.interval_count):
        raise refuse(
            f"price {price.id} bills every {price.interval_count} {price.interval}, the subscription every"
            f" {sub.interval_count} {sub.interval}",
            "interval_mismatch",
        )
    return price


def _metered_quantity(price: Price, quantity: int | None) -> None:
    if price.usage_type == "metered" and quantity not in (None, 1):
        raise refuse(f"price {price.id} is metered: usage sets its quantity", "metered_quantity")


async def plan_moves(
    uow: UnitOfWork,
    sub: Subscription,
    items: list[SubscriptionItem],
    changes: Sequence[ItemChangeIn],
    *,
    at_period_end: bool,
    applying: bool = False,
) -> list[Move]:
    """Check `changes` against the subscription's current `items`, writing nothing: 404 for an
    unknown item or price, 409 for a price no longer sold, 422 for anything else."""
    by_id = {i.id: i for i in items}
    named = [c.id for c in changes if c.id is not None]
    if len(named) != len(set(named)):
        raise refuse("each item may appear once", "duplicate_item")
    moves = []
    for change in changes:
        item = by_id.get(change.id) if change.id is not None else None
        if change.id is not None and item is None:
            raise NotFound(
                f"item {change.id} is not part of this subscription", code="subscription_item_not_found"
            )
        if change.deleted and (change.price_id is not None or change.quantity is not None or item is None):
            raise refuse(
                "`deleted` names an existing item, without price_id or quantity", "item_change_shape"
            )
        if item is None and change.price_id is None:
            raise refuse("a new item needs its price_id", "item_change_shape")
        old = await price_row(uow, item.price_id) if item is not None else None
        new = (
            old
            if change.price_id is None
            else await _checked_price(uow, sub, change.price_id, applying=applying)
        )
        if change.deleted:
            new = None
        if old is not None and old.usage_type == "metered" and change.quantity not in (None, 1):
            raise refuse(f"item {change.id} is metered: usage sets its quantity", "metered_quantity")
        if new is not None:
            _metered_quantity(new, change.quantity)
        metered = any(p is not None and p.usage_type == "metered" for p in (old, new))
        swapped_or_removed = old is not None and (new is None or new.id != old.id)
        if metered and swapped_or_removed and not at_period_end:
            raise refuse(
                "a metered price is swapped or removed at the period's end only (at: period_end)",
                "metered_change_at_period_end",
            )
        quantity = change.quantity or (item.quantity if item is not None else 1)
        if new is None:
            quantity = 0
        elif new.usage_type == "metered":
            quantity = 1
        moves.append(Move(item=item, old_price=old, new_price=new, quantity=quantity))
    _check_result(items, moves)
    return moves


def _check_result(items: list[SubscriptionItem], moves: list[Move]) -> None:
    """No price twice, not even for a moment (a price another current item holds cannot be
    swapped in: remove that item first), and at least one item left."""
    changed = {m.item.id: m for m in moves if m.item is not None}
    held = {i.price_id: i.id for i in items}
    final = [i.price_id for i in items if i.id not in changed]
    for move in moves:
        if move.new_price is None:
            continue
        holder = held.get(move.new_price.id)
        if holder is not None and (move.item is None or holder != move.item.id):
            raise refuse(
                f"price {move.new_price.id} is already an item of the subscription", "duplicate_price"
            )
        final.append(move.new_price.id)
    if len(final) != len(set(final)):
        raise refuse("each price may appear once; use its quantity", "duplicate_price")
    if not final:
        raise refuse("a subscription keeps at least one item; cancel it instead", "last_item")


def _side(price: Price | None, quantity: int) -> Side | None:
    if price is None or price.usage_type != "licensed":
        return None
    return Side(price_id=price.id, quantity=quantity, period_amount=item_amount(price, quantity))


NEW_ITEM = uuid.UUID(int=0)  # a preview's new item has no id yet


def sides_of(move: Move) -> tuple[Side | None, Side | None]:
    """What the item was and becomes, for proration (read before the move is applied)."""
    was = _side(move.old_price, move.item.quantity) if move.item is not None else None
    return was, _side(move.new_price, move.quantity)


def prorations_of(
    sub: Subscription,
    sides: list[tuple[Side | None, Side | None]],
    item_ids: Sequence[uuid.UUID],
    at: datetime,
) -> list[ProrationLine]:
    """Every move's proration at `at`, on the item it concerns."""
    lines = []
    for (was, becomes), item_id in zip(sides, item_ids, strict=True):
        lines += item_prorations(
            item_id,
            was,
            becomes,
            period=(sub.current_period_start, sub.current_period_end),
            at=at,
            currency=sub.currency,
        )
    return lines


async def apply_moves(
    uow: UnitOfWork, sub: Subscription, moves: list[Move], now: datetime
) -> list[uuid.UUID]:
    """Write the moves and re-provision (same transaction); the item each move concerns."""
    ids = []
    for move in moves:
        item = move.item
        if move.new_price is None:
            assert item is not None
            item.removed_at = now
            if item.provision_id is not None:
                await ent_api.deprovision(uow, item.provision_id, org_id=sub.org_id)
        elif item is None:
            item = SubscriptionItem(
                subscription_id=sub.id, price_id=move.new_price.id, quantity=move.quantity
            )
            uow.session.add(item)
            await uow.session.flush()
            await _provision(uow, sub, item, move.new_price, now)
        else:
            set_before = (
                (await product_row(uow, move.old_price.product_id)).entitlement_set_id
                if move.old_price
                else None
            )
            item.price_id, item.quantity = move.new_price.id, move.quantity
            set_after = (await product_row(uow, move.new_price.product_id)).entitlement_set_id
            if item.provision_id is not None and set_after is not None:
                await ent_api.change_provision(
                    uow,
                    item.provision_id,
                    org_id=sub.org_id,
                    entitlement_set_id=set_after if set_after != set_before else None,
                    quantity=Decimal(move.quantity),
                )
            elif item.provision_id is not None:
                await ent_api.deprovision(uow, item.provision_id, org_id=sub.org_id)
                item.provision_id = None
            elif set_after is not None:
                await _provision(uow, sub, item, move.new_price, now)
        await uow.session.flush()
        ids.append(item.id)
    return ids


async def _provision(
    uow: UnitOfWork, sub: Subscription, item: SubscriptionItem, price: Price, now: datetime
) -> None:
    product = await product_row(uow, price.product_id)
    if product.entitlement_set_id is None:
        return
    provision = await ent_api.provision(
        uow,
        org_id=sub.org_id,
        pool_id=sub.pool_id,
        source_type="subscription",
        source_id=item.id,
        entitlement_set_id=product.entitlement_set_id,
        quantity=Decimal(item.quantity),
        starts_at=now,
        ends_at=sub.current_period_end if sub.cancel_at_period_end else None,
        billing_cycle=billing_cycle(sub),
    )
    item.provision_id = provision.id


def check_proration_date(sub: Subscription, at: datetime, now: datetime, *, preview: bool) -> None:
    """Within the current period; for a real change also at most an hour back, never ahead."""
    if not sub.current_period_start <= at <= sub.current_period_end:
        raise refuse("proration_date must lie in the current period", "invalid_proration_date")
    if not preview and not now - PRORATION_DATE_LOOKBACK <= at <= now:
        raise refuse("proration_date may be at most an hour back and never ahead", "invalid_proration_date")


async def check_changeable(uow: UnitOfWork, sub: Subscription) -> None:
    if sub.status not in LIVE:
        raise Conflict(f"the subscription is {sub.status}", code="subscription_not_active")
    if await pause_in_force(uow, sub.id) is not None:
        raise Conflict("collection is paused; resume it before changing items", code="subscription_paused")


async def update_subscription(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, data: UpdateSubscription
) -> PlanChangeDTO:
    from modules.billing.services.scheduled_changes import schedule_change

    sub = await locked_subscription(uow, org_id, subscription_id)
    await check_changeable(uow, sub)
    items = await items_of(uow, sub)
    at_period_end = data.at == "period_end"
    moves = await plan_moves(uow, sub, items, data.items, at_period_end=at_period_end)
    if at_period_end:
        if data.proration_behavior is not None or data.proration_date is not None:
            raise refuse("a change at the period's end prorates nothing", "proration_at_period_end")
        return await schedule_change(uow, sub, items, data.items)
    now = utcnow()
    at = data.proration_date or now
    check_proration_date(sub, at, now, preview=False)
    behavior = data.proration_behavior or "create_prorations"
    before = snapshot(sub, items)
    sides = [sides_of(m) for m in moves]
    ids = await apply_moves(uow, sub, moves, now)
    proration = prorations_of(sub, sides, ids, at) if sub.status == "active" and behavior != "none" else []
    items = await items_of(uow, sub)
    await charge_prorations(uow, sub, proration)
    invoice: InvoiceDTO | None = None
    if behavior == "always_invoice" and proration:
        account = await account_row(uow, sub.org_id, sub.account_id)
        invoice = await issue_invoice(uow, account, [], subscription_id=sub.id, finalize_now=True)
    await record_change(uow, sub, "items_changed", before, snapshot(sub, items), at, proration)
    await uow.emit(
        SUBSCRIPTION_UPDATED,
        subject=Subject(type="subscription", id=str(sub.id)),
        data={
            "items": snapshot(sub, items)["items"],
            "proration_behavior": behavior,
            "proration": msgspec.to_builtins(proration),
            "invoice_id": str(invoice.id) if invoice else None,
        },
        org_id=org_id,
    )
    return PlanChangeDTO(
        subscription=subscription_dto(sub, items), proration=proration, invoice=invoice, scheduled_change=None
    )
