"""Running Dramatiq workers: in-process (for `keel serve`) or as the `keel worker` process."""

from __future__ import annotations

from dramatiq import Worker

from platform_core.broker import OutboxSweeper
from platform_core.runtime import Runtime


def start_worker(runtime: Runtime, *, threads: int = 4) -> Worker:
    """Start a worker consuming every queue of the runtime's broker, with the outbox sweeper."""
    broker = runtime.broker
    if not any(isinstance(m, OutboxSweeper) for m in broker.middleware):
        broker.add_middleware(OutboxSweeper(runtime.registry.relays, runtime.settings.outbox_sweep_seconds))
    worker = Worker(broker, worker_threads=threads, worker_timeout=200)
    worker.start()
    return worker
