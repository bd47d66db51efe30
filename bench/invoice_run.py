"""Invoice run: the renewal and finalize jobs over N subscriptions whose period ended, next to a
raw asyncpg COPY of the same invoice and line rows, in the same run.

    uv run python -m bench.invoice_run [--subscriptions 10000] [--tenants 100]

With DATABASE_URL set it runs there (migrated to head); without it, it (re)creates the
database `keel_bench_invoices` on postgresql://postgres@127.0.0.1:5432. Redis: REDIS_URL or
redis://127.0.0.1:6379/7.

Setup (not timed), through the API as an operator: a catalog of a licensed per-unit price, a
graduated tiered price and a metered per-unit price (on a SUM key); a 19% exclusive VAT rate
for DE; a 10% forever coupon; T organizations, each with a pool and a DE billing account, the
coupon on every second account and a 50.00 credit grant on every third. Each organization
subscribes once through the API (one of three mixes: licensed; licensed + tiered; licensed +
metered), and those subscriptions are cloned in SQL to N in all (same account, pool and
items). Every pool gets usage events of the metered key in the period. Then every period is
moved back so that it ended a minute ago.

Timed: `renew_due` (the `billing.renew_subscriptions` job: next period, metered usage claimed
and priced in arrears, scheduled changes, the change trail, a draft invoice with discounts,
events) in batches until nothing is due, then, an hour later, `finalize_due` (the
`billing.finalize_invoices` job: tax per line, credit grants burned, gapless number, events)
until nothing is due. Baseline: the invoice and line rows the run wrote, COPYed (binary) into
scratch copies of both tables, 100 invoices and their lines per transaction (the jobs' batch).
Ratio = invoices/s ÷ COPY invoices/s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

from bench import databases, load_average, machine_summary
from modules.billing.services.invoice_finalize import finalize_due
from modules.billing.services.renewals import renew_due
from modules.composition import build_app, build_runtime
from modules.identity import api as identity_api
from platform_core.core import clock
from platform_core.core.config import Settings
from platform_core.core.principal import PLATFORM_ADMIN_SCOPE
from platform_core.persistence.db import asyncpg_dsn
from platform_core.runtime.runtime import Runtime

DEFAULT_DB = "keel_bench_invoices"
EVENTS_PER_POOL = 20


def database_url() -> str:
    return databases.database_url(DEFAULT_DB)


def settings() -> Settings:
    return Settings(
        database_url=database_url(),
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7"),
        token_pepper="bench-pepper",
        db_pool_size=4,
    )


async def prepare_database() -> None:
    await databases.prepare_database(DEFAULT_DB)


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(self, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
        r = await self.client.request(method, path, json=body)
        assert r.status_code in (200, 201), f"{method} {path}: {r.status_code} {r.text}"
        return r.json()


async def admin_client(runtime: Runtime) -> httpx.AsyncClient:
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="Bench")
        issued = await identity_api.issue_token(
            uow, person_id=person.id, name="bench", scopes=[PLATFORM_ADMIN_SCOPE, "*"]
        )
    transport = httpx.ASGITransport(app=build_app(runtime.settings))
    return httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {issued.token}"}
    )


async def catalog(api: Api, key: str) -> tuple[dict[str, str], str]:
    """Three prices (licensed, tiered, metered) and a coupon id."""
    await api(
        "/entitlements/resource-keys", {"key": key, "name": key, "kind": "numeric", "aggregation": "SUM"}
    )
    prices: dict[str, str] = {}
    for name, body in (
        ("licensed", {"unit_amount": 1200}),
        (
            "tiered",
            {
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers": [
                    {"up_to": 10, "unit_amount": 100},
                    {"up_to": None, "unit_amount": 50, "flat_amount": 200},
                ],
            },
        ),
        ("metered", {"unit_amount": 2, "usage_type": "metered", "metered_resource_key": key}),
    ):
        product = await api(
            "/billing/products", {"key": f"bench-{name}-{uuid.uuid4().hex[:6]}", "name": name}
        )
        price = await api(
            f"/billing/products/{product['id']}/prices",
            {"currency": "EUR", "interval": "month", **body},
        )
        prices[name] = price["id"]
    await api(
        "/billing/tax-rates", {"display_name": "VAT", "percentage": "19", "inclusive": False, "country": "DE"}
    )
    coupon = await api(
        "/billing/coupons",
        {"key": f"ten-{uuid.uuid4().hex[:6]}", "name": "Ten", "percent_off_bp": 1000, "duration": "forever"},
    )
    return prices, coupon["id"]


MIXES = (
    lambda p: [{"price_id": p["licensed"], "quantity": 3}],
    lambda p: [{"price_id": p["licensed"], "quantity": 2}, {"price_id": p["tiered"], "quantity": 40}],
    lambda p: [{"price_id": p["licensed"], "quantity": 1}, {"price_id": p["metered"], "quantity": 1}],
)


async def tenants(api: Api, n: int, prices: dict[str, str], coupon: str) -> list[str]:
    """`n` organizations with one subscription each; returns the subscription ids."""
    subs = []
    for i in range(n):
        org = await api("/organizations", {"slug": f"bench-{uuid.uuid4().hex[:10]}", "name": f"Bench {i}"})
        pool = await api(f"/entitlements/orgs/{org['id']}/pools", {"name": "main"})
        account = await api(
            f"/billing/orgs/{org['id']}/accounts",
            {
                "name": f"Bench {i}",
                "email": f"b{i}@example.com",
                "currency": "EUR",
                "address": {"country": "DE"},
            },
        )
        if i % 2 == 0:
            await api(f"/billing/orgs/{org['id']}/discounts", {"coupon_id": coupon})
        if i % 3 == 0:
            await api(
                f"/billing/orgs/{org['id']}/accounts/{account['id']}/credit-grants",
                {"amount": 5000, "currency": "EUR", "category": "promotional", "description": "welcome"},
            )
        sub = await api(
            f"/billing/orgs/{org['id']}/subscriptions",
            {"account_id": account["id"], "pool_id": pool["id"], "items": MIXES[i % len(MIXES)](prices)},
        )
        subs.append(sub["id"])
    return subs


CLONE = """
WITH src AS (SELECT * FROM billing.subscriptions WHERE id = ANY($1::uuid[])),
copies AS (
    INSERT INTO billing.subscriptions (id, org_id, account_id, pool_id, status, currency, interval,
           interval_count, billing_cycle_anchor, current_period_start, current_period_end, created_by)
    SELECT gen_random_uuid(), s.org_id, s.account_id, s.pool_id, 'active', s.currency, s.interval,
           s.interval_count, s.billing_cycle_anchor, s.current_period_start, s.current_period_end, 'bench'
      FROM src s CROSS JOIN generate_series(1, $2)
    RETURNING id, account_id, org_id
)
SELECT c.id AS copy, s.id AS source FROM copies c JOIN src s ON s.account_id = c.account_id
"""


async def clone(conn: asyncpg.Connection, sources: list[str], total: int) -> None:
    """Clone each source subscription (and its items) until there are `total` in all."""
    per_source = max(total // len(sources) - 1, 0)
    rows = await conn.fetch(CLONE, sources, per_source)
    await conn.executemany(
        """INSERT INTO billing.subscription_items (id, subscription_id, price_id, quantity)
           SELECT gen_random_uuid(), $1, price_id, quantity FROM billing.subscription_items
            WHERE subscription_id = $2""",
        [(r["copy"], r["source"]) for r in rows],
    )


async def age_periods(conn: asyncpg.Connection, ended: datetime, key: str) -> None:
    """Every period ends a minute before `ended`; usage events of `key` in every pool in it."""
    start = ended - timedelta(days=30)
    await conn.execute(
        """UPDATE billing.subscriptions SET billing_cycle_anchor = $1, current_period_start = $1,
               current_period_end = $2""",
        start,
        ended,
    )
    await conn.execute(
        """INSERT INTO entitlements.usage_events
               (id, org_id, event_id, resource_key, quantity, occurred_at, status, pool_id)
           SELECT gen_random_uuid(), p.org_id, 'bench-' || p.id || '-' || g, $1, 1 + g % 3,
                  $2::timestamptz + g * interval '1 minute', 'accepted', p.id
             FROM entitlements.resource_pools p CROSS JOIN generate_series(1, $3) g""",
        key,
        start,
        EVENTS_PER_POOL,
    )


async def drain(runtime: Runtime, job: Any) -> int:
    total = 0
    while True:
        async with runtime.uow() as uow:
            done = int(await job(uow))
        if not done:
            return total
        total += done


class QueryCounter:
    """Counts the statements the engine sends (one per round trip; executemany counts once)."""

    def __init__(self) -> None:
        self.renew = self.finalize = 0
        self.phase = "renew"
        self.statements: Counter[str] = Counter()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.phase == "renew":
            self.renew += 1
        else:
            self.finalize += 1
        self.statements[f"{self.phase}: {' '.join(statement.split())[:110]}"] += 1


async def run_jobs(
    runtime: Runtime, ended: datetime, profile: str | None = None
) -> tuple[float, float, QueryCounter]:
    """Renew, then finalize an hour later; wall and CPU seconds, and the statements sent."""
    queries = QueryCounter()
    event.listen(runtime.engine.sync_engine, "before_cursor_execute", queries)
    profiler = cProfile.Profile() if profile else None
    start, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    clock.set_source(lambda: ended + timedelta(minutes=1))
    renewed = await drain(runtime, renew_due)
    renew_wall = time.perf_counter() - start
    queries.phase = "finalize"
    delay = runtime.settings.invoice_finalize_delay_seconds
    clock.set_source(lambda: ended + timedelta(minutes=2, seconds=delay))
    finalized = await drain(runtime, finalize_due)
    clock.set_source(None)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
        for statement, count in queries.statements.most_common(40):
            print(f"  {count:7d}  {statement}")
    wall = time.perf_counter() - start
    event.remove(runtime.engine.sync_engine, "before_cursor_execute", queries)
    print(
        f"  renewed {renewed} subscription(s) in {renew_wall:.1f} s ({queries.renew} statements), "
        f"finalized {finalized} invoice(s) in {wall - renew_wall:.1f} s ({queries.finalize} statements)"
    )
    return wall, time.process_time() - cpu, queries


async def copy_baseline(conn: asyncpg.Connection, since: datetime) -> tuple[int, int, float]:
    """COPY the run's invoices and lines into scratch tables, 100 invoices per transaction."""
    invoices = await conn.fetch("SELECT * FROM billing.invoices WHERE finalized_at >= $1 ORDER BY id", since)
    lines = await conn.fetch(
        """SELECT l.* FROM billing.invoice_line_items l JOIN billing.invoices i ON i.id = l.invoice_id
            WHERE i.finalized_at >= $1 ORDER BY l.invoice_id""",
        since,
    )
    by_invoice: dict[uuid.UUID, list[Any]] = {}
    for line in lines:
        by_invoice.setdefault(line["invoice_id"], []).append(tuple(line.values()))
    await conn.execute(
        """DROP TABLE IF EXISTS bench_invoices, bench_lines;
           CREATE UNLOGGED TABLE bench_invoices (LIKE billing.invoices INCLUDING DEFAULTS);
           CREATE UNLOGGED TABLE bench_lines (LIKE billing.invoice_line_items INCLUDING DEFAULTS)"""
    )
    await conn.execute("ALTER TABLE bench_invoices SET LOGGED; ALTER TABLE bench_lines SET LOGGED")
    await conn.execute(
        "ALTER TABLE bench_invoices ADD PRIMARY KEY (id); ALTER TABLE bench_lines ADD PRIMARY KEY (id)"
    )
    columns = list(invoices[0].keys()) if invoices else []
    line_columns = list(lines[0].keys()) if lines else []
    start = time.perf_counter()
    for i in range(0, len(invoices), 100):
        chunk = invoices[i : i + 100]
        async with conn.transaction():
            await conn.copy_records_to_table(
                "bench_invoices", records=[tuple(r.values()) for r in chunk], columns=columns
            )
            await conn.copy_records_to_table(
                "bench_lines",
                records=[row for r in chunk for row in by_invoice.get(r["id"], [])],
                columns=line_columns,
            )
    elapsed = time.perf_counter() - start
    await conn.execute("DROP TABLE bench_invoices, bench_lines")
    return len(invoices), len(lines), elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the jobs to FILE")
    args = parser.parse_args()
    print(machine_summary())
    await prepare_database()
    runtime = build_runtime(settings())
    key = f"bench.calls.{uuid.uuid4().hex[:8]}"
    try:
        async with await admin_client(runtime) as client:
            api = Api(client)
            prices, coupon = await catalog(api, key)
            sources = await tenants(api, args.tenants, prices, coupon)
        conn = await asyncpg.connect(asyncpg_dsn(database_url()))
        try:
            await clone(conn, sources, args.subscriptions)
            ended = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)
            await age_periods(conn, ended, key)
            subs = await conn.fetchval("SELECT count(*) FROM billing.subscriptions WHERE status = 'active'")
            print(f"setup: {subs} subscriptions in {args.tenants} organizations; load {load_average()}")
            since = ended
            wall, cpu, queries = await run_jobs(runtime, ended, args.profile)
            invoices, lines, copy_s = await copy_baseline(conn, since)
        finally:
            await conn.close()
    finally:
        await runtime.dispose()
    rate, copy_rate = invoices / wall, invoices / copy_s
    print(
        f"jobs: {invoices} invoices ({lines} lines) in {wall:.1f} s = {rate:,.0f} invoices/s;"
        f" CPU {cpu / invoices * 1e3:.2f} ms/invoice"
    )
    print(
        f"statements per invoice: {(queries.renew + queries.finalize) / invoices:.1f} "
        f"(renew {queries.renew / invoices:.1f}, finalize {queries.finalize / invoices:.1f})"
    )
    print(f"copy: the same rows in {copy_s:.2f} s = {copy_rate:,.0f} invoices/s")
    print(f"ratio jobs/copy: {rate / copy_rate:.3f}; load {load_average()}")


if __name__ == "__main__":
    asyncio.run(main())
