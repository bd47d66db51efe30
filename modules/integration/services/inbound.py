"""Inbound webhooks: store each verified provider event once, then hand it to the modules that
subscribed to `integration.inbound.<provider>.<type>` (`platform_core.messaging.events.inbound_webhook_type`).

Receipt only stores and answers (providers want a fast 2xx). Processing takes one event per
unit of work, locked with SKIP LOCKED so concurrent processors never take the same one, and
publishes it: subscribers do their work in that transaction, in a savepoint, so a failing
subscriber undoes only its own work and the event is retried with backoff. An event nobody
subscribed to is `ignored`. Processing starts right after receipt in the receiving process,
and the scheduled job `integration.process_webhooks` catches up on anything left."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, select, text, update
from sqlalchemy.dialects.postgresql import insert

from modules.integration.models import WebhookEvent
from modules.integration.services.inbound_verify import VerifiedEvent
from platform_core.messaging.events import Event, Subject, inbound_webhook_type
from platform_core.messaging.outbox import RelayTuning, backoff_seconds
from platform_core.messaging.scheduler import in_batches
from platform_core.messaging.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

EVENTS = cast(Table, WebhookEvent.__table__)
PROCESS_WEBHOOKS_JOB = "integration.process_webhooks"  # the catch-up job (jobs.py)
RETRIES = RelayTuning(max_attempts=10, backoff_base_seconds=30.0, backoff_cap_seconds=3600.0)
_NO_EVENT_TYPE = "\x00"  # matches only the catch-all subscriptions
_background: set[asyncio.Task[int]] = set()


async def receive(uow: UnitOfWork, provider: str, event: VerifiedEvent) -> tuple[uuid.UUID, bool]:
    """Store the event unless it was received before; returns its id and whether it was."""
    inserted = (
        await uow.session.execute(
            insert(EVENTS)
            .values(
                provider=provider,
                external_event_id=event.external_id,
                type=event.type,
                payload=event.payload,
                signature_verified=True,
            )
            .on_conflict_do_nothing(index_elements=["provider", "external_event_id"])
            .returning(EVENTS.c.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        return inserted, False
    existing = await uow.session.scalar(
        select(WebhookEvent.id).where(
            WebhookEvent.provider == provider, WebhookEvent.external_event_id == event.external_id
        )
    )
    assert existing is not None
    return existing, True


async def process_one(uow: UnitOfWork) -> int:
    """Process the oldest due event, if any; returns how many were processed (0 or 1)."""
    row = await uow.session.scalar(
        select(WebhookEvent)
        .where(WebhookEvent.status.in_(("received", "failed")), WebhookEvent.next_attempt_at <= text("now()"))
        .order_by(WebhookEvent.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if row is None:
        return 0
    event_type = inbound_webhook_type(row.provider, row.type)
    subscribers = set(uow.bus.handlers_for(event_type)) - set(uow.bus.handlers_for(_NO_EVENT_TYPE))
    changes: dict[str, object] = {"attempts": row.attempts + 1}
    if not subscribers:
        changes.update(status="ignored", processed_at=text("now()"))
    else:
        try:
            async with uow.session.begin_nested():
                await uow.publish(
                    Event(
                        type=event_type,
                        subject=Subject(type="webhook_event", id=str(row.id), name=row.external_event_id),
                        data={
                            "provider": row.provider,
                            "external_event_id": row.external_event_id,
                            "payload": row.payload,
                        },
                    )
                )
            changes.update(status="processed", processed_at=text("now()"), last_error=None)
        except Exception as exc:  # the subscriber's work was rolled back with its savepoint
            changes.update(status="failed", last_error=f"{type(exc).__name__}: {exc}"[:2000])
            changes["next_attempt_at"] = _next_attempt(row.attempts + 1)
    await uow.session.execute(update(WebhookEvent).where(WebhookEvent.id == row.id).values(**changes))
    return 1


def _next_attempt(attempts: int) -> object:
    if attempts >= RETRIES.max_attempts:
        return text("'infinity'::timestamptz")  # left `failed` for an operator
    delay = timedelta(seconds=backoff_seconds(attempts, RETRIES))
    return text("now() + CAST(:delay AS interval)").bindparams(delay=delay)


async def process_pending(uows: UnitOfWorkFactory) -> int:
    try:
        return await in_batches(uows, process_one, 1)
    except Exception:  # the scheduled job retries; nobody awaits this task
        log.exception("processing inbound webhooks failed")
        return 0


def process_soon(uows: UnitOfWorkFactory) -> None:
    """After a receipt commits: process in the background of this process (the scheduled job
    takes over whatever this does not finish)."""
    task = asyncio.get_running_loop().create_task(process_pending(uows))
    _background.add(task)
    task.add_done_callback(_background.discard)
