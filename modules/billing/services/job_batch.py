"""What the renewal and finalize jobs read once per batch instead of once per subscription or
invoice (docs/performance.md, "Invoice run").

A job opens a batch over the subscriptions (or invoices) it has locked; the batch loads, in one
query each, the rows the per-row code would otherwise query one at a time: the subscriptions'
items, the pauses and scheduled changes in force (locked, as the per-row queries lock them),
the discounts that can apply (locked), the accounts, coupons, prices and products (into the
session's identity map, where `session.get` finds them: catalog rows are immutable but for
`active`), the tax rates per country and the accounts' live credit grants (locked). The
per-row functions (pause_in_force, pending_change, discount_in_force, taxes.decide,
credit_grants.apply_to_invoice) ask `current(uow)` and answer from the batch for a row it
covers, from the database otherwise, so code outside a job behaves as before.

What a batch holds stays right while it is open: the jobs lock the subscriptions (pauses,
scheduled changes and discounts are only written under the subscription's or the account's
lock, never by a renewal) and the rows it answers from are the session's own objects, so a
change made during the batch (a pause resumed, a change applied, a discount used up) is seen.
The one kind of row a batch can miss is one created during it: credit grants (a carried credit
is granted while finalizing), so an account that gets a grant in the batch is read from the
database again (`granted`). Tax rates are read once per batch: a rate created or deactivated
while a batch of at most 100 invoices runs applies from the next batch."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from modules.billing.models import (
    BillingAccount,
    Coupon,
    Discount,
    InvoiceLineItem,
    Price,
    Product,
    SubscriptionItem,
)
from modules.billing.models.credit_grants import CreditGrant
from modules.billing.models.plan_changes import ScheduledChange, SubscriptionPause
from modules.billing.models.tax import TaxRate
from platform_core.messaging.uow import UnitOfWork

_KEY = "billing.job_batch"


@dataclass
class JobBatch:
    subscription_ids: frozenset[uuid.UUID] = frozenset()
    account_ids: frozenset[uuid.UUID] = frozenset()
    items: dict[uuid.UUID, list[SubscriptionItem]] = field(default_factory=dict)
    pauses: dict[uuid.UUID, list[SubscriptionPause]] = field(default_factory=dict)
    scheduled: dict[uuid.UUID, list[ScheduledChange]] = field(default_factory=dict)
    discounts: dict[uuid.UUID, list[Discount]] | None = None  # by account
    lines: dict[uuid.UUID, list[InvoiceLineItem]] = field(default_factory=dict)  # by invoice
    tax_rates: dict[str, Sequence[TaxRate]] = field(default_factory=dict)  # active, by country
    grants: dict[uuid.UUID, list[CreditGrant]] | None = None  # by account, locked
    granted: set[uuid.UUID] = field(default_factory=set)  # accounts granted credit meanwhile
    numbers: list[str] = field(default_factory=list)  # invoice numbers taken for the batch, in order
    # rows `session.get` finds in the identity map, which holds them only while they are
    # referenced elsewhere: without this list each call would query again
    held: list[Any] = field(default_factory=list)


def current(uow: UnitOfWork) -> JobBatch | None:
    """The batch the unit of work's job has open, if any."""
    batch: JobBatch | None = uow.session.info.get(_KEY)
    return batch


def _by(rows: Iterable[Any], key: str) -> dict[uuid.UUID, list[Any]]:
    out: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        out.setdefault(getattr(row, key), []).append(row)
    return out


async def _hold(uow: UnitOfWork, batch: JobBatch, model: Any, ids: Iterable[uuid.UUID]) -> list[Any]:
    """Rows of `model` by id, loaded into the identity map and held for the batch."""
    wanted = set(ids)
    rows = list(await uow.session.scalars(select(model).where(model.id.in_(wanted)))) if wanted else []
    batch.held.extend(rows)
    return rows


@asynccontextmanager
async def renewal_batch(
    uow: UnitOfWork, subscriptions: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> AsyncIterator[JobBatch]:
    """A batch over locked subscriptions, given as (subscription id, account id) pairs."""
    pairs = list(subscriptions)
    subs = frozenset(s for s, _ in pairs)
    accounts = frozenset(a for _, a in pairs)
    session = uow.session
    batch = JobBatch(subscription_ids=subs, account_ids=accounts)
    batch.items = _by(
        await session.scalars(
            select(SubscriptionItem)
            .where(SubscriptionItem.subscription_id.in_(subs), SubscriptionItem.removed_at.is_(None))
            .order_by(SubscriptionItem.id)
        ),
        "subscription_id",
    )
    batch.pauses = _by(
        await session.scalars(
            select(SubscriptionPause)
            .where(SubscriptionPause.subscription_id.in_(subs), SubscriptionPause.resumed_at.is_(None))
            .with_for_update()
        ),
        "subscription_id",
    )
    batch.scheduled = _by(
        await session.scalars(
            select(ScheduledChange)
            .where(ScheduledChange.subscription_id.in_(subs), ScheduledChange.status == "scheduled")
            .with_for_update()
        ),
        "subscription_id",
    )
    batch.discounts = _by(
        await session.scalars(
            select(Discount)
            .where(
                Discount.account_id.in_(accounts),
                Discount.ended_at.is_(None),
                or_(Discount.subscription_id.is_(None), Discount.subscription_id.in_(subs)),
            )
            .order_by(Discount.id)
            .with_for_update()
        ),
        "account_id",
    )
    await _hold(uow, batch, BillingAccount, accounts)
    await _hold(uow, batch, Coupon, (d.coupon_id for rows in batch.discounts.values() for d in rows))
    prices = await _hold(uow, batch, Price, (i.price_id for rows in batch.items.values() for i in rows))
    await _hold(uow, batch, Product, (p.product_id for p in prices))
    async with _open(uow, batch):
        yield batch


@asynccontextmanager
async def finalize_batch(
    uow: UnitOfWork, invoices: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> AsyncIterator[JobBatch]:
    """A batch over locked draft invoices, given as (invoice id, account id) pairs."""
    pairs = list(invoices)
    invoice_ids = {i for i, _ in pairs}
    accounts = frozenset(a for _, a in pairs)
    session = uow.session
    batch = JobBatch(account_ids=accounts)
    batch.lines = _by(
        await session.scalars(
            select(InvoiceLineItem)
            .where(InvoiceLineItem.invoice_id.in_(invoice_ids))
            .order_by(InvoiceLineItem.id)
        ),
        "invoice_id",
    )
    batch.grants = _by(
        await session.scalars(
            select(CreditGrant)
            .where(
                CreditGrant.account_id.in_(accounts),
                CreditGrant.voided_at.is_(None),
                CreditGrant.expired_at.is_(None),
            )
            .order_by(CreditGrant.id)
            .with_for_update()
        ),
        "account_id",
    )
    await _hold(uow, batch, BillingAccount, accounts)
    async with _open(uow, batch):
        yield batch


@asynccontextmanager
async def _open(uow: UnitOfWork, batch: JobBatch) -> AsyncIterator[None]:
    assert _KEY not in uow.session.info, "job batches do not nest"
    uow.session.info[_KEY] = batch
    try:
        yield
    finally:
        del uow.session.info[_KEY]
