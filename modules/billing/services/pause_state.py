"""Whether a subscription's collection is paused (services/pauses.py), read by collection
without importing the pause machinery (which builds on accounts, hence on collection)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from modules.billing.models.plan_changes import SubscriptionPause
from modules.billing.services import job_batch
from platform_core.messaging.uow import UnitOfWork

WITHHOLDS_SERVICE = ("void", "mark_uncollectible")


async def pause_in_force(
    uow: UnitOfWork, subscription_id: uuid.UUID, *, lock: bool = False
) -> SubscriptionPause | None:
    batch = job_batch.current(uow)
    if batch is not None and subscription_id in batch.subscription_ids:  # read and locked already
        return next((p for p in batch.pauses.get(subscription_id, ()) if p.resumed_at is None), None)
    stmt = select(SubscriptionPause).where(
        SubscriptionPause.subscription_id == subscription_id, SubscriptionPause.resumed_at.is_(None)
    )
    return await uow.session.scalar(stmt.with_for_update() if lock else stmt)


async def collection_withheld(uow: UnitOfWork, subscription_id: uuid.UUID | None) -> bool:
    """Whether an invoice of this subscription must not be collected: a `void` or
    `mark_uncollectible` pause is in force (its invoices are voided or marked uncollectible)."""
    if subscription_id is None:
        return False
    pause = await pause_in_force(uow, subscription_id)
    return pause is not None and pause.behavior in WITHHOLDS_SERVICE
