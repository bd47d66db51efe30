"""Tax rates over HTTP (routes/tax_rates.py): operators create, list (cursor-paginated), read
and switch them on or off; nothing else of a rate ever changes; one active rate per country and
state, also under concurrent requests; an organization's owner can do none of it."""

from __future__ import annotations

import asyncio
import secrets
import string
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from platform_core.runtime.runtime import Runtime
from tests.entitlements.conftest import ok, person_headers
from tests.organization.helpers import assert_problem

URL = "/billing/tax-rates"


def state_code() -> str:
    """A subdivision code no other test uses: each test its own jurisdiction."""
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(3))


def rate_body(**fields: Any) -> dict[str, Any]:
    return {
        "display_name": "VAT",
        "percentage": "19",
        "inclusive": False,
        "country": "DE",
        "state": state_code(),
        **fields,
    }


async def create(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = await ok(await client.post(URL, json=rate_body(**fields), headers=headers), 201)
    return result


async def test_an_operator_creates_reads_and_deactivates_a_rate(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    rate = await create(
        client, admin_headers, display_name="TVA", percentage="20.0625", country="FR", description="France"
    )
    assert (rate["percentage"], rate["inclusive"], rate["country"], rate["active"]) == (
        "20.0625",
        False,
        "FR",
        True,
    )
    assert rate["description"] == "France"
    assert await ok(await client.get(f"{URL}/{rate['id']}", headers=admin_headers)) == rate
    off = await ok(await client.patch(f"{URL}/{rate['id']}", json={"active": False}, headers=admin_headers))
    assert off == {**rate, "active": False}
    again = await ok(await client.patch(f"{URL}/{rate['id']}", json={"active": False}, headers=admin_headers))
    assert again == off
    # a whole JSON number is read too; a fraction is a decimal string (a float's text may not be
    # the rate the client meant), and the document says so
    number = await create(client, admin_headers, percentage=7, inclusive=True)
    assert (number["percentage"], number["inclusive"]) == ("7", True)


async def test_rates_are_listed_a_page_at_a_time_and_filtered(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    country = "X" + secrets.choice(string.ascii_uppercase)
    made = [await create(client, admin_headers, country=country) for _ in range(3)]
    await ok(await client.patch(f"{URL}/{made[1]['id']}", json={"active": False}, headers=admin_headers))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"country": country, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await ok(await client.get(URL, params=params, headers=admin_headers))
        assert len(page["items"]) <= 2
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    mine = [r["id"] for r in made]
    assert [i for i in seen if i in mine] == mine  # in creation order, each once
    page = await ok(
        await client.get(URL, params={"country": country, "active": "false"}, headers=admin_headers)
    )
    assert made[1]["id"] in [r["id"] for r in page["items"]]
    assert not {made[0]["id"], made[2]["id"]} & {r["id"] for r in page["items"]}
    assert_problem(await client.get(URL, params={"cursor": "nope"}, headers=admin_headers), 400)
    assert_problem(await client.get(URL, params={"country": "germany"}, headers=admin_headers), 400)


async def test_one_active_rate_per_country_and_state(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    state = state_code()
    first = await create(client, admin_headers, state=state)
    r = await client.post(URL, json=rate_body(state=state, percentage="7"), headers=admin_headers)
    assert_problem(r, 409, "tax_rate_jurisdiction_taken")
    # an inactive one may wait beside it, and takes over once the first is deactivated
    second = await create(client, admin_headers, state=state, percentage="7", active=False)
    r = await client.patch(f"{URL}/{second['id']}", json={"active": True}, headers=admin_headers)
    assert_problem(r, 409, "tax_rate_jurisdiction_taken")
    await ok(await client.patch(f"{URL}/{first['id']}", json={"active": False}, headers=admin_headers))
    assert (
        await ok(await client.patch(f"{URL}/{second['id']}", json={"active": True}, headers=admin_headers))
    )["active"]
    # the country as a whole (no state) is a jurisdiction of its own
    await create(client, admin_headers, country="X" + secrets.choice(string.ascii_uppercase), state=None)


async def test_concurrent_creates_for_one_jurisdiction_make_one_active_rate(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = rate_body()
    answers = await asyncio.gather(*(client.post(URL, json=body, headers=admin_headers) for _ in range(6)))
    assert sorted(r.status_code for r in answers) == [201] + [409] * 5, [r.text for r in answers]
    page = await ok(await client.get(URL, params={"country": "DE", "limit": 500}, headers=admin_headers))
    assert len([r for r in page["items"] if r["state"] == body["state"]]) == 1


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"percentage": "100"}, 400),
        ({"percentage": "-1"}, 400),
        ({"percentage": "1e1"}, 400),
        ({"percentage": "NaN"}, 400),
        ({"percentage": "19.12345"}, 400),
        ({"percentage": 7.25}, 400),
        ({"country": "de"}, 400),
        ({"country": "DEU"}, 400),
        ({"state": "bavaria"}, 400),
        ({"display_name": ""}, 400),
        ({"inclusive": "yes"}, 400),
        ({"unknown": 1}, 400),
    ],
)
async def test_bad_rates_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, admin_headers: dict[str, str], fields: dict[str, Any], status: int
) -> None:
    body = rate_body(**fields)
    r = await client.post(URL, json=body, headers=admin_headers)
    assert_problem(r, status)
    page = await ok(await client.get(URL, params={"limit": 500, "country": "DE"}, headers=admin_headers))
    assert body["state"] not in [rate["state"] for rate in page["items"]]


async def test_unknown_rates_answer_404(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    missing = uuid.uuid4()
    assert_problem(await client.get(f"{URL}/{missing}", headers=admin_headers), 404, "tax_rate_not_found")
    r = await client.patch(f"{URL}/{missing}", json={"active": True}, headers=admin_headers)
    assert_problem(r, 404, "tax_rate_not_found")


async def test_only_operators_touch_rates(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    rate = await create(client, admin_headers)
    owner = await person_headers(runtime, "tax-owner")
    org = await ok(
        await client.post(
            "/organizations", json={"slug": f"tax-{uuid.uuid4().hex[:8]}", "name": "Tax Co"}, headers=owner
        ),
        201,
    )
    assert org["id"]
    for r in (
        await client.post(URL, json=rate_body(percentage="0"), headers=owner),
        await client.get(URL, headers=owner),
        await client.get(f"{URL}/{rate['id']}", headers=owner),
        await client.patch(f"{URL}/{rate['id']}", json={"active": False}, headers=owner),
    ):
        assert r.status_code == 403, r.text
    assert (await ok(await client.get(f"{URL}/{rate['id']}", headers=admin_headers)))["active"]


async def test_a_rate_is_immutable_but_for_active_and_never_deleted(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime
) -> None:
    rate = await create(client, admin_headers)
    for statement in (
        "UPDATE billing.tax_rates SET percentage = 1 WHERE id = :i",
        "UPDATE billing.tax_rates SET inclusive = true WHERE id = :i",
        "UPDATE billing.tax_rates SET country = 'FR' WHERE id = :i",
        "DELETE FROM billing.tax_rates WHERE id = :i",
    ):
        with pytest.raises(DBAPIError, match=r"immutable|never deleted"):
            async with runtime.engine.begin() as conn:
                await conn.execute(text(statement), {"i": rate["id"]})
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE billing.tax_rates SET active = false WHERE id = :i"), {"i": rate["id"]}
        )
    assert await ok(await client.get(f"{URL}/{rate['id']}", headers=admin_headers)) == {
        **rate,
        "active": False,
    }
