"""The discovery cache's schema fingerprint covers every project module a validated config depends on.

A warm start recreates entities from configs validated by an earlier hub without validating them
again, when the fingerprint is the same. A module the validation imports that the fingerprint does
not read would let an upgrade that changes it reuse configs validated by the old code.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

from integrations.mqtt.cache import VALIDATION_MODULES


def project_imports(module: ModuleType) -> set[str]:
    """The hub's and integrations' modules that a module imports (from its source)."""
    tree = ast.parse(Path(str(module.__file__)).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] not in ("hub", "integrations"):
                continue
            try:
                imported = importlib.import_module(name)
            except ImportError:
                continue  # a name inside a module, not a module
            if Path(str(imported.__file__)).name != "__init__.py":
                found.add(imported.__name__)
    return found


def test_every_module_the_validation_imports_is_in_the_fingerprint() -> None:
    covered = {module.__name__ for module in VALIDATION_MODULES}
    missing: set[str] = set()
    for module in VALIDATION_MODULES:
        missing |= project_imports(module) - covered
    assert not missing, f"add to integrations/mqtt/cache.py VALIDATION_MODULES: {sorted(missing)}"
