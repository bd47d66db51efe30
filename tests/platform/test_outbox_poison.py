"""A poison row ends `dead` after max_attempts with its error recorded, while every other row
of the same batches is delivered; a row whose lease keeps expiring is buried too."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from modules.audit.models import AuditOutbox
from modules.audit.services.capture import outbox_row as outbox_row_of
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.outbox import DrainStats, OutboxRelay, OutboxRelaySpec, RelayTuning
from platform_core.runtime.runtime import Runtime

GOOD = 40


def audit_spec(runtime: Runtime) -> OutboxRelaySpec:
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    return spec


async def insert_rows(runtime: Runtime, rows: list[dict[str, object]]) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(insert(AuditOutbox.__table__), rows)


def good_row(org: uuid.UUID | None, n: int) -> dict[str, object]:
    return outbox_row_of(
        Event(type="relaytest.gadget.created", subject=Subject(type="gadget", id=f"g-{n}"), org_id=org)
    )


def poison_row() -> dict[str, object]:
    """A row audit_logs refuses (its crud check), so every delivery that includes it fails."""
    return {**good_row(None, -1), "action": "relaytest.poison", "crud": "x"}


async def outbox_row(runtime: Runtime, row_id: uuid.UUID) -> dict[str, object] | None:
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, attempts, last_error FROM audit.audit_outbox WHERE id = :id"),
                {"id": row_id},
            )
        ).first()
    return dict(row._mapping) if row else None


@pytest.fixture
async def drained(runtime: Runtime) -> None:
    """Start from an outbox with nothing due, so the batches below hold exactly our rows."""
    await OutboxRelay(runtime.engine, audit_spec(runtime), runtime.tuning).drain(time_budget_seconds=60)


@pytest.mark.usefixtures("drained")
async def test_poison_row_goes_dead_and_the_rest_is_delivered(runtime: Runtime) -> None:
    org = uuid.uuid4()
    rows = [good_row(org, n) for n in range(GOOD)]
    poison = poison_row()
    poison_id = poison["id"]
    rows.insert(GOOD // 2, poison)
    await insert_rows(runtime, rows)

    tuning = RelayTuning(batch_size=100, max_attempts=3, backoff_base_seconds=0)
    relay = OutboxRelay(runtime.engine, audit_spec(runtime), tuning)
    total = DrainStats()
    for _ in range(10):
        stats = await relay.process_batch()
        if stats.claimed == 0:
            break
        total.delivered += stats.delivered
        total.failed += stats.failed
        total.dead += stats.dead
    assert total.delivered == GOOD
    assert (total.failed, total.dead) == (2, 1)  # attempts 1 and 2 fail, attempt 3 is the last

    poisoned = await outbox_row(runtime, poison_id)
    assert poisoned is not None
    assert poisoned["status"] == "dead"
    assert poisoned["attempts"] == 3
    assert "ck_audit_logs_crud" in str(poisoned["last_error"])

    async with runtime.engine.connect() as conn:
        seqs = (
            await conn.execute(
                text("SELECT seq FROM audit.audit_logs WHERE org_id = :org ORDER BY seq"), {"org": org}
            )
        ).scalars()
        assert list(seqs) == list(range(1, GOOD + 1))
        left = await conn.execute(
            text("SELECT count(*) FROM audit.audit_outbox WHERE org_id = :org"), {"org": org}
        )
        assert left.scalar_one() == 0
    # a dead row is never claimed again
    assert (await relay.process_batch()).claimed == 0
    async with runtime.engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit.audit_outbox WHERE id = :id"), {"id": poison_id})


@pytest.mark.usefixtures("drained")
async def test_failed_row_waits_for_its_backoff(runtime: Runtime) -> None:
    poison = poison_row()
    poison_id = poison["id"]
    await insert_rows(runtime, [poison])
    tuning = RelayTuning(batch_size=10, max_attempts=5, backoff_base_seconds=600)
    relay = OutboxRelay(runtime.engine, audit_spec(runtime), tuning)
    assert (await relay.process_batch()).failed == 1
    assert (await relay.process_batch()).claimed == 0  # not due before next_attempt_at
    async with runtime.engine.begin() as conn:
        delay = (
            await conn.execute(
                text("SELECT next_attempt_at - now() FROM audit.audit_outbox WHERE id = :id"),
                {"id": poison_id},
            )
        ).scalar_one()
        assert timedelta(seconds=299) < delay <= timedelta(seconds=600)
        await conn.execute(text("DELETE FROM audit.audit_outbox WHERE id = :id"), {"id": poison_id})


@pytest.mark.usefixtures("drained")
async def test_row_whose_lease_keeps_expiring_is_buried(runtime: Runtime) -> None:
    """A worker that dies on every attempt (claims, never completes) cannot loop forever."""
    row = good_row(uuid.uuid4(), 0)
    await insert_rows(runtime, [row])
    tuning = RelayTuning(batch_size=10, lease=timedelta(0), max_attempts=3)
    relay = OutboxRelay(runtime.engine, audit_spec(runtime), tuning)
    for attempt in range(1, 4):
        assert await relay.claim(uuid.uuid4()) == [row["id"]]  # lease of 0: expired at once
        state = await outbox_row(runtime, row["id"])  # type: ignore[arg-type]
        assert state is not None
        assert (state["status"], state["attempts"]) == ("pending", attempt)
    assert await relay.claim(uuid.uuid4()) == []
    state = await outbox_row(runtime, row["id"])  # type: ignore[arg-type]
    assert state is not None
    assert state["status"] == "dead"
    assert state["last_error"] == "lease expired too often"
    async with runtime.engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit.audit_outbox WHERE id = :id"), {"id": row["id"]})
