"""Paused collection, after Stripe's `pause_collection`. The subscription stays `active` and
keeps renewing; what its renewal invoices become, and what happens to its entitlements, is the
pause's `behavior` (the policy, ADR 0024):

- `keep_as_draft`: the service continues, so it is billed: each renewal invoice waits as a
  draft until the pause ends (its `auto_finalize_at` is the pause's `resumes_at`, which this
  behavior requires, at most 90 days ahead), then is finalized and collected. Pausing defers
  payment; it never makes service free.
- `void` / `mark_uncollectible`: nothing is collected, so nothing is served: the
  subscription's provisions end now (entitlements.api `deprovision`) and are reinstated on
  resume (`reinstate_provision`, the path dunning reinstates by). Each renewal invoice bills the
  period's items only (no pending charge of the account is swept into it, no discount used up),
  is finalized without asking for payment, then voided or marked uncollectible. Resuming after
  such a renewal starts a new period now, invoiced at once: the suspended time is not billed and
  the service comes back only with an invoice for it.

Per subscription, not per pool: a pool suspension (dunning's) would also cut the pool's other
subscriptions and grants, and a pool holds one suspension at a time, so resuming a pause could
lift dunning's. Who pauses: the organization's billing writers (`billing.subscriptions:pause`:
owners and billing admins). Resuming is automatic at `resumes_at` (the job
`billing.resume_subscriptions`, and the renewal itself when it gets there first)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update

from modules.billing.contracts import (
    INVOICE_MARKED_UNCOLLECTIBLE,
    SUBSCRIPTION_PAUSED,
    SUBSCRIPTION_RESUMED,
    SubscriptionPauseDTO,
)
from modules.billing.models import Invoice, Subscription, SubscriptionItem
from modules.billing.models.plan_changes import SubscriptionPause
from modules.billing.schemas import PauseCollection
from modules.billing.services import invoices
from modules.billing.services.accounts import account_row
from modules.billing.services.invoice_drafts import create_draft
from modules.billing.services.invoice_finalize import finalize, finalize_invoice
from modules.billing.services.pause_state import WITHHOLDS_SERVICE, pause_in_force
from modules.billing.services.periods import shift
from modules.billing.services.subscription_invoices import invoice_period
from modules.billing.services.subscriptions import (
    billing_cycle,
    get_subscription,
    items_of,
    locked_subscription,
    record_change,
    refuse,
    snapshot,
)
from modules.billing.services.upcoming import period_lines
from modules.entitlements import api as ent_api
from platform_core.core.clock import utcnow
from platform_core.core.errors import Conflict
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

KEEP_AS_DRAFT_LONGEST = timedelta(days=90)
RESUME_BATCH = 100


def pause_dto(row: SubscriptionPause) -> SubscriptionPauseDTO:
    return SubscriptionPauseDTO(
        id=row.id,
        subscription_id=row.subscription_id,
        behavior=row.behavior,  # type: ignore[arg-type]
        resumes_at=row.resumes_at,
        paused_at=row.paused_at,
        resumed_at=row.resumed_at,
    )


def _check_resumes_at(data: PauseCollection, now: datetime) -> None:
    if data.resumes_at is not None and data.resumes_at <= now:
        raise refuse("resumes_at must be in the future", "invalid_resumes_at")
    if data.behavior == "keep_as_draft":
        if data.resumes_at is None:
            raise refuse("keep_as_draft keeps the service, so it needs resumes_at", "resumes_at_required")
        if data.resumes_at > now + KEEP_AS_DRAFT_LONGEST:
            raise refuse("keep_as_draft may defer payment by at most 90 days", "resumes_at_too_far")


async def pause(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, data: PauseCollection
) -> SubscriptionPauseDTO:
    sub = await locked_subscription(uow, org_id, subscription_id)
    if sub.status != "active":
        raise Conflict(
            f"the subscription is {sub.status}; only an active one pauses", code="subscription_not_active"
        )
    if await pause_in_force(uow, sub.id, lock=True) is not None:
        raise Conflict("collection is paused already; resume it first", code="subscription_paused")
    now = utcnow()
    _check_resumes_at(data, now)
    items = await items_of(uow, sub)
    before = snapshot(sub, items)
    row = SubscriptionPause(
        subscription_id=sub.id,
        org_id=org_id,
        behavior=data.behavior,
        resumes_at=data.resumes_at,
        paused_at=now,
        paused_by=uow.actor.id,
    )
    uow.session.add(row)
    await uow.session.flush()
    if data.behavior in WITHHOLDS_SERVICE:
        for item in items:
            if item.provision_id is not None:
                await ent_api.deprovision(uow, item.provision_id, org_id=org_id)
    await uow.session.refresh(row)
    dto = pause_dto(row)
    await record_change(
        uow, sub, "paused", before, {**before, "pause_id": str(row.id), "behavior": row.behavior}, now
    )
    await uow.emit(
        SUBSCRIPTION_PAUSED, subject=Subject(type="subscription", id=str(sub.id)), data=dto, org_id=org_id
    )
    return dto


async def resume(uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID) -> SubscriptionPauseDTO:
    sub = await locked_subscription(uow, org_id, subscription_id)
    row = await pause_in_force(uow, sub.id, lock=True)
    if row is None:
        raise Conflict("collection is not paused", code="subscription_not_paused")
    return await _resume(uow, sub, row, restart=True)


async def _resume(
    uow: UnitOfWork, sub: Subscription, row: SubscriptionPause, *, restart: bool
) -> SubscriptionPauseDTO:
    """End the pause (the subscription locked). `restart`: a renewal that fell in the pause
    withheld that period, so it starts again now, invoiced now (not when the renewal itself
    resumes an expired pause before invoicing)."""
    now = utcnow()
    row.resumed_at, row.resumed_by = max(now, row.paused_at), uow.actor.id
    await uow.session.flush()
    items = await items_of(uow, sub)
    before = snapshot(sub, items)
    live = sub.status in ("active", "trialing", "past_due")
    if live and row.behavior in WITHHOLDS_SERVICE:
        restart = restart and row.paused_at <= sub.current_period_start
        if restart:
            sub.billing_cycle_anchor = now
            sub.current_period_start, sub.current_period_end = (
                now,
                shift(now, sub.interval, sub.interval_count),
            )
            await uow.session.flush()
        await _reinstate(uow, sub, items, cycle_changed=restart)
        if restart:
            await invoice_period(uow, sub, items)
    if row.behavior == "keep_as_draft":
        held = await uow.session.scalars(
            select(Invoice.id)
            .where(Invoice.subscription_id == sub.id, Invoice.status == "draft")
            .order_by(Invoice.id)
        )
        for invoice_id in list(held):
            await finalize_invoice(uow, invoice_id)
    await uow.session.refresh(row)
    dto = pause_dto(row)
    await record_change(uow, sub, "resumed", before, snapshot(sub, items), now)
    await uow.emit(
        SUBSCRIPTION_RESUMED,
        subject=Subject(type="subscription", id=str(sub.id)),
        data=dto,
        org_id=sub.org_id,
    )
    return dto


async def _reinstate(
    uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem], *, cycle_changed: bool
) -> None:
    for item in items:
        if item.provision_id is None:
            continue
        await ent_api.reinstate_provision(uow, item.provision_id, org_id=sub.org_id)
        if cycle_changed:
            await ent_api.change_provision(
                uow, item.provision_id, org_id=sub.org_id, billing_cycle=billing_cycle(sub)
            )
        if sub.cancel_at_period_end:
            await ent_api.deprovision(uow, item.provision_id, org_id=sub.org_id, at=sub.current_period_end)


async def resume_due(uow: UnitOfWork) -> int:
    """One batch of the job `billing.resume_subscriptions`: pauses whose `resumes_at` passed.
    The subscription is locked first, then its pause (the order pause/resume take)."""
    due = (
        await uow.session.execute(
            select(SubscriptionPause.subscription_id, Subscription.org_id)
            .join(Subscription, Subscription.id == SubscriptionPause.subscription_id)
            .where(SubscriptionPause.resumed_at.is_(None), SubscriptionPause.resumes_at <= utcnow())
            .order_by(SubscriptionPause.resumes_at)
            .limit(RESUME_BATCH)
        )
    ).all()
    resumed = 0
    for subscription_id, org_id in due:
        sub = await locked_subscription(uow, org_id, subscription_id)
        row = await pause_in_force(uow, sub.id, lock=True)
        if row is not None and row.resumes_at is not None and row.resumes_at <= utcnow():
            await _resume(uow, sub, row, restart=True)
            resumed += 1
    return resumed


async def invoice_renewal(uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem]) -> None:
    """The renewal's invoice of the period just started, as the pause in force says (none: a
    draft finalized after the configured delay)."""
    row = await pause_in_force(uow, sub.id, lock=True)
    if row is not None and row.resumes_at is not None and row.resumes_at <= sub.current_period_start:
        await _resume(uow, sub, row, restart=False)
        row = None
    if row is None or row.behavior == "keep_as_draft":
        await invoice_period(uow, sub, items, finalize_now=False)
        if row is not None:  # held until the pause ends
            await uow.session.execute(
                update(Invoice)
                .where(
                    Invoice.subscription_id == sub.id,
                    Invoice.status == "draft",
                    Invoice.period_start == sub.current_period_start,
                )
                .values(auto_finalize_at=row.resumes_at)
            )
        return
    await _withheld_invoice(uow, sub, items, row.behavior)


async def _withheld_invoice(
    uow: UnitOfWork, sub: Subscription, items: list[SubscriptionItem], behavior: str
) -> None:
    """The period's items alone, finalized (collection skips a paused subscription's invoice),
    then voided or marked uncollectible: a number used, nothing owed."""
    account = await account_row(uow, sub.org_id, sub.account_id)
    lines = await period_lines(uow, sub, items, sub.current_period_start, sub.current_period_end)
    invoice, rows = await create_draft(
        uow,
        account,
        lines,
        subscription_id=sub.id,
        period=(sub.current_period_start, sub.current_period_end),
        take_pending=False,
    )
    await finalize(uow, invoice, account, rows)
    invoice = await invoices.locked_invoice(uow, invoice.id)
    if invoice.status != "open":
        return  # nothing was due
    if behavior == "void":
        await invoices.void(uow, invoice.id)
        return
    invoice.status = "uncollectible"
    await uow.session.flush()
    await invoices.announce_invoice(uow, INVOICE_MARKED_UNCOLLECTIBLE, invoice)


async def list_pauses(
    uow: UnitOfWork, org_id: uuid.UUID, subscription_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[SubscriptionPauseDTO]:
    await get_subscription(uow, org_id, subscription_id)
    stmt = select(SubscriptionPause).where(SubscriptionPause.subscription_id == subscription_id)
    rows = (
        await uow.session.scalars(keyset(stmt, [SubscriptionPause.id.expression], cursor=cursor, limit=limit))
    ).all()
    return page_of(rows, limit, lambda r: [str(r.id)], pause_dto)
