"""organization's public facade: async functions taking a UnitOfWork. Filled by the organization issue."""

from __future__ import annotations

__all__: list[str] = []
