"""integration's tables (schema `integration`). Private to the module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base, Timestamped

SCHEMA = "integration"
ENDPOINT_STATUSES = ("enabled", "disabled")


class WebhookEndpoint(Timestamped, Base):
    """Where an organization wants its events sent (beyond the seed's 55 tables). `secret` is
    the Standard Webhooks signing secret (`whsec_…`); it has to be readable to sign with, so it
    is stored as is. After a rotation the previous secret still signs until it expires, so
    receivers can switch without dropping deliveries."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint(f"status IN {ENDPOINT_STATUSES}", name="status"),
        CheckConstraint("cardinality(event_types) BETWEEN 1 AND 100", name="event_types_count"),
        CheckConstraint("char_length(url) BETWEEN 8 AND 2048", name="url_length"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    status: Mapped[str] = mapped_column(Text, server_default="enabled")
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(Text)


class IntegrationOutbox(Base):
    """One event to deliver to one endpoint (the relay `integration` drains it). Delivered rows
    are kept (status `delivered`) as the endpoint's delivery log until the purge job removes
    them. Only the due ids are indexed besides the log's lookup, and the fillfactor is 50
    (migration), as for audit.audit_outbox."""

    __tablename__ = "integration_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed', 'dead')", name="status"),
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_integration_outbox_due", "id", postgresql_where=text("status IN ('pending', 'failed')")),
        Index("ix_integration_outbox_endpoint_id_id", "endpoint_id", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.organizations.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integration.webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID]
    topic: Mapped[str] = mapped_column(Text)  # the event type
    destination: Mapped[str] = mapped_column(Text)  # the endpoint's URL when the event happened
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    lease_expires_at: Mapped[datetime | None]
    claimed_by: Mapped[uuid.UUID | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_response_status: Mapped[int | None] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


WEBHOOK_EVENT_STATUSES = ("received", "processed", "failed", "ignored")


class WebhookEvent(Base):
    """An inbound provider event, stored once per (provider, external id) after its signature
    was verified, then processed by whatever modules subscribed to it (`services.inbound`)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "external_event_id"),
        CheckConstraint(f"status IN {WEBHOOK_EVENT_STATUSES}", name="status"),
        Index(
            "ix_webhook_events_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('received', 'failed')"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    provider: Mapped[str] = mapped_column(Text)
    external_event_id: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    signature_verified: Mapped[bool]
    status: Mapped[str] = mapped_column(Text, server_default="received")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    processed_at: Mapped[datetime | None]


PROVIDER_CALL_ACTIONS = ("customer.create", "payment_intent.create", "refund.create", "payment_method.detach")


class ProviderCall(Base):
    """A call a module asked a payment provider to make (integration's provider outbox): written
    in the transaction that decided it, unique per (provider, request_key), made by the relay
    `integration.provider_calls` outside any transaction with the Idempotency-Key
    `keel-<id>`, and kept with what the provider answered (`answer_type`, the provider's object
    id). The fillfactor is 50 (migration) so claims are HOT updates."""

    __tablename__ = "provider_calls"
    __table_args__ = (
        UniqueConstraint("provider", "request_key"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed', 'dead')", name="status"),
        CheckConstraint(f"action IN {PROVIDER_CALL_ACTIONS}", name="action"),
        Index("ix_provider_calls_due", "id", postgresql_where=text("status IN ('pending', 'failed')")),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    provider: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    request_key: Mapped[str] = mapped_column(Text)
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.organizations.id", ondelete="RESTRICT")
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    lease_expires_at: Mapped[datetime | None]
    claimed_by: Mapped[uuid.UUID | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    answer_type: Mapped[str | None] = mapped_column(Text)
    provider_object_id: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
