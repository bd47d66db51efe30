"""Drain nudges through redis.asyncio: the message is the one Dramatiq's RedisBroker would
write, nudges for one relay are coalesced, and a worker drains on a nudge alone (its sweep set
to an hour)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import msgspec
import pytest
import redis
from redis.asyncio import Redis

from platform_core.core.config import Settings
from platform_core.messaging.broker import create_broker, drain_actor_name
from platform_core.messaging.nudges import DrainNudger, DramatiqEnqueuer
from platform_core.runtime.worker import start_worker
from tests.support.redis_server import RedisServer, available, redis_server
from tests.support.serving import serving

pytestmark = pytest.mark.skipif(not available(), reason="needs the redis-server binary")

RELAY = "nudged"
QUEUE = "nudges"
POLL_SECONDS = 15


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def broker_with_drain_actor(url: str) -> dramatiq.Broker:
    broker = create_broker(url)

    def drain() -> None:
        pass

    dramatiq.actor(broker=broker, actor_name=drain_actor_name(RELAY), queue_name=QUEUE)(drain)
    return broker


def queued(client: redis.Redis) -> list[dict[str, Any]]:
    """Every message on the queue, in order, checked to be stored under its Redis message id."""
    ids = [i.decode() for i in client.lrange(f"keel:{QUEUE}", 0, -1)]
    stored = {k.decode(): v for k, v in client.hgetall(f"keel:{QUEUE}.msgs").items()}
    assert set(ids) == set(stored)
    messages = [msgspec.json.decode(stored[i]) for i in ids]
    assert [m["options"]["redis_message_id"] for m in messages] == ids
    return messages


async def test_a_nudge_writes_the_message_redis_broker_would(private_redis: RedisServer) -> None:
    broker = broker_with_drain_actor(private_redis.url)
    sync_client = redis.Redis.from_url(private_redis.url)
    async_client = Redis.from_url(private_redis.url)
    try:
        broker.get_actor(drain_actor_name(RELAY)).send()
        await DramatiqEnqueuer(broker, async_client).send(drain_actor_name(RELAY))
        by_dramatiq, by_nudge = queued(sync_client)
        heartbeats = {m.decode() for m in sync_client.zrange("keel:__heartbeats__", 0, -1)}
    finally:
        sync_client.close()
        await async_client.aclose()

    # only what is new per message differs: its ids and its timestamp
    for message in (by_dramatiq, by_nudge):
        assert message["options"].pop("redis_message_id")
        assert message.pop("message_id")
        assert message.pop("message_timestamp")
    assert by_nudge == by_dramatiq
    assert heartbeats == {broker.broker_id}  # both enqueues announced the same broker id


async def test_nudges_for_one_relay_are_coalesced(private_redis: RedisServer) -> None:
    broker = broker_with_drain_actor(private_redis.url)
    nudger = DrainNudger(broker, private_redis.url, timeout=5)
    sync_client = redis.Redis.from_url(private_redis.url)
    try:
        for _ in range(50):  # fifty commits before the nudge goes out: it covers them all
            nudger.request(RELAY)
        await nudger.close_current_loop()
        assert len(queued(sync_client)) == 1

        nudger.request(RELAY)
        await asyncio.sleep(0)  # now that nudge is on its way to Redis
        for _ in range(50):  # commits meanwhile: one more nudge, once the first is done
            nudger.request(RELAY)
        await nudger.close_current_loop()
        assert len(queued(sync_client)) == 1 + 2
    finally:
        sync_client.close()


async def test_a_worker_drains_on_the_nudge_alone(
    settings: Settings, private_redis: RedisServer, admin_headers: dict[str, str]
) -> None:
    no_sweep = msgspec.structs.replace(settings, redis_url=private_redis.url, outbox_sweep_seconds=3600.0)
    async with serving(no_sweep) as app:
        worker = start_worker(app.runtime, threads=1)
        try:
            r = await app.client.post(
                "/identity/persons",
                json={"kind": "individual", "display_name": f"Nudged {uuid.uuid4().hex[:6]}"},
                headers=admin_headers,
            )
            assert r.status_code == 201, r.text
            person_id = r.json()["id"]
            deadline = time.monotonic() + POLL_SECONDS
            while True:
                r = await app.client.get(
                    "/audit/logs", params={"target_id": person_id}, headers=admin_headers
                )
                if r.json()["items"]:
                    break
                assert time.monotonic() < deadline, "the nudge did not reach the worker"
                await asyncio.sleep(0.1)
        finally:
            worker.stop()
