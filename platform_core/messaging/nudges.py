"""After-commit drain nudges that never make a request wait.

`DrainNudger.request` only schedules a task and returns: the nudge goes out while the response
is being sent. Each nudge is bounded by `timeout` seconds and uses redis.asyncio directly (no
thread pool to exhaust when Redis hangs). Per relay and event loop at most one nudge is in
flight; requests that arrive meanwhile fold into one more nudge sent after it, so a drain
always starts after the newest commit. A failed nudge costs one throttled warning line: the
workers' periodic sweep (`broker.Ticker`) still delivers, only later.

The message is the one `RedisBroker.enqueue` would write: same `Message` fields and the same
`dispatch.lua` script with the same arguments (`tests/platform/test_nudges.py` compares them)."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
import weakref
from dataclasses import dataclass, field

from dramatiq.brokers.redis import (
    DEFAULT_LUA_MAX_STACK,
    MAINTENANCE_SCALE,
    RedisBroker,
    _scripts,
)
from dramatiq.common import current_millis
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from platform_core.core.log_throttle import ThrottledWarning
from platform_core.messaging.broker import drain_actor_name

log = logging.getLogger(__name__)

OUTAGES = (RedisError, OSError, TimeoutError)


class DramatiqEnqueuer:
    """Writes a Dramatiq message for `broker` through an asyncio Redis client, exactly as
    `RedisBroker.enqueue` (immediate, no delay) does through its blocking one."""

    def __init__(self, broker: RedisBroker, client: Redis) -> None:
        self._broker = broker
        self._client = client
        self._dispatch = client.register_script(_scripts["dispatch"])
        self._maxstack = client.register_script(_scripts["maxstack"])
        self._max_unpack_size: int | None = None

    async def send(self, actor_name: str) -> None:
        broker = self._broker
        message = broker.get_actor(actor_name).message()
        message = message.copy(options={"redis_message_id": str(uuid.uuid4())})
        broker.emit_before("enqueue", message, None)
        maintenance = random.randint(1, MAINTENANCE_SCALE) <= broker.maintenance_chance
        await self._dispatch(
            keys=[broker.namespace],
            args=[
                "enqueue",
                current_millis(),
                message.queue_name,
                broker.broker_id,
                broker.heartbeat_timeout,
                broker.dead_message_ttl,
                int(maintenance),
                await self._unpack_size() if maintenance else self._max_unpack_size or 0,
                message.options["redis_message_id"],
                message.encode(),
            ],
        )
        broker.emit_after("enqueue", message, None)

    async def _unpack_size(self) -> int:
        # RedisBroker uses half the Lua stack (dramatiq issue #433). Only maintenance reads it,
        # so Redis is asked once, the first time a nudge does maintenance (1 in 1000)
        if self._max_unpack_size is None:
            stack = DEFAULT_LUA_MAX_STACK or int(await self._maxstack())
            self._max_unpack_size = stack // 2
        return self._max_unpack_size


@dataclass
class _LoopNudges:
    """One event loop's client and in-flight nudges (asyncio clients belong to one loop)."""

    enqueuer: DramatiqEnqueuer
    client: Redis
    in_flight: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # strong refs
    again: set[str] = field(default_factory=set)


class DrainNudger:
    def __init__(self, broker: RedisBroker, redis_url: str, *, timeout: float) -> None:
        self._broker = broker
        self._redis_url = redis_url
        self._timeout = timeout
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopNudges] = (
            weakref.WeakKeyDictionary()
        )
        self._failures = ThrottledWarning(log)

    def request(self, relay_name: str) -> None:
        """Nudge the workers to drain `relay_name` soon; returns at once (call it after commit)."""
        loop = asyncio.get_running_loop()
        nudges = self._loops.get(loop)
        if nudges is None:
            nudges = self._loops[loop] = self._open()
        if relay_name in nudges.in_flight:
            nudges.again.add(relay_name)
            return
        nudges.in_flight[relay_name] = loop.create_task(self._nudge(nudges, relay_name))

    def _open(self) -> _LoopNudges:
        client = Redis.from_url(
            self._redis_url,
            socket_connect_timeout=self._timeout,
            retry=Retry(NoBackoff(), 0),  # one bounded attempt; the sweep is the retry
        )
        return _LoopNudges(DramatiqEnqueuer(self._broker, client), client)

    async def _nudge(self, nudges: _LoopNudges, relay_name: str) -> None:
        try:
            while True:
                nudges.again.discard(relay_name)
                try:
                    async with asyncio.timeout(self._timeout):
                        await nudges.enqueuer.send(drain_actor_name(relay_name))
                except OUTAGES as exc:
                    self._failures.warning(
                        "drain nudge for %s failed (%s); the periodic sweep will deliver",
                        relay_name,
                        type(exc).__name__,
                    )
                    return
                if relay_name not in nudges.again:
                    return
        except Exception:  # not an outage: a bug, worth its traceback
            log.exception("drain nudge for %s failed", relay_name)
        finally:
            nudges.in_flight.pop(relay_name, None)
            nudges.again.discard(relay_name)

    async def close_current_loop(self) -> None:
        """Wait for the running loop's in-flight nudges (each is bounded) and close its client."""
        nudges = self._loops.pop(asyncio.get_running_loop(), None)
        if nudges is None:
            return
        await asyncio.gather(*nudges.in_flight.values(), return_exceptions=True)
        await nudges.client.aclose()
