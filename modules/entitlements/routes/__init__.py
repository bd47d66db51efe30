"""entitlements's HTTP routes under /entitlements."""

from __future__ import annotations

from modules.entitlements.routes.catalog import CatalogController
from modules.entitlements.routes.grants import GrantController
from modules.entitlements.routes.pools import PoolController
from modules.entitlements.routes.usage import UsageController

CONTROLLERS = [CatalogController, PoolController, GrantController, UsageController]

__all__ = ["CONTROLLERS"]
