"""Two relays draining one outbox at the same time deliver every event exactly once, and the
per-organization chains they append to stay gapless and verifiable."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import text

from modules.audit.services.queries import verify_chains
from platform_core.messaging.events import Subject
from platform_core.messaging.outbox import DrainStats, OutboxRelay, RelayTuning
from platform_core.persistence.db import create_engine
from platform_core.runtime.runtime import Runtime

EVENTS = 5_000
ORGS = 20
TRANSACTIONS = 10


async def publish(runtime: Runtime, orgs: list[uuid.UUID | None]) -> list[uuid.UUID]:
    """Emit EVENTS events through units of work, so capture writes the outbox rows."""
    event_ids: list[uuid.UUID] = []
    per_transaction = EVENTS // TRANSACTIONS
    for t in range(TRANSACTIONS):
        async with runtime.uow() as uow:
            for i in range(per_transaction):
                n = t * per_transaction + i
                event = await uow.emit(
                    "relaytest.widget.created",
                    subject=Subject(type="widget", id=f"w-{n}", name=f"Widget {n}"),
                    data={"n": n},
                    org_id=orgs[n % len(orgs)],
                )
                event_ids.append(event.event_id)
    return event_ids


async def drain_until_empty(relay: OutboxRelay) -> DrainStats:
    """What the worker's drain actor runs (with its prefetching claims), until nothing is due."""
    total = DrainStats()
    while True:
        stats = await relay.drain(time_budget_seconds=1)
        total.add(stats)
        if stats.claimed == 0:
            return total


async def test_two_relays_deliver_each_event_exactly_once(runtime: Runtime) -> None:
    orgs: list[uuid.UUID | None] = [uuid.uuid4() for _ in range(ORGS)]
    orgs.append(None)  # the platform chain too
    event_ids = await publish(runtime, orgs)
    assert len(set(event_ids)) == EVENTS

    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    tuning = RelayTuning(batch_size=100, lease=timedelta(seconds=60), backoff_base_seconds=0)
    engines = [create_engine(runtime.settings.database_url or "", pool_size=2) for _ in range(2)]
    try:
        relays = [OutboxRelay(engine, spec, tuning) for engine in engines]
        first, second = await asyncio.wait_for(
            asyncio.gather(*(drain_until_empty(r) for r in relays)), timeout=240
        )
    finally:
        for engine in engines:
            await engine.dispose()

    assert first.failed == first.dead == second.failed == second.dead == 0
    assert first.delivered > 0
    assert second.delivered > 0, "the second relay never got a batch: no concurrency was exercised"
    assert first.delivered + second.delivered >= EVENTS

    async with runtime.engine.connect() as conn:
        logged = (
            await conn.execute(
                text("SELECT event_id, org_id, seq FROM audit.audit_logs WHERE event_id = ANY(:ids)"),
                {"ids": event_ids},
            )
        ).all()
        left = (
            await conn.execute(
                text("SELECT count(*) FROM audit.audit_outbox WHERE event_id = ANY(:ids)"), {"ids": event_ids}
            )
        ).scalar_one()
    assert left == 0
    assert len(logged) == EVENTS
    assert Counter(r.event_id for r in logged) == Counter(event_ids)

    expected = Counter(orgs[n % len(orgs)] for n in range(EVENTS))
    for org in orgs[:-1]:
        seqs = sorted(r.seq for r in logged if r.org_id == org)
        assert seqs == list(range(1, expected[org] + 1)), f"org {org}: seq is not 1..n gapless"
    platform_seqs = [r.seq for r in logged if r.org_id is None]
    assert len(platform_seqs) == len(set(platform_seqs)) == expected[None]

    async with runtime.sessionmaker() as session:
        result = await verify_chains(session, all_orgs=True)
    assert result.ok, result.first_break
    assert result.chains >= ORGS + 1
    assert result.checked >= EVENTS
