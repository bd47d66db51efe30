"""Fixtures of organization's tests."""

from __future__ import annotations

import uuid

import pytest

from modules.identity import api as identity_api
from platform_core.runtime.runtime import Runtime
from tests.organization.helpers import MakePerson, Person


@pytest.fixture
def make_person(runtime: Runtime) -> MakePerson:
    async def make(name: str = "Someone", scopes: list[str] | None = None) -> Person:
        email = f"{uuid.uuid4().hex[:10]}@example.test"
        async with runtime.uow() as uow:
            person = await identity_api.create_person(uow, kind="individual", display_name=name, email=email)
            token = await identity_api.issue_token(
                uow, person_id=person.id, name="tests", scopes=scopes or ["*"]
            )
        return Person(id=person.id, email=email, headers={"Authorization": f"Bearer {token.token}"})

    return make
