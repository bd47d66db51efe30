"""Helpers for organization's tests: persons with tokens, organizations, memberships."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    email: str
    headers: dict[str, str]


MakePerson = Callable[..., Awaitable[Person]]


def new_slug(prefix: str = "org") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def create_org(client: httpx.AsyncClient, owner: Person, **extra: Any) -> dict[str, Any]:
    r = await client.post(
        "/organizations", json={"slug": new_slug(), "name": "Acme", **extra}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def role_id(client: httpx.AsyncClient, org_id: str, headers: dict[str, str], key: str) -> str:
    r = await client.get(f"/orgs/{org_id}/roles", params={"limit": 500}, headers=headers)
    assert r.status_code == 200, r.text
    (found,) = [role["id"] for role in r.json()["items"] if role["key"] == key]
    return str(found)


async def join(
    client: httpx.AsyncClient, org_id: str, inviter: Person, person: Person, role_key: str = "member"
) -> dict[str, Any]:
    """Invite `person` with `role_key` and accept as them; returns the accept response."""
    rid = await role_id(client, org_id, inviter.headers, role_key)
    r = await client.post(
        f"/orgs/{org_id}/invitations", json={"email": person.email, "role_id": rid}, headers=inviter.headers
    )
    assert r.status_code == 201, r.text
    r = await client.post("/invitations/accept", json={"token": r.json()["token"]}, headers=person.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def assert_problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    if code is not None:
        assert body["code"] == code, body
    return body
