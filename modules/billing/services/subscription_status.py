"""Dunning (services/dunning.py) moves subscriptions down the overdue ladder and back up."""

from __future__ import annotations

import uuid

from modules.billing.contracts import (
    SUBSCRIPTION_UPDATED,
    SubscriptionStatusChanged,
)
from modules.billing.models import Subscription
from modules.billing.services.periods import shift
from modules.billing.services.subscription_invoices import invoice_period
from modules.billing.services.subscriptions import (
    billing_cycle,
    items_of,
    locked_subscription,
    record_change,
    snapshot,
)
from modules.entitlements import api as ent_api
from platform_core.core.clock import utcnow
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork

LADDER_STATUSES = ("active", "past_due", "unpaid")


async def set_overdue_status(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, status: str, overdue_state: str
) -> bool:
    """`past_due` or `unpaid` (entitlements are dunning's to suspend, by pool), or back to a
    milder status when the account pays; recorded and announced like any change."""
    sub = await locked_subscription(uow, org_id, subscription_id)
    previous = sub.status
    if previous == status:
        return False
    items = await items_of(uow, sub)
    before = snapshot(sub, items)
    sub.status = status
    await uow.session.flush()
    worse = LADDER_STATUSES.index(status) > LADDER_STATUSES.index(previous)
    await record_change(uow, sub, status if worse else "restored", before, snapshot(sub, items), utcnow())
    await _announce_status(uow, sub, previous, overdue_state, "overdue" if worse else "resolved")
    return True


async def reinstate_canceled(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, status: str, overdue_state: str
) -> None:
    """Undo dunning's cancellation once the account pays: the subscription takes `status`
    again and its items' provisions are reinstated. If its period ended while the service was
    withheld and it comes back live, a new period starts now and is invoiced now (the time
    the service was withheld is not billed)."""
    sub = await locked_subscription(uow, org_id, subscription_id)
    if sub.status != "canceled":
        return
    items = await items_of(uow, sub)
    before = snapshot(sub, items)
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
                    uow, item.provision_id, org_id=org_id, billing_cycle=billing_cycle(sub)
                )
    await record_change(uow, sub, "restored", before, snapshot(sub, items), now)
    if restart:
        await invoice_period(uow, sub, items)
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
