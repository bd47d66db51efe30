"""Collection: asking the account's payment provider for an invoice's money.

An account collects by `send_invoice` (the default: the invoice waits for payment until its
due date) or `charge_automatically`: finalizing such an invoice with something due publishes
`billing.payment_intent.requested`, which integration's provider relay turns into a confirmed
PaymentIntent whose metadata names the invoice. The answer comes back as Stripe's events:
`payment_intent.succeeded` settles the invoice (services/payments.py);
`payment_intent.payment_failed` records the failed attempt here (`attempt_count`,
`last_payment_error`, `next_payment_attempt` from services/payment_retries.py) and publishes
`billing.invoice.payment_failed`; the job `billing.retry_payments` asks again when the next
attempt is due. Every handler is idempotent: an attempt is recorded once, whether it is
reported by the relay's answer, a webhook, or both."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import select, update

from modules.billing.contracts import (
    ACCOUNT_UPDATED,
    CUSTOMER_REQUESTED,
    INVOICE_PAYMENT_FAILED,
    PAYMENT_INTENT_REQUESTED,
    CustomerRequest,
    InvoicePaymentFailedData,
    PaymentError,
    PaymentIntentRequest,
)
from modules.billing.models import BillingAccount, Invoice, PaymentMethod
from modules.billing.services.overdue_policies import retry_days_for
from modules.billing.services.pause_state import collection_withheld
from modules.billing.services.payment_retries import next_payment_attempt, retry_schedule
from platform_core.core.clock import utcnow
from platform_core.messaging.events import Event, Subject
from platform_core.messaging.uow import UnitOfWork

RETRY_BATCH = 50


def stripe_object(event: Event) -> dict[str, Any]:
    """The API object of an inbound Stripe event (`data.object`), or {}."""
    payload = event.data.get("payload") or {}
    obj = (payload.get("data") or {}).get("object") if isinstance(payload, dict) else None
    return obj if isinstance(obj, dict) else {}


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def request_customer(uow: UnitOfWork, account: BillingAccount) -> None:
    """Ask the provider to create the account's customer, once (the answer sets its id)."""
    if account.provider != "stripe" or account.provider_customer_id:
        return
    await uow.emit(
        CUSTOMER_REQUESTED,
        subject=Subject(type="billing_account", id=str(account.id), name=account.name),
        data=CustomerRequest(
            account_id=account.id,
            provider="stripe",
            name=account.name,
            email=account.email,
            request_key=f"customer:{account.id}",
        ),
        org_id=account.org_id,
    )


async def on_customer_created(uow: UnitOfWork, event: Event) -> None:
    customer = stripe_object(event)
    account_id = _uuid((customer.get("metadata") or {}).get("keel_account_id"))
    customer_id = customer.get("id")
    if account_id is None or not isinstance(customer_id, str):
        return  # a customer Keel did not ask for
    account = await uow.session.scalar(
        select(BillingAccount)
        .where(BillingAccount.id == account_id, BillingAccount.provider_customer_id.is_(None))
        .with_for_update()
    )
    if account is None:
        return
    account.provider_customer_id = customer_id
    await uow.session.flush()
    await uow.emit(
        ACCOUNT_UPDATED,
        subject=Subject(type="billing_account", id=str(account.id), name=account.name),
        data={"changed": ["provider_customer_id"]},
        org_id=account.org_id,
    )


async def request_payment(uow: UnitOfWork, invoice: Invoice, account: BillingAccount, attempt: int) -> None:
    """Publish `billing.payment_intent.requested` for the invoice's amount due."""
    payment_method = None
    if account.default_payment_method_id is not None:
        payment_method = await uow.session.scalar(
            select(PaymentMethod.provider_payment_method_id).where(
                PaymentMethod.id == account.default_payment_method_id
            )
        )
    assert invoice.number is not None
    await uow.emit(
        PAYMENT_INTENT_REQUESTED,
        subject=Subject(type="invoice", id=str(invoice.id), name=invoice.number),
        data=PaymentIntentRequest(
            invoice_id=invoice.id,
            account_id=account.id,
            amount=invoice.amount_due - invoice.amount_paid,
            currency=invoice.currency,
            provider=account.provider,  # type: ignore[arg-type]
            provider_customer_id=account.provider_customer_id,
            payment_method=payment_method,
            attempt=attempt,
            request_key=f"{invoice.id}:{attempt}",
        ),
        org_id=invoice.org_id,
    )


async def on_invoice_finalized(uow: UnitOfWork, event: Event) -> None:
    """`billing.invoice.finalized`: charge a `charge_automatically` invoice at once."""
    invoice = await uow.session.get(Invoice, uuid.UUID(event.subject.id))
    if (
        invoice is None
        or invoice.collection_method != "charge_automatically"
        or invoice.status != "open"
        or invoice.amount_due <= 0
        or await collection_withheld(uow, invoice.subscription_id)  # a paused subscription's
    ):
        return
    account = await uow.session.get_one(BillingAccount, invoice.account_id)
    await request_payment(uow, invoice, account, attempt=1)


def payment_error(intent: dict[str, Any]) -> PaymentError:
    error = intent.get("last_payment_error")
    error = error if isinstance(error, dict) else {}

    def text(key: str) -> str | None:
        value = error.get(key)
        return value[:500] if isinstance(value, str) else None

    intent_id = intent.get("id")
    return PaymentError(
        code=text("code"),
        message=text("message"),
        decline_code=text("decline_code"),
        type=text("type"),
        payment_intent=intent_id if isinstance(intent_id, str) else None,
    )


async def on_payment_failed(uow: UnitOfWork, event: Event) -> None:
    """`payment_intent.payment_failed`: record the attempt on the invoice its metadata names."""
    intent = stripe_object(event)
    metadata = intent.get("metadata") or {}
    invoice_id = _uuid(metadata.get("keel_invoice_id")) if isinstance(metadata, dict) else None
    if invoice_id is None:
        return  # not a Keel invoice's payment
    invoice = await uow.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None or invoice.status != "open":
        return
    error = payment_error(intent)
    attempt_text = metadata.get("keel_attempt")
    last_intent = (invoice.last_payment_error or {}).get("payment_intent")
    if isinstance(attempt_text, str) and attempt_text.isdigit():
        attempt = int(attempt_text)
    elif error.payment_intent and last_intent == error.payment_intent:
        return  # this PaymentIntent's failure is recorded already
    else:
        attempt = invoice.attempt_count + 1
    if attempt <= invoice.attempt_count:
        return  # reported before (the relay's answer and the webhook both say it)
    now = utcnow()
    invoice.attempt_count = attempt
    invoice.last_payment_error = msgspec.to_builtins(error)
    invoice.next_payment_attempt = (
        next_payment_attempt(now, attempt, retry_schedule(await retry_days_for(uow, invoice.account_id)))
        if invoice.collection_method == "charge_automatically"
        else None
    )
    await uow.session.flush()
    assert invoice.number is not None
    await uow.emit(
        INVOICE_PAYMENT_FAILED,
        subject=Subject(type="invoice", id=str(invoice.id), name=invoice.number),
        data=InvoicePaymentFailedData(
            number=invoice.number,
            account_id=invoice.account_id,
            currency=invoice.currency,
            amount_due=invoice.amount_due,
            attempt_count=invoice.attempt_count,
            next_payment_attempt=invoice.next_payment_attempt,
            last_payment_error=error,
        ),
        org_id=invoice.org_id,
    )


async def retry_due_payments(uow: UnitOfWork) -> int:
    """One batch of the job `billing.retry_payments`: ask again for every open invoice whose
    next attempt is due (taken under SKIP LOCKED: concurrent workers never ask twice)."""
    invoices = list(
        await uow.session.scalars(
            select(Invoice)
            .where(Invoice.next_payment_attempt <= utcnow(), Invoice.status == "open")
            .order_by(Invoice.next_payment_attempt)
            .limit(RETRY_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for invoice in invoices:
        invoice.next_payment_attempt = None
        account = await uow.session.get_one(BillingAccount, invoice.account_id)
        await request_payment(uow, invoice, account, attempt=invoice.attempt_count + 1)
    await uow.session.flush()
    return len(invoices)


async def on_invoice_settled(uow: UnitOfWork, event: Event) -> None:
    """`billing.invoice.paid` / `.voided`: the invoice is not tried again."""
    await uow.session.execute(
        update(Invoice)
        .where(Invoice.id == uuid.UUID(event.subject.id), Invoice.next_payment_attempt.is_not(None))
        .values(next_payment_attempt=None)
    )
