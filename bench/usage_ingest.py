"""Usage ingestion throughput: the batch endpoint (served by uvicorn) and the service function,
next to a raw asyncpg binary COPY of the same rows into the same table, in the same run.

    uv run python -m bench.usage_ingest [--events N] [--batch B] [--concurrency C]

With DATABASE_URL set it runs there (migrated to head); without it, it (re)creates the
database `keel_bench_ingest` on postgresql://postgres@127.0.0.1:5432. Redis: REDIS_URL or
redis://127.0.0.1:6379/6.

Setup: C organizations, each with one workspace whose pool holds a hard SUM limit far above
N (every event is metered and accepted; nothing is rejected). Each of the C concurrent loops
ingests into its own organization, as independent tenants do.

1. service: `entitlements.api.ingest_usage` in one unit of work per batch of B prebuilt
   `UsageEventIn` (validation, resolution, running-total lock, duplicate check, insert, total
   update, commit).
2. http: `POST /entitlements/usage-events?org_id=…` with pre-encoded JSON bodies of B events
   against `uvicorn` (1 process, 127.0.0.1) over C keep-alive connections, admin PAT.
3. copy: `copy_records_to_table` (binary COPY) of the same number of rows, B rows per COPY
   and transaction, C concurrent connections, into entitlements.usage_events.

Ratio = service events/s ÷ COPY rows/s. Prints /proc/loadavg: the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec

from bench import databases, load_average, machine_summary
from modules.composition import build_app, build_runtime
from modules.entitlements import api as ent_api
from modules.entitlements.contracts import UsageEventIn
from modules.identity import api as identity_api
from platform_core.core.config import Settings
from platform_core.core.ids import uuid7
from platform_core.core.principal import PLATFORM_ADMIN_SCOPE
from platform_core.persistence.db import asyncpg_dsn
from platform_core.runtime.runtime import Runtime

DEFAULT_DB = "keel_bench_ingest"
PORT = 8731


def database_url() -> str:
    return databases.database_url(DEFAULT_DB)


def settings() -> Settings:
    return Settings(
        database_url=database_url(),
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"),
        token_pepper="bench-pepper",
        db_pool_size=10,
    )


def app_factory() -> Any:
    """uvicorn --factory entry point for the served app."""
    return build_app(settings())


async def prepare_database() -> None:
    await databases.prepare_database(DEFAULT_DB)


class Tenant(msgspec.Struct):
    org_id: str
    workspace: str


async def setup(runtime: Runtime, tenants: int) -> tuple[str, list[Tenant], str]:
    """An admin token, a metered key, and `tenants` organizations with a provisioned pool."""
    async with runtime.uow() as uow:
        person = await identity_api.create_person(uow, kind="individual", display_name="Bench")
        token = (
            await identity_api.issue_token(
                uow, person_id=person.id, name="bench", scopes=[PLATFORM_ADMIN_SCOPE, "*"]
            )
        ).token
    headers = {"Authorization": f"Bearer {token}"}
    key = f"bench.calls.{uuid.uuid4().hex[:8]}"
    transport = httpx.ASGITransport(app=build_app(runtime.settings))
    out: list[Tenant] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:

        async def post(path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
            r = await client.request(method, path, json=body)
            assert r.status_code in (200, 201), r.text
            result: dict[str, Any] = r.json()
            return result

        await post(
            "/entitlements/resource-keys", {"key": key, "name": key, "kind": "numeric", "aggregation": "SUM"}
        )
        es = await post(
            "/entitlements/sets",
            {
                "key": f"set.{key}",
                "name": key,
                "rules": [{"resource_key": key, "rule_type": "limit", "amount": "1000000000000"}],
            },
        )
        for i in range(tenants):
            org = await post(
                "/organizations", {"slug": f"bench-{uuid.uuid4().hex[:10]}", "name": f"Bench {i}"}
            )
            ws = await post(f"/orgs/{org['id']}/workspaces", {"slug": f"ws-{i}", "name": "ws"})
            pool = await post(f"/entitlements/orgs/{org['id']}/pools", {"name": "main"})
            await post(f"/entitlements/orgs/{org['id']}/pools/{pool['id']}/workspaces/{ws['id']}", {}, "PUT")
            await post(
                f"/entitlements/orgs/{org['id']}/grants",
                {
                    "pool_id": pool["id"],
                    "entitlement_set_id": es["id"],
                    "reason": "benchmark capacity",
                    "ends_at": "2999-01-01T00:00:00Z",
                },
            )
            out.append(Tenant(org["id"], ws["id"]))
    return token, out, key


def make_events(tenant: Tenant, key: str, n: int, tag: str) -> list[UsageEventIn]:
    ws = uuid.UUID(tenant.workspace)
    now = datetime.now(UTC)
    return [
        UsageEventIn(
            event_id=f"{tag}-{i}",
            workspace=ws,
            resource_key=key,
            quantity=Decimal(1 + i % 5),
            occurred_at=now,
            properties={"endpoint": "/v1/items", "status": 200},
        )
        for i in range(n)
    ]


def batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def run_service(
    runtime: Runtime, tenants: list[Tenant], key: str, per_tenant: int, batch: int
) -> float:
    work = [
        (t, batches(make_events(t, key, per_tenant, f"svc-{uuid.uuid4().hex[:6]}"), batch)) for t in tenants
    ]

    async def loop(tenant: Tenant, chunks: list[list[UsageEventIn]]) -> None:
        org = uuid.UUID(tenant.org_id)
        for chunk in chunks:
            async with runtime.uow() as uow:
                result = await ent_api.ingest_usage(uow, org, chunk)
            assert result.accepted == len(chunk), result.results[:3]

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(loop(t, c) for t, c in work))
    elapsed = time.perf_counter() - start
    SERVICE_CPU.append((time.process_time() - cpu) / (per_tenant * len(tenants)) * 1e6)
    return elapsed


SERVICE_CPU: list[float] = []  # this process's CPU µs per event, per service run


def uvicorn_process(factory: str, port: int) -> subprocess.Popen[bytes]:
    """`factory` served by one uvicorn process on 127.0.0.1 (uvloop + httptools, no access log)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is taken (a server left over from an earlier run?)")
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings().redis_url or ""}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    command += ["--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
    return subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parents[1])


async def wait_until_up(
    client: httpx.AsyncClient, server: subprocess.Popen[bytes], path: str = "/health"
) -> None:
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            if (await client.get(path)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not come up")


async def run_http(token: str, tenants: list[Tenant], key: str, per_tenant: int, batch: int) -> float:
    encoder = msgspec.json.Encoder()
    work = []
    for t in tenants:
        chunks = batches(make_events(t, key, per_tenant, f"http-{uuid.uuid4().hex[:6]}"), batch)
        work.append((t, [encoder.encode({"events": c}) for c in chunks]))
    server = uvicorn_process("bench.usage_ingest:app_factory", PORT)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=len(tenants), max_keepalive_connections=len(tenants))
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{PORT}", headers=headers, limits=limits, timeout=60
        ) as c:
            await wait_until_up(c, server)

            async def loop(tenant: Tenant, bodies: list[bytes]) -> None:
                for body in bodies:
                    r = await c.post(
                        "/entitlements/usage-events", params={"org_id": tenant.org_id}, content=body
                    )
                    assert r.status_code == 200, r.text
                    assert r.json()["accepted"] == batch or len(body) < batch

            start = time.perf_counter()
            await asyncio.gather(*(loop(t, b) for t, b in work))
            return time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=10)


COPY_COLUMNS = (
    "id", "org_id", "event_id", "workspace_id", "resource_key", "quantity", "occurred_at", "status", "reason",
    "overage", "properties",
)  # fmt: skip


async def run_copy(tenants: list[Tenant], key: str, per_tenant: int, batch: int) -> float:
    props = msgspec.json.encode({"endpoint": "/v1/items", "status": 200}).decode()
    work = []
    for t in tenants:
        org, ws = uuid.UUID(t.org_id), uuid.UUID(t.workspace)
        now = datetime.now(UTC)
        tag = f"copy-{uuid.uuid4().hex[:6]}"
        rows = [
            (uuid7(), org, f"{tag}-{i}", ws, key, Decimal(1 + i % 5), now, "accepted", None, None, props)
            for i in range(per_tenant)
        ]
        work.append(batches(rows, batch))

    async def loop(chunks: list[list[tuple[Any, ...]]]) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(database_url()))
        await conn.set_type_codec(  # jsonb's binary wire format: a version byte, then the text
            "jsonb",
            encoder=lambda v: b"\x01" + v.encode(),
            decoder=lambda v: v[1:].decode(),
            schema="pg_catalog",
            format="binary",
        )
        try:
            for chunk in chunks:
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        "usage_events", schema_name="entitlements", records=chunk, columns=COPY_COLUMNS
                    )
        finally:
            await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in work))
    return time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    per_tenant = args.events // args.concurrency
    total = per_tenant * args.concurrency

    await prepare_database()
    runtime = build_runtime(settings())
    try:
        token, tenants, key = await setup(runtime, args.concurrency)
        # warm-up: connections, prepared statements, code paths
        await run_service(runtime, tenants, key, args.batch, args.batch)
        service = await run_service(runtime, tenants, key, per_tenant, args.batch)
    finally:
        await runtime.dispose()
    http = await run_http(token, tenants, key, per_tenant, args.batch)
    copy = await run_copy(tenants, key, per_tenant, args.batch)

    print(f"machine: {machine_summary()}")
    print(f"events: {total} in batches of {args.batch}, {args.concurrency} concurrent tenants")
    rates = {"service": total / service, "http": total / http, "copy": total / copy}
    for name, rate in rates.items():
        print(f"{name:8s} {rate:10,.0f} events/s")
    print(f"service CPU in this process: {SERVICE_CPU[-1]:.1f} µs/event (PostgreSQL's not included)")
    print(f"ratio service/copy: {rates['service'] / rates['copy']:.2f}")
    print(f"ratio http/copy:    {rates['http'] / rates['copy']:.2f}")
    print(f"loadavg: {load_average()}")


if __name__ == "__main__":
    asyncio.run(main())
