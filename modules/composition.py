"""The composition root: the one place that lists Keel's modules and assembles them."""

from __future__ import annotations

from litestar import Litestar

from modules.audit.wiring import MODULE as AUDIT
from modules.billing.wiring import MODULE as BILLING
from modules.cooperative.wiring import MODULE as COOPERATIVE
from modules.entitlements.wiring import MODULE as ENTITLEMENTS
from modules.identity.wiring import MODULE as IDENTITY
from modules.integration.wiring import MODULE as INTEGRATION
from modules.organization.wiring import MODULE as ORGANIZATION
from platform_core.core.config import Settings
from platform_core.http.app import create_app
from platform_core.runtime.module import ModuleSpec
from platform_core.runtime.runtime import Runtime

MODULES: tuple[ModuleSpec, ...] = (
    IDENTITY,
    ORGANIZATION,
    ENTITLEMENTS,
    BILLING,
    COOPERATIVE,
    AUDIT,
    INTEGRATION,
)


def build_runtime(settings: Settings) -> Runtime:
    return Runtime(settings, MODULES)


def build_app(settings: Settings) -> Litestar:
    return create_app(build_runtime(settings))


def main() -> None:
    """Console entry point `keel`."""
    from migrations import KEEL_MIGRATIONS
    from modules.demo import demo_command
    from modules.reconcile import billing_group
    from platform_core.cli.main import build_cli

    build_cli(MODULES, build_runtime, KEEL_MIGRATIONS, extra_commands=[demo_command, billing_group])()
