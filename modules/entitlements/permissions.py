"""Permissions entitlements's routes declare (`<module>.<resource>:<action>`)."""

from __future__ import annotations

# platform scope (operators): the catalog, and issuing or revoking grants
CATALOG_READ = "entitlements.catalog:read"
CATALOG_WRITE = "entitlements.catalog:write"
GRANTS_WRITE = "entitlements.grants:write"
# organization scope
GRANTS_READ = "entitlements.grants:read"
POOLS_READ = "entitlements.pools:read"
POOLS_WRITE = "entitlements.pools:write"
USAGE_READ = "entitlements.usage:read"
USAGE_WRITE = "entitlements.usage:write"
CHECK = "entitlements.check:read"
