"""billing's scheduled jobs."""

from __future__ import annotations

from datetime import timedelta

from modules.billing.services import dunning
from modules.billing.services.collection import RETRY_BATCH, retry_due_payments
from modules.billing.services.credit_lifecycle import EXPIRE_BATCH, expire_due
from modules.billing.services.invoice_finalize import FINALIZE_BATCH, finalize_due
from modules.billing.services.pauses import RESUME_BATCH, resume_due
from modules.billing.services.renewals import RENEW_BATCH, renew_due
from platform_core.messaging.scheduler import ScheduledJob, batched_job

RENEW_SUBSCRIPTIONS = batched_job(
    "billing.renew_subscriptions",
    timedelta(minutes=5),
    renew_due,
    RENEW_BATCH,
    summary="moved {} subscription(s) into their next period",
    description="End subscriptions canceled at period end, end trials, and start the next billing period.",
)

FINALIZE_INVOICES = batched_job(
    "billing.finalize_invoices",
    timedelta(minutes=1),
    finalize_due,
    FINALIZE_BATCH,
    summary="finalized {} draft invoice(s)",
    description="Finalize draft invoices whose finalize delay has passed: number, tax and credit them.",
)

RETRY_PAYMENTS = batched_job(
    "billing.retry_payments",
    timedelta(minutes=15),
    retry_due_payments,
    RETRY_BATCH,
    summary="asked again for the payment of {} invoice(s)",
    description="Retry the automatic payment of open invoices whose next payment attempt is due.",
)

ADVANCE_DUNNING = ScheduledJob(
    name="billing.advance_dunning",
    every=timedelta(hours=1),
    run=dunning.advance,
    description=(
        "Move accounts with invoices past due down their overdue policy's ladder (past_due, unpaid,"
        " canceled, frozen), each step once; and back up where the policy now asks less."
    ),
)

RESUME_SUBSCRIPTIONS = batched_job(  # billing_0032_plan_changes
    "billing.resume_subscriptions",
    timedelta(minutes=5),
    resume_due,
    RESUME_BATCH,
    summary="resumed collection of {} subscription(s)",
    description="Resume paused subscriptions whose resumes_at passed: held drafts finalized, service back.",
)

EXPIRE_CREDIT_GRANTS = batched_job(  # billing_0027_credit_grants
    "billing.expire_credit_grants",
    timedelta(minutes=15),
    expire_due,
    EXPIRE_BATCH,
    summary="expired {} credit grant(s)",
    description="Write an `expired` ledger row for what is left of each credit grant past expires_at, once.",
)
