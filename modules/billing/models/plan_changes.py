"""Tables of plan changes scheduled for a period's end and of paused collection
(billing_0032_plan_changes, ADR 0024)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base, Timestamped

SCHEMA = "billing"
ORG_FK = "organization.organizations.id"
SCHEDULED_CHANGE_STATUSES = ("scheduled", "applied", "canceled")
PAUSE_BEHAVIORS = ("keep_as_draft", "mark_uncollectible", "void")


class ScheduledChange(Timestamped, Base):
    """Item changes that take effect when the subscription's period ends (after Stripe's
    subscription schedules, one next phase): at most one `scheduled` per subscription. `items`
    holds the request's changes; `outcome` says why one was not applied, if so."""

    __tablename__ = "subscription_scheduled_changes"
    __table_args__ = (
        CheckConstraint(f"status IN {SCHEDULED_CHANGE_STATUSES}", name="status"),
        CheckConstraint("(status = 'applied') = (applied_at IS NOT NULL)", name="applied"),
        CheckConstraint("(status = 'canceled') = (canceled_at IS NOT NULL)", name="canceled"),
        Index(
            "uq_subscription_scheduled_changes_pending",
            "subscription_id",
            unique=True,
            postgresql_where=text("status = 'scheduled'"),
        ),
        Index("ix_subscription_scheduled_changes_subscription_id_id", "subscription_id", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.subscriptions.id", ondelete="RESTRICT")
    )
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    effective_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(Text, server_default="scheduled")
    outcome: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(Text)


class SubscriptionPause(Timestamped, Base):
    """Collection paused (after Stripe's `pause_collection`): at most one in force (`resumed_at`
    NULL) per subscription; the rows that ended are its history. A `keep_as_draft` pause keeps
    the service, so it must end (`resumes_at`)."""

    __tablename__ = "subscription_pauses"
    __table_args__ = (
        CheckConstraint(f"behavior IN {PAUSE_BEHAVIORS}", name="behavior"),
        CheckConstraint("behavior <> 'keep_as_draft' OR resumes_at IS NOT NULL", name="draft_resumes"),
        CheckConstraint("resumed_at IS NULL OR resumed_at >= paused_at", name="window"),
        Index(
            "uq_subscription_pauses_in_force",
            "subscription_id",
            unique=True,
            postgresql_where=text("resumed_at IS NULL"),
        ),
        Index(
            "ix_subscription_pauses_resume_due",
            "resumes_at",
            postgresql_where=text("resumed_at IS NULL AND resumes_at IS NOT NULL"),
        ),
        Index("ix_subscription_pauses_subscription_id_id", "subscription_id", "id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing.subscriptions.id", ondelete="RESTRICT")
    )
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(ORG_FK, ondelete="RESTRICT"))
    behavior: Mapped[str] = mapped_column(Text)
    resumes_at: Mapped[datetime | None]
    paused_at: Mapped[datetime]
    resumed_at: Mapped[datetime | None]
    paused_by: Mapped[str | None] = mapped_column(Text)
    resumed_by: Mapped[str | None] = mapped_column(Text)
