"""schemathesis hooks for the conformance run (loaded by the CLI through `hooks` in
schemathesis.toml).

- Every schema-valid request gets a fresh `Idempotency-Key`: the generator is deterministic and
  would otherwise send the same key with different bodies, which Keel rightly refuses (422).
- A whole number drawn as a float (`2.0`) is sent as `2`: JSON Schema counts both as the same
  integer, but Keel's strict decoding (issue 9 point 6) refuses `2.0` where an integer is
  documented, a spelling no schema can tell apart.
- Valid data must be accepted, as schemathesis's `positive_data_acceptance` says, except where Keel
  refuses it by a rule that a JSON Schema cannot state: those rules are listed below, by problem
  code, each with the reason, and a NUL character in a string, which Keel refuses everywhere
  (PostgreSQL cannot store one) and which the generator keeps sending so that a 500 on one would
  still show. A schema-valid request refused for anything else (a bound, a pattern, an either-or
  the schema could have carried) still fails the run.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis
from schemathesis.generation.modes import GenerationMode
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

IDEMPOTENCY_HEADER = "Idempotency-Key"

# problem codes of refusals that depend on something no request schema can describe
RULES_NO_SCHEMA_CAN_STATE = {
    "invalid_cursor": "a pagination cursor is an opaque token that only the server mints",
    "merge_into_self": "the path and the body name the same person",
    "expires_in_past": "it depends on the server's clock",
    "invalid_expiry": "it depends on the server's clock",
    "invalid_scope": "one field compared with another (ends_at after starts_at)",
    "invalid_window": "one field compared with another, or with the server's clock",
    "merge_target_not_found": "the body names a person that does not exist",
}


def _is_positive(case: schemathesis.Case) -> bool:
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


def _whole_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_ints(item) for item in value]
    return value


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    if _is_positive(case) and case.headers and IDEMPOTENCY_HEADER in case.headers:
        case.headers[IDEMPOTENCY_HEADER] = str(uuid.uuid4())
    if isinstance(case.body, dict | list | float):
        case.body = _whole_floats_as_ints(case.body)


def _problem(response: schemathesis.Response) -> dict[str, Any]:
    if not response.headers.get("content-type", [""])[0].startswith("application/problem+json"):
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refused_by_a_rule_no_schema_can_state(response: schemathesis.Response) -> bool:
    problem = _problem(response)
    if problem.get("code") in RULES_NO_SCHEMA_CAN_STATE:
        return True
    errors = problem.get("errors") or []
    return (
        response.status_code == 400
        and bool(errors)
        and all(str(error.get("message", "")).startswith("contains a NUL character") for error in errors)
    )


@schemathesis.check
def positive_data_accepted_unless_a_rule_no_schema_can_state(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if response.status_code in (400, 422) and _refused_by_a_rule_no_schema_can_state(response):
            return None
        raise
