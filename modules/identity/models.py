"""identity's tables (schema `identity`). Private to the module."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, CheckConstraint, ForeignKey, Index, LargeBinary, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.core.ids import uuid7
from platform_core.persistence.db import Base, Timestamped

SCHEMA = "identity"
PERSON_KINDS = ("individual", "business", "legal_entity")


class Person(Timestamped, Base):
    __tablename__ = "persons"
    __table_args__ = (
        CheckConstraint(f"kind IN {PERSON_KINDS}", name="kind"),
        Index("ix_persons_email_lower", text("lower(email)")),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    kind: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(Text)
    legal_name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    tax_id: Mapped[str | None] = mapped_column(Text)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("identity.persons.id"), index=True)
    erased_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(Text)


class PersonalAccessToken(Base):
    __tablename__ = "personal_access_tokens"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity.persons.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


USER_STATUSES = ("active", "disabled")


class User(Timestamped, Base):
    """The authentication identity mirrored from Keycloak; `person_id` is who it acts as."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"status IN {USER_STATUSES}", name="status"),
        CheckConstraint("length(keycloak_sub) BETWEEN 1 AND 255", name="keycloak_sub_length"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    keycloak_sub: Mapped[str] = mapped_column(Text, unique=True)
    email: Mapped[str | None] = mapped_column(Text)
    email_verified: Mapped[bool] = mapped_column(server_default=text("false"))
    display_name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity.persons.id"), index=True)
    last_login_at: Mapped[datetime | None]
    synced_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class RetentionHold(Base):
    """A legal obligation to keep a person's PII; erasure is refused while one is active
    (`released_at IS NULL`)."""

    __tablename__ = "retention_holds"
    __table_args__ = (
        CheckConstraint("released_at IS NULL OR released_at >= placed_at", name="released_after_placed"),
        CheckConstraint("length(reason) > 0 AND length(authority) > 0", name="reason_authority_present"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity.persons.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    authority: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(Text)
    placed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    released_by: Mapped[str | None] = mapped_column(Text)
    released_at: Mapped[datetime | None]


class PersonMerge(Base):
    """A duplicate resolved: source was merged into target. A person is merged at most once."""

    __tablename__ = "person_merges"
    __table_args__ = (
        CheckConstraint("source_person_id <> target_person_id", name="not_self"),
        CheckConstraint("length(reason) > 0", name="reason_present"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    source_person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity.persons.id"), unique=True)
    target_person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity.persons.id"), index=True)
    merged_by: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    merged_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
