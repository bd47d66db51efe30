"""billing's public facade: async functions taking a UnitOfWork."""

from __future__ import annotations

from modules.billing.services.accounts import get_account
from modules.billing.services.subscriptions import get_subscription

__all__ = ["get_account", "get_subscription"]
