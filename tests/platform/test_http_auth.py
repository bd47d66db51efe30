"""Bearer authentication at the boundary: anything but a live credential is a 401 problem."""

from __future__ import annotations

import httpx
import pytest

from modules.identity import api as identity_api
from platform_core.runtime.runtime import Runtime
from tests.platform.test_http_errors import assert_problem

PERSON = "/identity/persons/00000000-0000-0000-0000-000000000000"


async def test_missing_credential_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(PERSON), 401, "missing_credential")
    assert_problem(await client.post("/identity/persons", json={}), 401, "missing_credential")


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc", "keel_pat_abc"],
)
async def test_malformed_authorization_header_is_401(client: httpx.AsyncClient, header: str) -> None:
    assert_problem(await client.get(PERSON, headers={"Authorization": header}), 401, "malformed_credential")


@pytest.mark.parametrize("token", ["not-a-keel-token", "keel_pat_", "keel_pat_" + "x" * 60])
async def test_unknown_credential_is_401(client: httpx.AsyncClient, token: str) -> None:
    r = await client.get(PERSON, headers={"Authorization": f"Bearer {token}"})
    assert_problem(r, 401, "invalid_credential")


async def test_altered_credential_is_401(client: httpx.AsyncClient, admin_token: str) -> None:
    altered = admin_token[:-1] + ("A" if admin_token[-1] != "A" else "B")
    r = await client.get(PERSON, headers={"Authorization": f"Bearer {altered}"})
    assert_problem(r, 401, "invalid_credential")


async def test_revoked_credential_is_401(client: httpx.AsyncClient, runtime: Runtime) -> None:
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="Short-lived")
        issued = await identity_api.issue_token(uow, person_id=person.id, name="soon-revoked", scopes=["*"])
    headers = {"Authorization": f"Bearer {issued.token}"}
    # a valid credential without permission is authenticated (so not a 401)
    assert (await client.get(PERSON, headers=headers)).status_code != 401
    async with runtime.uow() as uow:
        await identity_api.revoke_token(uow, person_id=person.id, token_id=issued.id)
    assert_problem(await client.get(PERSON, headers=headers), 401, "invalid_credential")


async def test_public_paths_need_no_credential(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/schema/openapi.json")).status_code == 200
