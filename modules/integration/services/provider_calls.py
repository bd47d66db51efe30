"""Calls to payment providers, through an outbox (README, "Payment providers").

1. **Decide.** Billing publishes a request (`billing.payment_intent.requested`,
   `billing.customer.requested`, `billing.refund.created`, `billing.payment_method.detach_requested`);
   the subscribers here write one `integration.provider_calls` row in that transaction, unique
   per (provider, request key): a rolled-back decision leaves nothing to call, a repeated one
   nothing more. The `manual` provider has nothing to call.
2. **Call.** The relay `integration.provider_calls` claims due rows and, with no transaction
   open (`OutboxRelaySpec.call`), calls the provider with `Idempotency-Key: keel-<row id>`: the
   same for every retry and after a crash, so the provider acts once per row.
3. **Answer.** In the delivery transaction the answer is stored as an inbound event
   (`integration.webhook_events`, external id `call:<row id>`, shaped like the provider's
   event) and the processing job is made due: billing hears it exactly as it hears a webhook.
   Unreachable or failing on its side: retried with backoff. A rejection: recorded, `dead`,
   never repeated."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

import msgspec
from sqlalchemy import Table, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from modules.billing.contracts import CustomerRequest, PaymentIntentRequest, PaymentMethodDetachRequest
from modules.integration.models import ProviderCall, WebhookEvent
from modules.integration.services.inbound import PROCESS_WEBHOOKS_JOB
from modules.integration.services.providers import (
    CALLING_PROVIDERS,
    Answer,
    Outcome,
    PaymentProvider,
    RefundCall,
    Retry,
    provider_for,
)
from platform_core.core.config import get_settings
from platform_core.messaging.events import Event
from platform_core.messaging.outbox import OUTCOME, OutboxRow, PermanentFailure, RowFailures
from platform_core.messaging.scheduler import run_soon
from platform_core.messaging.uow import UnitOfWork

log = logging.getLogger(__name__)

RELAY_NAME = "integration.provider_calls"
CALLS = cast(Table, ProviderCall.__table__)
EVENTS = cast(Table, WebhookEvent.__table__)
RETURNING = "o.id, o.provider, o.action, o.payload::text AS payload"
BATCH_SIZE = 8  # calls run concurrently; a handful keeps a batch well inside the lease
MAX_ATTEMPTS = 12  # from 30 s doubling to the one-hour cap: about half a day of outage
BACKOFF_BASE_SECONDS = 30.0
REQUESTS: dict[str, type[msgspec.Struct]] = {
    "customer.create": CustomerRequest,
    "payment_intent.create": PaymentIntentRequest,
    "refund.create": RefundCall,
    "payment_method.detach": PaymentMethodDetachRequest,
}


def idempotency_key(call_id: uuid.UUID) -> str:
    return f"keel-{call_id}"


def answer_event_id(call_id: uuid.UUID) -> str:
    return f"call:{call_id}"


async def _enqueue(
    uow: UnitOfWork, event: Event, *, provider: str, action: str, request_key: str, payload: dict[str, Any]
) -> None:
    if provider not in CALLING_PROVIDERS:
        return
    await uow.session.execute(
        insert(CALLS)
        .values(
            provider=provider,
            action=action,
            request_key=request_key,
            org_id=event.org_id,
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=["provider", "request_key"])
    )
    uow.request_drain(RELAY_NAME)


async def on_payment_intent_requested(uow: UnitOfWork, event: Event) -> None:
    request = msgspec.convert(event.data, PaymentIntentRequest)
    await _enqueue(
        uow,
        event,
        provider=request.provider,
        action="payment_intent.create",
        request_key=request.request_key,
        payload=event.data,
    )


async def on_customer_requested(uow: UnitOfWork, event: Event) -> None:
    request = msgspec.convert(event.data, CustomerRequest)
    await _enqueue(
        uow, event, provider=request.provider, action="customer.create", request_key=request.request_key,
        payload=event.data,
    )  # fmt: skip


async def on_refund_created(uow: UnitOfWork, event: Event) -> None:
    data = dict(event.data)
    data.setdefault("refund_id", data.get("id"))
    if data.get("status", "pending") != "pending":
        return
    request = msgspec.convert(data, RefundCall)
    await _enqueue(
        uow, event, provider=request.provider, action="refund.create",
        request_key=f"refund:{request.refund_id}", payload=msgspec.to_builtins(request),
    )  # fmt: skip


async def on_detach_requested(uow: UnitOfWork, event: Event) -> None:
    request = msgspec.convert(event.data, PaymentMethodDetachRequest)
    await _enqueue(
        uow, event, provider=request.provider, action="payment_method.detach",
        request_key=f"detach:{request.provider_payment_method_id}", payload=event.data,
    )  # fmt: skip


async def _call(provider: PaymentProvider, row: OutboxRow) -> Outcome | None:
    key = idempotency_key(row["id"])
    request: Any = msgspec.json.decode(row["payload"], type=REQUESTS[row["action"]])
    try:
        match row["action"]:
            case "customer.create":
                return await provider.create_customer(request, key)
            case "payment_intent.create":
                return await provider.create_payment_intent(request, key)
            case "refund.create":
                return await provider.create_refund(request, key)
            case _:
                return await provider.detach_payment_method(request, key)
    except Exception as exc:  # an adapter bug must not lose the call: retried, then dead
        log.exception("provider call %s failed", row["id"])
        return Retry(f"{type(exc).__name__}: {exc}")


async def call_providers(rows: Sequence[OutboxRow]) -> Mapping[uuid.UUID, Outcome | None]:
    """The relay's `call`, made with no transaction open: every row's call, concurrently."""
    settings = get_settings()
    providers = {name: provider_for(name, settings) for name in {row["provider"] for row in rows}}
    try:
        outcomes = await asyncio.gather(*(_call(providers[row["provider"]], row) for row in rows))
    finally:
        for provider in providers.values():
            await provider.close()
    return {row["id"]: outcome for row, outcome in zip(rows, outcomes, strict=True)}


async def record_answers(conn: AsyncConnection, rows: Sequence[OutboxRow]) -> RowFailures:
    """The relay's handler, in its delivery transaction: each answer becomes an inbound event."""
    failures: dict[uuid.UUID, str] = {}
    answered = False
    for row in rows:
        outcome: Outcome | None = row[OUTCOME]
        if isinstance(outcome, Retry):
            failures[row["id"]] = outcome.error
        elif isinstance(outcome, Answer):
            await _store_answer(conn, row, outcome)
            answered = True
            if outcome.rejected:
                failures[row["id"]] = PermanentFailure(outcome.rejected)
    if answered:
        await run_soon(conn, PROCESS_WEBHOOKS_JOB)
    return failures


async def _store_answer(conn: AsyncConnection, row: OutboxRow, answer: Answer) -> None:
    external_id = answer_event_id(row["id"])
    await conn.execute(
        insert(EVENTS)
        .values(
            provider=row["provider"],
            external_event_id=external_id,
            type=answer.event_type,
            payload={
                "id": external_id,
                "object": "event",
                "type": answer.event_type,
                "data": {"object": answer.object},
            },
            signature_verified=True,  # the answer to Keel's own authenticated call, not a webhook
        )
        .on_conflict_do_nothing(index_elements=["provider", "external_event_id"])
    )
    object_id = answer.object.get("id")
    await conn.execute(
        update(CALLS)
        .where(CALLS.c.id == row["id"])
        .values(
            answer_type=answer.event_type,
            provider_object_id=object_id if isinstance(object_id, str) else None,
        )
    )
