"""identity's public data: DTOs and events other modules may rely on.

Events are published with `uow.emit(TYPE, data=<struct>)`, so subscribers receive `event.data`
as plain builtins; turn it back into the struct with `msgspec.convert(event.data, Struct)`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

PersonKind = Literal["individual", "business", "legal_entity"]
UserStatus = Literal["active", "disabled"]

PERSON_CREATED = "identity.person.created"
PERSON_UPDATED = "identity.person.updated"
PERSON_ERASED = "identity.person.erased"
# Subscribers re-point their own rows (memberships, billing accounts) from source to target
# inside the publishing transaction, so a merge commits or rolls back as a whole.
PERSON_MERGED = "identity.person.merged"
RETENTION_HOLD_PLACED = "identity.retention_hold.placed"
RETENTION_HOLD_RELEASED = "identity.retention_hold.released"
USER_CREATED = "identity.user.created"
USER_UPDATED = "identity.user.updated"
TOKEN_CREATED = "identity.token.created"  # noqa: S105 (an event name)
TOKEN_REVOKED = "identity.token.revoked"  # noqa: S105 (an event name)


class PersonDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    kind: PersonKind
    display_name: str
    email: str | None
    legal_name: str | None
    created_at: datetime
    phone: str | None = None
    country: str | None = None
    tax_id: str | None = None
    merged_into_id: uuid.UUID | None = None  # set once this person was merged into another
    erased_at: datetime | None = None  # set once the person's PII was erased
    updated_at: datetime | None = None


class PersonCreated(msgspec.Struct, frozen=True, kw_only=True):
    person_id: uuid.UUID
    kind: str
    display_name: str


class PersonMerged(msgspec.Struct, frozen=True, kw_only=True):
    """`source_person_id` was merged into `target_person_id`; the source row stays (with
    `merged_into_id`) but must no longer own anything."""

    source_person_id: uuid.UUID
    target_person_id: uuid.UUID


class IssuedToken(msgspec.Struct, frozen=True, kw_only=True):
    """A newly issued secret. `token` is shown once and never stored in clear."""

    id: uuid.UUID
    person_id: uuid.UUID
    name: str
    prefix: str
    token: str
    scopes: list[str]
    expires_at: datetime | None
