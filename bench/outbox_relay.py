"""Outbox relay throughput: the real `OutboxRelay` + audit chain handler against a raw
claim-and-delete loop over the same rows.

    uv run python -m bench.outbox_relay [--events N] [--batch B] [--workers W] [--rounds R]

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

Each round prints both rates, their ratio and the CPU per event of this process and of the
PostgreSQL backends (from /proc, local servers only); the summary gives medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import load_average, machine_summary
from migrations import KEEL_MIGRATIONS as migrate
from modules.audit.services.capture import outbox_row
from modules.audit.services.chain import PLATFORM_CHAIN, RECORD_COLUMNS
from modules.audit.services.queries import verify_chains
from modules.audit.wiring import MODULE as AUDIT
from platform_core.core.ids import uuid7
from platform_core.core.principal import Actor
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.outbox import OutboxRelay, RelayTuning
from platform_core.persistence.db import asyncpg_dsn, create_engine, create_sessionmaker

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "keel_bench_relay"
ORGS = 20
OUTBOX_COLUMNS = ("id", *RECORD_COLUMNS)
BASELINE_TABLE = "public.bench_baseline_outbox"


@dataclass
class Rate:
    events: int
    seconds: float
    client_cpu: float = 0.0  # seconds of this process's CPU
    server_cpu: float | None = None  # seconds of the PostgreSQL backends' CPU, when local

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")

    def describe(self) -> str:
        per_event = f"client {1e6 * self.client_cpu / self.events:.0f} us"
        if self.server_cpu is not None:
            per_event += f" + server {1e6 * self.server_cpu / self.events:.0f} us"
        return (
            f"{self.events} in {self.seconds:.2f} s = {self.per_second:,.0f}/s (CPU per event: {per_event})"
        )


def backend_cpu(pids: Sequence[int]) -> float | None:
    """CPU seconds used so far by these PostgreSQL backends (None unless the server is local)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


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
        row = outbox_row(event)  # what capture writes for this event
        row["metadata"] = msgspec.json.encode(row["metadata"]).decode()
        records.append(tuple(row[c] for c in OUTBOX_COLUMNS))
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


async def timed(pids: Sequence[int], workers: int, loop: Callable[[], Awaitable[int]]) -> Rate:
    server_before, client_before = backend_cpu(pids), time.process_time()
    started = time.perf_counter()
    counts = await asyncio.gather(*(loop() for _ in range(workers)))
    seconds = time.perf_counter() - started
    server_after = backend_cpu(pids)
    server = server_after - server_before if server_after is not None and server_before is not None else None
    return Rate(sum(counts), seconds, time.process_time() - client_before, server)


async def pool_pids(engine: AsyncEngine, size: int) -> list[int]:
    """Open `size` pooled connections at once (outside the timed part) and return their pids."""
    conns = [await engine.connect() for _ in range(size)]
    try:
        return [(await c.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one() for c in conns]
    finally:
        for c in conns:
            await c.close()


async def run_relay(engine: AsyncEngine, batch: int, workers: int) -> Rate:
    (spec,) = AUDIT.relays
    relay = OutboxRelay(engine, spec, RelayTuning(batch_size=batch, lease=timedelta(seconds=300)))
    pids = await pool_pids(engine, 2 * workers)

    async def loop() -> int:
        delivered = 0
        while True:  # what the drain actor runs, until nothing is due
            stats = await relay.drain(time_budget_seconds=600)
            delivered += stats.delivered
            if stats.failed or stats.dead:
                raise RuntimeError(f"relay failed rows during the benchmark: {stats}")
            if stats.claimed == 0:
                return delivered

    return await timed(pids, workers, loop)


async def run_baseline(dsn: str, batch: int, workers: int) -> Rate:
    sql = f"""DELETE FROM {BASELINE_TABLE} WHERE id IN (
                  SELECT id FROM {BASELINE_TABLE} ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
              RETURNING *"""
    conns = [await asyncpg.connect(dsn) for _ in range(workers)]
    idle = list(conns)

    async def loop() -> int:
        conn = idle.pop()
        deleted = 0
        while True:
            rows = await conn.fetch(sql, batch)
            if not rows:
                return deleted
            deleted += len(rows)

    try:
        return await timed([c.get_server_pid() for c in conns], workers, loop)
    finally:
        for conn in conns:
            await conn.close()


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


async def one_round(
    url: str, engine: AsyncEngine, events: int, batch: int, workers: int
) -> tuple[Rate, Rate, bool]:
    dsn = asyncpg_dsn(url)
    orgs: list[uuid.UUID | None] = [uuid.uuid4() for _ in range(ORGS)]
    orgs.append(None)
    records = make_records(events, orgs)
    await copy_rows(dsn, "audit.audit_outbox", records)
    relay = await run_relay(engine, batch, workers)
    print(f"  relay:    {relay.describe()}")
    ok, checked = await verify(engine, orgs)
    print(f"  chains verified: {ok} ({checked} records checked in {len(orgs)} chains)")

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {BASELINE_TABLE}")
        await conn.execute(f"CREATE TABLE {BASELINE_TABLE} (LIKE audit.audit_outbox INCLUDING ALL)")
        await copy_rows(dsn, BASELINE_TABLE, records)
        baseline = await run_baseline(dsn, batch, workers)
        await conn.execute(f"DROP TABLE IF EXISTS {BASELINE_TABLE}")
    finally:
        await conn.close()
    print(f"  baseline: {baseline.describe()}")
    print(f"  ratio {relay.per_second / baseline.per_second:.2f}; load {load_average()}")
    complete = relay.events == events and baseline.events == events
    return relay, baseline, ok and complete


async def main(events: int, batch: int, workers: int, rounds: int) -> int:
    url = await prepare_database(os.environ.get("DATABASE_URL"))
    engine = create_engine(url, pool_size=2 * workers)
    print(f"machine: {machine_summary()}")
    async with engine.connect() as conn:
        print(f"server: {(await conn.exec_driver_sql('SHOW server_version')).scalar_one()}")
    print(f"events={events} batch={batch} workers={workers} chains={ORGS + 1} rounds={rounds}")
    print(f"load before: {load_average()}")
    results = []
    try:
        for n in range(1, rounds + 1):
            print(f"round {n}:")
            results.append(await one_round(url, engine, events, batch, workers))
    finally:
        await engine.dispose()
    relay = statistics.median(r.per_second for r, _, _ in results)
    baseline = statistics.median(b.per_second for _, b, _ in results)
    print(f"median relay:    {relay:,.0f} events/s into audit_logs")
    print(f"median baseline: {baseline:,.0f} rows/s (raw DELETE ... FOR UPDATE SKIP LOCKED RETURNING *)")
    print(f"ratio of medians: {relay / baseline:.2f}")
    print(f"load after: {load_average()}")
    return 0 if all(ok for _, _, ok in results) else 1


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1, help="concurrent drain loops (one process)")
    parser.add_argument("--rounds", type=int, default=3, help="relay + baseline pairs; medians reported")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.events, args.batch, args.workers, args.rounds)))


if __name__ == "__main__":
    cli()
