"""Outbox relay throughput: the real `OutboxRelay` + audit chain handler against a raw
claim-and-delete loop over the same rows.

    uv run python -m bench.outbox_relay [--events N] [--batch B] [--workers W]

With DATABASE_URL set it runs there (migrated to head; it appends N synthetic records to
fresh per-run organization chains and to the platform chain). Without it, it (re)creates the
database `keel_bench_relay` on postgresql://postgres@127.0.0.1:5432.

1. relay: N events are COPYed into audit.audit_outbox, spread over 20 organizations and the
   platform chain, then W drain loops (`OutboxRelay.drain`, as the worker's drain actor runs
   it, until nothing is due) move them into audit.audit_logs. Rate = N / wall time; the
   chains are verified afterwards.
2. baseline: the same N rows are COPYed into a scratch copy of the outbox table and W loops
   run `DELETE … WHERE id IN (SELECT id … ORDER BY id LIMIT B FOR UPDATE SKIP LOCKED)
   RETURNING *` until it is empty: the floor cost of claiming and removing rows, no work done.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import load_average, machine_summary
from modules.audit.services.chain import PLATFORM_CHAIN
from modules.audit.services.queries import verify_chains
from modules.audit.wiring import MODULE as AUDIT
from platform_core import migrate
from platform_core.db import asyncpg_dsn, create_engine, create_sessionmaker
from platform_core.events import Actor, Event, Subject
from platform_core.ids import uuid7
from platform_core.outbox import OutboxRelay, RelayTuning

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "keel_bench_relay"
ORGS = 20
OUTBOX_COLUMNS = ("id", "event_id", "event_type", "org_id", "payload")
BASELINE_TABLE = "public.bench_baseline_outbox"


@dataclass
class Rate:
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")


def make_records(n: int, orgs: Sequence[uuid.UUID | None]) -> list[tuple[Any, ...]]:
    """Outbox rows whose payloads look like real events (actor, subject, request context, data)."""
    actor = Actor(type="person", id=str(uuid7()), name="Bench Operator")
    records = []
    for i in range(n):
        org = orgs[i % len(orgs)]
        subject_id = str(uuid7())
        event = Event(
            type="identity.person.created",
            subject=Subject(type="person", id=subject_id, name=f"Person {i}"),
            actor=actor,
            data={"person_id": subject_id, "kind": "individual", "display_name": f"Person {i}"},
            org_id=org,
            source_ip="203.0.113.7",
            user_agent="bench/1.0",
        )
        payload = msgspec.json.encode(event).decode()
        records.append((uuid7(), event.event_id, event.type, org, payload))
    return records


async def copy_rows(dsn: str, table: str, records: Sequence[tuple[Any, ...]]) -> None:
    schema, _, name = table.partition(".")
    conn = await asyncpg.connect(dsn)
    try:
        for start in range(0, len(records), 10_000):
            await conn.copy_records_to_table(
                name, schema_name=schema, columns=OUTBOX_COLUMNS, records=records[start : start + 10_000]
            )
        await conn.execute(f"ANALYZE {table}")
    finally:
        await conn.close()


async def timed(workers: int, loop: Callable[[], Awaitable[int]]) -> Rate:
    started = time.perf_counter()
    counts = await asyncio.gather(*(loop() for _ in range(workers)))
    return Rate(sum(counts), time.perf_counter() - started)


async def run_relay(engine: AsyncEngine, batch: int, workers: int) -> Rate:
    (spec,) = AUDIT.relays
    relay = OutboxRelay(engine, spec, RelayTuning(batch_size=batch, lease=timedelta(seconds=300)))

    async def loop() -> int:
        delivered = 0
        while True:  # what the drain actor runs, until nothing is due
            stats = await relay.drain(time_budget_seconds=600)
            delivered += stats.delivered
            if stats.failed or stats.dead:
                raise RuntimeError(f"relay failed rows during the benchmark: {stats}")
            if stats.claimed == 0:
                return delivered

    return await timed(workers, loop)


async def run_baseline(dsn: str, batch: int, workers: int) -> Rate:
    sql = f"""DELETE FROM {BASELINE_TABLE} WHERE id IN (
                  SELECT id FROM {BASELINE_TABLE} ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
              RETURNING *"""

    async def loop() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            deleted = 0
            while True:
                rows = await conn.fetch(sql, batch)
                if not rows:
                    return deleted
                deleted += len(rows)
        finally:
            await conn.close()

    return await timed(workers, loop)


async def prepare_database(url: str | None) -> str:
    if url:
        await asyncio.to_thread(migrate.upgrade, url)
        return url
    conn = await asyncpg.connect(asyncpg_dsn(DEFAULT_SERVER))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DEFAULT_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DEFAULT_DB}"')
    finally:
        await conn.close()
    url = DEFAULT_SERVER.rpartition("/")[0] + "/" + DEFAULT_DB
    await asyncio.to_thread(migrate.upgrade, url)
    return url


async def verify(engine: AsyncEngine, orgs: Sequence[uuid.UUID | None]) -> tuple[bool, int]:
    checked = 0
    async with create_sessionmaker(engine)() as session:
        for org in orgs:
            result = await verify_chains(session, org_id=org)
            if not result.ok:
                print(f"chain {org or PLATFORM_CHAIN} broken: {result.first_break}")
                return False, checked
            checked += result.checked
    return True, checked


async def main(events: int, batch: int, workers: int) -> int:
    url = await prepare_database(os.environ.get("DATABASE_URL"))
    dsn = asyncpg_dsn(url)
    orgs: list[uuid.UUID | None] = [uuid.uuid4() for _ in range(ORGS)]
    orgs.append(None)
    records = make_records(events, orgs)
    engine = create_engine(url, pool_size=2 * workers)
    try:
        print(f"machine: {machine_summary()}")
        print(f"events={events} batch={batch} workers={workers} chains={len(orgs)}")
        print(f"load before: {load_average()}")
        await copy_rows(dsn, "audit.audit_outbox", records)
        async with engine.connect() as conn:  # open the pool outside the timed section
            await conn.exec_driver_sql("SELECT 1")
        relay = await run_relay(engine, batch, workers)
        print(f"relay:    {relay.events} events in {relay.seconds:.2f} s = {relay.per_second:,.0f} events/s")
        print(f"load during relay: {load_average()}")
        ok, checked = await verify(engine, orgs)
        print(f"chains verified: {ok} ({checked} records)")

        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"DROP TABLE IF EXISTS {BASELINE_TABLE}")
            await conn.execute(f"CREATE TABLE {BASELINE_TABLE} (LIKE audit.audit_outbox INCLUDING ALL)")
        finally:
            await conn.close()
        await copy_rows(dsn, BASELINE_TABLE, records)
        baseline = await run_baseline(dsn, batch, workers)
        print(
            f"baseline: {baseline.events} rows in {baseline.seconds:.2f} s = "
            f"{baseline.per_second:,.0f} rows/s (raw DELETE … SKIP LOCKED RETURNING *)"
        )
        ratio = relay.per_second / baseline.per_second
        print(f"ratio relay/baseline: {ratio:.2f}")
        print(f"load after: {load_average()}")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"DROP TABLE IF EXISTS {BASELINE_TABLE}")
        finally:
            await conn.close()
    finally:
        await engine.dispose()
    complete = relay.events == events and baseline.events == events
    return 0 if ok and complete else 1


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1, help="concurrent drain loops (one process)")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.events, args.batch, args.workers)))


if __name__ == "__main__":
    cli()
