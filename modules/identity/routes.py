"""identity's HTTP routes under /identity."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.identity.contracts import PersonDTO
from modules.identity.schemas import CreatePerson
from modules.identity.services import persons
from platform_core.http_auth import requires
from platform_core.idempotency import idempotent
from platform_core.uow import UnitOfWork


class PersonController(Controller):
    path = "/identity/persons"
    tags = ["identity"]

    @post("/", guards=[requires("identity.persons:write")], status_code=201, summary="Create a person")
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[CreatePerson], uow: NamedDependency[UnitOfWork]
    ) -> Response[Any]:
        async def produce() -> tuple[int, PersonDTO]:
            person = await persons.create_person(
                uow,
                kind=data.kind,
                display_name=data.display_name,
                email=data.email,
                legal_name=data.legal_name,
            )
            return 201, person

        return await idempotent(request, uow, produce)

    @get("/{person_id:uuid}", guards=[requires("identity.persons:read")], summary="Get a person")
    async def get_one(self, person_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]) -> PersonDTO:
        return await persons.get_person(uow, person_id)
