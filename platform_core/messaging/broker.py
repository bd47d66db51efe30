"""The Dramatiq broker (Redis) and the actors that drain every module's outbox.

Messages carry only the relay's name — the *id* of work, never the object. An after-commit
nudge (`platform_core.messaging.nudges`) makes delivery prompt; the worker's `Ticker` middleware
re-sends every relay's drain message periodically, so a lost nudge only delays delivery. The
same ticker sends the scheduled-jobs tick (`platform_core.messaging.scheduler`)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, Middleware
from redis.exceptions import RedisError

from platform_core.core.log_throttle import ThrottledWarning
from platform_core.messaging.outbox import OutboxRelay, OutboxRelaySpec, RelayTuning
from platform_core.messaging.scheduler import Scheduler

log = logging.getLogger(__name__)

DRAIN_ACTOR_PREFIX = "outbox.drain."


def drain_actor_name(relay_name: str) -> str:
    return DRAIN_ACTOR_PREFIX + relay_name


@dataclass(frozen=True)
class TickSchedule:
    """Send one message to each of `actor_names` every `interval` seconds."""

    name: str
    actor_names: Sequence[str]
    interval: float


class Ticker(Middleware):
    """While a worker runs, one thread sends the messages of every schedule when due (the outbox
    sweep re-sends every relay's drain; the job tick lets due jobs be claimed). One middleware
    for all schedules: Dramatiq warns when a middleware type is added twice."""

    def __init__(self, schedules: Sequence[TickSchedule]) -> None:
        self.schedules = list(schedules)
        self._outages = ThrottledWarning(log)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if not self.schedules:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(broker,), name="keel-ticker", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self, broker: dramatiq.Broker) -> None:
        due = [time.monotonic() + schedule.interval for schedule in self.schedules]
        while not self._stop.wait(max(0.0, min(due) - time.monotonic())):
            for i, schedule in enumerate(self.schedules):
                if due[i] <= time.monotonic():
                    self._send(broker, schedule)
                    due[i] = time.monotonic() + schedule.interval

    def _send(self, broker: dramatiq.Broker, schedule: TickSchedule) -> None:
        for actor_name in schedule.actor_names:
            try:
                broker.get_actor(actor_name).send()
            except RedisError as exc:
                self._outages.warning(
                    "%s could not enqueue %s (%s)", schedule.name, actor_name, type(exc).__name__
                )
            except Exception:
                log.exception("%s could not enqueue %s", schedule.name, actor_name)


def create_broker(redis_url: str, *, namespace: str = "keel") -> RedisBroker:
    broker = RedisBroker(url=redis_url, namespace=namespace)  # type: ignore[no-untyped-call]
    broker.add_middleware(AsyncIO())
    return broker


class EngineProvider:
    """Workers run async actors on Dramatiq's event-loop thread; asyncpg connections belong to
    one loop, so the engine is created lazily inside that loop."""

    def __init__(self, database_url: str, pool_size: int) -> None:
        self.database_url = database_url
        self.pool_size = pool_size
        self._engines: dict[int, Any] = {}

    def get(self) -> Any:
        from platform_core.persistence.db import create_engine

        loop_id = id(asyncio.get_running_loop())
        engine = self._engines.get(loop_id)
        if engine is None:
            engine = create_engine(self.database_url, pool_size=self.pool_size)
            self._engines[loop_id] = engine
        return engine

    async def dispose_current(self) -> None:
        """Close the running loop's engine (its connections would outlive a stopped loop)."""
        engine = self._engines.pop(id(asyncio.get_running_loop()), None)
        if engine is not None:
            await engine.dispose()


class WorkerLoopCloser(Middleware):
    """Closes what belongs to the worker's event loop (database engine, Redis clients) when a
    worker stops. Added after AsyncIO, so its `after_worker_shutdown` runs first, while that
    loop still runs."""

    def __init__(self, closers: Sequence[Callable[[], Awaitable[None]]]) -> None:
        self.closers = list(closers)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            for close in self.closers:
                loop_thread.run_coroutine(close())


class OneDrainPerRelay:
    """At most one drain of a relay at a time on a worker's event loop. A drain goes on until
    nothing is due (or its time budget ends, and the sweep sends another), so a second message
    for the same relay would only hold a worker thread: with slow webhook receivers, two
    integration drains held both threads of a worker and the audit log waited behind them."""

    def __init__(self) -> None:
        self._running: set[str] = set()

    async def run(self, relay: str, drain: Callable[[], Awaitable[None]]) -> bool:
        """Run `drain` unless one for `relay` is running; whether it ran."""
        if relay in self._running:
            return False
        self._running.add(relay)
        try:
            await drain()
        finally:
            self._running.discard(relay)
        return True


def declare_drain_actors(
    broker: dramatiq.Broker,
    relays: Sequence[OutboxRelaySpec],
    engines: EngineProvider,
    tuning: RelayTuning,
    *,
    time_budget_seconds: float = 10.0,
) -> None:
    in_flight = OneDrainPerRelay()
    for spec in relays:

        async def drain_once(spec: OutboxRelaySpec) -> None:
            relay = OutboxRelay(engines.get(), spec, tuning)
            stats = await relay.drain(time_budget_seconds=time_budget_seconds)
            if stats.claimed:
                log.info("outbox %s drained: %s", spec.name, stats)

        async def drain(spec: OutboxRelaySpec = spec) -> None:
            await in_flight.run(spec.name, lambda: drain_once(spec))

        name = drain_actor_name(spec.name)
        if name not in broker.actors:
            declare = dramatiq.actor(
                broker=broker, actor_name=name, queue_name=spec.queue_name, max_retries=0
            )
            declare(drain)


JOB_TICK_ACTOR = "scheduler.tick"


def declare_job_tick_actor(
    broker: dramatiq.Broker, scheduler_of: Callable[[], Scheduler], *, time_limit: timedelta
) -> None:
    """The actor the `Ticker`'s job schedule sends to: claims and runs the due jobs on this worker's loop."""

    async def tick() -> None:
        await scheduler_of().run_due()

    if JOB_TICK_ACTOR not in broker.actors:
        declare = dramatiq.actor(
            broker=broker,
            actor_name=JOB_TICK_ACTOR,
            queue_name="scheduler",
            max_retries=0,
            time_limit=int(time_limit.total_seconds() * 1000),
        )
        declare(tick)
