"""entitlements's public facade: async functions taking a UnitOfWork. Filled by the entitlements issue."""

from __future__ import annotations

__all__: list[str] = []
