"""entitlements's public data: DTOs and versioned events."""

from __future__ import annotations
