"""cooperative's public facade: async functions taking a UnitOfWork (the reconciliation check
takes a session: it only reads, in the caller's snapshot)."""

from __future__ import annotations

from modules.cooperative.services.patronage import allocate, patronage_of
from modules.cooperative.services.reconcile import check_patronage

__all__ = ["allocate", "check_patronage", "patronage_of"]
