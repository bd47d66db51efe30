"""cooperative's declaration for the composition root."""

from __future__ import annotations

from modules.billing.contracts import ACCOUNT_CREATED, INVOICE_PAID
from modules.cooperative.routes import CooperativeController
from modules.cooperative.services.patronage import on_account_created, on_invoice_paid
from platform_core.messaging.uow import Subscription
from platform_core.runtime.module import ModuleSpec

MODULE = ModuleSpec(
    name="cooperative",
    schema="cooperative",
    route_handlers=[CooperativeController],
    subscriptions=[
        Subscription(ACCOUNT_CREATED, on_account_created),
        Subscription(INVOICE_PAID, on_invoice_paid),
    ],
)
