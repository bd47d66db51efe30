"""Dunning: what an unpaid invoice does to its account, after Kill Bill's overdue states.

An account's place on the ladder (services/dunning_ladder.py) follows from its oldest open
invoice past its due date and its overdue policy (services/overdue_policies.py):

- `past_due`: its subscriptions turn `past_due`; entitlements stay.
- `unpaid`: they turn `unpaid` and their pools are suspended through `entitlements.api`
  (checks and usage answer `suspended_for_nonpayment`).
- `canceled`: they are canceled through the ordinary cancel path (provisions end).
- `frozen`: the organization becomes read-only through `organization.api`, with the reason
  `nonpayment`.

`reconcile` moves an account to where it belongs, in either direction, in one transaction,
under the lock of its `overdue_states` row. Down: every step it passed, in order, each
recorded once in `overdue_transitions` (unique per episode). Up: when the account pays (any
path ends in `billing.invoice.paid`, which this module subscribes to, in the same
transaction) every step below the new state is undone: the org unfrozen if it was frozen for
non-payment (an operator's freeze for another reason stays), subscriptions canceled by dunning
reinstated, pools resumed, subscriptions active. Moving up ends the episode; the next step
down starts a new one. The job `billing.advance_dunning` reconciles every account that has an
invoice past due or is not `current`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from sqlalchemy import func, select, union
from sqlalchemy.dialects.postgresql import insert

from modules.billing.contracts import (
    ACCOUNT_OVERDUE_STATE_CHANGED,
    AccountOverdueDTO,
    OverdueStateChanged,
    OverdueStepDTO,
    OverdueTransitionDTO,
)
from modules.billing.models import (
    BillingAccount,
    Invoice,
    OverdueState,
    OverdueTransition,
    Subscription,
)
from modules.billing.services import subscription_changes
from modules.billing.services.dunning_ladder import STATES, days_past_due, next_step, rank, state_at
from modules.billing.services.overdue_policies import ladder_of, policy_for
from modules.billing.services.subscription_status import reinstate_canceled, set_overdue_status
from modules.entitlements import api as ent_api
from modules.organization import api as org_api
from platform_core.core.clock import utcnow
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork, UnitOfWorkFactory

REASON: Final = "nonpayment"
BATCH = 50
# The subscription status each state gives, and the statuses its step acts on.
STATUS_IN = {"current": "active", "past_due": "past_due", "unpaid": "unpaid"}
ACTS_ON = {
    "past_due": ("active",),
    "unpaid": ("active", "past_due"),
    "canceled": ("active", "past_due", "unpaid"),
}


async def overdue_invoices(uow: UnitOfWork, account_id: uuid.UUID, now: datetime) -> list[Invoice]:
    """The account's open invoices with something still due after their due date, oldest first."""
    rows = await uow.session.scalars(
        select(Invoice)
        .where(
            Invoice.account_id == account_id,
            Invoice.status == "open",
            Invoice.amount_due > Invoice.amount_paid,
            func.coalesce(Invoice.due_date, Invoice.finalized_at) <= now,
        )
        .order_by(func.coalesce(Invoice.due_date, Invoice.finalized_at), Invoice.id)
    )
    return list(rows)


def _due_of(invoice: Invoice) -> datetime:
    due = invoice.due_date or invoice.finalized_at
    assert due is not None  # open invoices are finalized
    return due


async def _locked_state(uow: UnitOfWork, account: BillingAccount) -> OverdueState:
    await uow.session.execute(
        insert(OverdueState)
        .values(account_id=account.id, org_id=account.org_id)
        .on_conflict_do_nothing(index_elements=["account_id"])
    )
    state = await uow.session.scalar(
        select(OverdueState)
        .where(OverdueState.account_id == account.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert state is not None
    return state


async def _subscriptions(
    uow: UnitOfWork, account_id: uuid.UUID, statuses: tuple[str, ...]
) -> list[Subscription]:
    rows = await uow.session.scalars(
        select(Subscription)
        .where(Subscription.account_id == account_id, Subscription.status.in_(statuses))
        .order_by(Subscription.id)
    )
    return list(rows)


async def _canceled_by_dunning(uow: UnitOfWork, state: OverdueState) -> list[uuid.UUID]:
    """Subscriptions dunning canceled in this episode and still canceled."""
    ids = await uow.session.scalar(
        select(OverdueTransition.subscription_ids).where(
            OverdueTransition.account_id == state.account_id,
            OverdueTransition.episode == state.episode,
            OverdueTransition.to_state == "canceled",
        )
    )
    if not ids:
        return []
    still = await uow.session.scalars(
        select(Subscription.id).where(Subscription.id.in_(ids), Subscription.status == "canceled")
    )
    return list(still)


async def _step_down(uow: UnitOfWork, account: BillingAccount, step: str) -> list[uuid.UUID]:
    """Take one step down; the subscriptions it acted on."""
    if step == "frozen":
        await org_api.freeze(uow, account.org_id, reason=REASON)
        return []
    subs = await _subscriptions(uow, account.id, ACTS_ON[step])
    for sub in subs:
        if step == "canceled":
            await subscription_changes.cancel(uow, account.org_id, sub.id, at_period_end=False)
        else:
            await set_overdue_status(uow, account.org_id, sub.id, STATUS_IN[step], step)
    if step == "unpaid":
        for pool_id in sorted({s.pool_id for s in await _subscriptions(uow, account.id, ("unpaid",))}):
            await ent_api.suspend_pool(
                uow, pool_id, org_id=account.org_id, reason=REASON, source=f"billing_account:{account.id}"
            )
    return [s.id for s in subs]


async def _step_up(
    uow: UnitOfWork, account: BillingAccount, state: OverdueState, target: str
) -> list[uuid.UUID]:
    """Undo every step below `target`; the subscriptions it acted on."""
    current, acted = rank(state.state), []
    if current >= rank("frozen") > rank(target):
        await org_api.unfreeze(uow, account.org_id, reason=REASON)
    if current >= rank("canceled") > rank(target):
        for sub_id in await _canceled_by_dunning(uow, state):
            await reinstate_canceled(uow, account.org_id, sub_id, STATUS_IN[target], target)
            acted.append(sub_id)
    if current >= rank("unpaid") > rank(target):
        pools = await uow.session.scalars(
            select(Subscription.pool_id).where(Subscription.account_id == account.id).distinct()
        )
        for pool_id in sorted(pools):
            await ent_api.resume_pool(uow, pool_id, org_id=account.org_id, reason=REASON)
    harsher = tuple(s for s in ("past_due", "unpaid") if rank(s) > rank(target))
    for sub in await _subscriptions(uow, account.id, harsher):
        if await set_overdue_status(uow, account.org_id, sub.id, STATUS_IN[target], target):
            acted.append(sub.id)
    return acted


async def _record(
    uow: UnitOfWork,
    account: BillingAccount,
    state: OverdueState,
    to: str,
    invoice: Invoice | None,
    days: int | None,
    subscription_ids: list[uuid.UUID],
    policy_id: uuid.UUID,
    now: datetime,
) -> None:
    previous = state.state
    uow.session.add(
        OverdueTransition(
            account_id=account.id,
            org_id=account.org_id,
            episode=state.episode,
            from_state=previous,
            to_state=to,
            invoice_id=invoice.id if invoice else None,
            subscription_ids=subscription_ids,
            days_past_due=days,
            policy_id=policy_id,
            at=now,
            actor_type=uow.actor.type,
            actor_id=uow.actor.id,
        )
    )
    state.state, state.since, state.invoice_id = to, now, invoice.id if invoice else None
    await uow.session.flush()
    await uow.emit(
        ACCOUNT_OVERDUE_STATE_CHANGED,
        subject=Subject(type="billing_account", id=str(account.id), name=account.name),
        data=OverdueStateChanged(
            account_id=account.id,
            episode=state.episode,
            previous=previous,  # type: ignore[arg-type]
            state=to,  # type: ignore[arg-type]
            invoice_id=invoice.id if invoice else None,
            days_past_due=days,
            subscription_ids=subscription_ids,
            policy_id=policy_id,
        ),
        org_id=account.org_id,
    )


async def reconcile(uow: UnitOfWork, account_id: uuid.UUID) -> int:
    """Move the account to the state its oldest overdue invoice and its policy call for;
    how many transitions that took (0: it was there already)."""
    account = await uow.session.get_one(BillingAccount, account_id)
    state = await _locked_state(uow, account)
    now = utcnow()
    overdue = await overdue_invoices(uow, account.id, now)
    oldest = overdue[0] if overdue else None
    days = days_past_due(_due_of(oldest), now) if oldest else None
    policy = await policy_for(uow, account.id)
    target = state_at(ladder_of(policy), days)
    if target == state.state:
        return 0
    if rank(target) < rank(state.state):
        acted = await _step_up(uow, account, state, target)
        state.episode += 1  # moving up opens a new episode: each step down is taken once per episode
        await _record(uow, account, state, target, oldest, days, acted, policy.id, now)
        return 1
    steps = STATES[rank(state.state) + 1 : rank(target) + 1]
    for step in steps:
        acted = await _step_down(uow, account, step)
        await _record(uow, account, state, step, oldest, days, acted, policy.id, now)
    return len(steps)


async def on_invoice_settled(uow: UnitOfWork, event: Event) -> None:
    """`billing.invoice.paid` / `.voided`, whichever path settled it (a provider's payment, an
    operator's mark-paid, a credit note): the account may be paid up, in this transaction."""
    account_id = await uow.session.scalar(
        select(Invoice.account_id).where(Invoice.id == uuid.UUID(event.subject.id))
    )
    if account_id is None:
        return
    state = await uow.session.scalar(select(OverdueState.state).where(OverdueState.account_id == account_id))
    if state is not None and state != "current":
        await reconcile(uow, account_id)


async def _candidates(uow: UnitOfWork, after: uuid.UUID | None, now: datetime) -> list[uuid.UUID]:
    due = select(Invoice.account_id).where(
        Invoice.status == "open",
        Invoice.amount_due > Invoice.amount_paid,
        func.coalesce(Invoice.due_date, Invoice.finalized_at) <= now,
    )
    off_ladder = select(OverdueState.account_id).where(OverdueState.state != "current")
    accounts = union(due, off_ladder).subquery()
    stmt = select(accounts.c.account_id).order_by(accounts.c.account_id).limit(BATCH)
    if after is not None:
        stmt = stmt.where(accounts.c.account_id > after)
    return list(await uow.session.scalars(stmt))


async def advance(uows: UnitOfWorkFactory) -> str:
    """The job: reconcile every candidate account, one batch per transaction (keyset order,
    so the run ends even when accounts stay where they are)."""
    after: uuid.UUID | None = None
    accounts = moves = 0
    while True:
        async with uows() as uow:
            batch = await _candidates(uow, after, utcnow())
            for account_id in batch:
                moved = await reconcile(uow, account_id)
                moves += moved
                accounts += 1 if moved else 0
        if len(batch) < BATCH:
            return f"moved {accounts} account(s) on the overdue ladder ({moves} transition(s))"
        after = batch[-1]


async def account_overdue(uow: UnitOfWork, org_id: uuid.UUID) -> AccountOverdueDTO:
    """Where the organization's billing account stands, and what comes next if nothing is paid."""
    account = await uow.session.scalar(select(BillingAccount).where(BillingAccount.org_id == org_id))
    if account is None:
        return AccountOverdueDTO(
            org_id=org_id, account_id=None, state="current", since=None, oldest_unpaid_invoice_id=None,
            amount_overdue=0, currency=None, days_past_due=None, next_step=None, policy_id=None,
            transitions=[],
        )  # fmt: skip
    now = utcnow()
    state = await uow.session.get(OverdueState, account.id)
    current = state.state if state else "current"
    overdue = await overdue_invoices(uow, account.id, now)
    oldest = overdue[0] if overdue else None
    policy = await policy_for(uow, account.id)
    upcoming = next_step(ladder_of(policy), current, _due_of(oldest)) if oldest else None
    transitions = []
    if state is not None:
        latest = max(state.episode - (1 if current == "current" else 0), 0)
        rows = await uow.session.scalars(
            select(OverdueTransition)
            .where(OverdueTransition.account_id == account.id, OverdueTransition.episode >= latest)
            .order_by(OverdueTransition.at, OverdueTransition.id)
        )
        transitions = [
            OverdueTransitionDTO(
                previous=t.from_state,  # type: ignore[arg-type]
                state=t.to_state,  # type: ignore[arg-type]
                episode=t.episode,
                invoice_id=t.invoice_id,
                days_past_due=t.days_past_due,
                subscription_ids=list(t.subscription_ids),
                at=t.at,
            )
            for t in rows
        ]
    return AccountOverdueDTO(
        org_id=org_id,
        account_id=account.id,
        state=current,  # type: ignore[arg-type]
        since=state.since if state and current != "current" else None,
        oldest_unpaid_invoice_id=oldest.id if oldest else None,
        amount_overdue=sum(i.amount_due - i.amount_paid for i in overdue),
        currency=account.currency,
        days_past_due=days_past_due(_due_of(oldest), now) if oldest else None,
        next_step=OverdueStepDTO(state=upcoming[0], at=upcoming[1]) if upcoming else None,  # type: ignore[arg-type]
        policy_id=policy.id,
        transitions=transitions,
    )
