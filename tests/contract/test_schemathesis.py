"""The served OpenAPI document against what the server answers, checked from outside by the
schemathesis CLI over HTTP: every operation, with schema examples, boundary values (coverage) and
generated valid and invalid data (fuzzing), and all of schemathesis's checks on every answer: no
5xx, every status, content type and header documented, bodies matching their schemas, invalid data
refused, valid data accepted, unsupported methods answered 405 with `Allow`, missing credentials
refused.

The run is bounded and deterministic (fixed seed, derandomized generation, a few examples per
operation: see schemathesis.toml), once as an ordinary person who owns an organization and once as
a platform operator. Organization-scoped paths get the caller's own organization and workspace, so
they reach the code behind the guard. A failure prints schemathesis's report: each distinct failure
with a curl command that reproduces it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.contract.conftest import Served, Tenant

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
CLI = Path(sys.executable).parent / "schemathesis"
# the whole run for one principal; the suite's budget is about three minutes for both
RUN_TIMEOUT_SECONDS = 600


async def run_schemathesis(served: Served, tenant: Tenant) -> tuple[int, str]:
    """The CLI's exit code and report. Awaited, not blocking: the test loop keeps running meanwhile
    (the shared runtime's background tasks expect it to)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # for the hooks module
        "KEEL_CONTRACT_TOKEN": tenant.token,
        "KEEL_CONTRACT_ORG_ID": tenant.org_id,
        "KEEL_CONTRACT_WORKSPACE_ID": tenant.workspace_id,
        "KEEL_CONTRACT_DOOMED_WORKSPACE_ID": tenant.doomed_workspace_id,
        "KEEL_CONTRACT_SPARE_TOKEN_ID": tenant.spare_token_id,
        "KEEL_CONTRACT_DOOMED_ORG_ID": tenant.doomed_org_id,
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        "--config-file",
        str(CONFIG),
        "run",
        f"{served.base_url}/schema/openapi.json",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def assert_conforms(result: tuple[int, str]) -> None:
    # schemathesis prints its failures, each with a curl reproduction, before the summary
    code, report = result
    assert code == 0, f"schemathesis found failures:\n{report}"


@pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 60)
async def test_every_operation_conforms_for_a_member(served: Served, member: Tenant) -> None:
    assert_conforms(await run_schemathesis(served, member))


@pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 60)
async def test_every_operation_conforms_for_an_operator(served: Served, operator: Tenant) -> None:
    assert_conforms(await run_schemathesis(served, operator))
