"""What a module declares in its `wiring.py`: everything the kernel needs to plug it in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click
from litestar.types import ControllerRouterHandler

from platform_core.auth.credentials import Authorizer, CredentialResolver
from platform_core.cache.hot_cache import HotCaches
from platform_core.core.principal import Principal
from platform_core.messaging.outbox import OutboxRelaySpec
from platform_core.messaging.scheduler import ScheduledJob
from platform_core.messaging.uow import Subscription

WebhookHandler = Callable[..., Any]


@dataclass(frozen=True)
class FastRequest:
    """What a fast-lane handler (see platform_core.http.fast_lane) gets: the caches to answer
    from, the resolved caller, and the plain query string."""

    caches: HotCaches
    principal: Principal
    query: Mapping[str, str]


FastHandler = Callable[[FastRequest], Awaitable[bytes | None]]


@dataclass(frozen=True)
class ModuleSpec:
    name: str
    schema: str
    route_handlers: Sequence[ControllerRouterHandler] = ()
    subscriptions: Sequence[Subscription] = ()
    relays: Sequence[OutboxRelaySpec] = ()
    credential_resolvers: Mapping[str, CredentialResolver] = field(default_factory=dict)
    authorizer: Authorizer | None = None
    cli_commands: Sequence[click.Command] = ()
    public_paths: Sequence[str] = ()  # path prefixes served without a credential
    # GET paths also answered from the hot caches when possible (see platform_core.http.fast_lane);
    # each must have an ordinary route too
    fast_routes: Mapping[str, FastHandler] = field(default_factory=dict)
    scheduled_jobs: Sequence[ScheduledJob] = ()  # housekeeping the workers run on a timetable
