from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from platform_core.runtime.runtime import Runtime
from tests.organization.helpers import MakePerson, assert_problem, create_org, role_id


async def _invite(
    client: httpx.AsyncClient, org_id: str, headers: dict[str, str], email: str, key: str = "member"
) -> dict:
    rid = await role_id(client, org_id, headers, key)
    r = await client.post(
        f"/orgs/{org_id}/invitations", json={"email": email, "role_id": rid}, headers=headers
    )
    assert r.status_code == 201, r.text
    body: dict = r.json()
    return body


async def test_invite_accept_and_retry(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner, invitee, other = await make_person(), await make_person(), await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    issued = await _invite(client, org_id, owner.headers, invitee.email.upper(), "billing_admin")
    token = issued["token"]
    assert token.startswith("keel_inv_")
    assert issued["invitation"]["status"] == "pending"
    assert issued["invitation"]["email"] == invitee.email
    r = await client.get(f"/orgs/{org_id}/invitations", headers=owner.headers)
    assert all("token" not in i for i in r.json()["items"])

    r = await client.post("/invitations/accept", json={"token": token}, headers=invitee.headers)
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert accepted["invitation"]["status"] == "accepted"
    assert accepted["member"]["roles"] == ["billing_admin"]
    assert accepted["member"]["invited_by"] == str(owner.id)

    again = await client.post("/invitations/accept", json={"token": token}, headers=invitee.headers)
    assert again.status_code == 200  # a retry by the same person is harmless
    assert again.json()["member"]["id"] == accepted["member"]["id"]
    assert_problem(
        await client.post("/invitations/accept", json={"token": token}, headers=other.headers),
        409,
        "invitation_used",
    )
    r = await client.get(f"/orgs/{org_id}/members", headers=owner.headers)
    assert len(r.json()["items"]) == 2


async def test_revoked_expired_and_unknown(
    client: httpx.AsyncClient, make_person: MakePerson, runtime: Runtime
) -> None:
    owner, invitee = await make_person(), await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    issued = await _invite(client, org_id, owner.headers, invitee.email)
    assert_problem(await _dup(client, org_id, owner.headers, invitee.email), 409, "invitation_pending")
    inv_id = issued["invitation"]["id"]
    r = await client.post(f"/orgs/{org_id}/invitations/{inv_id}/revoke", headers=owner.headers)
    assert r.json()["status"] == "revoked"
    r = await client.post("/invitations/accept", json={"token": issued["token"]}, headers=invitee.headers)
    assert_problem(r, 409, "invitation_revoked")

    issued = await _invite(client, org_id, owner.headers, invitee.email)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE organization.invitations SET expires_at = now() - interval '1 second' WHERE id = :id"
            ),
            {"id": issued["invitation"]["id"]},
        )
    r = await client.get(f"/orgs/{org_id}/invitations", params={"status": "expired"}, headers=owner.headers)
    assert issued["invitation"]["id"] in {i["id"] for i in r.json()["items"]}
    r = await client.post("/invitations/accept", json={"token": issued["token"]}, headers=invitee.headers)
    assert_problem(r, 409, "invitation_expired")
    # an expired invitation does not block a fresh one
    await _invite(client, org_id, owner.headers, invitee.email)

    assert_problem(
        await client.post("/invitations/accept", json={"token": "keel_inv_nope"}, headers=invitee.headers),
        404,
    )
    tampered = issued["token"][:-1] + ("A" if issued["token"][-1] != "A" else "B")
    assert_problem(
        await client.post("/invitations/accept", json={"token": tampered}, headers=invitee.headers), 404
    )


async def _dup(client: httpx.AsyncClient, org_id: str, headers: dict[str, str], email: str) -> httpx.Response:
    rid = await role_id(client, org_id, headers, "member")
    return await client.post(
        f"/orgs/{org_id}/invitations", json={"email": email, "role_id": rid}, headers=headers
    )


async def test_invitation_for_another_address(client: httpx.AsyncClient, make_person: MakePerson) -> None:
    owner, invitee, thief = await make_person(), await make_person(), await make_person()
    org = await create_org(client, owner)
    issued = await _invite(client, org["id"], owner.headers, invitee.email)
    r = await client.post("/invitations/accept", json={"token": issued["token"]}, headers=thief.headers)
    assert_problem(r, 403, "invitation_email_mismatch")


async def test_concurrent_accepts_make_one_membership(
    client: httpx.AsyncClient, make_person: MakePerson, runtime: Runtime
) -> None:
    owner, invitee = await make_person(), await make_person()
    org = await create_org(client, owner)
    org_id = org["id"]
    issued = await _invite(client, org_id, owner.headers, invitee.email)
    results = await asyncio.gather(
        *[
            client.post("/invitations/accept", json={"token": issued["token"]}, headers=invitee.headers)
            for _ in range(4)
        ]
    )
    assert [r.status_code for r in results] == [200] * 4, [r.text for r in results]
    assert len({r.json()["member"]["id"] for r in results}) == 1
    async with runtime.engine.connect() as conn:
        members = (
            await conn.execute(
                text("SELECT count(*) FROM organization.org_members WHERE org_id = :o AND person_id = :p"),
                {"o": org_id, "p": invitee.id},
            )
        ).scalar_one()
        assignments = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM organization.role_assignments"
                    " WHERE org_id = :o AND principal_id = :p"
                ),
                {"o": org_id, "p": invitee.id},
            )
        ).scalar_one()
    assert (members, assignments) == (1, 1)


async def test_frozen_org_refuses_acceptance(
    client: httpx.AsyncClient, make_person: MakePerson, admin_headers: dict[str, str]
) -> None:
    owner, invitee = await make_person(), await make_person()
    org = await create_org(client, owner)
    issued = await _invite(client, org["id"], owner.headers, invitee.email)
    await client.post(f"/organizations/{org['id']}/status", json={"status": "frozen"}, headers=admin_headers)
    r = await client.post("/invitations/accept", json={"token": issued["token"]}, headers=invitee.headers)
    assert_problem(r, 409, "organization_frozen")


async def test_the_expiry_job_marks_expired_invitations_and_audits_each(
    client: httpx.AsyncClient, make_person: MakePerson, runtime: Runtime
) -> None:
    owner = await make_person()
    org_id = (await create_org(client, owner))["id"]
    lapsed = (await _invite(client, org_id, owner.headers, f"lapsed-{owner.email}"))["invitation"]["id"]
    fresh = (await _invite(client, org_id, owner.headers, f"fresh-{owner.email}"))["invitation"]["id"]
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE organization.invitations SET expires_at = now() - interval '1 m' WHERE id = :id"),
            {"id": lapsed},
        )

    outcome = await runtime.scheduler.run_now("organization.expire_invitations")

    assert outcome is not None
    assert outcome.succeeded, outcome
    assert outcome.result.startswith("expired ")
    assert outcome.result != "expired 0 invitation(s)"
    async with runtime.engine.connect() as conn:
        statuses = dict(
            (
                await conn.execute(
                    text("SELECT id::text, status FROM organization.invitations WHERE id IN (:a, :b)"),
                    {"a": lapsed, "b": fresh},
                )
            ).all()
        )
        audited = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT target_id, action FROM audit.audit_outbox"
                    " UNION ALL SELECT target_id, action FROM audit.audit_logs) a"
                    " WHERE action = 'organization.invitation.expired' AND target_id = :id"
                ),
                {"id": lapsed},
            )
        ).scalar_one()
    assert statuses == {lapsed: "expired", fresh: "pending"}
    assert audited == 1
    again = await runtime.scheduler.run_now("organization.expire_invitations")
    assert again is not None
    assert again.result == "expired 0 invitation(s)"  # nothing left: no second event
    r = await client.get(f"/orgs/{org_id}/invitations", params={"status": "expired"}, headers=owner.headers)
    assert [i["id"] for i in r.json()["items"]] == [lapsed]
