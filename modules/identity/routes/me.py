"""/identity/me: the calling person, and their personal access tokens."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.identity.contracts import IssuedToken, PersonDTO
from modules.identity.guards import caller, the_person
from modules.identity.schemas import CreateToken, TokenInfo
from modules.identity.services import persons, tokens
from platform_core.http.list_params import Cursor, Limit
from platform_core.messaging.uow import UnitOfWork
from platform_core.persistence.pagination import Page, check_limit


# The caller comes from the unit of work, not from a second `principal` dependency: Litestar
# resolves sibling dependencies in an anyio task group, which costs more than the handler.
class MeController(Controller):
    path = "/identity/me"
    tags = ["identity"]

    @get("/", guards=[the_person("identity.persons:read")], summary="The calling person")
    async def me(self, uow: NamedDependency[UnitOfWork]) -> PersonDTO:
        return await persons.get_person(uow, caller(uow).id)

    @post(
        "/tokens",
        guards=[the_person("identity.tokens:create")],
        status_code=201,
        summary="Create a personal access token (the secret is shown once)",
    )
    async def create_token(
        self,
        data: JSONBody[CreateToken],
        uow: NamedDependency[UnitOfWork],
    ) -> IssuedToken:
        return await tokens.issue_own_token(
            uow, caller(uow), name=data.name, scopes=data.scopes, expires_at=data.expires_at
        )

    @get("/tokens", guards=[the_person("identity.tokens:read")], summary="List my tokens (no secrets)")
    async def list_tokens(
        self,
        uow: NamedDependency[UnitOfWork],
        limit: Limit = None,
        cursor: Cursor = None,
    ) -> Page[TokenInfo]:
        return await tokens.list_tokens(uow, caller(uow).id, limit=check_limit(limit), cursor=cursor)

    @delete(
        "/tokens/{token_id:uuid}",
        guards=[the_person("identity.tokens:revoke")],
        summary="Revoke a token (effective on the next request)",
    )
    async def revoke_token(
        self,
        token_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> None:
        await tokens.revoke_token(uow, caller(uow).id, token_id)
