"""Credit grants: `billing.api.grant_credit` grants once per source, the ledger is append-only
and a grant's balance never leaves [0, amount], whoever writes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from modules.billing import api as billing_api
from platform_core.core.errors import NotFound, Unprocessable
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop


async def ledger(runtime: Runtime, grant_id: Any) -> list[tuple[str, int]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT kind, amount FROM billing.credit_transactions WHERE grant_id = :g ORDER BY id"),
            {"g": str(grant_id)},
        )
        return [(r.kind, r.amount) for r in rows]


async def test_grant_credit_grants_once_per_source(shop: Shop, runtime: Runtime) -> None:
    source = uuid.uuid4()
    args: dict[str, Any] = {
        "account_id": uuid.UUID(shop.account),
        "amount": 1500,
        "currency": "EUR",
        "category": "paid",
        "description": "Patronage dividend 2030",
        "source_type": "patronage",
        "source_id": source,
    }
    async with runtime.uow() as uow:
        first = await billing_api.grant_credit(uow, **args)
    async with runtime.uow() as uow:
        again = await billing_api.grant_credit(uow, **{**args, "amount": 9999})  # a replay
    assert again.id == first.id
    assert (again.amount, again.remaining, again.source_type, again.priority) == (1500, 1500, "patronage", 50)
    assert await ledger(runtime, first.id) == [("grant", 1500)]

    async with runtime.uow() as uow:
        with pytest.raises(Unprocessable) as wrong_currency:
            await billing_api.grant_credit(uow, **{**args, "currency": "USD", "source_id": uuid.uuid4()})
        with pytest.raises(Unprocessable) as bad_source:
            await billing_api.grant_credit(uow, **{**args, "source_type": "gift", "source_id": uuid.uuid4()})
        with pytest.raises(Unprocessable):
            await billing_api.grant_credit(uow, **{**args, "amount": 0, "source_id": uuid.uuid4()})
        with pytest.raises(NotFound):
            await billing_api.grant_credit(
                uow, **{**args, "account_id": uuid.uuid4(), "source_id": uuid.uuid4()}
            )
    assert (wrong_currency.value.code, bad_source.value.code) == (
        "credit_currency_mismatch",
        "credit_source_type",
    )


async def test_the_ledger_is_append_only_and_never_leaves_the_grant(shop: Shop, runtime: Runtime) -> None:
    async with runtime.uow() as uow:
        grant = await billing_api.grant_credit(
            uow,
            account_id=uuid.UUID(shop.account),
            amount=500,
            currency="EUR",
            category="promotional",
            description="Welcome",
            source_type="patronage",
            source_id=uuid.uuid4(),
        )
    refused = (
        "UPDATE billing.credit_transactions SET amount = 1 WHERE grant_id = :g",
        "DELETE FROM billing.credit_transactions WHERE grant_id = :g",
        # below zero; a second grant row
        "INSERT INTO billing.credit_transactions (id, grant_id, org_id, kind, amount)"
        " SELECT gen_random_uuid(), id, org_id, 'expired', -501 FROM billing.credit_grants WHERE id = :g",
        "INSERT INTO billing.credit_transactions (id, grant_id, org_id, kind, amount)"
        " SELECT gen_random_uuid(), id, org_id, 'grant', 1 FROM billing.credit_grants WHERE id = :g",
    )
    for statement in refused:
        with pytest.raises(DBAPIError):
            async with runtime.engine.begin() as conn:
                await conn.execute(text(statement), {"g": str(grant.id)})
    assert await ledger(runtime, grant.id) == [("grant", 500)]
