"""billing's declaration for the composition root."""

from __future__ import annotations

from modules.billing.jobs import RENEW_SUBSCRIPTIONS
from modules.billing.routes import CONTROLLERS
from modules.billing.services.disputes import on_stripe_dispute
from modules.billing.services.payments import on_stripe_payment_succeeded
from modules.billing.services.refunds import on_stripe_charge_refunded, on_stripe_refund
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
        *(
            Subscription(inbound_webhook_type("stripe", t), on_stripe_refund)
            for t in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
        ),
        Subscription(inbound_webhook_type("stripe", "charge.refunded"), on_stripe_charge_refunded),
        Subscription(inbound_webhook_type("stripe", "charge.dispute.*"), on_stripe_dispute),
    ],
    scheduled_jobs=[RENEW_SUBSCRIPTIONS],
)
