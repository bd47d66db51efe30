"""Keel as it is deployed: two `keel serve` and two `keel worker` processes, all real, on one
fresh database and one Redis, configured only through environment variables.

Under concurrent writes spread over both API processes, one worker is SIGKILLed while it
appends to the audit chain (and replaced, as a supervisor would), and another while it sends
webhooks, each caught in the act. Every outbox row still takes effect exactly once: each event
has one audit record, the chains verify, each webhook delivery arrives (again, with the same
`webhook-id`, only where its row was claimed again after its worker died), and both outboxes
end drained. A token revoked through one API process is refused by the other within a second."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from migrations import KEEL_MIGRATIONS
from modules.audit.services.chain import PLATFORM_CHAIN
from modules.composition import build_runtime
from modules.identity import api as identity_api
from platform_core.core.config import Settings
from platform_core.core.principal import PLATFORM_ADMIN_SCOPE
from platform_core.persistence.db import asyncpg_dsn
from tests.support.keel_processes import (
    KeelServe,
    KeelWorker,
    ProcessGroup,
    keel_environment,
)
from tests.support.redis_server import redis_server
from tests.support.webhook_receiver import WebhookReceiver

SERVER_URL = os.environ.get("KEEL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PERSONS = 250  # platform events: audit only
WORKSPACES = 250  # events of one organization: audit and a webhook each
CONCURRENCY = 16
LEASE_SECONDS = 2  # how soon a killed worker's rows are claimed again
# Limits, not targets (idle, the whole test takes about 30 s); generous because four
# interpreters import Keel at once, on a machine the rest of the suite shares.
STARTUP_SECONDS = 120
LOAD_SECONDS = 120
DRAIN_SECONDS = 60
CATCH_SECONDS = 15  # to catch a worker in the middle of a delivery
REVOCATION_LIMIT_SECONDS = 1.0
CREATED = 201
# idle connections closed well before uvicorn's 5 s keep-alive would close them under a request
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=2)


@dataclass
class Cluster:
    apis: Sequence[KeelServe]
    workers: list[KeelWorker]  # every worker started, killed ones included
    database_url: str
    receiver: WebhookReceiver
    admin: dict[str, str]  # headers of a platform operator
    env: dict[str, str]
    log_dir: Path
    processes: ProcessGroup

    def start_worker(self) -> KeelWorker:
        name = f"worker-{len(self.workers) + 1}"
        worker = KeelWorker(name, self.env, self.log_dir / f"{name}.log", threads=2)
        self.workers.append(self.processes.add(worker))
        return worker

    def live_workers(self) -> list[KeelWorker]:
        return [w for w in self.workers if w.running()]


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    name = f"keel_test_procs_{secrets.token_hex(4)}"
    server = await asyncpg.connect(asyncpg_dsn(SERVER_URL))
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
        url = f"{SERVER_URL.rpartition('/')[0]}/{name}"
        await asyncio.to_thread(KEEL_MIGRATIONS.upgrade, url)
        yield url
    finally:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()


async def issue_admin_token(settings: Settings) -> str:
    runtime = build_runtime(settings)
    try:
        async with runtime.uow() as uow:
            person = await identity_api.create_person(uow, kind="individual", display_name="Operator")
            issued = await identity_api.issue_token(
                uow, person_id=person.id, name="operator", scopes=[PLATFORM_ADMIN_SCOPE, "*"]
            )
        return issued.token
    finally:
        await runtime.dispose()


@pytest.fixture
async def cluster(fresh_database: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    keel = ProcessGroup()
    receiver = WebhookReceiver()
    with redis_server() as redis:
        try:
            receiver.start()
            settings = Settings(
                database_url=fresh_database,
                redis_url=redis.url,
                token_pepper=secrets.token_urlsafe(16),
                data_dir=tmp_path / "data",
                outbox_lease_seconds=LEASE_SECONDS,
                outbox_sweep_seconds=0.5,
                log_level="WARNING",
            )
            env = keel_environment(
                {
                    "DATABASE_URL": fresh_database,
                    "REDIS_URL": redis.url,
                    "KEEL_TOKEN_PEPPER": settings.token_pepper,
                    "KEEL_DATA_DIR": str(settings.data_dir),
                    "KEEL_OUTBOX_LEASE_SECONDS": str(settings.outbox_lease_seconds),
                    "KEEL_OUTBOX_SWEEP_SECONDS": str(settings.outbox_sweep_seconds),
                    "KEEL_LOG_LEVEL": settings.log_level,
                }
            )
            deadline = time.monotonic() + STARTUP_SECONDS
            apis = [keel.add(KeelServe(f"api-{n}", env, tmp_path / f"api-{n}.log")) for n in (1, 2)]
            cluster = Cluster(apis, [], fresh_database, receiver, {}, env, tmp_path, keel)
            workers = [cluster.start_worker() for _ in range(2)]
            cluster.admin = {"Authorization": f"Bearer {await issue_admin_token(settings)}"}
            await asyncio.gather(*(p.wait_ready(deadline) for p in (*apis, *workers)))
            yield cluster
        finally:
            keel.stop_all()  # before their Redis goes
            receiver.stop()
            print(keel.logs())  # shown by pytest only when the test failed


@dataclass
class Load:
    """Creates persons and workspaces, `CONCURRENCY` at a time, half of them in flight on each
    API process."""

    http: httpx.AsyncClient
    apis: Sequence[KeelServe]
    admin: dict[str, str]
    org_id: str
    done: int = 0

    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        persons = [
            ("/identity/persons", {"kind": "individual", "display_name": f"Load person {n}"})
            for n in range(PERSONS)
        ]
        workspaces = [
            (f"/orgs/{self.org_id}/workspaces", {"slug": f"load-{n}", "name": f"Load workspace {n}"})
            for n in range(WORKSPACES)
        ]
        return [r for pair in zip(persons, workspaces, strict=True) for r in pair]

    async def run(self) -> list[str]:
        """Returns the failures, as `process: status path body`."""
        pending = self.requests()
        failures: list[str] = []

        async def send_some(api: KeelServe) -> None:
            while pending:
                path, body = pending.pop()
                r = await self.http.post(api.base_url + path, json=body, headers=self.admin)
                if r.status_code != CREATED:
                    failures.append(f"{api.name}: {r.status_code} {path} {r.text[:300]}")
                self.done += 1

        await asyncio.gather(*(send_some(self.apis[lane % len(self.apis)]) for lane in range(CONCURRENCY)))
        return failures

    @property
    def total(self) -> int:
        return PERSONS + WORKSPACES


_LOCK_PLATFORM_CHAIN = "SELECT 1 FROM audit.audit_chain_heads WHERE chain_key = $1 FOR UPDATE"
_WAITING_FOR_A_LOCK = """
    SELECT client_port FROM pg_stat_activity
     WHERE datname = current_database() AND wait_event_type = 'Lock'"""
_CLAIMED = "SELECT event_id::text FROM audit.audit_outbox WHERE claimed_by IS NOT NULL"


async def kill_a_worker_appending_audit(workers: Sequence[KeelWorker], conn: asyncpg.Connection) -> set[str]:
    """Locks the head of the platform's audit chain, which every batch with a platform event
    must lock to append, until a worker is caught waiting for it: inside its delivery
    transaction, with the rows it claimed locked. SIGKILLs that worker, and returns the events
    of the rows claimed at that moment."""
    database_port = make_url(SERVER_URL).port or 5432
    deadline = time.monotonic() + CATCH_SECONDS
    async with conn.transaction():
        while await conn.fetchval(_LOCK_PLATFORM_CHAIN, PLATFORM_CHAIN) is None:  # no record yet
            assert time.monotonic() < deadline, "the platform chain never got its first record"
            await asyncio.sleep(0.05)
        while True:
            waiting = {r["client_port"] for r in await conn.fetch(_WAITING_FOR_A_LOCK)}
            for worker in workers:
                if worker.ports_connected_to(database_port) & waiting:
                    claimed = {r["event_id"] for r in await conn.fetch(_CLAIMED)}
                    worker.kill()
                    return claimed
            assert time.monotonic() < deadline, "no worker was caught appending to the audit chain"
            await asyncio.sleep(0.02)


async def kill_a_worker_sending_webhooks(
    workers: Sequence[KeelWorker], receiver: WebhookReceiver
) -> set[str]:
    """Holds new webhook deliveries until a worker is caught sending some, SIGKILLs that
    worker, and returns the webhook-ids it was sending."""
    receiver.hold()
    try:
        deadline = time.monotonic() + CATCH_SECONDS
        while True:
            held = receiver.held_now()
            for worker in workers:
                ports = worker.ports_connected_to(receiver.port)
                sending = {r.webhook_id for r in held if r.sender_port in ports}
                if sending:
                    worker.kill()
                    return sending
            assert time.monotonic() < deadline, "no worker was caught sending a webhook"
            await asyncio.sleep(0.02)
    finally:
        receiver.release()


async def seconds_until_revoked_elsewhere(
    http: httpx.AsyncClient, admin: dict[str, str], revoking: KeelServe, other: KeelServe
) -> float:
    r = await http.post(
        revoking.base_url + "/identity/me/tokens",
        json={"name": "short-lived", "scopes": ["*"]},
        headers=admin,
    )
    assert r.status_code == CREATED, r.text
    token_id, bearer = r.json()["id"], {"Authorization": f"Bearer {r.json()['token']}"}
    for _ in range(2):  # the second answer comes from `other`'s credential cache
        r = await http.get(other.base_url + "/identity/me", headers=bearer)
        assert r.status_code == 200, r.text
    r = await http.delete(revoking.base_url + f"/identity/me/tokens/{token_id}", headers=admin)
    assert r.status_code == 204, r.text
    revoked_at = time.monotonic()
    while True:
        r = await http.get(other.base_url + "/identity/me", headers=bearer)
        elapsed = time.monotonic() - revoked_at
        if r.status_code == 401:
            return elapsed
        assert r.status_code == 200, r.text
        if elapsed > 10 * REVOCATION_LIMIT_SECONDS:
            return elapsed
        await asyncio.sleep(0.01)


async def wait_until_drained(conn: asyncpg.Connection) -> tuple[int, int]:
    """Polls until no audit outbox row is left and every webhook delivery is delivered;
    returns what is left (audit rows, undelivered webhook rows) when that did not happen."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        audit_left = await conn.fetchval("SELECT count(*) FROM audit.audit_outbox")
        hooks_left = await conn.fetchval(
            "SELECT count(*) FROM integration.integration_outbox WHERE status <> 'delivered'"
        )
        if (audit_left, hooks_left) == (0, 0) or time.monotonic() > deadline:
            return audit_left, hooks_left
        await asyncio.sleep(0.3)


@dataclass(frozen=True)
class Outcome:
    """What the database holds once the outboxes are drained."""

    persons: Counter[str]  # id of each person the load created -> its audit records
    workspaces: Counter[str]  # likewise for workspaces
    org_events: set[str]  # the organization's events since its endpoint exists
    deliveries: dict[str, int]  # webhook-id (event id) -> how often its row was claimed


_AUDITED = """
    SELECT d.id::text AS id, count(a.id) AS records
      FROM {table} AS d
      LEFT JOIN audit.audit_logs AS a ON a.action = $1 AND a.target_id = d.id::text
     WHERE {where}
     GROUP BY d.id"""
_ORG_EVENTS = """
    SELECT event_id::text FROM audit.audit_logs
     WHERE org_id = $1 AND action NOT LIKE 'integration.%'
       AND occurred_at > (SELECT occurred_at FROM audit.audit_logs WHERE target_id = $2::uuid::text)"""
_DELIVERIES = "SELECT event_id::text, attempts FROM integration.integration_outbox WHERE endpoint_id = $1"


async def outcome(conn: asyncpg.Connection, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> Outcome:
    persons = await conn.fetch(
        _AUDITED.format(table="identity.persons", where="d.display_name LIKE 'Load person %'"),
        "identity.person.created",
    )
    workspaces = await conn.fetch(
        _AUDITED.format(table="organization.workspaces", where="d.org_id = $2"),
        "organization.workspace.created",
        org_id,
    )
    return Outcome(
        persons=Counter({r["id"]: r["records"] for r in persons}),
        workspaces=Counter({r["id"]: r["records"] for r in workspaces}),
        org_events={r["event_id"] for r in await conn.fetch(_ORG_EVENTS, org_id, endpoint_id)},
        deliveries={r["event_id"]: r["attempts"] for r in await conn.fetch(_DELIVERIES, endpoint_id)},
    )


async def organization_with_endpoint(
    http: httpx.AsyncClient, cluster: Cluster
) -> tuple[uuid.UUID, uuid.UUID]:
    """Both through the first API process, before the second hears of the organization at
    all: no process can have cached "no endpoints" for it."""
    api = cluster.apis[0].base_url
    r = await http.post(
        api + "/organizations", json={"slug": "loaded", "name": "Loaded"}, headers=cluster.admin
    )
    assert r.status_code == CREATED, r.text
    org_id = r.json()["id"]
    r = await http.post(
        api + f"/integration/orgs/{org_id}/webhook-endpoints",
        json={"url": cluster.receiver.url, "event_types": ["*"]},
        headers=cluster.admin,
    )
    assert r.status_code == CREATED, r.text
    return uuid.UUID(org_id), uuid.UUID(r.json()["endpoint"]["id"])


@pytest.mark.timeout(420)
async def test_two_apis_and_two_workers_apply_every_outbox_row_once(cluster: Cluster) -> None:
    first, second = cluster.apis
    receiver = cluster.receiver
    conn = await asyncpg.connect(asyncpg_dsn(cluster.database_url))
    try:
        async with httpx.AsyncClient(timeout=30, limits=CLIENT_LIMITS) as http:
            org_id, endpoint_id = await organization_with_endpoint(http, cluster)
            load = Load(http, cluster.apis, cluster.admin, str(org_id))
            started = time.monotonic()
            writing = asyncio.create_task(load.run())
            while load.done < load.total // 3 and not writing.done():
                await asyncio.sleep(0.05)

            # a worker dies in an audit append and is replaced, as a supervisor would; then a
            # worker dies while sending webhooks. Their rows are claimed again once leases expire.
            claimed_at_kill = await kill_a_worker_appending_audit(cluster.live_workers(), conn)
            replacement = cluster.start_worker()
            sent_at_kill = await kill_a_worker_sending_webhooks(cluster.live_workers(), receiver)

            failures = await asyncio.wait_for(writing, LOAD_SECONDS)
            load_seconds = time.monotonic() - started
            assert failures == [], f"{len(failures)} writes failed, e.g. {failures[:5]}"
            if replacement.running():
                await replacement.wait_ready(time.monotonic() + STARTUP_SECONDS)

            # while the workers still drain
            revoked_after = await seconds_until_revoked_elsewhere(http, cluster.admin, first, second)
            assert revoked_after < REVOCATION_LIMIT_SECONDS, (
                f"{second.name} still accepted a token {revoked_after:.2f} s after {first.name} revoked it"
            )

            left = await wait_until_drained(conn)
            assert left == (0, 0), f"(audit rows, webhook rows) left in the outboxes after the load: {left}"
            found = await outcome(conn, org_id, endpoint_id)
            logged_at_kill = await conn.fetchval(
                "SELECT count(*) FROM audit.audit_logs WHERE event_id = ANY($1::uuid[])",
                list(claimed_at_kill),
            )

            r = await http.get(second.base_url + "/audit/verify", headers=cluster.admin)
            assert r.status_code == 200, r.text
            assert r.json()["ok"] is True, r.json()
    finally:
        await conn.close()

    # every event reached the audit log exactly once, those claimed when a worker died included
    assert (len(found.persons), len(found.workspaces)) == (PERSONS, WORKSPACES)
    for kind, records in (("persons", found.persons), ("workspaces", found.workspaces)):
        wrong = {target: n for target, n in records.items() if n != 1}
        assert wrong == {}, f"{len(wrong)} {kind} not audited exactly once, e.g. {list(wrong.items())[:5]}"
    assert claimed_at_kill, "the audit kill caught no claimed row"
    assert logged_at_kill == len(claimed_at_kill)

    # every event of the organization became one delivery, and arrived; more than once only
    # where its row was claimed again, after a worker died while sending it
    assert len(found.org_events) >= WORKSPACES
    assert set(found.deliveries) == found.org_events
    received = receiver.counts()
    assert set(received) == set(found.deliveries)
    repeated = {event: n for event, n in received.items() if n > found.deliveries[event]}
    assert repeated == {}, (
        f"{len(repeated)} webhooks received more often than their rows were claimed,"
        f" e.g. {list(repeated.items())[:5]}"
    )
    for event in sent_at_kill:
        assert received[event] >= 2, f"{event}: the killed worker's delivery was never sent again"

    alive = [p.name for p in (*cluster.apis, *cluster.workers) if p.running()]
    assert len(alive) == 3, f"only {alive} are still running: a process died unasked"
    reclaimed = sum(1 for attempts in found.deliveries.values() if attempts > 1)
    print(
        f"{load.total} writes in {load_seconds:.1f} s; token refused elsewhere after {revoked_after:.3f} s;"
        f" killed a worker holding {len(claimed_at_kill)} audit rows, another sending {len(sent_at_kill)}"
        f" webhooks; {reclaimed} deliveries claimed again"
    )
