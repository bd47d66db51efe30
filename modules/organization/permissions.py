"""Permission strings and how role permissions match them.

A permission reads `<module>.<resource>:<action>` (e.g. `organization.members:remove`). A role's
permission entry is either such a string or a pattern where any of the three parts is `*`
(`billing.*:*`, `organization.members:*`, `*.*:read`), or the single `*` (everything).
An action named `read` is a read; every other action is a write, refused in frozen or archived
organizations (except the lifecycle permission, so an operator can unfreeze)."""

from __future__ import annotations

import re
from collections.abc import Iterable

PERMISSION_PATTERN = r"^(\*|[a-z][a-z0-9_]*)\.(\*|[a-z][a-z0-9_]*):(\*|[a-z][a-z0-9_]*)$"
ENTRY_PATTERN = r"^(\*|(\*|[a-z][a-z0-9_]*)\.(\*|[a-z][a-z0-9_]*):(\*|[a-z][a-z0-9_]*))$"
CONCRETE_PERMISSION_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$"
_ENTRY = re.compile(PERMISSION_PATTERN)

ORG_READ = "organization.organizations:read"
ORG_CREATE = "organization.organizations:create"
ORG_LIST = "organization.organizations:list"
ORG_UPDATE = "organization.organizations:update"
ORG_SET_STATUS = "organization.organizations:set_status"
MEMBERS_READ = "organization.members:read"
MEMBERS_UPDATE = "organization.members:update"
MEMBERS_REMOVE = "organization.members:remove"
PERSONS_READ = "organization.persons:read"
ROLES_READ = "organization.roles:read"
ROLES_CREATE = "organization.roles:create"
ROLES_UPDATE = "organization.roles:update"
ROLES_DELETE = "organization.roles:delete"
ASSIGNMENTS_READ = "organization.role_assignments:read"
ASSIGNMENTS_CREATE = "organization.role_assignments:create"
ASSIGNMENTS_DELETE = "organization.role_assignments:delete"
OWNERS_MANAGE = "organization.owners:manage"
WORKSPACES_READ = "organization.workspaces:read"
WORKSPACES_CREATE = "organization.workspaces:create"
WORKSPACES_UPDATE = "organization.workspaces:update"
WORKSPACES_DELETE = "organization.workspaces:delete"
SERVICE_ACCOUNTS_READ = "organization.service_accounts:read"
SERVICE_ACCOUNTS_CREATE = "organization.service_accounts:create"
SERVICE_ACCOUNTS_UPDATE = "organization.service_accounts:update"
SERVICE_ACCOUNTS_DELETE = "organization.service_accounts:delete"
KEYS_CREATE = "organization.service_accounts:create_key"
KEYS_REVOKE = "organization.service_accounts:revoke_key"
INVITATIONS_READ = "organization.invitations:read"
INVITATIONS_CREATE = "organization.invitations:create"
INVITATIONS_REVOKE = "organization.invitations:revoke"
INVITATIONS_ACCEPT = "organization.invitations:accept"
AUTHZ_CHECK = "organization.authz:read"

# Granted to every authenticated person outside any organization: starting an organization,
# listing their own organizations and answering an invitation addressed to them.
SELF_SERVICE = frozenset({ORG_CREATE, ORG_LIST, INVITATIONS_ACCEPT})

# Writes that stay possible in a frozen or archived organization.
LIFECYCLE = frozenset({ORG_SET_STATUS})


def is_valid_entry(entry: str) -> bool:
    return entry == "*" or _ENTRY.fullmatch(entry) is not None


def _split(permission: str) -> tuple[str, str, str]:
    module_resource, _, action = permission.partition(":")
    module, _, resource = module_resource.partition(".")
    return module, resource, action


def entry_grants(entry: str, permission: str) -> bool:
    if entry == "*" or entry == permission:
        return True
    wanted = _split(permission)
    return all(have in ("*", want) for have, want in zip(_split(entry), wanted, strict=True))


def any_grants(entries: Iterable[str], permission: str) -> bool:
    return any(entry_grants(entry, permission) for entry in entries)


def is_read(permission: str) -> bool:
    return permission.rpartition(":")[2] == "read"


def blocked_when_frozen(permission: str) -> bool:
    return not is_read(permission) and permission not in LIFECYCLE
