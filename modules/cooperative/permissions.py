"""Permissions cooperative's routes declare (`<module>.<resource>:<action>`)."""

from __future__ import annotations

PATRONAGE_READ = "cooperative.patronage:read"  # organization scope (members hold cooperative.*:read)
PATRONS_READ = "cooperative.patrons:read"  # platform scope
ALLOCATIONS_READ = "cooperative.allocations:read"  # platform scope
ALLOCATIONS_WRITE = "cooperative.allocations:write"  # platform scope: compute, approve, pay
