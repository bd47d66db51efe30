"""/identity/sync: mirror Keycloak accounts in bulk (platform operators)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from modules.identity.guards import operator
from modules.identity.schemas import KeycloakUsers, SyncResult
from modules.identity.services import users
from platform_core.messaging.uow import UnitOfWork


class SyncController(Controller):
    path = "/identity/sync"
    tags = ["identity"]

    @post(
        "/keycloak",
        guards=[operator("identity.users:sync")],
        status_code=200,
        summary="Upsert a batch of Keycloak UserRepresentations",
    )
    async def keycloak(self, data: JSONBody[KeycloakUsers], uow: NamedDependency[UnitOfWork]) -> SyncResult:
        # 1 to MAX_SYNC_BATCH users: refused by the decoder (400 naming `data`), as documented
        return await users.sync_batch(uow, data)
