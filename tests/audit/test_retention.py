"""Retention: expired records leave the log in archived runs, held ones stay, the chain still
verifies across the gaps (and an archive verifies on its own), and only operators set it."""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from modules.audit.services.chain import link_hash
from platform_core.core.clock import utcnow
from platform_core.core.principal import Actor
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.outbox import OutboxRelay
from platform_core.runtime.runtime import Runtime
from tests.organization.conftest import make_person  # noqa: F401  (fixture)
from tests.organization.helpers import MakePerson, Person, assert_problem, create_org

OLD = timedelta(days=100)


@pytest.fixture
async def owner(make_person: MakePerson) -> Person:  # noqa: F811
    return await make_person("Owner")


@pytest.fixture
async def org_id(client: httpx.AsyncClient, owner: Person, runtime: Runtime) -> AsyncIterator[str]:
    org = (await create_org(client, owner))["id"]
    yield org
    async with runtime.engine.begin() as conn:  # policies are global state: leave none behind
        await conn.execute(text("DELETE FROM audit.audit_retention_policies WHERE org_id = :o"), {"o": org})
        await conn.execute(text("DELETE FROM audit.audit_legal_holds WHERE org_id = :o"), {"o": org})


async def record_old_events(runtime: Runtime, org_id: str, actors: list[str]) -> None:
    """One record per actor, 100 days old, appended to the organization's chain."""
    async with runtime.uow() as uow:
        for n, actor in enumerate(actors):
            await uow.publish(
                Event(
                    type="ledger.entry.written",
                    subject=Subject(type="ledger_entry", id=f"e-{n}"),
                    actor=Actor(type="person", id=actor),
                    data={"n": n},
                    org_id=uuid.UUID(org_id),
                    occurred_at=utcnow() - OLD,
                )
            )
    await drain_audit(runtime)


async def drain_audit(runtime: Runtime) -> None:
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    await OutboxRelay(runtime.engine, spec, runtime.tuning).drain(time_budget_seconds=60)


async def chain_verifies(client: httpx.AsyncClient, org_id: str, headers: dict[str, str]) -> dict:
    r = await client.get("/audit/verify", params={"org_id": org_id}, headers=headers)
    assert r.status_code == 200, r.text
    body: dict = r.json()
    return body


async def test_expired_records_are_archived_and_removed_except_held_ones(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime, org_id: str
) -> None:
    await record_old_events(runtime, org_id, ["a1", "a1", "a1", "kept", "kept", "a1", "a1", "a1"])
    before = await chain_verifies(client, org_id, admin_headers)
    r = await client.post(
        "/audit/legal-holds",
        json={"org_id": org_id, "actor_id": "kept", "reason": "case 42"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    hold = r.json()
    r = await client.put(
        "/audit/retention-policies", json={"org_id": org_id, "retention_days": 30}, headers=admin_headers
    )
    assert r.status_code == 200, r.text

    outcome = await runtime.scheduler.run_now("audit.apply_retention")

    assert outcome is not None
    assert outcome.succeeded, outcome
    r = await client.get("/audit/logs", params={"org_id": org_id, "limit": 500}, headers=admin_headers)
    left = [i for i in r.json()["items"] if i["action"] == "ledger.entry.written"]
    assert [i["actor"]["id"] for i in left] == ["kept", "kept"]
    archives = (await client.get("/audit/archives", params={"org_id": org_id}, headers=admin_headers)).json()
    runs = sorted((a["seq_from"], a["seq_to"], a["row_count"]) for a in archives["items"])
    assert [count for _, _, count in runs] == [3, 3]
    after = await chain_verifies(client, org_id, admin_headers)
    assert (after["ok"], after["archived"], after["checked"]) == (True, 6, before["checked"] - 6)

    for archive in archives["items"]:  # each file stands on its own: its bytes and its links
        data = Path(archive["location"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == archive["sha256"]
        records = [json.loads(line) for line in gzip.decompress(data).decode().splitlines()]
        prev = bytes.fromhex(archive["prev_hash"]) if archive["prev_hash"] else None
        for record in records:
            link = link_hash(prev, record["seq"], bytes.fromhex(record["record_digest"]))
            assert link.hex() == record["hash"]
            prev = link
        assert prev.hex() == archive["last_hash"]
        assert {r["actor_id"] for r in records} == {"a1"}

    r = await client.post(f"/audit/legal-holds/{hold['id']}/release", headers=admin_headers)
    assert r.json()["released_at"] is not None
    await runtime.scheduler.run_now("audit.apply_retention")
    final = await chain_verifies(client, org_id, admin_headers)
    assert (final["ok"], final["archived"]) == (True, 8)
    await drain_audit(runtime)
    r = await client.get(
        "/audit/logs", params={"org_id": org_id, "action": "audit.records.archived"}, headers=admin_headers
    )
    assert sum(i["metadata"]["row_count"] for i in r.json()["items"]) == 8


async def test_removal_without_archive_still_verifies_and_tampering_does_not(
    client: httpx.AsyncClient, admin_headers: dict[str, str], runtime: Runtime, org_id: str
) -> None:
    await record_old_events(runtime, org_id, ["a1"] * 4)
    r = await client.put(
        "/audit/retention-policies",
        json={"org_id": org_id, "retention_days": 30, "archive_before_delete": False},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    await runtime.scheduler.run_now("audit.apply_retention")
    (archive,) = (
        await client.get("/audit/archives", params={"org_id": org_id}, headers=admin_headers)
    ).json()["items"]
    assert (archive["row_count"], archive["location"], archive["sha256"]) == (4, None, None)
    assert (await chain_verifies(client, org_id, admin_headers))["ok"] is True

    async with runtime.engine.begin() as conn:  # someone deletes a record the way retention does
        await conn.execute(text("SELECT set_config('keel.audit_retention', 'on', true)"))
        await conn.execute(text("DELETE FROM audit.audit_logs WHERE org_id = :o AND seq = 1"), {"o": org_id})
    broken = await chain_verifies(client, org_id, admin_headers)
    await drain_audit(runtime)  # other tests verify every chain: drop this one, whole
    async with runtime.engine.begin() as conn:
        await conn.execute(text("SELECT set_config('keel.audit_retention', 'on', true)"))
        for table in ("audit_logs", "audit_archive_manifest"):
            await conn.execute(text(f"DELETE FROM audit.{table} WHERE org_id = :o"), {"o": org_id})
        await conn.execute(text("DELETE FROM audit.audit_chain_heads WHERE chain_key = :o"), {"o": org_id})
    assert broken["ok"] is False
    assert broken["first_break"]["reason"] == "expected seq 1"


async def test_only_operators_set_retention_and_bad_scopes_are_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], owner: Person, org_id: str
) -> None:
    # an organization's owner reads its audit log but may not shorten how long it is kept
    r = await client.put(
        "/audit/retention-policies", json={"org_id": org_id, "retention_days": 1}, headers=owner.headers
    )
    assert_problem(r, 403, "permission_denied")
    r = await client.post("/audit/legal-holds", json={"reason": "mine"}, headers=owner.headers)
    assert_problem(r, 403, "permission_denied")

    url = "/audit/retention-policies"
    both = {"org_id": org_id, "tier": "default", "retention_days": 30}
    assert_problem(await client.put(url, json=both, headers=admin_headers), 422, "invalid_scope")
    assert_problem(
        await client.put(url, json={"retention_days": 30}, headers=admin_headers), 422, "invalid_scope"
    )
    zero = {"org_id": org_id, "retention_days": 0}
    assert_problem(await client.put(url, json=zero, headers=admin_headers), 400)
    unknown = {"org_id": str(uuid.uuid4()), "retention_days": 30}
    assert_problem(await client.put(url, json=unknown, headers=admin_headers), 404)
    assert_problem(
        await client.put(url, json={"tier": "gold", "retention_days": 30}, headers=admin_headers), 400
    )
    backwards = {"reason": "x", "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}
    assert_problem(await client.post("/audit/legal-holds", json=backwards, headers=admin_headers), 422)
    assert_problem(
        await client.post(f"/audit/legal-holds/{uuid.uuid4()}/release", headers=admin_headers), 404
    )
    assert (await client.get(url, headers=admin_headers)).json() == []  # nothing was written
