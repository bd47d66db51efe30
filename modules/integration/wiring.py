"""integration's declaration for the composition root."""

from __future__ import annotations

from modules.integration.inbound_routes import InboundWebhookController
from modules.integration.jobs import PROCESS_WEBHOOKS, PURGE_DELIVERIES
from modules.integration.routes import CONTROLLERS
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
    subscriptions=[Subscription("*", enqueue_deliveries)],
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
        )
    ],
    scheduled_jobs=[PURGE_DELIVERIES, PROCESS_WEBHOOKS],
)
