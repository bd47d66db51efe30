from __future__ import annotations

import httpx

from modules.organization import api as org_api
from platform_core.runtime.runtime import Runtime
from tests.organization.helpers import MakePerson, assert_problem, create_org


async def test_operator_role_spans_organizations(
    client: httpx.AsyncClient, make_person: MakePerson, runtime: Runtime
) -> None:
    owner, operator = await make_person(), await make_person("Operator")
    org = await create_org(client, owner)
    org_id = org["id"]
    assert_problem(await client.get(f"/organizations/{org_id}", headers=operator.headers), 404)

    async with runtime.uow() as uow:
        await org_api.make_operator(uow, operator.id)

    # standing and every permission in every organization, without being a member
    assert (await client.get(f"/organizations/{org_id}", headers=operator.headers)).status_code == 200
    r = await client.get("/organizations", params={"limit": 500}, headers=operator.headers)
    assert org_id in {o["id"] for o in r.json()["items"]}
    r = await client.post(
        f"/organizations/{org_id}/status", json={"status": "frozen"}, headers=operator.headers
    )
    assert r.status_code == 200, r.text
    # the freeze binds operators too, except for the lifecycle itself
    r = await client.post(
        f"/orgs/{org_id}/workspaces", json={"slug": "op", "name": "Op"}, headers=operator.headers
    )
    assert_problem(r, 409, "organization_frozen")
    r = await client.post(
        f"/organizations/{org_id}/status", json={"status": "active"}, headers=operator.headers
    )
    assert r.status_code == 200
    r = await client.post(
        f"/orgs/{org_id}/authz/check",
        json={
            "principal_type": "person",
            "principal_id": str(operator.id),
            "permission": "billing.invoices:void",
        },
        headers=owner.headers,
    )
    assert r.json() == {"allowed": True, "reason": "granted by role operator at platform scope"}
    # nobody hands the operator role out over HTTP, not even an operator
    roles = (await client.get(f"/orgs/{org_id}/roles", headers=operator.headers)).json()["items"]
    operator_role = next(r["id"] for r in roles if r["key"] == "operator")
    r = await client.post(
        f"/orgs/{org_id}/role-assignments",
        json={"principal_type": "person", "principal_id": str(owner.id), "role_id": operator_role},
        headers=operator.headers,
    )
    assert_problem(r, 422, "role_not_assignable")
