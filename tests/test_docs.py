"""Meta-tests: every hook is documented with its exact signature and has a test of its own."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from hub import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if callable(value) and hasattr(value, "hub_spec")
)


def test_there_are_hooks() -> None:
    assert "setup_integration" in HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented_with_its_signature(name: str) -> None:
    spec = getattr(hookspecs, name)
    args = ", ".join(inspect.signature(spec).parameters)
    assert spec.__doc__ and "When called" in spec.__doc__, f"{name} needs a docstring saying when it is called"
    docs = (ROOT / "docs" / "hooks.md").read_text()
    assert f"## {name}({args})" in docs, f"docs/hooks.md lacks the heading '## {name}({args})'"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name: str) -> None:
    pattern = re.compile(rf"def test_hook_{name}\b")
    found = [p for p in (ROOT / "tests").rglob("test_*.py") if pattern.search(p.read_text())]
    assert found, f"no test named test_hook_{name} under tests/"


def test_docs_name_no_hook_that_does_not_exist() -> None:
    docs = (ROOT / "docs" / "hooks.md").read_text()
    documented = re.findall(r"^## (\w+)\(", docs, flags=re.MULTILINE)
    assert sorted(documented) == HOOKS
