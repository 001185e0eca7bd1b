"""hub.api has no import circle: every module imports alone, and none is part of an import cycle.

A cycle hidden by a function-level import still counts, so the static check reads every import
statement but those under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("hub", "automations", "integrations", "firmware")


def module_names() -> dict[str, Path]:
    """Return every first-party module by dotted name."""
    found = {}
    for top in FIRST_PARTY:
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = module_names()
API_MODULES = sorted(name for name in MODULES if name.startswith("hub.api."))


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imported(name: str, path: Path) -> set[str]:
    """Return the first-party modules `name` imports (their packages too), at any depth."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    targets: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text())]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                pending.extend(child.orelse)  # type: ignore[attr-defined]
                continue
            if isinstance(child, ast.Import):
                targets.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package[: len(package) - child.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                targets.add(base)
                targets.update(f"{base}.{alias.name}" for alias in child.names)
            pending.append(child)
    modules = set()
    for target in targets:
        parts = target.split(".")
        modules.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {module for module in modules if module in MODULES and module != name}


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """Return an import path from start to goal, or None."""
    seen = {start}
    paths = [[start]]
    while paths:
        path = paths.pop()
        for nxt in sorted(graph[path[-1]]):
            if nxt == goal:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                paths.append([*path, nxt])
    return None


def test_no_hub_api_module_is_imported_back() -> None:
    graph = {name: imported(name, path) for name, path in MODULES.items()}
    cycles = {}
    for name in API_MODULES:
        path = reaches(graph, name, name)
        if path is not None:
            cycles[name] = " -> ".join(path)
    assert cycles == {}


@pytest.mark.parametrize("module", API_MODULES)
def test_module_imports_alone(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
