"""entitlements's declaration for the composition root."""

from __future__ import annotations

from modules.entitlements.cli import COMMANDS
from modules.entitlements.routes import CONTROLLERS
from platform_core.module import ModuleSpec

MODULE = ModuleSpec(
    name="entitlements", schema="entitlements", route_handlers=CONTROLLERS, cli_commands=COMMANDS
)
