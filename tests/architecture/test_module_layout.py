"""Every module has the same public shape and is plugged into the composition root."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from modules import composition
from platform_core.runtime.module import ModuleSpec

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_MODULES = {
    "identity",
    "organization",
    "entitlements",
    "billing",
    "cooperative",
    "audit",
    "integration",
}
PACKAGES = sorted(p.parent.name for p in (ROOT / "modules").glob("*/__init__.py"))


def test_the_seven_modules_exist() -> None:
    assert set(PACKAGES) == EXPECTED_MODULES


@pytest.mark.parametrize("package", PACKAGES)
def test_module_has_public_surface_and_wiring(package: str) -> None:
    for name in ("wiring.py", "api.py", "contracts.py"):
        assert (ROOT / "modules" / package / name).is_file(), f"modules/{package}/{name} is missing"
    wiring = importlib.import_module(f"modules.{package}.wiring")
    spec = getattr(wiring, "MODULE", None)
    assert isinstance(spec, ModuleSpec), f"modules.{package}.wiring.MODULE is not a ModuleSpec"
    assert spec.name == package
    assert spec.schema == package


def test_composition_lists_every_module_once() -> None:
    names = [spec.name for spec in composition.MODULES]
    assert len(names) == len(set(names))
    assert set(names) == set(PACKAGES)
    for spec in composition.MODULES:
        assert spec is importlib.import_module(f"modules.{spec.name}.wiring").MODULE
