"""billing's declaration for the composition root."""

from __future__ import annotations

from modules.billing.jobs import RENEW_SUBSCRIPTIONS
from modules.billing.routes import CONTROLLERS
from modules.billing.services.payments import on_stripe_payment_succeeded
from modules.billing.services.usage_charges import on_usage_overage
from modules.entitlements.contracts import USAGE_OVERAGE
from platform_core.messaging.events import inbound_webhook_type
from platform_core.messaging.uow import Subscription
from platform_core.runtime.module import ModuleSpec

MODULE = ModuleSpec(
    name="billing",
    schema="billing",
    route_handlers=CONTROLLERS,
    subscriptions=[
        Subscription(USAGE_OVERAGE, on_usage_overage),
        Subscription(inbound_webhook_type("stripe", "payment_intent.succeeded"), on_stripe_payment_succeeded),
    ],
    scheduled_jobs=[RENEW_SUBSCRIPTIONS],
)
