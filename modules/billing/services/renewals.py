"""Renewals: subscriptions whose period ended move into the next one, and each period is invoiced."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from modules.billing.contracts import (
    SUBSCRIPTION_CANCELED,
    SUBSCRIPTION_RENEWED,
)
from modules.billing.models import Subscription, SubscriptionItem
from modules.billing.services import job_batch
from modules.billing.services.metered_usage import bill_final_usage, bill_usage
from modules.billing.services.pauses import invoice_renewal
from modules.billing.services.periods import period_at
from modules.billing.services.scheduled_changes import apply_scheduled_change
from modules.billing.services.subscriptions import (
    LIVE,
    billing_cycle,
    iso,
    record_change,
    snapshot,
)
from modules.entitlements import api as ent_api
from platform_core.core.clock import utcnow
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork

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
    if not due:
        return 0
    async with job_batch.renewal_batch(uow, [(sub.id, sub.account_id) for sub in due]) as batch:
        for sub in due:
            await _renew(uow, sub, batch.items.get(sub.id, []), now)
    return len(due)


async def _renew(uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem], now: datetime) -> None:
    """One subscription of the batch: `items`, its current items (services/job_batch.py)."""
    before = snapshot(sub, items)
    subject = Subject(type="subscription", id=str(sub.id))
    if sub.cancel_at_period_end:
        await bill_final_usage(uow, sub, items, until=sub.current_period_end)
        sub.status, sub.canceled_at, sub.ended_at = "canceled", now, sub.current_period_end
        await uow.session.flush()
        await record_change(uow, sub, "canceled", before, snapshot(sub, items), sub.current_period_end)
        await uow.emit(
            SUBSCRIPTION_CANCELED, subject=subject, data={"at_period_end": True}, org_id=sub.org_id
        )
        return
    kind = "renewed"
    if sub.status == "trialing":
        assert sub.trial_end is not None
        kind, sub.status, sub.billing_cycle_anchor = "trial_ended", "active", sub.trial_end
        for item in items:  # quotas now reset with the paid periods
            if item.provision_id is not None:
                await ent_api.change_provision(
                    uow, item.provision_id, org_id=sub.org_id, billing_cycle=billing_cycle(sub)
                )
    while True:  # one period, and one invoice, at a time: missed periods are billed too
        await bill_usage(uow, sub, items, until=sub.current_period_end)  # the ended period's, in arrears
        sub.current_period_start, sub.current_period_end = period_at(
            sub.billing_cycle_anchor, sub.interval, sub.interval_count,
            sub.billing_cycle_anchor if kind == "trial_ended" else sub.current_period_end,
        )  # fmt: skip
        await uow.session.flush()
        items = await apply_scheduled_change(uow, sub, items)  # before the new period is invoiced
        await record_change(uow, sub, kind, before, snapshot(sub, items), sub.current_period_start)
        await invoice_renewal(uow, sub, items)  # a draft for the configured delay, or as a pause says
        await uow.emit(
            SUBSCRIPTION_RENEWED,
            subject=subject,
            data={
                "period_start": iso(sub.current_period_start),
                "period_end": iso(sub.current_period_end),
            },
            org_id=sub.org_id,
        )
        if sub.current_period_end > now:
            break
        kind, before = "renewed", snapshot(sub, items)
