"""billing's declaration for the composition root."""

from __future__ import annotations

from modules.billing.contracts import INVOICE_FINALIZED, INVOICE_PAID, INVOICE_VOIDED
from modules.billing.jobs import (
    ADVANCE_DUNNING,
    EXPIRE_CREDIT_GRANTS,
    FINALIZE_INVOICES,
    RENEW_SUBSCRIPTIONS,
    RESUME_SUBSCRIPTIONS,  # billing_0032_plan_changes
    RETRY_PAYMENTS,
)
from modules.billing.routes import CONTROLLERS
from modules.billing.services import collection, credit_lifecycle, dunning, payment_methods, purchases
from modules.billing.services.disputes import on_stripe_dispute
from modules.billing.services.payments import on_stripe_payment_succeeded
from modules.billing.services.refunds import on_stripe_charge_refunded, on_stripe_refund
from modules.billing.services.usage_charges import on_ondemand_configured, on_usage_overage
from modules.entitlements.contracts import ONDEMAND_CONFIGURED, USAGE_OVERAGE
from platform_core.messaging.events import inbound_webhook_type
from platform_core.messaging.uow import Subscription
from platform_core.runtime.module import ModuleSpec

MODULE = ModuleSpec(
    name="billing",
    schema="billing",
    route_handlers=CONTROLLERS,
    subscriptions=[
        Subscription(USAGE_OVERAGE, on_usage_overage),
        Subscription(ONDEMAND_CONFIGURED, on_ondemand_configured),  # price_ref checked against the catalog
        Subscription(inbound_webhook_type("stripe", "payment_intent.succeeded"), on_stripe_payment_succeeded),
        # collection and payment methods (services/collection.py, services/payment_methods.py)
        Subscription(INVOICE_FINALIZED, collection.on_invoice_finalized),
        Subscription(INVOICE_PAID, collection.on_invoice_settled),
        Subscription(INVOICE_VOIDED, collection.on_invoice_settled),
        # dunning (services/dunning.py): paid up, by whichever path, in the same transaction
        Subscription(INVOICE_PAID, dunning.on_invoice_settled),
        Subscription(INVOICE_VOIDED, dunning.on_invoice_settled),
        Subscription(INVOICE_VOIDED, credit_lifecycle.on_invoice_voided),  # used credit comes back
        Subscription(INVOICE_VOIDED, purchases.on_invoice_voided),  # a void invoice's purchases are void
        *(
            Subscription(inbound_webhook_type("stripe", t), handler)
            for t, handler in (
                ("payment_intent.payment_failed", collection.on_payment_failed),
                ("customer.created", collection.on_customer_created),
                ("setup_intent.succeeded", payment_methods.on_setup_intent_succeeded),
                ("payment_method.attached", payment_methods.on_payment_method_attached),
                ("payment_method.updated", payment_methods.on_payment_method_updated),
                ("payment_method.detached", payment_methods.on_payment_method_detached),
            )
        ),
        *(
            Subscription(inbound_webhook_type("stripe", t), on_stripe_refund)
            for t in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
        ),
        Subscription(inbound_webhook_type("stripe", "charge.refunded"), on_stripe_charge_refunded),
        Subscription(inbound_webhook_type("stripe", "charge.dispute.*"), on_stripe_dispute),
    ],
    scheduled_jobs=[
        RENEW_SUBSCRIPTIONS,
        FINALIZE_INVOICES,
        RETRY_PAYMENTS,
        ADVANCE_DUNNING,
        RESUME_SUBSCRIPTIONS,
        EXPIRE_CREDIT_GRANTS,
    ],
)
