"""/identity/me: the calling person, and their personal access tokens."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from modules.identity.contracts import IssuedToken, PersonDTO
from modules.identity.guards import the_person
from modules.identity.schemas import CreateToken, TokenInfo
from modules.identity.services import persons, tokens
from platform_core.auth import Principal
from platform_core.pagination import Page, check_limit
from platform_core.uow import UnitOfWork


class MeController(Controller):
    path = "/identity/me"
    tags = ["identity"]

    @get("/", guards=[the_person("identity.persons:read")], summary="The calling person")
    async def me(self, principal: NamedDependency[Principal], uow: NamedDependency[UnitOfWork]) -> PersonDTO:
        return await persons.get_person(uow, principal.id)

    # No Idempotency-Key here on purpose: a replay would have to store the secret in clear.
    @post(
        "/tokens",
        guards=[the_person("identity.tokens:create")],
        status_code=201,
        summary="Create a personal access token (the secret is shown once)",
    )
    async def create_token(
        self,
        data: JSONBody[CreateToken],
        principal: NamedDependency[Principal],
        uow: NamedDependency[UnitOfWork],
    ) -> IssuedToken:
        return await tokens.issue_own_token(
            uow, principal, name=data.name, scopes=data.scopes, expires_at=data.expires_at
        )

    @get("/tokens", guards=[the_person("identity.tokens:read")], summary="List my tokens (no secrets)")
    async def list_tokens(
        self,
        principal: NamedDependency[Principal],
        uow: NamedDependency[UnitOfWork],
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Page[TokenInfo]:
        return await tokens.list_tokens(uow, principal.id, limit=check_limit(limit), cursor=cursor)

    @delete(
        "/tokens/{token_id:uuid}",
        guards=[the_person("identity.tokens:revoke")],
        summary="Revoke a token (effective on the next request)",
    )
    async def revoke_token(
        self,
        token_id: FromPath[uuid.UUID],
        principal: NamedDependency[Principal],
        uow: NamedDependency[UnitOfWork],
    ) -> None:
        await tokens.revoke_token(uow, principal.id, token_id)
