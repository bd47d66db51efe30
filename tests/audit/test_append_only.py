"""The audit log is append-only in the database, and tampering that bypasses the trigger (a
superuser disabling it) is caught by chain verification, which names the first broken link."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from platform_core.messaging.events import Subject
from platform_core.messaging.outbox import OutboxRelay
from platform_core.persistence.db import asyncpg_dsn
from platform_core.runtime.runtime import Runtime

TRIGGER = "trg_audit_logs_append_only"


@pytest.fixture
async def conn(runtime: Runtime) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(asyncpg_dsn(runtime.settings.database_url or ""))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def chain_org(runtime: Runtime) -> uuid.UUID:
    """A fresh organization chain of three records, drained into the log."""
    org = uuid.uuid4()
    async with runtime.uow() as uow:
        for n in range(3):
            await uow.emit(
                "relaytest.ledger.written",
                subject=Subject(type="ledger", id=f"l-{n}"),
                data={"line": n, "amount_minor": 100 * (n + 1)},
                org_id=org,
            )
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    await OutboxRelay(runtime.engine, spec, runtime.tuning).drain(time_budget_seconds=60)
    return org


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit.audit_logs SET actor_name = 'someone else' WHERE org_id = $1",
        "UPDATE audit.audit_logs SET metadata = '{}' WHERE org_id = $1 AND seq = 2",
        "DELETE FROM audit.audit_logs WHERE org_id = $1",
    ],
)
async def test_update_and_delete_are_rejected(
    conn: asyncpg.Connection, chain_org: uuid.UUID, statement: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute(statement, chain_org)
    assert await conn.fetchval("SELECT count(*) FROM audit.audit_logs WHERE org_id = $1", chain_org) == 3


async def test_truncate_is_rejected(conn: asyncpg.Connection, chain_org: uuid.UUID) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="TRUNCATE"):
        await conn.execute("TRUNCATE audit.audit_logs")
    assert await conn.fetchval("SELECT count(*) FROM audit.audit_logs WHERE org_id = $1", chain_org) == 3


async def verify(client: httpx.AsyncClient, headers: dict[str, str], org: uuid.UUID | None = None) -> dict:
    params = {"org_id": str(org)} if org else {}
    r = await client.get("/audit/verify", params=params, headers=headers)
    assert r.status_code == 200, r.text
    result: dict = r.json()
    return result


async def test_edited_metadata_breaks_the_chain(
    conn: asyncpg.Connection,
    chain_org: uuid.UUID,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    assert (await verify(client, admin_headers, chain_org))["ok"] is True
    original = await conn.fetchval(
        "SELECT metadata::text FROM audit.audit_logs WHERE org_id = $1 AND seq = 2", chain_org
    )
    await conn.execute(f"ALTER TABLE audit.audit_logs DISABLE TRIGGER {TRIGGER}")
    try:
        await conn.execute(
            """UPDATE audit.audit_logs SET metadata = jsonb_set(metadata, '{amount_minor}', '1')
                WHERE org_id = $1 AND seq = 2""",
            chain_org,
        )
    finally:
        await conn.execute(f"ALTER TABLE audit.audit_logs ENABLE TRIGGER {TRIGGER}")
    try:
        for scoped in (chain_org, None):  # this organization's chain, and every chain
            result = await verify(client, admin_headers, scoped)
            assert result["ok"] is False
            assert result["first_break"] == {
                "org_id": str(chain_org),
                "seq": 2,
                "reason": "hash does not match the record",
            }
    finally:  # put the record back so the shared test database verifies again
        await conn.execute(f"ALTER TABLE audit.audit_logs DISABLE TRIGGER {TRIGGER}")
        try:
            await conn.execute(
                "UPDATE audit.audit_logs SET metadata = $2::jsonb WHERE org_id = $1 AND seq = 2",
                chain_org,
                original,
            )
        finally:
            await conn.execute(f"ALTER TABLE audit.audit_logs ENABLE TRIGGER {TRIGGER}")
    assert (await verify(client, admin_headers, chain_org))["ok"] is True


async def test_deleted_record_leaves_a_detected_gap(
    conn: asyncpg.Connection,
    chain_org: uuid.UUID,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    saved = await conn.fetchrow("SELECT * FROM audit.audit_logs WHERE org_id = $1 AND seq = 2", chain_org)
    await conn.execute(f"ALTER TABLE audit.audit_logs DISABLE TRIGGER {TRIGGER}")
    try:
        await conn.execute("DELETE FROM audit.audit_logs WHERE id = $1", saved["id"])
    finally:
        await conn.execute(f"ALTER TABLE audit.audit_logs ENABLE TRIGGER {TRIGGER}")
    try:
        result = await verify(client, admin_headers, chain_org)
        assert result["ok"] is False
        assert result["first_break"]["seq"] == 3
        assert result["first_break"]["reason"] == "expected seq 2"
    finally:
        columns = list(saved.keys())
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await conn.execute(
            f"INSERT INTO audit.audit_logs ({', '.join(columns)}) OVERRIDING SYSTEM VALUE"
            f" VALUES ({placeholders})",
            *saved.values(),
        )
    assert (await verify(client, admin_headers, chain_org))["ok"] is True
