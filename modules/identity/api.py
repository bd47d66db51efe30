"""identity's public facade. Other modules call these with their UnitOfWork."""

from __future__ import annotations

from modules.identity.services.persons import create_person, get_person
from modules.identity.services.tokens import issue_token, revoke_token

__all__ = ["create_person", "get_person", "issue_token", "revoke_token"]
