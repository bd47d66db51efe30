"""Running Dramatiq workers: in-process (for `keel serve`) or as the `keel worker` process."""

from __future__ import annotations

from dramatiq import Worker

from platform_core.messaging.broker import JOB_TICK_ACTOR, Ticker, TickSchedule, drain_actor_name
from platform_core.runtime.runtime import Runtime


def start_worker(runtime: Runtime, *, threads: int = 4) -> Worker:
    """Start a worker consuming every queue of the runtime's broker, with the outbox sweep and
    the scheduled-jobs tick."""
    broker = runtime.broker
    if not any(isinstance(m, Ticker) for m in broker.middleware):
        broker.add_middleware(Ticker(tick_schedules(runtime)))
    worker = Worker(broker, worker_threads=threads, worker_timeout=200)
    worker.start()
    return worker


def tick_schedules(runtime: Runtime) -> list[TickSchedule]:
    settings = runtime.settings
    drains = [drain_actor_name(spec.name) for spec in runtime.registry.relays]
    schedules = [TickSchedule("outbox-sweep", drains, settings.outbox_sweep_seconds)]
    if runtime.registry.jobs:
        schedules.append(TickSchedule("job-tick", [JOB_TICK_ACTOR], settings.job_tick_seconds))
    return schedules
