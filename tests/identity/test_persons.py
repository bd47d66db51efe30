"""Persons over HTTP: who may read and change whom, partial updates, PII erasure blocked by
retention holds, and input validation."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from platform_core.runtime.runtime import Runtime
from tests.identity.conftest import assert_problem, bearer, make_person


async def test_a_person_reads_and_updates_themself_but_nobody_else(
    api: httpx.AsyncClient, oidc_runtime: Runtime
) -> None:
    alice, alice_token = await make_person(oidc_runtime, "Alice")
    bob, bob_token = await make_person(oidc_runtime, "Bob")
    r = await api.get(f"/identity/persons/{alice}", headers=bearer(alice_token))
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Alice"
    for method, path, body in (
        ("GET", f"/identity/persons/{alice}", None),
        ("PATCH", f"/identity/persons/{alice}", {"display_name": "Mallory"}),
        ("DELETE", f"/identity/persons/{alice}/pii", None),
        ("GET", f"/identity/persons/{alice}/retention-holds", None),
        ("POST", f"/identity/persons/{alice}/retention-holds", {"reason": "x", "authority": "y"}),
        ("POST", f"/identity/persons/{alice}/merge", {"target_person_id": str(bob), "reason": "dup"}),
        ("GET", f"/identity/persons/{uuid.uuid4()}", None),
    ):
        r = await api.request(method, path, json=body, headers=bearer(bob_token))
        assert_problem(r, 404)
    assert (await api.get(f"/identity/persons/{alice}", headers=bearer(alice_token))).json()[
        "display_name"
    ] == "Alice"


async def test_operators_read_anyone_and_only_they_create_persons(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    alice, alice_token = await make_person(oidc_runtime, "Alice")
    assert (await api.get(f"/identity/persons/{alice}", headers=admin_headers)).status_code == 200
    assert_problem(
        await api.get(f"/identity/persons/{uuid.uuid4()}", headers=admin_headers), 404, "person_not_found"
    )
    body = {"kind": "business", "display_name": "Acme"}
    assert_problem(await api.post("/identity/persons", json=body, headers=bearer(alice_token)), 403)
    r = await api.post("/identity/persons", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text


async def test_patch_changes_only_the_fields_sent_and_null_clears(
    api: httpx.AsyncClient, oidc_runtime: Runtime
) -> None:
    alice, token = await make_person(oidc_runtime, "Alice")
    r = await api.patch(
        f"/identity/persons/{alice}",
        json={"legal_name": "Alice Liddell", "phone": "+44 20 7946 0000", "country": "GB", "tax_id": "GB123"},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    first = r.json()
    assert (first["legal_name"], first["country"], first["display_name"]) == ("Alice Liddell", "GB", "Alice")
    r = await api.patch(
        f"/identity/persons/{alice}",
        json={"phone": None, "email": "ALICE@Wonder.land"},
        headers=bearer(token),
    )
    second = r.json()
    assert second["phone"] is None
    assert second["email"] == "alice@wonder.land"
    assert second["legal_name"] == "Alice Liddell"
    assert second["updated_at"] >= first["updated_at"]


@pytest.mark.parametrize(
    "body",
    [
        {"display_name": None},
        {"display_name": ""},
        {"display_name": "x" * 201},
        {"country": "gb"},
        {"country": "GBR"},
        {"email": "not-an-email"},
        {"phone": "call me"},
        {"kind": "business"},
        {"unknown": 1},
        {"display_name": 42},
        [],
    ],
)
async def test_bad_updates_are_400(api: httpx.AsyncClient, oidc_runtime: Runtime, body: object) -> None:
    alice, token = await make_person(oidc_runtime, "Alice")
    assert_problem(await api.patch(f"/identity/persons/{alice}", json=body, headers=bearer(token)), 400)


async def test_malformed_person_ids_are_problems(
    api: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for path in ("/identity/persons/not-a-uuid", "/identity/persons/123/pii"):
        r = await api.get(path, headers=admin_headers)
        assert r.status_code in (400, 404, 405)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_erasure_is_refused_while_a_hold_is_active_then_redacts_everything(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    alice, token = await make_person(oidc_runtime, "Alice")
    await api.patch(
        f"/identity/persons/{alice}", json={"tax_id": "DE999", "phone": "+49 30 1234"}, headers=bearer(token)
    )
    r = await api.post(
        f"/identity/persons/{alice}/retention-holds",
        json={"reason": "tax records", "authority": "AO §147", "reference": "case-7"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    hold = r.json()
    assert hold["active"] is True
    assert hold["placed_by"].startswith("person:")

    assert_problem(
        await api.delete(f"/identity/persons/{alice}/pii", headers=bearer(token)),
        409,
        "retention_hold_active",
    )
    assert_problem(
        await api.delete(f"/identity/persons/{alice}/pii", headers=admin_headers),
        409,
        "retention_hold_active",
    )
    assert (await api.get(f"/identity/persons/{alice}", headers=bearer(token))).json()["tax_id"] == "DE999"

    r = await api.post(
        f"/identity/persons/{alice}/retention-holds/{hold['id']}/release", headers=admin_headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    again = await api.post(
        f"/identity/persons/{alice}/retention-holds/{hold['id']}/release", headers=admin_headers
    )
    assert_problem(again, 409, "retention_hold_released")

    r = await api.delete(f"/identity/persons/{alice}/pii", headers=bearer(token))
    assert r.status_code == 200, r.text
    erased = r.json()
    assert erased["erased_at"] is not None
    assert erased["display_name"] == "Erased person"
    assert all(erased[f] is None for f in ("email", "legal_name", "phone", "country", "tax_id"))
    # the erased person's credentials are gone with their data
    assert_problem(await api.get("/identity/me", headers=bearer(token)), 401)
    person = (await api.get(f"/identity/persons/{alice}", headers=admin_headers)).json()
    assert person["erased_at"] == erased["erased_at"]
    again = await api.delete(f"/identity/persons/{alice}/pii", headers=admin_headers)
    assert again.status_code == 200
    assert again.json()["erased_at"] == erased["erased_at"], "erasing twice changes nothing"
    assert_problem(
        await api.patch(f"/identity/persons/{alice}", json={"display_name": "Back"}, headers=admin_headers),
        409,
        "person_erased",
    )
    assert_problem(
        await api.post(
            f"/identity/persons/{alice}/retention-holds",
            json={"reason": "late", "authority": "x"},
            headers=admin_headers,
        ),
        409,
        "person_erased",
    )
    holds = (await api.get(f"/identity/persons/{alice}/retention-holds", headers=admin_headers)).json()
    assert [h["id"] for h in holds] == [hold["id"]]


async def test_holds_are_for_operators_and_for_existing_persons(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    alice, token = await make_person(oidc_runtime, "Alice")
    body = {"reason": "litigation", "authority": "court"}
    assert_problem(
        await api.post(f"/identity/persons/{alice}/retention-holds", json=body, headers=bearer(token)), 404
    )
    assert_problem(
        await api.post(f"/identity/persons/{uuid.uuid4()}/retention-holds", json=body, headers=admin_headers),
        404,
        "person_not_found",
    )
    hold = (
        await api.post(f"/identity/persons/{alice}/retention-holds", json=body, headers=admin_headers)
    ).json()
    bob, _ = await make_person(oidc_runtime, "Bob")
    assert_problem(
        await api.post(
            f"/identity/persons/{bob}/retention-holds/{hold['id']}/release", headers=admin_headers
        ),
        404,
        "retention_hold_not_found",
    )
    for bad in (
        {"reason": "", "authority": "x"},
        {"reason": "x"},
        {"reason": "x", "authority": "y", "extra": 1},
    ):
        r = await api.post(f"/identity/persons/{alice}/retention-holds", json=bad, headers=admin_headers)
        assert_problem(r, 400)


async def test_two_holds_both_block_until_both_are_released(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    alice, _ = await make_person(oidc_runtime, "Alice")
    body = {"reason": "r", "authority": "a"}
    h1 = (
        await api.post(f"/identity/persons/{alice}/retention-holds", json=body, headers=admin_headers)
    ).json()
    h2 = (
        await api.post(f"/identity/persons/{alice}/retention-holds", json=body, headers=admin_headers)
    ).json()
    await api.post(f"/identity/persons/{alice}/retention-holds/{h1['id']}/release", headers=admin_headers)
    assert_problem(
        await api.delete(f"/identity/persons/{alice}/pii", headers=admin_headers),
        409,
        "retention_hold_active",
    )
    await api.post(f"/identity/persons/{alice}/retention-holds/{h2['id']}/release", headers=admin_headers)
    assert (await api.delete(f"/identity/persons/{alice}/pii", headers=admin_headers)).status_code == 200


async def test_a_hold_racing_an_erasure_never_lets_both_win(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    for _ in range(5):
        alice, _ = await make_person(oidc_runtime, "Racer")
        hold, erase = await asyncio.gather(
            api.post(
                f"/identity/persons/{alice}/retention-holds",
                json={"reason": "race", "authority": "a"},
                headers=admin_headers,
            ),
            api.delete(f"/identity/persons/{alice}/pii", headers=admin_headers),
        )
        outcomes = {(hold.status_code, erase.status_code)}
        assert outcomes <= {(201, 409), (409, 200)}, (hold.text, erase.text)
        person = (await api.get(f"/identity/persons/{alice}", headers=admin_headers)).json()
        assert (person["erased_at"] is not None) == (erase.status_code == 200)
