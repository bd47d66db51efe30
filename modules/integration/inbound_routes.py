"""POST /integration/webhooks/{provider}: where payment and other providers send their events.
No bearer credential: the provider's signature is the credential."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import Parameter

from modules.integration.services.inbound import process_soon, receive
from modules.integration.services.inbound_verify import verify
from platform_core.http import idempotency
from platform_core.http.openapi import raw_json_body
from platform_core.messaging.uow import UnitOfWork

MAX_BODY_BYTES = 1024 * 1024
Provider = Annotated[str, Parameter(pattern=r"^[a-z][a-z0-9_-]{0,49}$")]


class Receipt(msgspec.Struct, kw_only=True):
    id: str
    duplicate: bool  # received before: nothing was stored or processed again


class InboundWebhookController(Controller):
    path = "/integration/webhooks"
    tags = ["integration"]

    @post(
        "/{provider:str}",
        status_code=200,
        request_max_body_size=MAX_BODY_BYTES,
        # providers send no Idempotency-Key; a redelivery is recognised by its event id instead
        opt={
            **idempotency.exempt("providers redeliver the same event id, which is stored once"),
            **raw_json_body("The provider's event, as it signed it"),
        },
        summary="Receive a provider's signed event (stored once, processed in the background)",
    )
    async def receive(
        self, request: Request[Any, Any, Any], provider: Provider, uow: NamedDependency[UnitOfWork]
    ) -> Receipt:
        event = verify(provider, uow.settings, await request.body(), request.headers)
        event_id, duplicate = await receive(uow, provider, event)
        if not duplicate:
            uows = request.app.state.runtime.uow
            uow.after_commit("inbound-webhooks", lambda: process_soon(uows))
        return Receipt(id=str(event_id), duplicate=duplicate)
