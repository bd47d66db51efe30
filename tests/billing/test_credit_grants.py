"""Credit grants: `billing.api.grant_credit` grants once per source, the ledger is append-only
and a grant's balance never leaves [0, amount], whoever writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from modules.billing import api as billing_api
from platform_core.core.errors import NotFound, Unprocessable
from platform_core.runtime.runtime import Runtime
from tests.billing.conftest import Shop
from tests.billing.money_back import billing_admin
from tests.entitlements.conftest import Clock, ok, person_headers
from tests.organization.helpers import assert_problem

NOW = datetime(2031, 6, 1, 9, tzinfo=UTC)


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


def grants_url(shop: Shop, tail: str = "") -> str:
    return f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-grants{tail}"


async def create(shop: Shop, status: int = 201, headers: dict[str, str] | None = None, **body: Any) -> Any:
    fields = {"amount": 1000, "category": "promotional", "description": "Launch offer", **body}
    return await ok(
        await shop.client.post(grants_url(shop), json=fields, headers=headers or shop.headers), status
    )


async def test_operators_grant_and_void_credit_and_billing_admins_read_it(
    shop: Shop, runtime: Runtime, clock: Clock
) -> None:
    clock.set(NOW)
    promo = await create(shop, priority=10, expires_at=(NOW + timedelta(days=30)).isoformat())
    paid = await create(shop, amount=2500, category="paid", description="Prepaid credit")
    later = await create(shop, amount=700, effective_at=(NOW + timedelta(days=5)).isoformat())
    assert (promo["currency"], promo["remaining"], promo["source_type"], promo["source_id"]) == (
        "EUR", 1000, "operator", promo["id"],
    )  # fmt: skip
    admin = await billing_admin(shop, runtime)
    balance_url = f"/billing/orgs/{shop.org}/accounts/{shop.account}/credit-balance"
    balance = await ok(await shop.client.get(balance_url, headers=admin))
    assert balance["balances"] == [{"currency": "EUR", "balance": 4200, "available": 3500}]
    assert [g["id"] for g in balance["grants"]] == [promo["id"], paid["id"], later["id"]]  # burn order

    # the organization's own admins cannot grant or void credit
    assert_problem(await shop.client.post(grants_url(shop), json={"amount": 1, "category": "paid",
                   "description": "free money"}, headers=admin), 403)  # fmt: skip
    assert_problem(await shop.client.post(grants_url(shop, f"/{paid['id']}/void"), headers=admin), 403)
    stranger = await person_headers(runtime, "Stranger")
    assert_problem(await shop.client.get(balance_url, headers=stranger), 404)

    voided = await ok(await shop.client.post(grants_url(shop, f"/{paid['id']}/void"), headers=shop.headers))
    assert (voided["remaining"], voided["voided_at"]) == (0, NOW.isoformat().replace("+00:00", "Z"))
    again = await ok(await shop.client.post(grants_url(shop, f"/{paid['id']}/void"), headers=shop.headers))
    assert again == voided
    history = await ok(await shop.client.get(grants_url(shop, f"/{paid['id']}/transactions"), headers=admin))
    assert [(t["kind"], t["amount"]) for t in history["items"]] == [("grant", 2500), ("voided", -2500)]
    assert (await ok(await shop.client.get(balance_url, headers=admin)))["balances"][0]["balance"] == 1700

    # paginated, oldest first
    first = await ok(await shop.client.get(grants_url(shop, "?limit=2"), headers=admin))
    rest = await ok(
        await shop.client.get(grants_url(shop, f"?limit=2&cursor={first['next_cursor']}"), headers=admin)
    )
    assert [g["id"] for g in first["items"] + rest["items"]] == [promo["id"], paid["id"], later["id"]]
    assert rest["next_cursor"] is None
    one = await ok(await shop.client.get(grants_url(shop, f"/{promo['id']}"), headers=admin))
    assert one == promo


async def test_bad_grants_are_refused_and_nothing_is_written(shop: Shop, clock: Clock) -> None:
    clock.set(NOW)
    other = await shop.price(currency="USD", unit_amount=10)
    cases: list[tuple[int, str | None, dict[str, Any]]] = [
        (422, "credit_currency_mismatch", {"currency": "USD"}),
        (422, "credit_price_not_found", {"applies_to_price_ids": [str(uuid.uuid4())]}),
        (422, "credit_price_currency", {"applies_to_price_ids": [other["id"]]}),
        (422, "credit_grant_window", {"expires_at": (NOW - timedelta(days=1)).isoformat()}),
        (422, "credit_grant_window", {"effective_at": (NOW + timedelta(days=9)).isoformat(),
                                      "expires_at": (NOW + timedelta(days=2)).isoformat()}),
        (400, None, {"amount": 0}),
        (400, None, {"amount": 10**16}),
        (400, None, {"priority": 101}),
        (400, None, {"category": "free"}),
        (400, None, {"description": "a\x00b"}),
        (400, None, {"expires_at": "2031-01-01T00:00:00"}),  # no time zone
        (400, None, {"source_type": "patronage"}),  # not the operator's to choose
    ]  # fmt: skip
    for status, code, body in cases:
        problem = await create(shop, status=status, **body)
        if code:
            assert problem["code"] == code, body
    page = await ok(await shop.client.get(grants_url(shop), headers=shop.headers))
    assert page["items"] == []
    missing = f"/billing/orgs/{shop.org}/accounts/{uuid.uuid4()}/credit-grants"
    r = await shop.client.post(
        missing, json={"amount": 1, "category": "paid", "description": "x"}, headers=shop.headers
    )
    assert_problem(r, 404, "billing_account_not_found")
    assert_problem(await shop.client.get(grants_url(shop, f"/{uuid.uuid4()}"), headers=shop.headers), 404)
    r = await shop.client.get(grants_url(shop, f"/{uuid.uuid4()}/transactions"), headers=shop.headers)
    assert_problem(r, 404, "credit_grant_not_found")
    r = await shop.client.post(grants_url(shop, f"/{uuid.uuid4()}/void"), headers=shop.headers)
    assert_problem(r, 404, "credit_grant_not_found")


async def test_a_retried_grant_with_its_idempotency_key_grants_once(shop: Shop) -> None:
    key = {**shop.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"amount": 800, "category": "paid", "description": "Prepaid"}
    first = await ok(await shop.client.post(grants_url(shop), json=body, headers=key), 201)
    again = await ok(await shop.client.post(grants_url(shop), json=body, headers=key), 201)
    assert again == first
    other = await shop.client.post(grants_url(shop), json={**body, "amount": 801}, headers=key)
    assert_problem(other, 422, "idempotency_key_reused")
    page = await ok(await shop.client.get(grants_url(shop), headers=shop.headers))
    assert [g["id"] for g in page["items"]] == [first["id"]]
