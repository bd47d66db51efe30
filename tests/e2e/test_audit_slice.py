"""The audit slice end to end over HTTP: a request's event is captured in its transaction and a
real Dramatiq worker (Redis broker) relays it into the hash-chained log; a request that fails
after its insert leaves nothing behind."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from dramatiq import Worker
from sqlalchemy import text

from modules.composition import MODULES
from platform_core.http.app import create_app
from platform_core.messaging.events import Event
from platform_core.messaging.uow import Subscription, UnitOfWork
from platform_core.runtime.module import ModuleSpec
from platform_core.runtime.runtime import Runtime
from platform_core.runtime.worker import start_worker

POLL_SECONDS = 15


@pytest.fixture
def worker(runtime: Runtime) -> Iterator[Worker]:
    running = start_worker(runtime, threads=2)
    try:
        yield running
    finally:
        running.stop()


async def admin_person_id(runtime: Runtime) -> str:
    async with runtime.engine.connect() as conn:
        person_id = (
            await conn.execute(
                text("SELECT person_id FROM identity.personal_access_tokens WHERE name = 'test-admin'")
            )
        ).scalar_one()
    return str(person_id)


async def test_created_person_reaches_the_audit_log_through_the_worker(
    worker: Worker, client: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    r = await client.post(
        "/identity/persons",
        json={"kind": "business", "display_name": "Relay Works"},
        headers={**admin_headers, "User-Agent": "relay-e2e/1.0"},
    )
    assert r.status_code == 201, r.text
    person_id = r.json()["id"]

    deadline = time.monotonic() + POLL_SECONDS
    while True:  # no drain call here: only the worker moves the event
        r = await client.get("/audit/logs", params={"target_id": person_id}, headers=admin_headers)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        if items or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert items, f"the worker did not relay the event within {POLL_SECONDS} s"
    (item,) = items
    assert item["action"] == "identity.person.created"
    assert item["crud"] == "c"
    assert item["outcome"] == "success"
    assert item["actor"] == {"type": "person", "id": await admin_person_id(runtime), "name": "Test Operator"}
    assert item["target"] == {"type": "person", "id": person_id, "name": "Relay Works"}
    assert item["source_ip"] == "127.0.0.1"
    assert item["user_agent"] == "relay-e2e/1.0"
    assert item["org_id"] is None
    assert item["metadata"]["display_name"] == "Relay Works"
    assert item["seq"] >= 1
    assert len(bytes.fromhex(item["hash"])) == 32

    r = await client.get("/audit/verify", headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True


class SubscriberFailed(Exception):
    pass


async def fail_after_capture(uow: UnitOfWork, event: Event) -> None:
    """Runs after audit's capture (declared later): the person and the outbox row are written."""
    if event.subject.name == "Doomed Ltd":
        raise SubscriberFailed("a later subscriber failed")


@pytest.fixture
async def failing_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The same application plus one module whose subscriber raises inside the transaction."""
    saboteur = ModuleSpec(
        name="saboteur",
        schema="saboteur",
        subscriptions=[Subscription("identity.person.*", fail_after_capture)],
    )
    failing = Runtime(runtime.settings, [*MODULES, saboteur])
    transport = httpx.ASGITransport(
        app=create_app(failing), raise_app_exceptions=False, client=("127.0.0.1", 40001)
    )
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as c:
            yield c
    finally:
        await failing.dispose()


async def test_failed_request_leaves_neither_person_nor_outbox_row(
    failing_client: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    marker = f"doomed-{uuid.uuid4()}@example.org"
    r = await failing_client.post(
        "/identity/persons",
        json={"kind": "business", "display_name": "Doomed Ltd", "email": marker},
        headers=admin_headers,
    )
    assert r.status_code == 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "a later subscriber failed" not in r.text  # no internals leak

    r = await failing_client.post(  # the same application without a doomed name works
        "/identity/persons", json={"kind": "business", "display_name": "Fine Ltd"}, headers=admin_headers
    )
    assert r.status_code == 201, r.text

    async with runtime.engine.connect() as conn:
        persons = await conn.execute(
            text("SELECT count(*) FROM identity.persons WHERE email = :email"), {"email": marker}
        )
        assert persons.scalar_one() == 0
        outbox = await conn.execute(
            text("SELECT count(*) FROM audit.audit_outbox WHERE target_name = 'Doomed Ltd'")
        )
        assert outbox.scalar_one() == 0
        logged = await conn.execute(
            text("SELECT count(*) FROM audit.audit_logs WHERE target_name = 'Doomed Ltd'")
        )
        assert logged.scalar_one() == 0
