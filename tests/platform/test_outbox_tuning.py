"""The relay's own transactions commit asynchronously unless the tuning asks otherwise, and the
setting stays local to them (pooled connections go back to the server default)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from modules.audit.models import AuditOutbox
from modules.audit.services.capture import outbox_row
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.outbox import OutboxRelay, OutboxRow, RelayTuning
from platform_core.runtime.runtime import Runtime


@pytest.mark.parametrize(("synchronous", "expected"), [(False, "off"), (True, "on")])
async def test_delivery_transaction_commit_mode(runtime: Runtime, synchronous: bool, expected: str) -> None:
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    await OutboxRelay(runtime.engine, spec, runtime.tuning).drain(time_budget_seconds=60)
    seen: list[str] = []

    async def recording(conn: AsyncConnection, rows: Sequence[OutboxRow]) -> None:
        seen.append((await conn.execute(text("SHOW synchronous_commit"))).scalar_one())
        await spec.handler(conn, rows)

    event = Event(type="relaytest.dial.turned", subject=Subject(type="dial", id="d-1"), org_id=uuid.uuid4())
    async with runtime.engine.begin() as conn:
        await conn.execute(insert(AuditOutbox.__table__), [outbox_row(event)])
    relay = OutboxRelay(
        runtime.engine,
        dataclasses.replace(spec, handler=recording),
        RelayTuning(batch_size=10, synchronous_commit=synchronous),
    )
    assert (await relay.process_batch()).delivered == 1
    assert seen == [expected]
    async with runtime.engine.connect() as conn:
        assert (await conn.execute(text("SHOW synchronous_commit"))).scalar_one() == "on"
