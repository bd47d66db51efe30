"""/identity/persons: create, read, update, erase, retention holds, merges."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from modules.identity.contracts import PersonDTO
from modules.identity.guards import operator, operator_on_person, self_or_operator
from modules.identity.schemas import (
    CreatePerson,
    MergePerson,
    PersonMergeDTO,
    PlaceRetentionHold,
    RetentionHoldDTO,
    UpdatePerson,
)
from modules.identity.services import holds, merges, persons
from platform_core.messaging.uow import UnitOfWork


class PersonController(Controller):
    path = "/identity/persons"
    tags = ["identity"]

    @post("/", guards=[operator("identity.persons:create")], status_code=201, summary="Create a person")
    async def create(self, data: JSONBody[CreatePerson], uow: NamedDependency[UnitOfWork]) -> PersonDTO:
        person = await persons.create_person(
            uow,
            kind=data.kind,
            display_name=data.display_name,
            email=data.email,
            legal_name=data.legal_name,
        )
        return person

    @get("/{person_id:uuid}", guards=[self_or_operator("identity.persons:read")], summary="Get a person")
    async def get_one(self, person_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]) -> PersonDTO:
        return await persons.get_person(uow, person_id)

    @patch(
        "/{person_id:uuid}",
        guards=[self_or_operator("identity.persons:update")],
        summary="Update a person (only the fields sent; null clears)",
    )
    async def update(
        self, person_id: FromPath[uuid.UUID], data: JSONBody[UpdatePerson], uow: NamedDependency[UnitOfWork]
    ) -> PersonDTO:
        return await persons.update_person(uow, person_id, data)

    @delete(
        "/{person_id:uuid}/pii",
        guards=[self_or_operator("identity.persons:erase")],
        status_code=200,
        summary="Erase a person's PII (409 while a retention hold is active)",
    )
    async def erase(self, person_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]) -> PersonDTO:
        return await persons.erase_person(uow, person_id)

    @get(
        "/{person_id:uuid}/retention-holds",
        guards=[operator_on_person("identity.retention_holds:read")],
        summary="List a person's retention holds",
    )
    async def list_holds(
        self, person_id: FromPath[uuid.UUID], uow: NamedDependency[UnitOfWork]
    ) -> list[RetentionHoldDTO]:
        return await holds.list_holds(uow, person_id)

    @post(
        "/{person_id:uuid}/retention-holds",
        guards=[operator_on_person("identity.retention_holds:place")],
        status_code=201,
        summary="Place a retention hold (blocks PII erasure)",
    )
    async def place_hold(
        self,
        person_id: FromPath[uuid.UUID],
        data: JSONBody[PlaceRetentionHold],
        uow: NamedDependency[UnitOfWork],
    ) -> RetentionHoldDTO:
        return await holds.place_hold(uow, person_id, data)

    @post(
        "/{person_id:uuid}/retention-holds/{hold_id:uuid}/release",
        guards=[operator_on_person("identity.retention_holds:release")],
        status_code=200,
        summary="Release a retention hold",
    )
    async def release_hold(
        self,
        person_id: FromPath[uuid.UUID],
        hold_id: FromPath[uuid.UUID],
        uow: NamedDependency[UnitOfWork],
    ) -> RetentionHoldDTO:
        return await holds.release_hold(uow, person_id, hold_id)

    @post(
        "/{person_id:uuid}/merge",
        guards=[operator_on_person("identity.persons:merge")],
        status_code=201,
        summary="Merge this (duplicate) person into another",
    )
    async def merge(
        self,
        person_id: FromPath[uuid.UUID],
        data: JSONBody[MergePerson],
        uow: NamedDependency[UnitOfWork],
    ) -> PersonMergeDTO:
        return await merges.merge_person(uow, person_id, data.target_person_id, data.reason)
