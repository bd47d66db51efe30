"""identity's public data: DTOs and events other modules may rely on."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

PersonKind = Literal["individual", "business", "legal_entity"]

PERSON_CREATED = "identity.person.created"
TOKEN_CREATED = "identity.token.created"  # noqa: S105 (an event name)


class PersonDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    kind: PersonKind
    display_name: str
    email: str | None
    legal_name: str | None
    created_at: datetime


class PersonCreated(msgspec.Struct, frozen=True, kw_only=True):
    person_id: uuid.UUID
    kind: str
    display_name: str


class IssuedToken(msgspec.Struct, frozen=True, kw_only=True):
    """A newly issued secret. `token` is shown once and never stored in clear."""

    id: uuid.UUID
    person_id: uuid.UUID
    name: str
    prefix: str
    token: str
    scopes: list[str]
    expires_at: datetime | None
