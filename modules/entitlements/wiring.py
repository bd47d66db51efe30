"""entitlements's declaration for the composition root."""

from __future__ import annotations

from modules.entitlements.cli import COMMANDS
from modules.entitlements.jobs import REMATERIALIZE
from modules.entitlements.routes import CONTROLLERS
from modules.entitlements.routes.fast_check import fast_check
from modules.entitlements.services.check import invalidate_checks
from platform_core.messaging.uow import Subscription
from platform_core.runtime.module import ModuleSpec

MODULE = ModuleSpec(
    name="entitlements",
    schema="entitlements",
    route_handlers=CONTROLLERS,
    subscriptions=[
        Subscription("entitlements.*", invalidate_checks),
        Subscription("organization.*", invalidate_checks),
    ],
    cli_commands=COMMANDS,
    fast_routes={"/entitlements/check": fast_check},
    scheduled_jobs=[REMATERIALIZE],
)
