"""schemathesis hooks for the conformance run (loaded by the CLI through `hooks` in
schemathesis.toml).

- Every schema-valid request gets a fresh `Idempotency-Key`: the generator is deterministic and
  would otherwise send the same key with different bodies, which Keel rightly refuses (422).
- Valid data must be accepted, as schemathesis's `positive_data_acceptance` says, except where Keel
  refuses it by a rule that a JSON Schema cannot state: those rules are listed below, by problem
  code, each with the reason; a reference to something that does not exist; and a NUL character
  in a string, which Keel refuses everywhere (PostgreSQL cannot store one) and which the generator
  keeps sending so that a 500 on one would still show. A schema-valid request refused for
  anything else (a bound, a pattern, an either-or the schema could have carried) fails the run.
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
    "org_id_required": "who may leave it out depends on the credential (a service account acts in "
    "its own organization, an operator may read them all)",
    "merge_into_self": "the path and the body name the same person",
    "expires_in_past": "it depends on the server's clock",
    "invalid_expiry": "it depends on the server's clock",
    "invalid_scope": "one field compared with another (ends_at after starts_at)",
    "invalid_window": "one field compared with another, or with the server's clock",
    "merge_target_not_found": "the body names a person that does not exist",
    "invalid_overdue_policy": "its steps compared with each other (they must come in order)",
    "invalid_tiers": "tiers compared with each other (ascending, only the last one open)",
    "invalid_rule": "a rule is checked against the resource key it names (its kind), stored data",
    "invalid_webhook_url": "what a URL may point to (a host that parses, no private address in production)",
    "invalid_signature": "an inbound webhook is signed over its bytes with the provider's secret",
}


def _is_positive(case: schemathesis.Case) -> bool:
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    if _is_positive(case) and case.headers and IDEMPOTENCY_HEADER in case.headers:
        case.headers[IDEMPOTENCY_HEADER] = str(uuid.uuid4())


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
    messages = [str(error.get("message", "")) for error in problem.get("errors") or []]
    messages = messages or [str(problem.get("detail", ""))]
    # a NUL character, refused everywhere; or a reference to something that does not exist
    return all("NUL character" in message for message in messages) or all(
        "does not exist" in message for message in messages
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
