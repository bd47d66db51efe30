"""Reading credit: an account's balance (per currency, the sum of its grants' ledgers), its
grants and each grant's history. Every read is one query (balances with their grants: one
grouped query); nothing is stored beside the ledger."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, func, select

from modules.billing.contracts import (
    CreditBalanceDTO,
    CreditGrantDTO,
    CreditTransactionDTO,
    CurrencyCreditBalance,
)
from modules.billing.models.credit_grants import CreditGrant, CreditTransaction
from modules.billing.services.accounts import account_row
from modules.billing.services.credit_burn import burn_order, usable
from modules.billing.services.credit_grants import balance_of, grant_dto
from platform_core.core.clock import utcnow
from platform_core.core.errors import NotFound
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, keyset, page_of


def _remaining() -> ColumnElement[Any]:
    return (
        select(func.coalesce(func.sum(CreditTransaction.amount), 0))
        .where(CreditTransaction.grant_id == CreditGrant.id)
        .scalar_subquery()
    )


def _grants(org_id: uuid.UUID, account_id: uuid.UUID) -> Any:
    return select(CreditGrant, _remaining()).where(
        CreditGrant.org_id == org_id, CreditGrant.account_id == account_id
    )


async def credit_balance(uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID) -> CreditBalanceDTO:
    """Per currency: `balance`, the sum of the ledger of every grant of the account, and
    `available`, what an invoice finalized now could use; and every grant with something
    left, in burn order."""
    await account_row(uow, org_id, account_id)
    now = utcnow()
    rows = [(g, int(r)) for g, r in (await uow.session.execute(_grants(org_id, account_id))).all()]
    balance: dict[str, int] = defaultdict(int)
    available: dict[str, int] = defaultdict(int)
    left: dict[uuid.UUID, tuple[CreditGrant, int]] = {}
    for grant, remaining in rows:
        balance[grant.currency] += remaining
        if remaining > 0:
            left[grant.id] = (grant, remaining)
        if usable(balance_of(grant, remaining), currency=grant.currency, at=now):
            available[grant.currency] += remaining
    ordered = burn_order(balance_of(g, r) for g, r in left.values())
    return CreditBalanceDTO(
        account_id=account_id,
        balances=[
            CurrencyCreditBalance(currency=c, balance=balance[c], available=available[c])
            for c in sorted(balance)
        ],
        grants=[grant_dto(*left[b.id]) for b in ordered],
    )


async def list_grants(
    uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[CreditGrantDTO]:
    """The account's grants, oldest first, each with what is left of it."""
    await account_row(uow, org_id, account_id)
    stmt = keyset(_grants(org_id, account_id), [CreditGrant.id.expression], cursor=cursor, limit=limit)
    rows = (await uow.session.execute(stmt)).all()
    return page_of(rows, limit, lambda r: [str(r[0].id)], lambda r: grant_dto(r[0], int(r[1])))


async def get_grant(
    uow: UnitOfWork, org_id: uuid.UUID, account_id: uuid.UUID, grant_id: uuid.UUID
) -> CreditGrantDTO:
    row = (await uow.session.execute(_grants(org_id, account_id).where(CreditGrant.id == grant_id))).first()
    if row is None:
        raise NotFound(f"credit grant {grant_id} does not exist", code="credit_grant_not_found")
    return grant_dto(row[0], int(row[1]))


async def list_transactions(
    uow: UnitOfWork,
    org_id: uuid.UUID,
    account_id: uuid.UUID,
    grant_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> Page[CreditTransactionDTO]:
    """A grant's ledger, oldest first."""
    found = await uow.session.scalar(
        select(CreditGrant.id).where(
            CreditGrant.id == grant_id, CreditGrant.org_id == org_id, CreditGrant.account_id == account_id
        )
    )
    if found is None:
        raise NotFound(f"credit grant {grant_id} does not exist", code="credit_grant_not_found")
    stmt = keyset(
        select(CreditTransaction).where(CreditTransaction.grant_id == grant_id),
        [CreditTransaction.id.expression],
        cursor=cursor,
        limit=limit,
    )
    rows = list(await uow.session.scalars(stmt))
    return page_of(rows, limit, lambda t: [str(t.id)], _transaction_dto)


def _transaction_dto(t: CreditTransaction) -> CreditTransactionDTO:
    return CreditTransactionDTO(
        id=t.id,
        grant_id=t.grant_id,
        kind=t.kind,  # type: ignore[arg-type]
        amount=t.amount,
        invoice_id=t.invoice_id,
        created_at=t.created_at,
    )
