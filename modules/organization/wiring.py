"""organization's declaration for the composition root."""

from __future__ import annotations

from modules.identity.contracts import PERSON_MERGED
from modules.organization.cli import COMMANDS
from modules.organization.contracts import SERVICE_ACCOUNT_KEY_PREFIX
from modules.organization.jobs import EXPIRE_INVITATIONS
from modules.organization.routes import CONTROLLERS
from modules.organization.services.authz import OrganizationAuthorizer, invalidate_decisions
from modules.organization.services.keys import invalidate_credentials, resolve_service_account_key
from modules.organization.services.merges import on_person_merged
from platform_core.messaging.uow import Subscription
from platform_core.runtime.module import ModuleSpec

MODULE = ModuleSpec(
    name="organization",
    schema="organization",
    route_handlers=CONTROLLERS,
    subscriptions=[
        Subscription(PERSON_MERGED, on_person_merged),
        Subscription("organization.*", invalidate_decisions),
        Subscription("organization.*", invalidate_credentials),
        Subscription("identity.person.*", invalidate_decisions),
    ],
    credential_resolvers={SERVICE_ACCOUNT_KEY_PREFIX: resolve_service_account_key},
    authorizer=OrganizationAuthorizer(),
    cli_commands=COMMANDS,
    scheduled_jobs=[EXPIRE_INVITATIONS],
)
