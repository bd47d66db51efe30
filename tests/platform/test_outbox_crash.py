"""A relay process SIGKILLed after claiming a batch — or in the middle of delivering it — loses
nothing: once the lease expires another relay re-takes the rows, and every event reaches the
audit log exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from platform_core.messaging.events import Subject
from platform_core.messaging.outbox import OutboxRelay, OutboxRelaySpec, RelayTuning, in_flight_sql
from platform_core.runtime.runtime import Runtime

EVENTS = 50
DOOMED_LEASE_SECONDS = 2
RESCUER_LEASE = timedelta(seconds=1)
ROOT = Path(__file__).resolve().parents[2]

# The doomed relay: claims (and, in "deliver" mode, starts delivering) one batch, reports how
# far it got, then hangs until it is killed.
DOOMED = textwrap.dedent(
    """
    import asyncio, sys, uuid
    from datetime import timedelta
    from modules.audit.wiring import MODULE
    from platform_core.persistence.db import create_engine
    from platform_core.messaging.outbox import OutboxRelay, RelayTuning

    async def main(url: str, mode: str) -> None:
        (spec,) = MODULE.relays
        if mode == "deliver":
            inner = spec.handler
            async def handler(conn, rows):
                await inner(conn, rows)
                print("delivering", len(rows), flush=True)
                await asyncio.sleep(3600)  # killed here, inside the delivery transaction
            spec = type(spec)(**{**spec.__dict__, "handler": handler})
        engine = create_engine(url, pool_size=1)
        lease = timedelta(seconds=int(sys.argv[3]))
        relay = OutboxRelay(engine, spec, RelayTuning(batch_size=500, lease=lease))
        token = uuid.uuid4()
        ids = await relay.claim(token)
        print("claimed", len(ids), token, flush=True)
        if mode == "deliver":
            await relay._deliver(ids, token, dict.fromkeys(ids, 1))
        await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def audit_spec(runtime: Runtime) -> OutboxRelaySpec:
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    return spec


@pytest.fixture
async def drained(runtime: Runtime) -> None:
    await OutboxRelay(runtime.engine, audit_spec(runtime), runtime.tuning).drain(time_budget_seconds=60)


async def publish(runtime: Runtime, org: uuid.UUID) -> list[uuid.UUID]:
    async with runtime.uow() as uow:
        return [
            (
                await uow.emit(
                    "relaytest.crate.packed", subject=Subject(type="crate", id=f"c-{n}"), org_id=org
                )
            ).event_id
            for n in range(EVENTS)
        ]


def start_doomed(database_url: str, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DOOMED, database_url, mode, str(DOOMED_LEASE_SECONDS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def read_line(process: subprocess.Popen[str], prefix: str) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout=60)
    assert line.startswith(prefix), f"doomed relay said {line!r}"
    return line


async def outbox_state(runtime: Runtime, event_ids: list[uuid.UUID]) -> list[tuple[str, bool, int]]:
    """(status, in flight, attempts) of each row."""
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT status, {in_flight_sql()} AS in_flight, attempts FROM audit.audit_outbox"
                " WHERE event_id = ANY(:ids)"
            ),
            {"ids": event_ids},
        )
        return [(r.status, r.in_flight, r.attempts) for r in rows]


async def outbox_ids(runtime: Runtime, event_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id FROM audit.audit_outbox WHERE event_id = ANY(:ids)"), {"ids": event_ids}
        )
        return list(rows.scalars())


async def logged_count(runtime: Runtime, event_ids: list[uuid.UUID]) -> tuple[int, int]:
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT event_id) FROM audit.audit_logs"
                    " WHERE event_id = ANY(:ids)"
                ),
                {"ids": event_ids},
            )
        ).one()
        return row[0], row[1]


@pytest.mark.usefixtures("drained")
@pytest.mark.parametrize("mode", ["claim", "deliver"])
async def test_killed_relay_loses_nothing(runtime: Runtime, mode: str) -> None:
    org = uuid.uuid4()
    event_ids = await publish(runtime, org)
    process = start_doomed(runtime.settings.database_url or "", mode)
    try:
        claimed = await read_line(process, "claimed")
        claimed_at = time.monotonic()
        assert int(claimed.split()[1]) == EVENTS
        if mode == "deliver":
            await read_line(process, "delivering")
            # the delivery transaction is open but uncommitted: nothing is visible yet
            assert await logged_count(runtime, event_ids) == (0, 0)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    # PostgreSQL rolled the killed delivery back; the rows are still leased to the dead relay
    assert await outbox_state(runtime, event_ids) == [("pending", True, 1)] * EVENTS
    ours = set(await outbox_ids(runtime, event_ids))
    rescuer = OutboxRelay(
        runtime.engine,
        audit_spec(runtime),
        RelayTuning(batch_size=500, lease=RESCUER_LEASE, backoff_base_seconds=0),
    )
    early = await rescuer.claim(uuid.uuid4())
    if time.monotonic() - claimed_at < DOOMED_LEASE_SECONDS - 0.5:
        assert not ours & set(early), "rows were re-taken while the dead relay's lease still ran"

    deadline = time.monotonic() + 20
    while await logged_count(runtime, event_ids) != (EVENTS, EVENTS):
        assert time.monotonic() < deadline, "the rows were never re-taken after the lease expired"
        await asyncio.sleep(0.3)
        await rescuer.drain()
    assert await outbox_state(runtime, event_ids) == []

    async with runtime.engine.connect() as conn:
        seqs = (
            await conn.execute(
                text("SELECT seq FROM audit.audit_logs WHERE org_id = :org ORDER BY seq"), {"org": org}
            )
        ).scalars()
        assert list(seqs) == list(range(1, EVENTS + 1))
