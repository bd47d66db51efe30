"""identity — who is this actor, and how do they authenticate (persons, users, tokens).

Authentication: personal access tokens (`keel_pat_…`) and Keycloak access tokens (JWTs,
verified by `platform_core.auth.oidc`; the first token of a `sub` provisions a user and a person).

Who may do what. Identity sits below organization in the module chain and cannot see
organizations, so its routes do not consult the RBAC authorizer:
- a person may read and update their own person (`/identity/persons/{own id}`, `/identity/me`),
  erase their own PII, and manage their own tokens (`/identity/me/tokens`);
- platform operators (credentials holding the `platform:admin` scope) may do that for anyone,
  and alone may create persons, place/release retention holds, merge persons and post
  Keycloak sync batches;
- anyone else gets 404 for a person (as if it did not exist), 403 on the operator-only routes
  that name no resource. A credential's scopes still narrow what its holder may do.
Listing the persons of an organization is organization's job (`/orgs/{org_id}/persons`).
"""
