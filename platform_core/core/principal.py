"""Who acts: the authenticated caller of a request (`Principal`) and the author an event
records (`Actor`)."""

from __future__ import annotations

import uuid

import msgspec


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who caused an event: a person, a service account, or the system itself."""

    type: str
    id: str | None = None
    name: str | None = None


PLATFORM_ADMIN_SCOPE = "platform:admin"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller of one request."""

    type: str  # "person" | "service_account" | "system"
    id: uuid.UUID
    name: str | None = None
    org_id: uuid.UUID | None = None  # set for service accounts, which belong to one org
    scopes: frozenset[str] = frozenset()
    credential_id: uuid.UUID | None = None
    source_ip: str | None = None
    rate_limit_per_min: int | None = None  # the credential's request budget, counted per minute

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN_SCOPE in self.scopes

    def as_actor(self) -> Actor:
        return Actor(type=self.type, id=str(self.id), name=self.name)
