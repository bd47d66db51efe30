"""The import contracts hold on the real tree, and lint-imports really catches each kind of
violation: we copy the tree, inject a forbidden import and expect the named contract to break."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def run_lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # lint-imports puts its working directory first on sys.path, so the copy shadows the repo
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "importlinter.ini", "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def contract_lines(output: str) -> dict[str, str]:
    """Map each contract's name to KEPT or BROKEN from lint-imports' summary."""
    states: dict[str, str] = {}
    for line in output.splitlines():
        for state in ("KEPT", "BROKEN"):
            marker = f" {state}"
            if marker in line and not line.startswith("Contracts:"):
                name = line.split(marker)[0].strip()
                states.setdefault(name, state)
    return states


def contract_names(ini: Path) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read(ini)
    return {
        section.removeprefix("importlinter:contract:"): parser[section]["name"]
        for section in parser.sections()
        if section.startswith("importlinter:contract:")
    }


def module_packages(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "modules").glob("*/__init__.py"))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "keel"
    copy.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "platform_core", copy / "platform_core", ignore=ignore)
    shutil.copytree(ROOT / "modules", copy / "modules", ignore=ignore)
    shutil.copy(ROOT / "importlinter.ini", copy / "importlinter.ini")
    return copy


def inject(tree: Path, relative: str, source: str) -> None:
    path = tree / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


def test_repository_keeps_every_contract() -> None:
    result = run_lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    states = contract_lines(result.stdout)
    names = contract_names(ROOT / "importlinter.ini")
    assert {states.get(name) for name in names.values()} == {"KEPT"}, states


def test_unmodified_copy_is_clean(tree: Path) -> None:
    # the baseline for the injection tests: the copy alone breaks nothing
    result = run_lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("relative", "source", "broken_contract"),
    [
        pytest.param(
            "modules/identity/_leak.py",
            "import modules.billing\n",
            "layers",
            id="identity-imports-billing",
        ),
        pytest.param(
            "modules/billing/_leak.py",
            "from modules.entitlements import models\n",
            "private-entitlements",
            id="billing-imports-entitlements-models",
        ),
        pytest.param(
            "platform_core/_leak.py",
            "import modules.identity.api\n",
            "kernel",
            id="kernel-imports-a-module",
        ),
        pytest.param(
            "platform_core/core/_leak.py",
            "import platform_core.http.app\n",
            "kernel-layers",
            id="kernel-core-imports-http",
        ),
        pytest.param(
            "platform_core/messaging/_leak.py",
            "import platform_core.runtime.runtime\n",
            "kernel-layers",
            id="kernel-messaging-imports-runtime",
        ),
        pytest.param(
            "modules/billing/services/_leak.py",
            "import modules.billing.routes\n",
            "module-layers",
            id="billing-service-imports-its-routes",
        ),
        pytest.param(
            "modules/identity/services/_leak.py",
            "import modules.identity.wiring\n",
            "module-layers",
            id="identity-service-imports-its-wiring",
        ),
    ],
)
def test_forbidden_import_breaks_the_named_contract(
    tree: Path, relative: str, source: str, broken_contract: str
) -> None:
    entitlements_models = tree / "modules/entitlements/models.py"
    if not entitlements_models.exists():
        entitlements_models.write_text('"""Private tables (stand-in for the contract test)."""\n')
    inject(tree, relative, source)
    result = run_lint_imports(tree)
    assert result.returncode != 0, result.stdout
    expected = contract_names(tree / "importlinter.ini")[broken_contract]
    states = contract_lines(result.stdout)
    assert states.get(expected) == "BROKEN", result.stdout
    # the injected file is what lint-imports blames
    assert relative.removesuffix(".py").replace("/", ".") in result.stdout


def missing_contracts(root: Path) -> list[str]:
    """Every module package must sit in the layers contract and have its own private contract."""
    parser = configparser.ConfigParser()
    parser.read(root / "importlinter.ini")
    layered: set[str] = set()
    for line in parser["importlinter:contract:layers"]["layers"].splitlines():
        layered.update(part.strip() for part in line.split("|") if part.strip())
    problems: list[str] = []
    for package in module_packages(root):
        if f"modules.{package}" not in layered:
            problems.append(f"modules.{package} is not in the layers contract")
        if f"modules.{package}" not in parser["importlinter:contract:module-layers"]["containers"].split():
            problems.append(f"modules.{package} is not a container of the module-layers contract")
        section = f"importlinter:contract:private-{package}"
        if section not in parser:
            problems.append(f"modules.{package} has no private-{package} contract")
        elif f"modules.{package}.*" not in parser[section].get("protected_modules", "").split():
            problems.append(f"private-{package} does not protect modules.{package}.*")
    return problems


def test_every_module_package_is_under_contract() -> None:
    assert missing_contracts(ROOT) == []


def test_unlisted_module_package_is_detected(tree: Path) -> None:
    inject(tree, "modules/payroll/__init__.py", "")
    assert missing_contracts(tree) == [
        "modules.payroll is not in the layers contract",
        "modules.payroll is not a container of the module-layers contract",
        "modules.payroll has no private-payroll contract",
    ]
