"""audit's declaration: it observes every event and drains its outbox into the chain."""

from __future__ import annotations

from modules.audit.cli import COMMANDS
from modules.audit.jobs import APPLY_RETENTION
from modules.audit.retention_routes import RetentionController
from modules.audit.routes import AuditController
from modules.audit.services.capture import RELAY_NAME, capture_event
from modules.audit.services.chain import OUTBOX_RETURNING, append_batch
from platform_core.messaging.outbox import OutboxRelaySpec
from platform_core.messaging.uow import Subscription
from platform_core.runtime.module import ModuleSpec

MODULE = ModuleSpec(
    name="audit",
    schema="audit",
    route_handlers=[AuditController, RetentionController],
    subscriptions=[Subscription("*", capture_event)],
    relays=[
        OutboxRelaySpec(
            name=RELAY_NAME, table="audit.audit_outbox", handler=append_batch, returning=OUTBOX_RETURNING
        )
    ],
    cli_commands=COMMANDS,
    scheduled_jobs=[APPLY_RETENTION],
)
