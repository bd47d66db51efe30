"""integration's public facade: async functions taking a UnitOfWork. Filled by the integration issue."""

from __future__ import annotations

__all__: list[str] = []
