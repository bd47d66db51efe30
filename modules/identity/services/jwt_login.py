"""The credential resolver for Keycloak access tokens (JWTs, which all start with `eyJ`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from modules.identity.services.users import login, profile_from_claims
from platform_core.auth.credentials import CredentialContext, SessionSource
from platform_core.auth.oidc import InvalidToken, verifier_for
from platform_core.core.principal import Principal
from platform_core.messaging.uow import EventBus, RequestContext, UnitOfWork

log = logging.getLogger(__name__)

JWT_PREFIX = "eyJ"  # base64url of `{"`, the start of every JWS header
# Keycloak marks its ID and refresh tokens with another `typ`; only access tokens authenticate
ACCESS_TOKEN_TYPES = (None, "Bearer")
# a token resolved for a person: the person's full rights, narrowed only by RBAC
PERSON_SCOPES = frozenset({"*"})


def _login_time(claims: dict[str, object]) -> datetime | None:
    value = claims.get("auth_time", claims.get("iat"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


async def resolve_jwt(sessions: SessionSource, token: str, context: CredentialContext) -> Principal | None:
    settings = context.settings
    verifier = verifier_for(settings) if settings is not None else None
    if verifier is None:
        return None
    try:
        claims = await verifier.verify(token)
    except InvalidToken as exc:
        log.info("JWT refused: %s", exc.reason)
        return None
    if claims.get("typ") not in ACCESS_TOKEN_TYPES:
        log.info("JWT refused: typ %r is not an access token", claims.get("typ"))
        return None
    session = sessions()

    def make_uow() -> UnitOfWork:
        return UnitOfWork(
            session,
            context.bus or EventBus(),
            context=RequestContext(source_ip=context.source_ip, user_agent=context.user_agent),
            settings=settings,
            caches=context.caches,
        )

    found = await login(session, profile_from_claims(claims), _login_time(claims), make_uow)
    if not found.active:
        return None
    return Principal(
        type="person",
        id=found.person_id,
        name=found.person_name,
        scopes=PERSON_SCOPES,
        credential_id=found.user_id,
        source_ip=context.source_ip,
    )
