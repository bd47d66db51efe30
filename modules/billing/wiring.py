"""billing's declaration for the composition root."""

from __future__ import annotations

from modules.billing.jobs import RENEW_SUBSCRIPTIONS
from modules.billing.routes import CONTROLLERS
from platform_core.module import ModuleSpec

MODULE = ModuleSpec(
    name="billing",
    schema="billing",
    route_handlers=CONTROLLERS,
    scheduled_jobs=[RENEW_SUBSCRIPTIONS],
)
