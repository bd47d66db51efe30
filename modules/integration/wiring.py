"""integration's declaration for the composition root."""

from __future__ import annotations

from modules.billing.contracts import (
    CUSTOMER_REQUESTED,
    PAYMENT_INTENT_REQUESTED,
    PAYMENT_METHOD_DETACH_REQUESTED,
    REFUND_CREATED,
)
from modules.integration.inbound_routes import InboundWebhookController
from modules.integration.jobs import PROCESS_WEBHOOKS, PURGE_DELIVERIES
from modules.integration.routes import CONTROLLERS
from modules.integration.services import provider_calls
from modules.integration.services.delivery import (
    BACKOFF_BASE_SECONDS,
    BATCH_SIZE,
    MAX_ATTEMPTS,
    RETURNING,
    deliver_batch,
)
from modules.integration.services.fanout import RELAY_NAME, enqueue_deliveries
from platform_core.messaging.outbox import OutboxRelaySpec
from platform_core.messaging.uow import Subscription
from platform_core.runtime.module import ModuleSpec

MODULE = ModuleSpec(
    name="integration",
    schema="integration",
    route_handlers=[*CONTROLLERS, InboundWebhookController],
    public_paths=["/integration/webhooks/"],
    subscriptions=[
        Subscription("*", enqueue_deliveries),
        Subscription(PAYMENT_INTENT_REQUESTED, provider_calls.on_payment_intent_requested),
        Subscription(CUSTOMER_REQUESTED, provider_calls.on_customer_requested),
        Subscription(REFUND_CREATED, provider_calls.on_refund_created),
        Subscription(PAYMENT_METHOD_DETACH_REQUESTED, provider_calls.on_detach_requested),
    ],
    relays=[
        OutboxRelaySpec(
            name=RELAY_NAME,
            table="integration.integration_outbox",
            handler=deliver_batch,
            delete_on_success=False,
            batch_size=BATCH_SIZE,
            queue_name="integration",
            returning=RETURNING,
            max_attempts=MAX_ATTEMPTS,
            backoff_base_seconds=BACKOFF_BASE_SECONDS,
        ),
        OutboxRelaySpec(  # payment providers: called with no transaction open
            name=provider_calls.RELAY_NAME,
            table="integration.provider_calls",
            call=provider_calls.call_providers,
            handler=provider_calls.record_answers,
            delete_on_success=False,
            batch_size=provider_calls.BATCH_SIZE,
            queue_name="integration",
            returning=provider_calls.RETURNING,
            max_attempts=provider_calls.MAX_ATTEMPTS,
            backoff_base_seconds=provider_calls.BACKOFF_BASE_SECONDS,
        ),
    ],
    scheduled_jobs=[PURGE_DELIVERIES, PROCESS_WEBHOOKS],
)
