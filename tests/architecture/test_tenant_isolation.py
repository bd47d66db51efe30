"""Tenant isolation, proven over the application's whole route table (every module's routes):

1. every route except the public ones answers 401 without a credential;
2. every guarded route declares the permission it checks;
3. on every organization-scoped route (a path with `{org_id}`), a principal of organization B
   (its owner, and a service account with the admin role) gets 404 for organization A's
   resources: not 403, not data, and nothing changes in A.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from modules.identity import api as identity_api
from platform_core.http.auth import permission_of
from platform_core.runtime.runtime import Runtime

PUBLIC_PREFIXES = ("/health", "/ready", "/metrics", "/schema", "/swagger", "/integration/webhooks")
METHODS_WITH_BODY = {"POST", "PUT", "PATCH"}


def _is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES)


def _endpoints(app: Litestar) -> list[tuple[HTTPRoute, str, HTTPRouteHandler]]:
    """(route, method, handler) for every HTTP method an application route serves, including
    the OPTIONS handlers Litestar adds for CORS preflight."""
    out = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            if method == "HEAD":
                continue
            out.append((route, method, handler))
    assert len(out) > 40, "the route table looks incomplete"
    return out


def _dummy(kind: type) -> str:
    samples: dict[type, str] = {
        uuid.UUID: str(uuid.uuid4()),
        int: "1",
        float: "1.5",
        decimal.Decimal: "1.5",
        dt.datetime: "2030-01-01T00:00:00Z",
        dt.date: "2030-01-01",
    }
    return samples.get(kind, "x")


def _url(route: HTTPRoute, values: dict[str, str]) -> str:
    params = {name: values.get(name) or _dummy(p.type) for name, p in route.path_parameters.items()}
    return route.path_format.format(**params)


async def test_every_non_public_route_requires_a_credential(app: Litestar, client: httpx.AsyncClient) -> None:
    failures = []
    checked = 0
    for route, method, _ in _endpoints(app):
        if _is_public(route.path):
            continue
        if method == "OPTIONS":
            # CORS preflight must work without a credential; it reveals only the Allow header
            r = await client.options(_url(route, {}))
            if r.status_code != 204 or r.content:
                failures.append(f"OPTIONS {route.path} -> {r.status_code} {r.text[:80]}")
            continue
        kwargs: dict[str, Any] = {"json": {}} if method in METHODS_WITH_BODY else {}
        r = await client.request(method, _url(route, {}), **kwargs)
        checked += 1
        if r.status_code != 401 or not r.headers.get("content-type", "").startswith(
            "application/problem+json"
        ):
            failures.append(f"{method} {route.path} -> {r.status_code}")
        # a malformed credential is a 401 too, never a 500
        r = await client.request(
            method, _url(route, {}), headers={"Authorization": "Bearer keel_pat_junk"}, **kwargs
        )
        if r.status_code != 401:
            failures.append(f"{method} {route.path} with a junk token -> {r.status_code}")
    assert checked > 40
    assert not failures, "\n".join(failures)


def test_every_guarded_route_declares_its_permission(app: Litestar) -> None:
    missing = [
        f"{method} {route.path}"
        for route, method, handler in _endpoints(app)
        if method != "OPTIONS" and not _is_public(route.path) and permission_of(handler) is None
    ]
    assert not missing, "routes without a declared permission:\n" + "\n".join(missing)


async def _person(runtime: Runtime, name: str) -> tuple[uuid.UUID, str, dict[str, str]]:
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name=name, email=email)
        token = await identity_api.issue_token(uow, person_id=person.id, name="iso", scopes=["*"])
    return person.id, email, {"Authorization": f"Bearer {token.token}"}


async def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code < 300, r.text
    body: dict[str, Any] = r.json()
    return body


async def _build_tenant(client: httpx.AsyncClient, runtime: Runtime, name: str) -> dict[str, Any]:
    """An organization with one of every organization-owned resource."""
    _, _, owner = await _person(runtime, f"{name} owner")
    member_id, member_email, member = await _person(runtime, f"{name} member")
    slug = f"{name.lower()}-{uuid.uuid4().hex[:10]}"
    org = await _ok(
        await client.post("/organizations", json={"slug": slug, "name": f"{name} Secret Name"}, headers=owner)
    )
    org_id = org["id"]
    roles = (await _ok(await client.get(f"/orgs/{org_id}/roles", headers=owner)))["items"]
    admin_role = next(r["id"] for r in roles if r["key"] == "admin")
    invite = await _ok(
        await client.post(
            f"/orgs/{org_id}/invitations", json={"email": member_email, "role_id": admin_role}, headers=owner
        )
    )
    await _ok(await client.post("/invitations/accept", json={"token": invite["token"]}, headers=member))
    ws = await _ok(
        await client.post(
            f"/orgs/{org_id}/workspaces", json={"slug": "secret-ws", "name": "WS"}, headers=owner
        )
    )
    role = await _ok(
        await client.post(
            f"/orgs/{org_id}/roles",
            json={"key": "custom", "name": "C", "permissions": ["audit.logs:read"]},
            headers=owner,
        )
    )
    assignment = await _ok(
        await client.post(
            f"/orgs/{org_id}/role-assignments",
            json={"principal_type": "person", "principal_id": str(member_id), "role_id": role["id"]},
            headers=owner,
        )
    )
    account = await _ok(
        await client.post(f"/orgs/{org_id}/service-accounts", json={"name": "robot"}, headers=owner)
    )
    await _ok(
        await client.post(
            f"/orgs/{org_id}/role-assignments",
            json={"principal_type": "service_account", "principal_id": account["id"], "role_id": admin_role},
            headers=owner,
        )
    )
    key = await _ok(
        await client.post(
            f"/orgs/{org_id}/service-accounts/{account['id']}/keys", json={"name": "k"}, headers=owner
        )
    )
    pending = await _ok(
        await client.post(
            f"/orgs/{org_id}/invitations",
            json={"email": "pending@example.test", "role_id": admin_role},
            headers=owner,
        )
    )
    return {
        "slug": slug,
        "owner": owner,
        "service_account": {"Authorization": f"Bearer {key['token']}"},
        "ids": {
            "org_id": org_id,
            "person_id": str(member_id),
            "workspace_id": ws["id"],
            "role_id": role["id"],
            "assignment_id": assignment["id"],
            "account_id": account["id"],
            "key_id": key["key"]["id"],
            "invitation_id": pending["invitation"]["id"],
        },
    }


@pytest.fixture(scope="module")
async def tenants(client: httpx.AsyncClient, runtime: Runtime) -> tuple[dict[str, Any], dict[str, Any]]:
    return await _build_tenant(client, runtime, "Alpha"), await _build_tenant(client, runtime, "Bravo")


async def test_a_foreign_principal_gets_404_on_every_org_scoped_route(
    app: Litestar, client: httpx.AsyncClient, tenants: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = tenants
    scoped = [(r, m, h) for r, m, h in _endpoints(app) if "{org_id" in r.path and m != "OPTIONS"]
    assert len(scoped) >= 25
    failures = []
    for caller_name, caller in (("B's owner", b["owner"]), ("B's service account", b["service_account"])):
        for route, method, _ in scoped:
            url = _url(route, a["ids"])
            kwargs: dict[str, Any] = {"json": {}} if method in METHODS_WITH_BODY else {}
            r = await client.request(method, url, headers=caller, **kwargs)
            leaked = a["slug"] in r.text or "Secret Name" in r.text
            if r.status_code != 404 or leaked:
                failures.append(f"{caller_name}: {method} {route.path} -> {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)

    # A is untouched and its owner still sees everything B was refused
    owner, ids = a["owner"], a["ids"]
    org_id = ids["org_id"]
    assert (await client.get(f"/organizations/{org_id}", headers=owner)).json()["status"] == "trial"
    member = (await client.get(f"/orgs/{org_id}/members/{ids['person_id']}", headers=owner)).json()
    assert member["status"] == "active"
    assert (
        await client.get(f"/orgs/{org_id}/workspaces/{ids['workspace_id']}", headers=owner)
    ).status_code == 200
    assert (await client.get(f"/orgs/{org_id}/roles/{ids['role_id']}", headers=owner)).status_code == 200
    keys = (
        await client.get(f"/orgs/{org_id}/service-accounts/{ids['account_id']}/keys", headers=owner)
    ).json()
    assert [k["revoked_at"] for k in keys["items"]] == [None]
    assert (await client.get(f"/organizations/{org_id}", headers=a["service_account"])).status_code == 200
