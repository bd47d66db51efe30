from __future__ import annotations

import httpx


async def test_health(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_create_and_get_person(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    r = await client.post(
        "/identity/persons",
        json={"kind": "individual", "display_name": "Ada", "email": "ada@example.org"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = await client.get(f"/identity/persons/{pid}", headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Ada"


async def test_no_credential_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/identity/persons/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
