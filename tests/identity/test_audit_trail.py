"""Every identity state change publishes an event that reaches the audit log with the acting
principal, the target and the source IP."""

from __future__ import annotations

import uuid

import httpx

from platform_core.runtime.runtime import Runtime
from tests.identity.conftest import Signer, audit_records, bearer, drain_audit


async def test_each_state_change_is_audited_with_actor_target_and_ip(
    api: httpx.AsyncClient, oidc_runtime: Runtime, admin_headers: dict[str, str], signer: Signer
) -> None:
    admin_id = (await api.get("/identity/me", headers=admin_headers)).json()["id"]
    sub = str(uuid.uuid4())
    jwt = bearer(signer.token(sub, name="Audrey"))
    me = (await api.get("/identity/me", headers=jwt)).json()["id"]
    expected: list[tuple[str, str, str]] = []  # (action, actor id, target id)

    person = (
        await api.post(
            "/identity/persons", json={"kind": "business", "display_name": "Co"}, headers=admin_headers
        )
    ).json()["id"]
    expected.append(("identity.person.created", admin_id, person))
    await api.patch(f"/identity/persons/{me}", json={"country": "NL"}, headers=jwt)
    expected.append(("identity.person.updated", me, me))
    token = (await api.post("/identity/me/tokens", json={"name": "t", "scopes": ["*"]}, headers=jwt)).json()
    expected.append(("identity.token.created", me, token["id"]))
    await api.delete(f"/identity/me/tokens/{token['id']}", headers=jwt)
    expected.append(("identity.token.revoked", me, token["id"]))
    hold = (
        await api.post(
            f"/identity/persons/{person}/retention-holds",
            json={"reason": "r", "authority": "a"},
            headers=admin_headers,
        )
    ).json()["id"]
    expected.append(("identity.retention_hold.placed", admin_id, hold))
    await api.post(f"/identity/persons/{person}/retention-holds/{hold}/release", headers=admin_headers)
    expected.append(("identity.retention_hold.released", admin_id, hold))
    await api.delete(f"/identity/persons/{person}/pii", headers=admin_headers)
    expected.append(("identity.person.erased", admin_id, person))
    await api.post(
        "/identity/sync/keycloak", json=[{"id": sub, "email": "audrey@new.example"}], headers=admin_headers
    )
    other = (
        await api.post(
            "/identity/persons", json={"kind": "individual", "display_name": "Dup"}, headers=admin_headers
        )
    ).json()["id"]
    await api.post(
        f"/identity/persons/{other}/merge",
        json={"target_person_id": me, "reason": "dup"},
        headers=admin_headers,
    )
    expected.append(("identity.person.merged", admin_id, other))

    await drain_audit(oidc_runtime)
    records = await audit_records(api, admin_headers, action="identity.*")
    for action, actor, target in expected:
        matching = [
            r
            for r in records
            if r["action"] == action and r["target"]["id"] == target and r["actor"]["id"] == actor
        ]
        assert matching, f"{action} on {target} by {actor} was not audited"
        assert matching[0]["source_ip"] == "127.0.0.1", action
    synced = [r for r in records if r["action"] == "identity.user.updated" and r["actor"]["id"] == admin_id]
    assert any("email" in r["metadata"]["fields"] for r in synced), "the sync's changes are audited"
    merged = next(
        r for r in records if r["action"] == "identity.person.merged" and r["target"]["id"] == other
    )
    assert merged["metadata"] == {"source_person_id": other, "target_person_id": me}
