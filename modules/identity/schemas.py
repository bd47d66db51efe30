"""HTTP request bodies of identity's routes."""

from __future__ import annotations

from typing import Annotated

import msgspec

from modules.identity.contracts import PersonKind

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[str, msgspec.Meta(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class CreatePerson(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: PersonKind
    display_name: Name
    email: Email | None = None
    legal_name: Name | None = None
