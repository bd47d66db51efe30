"""Stored allocations: computed as a draft, approved once per fiscal year and currency, then
immutable at the database; rows add up exactly to the surplus; a stale draft is refused."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from modules.cooperative import api as cooperative_api
from platform_core.runtime.runtime import Runtime
from tests.cooperative.members import YEAR, Cooperative
from tests.entitlements.conftest import ok, person_headers
from tests.organization.helpers import assert_problem


async def test_compute_approve_once_and_the_rows_add_up_to_the_surplus(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    coop = Cooperative(client, admin_headers, runtime, "NOK")
    a, b, c = [await coop.member(amount) for amount in (700, 550, 800)]

    draft = await ok(await coop.compute(1001), 201)
    assert (draft["status"], draft["surplus"], draft["total_patronage"], draft["patrons"]) == (
        "draft",
        1001,
        2050,
        3,
    )
    # two rows a page, by member number: a, b, c
    page = await ok(
        await client.get(f"/cooperative/allocations/{draft['id']}/rows?limit=2", headers=admin_headers)
    )
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    rows = await coop.rows(draft["id"], limit=2)
    assert [r["org_id"] for r in rows] == [a.org, b.org, c.org]
    assert [r["account_id"] for r in rows] == [a.account, b.account, c.account]
    # 1001 x 700, 550, 800 / 2050 = 341.80, 268.56, 390.63: the two units left go to a, then c
    assert [(r["patronage"], r["amount"]) for r in rows] == [(700, 342), (550, 268), (800, 391)]
    assert sum(r["amount"] for r in rows) == 1001
    assert [r["share"] for r in rows] == ["0.341463414634", "0.268292682927", "0.390243902439"]
    assert all(r["payout"] is None for r in rows)

    # a member paying after the draft makes it stale: approving it would leave d out
    d = await coop.member(300)
    assert_problem(await coop.approve(draft["id"]), 409, "allocation_stale")
    fresh = await ok(await coop.compute(1001), 201)
    approved = await ok(await coop.approve(fresh["id"]))
    assert (approved["status"], approved["patrons"], approved["total_patronage"]) == ("approved", 4, 2350)
    assert approved["approved_at"]
    assert approved["approved_by"]
    assert sum(r["amount"] for r in await coop.rows(fresh["id"])) == 1001
    assert d.org in {r["org_id"] for r in await coop.rows(fresh["id"])}

    # once per fiscal year and currency
    assert_problem(await coop.approve(fresh["id"]), 409, "allocation_already_approved")
    assert_problem(await coop.approve(draft["id"]), 409, "fiscal_year_already_approved")
    assert_problem(await coop.compute(5), 409, "fiscal_year_already_approved")
    assert_problem(await coop.approve(str(uuid.uuid4())), 404, "allocation_not_found")

    # listed, paginated, filtered
    listed = await ok(
        await client.get(
            "/cooperative/allocations", params={"currency": "NOK", "limit": 1}, headers=admin_headers
        )
    )
    assert len(listed["items"]) == 1
    assert listed["next_cursor"]
    rest = await ok(
        await client.get(
            "/cooperative/allocations",
            params={"currency": "NOK", "cursor": listed["next_cursor"]},
            headers=admin_headers,
        )
    )
    assert {x["id"] for x in listed["items"] + rest["items"]} == {draft["id"], fresh["id"]}
    only = await ok(
        await client.get(
            "/cooperative/allocations",
            params={"currency": "NOK", "status": "approved"},
            headers=admin_headers,
        )
    )
    assert [x["id"] for x in only["items"]] == [fresh["id"]]
    assert (
        await ok(await client.get(f"/cooperative/allocations/{fresh['id']}", headers=admin_headers))
        == approved
    )

    async with runtime.sessionmaker() as session:
        found = await cooperative_api.check_patronage(session)
    assert not [v for v in found if v.subject_id in (draft["id"], fresh["id"])]


async def test_an_approved_allocation_is_immutable_at_the_database(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    coop = Cooperative(client, admin_headers, runtime, "ISK")
    a = await coop.member(900)
    await coop.member(100)
    draft = await ok(await coop.compute(10), 201)
    row = (await coop.rows(draft["id"]))[0]

    # a draft whose rows no longer add up is refused approval by the database itself
    async with runtime.engine.begin() as conn:
        await conn.execute(text("DELETE FROM cooperative.allocation_rows WHERE id = :r"), {"r": row["id"]})
        with pytest.raises(DBAPIError, match="not the surplus"):
            await conn.execute(
                text(
                    "UPDATE cooperative.allocations SET status = 'approved', approved_at = now()"
                    " WHERE id = :a"
                ),
                {"a": draft["id"]},
            )
    assert len(await coop.rows(draft["id"])) == 2  # rolled back

    approved = await ok(await coop.approve(draft["id"]))
    refused = [
        ("UPDATE cooperative.allocation_rows SET amount = amount + 1 WHERE id = :r", {"r": row["id"]}),
        ("DELETE FROM cooperative.allocation_rows WHERE id = :r", {"r": row["id"]}),
        ("UPDATE cooperative.allocations SET surplus = surplus + 1 WHERE id = :a", {"a": draft["id"]}),
        (
            "UPDATE cooperative.allocations SET status = 'draft', approved_at = NULL WHERE id = :a",
            {"a": draft["id"]},
        ),
        ("DELETE FROM cooperative.allocations WHERE id = :a", {"a": draft["id"]}),
        (
            """INSERT INTO cooperative.allocation_rows
                   (id, allocation_id, patron_id, account_id, patronage, share, amount)
               VALUES (gen_random_uuid(), :a, :p, :acc, 1, 0.5, 0)""",
            {"a": draft["id"], "p": row["patron_id"], "acc": a.account},
        ),
    ]
    for statement, params in refused:
        with pytest.raises(DBAPIError, match=r"approved allocation|never changes"):
            async with runtime.engine.begin() as conn:
                await conn.execute(text(statement), params)
    assert (
        await ok(await client.get(f"/cooperative/allocations/{draft['id']}", headers=admin_headers))
        == approved
    )

    # reconcile sees a tampered allocation (the triggers switched off inside a rolled-back
    # transaction, so nothing stays changed)
    async with runtime.sessionmaker() as session:
        await session.execute(
            text("ALTER TABLE cooperative.allocation_rows DISABLE TRIGGER trg_allocation_rows_guard")
        )
        await session.execute(
            text("UPDATE cooperative.allocation_rows SET amount = amount + 1 WHERE id = :r"), {"r": row["id"]}
        )
        found = await cooperative_api.check_patronage(session)
        await session.rollback()
    assert {v.invariant for v in found if v.subject_id == draft["id"]} == {"allocations_sum"}


async def test_allocations_are_for_operators_and_bad_input_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    stranger = await person_headers(runtime, "Stranger")
    body = {"fiscal_year": YEAR, "currency": "HUF", "surplus": 10}
    assert_problem(await client.post("/cooperative/allocations", json=body, headers=stranger), 403)
    assert_problem(await client.get("/cooperative/allocations", headers=stranger), 403)
    assert_problem(
        await client.post(f"/cooperative/allocations/{uuid.uuid4()}/approve", headers=stranger), 403
    )
    for bad in (
        {**body, "currency": "huf"},
        {**body, "surplus": -1},
        {**body, "fiscal_year": 1999},
        {**body, "surplus": 1.5},
        {**body, "extra": 1},
    ):
        r = await client.post("/cooperative/allocations", json=bad, headers=admin_headers)
        assert r.status_code == 400, (bad, r.text)
    # nobody earned patronage in forints: a positive surplus has no one to go to
    assert_problem(
        await client.post("/cooperative/allocations", json=body, headers=admin_headers), 409, "no_patronage"
    )
    future = {**body, "fiscal_year": YEAR + 1, "surplus": 0}
    assert_problem(
        await client.post("/cooperative/allocations", json=future, headers=admin_headers),
        409,
        "fiscal_year_not_started",
    )
    r = await client.get("/cooperative/allocations", params={"cursor": "nonsense"}, headers=admin_headers)
    assert_problem(r, 400, "invalid_cursor")
    patrons = await ok(await client.get("/cooperative/patrons", params={"limit": 1}, headers=admin_headers))
    assert len(patrons["items"]) == 1
