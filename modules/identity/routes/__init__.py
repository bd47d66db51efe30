"""identity's HTTP routes under /identity."""

from __future__ import annotations

from modules.identity.routes.me import MeController
from modules.identity.routes.persons import PersonController
from modules.identity.routes.sync import SyncController

CONTROLLERS = [PersonController, MeController, SyncController]
