"""billing's declaration for the composition root."""

from __future__ import annotations

from platform_core.module import ModuleSpec

MODULE = ModuleSpec(name="billing", schema="billing")
