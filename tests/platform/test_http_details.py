"""HTTP details: RFC 6750 challenges on 401 (and on a 403 for a missing scope), and request
metrics that count 401, 403, 404 and 429 answers with the status actually sent."""

from __future__ import annotations

import uuid

import httpx
import pytest

from modules.identity import api as identity_api
from platform_core.http.metrics import UNMATCHED
from platform_core.runtime.runtime import Runtime
from tests.platform.test_http_errors import assert_problem
from tests.platform.test_http_ops import request_count

PERSON = "/identity/persons/00000000-0000-0000-0000-000000000000"
PERSON_ROUTE = "/identity/persons/{person_id}"
BARE = 'Bearer realm="keel"'


async def metrics(client: httpx.AsyncClient) -> str:
    return (await client.get("/metrics")).text


async def scoped_token(runtime: Runtime, scopes: list[str]) -> dict[str, str]:
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="Scoped")
        issued = await identity_api.issue_token(uow, person_id=person.id, name="scoped", scopes=scopes)
    return {"Authorization": f"Bearer {issued.token}"}


async def test_a_request_without_credential_gets_the_bare_challenge(client: httpx.AsyncClient) -> None:
    r = await client.get(PERSON)
    assert_problem(r, 401, "missing_credential")
    assert r.headers["www-authenticate"] == BARE


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "keel_pat_abc"])
async def test_another_scheme_gets_the_bare_challenge(client: httpx.AsyncClient, header: str) -> None:
    r = await client.get(PERSON, headers={"Authorization": header})
    assert_problem(r, 401, "malformed_credential")
    assert r.headers["www-authenticate"] == BARE


async def test_an_empty_bearer_token_is_an_invalid_request(client: httpx.AsyncClient) -> None:
    r = await client.get(PERSON, headers={"Authorization": "Bearer"})
    assert_problem(r, 401, "malformed_credential")
    assert r.headers["www-authenticate"].startswith(f'{BARE}, error="invalid_request", error_description="')


@pytest.mark.parametrize("token", ["not-a-keel-token", "keel_pat_" + "x" * 60])
async def test_a_refused_token_gets_invalid_token(client: httpx.AsyncClient, token: str) -> None:
    r = await client.get(PERSON, headers={"Authorization": f"Bearer {token}"})
    body = assert_problem(r, 401, "invalid_credential")
    assert r.headers["www-authenticate"] == (
        f'{BARE}, error="invalid_token", error_description="{body["detail"]}"'
    )


async def test_a_missing_scope_is_403_insufficient_scope(client: httpx.AsyncClient, runtime: Runtime) -> None:
    headers = await scoped_token(runtime, ["audit.logs:read"])
    r = await client.get("/organizations", headers=headers)
    assert_problem(r, 403, "insufficient_scope")
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith(f'{BARE}, error="insufficient_scope"')
    assert 'scope="organization.' in challenge


async def test_401_is_counted_as_401_not_500(client: httpx.AsyncClient) -> None:
    before = await metrics(client)
    for _ in range(2):
        await client.get(PERSON, headers={"Authorization": "Bearer keel_pat_" + "y" * 60})
    await client.get(PERSON)
    after = await metrics(client)
    assert (
        request_count(after, "GET", PERSON_ROUTE, 401) == request_count(before, "GET", PERSON_ROUTE, 401) + 3
    )
    assert request_count(after, "GET", PERSON_ROUTE, 500) == request_count(before, "GET", PERSON_ROUTE, 500)
    assert errors_of(after, PERSON_ROUTE) == errors_of(before, PERSON_ROUTE)  # no 5xx alert fires


async def test_403_is_counted_as_403(client: httpx.AsyncClient, runtime: Runtime) -> None:
    headers = await scoped_token(runtime, ["audit.logs:read"])
    before = await metrics(client)
    assert (await client.get("/organizations", headers=headers)).status_code == 403
    after = await metrics(client)
    assert sum_of_status(after, 403) == sum_of_status(before, 403) + 1


async def test_unknown_routes_are_counted_as_404_under_one_label(client: httpx.AsyncClient) -> None:
    before = await metrics(client)
    paths = [f"/no-such-route/{uuid.uuid4()}" for _ in range(3)]
    for path in paths:
        assert_problem(await client.get(path), 404)
    after = await metrics(client)
    assert request_count(after, "GET", UNMATCHED, 404) == request_count(before, "GET", UNMATCHED, 404) + 3
    assert not any(path in after for path in paths)  # no series per unknown path


async def test_429_is_counted_as_429(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    r = await client.post(
        "/organizations",
        json={"slug": f"m-{uuid.uuid4().hex[:10]}", "name": "Metered"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    org_id = r.json()["id"]
    r = await client.post(f"/orgs/{org_id}/service-accounts", json={"name": "bot"}, headers=admin_headers)
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/orgs/{org_id}/service-accounts/{r.json()['id']}/keys",
        json={"name": "ci", "rate_limit_per_min": 1},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    key = {"Authorization": f"Bearer {r.json()['token']}"}
    before = await metrics(client)
    statuses = [(await client.get(f"/organizations/{org_id}", headers=key)).status_code for _ in range(3)]
    assert 429 in statuses  # one request a minute: a second in the same minute is refused
    after = await metrics(client)
    route = "/organizations/{org_id}"
    assert request_count(after, "GET", route, 429) == request_count(
        before, "GET", route, 429
    ) + statuses.count(429)
    assert request_count(after, "GET", route, 500) == request_count(before, "GET", route, 500)


def sum_of_status(text: str, status: int) -> float:
    """All requests answered with `status`, whatever their route."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("litestar_requests_total{") and f'status_code="{status}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def errors_of(text: str, path: str) -> float:
    """`litestar_requests_error_total` (5xx answers) of one route."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("litestar_requests_error_total{") and f'path="{path}"' in line
    )
