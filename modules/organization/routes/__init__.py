"""organization's HTTP routes: /organizations, /orgs/{org_id}/..., /invitations/accept."""

from __future__ import annotations

from modules.organization.routes.access import AssignmentController, AuthzController, RoleController
from modules.organization.routes.invitations import InvitationAcceptController, InvitationController
from modules.organization.routes.members import MemberController, PersonController
from modules.organization.routes.organizations import OrganizationController
from modules.organization.routes.service_accounts import ServiceAccountController
from modules.organization.routes.workspaces import WorkspaceController

CONTROLLERS = [
    OrganizationController,
    MemberController,
    PersonController,
    RoleController,
    AssignmentController,
    AuthzController,
    WorkspaceController,
    ServiceAccountController,
    InvitationController,
    InvitationAcceptController,
]
