"""identity's declaration for the composition root."""

from __future__ import annotations

from modules.identity.cli import COMMANDS
from modules.identity.routes import CONTROLLERS
from modules.identity.services.jwt_login import JWT_PREFIX, resolve_jwt
from modules.identity.services.tokens import PAT_PREFIX, invalidate_credentials, resolve_pat
from platform_core.messaging.uow import Subscription
from platform_core.runtime.module import ModuleSpec

MODULE = ModuleSpec(
    name="identity",
    schema="identity",
    route_handlers=CONTROLLERS,
    subscriptions=[Subscription("identity.*", invalidate_credentials)],
    credential_resolvers={PAT_PREFIX: resolve_pat, JWT_PREFIX: resolve_jwt},
    cli_commands=COMMANDS,
)
