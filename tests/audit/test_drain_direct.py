from __future__ import annotations

import httpx

from platform_core.messaging.outbox import OutboxRelay
from platform_core.runtime.runtime import Runtime


async def test_person_creation_reaches_the_chain(
    client: httpx.AsyncClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    r = await client.post(
        "/identity/persons",
        json={"kind": "business", "display_name": "Acme"},
        headers={**admin_headers, "User-Agent": "pytest"},
    )
    assert r.status_code == 201, r.text
    person_id = r.json()["id"]
    (spec,) = [s for s in runtime.registry.relays if s.name == "audit"]
    stats = await OutboxRelay(runtime.engine, spec, runtime.tuning).drain()
    assert stats.delivered >= 1
    r = await client.get("/audit/logs", params={"target_id": person_id}, headers=admin_headers)
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["action"] == "identity.person.created"
    assert item["source_ip"] == "127.0.0.1"
    assert item["user_agent"] == "pytest"
    r = await client.get("/audit/verify", headers=admin_headers)
    assert r.status_code == 200
    assert r.json()["ok"] is True
