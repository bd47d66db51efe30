from __future__ import annotations

import httpx

from platform_core.messaging.outbox import OutboxRelay
from platform_core.runtime.runtime import Runtime
from tests.organization.helpers import MakePerson, create_org, join


async def _drain(runtime: Runtime) -> None:
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    await OutboxRelay(runtime.engine, spec, runtime.tuning).drain()


async def test_state_changes_reach_the_audit_log(
    client: httpx.AsyncClient, make_person: MakePerson, runtime: Runtime
) -> None:
    owner, member = await make_person("Owner"), await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    await join(client, org_id, owner, member)
    r = await client.post(
        f"/orgs/{org_id}/workspaces",
        json={"slug": "audited", "name": "A"},
        headers={**owner.headers, "User-Agent": "t"},
    )
    ws = r.json()
    await client.post(f"/orgs/{org_id}/members/{member.id}/suspend", headers=owner.headers)
    await _drain(runtime)

    r = await client.get("/audit/logs", params={"org_id": org_id, "limit": 100}, headers=owner.headers)
    assert r.status_code == 200, r.text
    records = r.json()["items"]
    actions = {rec["action"] for rec in records}
    assert {
        "organization.organization.created",
        "organization.member.added",
        "organization.role_assignment.created",
        "organization.invitation.created",
        "organization.invitation.accepted",
        "organization.workspace.created",
        "organization.member.suspended",
    } <= actions
    (created,) = [rec for rec in records if rec["action"] == "organization.workspace.created"]
    assert created["actor"]["id"] == str(owner.id)
    assert created["actor"]["type"] == "person"
    assert created["target"] == {"type": "workspace", "id": ws["id"], "name": "audited"}
    assert created["source_ip"] == "127.0.0.1"
    assert created["org_id"] == org_id
    (suspended,) = [rec for rec in records if rec["action"] == "organization.member.suspended"]
    assert suspended["target"]["id"] == str(member.id)
