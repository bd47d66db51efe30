"""billing's public facade: async functions taking a UnitOfWork. Filled by the billing issue."""

from __future__ import annotations

__all__: list[str] = []
