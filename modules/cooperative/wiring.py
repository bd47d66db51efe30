"""cooperative's declaration for the composition root."""

from __future__ import annotations

from modules.billing.contracts import (
    ACCOUNT_CREATED,
    CREDIT_NOTE_CREATED,
    CREDIT_NOTE_VOIDED,
    DISPUTE_CLOSED,
    DISPUTE_CREATED,
    DISPUTE_UPDATED,
    INVOICE_PAID,
    REFUND_UPDATED,
)
from modules.cooperative.routes import CONTROLLERS
from modules.cooperative.services.patronage import on_account_created, on_invoice_paid
from modules.cooperative.services.reversals import (
    on_credit_note_created,
    on_credit_note_voided,
    on_dispute,
    on_refund_updated,
)
from platform_core.messaging.uow import Subscription
from platform_core.runtime.module import ModuleSpec

MODULE = ModuleSpec(
    name="cooperative",
    schema="cooperative",
    route_handlers=CONTROLLERS,
    subscriptions=[
        Subscription(ACCOUNT_CREATED, on_account_created),
        Subscription(INVOICE_PAID, on_invoice_paid),
        Subscription(REFUND_UPDATED, on_refund_updated),
        Subscription(CREDIT_NOTE_CREATED, on_credit_note_created),
        Subscription(CREDIT_NOTE_VOIDED, on_credit_note_voided),
        *(Subscription(t, on_dispute) for t in (DISPUTE_CREATED, DISPUTE_UPDATED, DISPUTE_CLOSED)),
    ],
)
