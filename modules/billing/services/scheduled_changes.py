"""Item changes scheduled for the period's end (after Stripe's subscription schedules, one next
phase): checked when asked (as an immediate change would be, except that a metered price may be
swapped or removed), stored, listed, cancelable, and applied by the renewal at the boundary,
before the new period is invoiced, so that the new period bills the new items and entitlements
change then, not before. Nothing is prorated: the change falls between two periods.

A change that can no longer be applied when its time comes (an item it names was removed, a
price is now held by another item) is canceled with its `outcome` and the subscription renews
as it is. A price withdrawn from sale in between is still applied: it was for sale when asked."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import select

from modules.billing.contracts import (
    SUBSCRIPTION_UPDATED,
    ItemChange,
    PlanChangeDTO,
    ScheduledChangeDTO,
)
from modules.billing.models import Subscription, SubscriptionItem
from modules.billing.models.plan_changes import ScheduledChange
from modules.billing.schemas import ItemChangeIn
from modules.billing.services import job_batch
from modules.billing.services.plan_changes import Move, apply_moves, plan_moves
from modules.billing.services.subscriptions import (
    get_subscription,
    items_of,
    locked_subscription,
    record_change,
    snapshot,
    subscription_dto,
)
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict, NotFound, ProblemError
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


def scheduled_dto(row: ScheduledChange) -> ScheduledChangeDTO:
    return ScheduledChangeDTO(
        id=row.id,
        subscription_id=row.subscription_id,
        items=msgspec.convert(row.items, list[ItemChange]),
        effective_at=row.effective_at,
        status=row.status,  # type: ignore[arg-type]
        outcome=row.outcome,
        applied_at=row.applied_at,
        canceled_at=row.canceled_at,
        created_at=row.created_at,
    )


async def pending_change(
    uow: UnitOfWork, subscription_id: uuid.UUID, *, lock: bool
) -> ScheduledChange | None:
    batch = job_batch.current(uow)
    if batch is not None and subscription_id in batch.subscription_ids:  # read and locked already
        rows = batch.scheduled.get(subscription_id, ())
        return next((r for r in rows if r.status == "scheduled"), None)
    stmt = select(ScheduledChange).where(
        ScheduledChange.subscription_id == subscription_id, ScheduledChange.status == "scheduled"
    )
    return await uow.session.scalar(stmt.with_for_update() if lock else stmt)


async def schedule_change(
    uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem], changes: list[ItemChangeIn]
) -> PlanChangeDTO:
    """Store checked `changes` for the period's end (the caller holds the subscription's lock)."""
    if sub.cancel_at_period_end:
        raise Conflict("the subscription ends at the period's end", code="cancellation_scheduled")
    if await pending_change(uow, sub.id, lock=True) is not None:
        raise Conflict(
            "a change is already scheduled for the period's end; cancel it first",
            code="change_already_scheduled",
        )
    row = ScheduledChange(
        subscription_id=sub.id,
        org_id=sub.org_id,
        items=[msgspec.to_builtins(ItemChange(**msgspec.structs.asdict(c))) for c in changes],
        effective_at=sub.current_period_end,
        created_by=uow.actor.id,
    )
    uow.session.add(row)
    await uow.session.flush()
    await uow.session.refresh(row)
    state = snapshot(sub, items)
    await record_change(
        uow, sub, "change_scheduled", state, {**state, "scheduled_change_id": str(row.id)}, row.effective_at
    )
    dto = scheduled_dto(row)
    await uow.emit(
        SUBSCRIPTION_UPDATED,
        subject=Subject(type="subscription", id=str(sub.id)),
        data={"scheduled_change": msgspec.to_builtins(dto)},
        org_id=sub.org_id,
    )
    return PlanChangeDTO(
        subscription=subscription_dto(sub, items), proration=[], invoice=None, scheduled_change=dto
    )


async def list_scheduled_changes(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[ScheduledChangeDTO]:
    await get_subscription(uow, org_id, subscription_id)
    stmt = select(ScheduledChange).where(ScheduledChange.subscription_id == subscription_id)
    rows = (
        await uow.session.scalars(keyset(stmt, [ScheduledChange.id.expression], cursor=cursor, limit=limit))
    ).all()
    return page_of(rows, limit, lambda r: [str(r.id)], scheduled_dto)


async def cancel_scheduled_change(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, change_id: uuid.UUID
) -> ScheduledChangeDTO:
    """Cancel a scheduled change; canceling a canceled one changes nothing, an applied one is 409."""
    sub = await locked_subscription(uow, org_id, subscription_id)
    row = await uow.session.scalar(
        select(ScheduledChange)
        .where(ScheduledChange.id == change_id, ScheduledChange.subscription_id == sub.id)
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"scheduled change {change_id} does not exist", code="scheduled_change_not_found")
    if row.status == "applied":
        raise Conflict("the change was applied already", code="scheduled_change_applied")
    if row.status == "scheduled":
        row.status, row.canceled_at = "canceled", utcnow()
        await uow.session.flush()
        state = snapshot(sub, await items_of(uow, sub))
        await record_change(
            uow, sub, "change_unscheduled", {**state, "scheduled_change_id": str(row.id)}, state, utcnow()
        )
        await uow.emit(
            SUBSCRIPTION_UPDATED,
            subject=Subject(type="subscription", id=str(sub.id)),
            data={"scheduled_change_canceled": str(row.id)},
            org_id=org_id,
        )
    await uow.session.refresh(row)
    return scheduled_dto(row)


async def apply_scheduled_change(
    uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem]
) -> list[SubscriptionItem]:
    """The renewal's step at the boundary (the subscription locked, its new period set): apply
    the change due by the new period's start, if any; the items the new period bills."""
    row = await pending_change(uow, sub.id, lock=True)
    if row is None or row.effective_at > sub.current_period_start:
        return items
    now = utcnow()
    changes = msgspec.convert(row.items, list[ItemChangeIn])
    try:
        moves = await plan_moves(uow, sub, items, changes, at_period_end=True, applying=True)
    except ProblemError as refused:
        row.status, row.canceled_at, row.outcome = "canceled", now, f"not applied: {refused.detail}"
        await uow.session.flush()
        return items
    before = snapshot(sub, items)
    await apply_moves(uow, sub, moves, now)
    row.status, row.applied_at = "applied", now
    await uow.session.flush()
    items = await items_of(uow, sub)
    await record_change(uow, sub, "scheduled_change_applied", before, snapshot(sub, items), row.effective_at)
    return items


async def preview_moves(
    uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem], row: ScheduledChange
) -> list[Move]:
    """The scheduled change as the renewal would apply it (nothing if it could not be)."""
    try:
        changes = msgspec.convert(row.items, list[ItemChangeIn])
        return await plan_moves(uow, sub, items, changes, at_period_end=True, applying=True)
    except ProblemError:
        return []
