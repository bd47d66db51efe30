"""cooperative's public facade: async functions taking a UnitOfWork."""

from __future__ import annotations

from modules.cooperative.services.patronage import allocate, patronage_of

__all__ = ["allocate", "patronage_of"]
