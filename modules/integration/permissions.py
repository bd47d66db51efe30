"""Permissions integration's routes declare (`<module>.<resource>:<action>`)."""

from __future__ import annotations

WEBHOOKS_READ = "integration.webhooks:read"
WEBHOOKS_WRITE = "integration.webhooks:write"
