"""The assembled application state: settings, engine, event bus, unit-of-work factory and
broker, built from the list of modules the composition root hands over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dramatiq.brokers.redis import RedisBroker
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from platform_core.auth.credentials import Authorizer, CredentialResolver
from platform_core.auth.rate_limit import RateLimiter
from platform_core.cache.hot_cache import SESSION_INFO_KEY, HotCaches
from platform_core.core.config import Settings
from platform_core.core.heap import settle_heap
from platform_core.messaging.broker import (
    EngineProvider,
    WorkerLoopCloser,
    create_broker,
    declare_drain_actors,
    declare_job_tick_actor,
)
from platform_core.messaging.idempotency_keys import PURGE_EXPIRED_KEYS
from platform_core.messaging.nudges import DrainNudger
from platform_core.messaging.outbox import OutboxRelaySpec, RelayTuning
from platform_core.messaging.scheduler import ScheduledJob, Scheduler
from platform_core.messaging.uow import EventBus, UnitOfWorkFactory
from platform_core.persistence.db import asyncpg_dsn, create_engine, create_sessionmaker
from platform_core.runtime.module import FastHandler, ModuleSpec


def relay_tuning(settings: Settings) -> RelayTuning:
    from datetime import timedelta

    return RelayTuning(
        batch_size=settings.outbox_batch_size,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        max_attempts=settings.outbox_max_attempts,
    )


KERNEL_JOBS: tuple[ScheduledJob, ...] = (PURGE_EXPIRED_KEYS,)


@dataclass
class Registry:
    """Everything modules declared, merged."""

    modules: Sequence[ModuleSpec]
    bus: EventBus = field(default_factory=EventBus)
    relays: list[OutboxRelaySpec] = field(default_factory=list)
    resolvers: dict[str, CredentialResolver] = field(default_factory=dict)
    authorizer: Authorizer | None = None
    public_paths: list[str] = field(default_factory=list)
    fast_routes: dict[str, FastHandler] = field(default_factory=dict)
    jobs: list[ScheduledJob] = field(default_factory=lambda: list(KERNEL_JOBS))

    @classmethod
    def of(cls, modules: Sequence[ModuleSpec]) -> Registry:
        registry = cls(modules=modules)
        for module in modules:
            for subscription in module.subscriptions:
                registry.bus.subscribe(subscription)
            registry.relays.extend(module.relays)
            for prefix, resolver in module.credential_resolvers.items():
                if prefix in registry.resolvers:
                    raise ValueError(f"credential prefix {prefix!r} declared twice")
                registry.resolvers[prefix] = resolver
            if module.authorizer is not None:
                if registry.authorizer is not None:
                    raise ValueError("only one module may declare the authorizer")
                registry.authorizer = module.authorizer
            registry.public_paths.extend(module.public_paths)
            registry.fast_routes.update(module.fast_routes)
            registry.jobs.extend(module.scheduled_jobs)
        if len({job.name for job in registry.jobs}) != len(registry.jobs):
            raise ValueError("a scheduled job name is declared twice")
        return registry


class Runtime:
    def __init__(self, settings: Settings, modules: Sequence[ModuleSpec]) -> None:
        if not settings.database_url or not settings.redis_url:
            raise ValueError("Runtime needs database_url and redis_url (keel serve fills them in)")
        self.settings = settings
        self.registry = Registry.of(modules)
        self.broker: RedisBroker = create_broker(settings.redis_url)
        self.tuning = relay_tuning(settings)
        self.engines = EngineProvider(settings.database_url, settings.db_pool_size)
        self.nudger = DrainNudger(self.broker, settings.redis_url, timeout=settings.nudge_timeout_seconds)
        closers = [self.engines.dispose_current, self.nudger.close_current_loop]
        self.broker.add_middleware(WorkerLoopCloser(closers))
        declare_drain_actors(self.broker, self.registry.relays, self.engines, self.tuning)
        self.engine: AsyncEngine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        self.caches = HotCaches(asyncpg_dsn(settings.database_url))
        self.sessionmaker = create_sessionmaker(self.engine, info={SESSION_INFO_KEY: self.caches})
        self.uow = UnitOfWorkFactory(
            self.sessionmaker, self.registry.bus, self._request_drain, settings, self.caches
        )
        self._redis: Redis | None = None
        self._rate_limiter: RateLimiter | None = None
        self.scheduler = Scheduler(self.registry.jobs, self.uow)
        self._worker_schedulers: dict[AsyncEngine, Scheduler] = {}
        if self.registry.jobs:
            longest = max(job.lease for job in self.registry.jobs)
            declare_job_tick_actor(self.broker, self._worker_scheduler, time_limit=longest)
        settle_heap()  # everything above lives as long as the process

    @property
    def redis(self) -> Redis:
        """An asyncio Redis client for request-time counters (rate limits), made on first use."""
        if self._redis is None:
            self._redis = Redis.from_url(self.settings.redis_url or "")
        return self._redis

    @property
    def rate_limiter(self) -> RateLimiter:
        if self._rate_limiter is None:
            self._rate_limiter = RateLimiter(
                self.redis,
                timeout_seconds=self.settings.rate_limit_timeout_seconds,
                fail_open=self.settings.rate_limit_fail_open,
            )
        return self._rate_limiter

    def _worker_scheduler(self) -> Scheduler:
        """The scheduler for the running worker loop: its own engine, and no hot caches (they
        belong to the serving loop; a job's invalidations reach them by NOTIFY)."""
        engine = self.engines.get()
        scheduler = self._worker_schedulers.get(engine)
        if scheduler is None:
            uows = UnitOfWorkFactory(
                create_sessionmaker(engine), self.registry.bus, self._request_drain, self.settings
            )
            scheduler = self._worker_schedulers[engine] = Scheduler(self.registry.jobs, uows)
        return scheduler

    def _request_drain(self, relay_name: str) -> None:
        self.nudger.request(relay_name)

    async def dispose(self) -> None:
        await self.nudger.close_current_loop()
        await self.caches.close()
        await self.engine.dispose()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
            self._rate_limiter = None
