"""Overdue policies, set by operators: one default (seeded by billing_0022_dunning: retries
after 3, 5 and 7 days; past_due at 1 day past due, unpaid at 16, canceled at 23, frozen at 30)
and at most one per billing account, which replaces the default for that account whole. A
new account policy copies the default's fields it does not name.

A policy is per account, not per product: the ladder acts on an account (Kill Bill's overdue
state is the account's), and an invoice may bill several products."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import select

from modules.billing.contracts import (
    OVERDUE_POLICY_CREATED,
    OVERDUE_POLICY_UPDATED,
    OverduePolicyDTO,
)
from modules.billing.models import BillingAccount, OverduePolicy
from modules.billing.schemas import CreateOverduePolicy, UpdateOverduePolicy
from modules.billing.services.dunning_ladder import Ladder, ladder_problems
from modules.billing.services.payment_retries import DEFAULT_RETRY_DAYS
from platform_core.core.errors import Conflict, NotFound, Unprocessable
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of

_FIELDS = (
    "name",
    "retry_days",
    "past_due_after_days",
    "unpaid_after_days",
    "cancel_after_days",
    "freeze_after_days",
)


def policy_dto(p: OverduePolicy) -> OverduePolicyDTO:
    return OverduePolicyDTO(
        id=p.id,
        account_id=p.account_id,
        name=p.name,
        retry_days=list(p.retry_days),
        past_due_after_days=p.past_due_after_days,
        unpaid_after_days=p.unpaid_after_days,
        cancel_after_days=p.cancel_after_days,
        freeze_after_days=p.freeze_after_days,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def ladder_of(p: OverduePolicy) -> Ladder:
    return Ladder(
        past_due_after_days=p.past_due_after_days,
        unpaid_after_days=p.unpaid_after_days,
        cancel_after_days=p.cancel_after_days,
        freeze_after_days=p.freeze_after_days,
    )


async def default_policy(uow: UnitOfWork) -> OverduePolicy:
    policy = await uow.session.scalar(select(OverduePolicy).where(OverduePolicy.account_id.is_(None)))
    assert policy is not None, "billing_0022_dunning seeds the default overdue policy"
    return policy


async def policy_for(uow: UnitOfWork, account_id: uuid.UUID) -> OverduePolicy:
    """The account's own policy, else the default."""
    own = await uow.session.scalar(select(OverduePolicy).where(OverduePolicy.account_id == account_id))
    return own if own is not None else await default_policy(uow)


async def retry_days_for(uow: UnitOfWork, account_id: uuid.UUID) -> tuple[int, ...]:
    """The retry schedule collection uses for the account's failed automatic payments."""
    policy = await policy_for(uow, account_id)
    return tuple(policy.retry_days) if policy.retry_days is not None else DEFAULT_RETRY_DAYS


def _check(policy: OverduePolicy) -> None:
    problems = ladder_problems(ladder_of(policy))
    if problems:
        raise Unprocessable(
            "the steps of an overdue policy must come in order: " + "; ".join(problems),
            code="invalid_overdue_policy",
            errors=[{"field": "ladder", "message": p} for p in problems],
        )


def _subject(p: OverduePolicy) -> Subject:
    return Subject(type="overdue_policy", id=str(p.id), name=p.name)


async def list_policies(uow: UnitOfWork, *, limit: int, cursor: str | None) -> Page[OverduePolicyDTO]:
    """The platform default first, then the accounts' own, oldest first."""
    own = OverduePolicy.account_id.is_not(None)
    stmt = keyset(select(OverduePolicy), [own, OverduePolicy.id.expression], cursor=cursor, limit=limit)
    return page_of(
        list(await uow.session.scalars(stmt)),
        limit,
        lambda p: [p.account_id is not None, str(p.id)],
        policy_dto,
    )


async def create_policy(uow: UnitOfWork, data: CreateOverduePolicy) -> OverduePolicyDTO:
    account = await uow.session.scalar(
        select(BillingAccount).where(BillingAccount.id == data.account_id).with_for_update()
    )
    if account is None:
        raise NotFound(f"billing account {data.account_id} does not exist", code="billing_account_not_found")
    if await uow.session.scalar(select(OverduePolicy.id).where(OverduePolicy.account_id == account.id)):
        raise Conflict("the account already has an overdue policy", code="overdue_policy_exists")
    base = await default_policy(uow)
    policy = OverduePolicy(account_id=account.id)
    for name in _FIELDS:
        value = getattr(data, name)
        setattr(policy, name, getattr(base, name) if value is msgspec.UNSET else value)
    if data.name is msgspec.UNSET:
        policy.name = f"{account.name} overdue policy"[:200]
    _check(policy)
    uow.session.add(policy)
    await uow.session.flush()
    await uow.session.refresh(policy)
    dto = policy_dto(policy)
    await uow.emit(OVERDUE_POLICY_CREATED, subject=_subject(policy), data=dto, org_id=account.org_id)
    return dto


async def update_policy(uow: UnitOfWork, policy_id: uuid.UUID, data: UpdateOverduePolicy) -> OverduePolicyDTO:
    policy = await uow.session.scalar(
        select(OverduePolicy)
        .where(OverduePolicy.id == policy_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if policy is None:
        raise NotFound(f"overdue policy {policy_id} does not exist", code="overdue_policy_not_found")
    changed = [name for name in _FIELDS if getattr(data, name) is not msgspec.UNSET]
    for name in changed:
        setattr(policy, name, getattr(data, name))
    _check(policy)
    if changed:
        await uow.session.flush()
        await uow.session.refresh(policy)
    dto = policy_dto(policy)
    if changed:
        org_id = None
        if policy.account_id is not None:
            org_id = await uow.session.scalar(
                select(BillingAccount.org_id).where(BillingAccount.id == policy.account_id)
            )
        await uow.emit(OVERDUE_POLICY_UPDATED, subject=_subject(policy), data=dto, org_id=org_id)
    return dto
