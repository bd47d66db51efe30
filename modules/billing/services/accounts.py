"""Billing accounts: who pays for an organization."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import select

from modules.billing.contracts import ACCOUNT_CREATED, ACCOUNT_UPDATED, BillingAccountDTO
from modules.billing.models import BillingAccount
from modules.billing.schemas import CreateAccount, UpdateAccount
from modules.billing.services.collection import request_customer
from modules.billing.services.taxes import check_tax_id_verification
from modules.organization import api as org_api
from platform_core.core.errors import Conflict, Forbidden, NotFound
from platform_core.core.patching import apply_patch
from platform_core.messaging.events import Subject
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


def account_dto(a: BillingAccount) -> BillingAccountDTO:
    return BillingAccountDTO(
        id=a.id,
        org_id=a.org_id,
        name=a.name,
        email=a.email,
        currency=a.currency,
        address=a.address,
        tax_ids=list(a.tax_ids),
        provider_customer_id=a.provider_customer_id,
        status=a.status,
        created_at=a.created_at,
        updated_at=a.updated_at,
        collection_method=a.collection_method,  # type: ignore[arg-type]
        provider=a.provider,  # type: ignore[arg-type]
        days_until_due=a.days_until_due,
        default_payment_method_id=a.default_payment_method_id,
    )


def _chosen_provider(uow: UnitOfWork, provider: str, current: str) -> str:
    """Only operators choose who collects the money (a provider is a contract of the cooperative)."""
    operator = uow.principal is not None and uow.principal.is_platform_admin
    if provider != current and not operator:
        raise Forbidden("only platform operators choose the payment provider", code="provider_operators_only")
    return provider


def _subject(a: BillingAccount) -> Subject:
    return Subject(type="billing_account", id=str(a.id), name=a.name)


async def account_row(uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID) -> BillingAccount:
    account = await uow.session.get(BillingAccount, account_id)  # the identity map's, if loaded
    if account is None or account.org_id != org_id:
        raise NotFound(f"billing account {account_id} does not exist", code="billing_account_not_found")
    return account


async def create_account(uow: UnitOfWork, org_id: uuid.UUID, data: CreateAccount) -> BillingAccountDTO:
    await org_api.get_organization(uow, org_id)
    if await uow.session.scalar(select(BillingAccount.id).where(BillingAccount.org_id == org_id)):
        raise Conflict("the organization already has a billing account", code="billing_account_exists")
    check_tax_id_verification(uow, [], data.tax_ids)
    account = BillingAccount(
        org_id=org_id,
        name=data.name,
        email=data.email.lower(),
        currency=data.currency,
        address=data.address,
        tax_ids=data.tax_ids,
        created_by=uow.actor.id,
        collection_method=data.collection_method,
        days_until_due=data.days_until_due,
        provider=_chosen_provider(uow, data.provider, "manual"),
    )
    uow.session.add(account)
    await uow.session.flush()  # a concurrent second account fails here on the unique org_id
    await uow.session.refresh(account)
    await uow.emit(
        ACCOUNT_CREATED, subject=_subject(account), data={"currency": account.currency}, org_id=org_id
    )
    await request_customer(uow, account)
    return account_dto(account)


async def list_accounts(
    uow: UnitOfWork, org_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[BillingAccountDTO]:
    await org_api.get_organization(uow, org_id)
    stmt = keyset(
        select(BillingAccount).where(BillingAccount.org_id == org_id),
        [BillingAccount.id.expression],
        cursor=cursor,
        limit=limit,
    )
    return page_of(list(await uow.session.scalars(stmt)), limit, lambda a: [str(a.id)], account_dto)


async def get_account(uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID) -> BillingAccountDTO:
    return account_dto(await account_row(uow, org_id, account_id))


async def update_account(
    uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID, changes: UpdateAccount
) -> BillingAccountDTO:
    account = await account_row(uow, org_id, account_id)
    if changes.provider is not msgspec.UNSET:
        _chosen_provider(uow, changes.provider, account.provider)
    if changes.tax_ids is not msgspec.UNSET:
        check_tax_id_verification(uow, account.tax_ids, changes.tax_ids)
    changed = apply_patch(account, changes, {"email": str.lower})
    if "provider" in changed:
        await request_customer(uow, account)
    if changed:
        await uow.session.flush()
        await uow.session.refresh(account)
        await uow.emit(
            ACCOUNT_UPDATED, subject=_subject(account), data={"changed": sorted(changed)}, org_id=org_id
        )
    return account_dto(account)
