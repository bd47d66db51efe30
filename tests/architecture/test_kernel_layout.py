"""The kernel's shape (issue 9, point 13): grouped by concern, no import cycle anywhere in it
(TYPE_CHECKING imports included), and no import of the application's `migrations` package.
The layering between the groups is importlinter.ini's `kernel-layers` contract."""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
GROUPS = {"auth", "cache", "cli", "core", "embedded", "http", "messaging", "persistence", "runtime"}


def import_cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    imports = {m: set(graph.find_modules_directly_imported_by(m)) & set(modules) for m in modules}
    state: dict[str, int] = {}
    path: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for imported in sorted(imports[module]):
            if state.get(imported) == 1:
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported)
        path.pop()
        state[module] = 2

    for module in modules:
        if module not in state:
            visit(module)
    return cycles


def test_kernel_has_no_import_cycle() -> None:
    graph = grimp.build_graph("platform_core", "migrations", "modules")
    assert import_cycles(graph, "platform_core") == []


def test_a_cycle_is_detected() -> None:
    graph = grimp.ImportGraph()
    for name in ("k", "k.a", "k.b"):
        graph.add_module(name)
    graph.add_import(importer="k.a", imported="k.b")
    graph.add_import(importer="k.b", imported="k.a")
    assert import_cycles(graph, "k") == [["k.a", "k.b", "k.a"]]


def test_kernel_never_imports_the_migrations_package() -> None:
    graph = grimp.build_graph("platform_core", "migrations", "modules")
    kernel = {m for m in graph.modules if m.startswith("platform_core")}
    leaks = [
        module
        for module in kernel
        if any(i.startswith("migrations") for i in graph.find_modules_directly_imported_by(module))
    ]
    assert leaks == []


def test_kernel_files_live_in_their_groups() -> None:
    kernel = ROOT / "platform_core"
    loose = sorted(p.name for p in kernel.glob("*.py") if p.name != "__init__.py")
    groups = {p.name for p in kernel.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert loose == []
    assert groups == GROUPS
