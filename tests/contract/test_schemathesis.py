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

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.contract.conftest import Served, Tenant

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
CLI = Path(sys.executable).parent / "schemathesis"
# the whole run for one principal; the suite's budget is about three minutes for both
RUN_TIMEOUT_SECONDS = 600


def run_schemathesis(served: Served, tenant: Tenant, report_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # for the hooks module
        "KEEL_CONTRACT_TOKEN": tenant.token,
        "KEEL_CONTRACT_ORG_ID": tenant.org_id,
        "KEEL_CONTRACT_WORKSPACE_ID": tenant.workspace_id,
        "KEEL_CONTRACT_DOOMED_WORKSPACE_ID": tenant.doomed_workspace_id,
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [
            str(CLI),
            "--config-file",
            str(CONFIG),
            "run",
            f"{served.base_url}/schema/openapi.json",
            "--report",
            "junit",
            "--report-dir",
            str(report_dir),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )


def assert_conforms(result: subprocess.CompletedProcess[str]) -> None:
    # schemathesis prints its failures, each with a curl reproduction, before the summary
    assert result.returncode == 0, f"schemathesis found failures:\n{result.stdout}\n{result.stderr}"


@pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 60)
def test_every_operation_conforms_for_a_member(served: Served, member: Tenant, tmp_path: Path) -> None:
    assert_conforms(run_schemathesis(served, member, tmp_path))


@pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 60)
def test_every_operation_conforms_for_an_operator(served: Served, operator: Tenant, tmp_path: Path) -> None:
    assert_conforms(run_schemathesis(served, operator, tmp_path))
