"""HTTP request and response bodies of identity's routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from modules.identity.contracts import PersonKind

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[
    str, msgspec.Meta(max_length=320, pattern=r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$")
]
Phone = Annotated[str, msgspec.Meta(max_length=40, pattern=r"^\+?[0-9][0-9 ().-]{2,39}$")]
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
TaxId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
# `*`, `platform:admin` or `<module>.<resource>:<action>`, where any part may be `*`
_PART = r"(\*|[a-z][a-z0-9_]*)"
Scope = Annotated[str, msgspec.Meta(max_length=120, pattern=rf"^(\*|{_PART}(\.{_PART})?:{_PART})$")]


class CreatePerson(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: PersonKind
    display_name: Name
    email: Email | None = None
    legal_name: Name | None = None


class UpdatePerson(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only the fields present change; `null` clears an optional field."""

    display_name: Name | msgspec.UnsetType = msgspec.UNSET
    legal_name: Name | msgspec.UnsetType | None = msgspec.UNSET
    email: Email | msgspec.UnsetType | None = msgspec.UNSET
    phone: Phone | msgspec.UnsetType | None = msgspec.UNSET
    country: Country | msgspec.UnsetType | None = msgspec.UNSET
    tax_id: TaxId | msgspec.UnsetType | None = msgspec.UNSET


class PlaceRetentionHold(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Text
    authority: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class RetentionHoldDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    person_id: uuid.UUID
    reason: str
    authority: str
    reference: str | None
    placed_by: str
    placed_at: datetime
    released_by: str | None
    released_at: datetime | None
    active: bool


class MergePerson(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    target_person_id: uuid.UUID
    reason: Text


class PersonMergeDTO(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    source_person_id: uuid.UUID
    target_person_id: uuid.UUID
    merged_by: str
    reason: str
    merged_at: datetime


class CreateToken(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=50)]
    expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None  # with its offset


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A token as listed: never its secret."""

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class KeycloakUser(msgspec.Struct, kw_only=True, rename="camel"):
    """The fields of Keycloak's UserRepresentation that Keel mirrors. Keycloak sends many more
    (attributes, createdTimestamp, totp, …); they are accepted and ignored so an export from
    `GET /admin/realms/{realm}/users` can be posted unchanged."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    username: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    email_verified: bool = False
    first_name: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    last_name: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    enabled: bool = True


MAX_SYNC_BATCH = 1000
KeycloakUsers = Annotated[list[KeycloakUser], msgspec.Meta(min_length=1, max_length=MAX_SYNC_BATCH)]


class SyncResult(msgspec.Struct, frozen=True, kw_only=True):
    created: int
    updated: int
    unchanged: int
