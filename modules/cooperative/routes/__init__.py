"""cooperative's routes under /cooperative."""

from __future__ import annotations

from modules.cooperative.routes.allocations import AllocationController
from modules.cooperative.routes.patronage import CooperativeController

CONTROLLERS = [CooperativeController, AllocationController]

__all__ = ["CONTROLLERS", "AllocationController", "CooperativeController"]
